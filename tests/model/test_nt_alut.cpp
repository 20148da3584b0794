// SPDX-License-Identifier: GPL-2.0-only
// A-LUT: BAR2 split into 128 or 256 windows, each with its own target and
// permissions; the enable bit on the opposite page; the table addresses.
#include <gtest/gtest.h>

#include <vector>

#include "test_nt_bench.h"

using namespace ntblab::model;
using namespace ntblab::model::ntreg;
using nt_test::Single;

namespace {

constexpr uint64_t kLinkBar2 = 0x4000000000000000ull;

/// Entry registers, computed the way the FreeBSD driver computes them.
uint32_t entry_reg(unsigned ntx, bool link_to_host, unsigned alut_mult, unsigned i) {
  uint32_t val = link_to_host ? 1 : 0;
  if (alut_mult == 1) val += 2 * ntx;
  val *= 0x1000 * alut_mult;
  return val + 0x38000 + i * 4 + (i >= 128 ? 0x0E00 : 0);
}

void set_entry(NtEndpoint& nt, uint32_t reg, uint64_t addr, uint32_t perm) {
  nt.reg_write(reg, 4, uint32_t(addr));
  nt.reg_write(reg + 0x400, 4, uint32_t(addr >> 32));
  nt.reg_write(reg + 0x800, 4, perm);
}

/// NT0, 256 entries, link BAR2 16 MB at kLinkBar2: 64 KB windows.
struct AlutBench : Single {
  static NtEndpointConfig cfg() {
    NtEndpointConfig c;
    c.alut = AlutMode::Owned256;
    return c;
  }
  AlutBench() : Single(cfg()) {
    bring_up();
    nt_test::set_link_bar64(nt, 2, kLinkBar2, 16u << 20);
    nt.reg_write(lpage() + xlat_reg(2), 4, 0x7000000);  // plain translation, 16 MB aligned
    nt.reg_write(vpage() + kAlutCtl, 4, kAlutEnable);   // link BAR2 -> host uses the A-LUT
  }
  uint32_t reg(unsigned i) { return entry_reg(0, true, 2, i); }
};

constexpr uint64_t kWin = (16u << 20) / 256;

}  // namespace

