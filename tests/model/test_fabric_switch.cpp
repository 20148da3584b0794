// SPDX-License-Identifier: GPL-2.0-only
// FabricSwitch: analytic latencies, contention at an egress port, routing,
// statistics and configuration errors. Each TEST builds its own modules (every
// ctest case runs in its own process) and elaborates once with sc_start(0).
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>

#include "ntblab/model/config_error.h"
#include "ntblab/model/fabric.h"
#include "ntblab/model/memory.h"
#include "ntblab/model/path.h"
#include "ntblab/model/tlp.h"
#include "expect_config_error.h"

using namespace ntblab::model;
using sc_core::sc_time;
using sc_core::SC_NS;

namespace {

constexpr double kHopNs = 126.0;     // PEX8749 product brief
constexpr double kPropNs = 2.0;      // per link direction, set explicitly here
constexpr double kMemNs = 40.0;      // memory target's access latency in these tests
constexpr uint64_t kMemBase = 0x8000'0000;
constexpr uint64_t kMemSize = 4 << 20;
// Gen3 x8 after 128b/130b: 8 lanes × 8 GT/s × 128/130 / 8 bit = B/ns.
constexpr double kGen3x8BytesPerNs = 8 * 8.0 * 128 / 130 / 8;

/// A requester that issues one transaction at a given local time.
struct Requester : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Requester> socket;
  std::vector<uint8_t> buf = std::vector<uint8_t>(1 << 20, 0xA5);
  explicit Requester(sc_core::sc_module_name n) : sc_module(n), socket("socket") {}

  /// Returns the completion time, ns after time 0; status in *st.
  double access(tlm::tlm_command cmd, uint64_t addr, unsigned len, double at_ns = 0,
                tlm::tlm_response_status* st = nullptr) {
    tlm::tlm_generic_payload gp;
    make_request(gp, cmd, addr, buf.data(), len);
    sc_time delay(at_ns, SC_NS);
    socket->b_transport(gp, delay);
    if (st) *st = gp.get_response_status();
    return delay.to_seconds() * 1e9;
  }
  double write(uint64_t addr, unsigned len, double at_ns = 0) {
    return access(tlm::TLM_WRITE_COMMAND, addr, len, at_ns);
  }
};

PortConfig port(PortRole role, unsigned gen = 3, unsigned width = 8) {
  PortConfig p = PortConfig::make(role, gen, width);
  p.propagation_ns = kPropNs;
  return p;
}

/// Switch with port 0 upstream, ports 1..n-1 downstream, all Gen3 x8.
SwitchConfig gen3x8_switch(unsigned n) {
  SwitchConfig c;
  c.ports.push_back(port(PortRole::Upstream));
  for (unsigned i = 1; i < n; ++i) c.ports.push_back(port(PortRole::Downstream));
  c.hop_latency_ns = kHopNs;
  return c;
}

/// Requesters on ports 1..senders, memory behind port `mem_port` claiming kMemBase.
struct Bench {
  VectorMemory ram{kMemSize, kMemBase};
  FabricSwitch sw;
  MemoryTarget mem;
  std::vector<std::unique_ptr<Requester>> req;
  Bench(const SwitchConfig& cfg, unsigned senders, unsigned mem_port)
      : sw("sw", cfg), mem("mem", ram, sc_time(kMemNs, SC_NS)) {
    for (unsigned i = 0; i < senders; ++i) {
      req.push_back(std::make_unique<Requester>(("req" + std::to_string(i)).c_str()));
      req.back()->socket.bind(sw.in[1 + i]);
    }
    sw.out[mem_port].bind(mem.socket);
    sw.set_windows(mem_port, {{kMemBase, kMemBase + kMemSize}});
    sc_core::sc_start(sc_core::SC_ZERO_TIME);
  }
};

using model_test::expect_config_error;

}  // namespace

TEST(FabricTiming, EightBytePostedWriteAcrossOneHopGen3x8) {
  Bench b(gen3x8_switch(3), 1, 2);
  const double t = b.req[0]->write(kMemBase, 8);
  // A posted 8-byte write, 3DW header: 2 + 2 + 4 + 12 + 8 = 28 B on each link.
  const double ser = 28 / kGen3x8BytesPerNs;
  // ingress serialization + propagation + hop + egress serialization + propagation
  // + the memory's access latency.
  const double expect = ser + kPropNs + kHopNs + ser + kPropNs + kMemNs;
  EXPECT_NEAR(t, expect, 0.002);  // sc_time resolution: 1 ps
  uint64_t v = 0;
  b.ram.read(kMemBase, &v, 8);
  EXPECT_EQ(v, 0xA5A5A5A5A5A5A5A5ULL);
}

