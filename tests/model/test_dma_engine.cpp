// SPDX-License-Identifier: GPL-2.0-only
// DMA engine behaviour, driven the way Linux's drivers/dma/plx_dma.c drives it:
// ring setup, memcpy descriptors, START, the interrupt, write-back, stop; and
// the failure cases (read fail, write fail, unmapped ring, abort, pause, bad
// starts, giant sizes), ring wrap-around and modelled timing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <set>

#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include "ntblab/model/dma.h"
#include "ntblab/model/memory.h"
#include "ntblab/model/tlp.h"

using namespace ntblab::model;
using namespace ntblab::model::dma;
using sc_core::sc_time;
using sc_core::SC_NS;

namespace {

constexpr uint64_t kRamBase = 0x1'0000'0000ull;  // above 4 GB: exercises the high halves
constexpr uint64_t kRingOffset = 0x1000;
constexpr unsigned kPlxRingCount = 2048;        // PLX_DMA_RING_COUNT
constexpr uint16_t kPrefLimitFour = 8;          // PLX_REG_PREF_LIMIT_PREF_FOUR
constexpr uint16_t kCtrlResetVal =
    kCtrlDescInvalid | kCtrlGracefulPauseDone | kCtrlAbortDone | kCtrlImmPauseDone;
constexpr uint16_t kCtrlStartVal =
    kCtrlWriteBackEn | (kDescModeOffChip << kCtrlDescModeShift) | kCtrlStart | kCtrlResetVal;

/// Sits between the engine and host RAM; records what the engine asks for.
struct Spy : sc_core::sc_module {
  tlm_utils::simple_target_socket<Spy> in{"in"};
  tlm_utils::simple_initiator_socket<Spy> out{"out"};
  unsigned calls = 0, bulk = 0, max_len = 0, missing_ext = 0;
  std::set<uint16_t> requesters;
  explicit Spy(sc_core::sc_module_name n) : sc_module(n) {
    in.register_b_transport(this, &Spy::b_transport);
  }
  void b_transport(tlm::tlm_generic_payload& gp, sc_time& delay) {
    ++calls;
    max_len = std::max(max_len, gp.get_data_length());
    TlpExtension* ext = nullptr;
    gp.get_extension(ext);
    if (!ext) {
      ++missing_ext;
    } else {
      bulk += ext->bulk;
      requesters.insert(ext->requester_id);
    }
    out->b_transport(gp, delay);
  }
};

struct IrqEvent {
  unsigned fn;
  bool level;
  sc_time at;
};

/// Host RAM -> spy -> engine, elaborated; function `fn` enabled as Linux does
/// (pcim_enable_device, pci_set_master, INTx).
struct Bench {
  VectorMemory ram;
  MemoryTarget mem;
  Spy spy{"spy"};
  DmaEngine dma;
  std::vector<IrqEvent> irqs;

  explicit Bench(uint64_t ram_size = 1 << 20, DmaConfig cfg = {},
                 sc_time latency = sc_core::SC_ZERO_TIME)
      : ram(ram_size, kRamBase), mem("mem", ram, latency), dma("dma", cfg) {
    dma.mem_out.bind(spy.in);
    spy.out.bind(mem.socket);
    dma.on_irq([this](unsigned fn, bool level, sc_time at) { irqs.push_back({fn, level, at}); });
    sc_core::sc_start(sc_core::SC_ZERO_TIME);
    for (unsigned fn = 0; fn < kChannels; ++fn) {
      dma.cfg_write(fn, 0x10, 4, 0xF0840000 + fn * kBar0Size);
      dma.cfg_write(fn, 0x04, 2, 0x0006);  // memory space + bus master
    }
  }
  uint8_t* at(uint64_t addr) { return ram.data() + (addr - kRamBase); }
  void fill(uint64_t addr, size_t len, uint8_t seed) {
    for (size_t i = 0; i < len; ++i) at(addr)[i] = uint8_t(seed + i * 7);
  }
  bool same(uint64_t a, uint64_t b, size_t len) { return std::memcmp(at(a), at(b), len) == 0; }
  bool level(unsigned fn) const { return dma.irq_level(fn); }
};

/// What plx_dma.c does to one channel, step by step, with the same register
/// accesses (offsets, widths, values, order). Descriptor memory is written
/// the way plx_dma_prep_memcpy / plx_dma_tx_submit write it.
struct PlxDriver {
  Bench& b;
  unsigned fn;
  uint64_t ring;
  unsigned count;
  unsigned head = 0, tail = 0;
  std::vector<uint32_t> orig_size;

  struct Result {
    bool ok, write_failed, read_failed;
    uint32_t residue;
  };

  PlxDriver(Bench& bench, unsigned fn, uint64_t ring, unsigned count = kPlxRingCount)
      : b(bench), fn(fn), ring(ring), count(count), orig_size(count) {}

  uint8_t* hw(unsigned i) { return b.at(ring + uint64_t(i % count) * kDescBytes); }
  static void put32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }  // host is little-endian
  static void put16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
  uint32_t flags(unsigned i) {
    uint32_t v;
    std::memcpy(&v, hw(i), 4);
    return v;
  }

