// SPDX-License-Identifier: GPL-2.0-only
// NtEndpoint: construction, reset and the register map (generic access through
// the RegBlock tables, then side effects in one place per block).
#include "ntblab/model/nt_endpoint.h"

#include <algorithm>

namespace ntblab::model {

using namespace ntreg;

namespace {

// Validate before the sc_module base is built, so a bad configuration throws
// without leaving a half-made object in the SystemC hierarchy.
const sc_core::sc_module_name& checked(const sc_core::sc_module_name& name,
                                       const NtEndpointConfig& cfg) {
  validate(cfg);
  return name;
}

uint32_t all_ones(unsigned len) { return len >= 4 ? ~0u : (1u << (8 * len)) - 1; }

bool valid_len(uint32_t off, unsigned len, uint32_t space) {
  return len >= 1 && len <= 4 && off < space && len <= space - off;
}

/// A software write through a table row: unwritten bytes keep their value and
/// never clear a W1C bit.
bool table_write(RegFile& file, uint32_t rel, uint32_t data, uint32_t byte_mask) {
  const RegDesc* d = file.block().find(rel);
  if (!d || d->offset != rel) return false;
  const uint32_t old = file.get(rel);
  file.write(rel, (old & ~byte_mask & ~d->w1c_mask) | (data & byte_mask));
  return true;
}

bool is_port_control(uint32_t off) {
  for (unsigned s = 0; s < kNumStations; ++s)
    if (off == port_base(s * 8) + kPortControl) return true;
  return false;
}

}  // namespace

NtEndpoint::NtEndpoint(sc_core::sc_module_name name, const NtEndpointConfig& cfg)
    : sc_module(checked(name, cfg)),
      virt_in("virt_in"),
      virt_out("virt_out"),
      link_in("link_in"),
      link_out("link_out"),
      cfg_(cfg),
      base_(nt_base(cfg.ntx)),
      page_{RegFile(&nt_page_block(cfg.ntx, Side::Virtual)),
            RegFile(&nt_page_block(cfg.ntx, Side::Link))},
      shared_(&nt_shared_block(cfg.ntx)),
      chip_(&nt_chip_block()) {
  virt_in.register_b_transport(this, &NtEndpoint::b_transport_virt);
  link_in.register_b_transport(this, &NtEndpoint::b_transport_link);
  power_on_reset();
}

// ---- reset --------------------------------------------------------------------

void NtEndpoint::power_on_reset() {
  for (Side s : {Side::Virtual, Side::Link}) {
    page_[idx(s)].reset();
    apply_config_resets(s);
    apply_bar_masks(s);
  }
  shared_.reset();
  chip_.reset();
  const unsigned shift = cfg_.ntx ? kNtPortShiftNt1 : kNtPortShiftNt0;
  uint32_t alut_bits = 0;
  if (cfg_.alut == AlutMode::Shared128) alut_bits = 0x3;
  if (cfg_.alut == AlutMode::Owned256) alut_bits = 1u << cfg_.ntx;
  chip_.set(kNtPortConfig, (cfg_.port & 0x1F) << shift | alut_bits << kAlutConfigShift);
  alut_ = {};
  partner_ = false;
  link_up_ = false;
  port_enabled_ = port_enabled();
  intx_ = {};
  for (Side s : {Side::Virtual, Side::Link}) write_link_status(s);
}

/// Values an EEPROM would load: the rows marked "reset: configuration".
void NtEndpoint::apply_config_resets(Side side) {
  RegFile& p = page_[idx(side)];
  p.set(kLinkCap, cfg_.link_gen | cfg_.link_width << kLinkCapWidthShift |
                      cfg_.port << kLinkCapPortShift);
  p.set(kLinkCap2, ((1u << cfg_.link_gen) - 1) << 1);  // speeds 1..gen supported
  p.set(kLinkCtl2, cfg_.link_gen);                     // target speed
  p.set(kRequesterId, side == Side::Virtual ? cfg_.requester_id : cfg_.link_requester_id);
  p.set(kBar0Setup, cfg_.bar0_64bit ? 0x3 : 0x2);
  for (unsigned b = 2; b <= 5; ++b) {
    const NtBarConfig& bar = cfg_.bar[b];
    if (bar.size == 0) {
      if (!(b % 2 == 1 && cfg_.bar[b - 1].is64)) p.set(bar_setup_reg(b), 0);
      continue;
    }
    const uint64_t mask = ~(bar.size - 1);
    uint32_t lo = uint32_t(mask) & kBarSetupMinSizeMask;
    if (bar.is64) lo |= kBarSetupType64;
    if (bar.prefetchable) lo |= kBarSetupPrefetch;
    p.set(bar_setup_reg(b), lo);
    if (bar.is64) p.set(bar_setup_reg(b + 1), uint32_t(mask >> 32));
  }
}

/// DL_Down: the link interface's page returns to its reset values (docs/sources.md, "NT port registers").
/// Doorbells and scratchpads (one copy for both pages) are kept.
void NtEndpoint::reset_page(Side side) {
  page_[idx(side)].reset();
  apply_config_resets(side);
  apply_bar_masks(side);
}

// ---- config space and register map -------------------------------------------

uint32_t NtEndpoint::cfg_read(Side side, uint32_t off, unsigned len) {
  if (!valid_len(off, len, kPageSize)) return all_ones(len);
  return reg_read(page_base(cfg_.ntx, side) + off, len);
}

void NtEndpoint::cfg_write(Side side, uint32_t off, unsigned len, uint32_t value) {
  if (!valid_len(off, len, kPageSize)) return;
  reg_write(page_base(cfg_.ntx, side) + off, len, value);
}

uint32_t NtEndpoint::reg_read(uint32_t off, unsigned len) {
  if (!valid_len(off, len, kChipRegSpace)) return all_ones(len);
  ++stats_.reg_reads;
  uint8_t buf[4] = {};
  read_bytes(off, buf, len);
  return uint32_t(buf[0]) | uint32_t(buf[1]) << 8 | uint32_t(buf[2]) << 16 |
         uint32_t(buf[3]) << 24;
}

void NtEndpoint::reg_write(uint32_t off, unsigned len, uint32_t value) {
  if (!valid_len(off, len, kChipRegSpace)) return;
  ++stats_.reg_writes;
  const uint8_t buf[4] = {uint8_t(value), uint8_t(value >> 8), uint8_t(value >> 16),
                          uint8_t(value >> 24)};
  write_bytes(off, buf, len, nullptr, 0);
}

void NtEndpoint::read_bytes(uint32_t off, uint8_t* dst, uint64_t len) {
  for (uint64_t i = 0; i < len;) {
    const uint32_t a = off + uint32_t(i);
    const uint32_t v = read_dword(a & ~3u);
    for (unsigned sh = a & 3; sh < 4 && i < len; ++sh, ++i) dst[i] = uint8_t(v >> (8 * sh));
  }
}

void NtEndpoint::write_bytes(uint32_t off, const uint8_t* src, uint64_t len, const uint8_t* be,
                             unsigned be_len) {
  if (be_len == 0) be = nullptr;
  for (uint64_t i = 0; i < len;) {
    const uint32_t a = off + uint32_t(i);
    uint32_t data = 0, mask = 0;
    for (unsigned sh = a & 3; sh < 4 && i < len; ++sh, ++i) {
      if (be && be[i % be_len] == TLM_BYTE_DISABLED) continue;
      data |= uint32_t(src[i]) << (8 * sh);
      mask |= 0xFFu << (8 * sh);
    }
    if (mask) write_dword(a & ~3u, data, mask);
  }
}

uint32_t NtEndpoint::read_dword(uint32_t off) {
  const uint32_t rel = off - base_;
  if (off >= base_ && rel < 2 * kPageSize) {
    const uint32_t po = rel % kPageSize;
    if (po >= kSharedFirst && po < kSharedEnd) return shared_.get(po);
    return page_[rel / kPageSize].get(po);  // unmodelled offsets read 0
  }
  if (auto a = locate_alut(off)) {
    const AlutEntry& e = alut_[a->table][a->entry];
    return a->reg == 0 ? e.lo : a->reg == 1 ? e.hi : e.perm;
  }
  return chip_.get(off);
}

void NtEndpoint::write_dword(uint32_t off, uint32_t data, uint32_t byte_mask) {
  const uint32_t rel = off - base_;
  const uint32_t written = data & byte_mask;
  if (off >= base_ && rel < 2 * kPageSize) {
    const uint32_t po = rel % kPageSize;
    if (po >= kSharedFirst && po < kSharedEnd) {
      if (table_write(shared_, po, data, byte_mask)) shared_side_effect(po, written);
      return;
    }
    const Side side = rel >= kPageSize ? Side::Link : Side::Virtual;
    if (table_write(page_[idx(side)], po, data, byte_mask)) page_side_effect(side, po, written);
    return;
  }
  if (auto a = locate_alut(off)) {
    AlutEntry& e = alut_[a->table][a->entry];
    uint32_t& field = a->reg == 0 ? e.lo : a->reg == 1 ? e.hi : e.perm;
    const uint32_t rw = nt_alut_block().regs[a->reg].rw_mask & byte_mask;
    field = (field & ~rw) | (data & rw);
    return;
  }
  if (table_write(chip_, off, data, byte_mask) && is_port_control(off)) update_port_enable();
}

// ---- side effects -------------------------------------------------------------

void NtEndpoint::page_side_effect(Side side, uint32_t po, uint32_t written) {
  switch (po) {
    case kCommand:
      update_intx(side);  // INTx Disable may have changed; decode reads MemEnable live
      return;
    case kBar0Setup:
      apply_bar_masks(side);
      return;
    case kLinkErrStatus:
    case kLinkErrMask:
      update_intx(Side::Virtual);
      return;
    default:
      break;
  }
  if (po >= bar_setup_reg(2) && po <= bar_setup_reg(5)) {
    apply_bar_masks(side);  // the link side's decode follows the new sizes at once
  } else if (po >= bar_reg(0) && po <= bar_reg(5)) {
    apply_bar_masks(side);  // keep only the bits this BAR's size makes writable
  } else if (po >= xlat_reg(2) && po <= xlat_reg(5)) {
    check_xlat_alignment(side, 2 + (po - xlat_reg(2)) / 4, page_[idx(side)].get(po));
  }
}

void NtEndpoint::mirror(uint32_t from_reg, uint32_t to_reg) {
  shared_.set(to_reg, shared_.get(from_reg));
}

/// Set bits in a status/mask pair: the value lives in both registers (the set
/// register and the W1C register read the same thing).
void NtEndpoint::ring_or_mask(uint32_t set_reg, uint32_t clr_reg, uint32_t bits) {
  const uint32_t v = shared_.get(clr_reg) | (bits & kDbBits);
  shared_.set(clr_reg, v);
  shared_.set(set_reg, v);
}

void NtEndpoint::shared_side_effect(uint32_t po, uint32_t written) {
  const Side side = po >= kDbSetL ? Side::Link : Side::Virtual;
  switch (po) {
    case kDbSetV:
    case kDbSetL:
      ring_or_mask(po, po + 4, written);
      if (written & kDbBits) ++stats_.doorbells_rung[idx(side)];
      break;
    case kDbMaskSetV:
    case kDbMaskSetL:
      ring_or_mask(po, po + 4, written);
      break;
    case kDbClrV:
    case kDbClrL:
    case kDbMaskClrV:
    case kDbMaskClrL:
      mirror(po, po - 4);  // the generic W1C already cleared the bits
      break;
    default:
      return;  // scratchpads: plain storage
  }
  update_intx(side);
}

// ---- interrupts ---------------------------------------------------------------

bool NtEndpoint::intx_pending(Side side) const {
  if (side == Side::Link)
    return (shared_.get(kDbClrL) & ~shared_.get(kDbMaskClrL) & kDbBits) != 0;
  const RegFile& v = page_[idx(Side::Virtual)];
  const bool db = (shared_.get(kDbClrV) & ~shared_.get(kDbMaskClrV) & kDbBits) != 0;
  const bool err = (v.get(kLinkErrStatus) & ~v.get(kLinkErrMask) & kLinkErrBits) != 0;
  return db || err;
}

/// Level-sensitive INTx: Status.Interrupt shows the pending state; the line
/// follows it unless Command.INTx-Disable is set. Callbacks only on a change.
void NtEndpoint::update_intx(Side side) {
  RegFile& p = page_[idx(side)];
  const bool pending = intx_pending(side);
  const uint32_t cmd = p.get(kCommand);
  p.set(kCommand, pending ? cmd | kStatusIntx : cmd & ~kStatusIntx);
  const bool level = pending && !(cmd & kCmdIntxDisable);
  if (level == intx_[idx(side)]) return;
  intx_[idx(side)] = level;
  const auto& cb = side == Side::Virtual ? on_intx : on_link_intx;
  if (cb) cb(level);
}

}  // namespace ntblab::model
