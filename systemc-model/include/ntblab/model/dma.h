// SPDX-License-Identifier: GPL-2.0-only
// The PEX87xx switch DMA function (PCI ID 10b5:87d0), as Linux's
// drivers/dma/plx_dma.c programs it.
//
// The chip exposes its four DMA channels as four extra PCI functions of the
// upstream port (functions 1..4 on real parts), one channel per function. Each
// function has its own config space, an 8 KB 32-bit memory BAR0 and its own
// interrupt; the channel's registers sit at BAR0 + 0x200. This module models
// all four functions; every call takes the function index 0..3 (= channel).
//
// Descriptors live in a ring in host memory ("off-chip descriptor mode"). The
// engine reads descriptors, source data, writes destination data and the
// descriptor write-back through `mem_out`, in the host's bus address space.
//
// Execution: by default a write that sets START runs the channel right away, in
// the caller's thread, until it stops (an invalid descriptor, an error, a pause,
// the end of the ring in ring-stop mode). No SystemC thread, no wait(). The
// modelled duration is computed from the delays `mem_out` returns and kept per
// channel (busy_until(), stats()). With DmaConfig::immediate = false, START only
// marks the channel running and run() advances it descriptor by descriptor
// within a time budget; abort and pause then act between descriptors.
// A slice (DmaConfig::slice_*, set_slice()) bounds the work one call does in
// either mode: the rest of the run waits for resume() (immediate mode) or the
// next run(), so an integrator serving other requests is never stuck inside a
// huge ring (docs/model-dma.md, "Slices").
//
// Interrupts: INTx, one line per function (Interrupt Pin B, like the chip). The
// model has no MSI capability, so Linux's pci_alloc_irq_vectors(..., 1, 1,
// PCI_IRQ_ALL_TYPES) falls back to INTx (docs/guest-and-qemu.md, Decisions, 5).
//
// See docs/model-dma.md for the register meanings, the driver sequence and the
// choices made where the chip's behaviour is not public.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include "ntblab/model/regtable.h"