  // plx_dma_alloc_chan_resources
  void alloc() {
    std::memset(b.at(ring), 0, size_t(count) * kDescBytes);  // dma_alloc_coherent zeroes
    b.dma.mmio_write(fn, kCtrl, 4, kCtrlResetVal);
    b.dma.mmio_write(fn, kRingAddrLo, 4, uint32_t(ring));
    b.dma.mmio_write(fn, kRingAddrHi, 4, uint32_t(ring >> 32));
    b.dma.mmio_write(fn, kRingNext, 4, uint32_t(ring));
    b.dma.mmio_write(fn, kRingCount, 4, count);
    b.dma.mmio_write(fn, kPrefetchLimit, 4, kPrefLimitFour);
  }
  // plx_dma_prep_memcpy + plx_dma_tx_submit
  void memcpy(uint64_t dst, uint64_t src, uint32_t len, bool interrupt) {
    ASSERT_LT(head - tail, count) << "ring full";
    uint8_t* d = hw(head);
    put32(d + 8, uint32_t(dst));
    put16(d + 4, uint16_t(dst >> 32));
    put32(d + 12, uint32_t(src));
    put16(d + 6, uint16_t(src >> 32));
    orig_size[head % count] = len;
    put32(d, len | (interrupt ? kDescIntWhenDone : 0));
    put32(d, flags(head) | kDescValid);
    ++head;
  }
  // plx_dma_issue_pending
  void issue_pending() { b.dma.mmio_write(fn, kCtrl, 2, kCtrlStartVal); }
  // plx_dma_isr: returns the status it saw and acknowledged
  uint16_t isr() {
    uint16_t status = uint16_t(b.dma.mmio_read(fn, kIntrStatus, 2));
    if (status) b.dma.mmio_write(fn, kIntrStatus, 2, status);
    return status;
  }
  // plx_dma_process_desc
  std::vector<Result> process() {
    std::vector<Result> out;
    while (tail != head) {
      uint32_t f = flags(tail);
      if (f & kDescValid) break;
      Result r{bool(f & kWbSuccess), !(f & kWbSuccess) && (f & kWbWriteFail),
               !(f & kWbSuccess) && !(f & kWbWriteFail), orig_size[tail % count] - (f & kDescSizeMask)};
      out.push_back(r);
      ++tail;
    }
    return out;
  }
  // __plx_dma_stop; returns false where the driver would log a pause timeout
  bool stop() {
    uint32_t val = b.dma.mmio_read(fn, kCtrl, 4);
    if (!(val & ~uint32_t(kCtrlGracefulPause))) return true;
    b.dma.mmio_write(fn, kCtrl, 4, kCtrlResetVal | kCtrlGracefulPause);
    val = b.dma.mmio_read(fn, kCtrl, 4);  // the driver polls up to 1 s
    const bool done = val & kCtrlGracefulPauseDone;
    b.dma.mmio_write(fn, kCtrl, 4, kCtrlResetVal | kCtrlGracefulPause);
    b.dma.mmio_write(fn, kRingCount, 4, 0);
    b.dma.mmio_write(fn, kRingAddrLo, 4, 0);
    b.dma.mmio_write(fn, kRingAddrHi, 4, 0);
    b.dma.mmio_write(fn, kRingNext, 4, 0);
    return done;
  }
};

}  // namespace

TEST(DmaEngine, PlxDriverSequenceCopiesBuffers) {
  Bench b(4 << 20);
  const uint64_t ring = kRamBase + kRingOffset;
  PlxDriver drv(b, 1, ring);
  drv.alloc();
  EXPECT_EQ(drv.flags(0), 0u);

  const uint64_t src = kRamBase + 0x100000, dst = kRamBase + 0x200000;
  const uint32_t sizes[] = {1, 4096, 100000, 3};
  uint64_t off = 0;
  for (uint32_t s : sizes) {
    b.fill(src + off, s, uint8_t(s));
    off += s + 64;
  }
  off = 0;
  for (size_t i = 0; i < std::size(sizes); ++i) {
    drv.memcpy(dst + off, src + off, sizes[i], i + 1 == std::size(sizes));
    off += sizes[i] + 64;
  }
  EXPECT_TRUE(b.irqs.empty());
  drv.issue_pending();

  // The last descriptor asked for an interrupt: INTx rises, once.
  ASSERT_EQ(b.irqs.size(), 1u);
  EXPECT_EQ(b.irqs[0].fn, 1u);
  EXPECT_TRUE(b.irqs[0].level);
  EXPECT_TRUE(b.dma.cfg_read(1, 0x06, 2) & 0x8) << "Status.Interrupt";
  EXPECT_EQ(drv.isr(), kStatusDescDone);
  EXPECT_FALSE(b.level(1));
  EXPECT_FALSE(b.dma.cfg_read(1, 0x06, 2) & 0x8);

  auto results = drv.process();
  ASSERT_EQ(results.size(), std::size(sizes));
  for (auto& r : results) {
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.residue, 0u);
  }
  off = 0;
  for (uint32_t s : sizes) {
    EXPECT_TRUE(b.same(dst + off, src + off, s)) << "size " << s;
    EXPECT_EQ(*b.at(dst + off + s), 0u) << "nothing past the destination";
    off += s + 64;
  }
  // Channel state: stopped on the next (invalid) descriptor.
  EXPECT_FALSE(b.dma.running(1));
  EXPECT_EQ(b.dma.mmio_read(1, kRingNext, 4), uint32_t(ring + 4 * kDescBytes));
  EXPECT_EQ(b.dma.mmio_read(1, kLastAddr, 4), uint32_t(ring + 3 * kDescBytes));
  EXPECT_EQ(b.dma.mmio_read(1, kLastSize, 4), 3u);
  const uint32_t ctrl = b.dma.mmio_read(1, kCtrl, 4);
  EXPECT_TRUE(ctrl & kCtrlDescInvalid);
  EXPECT_FALSE(ctrl & (1u << 30)) << "not in progress";
  EXPECT_EQ(b.dma.stats(1).descriptors_completed, 4u);
  EXPECT_EQ(b.dma.stats(1).bytes_copied, 104100u);
  EXPECT_EQ(b.dma.stats(1).starts, 1u);
  EXPECT_EQ(b.dma.stats(0).starts, 0u) << "other channels idle";

  // Engine requests: descriptor fetches and write-backs are not bulk, data is;
  // all carry function 1's requester ID; no request exceeds the copy chunk.
  EXPECT_EQ(b.spy.missing_ext, 0u);
  EXPECT_EQ(b.spy.requesters, std::set<uint16_t>{0x0002});
  EXPECT_EQ(b.spy.bulk, 2u * (1 + 1 + 2 + 1));  // 100000 B = two 64 KiB chunks
  EXPECT_LE(b.spy.max_len, 64u * 1024);

  // A second batch continues where the first stopped.
  b.fill(src, 512, 0x5A);
  drv.memcpy(dst + 0x80000, src, 512, true);
  drv.issue_pending();
  EXPECT_EQ(drv.isr(), kStatusDescDone);
  ASSERT_EQ(drv.process().size(), 1u);
  EXPECT_TRUE(b.same(dst + 0x80000, src, 512));

  // plx_dma_free_chan_resources: the graceful pause completes at once.
  EXPECT_TRUE(drv.stop());
  EXPECT_EQ(b.dma.mmio_read(1, kRingCount, 4), 0u);
  EXPECT_FALSE(b.level(1));
}

