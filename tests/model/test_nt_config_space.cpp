// SPDX-License-Identifier: GPL-2.0-only
// Config space of both interfaces: IDs, class, capabilities, Link Status,
// BAR sizing and the BAR setup registers driving decode.
#include <gtest/gtest.h>

#include "test_nt_bench.h"

using namespace ntblab::model;
using namespace ntblab::model::ntreg;
using nt_test::Single;

namespace {

/// Walk the capability list like pci_find_capability; 0 if absent.
uint32_t find_cap(NtEndpoint& nt, Side side, uint8_t id) {
  if (!(nt.cfg_read(side, kCommand + 2, 2) & 0x10)) return 0;  // Status.CapList
  uint32_t ptr = nt.cfg_read(side, kCapPtr, 1) & 0xFC;
  for (int guard = 0; ptr && guard < 48; ++guard) {
    if (nt.cfg_read(side, ptr, 1) == id) return ptr;
    ptr = nt.cfg_read(side, ptr + 1, 1) & 0xFC;
  }
  return 0;
}

uint16_t link_status(NtEndpoint& nt, Side side) {
  const uint32_t cap = find_cap(nt, side, 0x10);
  return uint16_t(nt.cfg_read(side, cap + 0x12, 2));  // PCI_EXP_LNKSTA
}

}  // namespace

TEST(NtConfigSpace, IdsClassAndInterruptPin) {
  Single s;
  EXPECT_EQ(s.nt.cfg_read(Side::Virtual, 0x00, 2), 0x10B5u);
  EXPECT_EQ(s.nt.cfg_read(Side::Virtual, 0x02, 2), 0x87B0u);
  EXPECT_EQ(s.nt.cfg_read(Side::Link, 0x02, 2), 0x87A0u);
  for (Side side : {Side::Virtual, Side::Link}) {
    EXPECT_EQ(s.nt.cfg_read(side, 0x08, 4) >> 8, 0x068000u);
    EXPECT_EQ(s.nt.cfg_read(side, 0x0E, 1), 0x00u);  // header type 0
    EXPECT_EQ(s.nt.cfg_read(side, 0x3D, 1), 1u);     // INTA
  }
}

TEST(NtConfigSpace, CapabilityWalkFindsEndpointPcieCap) {
  Single s;
  for (Side side : {Side::Virtual, Side::Link}) {
    EXPECT_NE(find_cap(s.nt, side, 0x01), 0u);  // PM
    const uint32_t pcie = find_cap(s.nt, side, 0x10);
    ASSERT_NE(pcie, 0u);
    const uint16_t flags = uint16_t(s.nt.cfg_read(side, pcie + 2, 2));
    EXPECT_EQ((flags >> 4) & 0xF, 0u) << "device/port type must be Endpoint";
    EXPECT_EQ(flags & 0xF, 2u) << "capability version 2";
    // Extended config space starts empty: a zero header ends the list.
    EXPECT_EQ(s.nt.cfg_read(side, 0x100, 4), 0u);
  }
}

TEST(NtConfigSpace, LinkCapAndStatusFollowLink) {
  NtEndpointConfig c;
  c.link_gen = 2;
  c.link_width = 4;
  c.port = 12;
  Single s(c);
  const uint32_t cap = find_cap(s.nt, Side::Virtual, 0x10);
  const uint32_t lnkcap = s.nt.cfg_read(Side::Virtual, cap + 0x0C, 4);
  EXPECT_EQ(lnkcap & 0xF, 2u);
  EXPECT_EQ((lnkcap >> 4) & 0x3F, 4u);
  EXPECT_EQ(lnkcap >> 24, 12u);
  EXPECT_EQ(link_status(s.nt, Side::Virtual) & 0x3FF, 0u);
  s.nt.set_link_partner(true);
  ASSERT_TRUE(s.nt.link_up());
  for (Side side : {Side::Virtual, Side::Link}) {
    EXPECT_EQ(link_status(s.nt, side) & 0xF, 2u);
    EXPECT_EQ((link_status(s.nt, side) >> 4) & 0x3F, 4u);
  }
  s.nt.set_link_partner(false);
  EXPECT_EQ(link_status(s.nt, Side::Virtual) & 0x3FF, 0u);
  EXPECT_EQ(link_status(s.nt, Side::Link) & 0x3FF, 0u);
}

TEST(NtConfigSpace, BarSizing64) {
  Single s;  // BAR2, BAR4: 64-bit 16 MiB; BAR0 32-bit 256 KB
  auto size_of = [&](unsigned bar) {
    s.nt.cfg_write(Side::Virtual, bar_reg(bar), 4, 0xFFFFFFFF);
    return s.nt.cfg_read(Side::Virtual, bar_reg(bar), 4);
  };
  EXPECT_EQ(size_of(0), 0xFFFC0000u);
  EXPECT_EQ(size_of(1), 0u);
  EXPECT_EQ(size_of(2), 0xFF00000Cu);
  EXPECT_EQ(size_of(3), 0xFFFFFFFFu);  // high dword of BAR2
  EXPECT_EQ(size_of(4), 0xFF00000Cu);
  EXPECT_EQ(size_of(5), 0xFFFFFFFFu);
  // An address written afterwards keeps only its size-aligned bits.
  s.nt.cfg_write(Side::Virtual, bar_reg(2), 4, 0x12345678);
  EXPECT_EQ(s.nt.cfg_read(Side::Virtual, bar_reg(2), 4), 0x1200000Cu);
}