namespace ntblab::model {

namespace dma {

inline constexpr unsigned kChannels = 4;           ///< PEX8749: four DMA channels
inline constexpr uint16_t kVendorId = 0x10B5;      ///< PLX / Broadcom
inline constexpr uint16_t kDeviceId = 0x87D0;      ///< DMA function
inline constexpr uint32_t kClassCode = 0x088000;   ///< system peripheral, other (plx_dma matches exactly)
inline constexpr uint8_t kRevision = 0xCA;         ///< as 87xx parts report
inline constexpr uint32_t kBar0Size = 8 * 1024;    ///< 8 KB, 32-bit, non-prefetchable
inline constexpr uint32_t kConfigSize = 4096;      ///< PCIe extended config space
inline constexpr uint8_t kInterruptPinB = 2;       ///< chip's DMA functions use INTB

// --- Channel registers (offsets into the function's BAR0) ---------------------
inline constexpr uint32_t kRegBlockBase = 0x200;
inline constexpr uint32_t kRingAddrLo = 0x214;     ///< 32: descriptor ring base, low
inline constexpr uint32_t kRingAddrHi = 0x218;     ///< 32: descriptor ring base, high (bits 47:32)
inline constexpr uint32_t kRingNext = 0x21C;       ///< 32: next descriptor address, low 32 bits
inline constexpr uint32_t kRingCount = 0x220;      ///< 32: descriptors in the ring
inline constexpr uint32_t kLastAddr = 0x224;       ///< 32: last descriptor processed, low 32 bits
inline constexpr uint32_t kLastSize = 0x228;       ///< 32: bytes moved by that descriptor
inline constexpr uint32_t kPrefetchLimit = 0x234;  ///< 32: descriptor prefetch limit
inline constexpr uint32_t kCtrl = 0x238;           ///< 16: control / status
inline constexpr uint32_t kCtrl2 = 0x23A;          ///< 16: control 2 (max transfer size, in progress)
inline constexpr uint32_t kIntrCtrl = 0x23C;       ///< 16: interrupt enables
inline constexpr uint32_t kIntrStatus = 0x23E;     ///< 16: interrupt status, write 1 to clear

// CTRL (0x238) bits.
inline constexpr uint16_t kCtrlGracefulPause = 1u << 0;
inline constexpr uint16_t kCtrlAbort = 1u << 1;
inline constexpr uint16_t kCtrlWriteBackEn = 1u << 2;
inline constexpr uint16_t kCtrlStart = 1u << 3;
inline constexpr uint16_t kCtrlRingStopMode = 1u << 4;
inline constexpr unsigned kCtrlDescModeShift = 5;
inline constexpr uint16_t kCtrlDescModeMask = 3u << kCtrlDescModeShift;
inline constexpr uint16_t kDescModeBlock = 0, kDescModeOnChip = 1, kDescModeOffChip = 2;
inline constexpr uint16_t kCtrlDescInvalid = 1u << 8;
inline constexpr uint16_t kCtrlGracefulPauseDone = 1u << 9;
inline constexpr uint16_t kCtrlAbortDone = 1u << 10;
inline constexpr uint16_t kCtrlImmPauseDone = 1u << 12;
// CTRL2 (0x23A) bits; bit 14 is bit 30 of a 32-bit read at 0x238.
inline constexpr uint16_t kCtrl2MaxTxfrMask = 0x7;
inline constexpr uint16_t kCtrl2InProgress = 1u << 14;

// INTR_CTRL (0x23C) enables and INTR_STATUS (0x23E) bits.
inline constexpr uint16_t kIntrErrorEn = 1u << 0;
inline constexpr uint16_t kIntrInvDescEn = 1u << 1;
inline constexpr uint16_t kIntrAbortDoneEn = 1u << 3;
inline constexpr uint16_t kIntrPauseDoneEn = 1u << 4;
inline constexpr uint16_t kIntrImmPauseDoneEn = 1u << 5;
inline constexpr uint16_t kStatusError = 1u << 0;
inline constexpr uint16_t kStatusInvDesc = 1u << 1;
inline constexpr uint16_t kStatusDescDone = 1u << 2;
inline constexpr uint16_t kStatusAbortDone = 1u << 3;
inline constexpr uint16_t kStatusPauseDone = 1u << 4;
inline constexpr uint16_t kStatusImmPauseDone = 1u << 5;

// --- Descriptor (16 bytes, little-endian) -----------------------------------
//  +0  u32 flags_and_size   +4 u16 dst_hi  +6 u16 src_hi  +8 u32 dst_lo  +12 u32 src_lo
inline constexpr unsigned kDescBytes = 16;
inline constexpr uint32_t kDescSizeMask = 0x07FFFFFF;     ///< 27-bit byte count
inline constexpr uint32_t kDescValid = 1u << 31;
inline constexpr uint32_t kDescIntWhenDone = 1u << 30;
inline constexpr uint32_t kWbSuccess = 1u << 30;           ///< write-back: copied completely
inline constexpr uint32_t kWbReadFail = 1u << 29;          ///< write-back: a source read failed
inline constexpr uint32_t kWbWriteFail = 1u << 28;         ///< write-back: a destination write failed

/// The channel register table (BAR0 + 0x200) and the function's config space.
extern const RegBlock kChannelRegs;
extern const RegBlock kConfigRegs;

}  // namespace dma

/// Register tables of the DMA function, for documentation (`ntblab-cli regs`).
std::vector<const RegBlock*> dma_register_blocks();

/// Timing knobs. The chip's internal pipeline costs are not public: they default
/// to zero, so a run's modelled duration is what the fabric and memory return
/// for the engine's transactions (descriptor fetch, data, write-back).
struct DmaTiming {
  sc_core::sc_time register_access = sc_core::SC_ZERO_TIME;  ///< per BAR0 access through bar0_in
  sc_core::sc_time per_descriptor = sc_core::SC_ZERO_TIME;   ///< engine overhead per descriptor
};

struct DmaConfig {
  /// true: START runs the channel to its stop inside the MMIO write.
  /// false: START marks the channel running; run() advances it.
  bool immediate = true;
  /// Work bound of one call (START in immediate mode, resume(), run()): at most
  /// this many descriptors, and no new 64 KiB chunk once this many bytes were
  /// copied (so a byte bound may stop a call inside a descriptor; the next call
  /// goes on with it). 0 = no bound.
  uint32_t slice_descriptors = 0;
  uint64_t slice_bytes = 0;
  /// Requester IDs (bus << 8 | dev << 3 | fn) put on the engine's requests,
  /// one per function. Default: bus 0, device 0, functions 1..4.
  std::array<uint16_t, dma::kChannels> requester_id{0x0001, 0x0002, 0x0003, 0x0004};
  DmaTiming timing;
};

/// Per-channel statistics since construction (reset() does not clear them).
struct DmaStats {
  uint64_t starts = 0;                ///< START writes that began a run
  uint64_t descriptors_completed = 0; ///< write-back success
  uint64_t descriptors_failed = 0;    ///< write-back read or write fail
  uint64_t bytes_copied = 0;          ///< destination bytes written
  uint64_t fetch_errors = 0;          ///< descriptor fetch or write-back refused, RING_NEXT outside the ring
  uint64_t bad_starts = 0;            ///< START refused (bus master off, descriptor mode, count 0)
  sc_core::sc_time busy_time = sc_core::SC_ZERO_TIME;  ///< modelled time spent running
};

class DmaEngine : public sc_core::sc_module {
 public:
  /// Engine requests (descriptor fetch, data, write-back) in the host bus
  /// address space. Data bursts carry TlpExtension{bulk = true}.
  tlm_utils::simple_initiator_socket<DmaEngine> mem_out;
  /// BAR0 of function i: the payload address is the offset inside BAR0 (the
  /// integrator decodes the BAR). 1-, 2-, 4- and 8-byte accesses. Binding is
  /// optional: mmio_read/mmio_write are the same thing as direct calls.
  sc_core::sc_vector<tlm_utils::simple_target_socket_tagged_optional<DmaEngine>> bar0_in;