TEST(DmaEngine, StopOnNeverStartedChannelReturnsEarly) {
  Bench b;
  PlxDriver drv(b, 0, kRamBase + kRingOffset, 16);
  drv.alloc();  // writes RESET_VAL: CTRL reads 0 afterwards
  EXPECT_EQ(b.dma.mmio_read(0, kCtrl, 4), 0u);
  EXPECT_TRUE(drv.stop());
  EXPECT_EQ(b.dma.mmio_read(0, kRingCount, 4), 16u) << "early return leaves the ring";
}

TEST(DmaEngine, InterruptOnlyWhenDescriptorAsks) {
  Bench b;
  PlxDriver drv(b, 0, kRamBase + kRingOffset, 16);
  drv.alloc();
  const uint64_t src = kRamBase + 0x10000, dst = kRamBase + 0x20000;
  drv.memcpy(dst, src, 64, false);
  drv.issue_pending();
  EXPECT_TRUE(b.irqs.empty());
  EXPECT_EQ(b.dma.mmio_read(0, kIntrStatus, 2), 0u);
  ASSERT_EQ(drv.process().size(), 1u) << "polled completion (plx_dma_tx_status)";

  // INTx Disable masks the line but not Status.Interrupt.
  b.dma.cfg_write(0, 0x04, 2, 0x0406);
  drv.memcpy(dst, src, 64, true);
  drv.issue_pending();
  EXPECT_TRUE(b.irqs.empty());
  EXPECT_TRUE(b.dma.cfg_read(0, 0x06, 2) & 0x8);
  b.dma.cfg_write(0, 0x04, 2, 0x0006);
  ASSERT_EQ(b.irqs.size(), 1u);
  EXPECT_TRUE(b.irqs[0].level);
  drv.isr();
  ASSERT_EQ(b.irqs.size(), 2u);
  EXPECT_FALSE(b.irqs[1].level);
}

TEST(DmaEngine, RingWrapsAround) {
  Bench b(2 << 20);
  const uint64_t ring = kRamBase + kRingOffset;
  PlxDriver drv(b, 3, ring);  // the driver's 2048-entry ring
  drv.alloc();
  const uint64_t src = kRamBase + 0x100000, dst = kRamBase + 0x180000;
  b.fill(src, 0x10000, 1);
  unsigned total = 0;
  for (unsigned round = 0; round < 3; ++round) {  // 3 x 1500 descriptors: wraps twice
    std::memset(b.at(dst), 0, 0x10000);
    for (unsigned i = 0; i < 1500; ++i) drv.memcpy(dst + i * 32, src + i * 32, 32, i == 1499);
    drv.issue_pending();
    EXPECT_EQ(drv.isr(), kStatusDescDone);
    auto res = drv.process();
    ASSERT_EQ(res.size(), 1500u) << "round " << round;
    EXPECT_TRUE(std::all_of(res.begin(), res.end(), [](auto& r) { return r.ok; }));
    EXPECT_TRUE(b.same(dst, src, 1500 * 32));
    total += 1500;
    EXPECT_EQ(b.dma.mmio_read(3, kRingNext, 4), uint32_t(ring + (total % 2048) * kDescBytes));
  }
  EXPECT_EQ(b.dma.stats(3).descriptors_completed, 4500u);
}

