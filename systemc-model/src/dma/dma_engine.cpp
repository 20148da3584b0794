// SPDX-License-Identifier: GPL-2.0-only
// The PEX87xx DMA engine: four functions, one channel each, descriptors in a
// ring in host memory. See dma.h for the execution model and
// docs/model-dma.md for the mechanism and the choices made.
#include "ntblab/model/dma.h"

#include <algorithm>
#include <cstring>

#include "ntblab/model/tlp.h"

namespace ntblab::model {

using namespace dma;
using sc_core::sc_time;

namespace {

/// Largest burst the engine moves in one request pair; bounds the bounce buffer
/// whatever size a descriptor asks for. The fabric splits bursts into TLPs.
constexpr uint32_t kCopyChunk = 64 * 1024;

constexpr uint16_t kCommandMemory = 1u << 1;
constexpr uint16_t kCommandBusMaster = 1u << 2;
constexpr uint16_t kCommandIntxDisable = 1u << 10;
constexpr uint16_t kStatusIntx = 1u << 3;
constexpr uint32_t kCfgCommand = 0x04;
constexpr uint32_t kCfgStatus = 0x06;
constexpr uint32_t kCfgBar0 = 0x10;
constexpr uint32_t kBar0AddrMask = ~(kBar0Size - 1);

// --- Byte-lane access to a RegFile ------------------------------------------
// An access of `len` bytes at `off` (in the block's address space) may cover
// part of a register or several registers; each byte goes to its own register.

uint32_t lanes_read(const RegFile& f, uint64_t off, unsigned len) {
  const RegBlock& b = f.block();
  uint32_t v = 0;
  for (unsigned i = 0; i < len; ++i) {
    uint64_t at = off + i;
    if (at < b.base) continue;
    const RegDesc* r = b.find(uint32_t(at - b.base));
    if (!r || r->access == Access::WO) continue;
    unsigned shift = unsigned(at - b.base - r->offset) * 8;
    v |= ((f.get(r->offset) >> shift) & 0xFFu) << (8 * i);
  }
  return v;
}

/// Applies a software write. For each register touched, calls
/// touched(reg_offset, written_bits, lane_mask) after the generic update.
template <typename Fn>
void lanes_write(RegFile& f, uint64_t off, unsigned len, uint32_t value, Fn&& touched) {
  const RegBlock& b = f.block();
  for (const RegDesc& r : b.regs) {
    uint64_t lo = std::max<uint64_t>(off, uint64_t(b.base) + r.offset);
    uint64_t hi = std::min<uint64_t>(off + len, uint64_t(b.base) + r.offset + r.width);
    if (lo >= hi) continue;
    uint32_t lanes = 0, bits = 0;
    for (uint64_t at = lo; at < hi; ++at) {
      unsigned reg_shift = unsigned(at - b.base - r.offset) * 8;
      unsigned val_shift = unsigned(at - off) * 8;
      lanes |= 0xFFu << reg_shift;
      bits |= ((value >> val_shift) & 0xFFu) << reg_shift;
    }
    // Bytes not written keep their value; W1C bits outside the lanes see a 0.
    uint32_t cur = f.get(r.offset);
    f.write(r.offset, (cur & ~lanes & ~r.w1c_mask) | (bits & lanes));
    touched(r.offset, bits, lanes);
  }
}

bool valid_len(unsigned len) { return len == 1 || len == 2 || len == 4; }

/// [off, off + len) lies inside a space of `size` bytes (no wrap-around).
bool inside(uint64_t off, unsigned len, uint64_t size) { return off < size && len <= size - off; }

uint32_t le32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
uint16_t le16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }

constexpr uint32_t rel(uint32_t bar0_offset) { return bar0_offset - kRegBlockBase; }

}  // namespace

DmaEngine::DmaEngine(sc_core::sc_module_name name, DmaConfig config)
    : sc_module(name),
      mem_out("mem_out"),
      bar0_in("bar0_in", kChannels),
      config_(config),
      bounce_(kCopyChunk) {
  ch_.reserve(kChannels);
  for (unsigned i = 0; i < kChannels; ++i) {
    ch_.emplace_back(&kChannelRegs, &kConfigRegs);
    bar0_in[i].register_b_transport(this, &DmaEngine::bar0_b_transport, int(i));
  }
}