TEST(NtAlut, WindowsMapToDifferentTargets) {
  AlutBench s;
  set_entry(s.nt, s.reg(0), 0x100000, 0x3);
  set_entry(s.nt, s.reg(1), 0x5550000 | 0xFFF, 0x3);  // low bits below 64 KB ignored
  set_entry(s.nt, s.reg(255), 0x123400000000ull, 0x3);
  EXPECT_EQ(s.peer.write32(kLinkBar2 + 0x20, 1), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(s.host_ram.reqs.back().addr, 0x100020u);
  EXPECT_EQ(s.peer.write32(kLinkBar2 + kWin + 0x30, 2), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(s.host_ram.reqs.back().addr, 0x5550030u);
  EXPECT_EQ(s.peer.write32(kLinkBar2 + 255 * kWin + 4, 3), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(s.host_ram.reqs.back().addr, 0x123400000004ull);
  EXPECT_EQ(s.nt.stats().from_link.alut[0].tlps, 1u);
  EXPECT_EQ(s.nt.stats().from_link.alut[1].bytes, 4u);
  EXPECT_EQ(s.nt.stats().from_link.alut[255].tlps, 1u);
  // Entry 255 sits in the second 4 KB page of the table.
  EXPECT_EQ(s.reg(255), 0x3A000u + 0x1000 + 127 * 4);
}

TEST(NtAlut, RequestSpanningTwoWindowsIsSplit) {
  AlutBench s;
  set_entry(s.nt, s.reg(3), 0x300000, 0x3);
  set_entry(s.nt, s.reg(4), 0x900000, 0x3);
  std::vector<uint8_t> d(32, 0x42);
  EXPECT_EQ(s.peer.write(kLinkBar2 + 4 * kWin - 16, d.data(), 32), tlm::TLM_OK_RESPONSE);
  ASSERT_EQ(s.host_ram.reqs.size(), 2u);
  EXPECT_EQ(s.host_ram.reqs[0].addr, 0x300000 + kWin - 16);
  EXPECT_EQ(s.host_ram.reqs[0].data.size(), 16u);
  EXPECT_EQ(s.host_ram.reqs[1].addr, 0x900000u);
  EXPECT_EQ(s.host_ram.reqs[1].data.size(), 16u);
}

TEST(NtAlut, PermissionsRefuse) {
  AlutBench s;
  set_entry(s.nt, s.reg(7), 0x700000, kAlutPermRead);   // read-only
  set_entry(s.nt, s.reg(8), 0x800000, 0);              // disabled
  set_entry(s.nt, s.reg(9), 0x900000, kAlutPermWrite);  // write-only
  tlm::tlm_response_status st;
  EXPECT_EQ(s.peer.write32(kLinkBar2 + 7 * kWin, 1), tlm::TLM_ADDRESS_ERROR_RESPONSE);
  s.host_ram.read_fill = 0x11;
  EXPECT_EQ(s.peer.read32(kLinkBar2 + 7 * kWin, &st), 0x11111111u);
  EXPECT_EQ(s.peer.read32(kLinkBar2 + 8 * kWin + 4, &st), 0xFFFFFFFFu);
  EXPECT_EQ(st, tlm::TLM_ADDRESS_ERROR_RESPONSE);
  EXPECT_EQ(s.peer.write32(kLinkBar2 + 8 * kWin, 1), tlm::TLM_ADDRESS_ERROR_RESPONSE);
  EXPECT_EQ(s.peer.read32(kLinkBar2 + 9 * kWin), 0xFFFFFFFFu);
  EXPECT_EQ(s.peer.write32(kLinkBar2 + 9 * kWin, 1), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(s.nt.stats().refused[1].alut_permission, 4u);
  // A write spanning a permitted and a refused window reaches nothing.
  set_entry(s.nt, s.reg(10), 0xA00000, 0x3);
  const size_t before = s.host_ram.reqs.size();
  std::vector<uint8_t> d(16, 1);
  EXPECT_EQ(s.peer.write(kLinkBar2 + 11 * kWin - 8, d.data(), 16),
            tlm::TLM_ADDRESS_ERROR_RESPONSE);  // entry 11: perm 0
  EXPECT_EQ(s.host_ram.reqs.size(), before);
  // Only the two bits exist.
  s.nt.reg_write(s.reg(12) + 0x800, 4, 0xFFFFFFFF);
  EXPECT_EQ(s.nt.reg_read(s.reg(12) + 0x800, 4), 0x3u);
}

TEST(NtAlut, EnableBitOffMeansPlainTranslation) {
  AlutBench s;
  set_entry(s.nt, s.reg(0), 0x100000, 0x3);
  s.nt.reg_write(s.vpage() + kAlutCtl, 4, 0);
  EXPECT_EQ(s.peer.write32(kLinkBar2 + kWin + 8, 1), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(s.host_ram.reqs.back().addr, 0x7000000 + kWin + 8);
  // The link page's bit controls the other table, not this one.
  s.nt.reg_write(s.lpage() + kAlutCtl, 4, kAlutEnable);
  EXPECT_EQ(s.peer.write32(kLinkBar2 + 8, 1), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(s.host_ram.reqs.back().addr, 0x7000008u);
}

TEST(NtAlut, Nt1SharedModeVirtualToLinkTable) {
  NtEndpointConfig c;
  c.ntx = 1;
  c.alut = AlutMode::Shared128;
  c.bar[2].size = 1u << 20;  // 128 windows of 8 KB
  Single s(c);
  s.bring_up();
  // Virtual BAR2 -> link: table 0, sel = 0 + 2*ntx = 2 -> 0x3A000.
  const uint32_t r5 = entry_reg(1, false, 1, 5);
  EXPECT_EQ(r5, 0x3A000u + 5 * 4);
  set_entry(s.nt, r5, 0xABC0000000ull, 0x3);
  s.nt.reg_write(s.lpage() + kAlutCtl, 4, kAlutEnable);  // on the link page
  EXPECT_EQ(s.host.write32(s.bars.bar2 + 5 * 8192 + 12, 1), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(s.link_dom.reqs.back().addr, 0xABC000000Cull);
  EXPECT_EQ(s.nt.stats().from_virtual.alut[5].tlps, 1u);
  // Entry 6 was never written: permission 0, refused.
  EXPECT_EQ(s.host.write32(s.bars.bar2 + 6 * 8192, 1), tlm::TLM_ADDRESS_ERROR_RESPONSE);
  // NT0's tables (0x38000, 0x39000) are not this endpoint's.
  s.nt.reg_write(0x38000, 4, 0x1234);
  EXPECT_EQ(s.nt.reg_read(0x38000, 4), 0u);
}