TEST(DmaEngine, ReadFailDescriptor) {
  Bench b;
  PlxDriver drv(b, 0, kRamBase + kRingOffset, 16);
  drv.alloc();
  const uint64_t src = kRamBase + 0x10000, dst = kRamBase + 0x20000;
  b.fill(src, 256, 9);
  drv.memcpy(dst, kRamBase + (1 << 20) - 16, 64, true);  // source runs off the end of RAM
  drv.memcpy(dst + 0x1000, src, 256, true);              // a good one behind it
  std::vector<uint8_t> before(b.ram.data(), b.ram.data() + b.ram.size());
  drv.issue_pending();

  auto res = drv.process();
  ASSERT_EQ(res.size(), 2u);
  EXPECT_TRUE(res[0].read_failed);
  EXPECT_FALSE(res[0].ok);
  EXPECT_EQ(res[0].residue, 64u);
  EXPECT_EQ(drv.flags(0), kWbReadFail) << "valid cleared, read fail, 0 bytes";
  EXPECT_TRUE(res[1].ok) << "the channel carries on after a failed descriptor";
  EXPECT_TRUE(b.same(dst + 0x1000, src, 256));
  // Nothing written except the two write-backs and the good copy.
  for (size_t i = 0; i < before.size(); ++i) {
    uint64_t a = kRamBase + i;
    bool wb = a >= kRamBase + kRingOffset && a < kRamBase + kRingOffset + 4;
    wb = wb || (a >= kRamBase + kRingOffset + 16 && a < kRamBase + kRingOffset + 20);
    bool good = a >= dst + 0x1000 && a < dst + 0x1000 + 256;
    if (!wb && !good) {
      ASSERT_EQ(b.ram.data()[i], before[i]) << "byte at " << std::hex << a;
    }
  }
  EXPECT_EQ(drv.isr(), kStatusError | kStatusDescDone);
  EXPECT_EQ(b.dma.stats(0).descriptors_failed, 1u);
  EXPECT_EQ(b.dma.stats(0).descriptors_completed, 1u);
}

TEST(DmaEngine, WriteFailDescriptorWritesNothingOutsideDestination) {
  Bench b;
  PlxDriver drv(b, 2, kRamBase + kRingOffset, 16);
  drv.alloc();
  const uint64_t src = kRamBase + 0x10000;
  const uint64_t dst = kRamBase + (1 << 20) - 100;  // straddles the end of RAM
  b.fill(src, 200, 3);
  drv.memcpy(dst, src, 200, true);
  std::vector<uint8_t> before(b.ram.data(), b.ram.data() + b.ram.size());
  drv.issue_pending();
  auto res = drv.process();
  ASSERT_EQ(res.size(), 1u);
  EXPECT_TRUE(res[0].write_failed);
  EXPECT_EQ(drv.flags(0), kWbWriteFail);
  EXPECT_EQ(res[0].residue, 200u);
  for (size_t i = 0; i < before.size(); ++i) {  // only the write-back dword may change
    if (i < kRingOffset || i >= kRingOffset + 4) {
      ASSERT_EQ(b.ram.data()[i], before[i]) << i;
    }
  }
  EXPECT_EQ(drv.isr(), kStatusError | kStatusDescDone);
  EXPECT_EQ(b.dma.stats(2).bytes_copied, 0u);
}

TEST(DmaEngine, UnmappedRingStopsWithErrorInterrupt) {
  Bench b;
  PlxDriver drv(b, 0, kRamBase + (8ull << 20), 16);  // beyond RAM
  b.dma.mmio_write(0, kCtrl, 4, kCtrlResetVal);
  b.dma.mmio_write(0, kRingAddrLo, 4, uint32_t(drv.ring));
  b.dma.mmio_write(0, kRingAddrHi, 4, uint32_t(drv.ring >> 32));
  b.dma.mmio_write(0, kRingNext, 4, uint32_t(drv.ring));
  b.dma.mmio_write(0, kRingCount, 4, 16);
  std::vector<uint8_t> before(b.ram.data(), b.ram.data() + b.ram.size());
  drv.issue_pending();
  EXPECT_FALSE(b.dma.running(0));
  ASSERT_EQ(b.irqs.size(), 1u);
  EXPECT_TRUE(b.irqs[0].level);
  EXPECT_EQ(b.dma.mmio_read(0, kIntrStatus, 2), kStatusError);
  EXPECT_EQ(b.dma.mmio_read(0, kRingNext, 4), uint32_t(drv.ring)) << "position unchanged";
  EXPECT_EQ(b.dma.stats(0).fetch_errors, 1u);
  EXPECT_EQ(b.spy.calls, 1u) << "one descriptor fetch, then stop";
  EXPECT_EQ(b.mem.refused(), 1u);
  EXPECT_TRUE(std::equal(before.begin(), before.end(), b.ram.data()));
  EXPECT_EQ(drv.isr(), kStatusError);
  EXPECT_FALSE(b.level(0));
}

