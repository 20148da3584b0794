#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""ntprobe: drive the PEX8749 NT function from inside a lab guest, no driver.

Used by the cluster tests (tests/cluster/*.yaml) to show, from inside real
guests, what the modelled chip does: registers through BAR0 (the sysfs
resource0 file, mmap'ed), the data window through BAR2/BAR4, inbound memory
through /dev/mem on a region the guest kernel leaves alone (kernel parameter
memmap=16M$0xC000000: "Reserved", so /dev/mem may map it), and interrupts
counted by uio_pci_generic in /proc/interrupts.

The register sequence is the one public PLX drivers use (docs/sources.md); offsets
are NT0's. Every check prints "ok: ..." or "FAIL: ..." and a failure exits 1.
Python 3 standard library only (it runs in the guest on the host's python3).
"""

import argparse
import glob
import mmap
import os
import struct
import sys

VIRT, LINK = 0x3E000, 0x3F000          # NT0 virtual and link pages
DB_SET, DB_CLEAR, DB_MASK_CLEAR = 0xC4C, 0xC50, 0xC58
SPAD = 0xC6C
XLAT2, XLAT4 = 0xC3C, 0xC44
ALUT_ENABLE = 0xC94
B2B_LINK = 0x2000000000000000          # × BAR number: fixed link addresses


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def ok(msg):
    print("ok: " + msg)


def find_device(device_id=0x87B0):
    for d in sorted(glob.glob("/sys/bus/pci/devices/*")):
        try:
            ven = int(open(d + "/vendor").read(), 16)
            dev = int(open(d + "/device").read(), 16)
        except OSError:
            continue
        if ven == 0x10B5 and dev == device_id:
            return d
    fail("no PCI device 10b5:%04x" % device_id)


def resources(dev):
    """[(start, end, flags)] for BAR0..5 from sysfs."""
    out = []
    for line in open(dev + "/resource").read().splitlines()[:6]:
        s, e, f = (int(x, 16) for x in line.split())
        out.append((s, e, f))
    return out


def enable(dev):
    """Memory decoding and bus mastering on (what a driver's pci_enable_device does)."""
    with open(dev + "/config", "r+b", buffering=0) as f:
        f.seek(4)
        cmd = struct.unpack("<H", f.read(2))[0]
        f.seek(4)
        f.write(struct.pack("<H", cmd | 0x6))


class Window:
    """A BAR or /dev/mem range, mmap'ed; 32-bit accesses are single stores."""

    def __init__(self, path, size, offset=0):
        self.fd = os.open(path, os.O_RDWR | os.O_SYNC)
        self.m = mmap.mmap(self.fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE,
                           offset=offset)
        self.u32 = memoryview(self.m).cast("I")
        self.size = size

    def r32(self, off):
        return self.u32[off // 4]

    def w32(self, off, val):
        self.u32[off // 4] = val & 0xFFFFFFFF

    def w64(self, off, val):
        self.w32(off, val)
        self.w32(off + 4, val >> 32)

    def write(self, off, data):
        for i in range(0, len(data), 4):
            self.u32[(off + i) // 4] = struct.unpack_from("<I", data, i)[0]

    def read(self, off, n):
        return b"".join(struct.pack("<I", self.u32[(off + i) // 4]) for i in range(0, n, 4))


def bar(dev, n):
    s, e, _ = resources(dev)[n]
    if not s:
        fail("BAR%d is not assigned" % n)
    return Window(dev + "/resource%d" % n, e - s + 1)


def pattern(seed, n):
    return bytes((seed * 31 + i * 7) & 0xFF for i in range(n))


# ---- commands ----------------------------------------------------------------

def cmd_info(a):
    dev = find_device()
    r = resources(dev)
    sizes = [(e - s + 1) if s else 0 for s, e, _ in r]
    print("device %s: BAR sizes %s" % (os.path.basename(dev), sizes))
    want = {0: 256 << 10, 2: 16 << 20, 4: 16 << 20}
    for n, size in want.items():
        if sizes[n] != size:
            fail("BAR%d is %d bytes, expected %d" % (n, sizes[n], size))
    for n in (2, 4):
        flags = r[n][2]
        if not flags & 0x00100000 or not flags & 0x2000:   # 64-bit, prefetchable
            fail("BAR%d flags %#x: expected 64-bit prefetchable" % (n, flags))
    cfg = open(dev + "/config", "rb").read()
    if len(cfg) < 4096:
        fail("config space is %d bytes: no extended config space" % len(cfg))
    ok("10b5:87b0 with BAR0 256 KiB, BAR2/BAR4 16 MiB 64-bit prefetchable, 4 KiB config")


def regs():
    dev = find_device()
    enable(dev)
    return dev, bar(dev, 0)


def cmd_b2b_setup(a):
    """Back-to-back, as public PLX drivers program it: our link BAR0 at the B2B
    address of BAR4 (the peer reaches our registers through the start of its
    BAR4), our link BAR2 at the B2B address of BAR2 translated to our inbound
    region, our virtual BAR2/BAR4 translated to the peer's link BAR2/BAR0."""
    dev, r = regs()
    size = resources(dev)[2][1] - resources(dev)[2][0] + 1
    r.w32(LINK + 0xE4, 0x3)
    r.w64(LINK + 0x10, B2B_LINK * 4 | 0x4)
    r.w64(LINK + 0xE8, (~(size - 1) & ~0xFFFFF & 0xFFFFFFFFFFFFFFFF) | 0xC)
    r.w64(LINK + 0x18, B2B_LINK * 2)
    r.w64(LINK + XLAT2, a.inbound)
    r.w32(LINK + 0x04, 0x6)
    r.w64(VIRT + XLAT2, B2B_LINK * 2)
    r.w64(VIRT + XLAT4, B2B_LINK * 4)
    r.w32(VIRT + DB_MASK_CLEAR, 0xFFFF)
    ok("back-to-back set up, inbound at %#x" % a.inbound)


def link_bar2(port):
    """Fabric convention (docs/driver-ntb_hw_plx.md): node p's link BAR2."""
    return B2B_LINK + (port << 36) + (1 << 35)


def cmd_fabric_setup(a):
    """Fabric: our link BAR2 at a port-unique address translated to our inbound
    region; our virtual BAR2 split by the A-LUT (256 entries) so that its
    q-th MiB reaches the start of node q's link BAR2."""
    dev, r = regs()
    size = resources(dev)[2][1] - resources(dev)[2][0] + 1
    port = (r.r32(0x360) >> 8) & 0x1F
    r.w64(LINK + 0xE8, (~(size - 1) & ~0xFFFFF & 0xFFFFFFFFFFFFFFFF) | 0xC)
    r.w64(LINK + 0x18, link_bar2(port))
    r.w64(LINK + XLAT2, a.inbound)
    r.w32(LINK + 0x04, 0x6)
    entries, entry_size = 256, size // 256
    per_peer = (1 << 20) // entry_size
    for i in range(entries):
        q, k = divmod(i, per_peer)
        base = link_bar2(q) + k * entry_size
        lo = 0x38000 + i * 4 + (0xE00 if i >= 128 else 0)
        r.w32(lo, base & 0xFFFFFFFF)
        r.w32(lo + 0x400, base >> 32)
        r.w32(lo + 0x800, 0x3 if q < a.nodes else 0)
    r.w32(LINK + ALUT_ENABLE, 0x10000000)
    r.w32(VIRT + DB_MASK_CLEAR, 0xFFFF)
    ok("fabric set up: port %d, inbound at %#x, BAR2 MiB q -> node q" % (port, a.inbound))


def fabric_slot(sender, receiver):
    """Where sender writes in receiver's inbound region, and with what seed."""
    return sender * 0x10000, 10 * sender + receiver


def cmd_fabric_write(a):
    """Write 4 KiB to every other node through our A-LUT windows."""
    dev = find_device()
    enable(dev)
    me = (bar(dev, 0).r32(0x360) >> 8) & 0x1F
    w = bar(dev, 2)
    for q in range(a.nodes):
        if q != me:
            off, seed = fabric_slot(me, q)
            w.write((q << 20) + off, pattern(seed, 4096))
    ok("node on port %d wrote to %d peers" % (me, a.nodes - 1))


def cmd_fabric_check(a):
    """Every other node's write is in our inbound region, nothing else."""
    dev = find_device()
    me = (bar(dev, 0).r32(0x360) >> 8) & 0x1F
    a.at = ["%d:%d" % fabric_slot(p, me) for p in range(a.nodes) if p != me]
    a.length = 4096
    cmd_mem_check(a)


def cmd_port(a):
    _, r = regs()
    print((r.r32(0x360) >> 8) & 0x1F)


def cmd_spad(a):
    _, r = regs()
    if a.value is not None:
        r.w32(VIRT + SPAD + 4 * a.index, a.value)
    v = r.r32(VIRT + SPAD + 4 * a.index)
    print("%#010x" % v)
    if a.expect is not None:
        if v != a.expect:
            fail("scratchpad %d is %#x, expected %#x" % (a.index, v, a.expect))
        ok("scratchpad %d holds %#x" % (a.index, v))


def cmd_peer(a):
    """Through BAR4: the start of it reaches the peer chip's registers."""
    dev = find_device()
    enable(dev)
    w = bar(dev, 4)
    if a.what == "spad":
        w.w32(VIRT + SPAD + 4 * a.index, a.value)
        ok("wrote %#x to the peer's scratchpad %d" % (a.value, a.index))
    else:
        w.w32(VIRT + DB_SET, 1 << a.index)
        ok("rang the peer's doorbell %d" % a.index)


def cmd_win_write(a):
    dev = find_device()
    enable(dev)
    w = bar(dev, a.bar)
    w.write(a.offset, pattern(a.seed, a.length))
    ok("wrote %d bytes (seed %d) at BAR%d+%#x" % (a.length, a.seed, a.bar, a.offset))


def cmd_win_read(a):
    dev = find_device()
    enable(dev)
    v = bar(dev, a.bar).r32(a.offset)
    print("%#010x" % v)
    if a.expect is not None:
        if v != a.expect:
            fail("BAR%d+%#x reads %#x, expected %#x" % (a.bar, a.offset, v, a.expect))
        ok("BAR%d+%#x reads %#x" % (a.bar, a.offset, v))


def cmd_mem_check(a):
    """Our inbound region: the pattern at each --at, zeros everywhere else."""
    m = Window("/dev/mem", a.region, offset=a.phys)
    data = m.m[:a.region]
    expected = bytearray(a.region)
    for spec in a.at:
        off, seed = (int(x, 0) for x in spec.split(":"))
        expected[off:off + a.length] = pattern(seed, a.length)
    if data != bytes(expected):
        bad = next(i for i in range(a.region) if data[i] != expected[i])
        fail("inbound region differs at +%#x: %#x, expected %#x" % (bad, data[bad], expected[bad]))
    ok("inbound region of %d bytes holds exactly the %d expected writes" % (a.region, len(a.at)))


def cmd_uio_bind(a):
    dev = find_device()
    if os.system("modprobe uio_pci_generic") != 0:
        fail("modprobe uio_pci_generic")
    try:
        with open("/sys/bus/pci/drivers/uio_pci_generic/new_id", "w") as f:
            f.write("10b5 87b0")
    except OSError:
        pass   # already known
    if not os.path.exists(dev + "/driver"):
        fail("uio_pci_generic did not bind")
    ok("uio_pci_generic bound to %s, irq %s" % (os.path.basename(dev), open(dev + "/irq").read().strip()))


def irq_count():
    dev = find_device()
    irq = open(dev + "/irq").read().strip()
    for line in open("/proc/interrupts"):
        f = line.split()
        if f and f[0] == irq + ":":
            return sum(int(x) for x in f[1:] if x.isdigit())
    return 0


def cmd_irq(a):
    n = irq_count()
    print(n)
    if a.at_least is not None:
        if n < a.at_least:
            fail("interrupt count %d, expected at least %d" % (n, a.at_least))
        ok("interrupt count %d >= %d" % (n, a.at_least))


def cmd_db(a):
    _, r = regs()
    v = r.r32(VIRT + DB_SET)
    print("%#06x" % v)
    if a.expect is not None:
        if v != a.expect:
            fail("doorbell status %#x, expected %#x" % (v, a.expect))
        ok("doorbell status %#x" % v)
    if a.clear:
        r.w32(VIRT + DB_CLEAR, v)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    n = lambda s: int(s, 0)  # noqa: E731
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("info").set_defaults(f=cmd_info)
    s = sub.add_parser("b2b-setup")
    s.add_argument("--inbound", type=n, required=True)
    s.set_defaults(f=cmd_b2b_setup)
    s = sub.add_parser("fabric-setup")
    s.add_argument("--inbound", type=n, required=True)
    s.add_argument("--nodes", type=int, required=True)
    s.set_defaults(f=cmd_fabric_setup)
    sub.add_parser("port").set_defaults(f=cmd_port)
    s = sub.add_parser("fabric-write")
    s.add_argument("--nodes", type=int, required=True)
    s.set_defaults(f=cmd_fabric_write)
    s = sub.add_parser("fabric-check")
    s.add_argument("phys", type=n)
    s.add_argument("--nodes", type=int, required=True)
    s.add_argument("--region", type=n, default=16 << 20)
    s.set_defaults(f=cmd_fabric_check)
    s = sub.add_parser("spad")
    s.add_argument("index", type=int)
    s.add_argument("value", type=n, nargs="?")
    s.add_argument("--expect", type=n)
    s.set_defaults(f=cmd_spad)
    s = sub.add_parser("peer")
    s.add_argument("what", choices=["spad", "doorbell"])
    s.add_argument("index", type=int)
    s.add_argument("value", type=n, nargs="?", default=0)
    s.set_defaults(f=cmd_peer)
    s = sub.add_parser("win-write")
    s.add_argument("bar", type=int)
    s.add_argument("offset", type=n)
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--length", type=n, default=4096)
    s.set_defaults(f=cmd_win_write)
    s = sub.add_parser("win-read")
    s.add_argument("bar", type=int)
    s.add_argument("offset", type=n)
    s.add_argument("--expect", type=n)
    s.set_defaults(f=cmd_win_read)
    s = sub.add_parser("mem-check")
    s.add_argument("phys", type=n)
    s.add_argument("--region", type=n, default=16 << 20)
    s.add_argument("--length", type=n, default=4096)
    s.add_argument("--at", action="append", default=[], help="OFFSET:SEED")
    s.set_defaults(f=cmd_mem_check)
    sub.add_parser("uio-bind").set_defaults(f=cmd_uio_bind)
    s = sub.add_parser("irq")
    s.add_argument("--at-least", type=int)
    s.set_defaults(f=cmd_irq)
    s = sub.add_parser("doorbell")
    s.add_argument("--expect", type=n)
    s.add_argument("--clear", action="store_true")
    s.set_defaults(f=cmd_db)
    a = p.parse_args()
    a.f(a)


if __name__ == "__main__":
    main()