TEST(NtConfigSpace, BarSizing32BitLayout) {
  NtEndpointConfig c;
  c.bar0_64bit = true;
  c.bar[2] = {1u << 20, false, false};
  c.bar[3] = {2u << 20, false, true};
  c.bar[4] = {4u << 20, false, false};
  c.bar[5] = {8u << 20, false, false};
  Single s(c);
  auto size_of = [&](unsigned bar) {
    s.nt.cfg_write(Side::Virtual, bar_reg(bar), 4, 0xFFFFFFFF);
    return s.nt.cfg_read(Side::Virtual, bar_reg(bar), 4);
  };
  EXPECT_EQ(size_of(0), 0xFFFC0004u);  // 64-bit BAR0
  EXPECT_EQ(size_of(1), 0xFFFFFFFFu);
  EXPECT_EQ(size_of(2), 0xFFF00000u);
  EXPECT_EQ(size_of(3), 0xFFE00008u);
  EXPECT_EQ(size_of(4), 0xFFC00000u);
  EXPECT_EQ(size_of(5), 0xFF800000u);
}

TEST(NtConfigSpace, WhoAmIMirrorsRegisterMap) {
  Single s;
  EXPECT_EQ(s.nt.cfg_read(Side::Virtual, 0xC8C, 4), s.nt.reg_read(0x3E000 + 0xC8C, 4));
  EXPECT_EQ(s.nt.cfg_read(Side::Virtual, 0xC8C, 4), 0u);
  EXPECT_EQ(s.nt.cfg_read(Side::Link, 0xC8C, 4), 0x80000000u);
  s.nt.cfg_write(Side::Virtual, 0xC6C, 4, 0xCAFE);  // config write = register write
  EXPECT_EQ(s.nt.reg_read(0x3E000 + 0xC6C, 4), 0xCAFEu);
}

TEST(NtConfigSpace, LinkBarSetupDrivesLinkDecodeAtOnce) {
  Single s;
  const uint32_t lp = s.lpage();
  nt_test::set_link_bar64(s.nt, 2, 0x8000000000400000ull, 1u << 20);
  EXPECT_FALSE(s.nt.claims(Side::Link, 0x8000000000400000ull));  // memory not enabled yet
  s.nt.reg_write(lp + kCommand, 2, kCmdMemEnable);
  auto hit = s.nt.decode(Side::Link, 0x8000000000400010ull);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->bar, 2u);
  EXPECT_EQ(hit->size, 1u << 20);
  EXPECT_EQ(hit->offset, 0x10u);
  EXPECT_FALSE(s.nt.claims(Side::Link, 0x8000000000500000ull));
  // Grow the BAR to 8 MB: the base loses its now read-only bits (aligned down).
  s.nt.reg_write(lp + 0xE8, 4, 0xFF80000C);
  EXPECT_EQ(s.nt.reg_read(lp + bar_reg(2), 4), 0x0000000Cu);
  EXPECT_TRUE(s.nt.claims(Side::Link, 0x8000000000500000ull));
  EXPECT_TRUE(s.nt.claims(Side::Link, 0x80000000007FFFFFull));
  EXPECT_FALSE(s.nt.claims(Side::Link, 0x8000000000800000ull));
  // Size 0 disables the window.
  s.nt.reg_write(lp + 0xE8, 4, 0);
  s.nt.reg_write(lp + 0xEC, 4, 0);
  EXPECT_FALSE(s.nt.claims(Side::Link, 0x8000000000000000ull));
  EXPECT_EQ(s.nt.reg_read(lp + bar_reg(2), 4), 0u);
}

TEST(NtConfigSpace, VirtualDecodeNeedsMemoryEnable) {
  Single s;
  nt_test::enumerate(s.nt, s.bars);
  EXPECT_TRUE(s.nt.claims(Side::Virtual, s.bars.bar0 + 0x100));
  EXPECT_TRUE(s.nt.claims(Side::Virtual, s.bars.bar2 + (16u << 20) - 1));
  EXPECT_FALSE(s.nt.claims(Side::Virtual, s.bars.bar2 + (16u << 20)));
  auto hit = s.nt.decode(Side::Virtual, s.bars.bar4 + 0x1234);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->bar, 4u);
  EXPECT_EQ(hit->base, s.bars.bar4);
  s.nt.cfg_write(Side::Virtual, kCommand, 2, 0);
  EXPECT_FALSE(s.nt.claims(Side::Virtual, s.bars.bar0 + 0x100));
}

TEST(NtConfigSpace, GarbageBarSetupNeverBreaksDecode) {
  Single s;
  const uint32_t lp = s.lpage();
  s.nt.reg_write(lp + kCommand, 2, kCmdMemEnable);
  uint32_t x = 0x9E3779B9;
  for (int i = 0; i < 2000; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    const uint32_t reg = 0x10 + 4 * (x % 6);
    const uint32_t setup = 0xE4 + 4 * ((x >> 8) % 5);
    s.nt.reg_write(lp + ((x & 0x100) ? reg : setup), 4, x * 2654435761u);
    const uint64_t addr = uint64_t(x) << (x % 33);
    if (auto hit = s.nt.decode(Side::Link, addr)) {
      EXPECT_LT(hit->offset, hit->size);
      EXPECT_EQ(hit->size & (hit->size - 1), 0u);
      EXPECT_TRUE(hit->bar == 0 || (hit->bar >= 2 && hit->bar <= 5));
    }
  }
}