TEST(DmaEngine, BadStartsNeverTouchMemory) {
  Bench b;
  // Count 0.
  b.dma.mmio_write(0, kRingAddrHi, 4, 1);
  b.dma.mmio_write(0, kCtrl, 2, kCtrlStartVal);
  EXPECT_EQ(b.dma.mmio_read(0, kIntrStatus, 2), kStatusError);
  EXPECT_TRUE(b.level(0));
  // Bus master off.
  PlxDriver drv(b, 1, kRamBase + kRingOffset, 16);
  drv.alloc();
  drv.memcpy(kRamBase + 0x20000, kRamBase + 0x10000, 64, true);
  b.dma.cfg_write(1, 0x04, 2, 0x0002);
  drv.issue_pending();
  EXPECT_EQ(b.dma.mmio_read(1, kIntrStatus, 2), kStatusError);
  EXPECT_TRUE(drv.flags(0) & kDescValid);
  // Block and on-chip descriptor modes are not modelled: refused.
  b.dma.cfg_write(1, 0x04, 2, 0x0006);
  drv.isr();
  b.dma.mmio_write(1, kCtrl, 2, kCtrlStart | kCtrlWriteBackEn | (kDescModeOnChip << 5));
  EXPECT_EQ(b.dma.mmio_read(1, kIntrStatus, 2), kStatusError);
  // RING_NEXT outside the ring.
  drv.isr();
  b.dma.mmio_write(1, kRingNext, 4, uint32_t(drv.ring + 16 * kDescBytes));
  drv.issue_pending();
  EXPECT_EQ(b.dma.mmio_read(1, kIntrStatus, 2), kStatusError);
  EXPECT_EQ(b.spy.calls, 0u);
  EXPECT_EQ(b.dma.stats(0).bad_starts + b.dma.stats(1).bad_starts, 3u);
  // With the error interrupt disabled the status stays clear.
  drv.isr();
  b.dma.mmio_write(1, kIntrCtrl, 2, 0);
  drv.issue_pending();
  EXPECT_EQ(b.dma.mmio_read(1, kIntrStatus, 2), 0u);
  EXPECT_FALSE(b.level(1));
}

TEST(DmaEngine, ZeroSizeDescriptorSucceeds) {
  Bench b;
  PlxDriver drv(b, 0, kRamBase + kRingOffset, 16);
  drv.alloc();
  drv.memcpy(kRamBase + 0x20000, kRamBase + 0x10000, 0, true);
  drv.issue_pending();
  auto res = drv.process();
  ASSERT_EQ(res.size(), 1u);
  EXPECT_TRUE(res[0].ok);
  EXPECT_EQ(drv.flags(0), kWbSuccess);
}

TEST(DmaEngine, GiantSizesCopyInBoundedChunks) {
  Bench b(64 << 20);
  PlxDriver drv(b, 0, kRamBase + kRingOffset, 16);
  drv.alloc();
  const uint32_t big = (24 << 20) + 5;  // 24 MiB + 5
  const uint64_t src = kRamBase + (1 << 20), dst = kRamBase + (32 << 20);
  b.fill(src, big, 11);
  drv.memcpy(dst, src, big, false);
  // The largest size a descriptor can hold runs off the end of RAM.
  const uint64_t src2 = kRamBase + (60 << 20), dst2 = kRamBase + (26 << 20);
  b.fill(src2, 4 << 20, 5);
  drv.memcpy(dst2, src2, kDescSizeMask, true);
  drv.issue_pending();
  auto res = drv.process();
  ASSERT_EQ(res.size(), 2u);
  EXPECT_TRUE(res[0].ok);
  EXPECT_TRUE(b.same(dst, src, big));
  EXPECT_TRUE(res[1].read_failed);
  // 4 MiB remained in RAM: exactly 64 chunks copied before the failing read.
  EXPECT_EQ(drv.flags(1), kWbReadFail | (4u << 20));
  EXPECT_EQ(res[1].residue, kDescSizeMask - (4u << 20));
  EXPECT_TRUE(b.same(dst2, src2, 4 << 20));
  EXPECT_LE(b.spy.max_len, 64u * 1024);
}

