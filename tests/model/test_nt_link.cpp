// SPDX-License-Identifier: GPL-2.0-only
// Link state: partner presence, station port control, DL_Down and the reset of
// the link-side page.
#include <gtest/gtest.h>

#include <vector>

#include "test_nt_bench.h"

using namespace ntblab::model;
using namespace ntblab::model::ntreg;
using nt_test::Single;

namespace {
constexpr uint32_t V = 0x3E000;
constexpr uint32_t L = 0x3F000;
}  // namespace

TEST(NtLink, UpNeedsPartnerAndEnabledPort) {
  NtEndpointConfig c;
  c.port = 10;  // station 1: control at 0x8208, bit 2
  Single s(c);
  std::vector<bool> link, port;
  s.nt.on_link_change = [&](bool u) { link.push_back(u); };
  s.nt.on_port_enable_change = [&](bool e) { port.push_back(e); };
  EXPECT_TRUE(s.nt.port_enabled());  // reset: enabled
  EXPECT_FALSE(s.nt.link_up());
  s.nt.set_link_partner(true);
  EXPECT_TRUE(s.nt.link_up());
  s.nt.reg_write(0x8208, 4, 1u << 2);
  EXPECT_FALSE(s.nt.port_enabled());
  EXPECT_FALSE(s.nt.link_up());
  s.nt.reg_write(0x8208, 4, 1u << 3);  // another port's bit: ours is enabled again
  EXPECT_TRUE(s.nt.port_enabled());
  EXPECT_TRUE(s.nt.link_up());
  s.nt.reg_write(0x0208, 4, 0xFF);  // another station: no effect
  EXPECT_TRUE(s.nt.link_up());
  EXPECT_EQ(link, std::vector<bool>({true, false, true}));
  EXPECT_EQ(port, std::vector<bool>({false, true}));
  s.nt.set_link_partner(true);  // no change, no call
  EXPECT_EQ(link.size(), 3u);
  EXPECT_EQ(s.nt.stats().link_ups, 2u);
  EXPECT_EQ(s.nt.stats().link_downs, 1u);
}

TEST(NtLink, DownSetsDlDownAndResetsLinkPageOnly) {
  Single s;
  s.nt.set_link_partner(true);
  // Program the link page (as a B2B driver does) and the virtual page.
  nt_test::set_link_bar64(s.nt, 4, 0x8000000000800000ull, 1u << 20);
  s.nt.reg_write(L + kCommand, 2, kCmdMemEnable | kCmdBusMaster);
  s.nt.reg_write(L + xlat_reg(4), 4, 0x100000);
  s.nt.reg_write(L + kRidLutLink, 4, 0x00010001);
  s.nt.reg_write(L + kAlutCtl, 4, kAlutEnable);
  s.nt.reg_write(V + xlat_reg(4), 4, 0x00000000);
  s.nt.reg_write(V + xlat_reg(4) + 4, 4, 0x80000000);
  s.nt.reg_write(V + kSpad0, 4, 0x5A5A);
  s.nt.reg_write(V + kDbSetV, 4, 0x1);
  EXPECT_TRUE(s.nt.claims(Side::Link, 0x8000000000800000ull));
  s.nt.set_link_partner(false);
  EXPECT_EQ(s.nt.reg_read(V + kLinkErrStatus, 4), kLinkErrDlDown);
  // Link page back to reset ...
  const RegBlock& lb = nt_page_block(0, Side::Link);
  for (uint32_t off : {kCommand, xlat_reg(4), kRidLutLink, kAlutCtl})
    EXPECT_EQ(s.nt.reg_read(L + off, 4), lb.find(off)->reset) << std::hex << off;
  EXPECT_EQ(s.nt.reg_read(L + bar_reg(4), 4), 0xCu);
  EXPECT_EQ(s.nt.reg_read(L + bar_reg(5), 4), 0x0u);
  EXPECT_EQ(s.nt.reg_read(L + bar_setup_reg(4), 4), 0xFF00000Cu);  // EEPROM value again
  EXPECT_EQ(s.nt.reg_read(L + kWhoAmI, 4), 0x80000000u);
  EXPECT_FALSE(s.nt.claims(Side::Link, 0x8000000000800000ull));
  // ... the virtual page, doorbells and scratchpads are not.
  EXPECT_EQ(s.nt.reg_read(V + xlat_reg(4) + 4, 4), 0x80000000u);
  EXPECT_EQ(s.nt.reg_read(V + kSpad0, 4), 0x5A5Au);
  EXPECT_EQ(s.nt.reg_read(V + kDbSetV, 4), 0x1u);
  // Coming back up does not set DL_Down again nor reset anything.
  s.nt.reg_write(V + kLinkErrStatus, 4, kLinkErrDlDown);
  s.nt.reg_write(L + kCommand, 2, kCmdMemEnable);
  s.nt.set_link_partner(true);
  EXPECT_EQ(s.nt.reg_read(V + kLinkErrStatus, 4), 0u);
  EXPECT_EQ(s.nt.reg_read(L + kCommand, 2), kCmdMemEnable);
}

TEST(NtLink, LinkSideTrafficRefusedWhileDown) {
  Single s;
  s.bring_up();
  nt_test::set_link_bar64(s.nt, 0, 0x8000000000000000ull, 0);
  EXPECT_EQ(s.peer.read32(0x8000000000000000ull + V + kWhoAmI), 0u);
  s.nt.reg_write(0x8208, 4, 1);  // port 8 disabled (FreeBSD link_disable)
  EXPECT_FALSE(s.nt.link_up());
  // The link page was reset, so re-program it; traffic is still refused.
  s.nt.reg_write(L + kCommand, 2, kCmdMemEnable);
  nt_test::set_link_bar64(s.nt, 0, 0x8000000000000000ull, 0);
  tlm::tlm_response_status st;
  EXPECT_EQ(s.peer.read32(0x8000000000000000ull + V + kWhoAmI, &st), 0xFFFFFFFFu);
  EXPECT_EQ(st, tlm::TLM_ADDRESS_ERROR_RESPONSE);
  EXPECT_EQ(s.nt.stats().refused[1].window_disabled, 1u);
}
