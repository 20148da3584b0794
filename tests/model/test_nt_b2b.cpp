// SPDX-License-Identifier: GPL-2.0-only
// Two chips back to back (link_out of one bound to link_in of the other), each
// driven by the FreeBSD driver's B2B programming sequence.
#include <gtest/gtest.h>

#include <vector>

#include "test_nt_bench.h"

using namespace ntblab::model;
using namespace ntblab::model::ntreg;
using nt_test::B2B;

namespace {
constexpr uint32_t V = 0x3E000;
constexpr uint32_t L = 0x3F000;

size_t nonzero_outside(const VectorMemory& m, uint64_t from, uint64_t len) {
  size_t n = 0;
  const uint8_t* p = const_cast<VectorMemory&>(m).data();
  for (uint64_t i = 0; i < m.size(); ++i)
    if ((i < from || i >= from + len) && p[i] != 0) ++n;
  return n;
}

B2B& up(B2B& t) {
  t.drv_a.attach();
  t.drv_b.attach();
  t.cable();
  return t;
}
}  // namespace

TEST(NtB2B, DriverSeesLinkUp) {
  B2B t;
  up(t);
  EXPECT_TRUE(t.a.link_up());
  EXPECT_TRUE(t.b.link_up());
  EXPECT_TRUE(t.drv_a.link_is_up());
  EXPECT_TRUE(t.drv_b.link_is_up());
  EXPECT_EQ(t.drv_a.b2b_off, 8u << 20);  // half of the 16 MB BAR4
}

TEST(NtB2B, HostAWriteLandsInHostBMemoryOnly) {
  B2B t;
  up(t);
  const uint64_t dst = 0x200000;  // where B's driver exposes its buffer
  t.drv_b.set_trans(4, dst, 1u << 20);
  std::vector<uint8_t> data(4096);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * 7 + 1);
  ASSERT_EQ(t.host_a.write(t.drv_a.mw_data(0x100), data.data(), 4096), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(std::vector<uint8_t>(t.ram_b.data() + dst + 0x100, t.ram_b.data() + dst + 0x1100),
            data);
  EXPECT_EQ(nonzero_outside(t.ram_b, dst + 0x100, 4096), 0u);
  EXPECT_EQ(nonzero_outside(t.ram_a, 0, 0), 0u);
  // Read back through the same window (non-posted, completes with B's data).
  std::vector<uint8_t> back(4096);
  ASSERT_EQ(t.host_a.read(t.drv_a.mw_data(0x100), back.data(), 4096), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(back, data);
  EXPECT_EQ(t.a.stats().from_virtual.bar[4].bytes, 8192u);
  EXPECT_EQ(t.b.stats().from_link.bar[4].bytes, 8192u);
  // Beyond B's 1 MB link BAR4 nothing decodes on B: refused, B's memory unchanged.
  EXPECT_EQ(t.host_a.write32(t.drv_a.mw_data(1u << 20), 0xDEAD), tlm::TLM_ADDRESS_ERROR_RESPONSE);
  EXPECT_EQ(t.b.stats().refused[1].no_bar, 1u);
  EXPECT_EQ(t.a.stats().refused[0].unclaimed, 1u);
  EXPECT_EQ(nonzero_outside(t.ram_b, dst + 0x100, 4096), 0u);
}

TEST(NtB2B, PeerDoorbellAndScratchpadsThroughTheWindow) {
  B2B t;
  up(t);
  std::vector<bool> b_intx;
  t.b.on_intx = [&](bool l) { b_intx.push_back(l); };
  t.drv_b.db_clear_mask(0xFFFF);
  t.drv_a.peer_db_set(0x0003);
  EXPECT_EQ(b_intx, std::vector<bool>({true}));
  EXPECT_EQ(t.drv_b.db_read(), 0x3u);
  EXPECT_EQ(t.drv_a.db_read(), 0x0u);  // each chip keeps its own doorbells
  // Scratchpads: B writes its own, A reads it through the window.
  t.drv_b.w(t.drv_b.our(0xC6C + 12), 0xBEEF0003);
  tlm::tlm_response_status st;
  EXPECT_EQ(t.host_a.read32(t.drv_a.peer_reg(0xC6C + 12), &st), 0xBEEF0003u);
  EXPECT_EQ(st, tlm::TLM_OK_RESPONSE);
  t.host_a.write32(t.drv_a.peer_reg(0xC6C + 20), 0x5);
  EXPECT_EQ(t.drv_b.r(t.drv_b.our(0xC6C + 20)), 0x5u);
  EXPECT_EQ(t.drv_a.r(t.drv_a.our(0xC6C + 20)), 0x0u);
  // Extra scratchpads (PHY test pattern) at offset 0x20C of the peer's map.
  t.host_a.write32(t.drv_a.bars.bar4 + 0x20C, 0x12345678);
  EXPECT_EQ(t.b.reg_read(0x20C, 4), 0x12345678u);
  EXPECT_EQ(t.a.reg_read(0x20C, 4), 0x0u);
  EXPECT_EQ(t.b.stats().doorbells_rung[0], 1u);
}

TEST(NtB2B, DisablingOnePortTakesBothLinksDownAndDriverRecovers) {
  B2B t;
  up(t);
  t.drv_b.set_trans(4, 0x100000, 1u << 20);
  std::vector<bool> a_link, b_link, b_intx;
  t.a.on_link_change = [&](bool u) { a_link.push_back(u); };
  t.b.on_link_change = [&](bool u) { b_link.push_back(u); };
  t.b.on_intx = [&](bool l) { b_intx.push_back(l); };
  t.drv_a.link_enable(false);
  EXPECT_FALSE(t.a.port_enabled());
  EXPECT_EQ(a_link, std::vector<bool>({false}));
  EXPECT_EQ(b_link, std::vector<bool>({false}));
  EXPECT_FALSE(t.drv_b.link_is_up());
  // DL_Down on B: its ISR sees it (FE4 was unmasked at attach) ...
  EXPECT_EQ(b_intx, std::vector<bool>({true}));
  const uint32_t err = t.drv_b.r(t.drv_b.our(0xFE0));
  EXPECT_EQ(err & kLinkErrDlDown, kLinkErrDlDown);
  // ... and the link page is back at reset: no link decode, no translation.
  EXPECT_EQ(t.b.reg_read(L + kCommand, 2), 0u);
  EXPECT_EQ(t.b.reg_read(L + bar_reg(4), 4), 0xCu);
  EXPECT_EQ(t.b.reg_read(L + xlat_reg(4), 4), 0u);
  EXPECT_EQ(t.b.reg_read(V + xlat_reg(4) + 4, 4), 0x80000000u);  // virtual page kept
  EXPECT_EQ(t.host_a.write32(t.drv_a.mw_data(0), 1), tlm::TLM_ADDRESS_ERROR_RESPONSE);
  // FreeBSD's ISR: acknowledge, re-init, re-apply windows.
  t.drv_b.w(t.drv_b.our(0xFE0), err);
  EXPECT_EQ(b_intx, std::vector<bool>({true, false}));
  t.drv_b.init();
  t.drv_b.set_trans(4, 0x100000, 1u << 20);
  t.drv_a.init();
  t.drv_a.link_enable(true);
  EXPECT_TRUE(t.a.link_up());
  EXPECT_TRUE(t.b.link_up());
  EXPECT_EQ(t.host_a.write32(t.drv_a.mw_data(0x10), 0xFEEDu), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(t.ram_b.data()[0x100010], 0xED);
}