TEST(DmaEngine, AbortAndPauseBetweenDescriptors) {
  DmaConfig cfg;
  cfg.immediate = false;  // budgeted: START marks running, run() advances
  Bench b(1 << 20, cfg, sc_time(100, SC_NS));
  PlxDriver drv(b, 0, kRamBase + kRingOffset, 16);
  drv.alloc();
  const uint64_t src = kRamBase + 0x10000, dst = kRamBase + 0x20000;
  for (unsigned i = 0; i < 6; ++i) drv.memcpy(dst + i * 64, src + i * 64, 64, true);
  drv.issue_pending();
  EXPECT_TRUE(b.dma.running(0));
  EXPECT_TRUE(b.dma.mmio_read(0, kCtrl, 4) & (1u << 30)) << "in progress";
  EXPECT_EQ(b.spy.calls, 0u);

  // Each descriptor: fetch + read + write + write-back = 400 ns.
  EXPECT_TRUE(b.dma.run(sc_time(1, SC_NS)));
  EXPECT_EQ(drv.process().size(), 1u);
  EXPECT_TRUE(b.dma.run(sc_time(401, SC_NS)));
  EXPECT_EQ(drv.process().size(), 1u) << "descriptor 2 began before the budget ran out";

  // Graceful pause (plx_dma's stop sequence): done at once, work left in the ring.
  b.dma.mmio_write(0, kCtrl, 4, kCtrlResetVal | kCtrlGracefulPause);
  EXPECT_FALSE(b.dma.running(0));
  EXPECT_TRUE(b.dma.mmio_read(0, kCtrl, 4) & kCtrlGracefulPauseDone);
  EXPECT_FALSE(b.dma.run(sc_time(1, sc_core::SC_MS)));
  EXPECT_TRUE(drv.flags(2) & kDescValid);

  // Resume, one more descriptor, then abort. Simulated time stays at 0 here,
  // so budgets are absolute: the channel's own time is 800 ns.
  drv.issue_pending();
  b.dma.run(sc_time(801, SC_NS));
  EXPECT_EQ(drv.process().size(), 1u);
  b.dma.mmio_write(0, kIntrCtrl, 2, kIntrErrorEn | kIntrAbortDoneEn);
  drv.isr();
  b.dma.mmio_write(0, kCtrl, 2, kCtrlAbort | kCtrlWriteBackEn | (kDescModeOffChip << 5));
  EXPECT_FALSE(b.dma.running(0));
  EXPECT_TRUE(b.dma.mmio_read(0, kCtrl, 4) & kCtrlAbortDone);
  EXPECT_EQ(drv.isr(), kStatusAbortDone);
  EXPECT_FALSE(b.dma.run(sc_time(1, sc_core::SC_MS)));
  for (unsigned i = 3; i < 6; ++i) EXPECT_TRUE(drv.flags(i) & kDescValid) << i;
  EXPECT_EQ(b.dma.stats(0).descriptors_completed, 3u);

  // A new START picks the ring up again where the abort left it.
  drv.issue_pending();
  EXPECT_FALSE(b.dma.run(sc_time(1, sc_core::SC_MS)));
  EXPECT_EQ(drv.process().size(), 3u);
  EXPECT_TRUE(b.same(dst, src, 6 * 64));
}

TEST(DmaEngine, StartWithPauseSetStopsBeforeTheFirstDescriptor) {
  Bench b;
  PlxDriver drv(b, 0, kRamBase + kRingOffset, 16);
  drv.alloc();
  drv.memcpy(kRamBase + 0x20000, kRamBase + 0x10000, 64, true);
  b.dma.mmio_write(0, kCtrl, 2, kCtrlStartVal | kCtrlGracefulPause);
  EXPECT_TRUE(b.dma.mmio_read(0, kCtrl, 2) & kCtrlGracefulPauseDone);
  EXPECT_TRUE(drv.flags(0) & kDescValid);
  drv.issue_pending();  // START without pause resumes
  EXPECT_EQ(drv.process().size(), 1u);
}

TEST(DmaEngine, RingStopModeStopsAtRingEnd) {
  Bench b;
  PlxDriver drv(b, 0, kRamBase + kRingOffset, 4);
  drv.alloc();
  for (unsigned i = 0; i < 3; ++i) drv.memcpy(kRamBase + 0x20000, kRamBase + 0x10000, 8, false);
  drv.issue_pending();
  EXPECT_EQ(drv.process().size(), 3u);
  for (unsigned i = 0; i < 4; ++i) drv.memcpy(kRamBase + 0x20000, kRamBase + 0x10000, 8, false);
  b.dma.mmio_write(0, kCtrl, 2, kCtrlStartVal | kCtrlRingStopMode);
  EXPECT_EQ(drv.process().size(), 1u) << "slot 3 done, then the end of the ring";
  EXPECT_EQ(b.dma.mmio_read(0, kRingNext, 4), uint32_t(drv.ring));
  drv.issue_pending();
  EXPECT_EQ(drv.process().size(), 3u);
}

TEST(DmaEngine, WithoutWriteBackTheEngineMakesOnePass) {
  Bench b;
  PlxDriver drv(b, 0, kRamBase + kRingOffset, 4);
  drv.alloc();
  for (unsigned i = 0; i < 4; ++i) drv.memcpy(kRamBase + 0x20000, kRamBase + 0x10000, 8, false);
  b.dma.mmio_write(0, kCtrl, 2, kCtrlStart | (kDescModeOffChip << 5));
  EXPECT_FALSE(b.dma.running(0));
  EXPECT_EQ(b.dma.stats(0).descriptors_completed, 4u);
  EXPECT_TRUE(drv.flags(0) & kDescValid) << "no write-back";
}

TEST(DmaEngine, ModelledTimePipelinesReadsAndWrites) {
  Bench b(1 << 20, {}, sc_time(100, SC_NS));
  PlxDriver drv(b, 0, kRamBase + kRingOffset, 16);
  drv.alloc();
  drv.memcpy(kRamBase + 0x80000, kRamBase + 0x10000, 3 * 64 * 1024, true);  // three chunks
  drv.issue_pending();
  // fetch 100, then reads at 100/200/300 -> writes finish 300/400/500,
  // write-back 600; fetching the next (invalid) descriptor ends the run at 700.
  ASSERT_EQ(b.irqs.size(), 1u);
  EXPECT_EQ(b.irqs[0].at, sc_time(600, SC_NS)) << "interrupt at the write-back's completion";
  EXPECT_EQ(b.dma.busy_until(0), sc_time(700, SC_NS));
  EXPECT_EQ(b.dma.stats(0).busy_time, sc_time(700, SC_NS));
  // The next run starts no earlier than the channel is free: 700 + refetch,
  // read, write, write-back, fetch of the next = 1200.
  drv.memcpy(kRamBase + 0x80000, kRamBase + 0x10000, 16, false);
  drv.issue_pending();
  EXPECT_EQ(b.dma.busy_until(0), sc_time(1200, SC_NS));
}

