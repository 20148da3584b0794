#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Drive the SystemC model of two back-to-back PEX8749 NT ports from Python.

  PYTHONPATH=build/python /usr/bin/python3 python/examples/switch_model.py [GEN WIDTH HOP_NS]

Prints the modelled latency of a posted write, a read and a doorbell through
the NT window, and the throughput of a 16 MiB stream; then the analytic path
model's answer for the same path (host link, hop, cable, hop, host link).
One SwitchModel per process: SystemC elaborates once.
"""
import sys

import ntblab

gen, width, hop = (int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])) if len(sys.argv) == 4 else (3, 8, 126.0)
m = ntblab.SwitchModel(gen=gen, width=width, hop_latency_ns=hop)
path = ntblab.timing.Path([ntblab.timing.Link(generation=gen, width=width)] * 3, hop_latency_ns=hop)
print(f"Gen{gen} x{width}, {hop:g} ns per hop: SystemC model vs analytic path")
print(f"  8-byte posted write  {m.write(8)['latency_ns']:8.1f} ns   {path.write(8)['latency_ns']:8.1f} ns")
print(f"  4-byte read          {m.read(4)['latency_ns']:8.1f} ns   {path.read(4)['latency_ns']:8.1f} ns")
print(f"  doorbell to the peer {m.doorbell()['latency_ns']:8.1f} ns")
print(f"  16 MiB stream        {m.stream(16 << 20)['gbytes_per_s']:8.2f} GB/s {path.write_stream_gbytes_per_s():6.2f} GB/s")
