// SPDX-License-Identifier: GPL-2.0-only
// Doorbells on both sides and the INTx level they drive, with INTx Disable and
// the link error interrupt.
#include <gtest/gtest.h>

#include <vector>

#include "test_nt_bench.h"

using namespace ntblab::model;
using namespace ntblab::model::ntreg;
using nt_test::Single;

namespace {
constexpr uint32_t V = 0x3E000;  // NT0 virtual page
}

TEST(NtDoorbell, VirtualSetClearMaskAndIntxSequence) {
  Single s;
  std::vector<bool> edges;
  s.nt.on_intx = [&](bool l) { edges.push_back(l); };
  // Reset: all masked. A ring latches in the status but raises nothing.
  EXPECT_EQ(s.nt.reg_read(V + kDbMaskSetV, 4), 0xFFFFu);
  s.nt.reg_write(V + kDbSetV, 4, 0x0005);
  EXPECT_EQ(s.nt.reg_read(V + kDbSetV, 4), 0x0005u);
  EXPECT_EQ(s.nt.reg_read(V + kDbClrV, 4), 0x0005u);
  EXPECT_TRUE(edges.empty());
  EXPECT_FALSE(s.nt.intx(Side::Virtual));
  // Unmask bit 2: level goes high once.
  s.nt.reg_write(V + kDbMaskClrV, 4, 0x0004);
  EXPECT_EQ(s.nt.reg_read(V + kDbMaskSetV, 4), 0xFFFBu);
  EXPECT_EQ(s.nt.reg_read(V + kDbMaskClrV, 4), 0xFFFBu);
  ASSERT_EQ(edges, std::vector<bool>({true}));
  EXPECT_TRUE(s.nt.cfg_read(Side::Virtual, kCommand, 4) & kStatusIntx);
  // Another ring while high: no new call (level semantics).
  s.nt.reg_write(V + kDbMaskClrV, 4, 0x0001);
  s.nt.reg_write(V + kDbSetV, 4, 0x0100);
  EXPECT_EQ(edges.size(), 1u);
  // Clearing only masked bits keeps the level; clearing 0x5 drops it.
  s.nt.reg_write(V + kDbClrV, 4, 0x0100);
  EXPECT_EQ(edges.size(), 1u);
  s.nt.reg_write(V + kDbClrV, 4, 0x0001);
  EXPECT_EQ(edges.size(), 1u);  // bit 2 still pending and unmasked
  s.nt.reg_write(V + kDbClrV, 4, 0x0004);
  EXPECT_EQ(edges, std::vector<bool>({true, false}));
  EXPECT_EQ(s.nt.reg_read(V + kDbSetV, 4), 0u);
  EXPECT_FALSE(s.nt.cfg_read(Side::Virtual, kCommand, 4) & kStatusIntx);
  // Masking a pending bit drops the level too; bits above 15 do not exist.
  s.nt.reg_write(V + kDbSetV, 4, 0xFFFF0001);
  EXPECT_EQ(s.nt.reg_read(V + kDbSetV, 4), 0x0001u);
  EXPECT_EQ(edges.back(), true);
  s.nt.reg_write(V + kDbMaskSetV, 4, 0x0001);
  EXPECT_EQ(edges, std::vector<bool>({true, false, true, false}));
  EXPECT_EQ(s.nt.stats().doorbells_rung[0], 3u);
  EXPECT_EQ(s.nt.stats().doorbells_rung[1], 0u);
}

TEST(NtDoorbell, IntxDisableGatesTheLineNotTheStatus) {
  Single s;
  std::vector<bool> edges;
  s.nt.on_intx = [&](bool l) { edges.push_back(l); };
  s.nt.cfg_write(Side::Virtual, kCommand, 2, kCmdIntxDisable);
  s.nt.reg_write(V + kDbMaskClrV, 4, 0xFFFF);
  s.nt.reg_write(V + kDbSetV, 4, 0x8000);
  EXPECT_TRUE(edges.empty());
  EXPECT_TRUE(s.nt.cfg_read(Side::Virtual, kCommand, 4) & kStatusIntx);  // pending shown
  s.nt.cfg_write(Side::Virtual, kCommand, 2, 0);
  EXPECT_EQ(edges, std::vector<bool>({true}));
  s.nt.cfg_write(Side::Virtual, kCommand, 2, kCmdIntxDisable);
  EXPECT_EQ(edges, std::vector<bool>({true, false}));
}