  /// INTx level of function `fn` changed; `at` is the absolute modelled time.
  using IrqCallback = std::function<void(unsigned fn, bool level, sc_core::sc_time at)>;

  DmaEngine(sc_core::sc_module_name name, DmaConfig config = {});

  void on_irq(IrqCallback cb) { irq_cb_ = std::move(cb); }

  // --- config space of function fn (0..3), any width 1/2/4 at any offset < 4096.
  uint32_t cfg_read(unsigned fn, uint32_t off, unsigned len) const;
  void cfg_write(unsigned fn, uint32_t off, unsigned len, uint32_t value);

  // --- BAR0 of function fn. `offset` is the caller's local time offset (LT).
  uint32_t mmio_read(unsigned fn, uint64_t off, unsigned len);
  void mmio_write(unsigned fn, uint64_t off, unsigned len, uint32_t value,
                  sc_core::sc_time offset = sc_core::SC_ZERO_TIME);

  /// Bus address BAR0 of `fn` decodes, if Memory Space is enabled; else 0.
  uint64_t bar0_base(unsigned fn) const;

  /// Budgeted mode: advance every running channel until its modelled time
  /// reaches sc_time_stamp() + budget (a descriptor, once begun, completes, unless a
  /// byte slice ends the call inside it).
  /// Returns true if some channel is still running.
  bool run(sc_core::sc_time budget);

  /// Change the slice bounds (see DmaConfig); 0 = no bound.
  void set_slice(uint32_t descriptors, uint64_t bytes);
  /// Immediate mode with a slice: run one more slice of every channel a START
  /// left running. Returns true if some channel is still running.
  bool resume();

  bool running(unsigned fn) const { return ch_.at(fn).running; }
  bool irq_level(unsigned fn) const;
  /// Absolute modelled time at which the channel's last run finished (or now reaches).
  sc_core::sc_time busy_until(unsigned fn) const { return ch_.at(fn).time; }
  const DmaStats& stats(unsigned fn) const { return ch_.at(fn).stats; }

  /// Power-on reset of all four functions (statistics are kept).
  void reset();

 private:
  struct CopyResult {
    uint32_t bytes = 0;
    bool read_fail = false;
    bool write_fail = false;
  };
  /// The descriptor being worked on, kept across calls when a slice ends in it.
  struct Current {
    bool active = false;
    uint32_t index = 0, count = 0, flags = 0, size = 0;
    uint64_t desc_addr = 0, dst = 0, src = 0;
    CopyResult res;
    sc_core::sc_time read_done, write_done;  // the copy pipeline's two stages
  };
  struct Channel {
    explicit Channel(const RegBlock* regs, const RegBlock* cfg) : regs(regs), cfg(cfg) {}
    Current cur;
    RegFile regs;
    RegFile cfg;
    bool running = false;
    bool irq_out = false;               // last level reported
    uint32_t since_start = 0;           // descriptors processed since the last START
    sc_core::sc_time time = sc_core::SC_ZERO_TIME;  // channel's local absolute time
    DmaStats stats;
  };
  enum class Stop { None, Invalid, Error, Paused, RingEnd, PassLimit };

  void bar0_b_transport(int id, tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);

  void ctrl_written(unsigned fn, uint16_t written, sc_core::sc_time at);
  void start(unsigned fn);
  /// Process descriptors until the channel stops or its time reaches `until`.
  void advance(unsigned fn, sc_core::sc_time until);
  /// One descriptor, or the part of it that fits in `budget` bytes (added to `moved`).
  Stop step(unsigned fn, uint64_t budget, uint64_t& moved);
  void stop(unsigned fn, Stop why);
  void raise_status(unsigned fn, uint16_t bits);
  void update_irq(unsigned fn, sc_core::sc_time at);

  /// One transaction on mem_out issued at absolute time `issue`; `complete`
  /// receives the absolute time it finished (or failed). `bulk` marks data bursts.
  bool transfer(unsigned fn, tlm::tlm_command cmd, uint64_t addr, void* data, unsigned len,
                bool bulk, sc_core::sc_time issue, sc_core::sc_time& complete);
  /// Goes on with the current descriptor's copy; false if `budget` ran out first.
  bool copy(unsigned fn, uint64_t budget, uint64_t& moved);

  uint64_t ring_base(unsigned fn) const;
  uint16_t reg16(unsigned fn, uint32_t off) const;

  DmaConfig config_;
  IrqCallback irq_cb_;
  std::vector<Channel> ch_;
  std::vector<uint8_t> bounce_;  // one copy chunk, reused
};

}  // namespace ntblab::model