TEST(DmaEngine, ChannelsAreIndependent) {
  Bench b;
  PlxDriver a(b, 0, kRamBase + 0x1000, 16), c(b, 3, kRamBase + 0x2000, 16);
  a.alloc();
  c.alloc();
  b.fill(kRamBase + 0x10000, 128, 77);
  a.memcpy(kRamBase + 0x20000, kRamBase + 0x10000, 64, true);
  c.memcpy(kRamBase + 0x30000, kRamBase + 0x10040, 64, true);
  c.issue_pending();
  EXPECT_TRUE(a.flags(0) & kDescValid);
  EXPECT_TRUE(b.level(3));
  EXPECT_FALSE(b.level(0));
  a.issue_pending();
  EXPECT_TRUE(b.level(0));
  EXPECT_TRUE(b.same(kRamBase + 0x20000, kRamBase + 0x10000, 64));
  EXPECT_TRUE(b.same(kRamBase + 0x30000, kRamBase + 0x10040, 64));
  EXPECT_EQ(b.spy.requesters, (std::set<uint16_t>{0x0001, 0x0004}));
}

TEST(DmaEngine, ResetReturnsToPowerOnState) {
  Bench b;
  PlxDriver drv(b, 0, kRamBase + kRingOffset, 16);
  drv.alloc();
  drv.memcpy(kRamBase + 0x20000, kRamBase + 0x10000, 64, true);
  drv.issue_pending();
  EXPECT_TRUE(b.level(0));
  b.dma.reset();
  EXPECT_FALSE(b.level(0));
  EXPECT_EQ(b.dma.mmio_read(0, kCtrl, 4), 0x1700u);
  EXPECT_EQ(b.dma.mmio_read(0, kRingCount, 4), 0u);
  EXPECT_EQ(b.dma.cfg_read(0, 0x04, 2), 0u);
  EXPECT_EQ(b.dma.stats(0).descriptors_completed, 1u) << "statistics survive reset";
}

TEST(DmaEngine, SlicedRunGivesTheSameResultOverSeveralCalls) {
  // The same ring on three channels: in one call, in slices of 3 descriptors,
  // in slices of 1 KiB. Same copies, write-backs, interrupt, stats and
  // modelled duration. (One elaboration per process: one bench, set_slice.)
  Bench b(1 << 20, {}, sc_time(100, SC_NS));
  const uint64_t src = kRamBase + 0x10000;
  b.fill(src, 40 * 512, 3);
  auto run = [&](unsigned fn, uint32_t slice_desc, uint64_t slice_bytes) {
    b.dma.set_slice(slice_desc, slice_bytes);
    PlxDriver drv(b, fn, kRamBase + kRingOffset + fn * 0x1000, 64);
    drv.alloc();
    b.dma.mmio_write(fn, kIntrCtrl, 2, kIntrErrorEn);
    const uint64_t dst = kRamBase + 0x40000 + fn * 0x10000;
    for (unsigned i = 0; i < 40; ++i) drv.memcpy(dst + i * 512, src + i * 512, 512, i == 39);
    const size_t irqs_before = b.irqs.size();
    drv.issue_pending();
    unsigned calls = 1;
    while (b.dma.running(fn)) {
      EXPECT_TRUE(b.dma.mmio_read(fn, kCtrl, 4) & (1u << 30)) << "in progress between slices";
      if (b.dma.stats(fn).descriptors_completed < 40) {
        EXPECT_EQ(b.irqs.size(), irqs_before) << "no interrupt before the last descriptor";
      }
      b.dma.resume();
      ++calls;
    }
    EXPECT_FALSE(b.dma.resume());
    EXPECT_FALSE(b.dma.mmio_read(fn, kCtrl, 4) & (1u << 30));
    auto res = drv.process();
    EXPECT_EQ(res.size(), 40u);
    EXPECT_TRUE(std::all_of(res.begin(), res.end(), [](auto& r) { return r.ok; }));
    EXPECT_TRUE(b.same(dst, src, 40 * 512));
    EXPECT_EQ(b.irqs.size(), irqs_before + 1);  // raised once, by the last descriptor
    EXPECT_EQ(drv.isr(), kStatusDescDone);
    EXPECT_EQ(b.dma.stats(fn).descriptors_completed, 40u);
    EXPECT_EQ(b.dma.stats(fn).bytes_copied, 40u * 512);
    return std::make_pair(calls, b.dma.stats(fn).busy_time);
  };
  const auto whole = run(0, 0, 0);
  EXPECT_EQ(whole.first, 1u);
  const auto by_desc = run(1, 3, 0);
  EXPECT_EQ(by_desc.first, 14u);  // 40 descriptors and the invalid 41st: 13 slices of 3, one of 2
  EXPECT_EQ(by_desc.second, whole.second);
  const auto by_bytes = run(2, 0, 1024);
  EXPECT_EQ(by_bytes.first, 21u);  // two 512-byte descriptors per slice, then the invalid one
  EXPECT_EQ(by_bytes.second, whole.second);
}