void DmaEngine::reset() {
  for (unsigned fn = 0; fn < kChannels; ++fn) {
    Channel& c = ch_[fn];
    c.regs.reset();
    c.cfg.reset();
    c.running = false;
    c.cur = {};
    c.since_start = 0;
    update_irq(fn, sc_core::sc_time_stamp());
  }
}

// --- Config space -------------------------------------------------------------

uint32_t DmaEngine::cfg_read(unsigned fn, uint32_t off, unsigned len) const {
  if (fn >= kChannels || !valid_len(len) || !inside(off, len, kConfigSize)) return 0xFFFFFFFF;
  return lanes_read(ch_[fn].cfg, off, len);
}

void DmaEngine::cfg_write(unsigned fn, uint32_t off, unsigned len, uint32_t value) {
  if (fn >= kChannels || !valid_len(len) || !inside(off, len, kConfigSize)) return;
  bool command_written = false;
  lanes_write(ch_[fn].cfg, off, len, value, [&](uint32_t reg, uint32_t, uint32_t) {
    if (reg == kCfgCommand) command_written = true;
  });
  // INTx Disable may have changed.
  if (command_written) update_irq(fn, sc_core::sc_time_stamp());
}

uint64_t DmaEngine::bar0_base(unsigned fn) const {
  const RegFile& cfg = ch_.at(fn).cfg;
  if (!(cfg.get(kCfgCommand) & kCommandMemory)) return 0;
  return cfg.get(kCfgBar0) & kBar0AddrMask;
}

// --- BAR0 ---------------------------------------------------------------------

uint32_t DmaEngine::mmio_read(unsigned fn, uint64_t off, unsigned len) {
  if (fn >= kChannels || !valid_len(len) || !inside(off, len, kBar0Size)) return 0;
  return lanes_read(ch_[fn].regs, off, len);
}

void DmaEngine::mmio_write(unsigned fn, uint64_t off, unsigned len, uint32_t value,
                           sc_time offset) {
  if (fn >= kChannels || !valid_len(len) || !inside(off, len, kBar0Size)) return;
  const sc_time at = sc_core::sc_time_stamp() + offset;
  uint16_t ctrl_bits = 0;
  bool ctrl_touched = false, status_touched = false;
  lanes_write(ch_[fn].regs, off, len, value, [&](uint32_t reg, uint32_t bits, uint32_t lanes) {
    if (reg == rel(kCtrl) && (lanes & 0xFF)) {  // the action bits are all in the low byte
      ctrl_touched = true;
      ctrl_bits = uint16_t(bits);
    }
    if (reg == rel(kIntrStatus)) status_touched = true;
  });
  if (status_touched) update_irq(fn, at);
  if (ctrl_touched) ctrl_written(fn, ctrl_bits, at);
}