TEST(NtDoorbell, LinkSideDoorbellsDriveLinkIntx) {
  Single s;
  std::vector<bool> virt, link;
  s.nt.on_intx = [&](bool l) { virt.push_back(l); };
  s.nt.on_link_intx = [&](bool l) { link.push_back(l); };
  const uint32_t L = 0x3F000;
  // The link page reaches the same doorbell registers (one copy).
  s.nt.reg_write(L + kDbMaskClrL, 4, 0x00F0);
  s.nt.reg_write(V + kDbSetL, 4, 0x0010);  // the virtual host rings the link host
  EXPECT_EQ(link, std::vector<bool>({true}));
  EXPECT_TRUE(virt.empty());
  EXPECT_EQ(s.nt.reg_read(L + kDbSetL, 4), 0x10u);
  EXPECT_EQ(s.nt.reg_read(V + kDbSetV, 4), 0u);
  EXPECT_TRUE(s.nt.cfg_read(Side::Link, kCommand, 4) & kStatusIntx);
  s.nt.cfg_write(Side::Link, kCommand, 2, kCmdIntxDisable);
  EXPECT_EQ(link, std::vector<bool>({true, false}));
  s.nt.cfg_write(Side::Link, kCommand, 2, 0);
  s.nt.reg_write(L + kDbClrL, 4, 0x0010);
  EXPECT_EQ(link, std::vector<bool>({true, false, true, false}));
  EXPECT_EQ(s.nt.stats().doorbells_rung[1], 1u);
}

TEST(NtDoorbell, LinkErrorInterrupt) {
  Single s;
  std::vector<bool> edges;
  s.nt.on_intx = [&](bool l) { edges.push_back(l); };
  s.nt.set_link_partner(true);
  s.nt.set_link_partner(false);  // DL_Down latched, but 0xFE4 resets masked
  EXPECT_EQ(s.nt.reg_read(V + kLinkErrStatus, 4), kLinkErrDlDown);
  EXPECT_TRUE(edges.empty());
  s.nt.reg_write(V + kLinkErrMask, 4, 0);  // what FreeBSD's setup_intr does
  EXPECT_EQ(edges, std::vector<bool>({true}));
  s.nt.reg_write(V + kLinkErrStatus, 4, 0xF);  // W1C, as the ISR does
  EXPECT_EQ(s.nt.reg_read(V + kLinkErrStatus, 4), 0u);
  EXPECT_EQ(edges, std::vector<bool>({true, false}));
  s.nt.set_link_partner(true);
  s.nt.set_link_partner(false);
  EXPECT_EQ(edges, std::vector<bool>({true, false, true}));
}

TEST(NtDoorbell, RungThroughBar0OverTlm) {
  Single s;
  s.bring_up();
  std::vector<bool> edges;
  s.nt.on_intx = [&](bool l) { edges.push_back(l); };
  EXPECT_EQ(s.host.write32(s.bars.bar0 + V + kDbMaskClrV, 0x1), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(s.host.write32(s.bars.bar0 + V + kDbSetV, 0x1), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(edges, std::vector<bool>({true}));
  EXPECT_EQ(s.host.read32(s.bars.bar0 + V + kDbSetV), 0x1u);
  EXPECT_EQ(s.nt.stats().from_virtual.bar[0].tlps, 3u);
  // The peer reaches the same doorbell through the link BAR0.
  nt_test::set_link_bar64(s.nt, 0, 0x8000000000000000ull, 0);
  EXPECT_EQ(s.peer.write32(0x8000000000000000ull + V + kDbClrV, 0x1), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(edges, std::vector<bool>({true, false}));
  EXPECT_EQ(s.nt.stats().from_link.bar[0].tlps, 1u);
}