TEST(DmaEngine, PauseActsBetweenSlices) {
  DmaConfig cfg;
  cfg.slice_descriptors = 2;
  Bench b(1 << 20, cfg);
  PlxDriver drv(b, 0, kRamBase + kRingOffset, 16);
  drv.alloc();
  for (unsigned i = 0; i < 10; ++i) drv.memcpy(kRamBase + 0x20000, kRamBase + 0x10000, 64, false);
  drv.issue_pending();
  EXPECT_TRUE(b.dma.running(0));
  EXPECT_EQ(drv.process().size(), 2u);
  EXPECT_TRUE(drv.stop());  // plx_dma's graceful pause: done at once, between slices
  EXPECT_FALSE(b.dma.running(0));
  EXPECT_FALSE(b.dma.resume());
  EXPECT_EQ(drv.process().size(), 0u);
  EXPECT_EQ(b.dma.stats(0).descriptors_completed, 2u);
}

TEST(DmaEngine, ByteSlicesStopInsideADescriptorAndGoOnFromThere) {
  // One 1 MiB descriptor: whole on channel 0, in 64 KiB slices on channel 3.
  Bench b(8 << 20, {}, sc_time(100, SC_NS));
  const uint64_t src = kRamBase + 0x100000;
  b.fill(src, 1 << 20, 5);
  auto run = [&](unsigned fn, uint64_t slice_bytes) {
    b.dma.set_slice(0, slice_bytes);
    PlxDriver drv(b, fn, kRamBase + kRingOffset + fn * 0x1000, 16);
    drv.alloc();
    const uint64_t dst = kRamBase + 0x200000 + fn * 0x100000;
    drv.memcpy(dst, src, 1 << 20, true);
    drv.issue_pending();
    unsigned calls = 1;
    while (b.dma.running(fn)) {
      if (b.dma.stats(fn).descriptors_completed == 0) {
        EXPECT_TRUE(drv.flags(0) & kDescValid) << "no write-back before the last byte";
        EXPECT_EQ(b.dma.stats(fn).bytes_copied, 0u);
      }
      b.dma.resume();
      ++calls;
    }
    auto res = drv.process();
    EXPECT_EQ(res.size(), 1u);
    if (res.size() == 1) {
      EXPECT_TRUE(res[0].ok);
      EXPECT_EQ(res[0].residue, 0u);
    }
    EXPECT_TRUE(b.same(dst, src, 1 << 20));
    EXPECT_EQ(drv.isr(), kStatusDescDone);
    EXPECT_EQ(b.dma.stats(fn).bytes_copied, 1u << 20);
    return std::make_pair(calls, b.dma.stats(fn).busy_time);
  };
  const auto whole = run(0, 0);
  EXPECT_EQ(whole.first, 1u);
  const auto sliced = run(3, 64 * 1024);
  EXPECT_EQ(sliced.first, 17u);  // 16 chunks, then the fetch of the invalid next descriptor
  EXPECT_EQ(sliced.second, whole.second);
}

TEST(DmaEngine, PauseAndAbortInsideASlicedDescriptor) {
  DmaConfig cfg;
  cfg.slice_bytes = 64 * 1024;
  Bench b(2 << 20, cfg);
  PlxDriver pause(b, 0, kRamBase + kRingOffset, 16);
  pause.alloc();
  pause.memcpy(kRamBase + 0x100000, kRamBase + 0x40000, 256 * 1024, false);
  pause.memcpy(kRamBase + 0x100000, kRamBase + 0x40000, 64, false);
  pause.issue_pending();
  ASSERT_TRUE(b.dma.running(0));
  b.dma.mmio_write(0, kCtrl, 2, kCtrlWriteBackEn | (kDescModeOffChip << 5) | kCtrlGracefulPause);
  EXPECT_TRUE(b.dma.running(0)) << "the pause waits for the end of the descriptor";
  EXPECT_FALSE(b.dma.mmio_read(0, kCtrl, 4) & kCtrlGracefulPauseDone);
  while (b.dma.resume()) {
  }
  EXPECT_TRUE(b.dma.mmio_read(0, kCtrl, 4) & kCtrlGracefulPauseDone);
  EXPECT_EQ(pause.process().size(), 1u);
  EXPECT_TRUE(pause.flags(1) & kDescValid) << "the next descriptor was not begun";

  PlxDriver abort(b, 1, kRamBase + kRingOffset + 0x1000, 16);
  abort.alloc();
  abort.memcpy(kRamBase + 0x180000, kRamBase + 0x40000, 256 * 1024, false);
  abort.issue_pending();
  ASSERT_TRUE(b.dma.running(1));
  b.dma.mmio_write(1, kCtrl, 2, kCtrlAbort | kCtrlWriteBackEn | (kDescModeOffChip << 5));
  EXPECT_FALSE(b.dma.running(1));
  EXPECT_TRUE(b.dma.mmio_read(1, kCtrl, 4) & kCtrlAbortDone);
  EXPECT_FALSE(b.dma.resume());
  EXPECT_TRUE(abort.flags(0) & kDescValid) << "an aborted descriptor is not written back";
  EXPECT_EQ(b.dma.stats(1).bytes_copied, 64u * 1024);  // what reached the destination
  EXPECT_EQ(b.dma.stats(1).descriptors_completed, 0u);
}