TEST(FabricTiming, ReadCompletionTime) {
  Bench b(gen3x8_switch(3), 1, 2);
  b.ram.write(kMemBase + 0x40, "0123456789abcdef", 16);
  tlm::tlm_response_status st;
  const double t = b.req[0]->access(tlm::TLM_READ_COMMAND, kMemBase + 0x40, 64, 0, &st);
  EXPECT_EQ(st, tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(std::memcmp(b.req[0]->buf.data(), "0123456789abcdef", 16), 0);
  const double req = 20 / kGen3x8BytesPerNs;  // request: 8 + 12 B header, no data
  const double cpl = 84 / kGen3x8BytesPerNs;  // completion: 8 + 12 B header + 64 B
  const double expect = req + kPropNs + kHopNs + req + kPropNs  // request to memory
                        + kMemNs                                // memory access
                        + cpl + kPropNs + kHopNs + cpl + kPropNs;  // completion back
  EXPECT_NEAR(t, expect, 0.003);
}

TEST(FabricTiming, IdleSwitchAgreesWithPathModel) {
  Bench b(gen3x8_switch(3), 1, 2);
  pcie::PathModel path = pcie::PathModel::uniform(b.sw.config().ports[1], 1, kHopNs, kMemNs);
  const double w = b.req[0]->write(kMemBase, 65536);
  EXPECT_NEAR(w, path.write(65536, kMemBase).latency_ns, 0.003);
  // A later, non-overlapping read (the wires are idle again by then).
  const double start = w + 1000;
  const double r = b.req[0]->access(tlm::TLM_READ_COMMAND, kMemBase + 0x20, 4096, start);
  EXPECT_NEAR(r - start, path.read(4096, kMemBase + 0x20).latency_ns, 0.003);
}

TEST(FabricTiming, BackToBackWritesQueueAtTheIngress) {
  Bench b(gen3x8_switch(3), 1, 2);
  const pcie::LinkMath& m = b.sw.link(1);
  const pcie::TlpTrain t = m.write_train(kMemBase, 4096);
  const double first = b.req[0]->write(kMemBase, 4096);
  const double second = b.req[0]->write(kMemBase, 4096);  // issued at the same time
  // The second waits for the first's occupancy of the ingress link.
  EXPECT_NEAR(second - first, t.occupancy_ns, 0.003);
}

// Two senders on ports 1 and 2 stream 1 MiB each, in 4 KiB chunks issued at time 0
// and offered to the switch in round-robin order, into the memory behind port 3.
// Each gets about half of port 3's bandwidth, together exactly one link's.
TEST(FabricContention, TwoSendersShareOneEgressPort) {
  Bench b(gen3x8_switch(4), 2, 3);
  constexpr unsigned kChunk = 4096, kChunks = 256;
  double last[2] = {0, 0};
  for (unsigned i = 0; i < kChunks; ++i)
    for (int s = 0; s < 2; ++s)
      last[s] = std::max(last[s], b.req[s]->write(kMemBase + uint64_t(s) * (1 << 20) + i * kChunk, kChunk));
  const double link_gbs =
      b.sw.link(3).stream_gbytes_per_s(pcie::TlpClass::Posted, 256);  // B/ns
  const double bytes_each = double(kChunk) * kChunks;
  for (int s = 0; s < 2; ++s)
    EXPECT_NEAR(bytes_each / last[s] / link_gbs, 0.5, 0.02) << "sender " << s;
  const double total = 2 * bytes_each / std::max(last[0], last[1]);
  EXPECT_NEAR(total / link_gbs, 1.0, 0.01);
  // The egress was busy the whole time; each ingress only half of it.
  const PortStats eg = b.sw.stats(3);
  EXPECT_EQ(eg.bytes_out, uint64_t(2 * bytes_each));
  EXPECT_EQ(eg.tlps_out, 2u * kChunks * kChunk / 256);
  EXPECT_NEAR(eg.busy_out_ns / std::max(last[0], last[1]), 1.0, 0.02);
  EXPECT_NEAR(b.sw.stats(1).busy_in_ns / eg.busy_out_ns, 0.5, 1e-9);
}

TEST(FabricContention, OneSenderAloneGetsTheWholeLink) {
  Bench b(gen3x8_switch(4), 2, 3);
  constexpr unsigned kChunk = 4096, kChunks = 256;
  double last = 0;
  for (unsigned i = 0; i < kChunks; ++i) last = b.req[0]->write(kMemBase + i * kChunk, kChunk);
  const double link_gbs = b.sw.link(3).stream_gbytes_per_s(pcie::TlpClass::Posted, 256);
  EXPECT_NEAR(double(kChunk) * kChunks / last / link_gbs, 1.0, 0.01);
}

TEST(FabricRouting, WindowsPredicatesUpstreamAndRefusals) {
  SwitchConfig cfg = gen3x8_switch(4);
  FabricSwitch sw("sw", cfg);
  sw.set_windows(2, {{0x1000, 0x2000}});
  sw.set_route(3, [](uint64_t a) { return a >= 0x9000 && a < 0xA000; });
  EXPECT_EQ(sw.route(1, 0x1800), 2);
  EXPECT_EQ(sw.route(1, 0x9100), 3);
  EXPECT_EQ(sw.route(1, 0x5000), 0);   // unclaimed: upstream
  EXPECT_EQ(sw.route(0, 0x5000), -1);  // unclaimed from upstream: UR
  EXPECT_EQ(sw.route(2, 0x1800), -1);  // never back where it came from
  // Windows change at run time (an NT link-side BAR moved).
  sw.set_windows(2, {{0x4000, 0x5000}});
  EXPECT_EQ(sw.route(1, 0x1800), 0);
  EXPECT_EQ(sw.route(1, 0x4800), 2);
  sw.add_window(2, {0x6000, 0x7000});
  EXPECT_EQ(sw.route(1, 0x6800), 2);
  sw.clear_windows(2);
  EXPECT_EQ(sw.route(1, 0x4800), 0);
  sw.set_route(3, {});
  EXPECT_EQ(sw.route(1, 0x9100), 0);
  expect_config_error([&] { sw.set_windows(2, {{0x2000, 0x1000}}); }, "windows[0]");
  expect_config_error([&] { sw.set_windows(9, {}); }, "port");
}

TEST(FabricRouting, UnclaimedRequestsAreRefusedAndCounted) {
  SwitchConfig cfg = gen3x8_switch(3);
  cfg.single_upstream = false;
  cfg.ports[0].role = PortRole::NonTransparent;  // no upstream port at all
  Bench b(cfg, 1, 2);
  tlm::tlm_response_status st;
  b.req[0]->access(tlm::TLM_WRITE_COMMAND, 0x10, 4, 0, &st);
  EXPECT_EQ(st, tlm::TLM_ADDRESS_ERROR_RESPONSE);
  EXPECT_EQ(b.sw.stats(1).refusals, 1u);
  // Claimed by the window but outside RAM: the memory refuses; counted at egress.
  b.sw.add_window(2, {kMemBase + kMemSize, kMemBase + 2 * kMemSize});
  b.req[0]->access(tlm::TLM_READ_COMMAND, kMemBase + kMemSize, 4, 0, &st);
  EXPECT_EQ(st, tlm::TLM_ADDRESS_ERROR_RESPONSE);
  EXPECT_EQ(b.sw.stats(2).errors_from_target, 1u);
  EXPECT_EQ(b.mem.refused(), 1u);
}

TEST(FabricStats, CountsTlpsBytesAndBusyTime) {
  Bench b(gen3x8_switch(3), 1, 2);
  b.req[0]->write(kMemBase, 1000);  // 3 × 256 + 232: 4 TLPs
  b.req[0]->access(tlm::TLM_READ_COMMAND, kMemBase, 512, 10000);  // 1 request, 2 completions
  const PortStats in = b.sw.stats(1), eg = b.sw.stats(2);
  EXPECT_EQ(in.tlps_in, 4u + 1);
  EXPECT_EQ(in.bytes_in, 1000u);
  EXPECT_EQ(in.tlps_out, 2u);       // completions back to the requester
  EXPECT_EQ(in.bytes_out, 512u);
  EXPECT_EQ(eg.tlps_out, 4u + 1);
  EXPECT_EQ(eg.tlps_in, 2u);
  EXPECT_EQ(eg.bytes_in, 512u);
  EXPECT_EQ(in.transactions_in, 2u);
  const pcie::LinkMath& m = b.sw.link(1);
  EXPECT_NEAR(in.busy_in_ns,
              m.write_train(kMemBase, 1000).wire_ns + m.read_request_train(kMemBase, 512).wire_ns,
              1e-9);
  EXPECT_EQ(b.sw.stats().size(), 3u);
}

TEST(FabricConfig, LaneBudgetAndLimits) {
  // 3 × x16 = 48 lanes: exactly the budget.
  SwitchConfig ok;
  ok.ports = {port(PortRole::Upstream, 3, 16), port(PortRole::Downstream, 3, 16),
              port(PortRole::NonTransparent, 3, 16)};
  EXPECT_NO_THROW(ok.validate());
  SwitchConfig over = ok;
  over.ports.push_back(port(PortRole::Downstream, 3, 1));
  expect_config_error([&] { over.validate(); }, "ports[3].width");
  // 18 x2 ports fit (36 lanes); a 19th port does not.
  SwitchConfig many;
  many.ports.push_back(port(PortRole::Upstream, 3, 2));
  for (int i = 1; i < 18; ++i) many.ports.push_back(port(PortRole::Downstream, 3, 2));
  EXPECT_NO_THROW(many.validate());
  many.ports.push_back(port(PortRole::Downstream, 3, 2));
  expect_config_error([&] { many.validate(); }, "ports");
}

TEST(FabricConfig, EveryBadFieldIsNamed) {
  auto base = [] { return gen3x8_switch(4); };
  SwitchConfig c = base();
  c.ports[2].width = 3;
  expect_config_error([&] { c.validate(); }, "ports[2].width");
  c = base();
  c.ports[1].generation = 5;
  expect_config_error([&] { c.validate(); }, "ports[1].generation");
  c = base();
  c.ports[3].max_payload = 100;
  expect_config_error([&] { c.validate(); }, "ports[3].max_payload");
  c = base();
  c.ports[1].propagation_ns = -1;
  expect_config_error([&] { c.validate(); }, "ports[1].propagation_ns");
  c = base();
  for (int i = 1; i < 4; ++i) c.ports[i].role = PortRole::NonTransparent;
  expect_config_error([&] { c.validate(); }, "ports[3].role");  // the third NT port
  c = base();
  c.ports[0].role = PortRole::Downstream;
  expect_config_error([&] { c.validate(); }, "ports");  // no upstream
  c.single_upstream = false;
  EXPECT_NO_THROW(c.validate());
  c = base();
  c.ports[2].role = PortRole::Upstream;
  expect_config_error([&] { c.validate(); }, "ports[2].role");  // second upstream
  c.single_upstream = false;
  EXPECT_NO_THROW(c.validate());
  c = base();
  c.hop_latency_ns = -3;
  expect_config_error([&] { c.validate(); }, "hop_latency_ns");
  c = base();
  c.ports.clear();
  expect_config_error([&] { c.validate(); }, "ports");
  // The module validates too.
  c = base();
  c.ports[2].width = 32;
  expect_config_error([&] { FabricSwitch sw("bad", c); }, "ports[2].width");
}

TEST(FabricTiming, PartnerModelledIngressIsNotSerializedTwice) {
  // Two switches back to back: sw1 port 2 → sw2 port 1. sw1's egress serializes
  // the link; sw2's port 1 is told so and only counts.
  SwitchConfig c1 = gen3x8_switch(3), c2 = gen3x8_switch(3);
  c2.ports[1].ingress_modelled_by_partner = true;
  c1.ports[2].ingress_modelled_by_partner = true;  // completions from sw2 likewise
  FabricSwitch sw1("sw1", c1), sw2("sw2", c2);
  VectorMemory ram(kMemSize, kMemBase);
  MemoryTarget mem("mem", ram, sc_time(kMemNs, SC_NS));
  Requester r("r");
  r.socket.bind(sw1.in[1]);
  sw1.out[2].bind(sw2.in[1]);
  sw2.out[1].bind(sw1.in[2]);
  sw2.out[2].bind(mem.socket);
  sw1.set_windows(2, {{kMemBase, kMemBase + kMemSize}});
  sw2.set_windows(2, {{kMemBase, kMemBase + kMemSize}});
  sc_core::sc_start(sc_core::SC_ZERO_TIME);
  pcie::PathModel path = pcie::PathModel::uniform(c1.ports[1], 2, kHopNs, kMemNs);
  EXPECT_NEAR(r.write(kMemBase, 8192), path.write(8192, kMemBase).latency_ns, 0.004);
  const double start = 1e6;
  EXPECT_NEAR(r.access(tlm::TLM_READ_COMMAND, kMemBase, 2048, start) - start,
              path.read(2048, kMemBase).latency_ns, 0.006);
  EXPECT_EQ(sw2.stats(1).tlps_in, 8192u / 256 + 2048 / 512);
  EXPECT_EQ(sw2.stats(1).busy_in_ns, 0.0);
}