void DmaEngine::bar0_b_transport(int id, tlm::tlm_generic_payload& gp, sc_time& delay) {
  const unsigned fn = unsigned(id);
  const uint64_t off = gp.get_address();
  const unsigned len = gp.get_data_length();
  if (gp.get_byte_enable_ptr() || gp.get_streaming_width() < len) {
    gp.set_response_status(tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
    return;
  }
  if (!(valid_len(len) || len == 8) || !inside(off, len, kBar0Size)) {
    gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return;
  }
  uint8_t* data = gp.get_data_ptr();
  const unsigned step = len == 8 ? 4 : len;  // a 64-bit access is two dwords
  for (unsigned done = 0; done < len; done += step) {
    if (gp.is_read()) {
      uint32_t v = mmio_read(fn, off + done, step);
      for (unsigned i = 0; i < step; ++i) data[done + i] = uint8_t(v >> (8 * i));
    } else if (gp.is_write()) {
      uint32_t v = 0;
      for (unsigned i = 0; i < step; ++i) v |= uint32_t(data[done + i]) << (8 * i);
      mmio_write(fn, off + done, step, v, delay);
    }
  }
  delay += config_.timing.register_access;
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

uint16_t DmaEngine::reg16(unsigned fn, uint32_t off) const {
  return uint16_t(ch_[fn].regs.get(rel(off)));
}

uint64_t DmaEngine::ring_base(unsigned fn) const {
  const RegFile& r = ch_[fn].regs;
  return uint64_t(r.get(rel(kRingAddrHi))) << 32 | r.get(rel(kRingAddrLo));
}

// --- Control ------------------------------------------------------------------

void DmaEngine::ctrl_written(unsigned fn, uint16_t written, sc_time at) {
  Channel& c = ch_[fn];
  c.time = std::max(c.time, at);
  if (written & kCtrlAbort) {
    // Abort acts at once. Between descriptors, or inside one that a slice left
    // unfinished: that descriptor stays valid, part of its data copied.
    c.running = false;
    c.stats.bytes_copied += c.cur.res.bytes;
    c.cur = {};
    c.regs.set(rel(kCtrl2), reg16(fn, kCtrl2) & ~kCtrl2InProgress);
    c.regs.set(rel(kCtrl), reg16(fn, kCtrl) | kCtrlAbortDone);
    if (reg16(fn, kIntrCtrl) & kIntrAbortDoneEn) raise_status(fn, kStatusAbortDone);
    return;  // a START in the same write is ignored
  }
  if (written & kCtrlStart) {
    start(fn);
  } else if (written & kCtrlGracefulPause) {
    // Idle, or running between descriptors: the pause completes now. Inside a
    // descriptor (a slice ended in it) it completes once that one is done.
    if (!c.cur.active) stop(fn, Stop::Paused);
  }
}

void DmaEngine::start(unsigned fn) {
  Channel& c = ch_[fn];
  c.since_start = 0;
  if (c.running) return;  // budgeted mode: already running, the new work is picked up
  const uint16_t mode = (reg16(fn, kCtrl) & kCtrlDescModeMask) >> kCtrlDescModeShift;
  const bool bus_master = c.cfg.get(kCfgCommand) & kCommandBusMaster;
  if (!bus_master || mode != kDescModeOffChip || c.regs.get(rel(kRingCount)) == 0) {
    ++c.stats.bad_starts;
    stop(fn, Stop::Error);
    return;
  }
  ++c.stats.starts;
  c.running = true;
  c.regs.set(rel(kCtrl2), reg16(fn, kCtrl2) | kCtrl2InProgress);
  if (config_.immediate) advance(fn, sc_core::sc_max_time());
}

bool DmaEngine::run(sc_time budget) {
  const sc_time now = sc_core::sc_time_stamp();
  const sc_time until =
      budget < sc_core::sc_max_time() - now ? now + budget : sc_core::sc_max_time();
  bool any = false;
  for (unsigned fn = 0; fn < kChannels; ++fn) {
    if (!ch_[fn].running) continue;
    ch_[fn].time = std::max(ch_[fn].time, now);
    advance(fn, until);
    any = any || ch_[fn].running;
  }
  return any;
}

void DmaEngine::set_slice(uint32_t descriptors, uint64_t bytes) {
  config_.slice_descriptors = descriptors;
  config_.slice_bytes = bytes;
}

bool DmaEngine::resume() {
  bool any = false;
  for (unsigned fn = 0; fn < kChannels; ++fn) {
    if (!ch_[fn].running) continue;
    advance(fn, sc_core::sc_max_time());
    any = any || ch_[fn].running;
  }
  return any;
}

void DmaEngine::advance(unsigned fn, sc_time until) {
  Channel& c = ch_[fn];
  const uint64_t bound = config_.slice_bytes ? config_.slice_bytes : ~0ull;
  uint64_t moved = 0;
  for (uint32_t n = 0; c.running && c.time < until; ++n) {
    // The slice is spent: the channel stays running, in progress, for the next call.
    if (config_.slice_descriptors && n >= config_.slice_descriptors) break;
    if (moved >= bound) break;
    const sc_time t0 = c.time;
    Stop why = step(fn, bound - moved, moved);
    c.stats.busy_time += c.time - t0;
    if (why != Stop::None) stop(fn, why);
  }
}

void DmaEngine::stop(unsigned fn, Stop why) {
  Channel& c = ch_[fn];
  c.running = false;
  c.regs.set(rel(kCtrl2), reg16(fn, kCtrl2) & ~kCtrl2InProgress);
  const uint16_t enables = reg16(fn, kIntrCtrl);
  // A graceful pause asked for inside a descriptor, and the run ended for
  // another reason right after it: the engine is idle, so the pause is done too.
  if (why != Stop::Paused && why != Stop::None && (reg16(fn, kCtrl) & kCtrlGracefulPause)) {
    c.regs.set(rel(kCtrl), reg16(fn, kCtrl) | kCtrlGracefulPauseDone);
    if (enables & kIntrPauseDoneEn) raise_status(fn, kStatusPauseDone);
  }
  switch (why) {
    case Stop::Invalid:
      c.regs.set(rel(kCtrl), reg16(fn, kCtrl) | kCtrlDescInvalid);
      if (enables & kIntrInvDescEn) raise_status(fn, kStatusInvDesc);
      break;
    case Stop::Error:
      if (enables & kIntrErrorEn) raise_status(fn, kStatusError);
      break;
    case Stop::Paused:
      c.regs.set(rel(kCtrl), reg16(fn, kCtrl) | kCtrlGracefulPauseDone);
      if (enables & kIntrPauseDoneEn) raise_status(fn, kStatusPauseDone);
      break;
    case Stop::RingEnd:
    case Stop::PassLimit:
    case Stop::None:
      break;
  }
}

// --- Descriptor processing --------------------------------------------------

DmaEngine::Stop DmaEngine::step(unsigned fn, uint64_t budget, uint64_t& moved) {
  Channel& c = ch_[fn];
  RegFile& r = c.regs;
  Current& d = c.cur;
  if (!d.active) {
    if (reg16(fn, kCtrl) & kCtrlGracefulPause) return Stop::Paused;
    const uint32_t count = r.get(rel(kRingCount));
    if (count == 0) return Stop::Error;
    // One pass over the ring per START at most: without write-back (or with a
    // ring the driver never invalidates) the engine would otherwise cycle forever.
    if (c.since_start >= count) return Stop::PassLimit;

    const uint32_t pos = r.get(rel(kRingNext)) - r.get(rel(kRingAddrLo));  // modulo 2^32
    const uint32_t index = pos / kDescBytes;
    if (index >= count) {
      ++c.stats.fetch_errors;
      return Stop::Error;  // RING_NEXT outside the ring
    }
    const uint64_t desc_addr = ring_base(fn) + uint64_t(index) * kDescBytes;

    uint8_t desc[kDescBytes];
    if (!transfer(fn, tlm::TLM_READ_COMMAND, desc_addr, desc, kDescBytes, false, c.time, c.time)) {
      ++c.stats.fetch_errors;
      return Stop::Error;
    }
    const uint32_t flags = le32(desc);
    if (!(flags & kDescValid)) return Stop::Invalid;

    d = Current{};
    d.active = true;
    d.index = index;
    d.count = count;
    d.flags = flags;
    d.size = flags & kDescSizeMask;
    d.desc_addr = desc_addr;
    d.dst = uint64_t(le16(desc + 4)) << 32 | le32(desc + 8);
    d.src = uint64_t(le16(desc + 6)) << 32 | le32(desc + 12);
    c.time += config_.timing.per_descriptor;
    d.read_done = d.write_done = c.time;
  }
  if (!copy(fn, budget, moved)) return Stop::None;  // the slice ended inside this descriptor
  d.active = false;
  const CopyResult res = d.res;
  const bool failed = res.read_fail || res.write_fail;
  c.stats.bytes_copied += res.bytes;
  ++(failed ? c.stats.descriptors_failed : c.stats.descriptors_completed);

  if (reg16(fn, kCtrl) & kCtrlWriteBackEn) {
    // The write-back replaces the first dword: valid cleared, result bits,
    // and the bytes moved (plx_dma: residue = submitted size - this size).
    uint32_t wb = (res.bytes & kDescSizeMask) |
                  (res.read_fail ? kWbReadFail : res.write_fail ? kWbWriteFail : kWbSuccess);
    uint8_t le[4] = {uint8_t(wb), uint8_t(wb >> 8), uint8_t(wb >> 16), uint8_t(wb >> 24)};
    if (!transfer(fn, tlm::TLM_WRITE_COMMAND, d.desc_addr, le, 4, false, c.time, c.time)) {
      ++c.stats.fetch_errors;
      return Stop::Error;
    }
  }
  r.set(rel(kLastAddr), uint32_t(d.desc_addr));
  r.set(rel(kLastSize), res.bytes);
  ++c.since_start;
  if (failed && (reg16(fn, kIntrCtrl) & kIntrErrorEn)) raise_status(fn, kStatusError);
  if (d.flags & kDescIntWhenDone) raise_status(fn, kStatusDescDone);

  uint32_t next = d.index + 1;
  Stop why = Stop::None;
  if (next == d.count) {
    next = 0;
    if (reg16(fn, kCtrl) & kCtrlRingStopMode) why = Stop::RingEnd;
  }
  r.set(rel(kRingNext), uint32_t(ring_base(fn) + uint64_t(next) * kDescBytes));
  return why;
}

bool DmaEngine::copy(unsigned fn, uint64_t budget, uint64_t& moved) {
  // Two-stage pipeline: chunk i+1 is read while chunk i is written.
  Channel& c = ch_[fn];
  Current& d = c.cur;
  uint64_t here = 0;
  bool finished = true;
  while (d.res.bytes < d.size) {
    if (here >= budget) {  // the slice is spent; the next call goes on from here
      finished = false;
      break;
    }
    const uint32_t done = d.res.bytes;
    const uint32_t n = std::min(kCopyChunk, d.size - done);
    if (!transfer(fn, tlm::TLM_READ_COMMAND, d.src + done, bounce_.data(), n, true, d.read_done,
                  d.read_done)) {
      d.res.read_fail = true;
      break;
    }
    const sc_time issue = std::max(d.read_done, d.write_done);
    if (!transfer(fn, tlm::TLM_WRITE_COMMAND, d.dst + done, bounce_.data(), n, true, issue,
                  d.write_done)) {
      d.write_done = issue;
      d.res.write_fail = true;
      break;
    }
    d.res.bytes = done + n;
    here += n;
  }
  moved += here;
  c.time = std::max(d.read_done, d.write_done);
  return finished;
}

bool DmaEngine::transfer(unsigned fn, tlm::tlm_command cmd, uint64_t addr, void* data,
                         unsigned len, bool bulk, sc_time issue, sc_time& complete) {
  tlm::tlm_generic_payload gp;
  TlpExtension ext;
  ext.requester_id = config_.requester_id[fn];
  ext.bulk = bulk;
  make_request(gp, cmd, addr, data, len);
  gp.set_extension(&ext);
  const sc_time now = sc_core::sc_time_stamp();
  sc_time delay = issue > now ? issue - now : sc_core::SC_ZERO_TIME;
  mem_out->b_transport(gp, delay);
  gp.clear_extension(&ext);  // stack-owned: the payload must not delete it
  complete = std::max(issue, now + delay);
  return gp.is_response_ok();
}

// --- Interrupts -------------------------------------------------------------

void DmaEngine::raise_status(unsigned fn, uint16_t bits) {
  RegFile& r = ch_[fn].regs;
  r.set(rel(kIntrStatus), r.get(rel(kIntrStatus)) | bits);
  update_irq(fn, ch_[fn].time);
}

bool DmaEngine::irq_level(unsigned fn) const { return ch_.at(fn).irq_out; }

void DmaEngine::update_irq(unsigned fn, sc_time at) {
  Channel& c = ch_[fn];
  const bool pending = c.regs.get(rel(kIntrStatus)) != 0;
  const uint32_t status = c.cfg.get(kCfgStatus);
  c.cfg.set(kCfgStatus, pending ? status | kStatusIntx : status & ~kStatusIntx);
  const bool level = pending && !(c.cfg.get(kCfgCommand) & kCommandIntxDisable);
  if (level == c.irq_out) return;
  c.irq_out = level;
  if (irq_cb_) irq_cb_(fn, level, at);
}

}  // namespace ntblab::model
