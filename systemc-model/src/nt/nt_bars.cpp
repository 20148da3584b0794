// SPDX-License-Identifier: GPL-2.0-only
// NtEndpoint: BAR layout from the BAR setup registers, the A-LUT's place in the
// register map, and link state (station port control, partner, DL_Down).
#include "ntblab/model/nt_endpoint.h"

namespace ntblab::model {

using namespace ntreg;

// ---- BARs -----------------------------------------------------------------------

/// How BAR `bar` (0..5) of one side decodes, from that page's BAR setup
/// registers (docs/sources.md, "NT port registers": 0xE4 for BAR0, 0xE8 + (bar-2)*4 for BAR2..5). Any value
/// a guest writes yields a valid layout: the size is the lowest set bit of the
/// size mask at or above 1 MB, so garbage masks still give a power of two.
NtEndpoint::BarLayout NtEndpoint::layout(Side side, unsigned bar) const {
  const RegFile& p = page_[idx(side)];
  BarLayout l;
  if (bar == 0) {
    const uint32_t setup = p.get(kBar0Setup) & 0x3;
    if (setup == 0x2 || setup == 0x3) {
      l.enabled = true;
      l.is64 = setup == 0x3;
      l.size = kChipRegSpace;
    }
    return l;
  }
  if (bar % 2 == 1) {
    if (layout(side, bar - 1).is64) {
      l.upper = true;
      return l;
    }
    if (bar == 1) return l;  // BAR1 beside a 32-bit BAR0: not implemented
  }
  const uint32_t lo = p.get(bar_setup_reg(bar));
  l.is64 = bar % 2 == 0 && (lo & kBarSetupType64);  // 64-bit only at BAR2 / BAR4
  l.prefetch = (lo & kBarSetupPrefetch) != 0;
  uint64_t mask = lo & kBarSetupMinSizeMask;
  if (l.is64) mask |= uint64_t(p.get(bar_setup_reg(bar + 1))) << 32;
  if (mask == 0) return l;  // disabled (a 64-bit one still owns the next slot)
  l.enabled = true;
  l.size = mask & (~mask + 1);
  return l;
}

uint64_t NtEndpoint::bar_base(Side side, unsigned bar) const {
  const RegFile& p = page_[idx(side)];
  uint64_t base = p.get(bar_reg(bar)) & ~0xFull;
  if (layout(side, bar).is64) base |= uint64_t(p.get(bar_reg(bar + 1))) << 32;
  return base;
}

/// Keep in each BAR register only the bits its current size makes writable,
/// plus its type bits: standard sizing (write ~0, read back the mask) follows.
void NtEndpoint::apply_bar_masks(Side side) {
  RegFile& p = page_[idx(side)];
  for (unsigned bar = 0; bar < 6; ++bar) {
    const BarLayout l = layout(side, bar);
    uint32_t mask = 0, type = 0;
    if (l.upper) {
      const BarLayout low = layout(side, bar - 1);
      if (low.enabled) mask = uint32_t(~(low.size - 1) >> 32);
    } else if (l.enabled) {
      mask = uint32_t(~(l.size - 1)) & ~0xFu;
      type = (l.is64 ? 0x4 : 0) | (l.prefetch ? 0x8 : 0);
    }
    p.set(bar_reg(bar), (p.get(bar_reg(bar)) & mask) | type);
  }
}

/// The chip wants translation bases aligned to the BAR size; the model stores
/// any value, translates with the low bits masked off, and counts the misfit.
void NtEndpoint::check_xlat_alignment(Side side, unsigned slot, uint32_t value) {
  const BarLayout l = layout(side, slot);
  bool misaligned = false;
  if (l.upper) {
    const BarLayout low = layout(side, slot - 1);
    misaligned = low.enabled && ((uint64_t(value) << 32) & (low.size - 1)) != 0;
  } else if (l.enabled) {
    misaligned = (value & (l.size - 1)) != 0;
  }
  if (misaligned) ++stats_.misaligned_xlat;
}

std::optional<BarHit> NtEndpoint::decode(Side side, uint64_t addr) const {
  if (!(page_[idx(side)].get(kCommand) & kCmdMemEnable)) return std::nullopt;
  for (unsigned bar : {0u, 2u, 3u, 4u, 5u}) {
    const BarLayout l = layout(side, bar);
    if (!l.enabled) continue;
    // bar_base() without recomputing the layout: this runs for every request.
    const RegFile& p = page_[idx(side)];
    uint64_t base = p.get(bar_reg(bar)) & ~0xFull;
    if (l.is64) base |= uint64_t(p.get(bar_reg(bar + 1))) << 32;
    if (base == 0) continue;  // unassigned (as QEMU treats a zero BAR)
    if (addr >= base && addr - base < l.size) return BarHit{bar, base, l.size, addr - base};
  }
  return std::nullopt;
}

// ---- A-LUT ----------------------------------------------------------------------

unsigned NtEndpoint::alut_entries() const {
  switch (cfg_.alut) {
    case AlutMode::Shared128: return 128;
    case AlutMode::Owned256: return 256;
    default: return 0;
  }
}

/// Where entry registers sit (FreeBSD ntb_plx_mw_set_trans_internal): table
/// T = 0x38000 + sel * 0x1000 * k, entry i at T + i*4 (+0xE00 for i >= 128),
/// upper address +0x400, permission +0x800. 128-entry mode: k = 1, sel = table
/// + 2*ntx; 256-entry mode: k = 2, sel = table.
std::optional<NtEndpoint::AlutRef> NtEndpoint::locate_alut(uint32_t off) const {
  const unsigned n = alut_entries();
  if (n == 0 || off < kAlutBase) return std::nullopt;
  const unsigned k = n / 128;
  for (unsigned table = 0; table < 2; ++table) {
    const unsigned sel = n == 128 ? table + 2 * cfg_.ntx : table;
    const uint32_t t = kAlutBase + sel * kAlutTableStride * k;
    for (unsigned half = 0; half < k; ++half) {
      const uint32_t first = t + half * (128 * 4 + kAlutHighHalfOffset);
      if (off < first || off >= first + 3 * kAlutUpperOffset) continue;
      const uint32_t rel = off - first;
      const unsigned slot = (rel % kAlutUpperOffset) / 4;
      if (slot >= 128) continue;
      return AlutRef{table, half * 128 + slot, rel / kAlutUpperOffset};
    }
  }
  return std::nullopt;
}

bool NtEndpoint::alut_active(Side ingress) const {
  // Virtual BAR2 -> link is enabled on the link page, link BAR2 -> host on the
  // virtual page (as the FreeBSD driver programs 0xC94).
  return alut_entries() > 0 && (page_[idx(other(ingress))].get(kAlutCtl) & kAlutEnable);
}

// ---- link state -------------------------------------------------------------------

uint32_t NtEndpoint::port_control_reg() const {
  return port_base(cfg_.port & ~7u) + kPortControl;
}

bool NtEndpoint::port_enabled() const {
  return ((chip_.get(port_control_reg()) >> (cfg_.port & 7)) & 1) == 0;
}

void NtEndpoint::set_link_partner(bool present) {
  partner_ = present;
  update_link();
}

void NtEndpoint::update_port_enable() {
  const bool en = port_enabled();
  if (en == port_enabled_) return;
  port_enabled_ = en;
  update_link();
  if (on_port_enable_change) on_port_enable_change(en);
}

void NtEndpoint::update_link() {
  const bool up = partner_ && port_enabled_;
  if (up == link_up_) return;
  link_up_ = up;
  if (up) {
    ++stats_.link_ups;
  } else {
    ++stats_.link_downs;
    reset_page(Side::Link);
    RegFile& v = page_[idx(Side::Virtual)];
    v.set(kLinkErrStatus, v.get(kLinkErrStatus) | kLinkErrDlDown);
  }
  write_link_status(Side::Virtual);
  write_link_status(Side::Link);
  update_intx(Side::Virtual);
  update_intx(Side::Link);
  if (on_link_change) on_link_change(up);
}

/// Link Status: current speed and negotiated width while the link is up, 0
/// otherwise (FreeBSD ntb_plx_link_is_up tests the width).
void NtEndpoint::write_link_status(Side side) {
  RegFile& p = page_[idx(side)];
  uint32_t v = (p.get(kLinkCtl) & 0xFFFF) | kLinkStaSlotClock;
  if (link_up_)
    v |= cfg_.link_gen << kLinkStaSpeedShift | cfg_.link_width << kLinkStaWidthShift;
  p.set(kLinkCtl, v);
}

}  // namespace ntblab::model
