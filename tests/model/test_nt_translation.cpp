// SPDX-License-Identifier: GPL-2.0-only
// BAR translation in both directions, refusals, and two chips back to back
// programmed the way the FreeBSD driver programs them.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "test_nt_bench.h"

using namespace ntblab::model;
using namespace ntblab::model::ntreg;
using nt_test::B2B;
using nt_test::Single;

namespace {
constexpr uint32_t V = 0x3E000;
constexpr uint32_t L = 0x3F000;
constexpr uint64_t kLinkBar2 = 0x4000000000000000ull;  // FreeBSD: 0x2000000000000000 * bar
constexpr uint64_t kLinkBar4 = 0x8000000000000000ull;

void set_xlat64(NtEndpoint& nt, uint32_t page, unsigned bar, uint64_t v) {
  nt.reg_write(page + xlat_reg(bar), 4, uint32_t(v));
  nt.reg_write(page + xlat_reg(bar) + 4, 4, uint32_t(v >> 32));
}
}  // namespace

TEST(NtTranslation, VirtualBarsToLink) {
  Single s;
  s.bring_up();
  set_xlat64(s.nt, V, 2, kLinkBar2);
  set_xlat64(s.nt, V, 4, kLinkBar4);
  const uint32_t v = 0xA1B2C3D4;
  EXPECT_EQ(s.host.write32(s.bars.bar2 + 0x1230, v), tlm::TLM_OK_RESPONSE);
  ASSERT_EQ(s.link_dom.reqs.size(), 1u);
  EXPECT_EQ(s.link_dom.reqs[0].addr, kLinkBar2 + 0x1230);
  EXPECT_EQ(s.link_dom.reqs[0].cmd, tlm::TLM_WRITE_COMMAND);
  EXPECT_EQ(s.link_dom.reqs[0].data, std::vector<uint8_t>({0xD4, 0xC3, 0xB2, 0xA1}));
  // A read through BAR4 completes with the link domain's data.
  s.link_dom.read_fill = 0x77;
  EXPECT_EQ(s.host.read32(s.bars.bar4 + 0xFFFFFC), 0x77777777u);
  EXPECT_EQ(s.link_dom.reqs.back().addr, kLinkBar4 + 0xFFFFFC);
  EXPECT_TRUE(s.host_ram.reqs.empty());
  const NtStats& st = s.nt.stats();
  EXPECT_EQ(st.from_virtual.bar[2].tlps, 1u);
  EXPECT_EQ(st.from_virtual.bar[2].bytes, 4u);
  EXPECT_EQ(st.from_virtual.bar[4].tlps, 1u);
}

TEST(NtTranslation, LinkBarsToHost) {
  Single s;
  s.bring_up();
  nt_test::set_link_bar64(s.nt, 2, kLinkBar2, 1u << 20);
  set_xlat64(s.nt, L, 2, 0x12300000);  // host RAM, 1 MB aligned
  std::vector<uint8_t> data(64);
  std::iota(data.begin(), data.end(), 1);
  EXPECT_EQ(s.peer.write(kLinkBar2 + 0x40, data.data(), 64), tlm::TLM_OK_RESPONSE);
  ASSERT_EQ(s.host_ram.reqs.size(), 1u);
  EXPECT_EQ(s.host_ram.reqs[0].addr, 0x12300040u);
  EXPECT_EQ(s.host_ram.reqs[0].data, data);
  EXPECT_EQ(s.nt.stats().from_link.bar[2].bytes, 64u);
}

TEST(NtTranslation, ThirtyTwoBitWindows) {
  NtEndpointConfig c;
  for (unsigned b = 2; b <= 5; ++b) c.bar[b] = {1u << 20, false, false};
  Single s(c);
  s.bars = {0xF0000000, 0xE0000000, 0xE0200000};
  nt_test::enumerate(s.nt, s.bars);
  s.nt.cfg_write(Side::Virtual, bar_reg(3), 4, 0xE0100000);
  s.nt.cfg_write(Side::Virtual, bar_reg(5), 4, 0xE0300000);
  s.nt.set_link_partner(true);
  s.nt.reg_write(L + kCommand, 2, kCmdBusMaster);
  for (unsigned b = 2; b <= 5; ++b) s.nt.reg_write(V + xlat_reg(b), 4, 0x20000000 * b);
  for (unsigned b = 2; b <= 5; ++b) {
    EXPECT_EQ(s.host.write32(0xE0000000 + (b - 2) * 0x100000 + 0x10, b), tlm::TLM_OK_RESPONSE);
    EXPECT_EQ(s.link_dom.reqs.back().addr, 0x20000000ull * b + 0x10);
  }
}

TEST(NtTranslation, MisalignedTranslationIsMaskedAndCounted) {
  Single s;
  s.bring_up();
  set_xlat64(s.nt, V, 2, kLinkBar2 + 0x1234);  // BAR2 is 16 MB
  EXPECT_EQ(s.nt.stats().misaligned_xlat, 1u);
  EXPECT_EQ(s.nt.reg_read(V + xlat_reg(2), 4), 0x1234u);  // stored as written
  s.host.write32(s.bars.bar2 + 0x10, 1);
  EXPECT_EQ(s.link_dom.reqs.back().addr, kLinkBar2 + 0x10);
}

TEST(NtTranslation, RefusalsAreCountedAndReachNothing) {
  Single s;
  s.bring_up();
  set_xlat64(s.nt, V, 2, kLinkBar2);
  tlm::tlm_response_status st;
  // Outside every BAR, and crossing the end of one.
  EXPECT_EQ(s.host.read32(s.bars.bar2 - 4, &st), 0xFFFFFFFFu);
  EXPECT_EQ(st, tlm::TLM_ADDRESS_ERROR_RESPONSE);
  EXPECT_EQ(s.host.write32(s.bars.bar2 + (16u << 20) - 2, 1), tlm::TLM_ADDRESS_ERROR_RESPONSE);
  EXPECT_EQ(s.nt.stats().refused[0].no_bar, 2u);
  // Egress bus master off: window disabled.
  s.nt.reg_write(L + kCommand, 2, kCmdMemEnable);
  EXPECT_EQ(s.host.write32(s.bars.bar2, 1), tlm::TLM_ADDRESS_ERROR_RESPONSE);
  s.nt.reg_write(L + kCommand, 2, kCmdMemEnable | kCmdBusMaster);
  // Link down: window disabled.
  s.nt.set_link_partner(false);
  EXPECT_EQ(s.host.read32(s.bars.bar2, &st), 0xFFFFFFFFu);
  EXPECT_EQ(s.nt.stats().refused[0].window_disabled, 2u);
  EXPECT_TRUE(s.link_dom.reqs.empty());
  // The far side refuses: unclaimed; the read completes with all ones.
  s.nt.set_link_partner(true);
  s.nt.reg_write(L + kCommand, 2, kCmdMemEnable | kCmdBusMaster);  // link page was reset
  s.link_dom.refuse_all = true;
  EXPECT_EQ(s.host.read32(s.bars.bar2 + 8, &st), 0xFFFFFFFFu);
  EXPECT_EQ(st, tlm::TLM_ADDRESS_ERROR_RESPONSE);
  EXPECT_EQ(s.nt.stats().refused[0].unclaimed, 1u);
  EXPECT_EQ(s.nt.stats().refused[0].total(), 5u);
  EXPECT_EQ(s.nt.stats().from_virtual.total.tlps, 0u);
  // From the link: nothing decodes while the link BARs are unassigned.
  EXPECT_EQ(s.peer.write32(kLinkBar2, 1), tlm::TLM_ADDRESS_ERROR_RESPONSE);
  EXPECT_EQ(s.nt.stats().refused[1].no_bar, 1u);
  EXPECT_TRUE(s.host_ram.reqs.empty());
}

TEST(NtTranslation, GiantAndGarbageRequestsDoNotCrash) {
  Single s;
  s.bring_up();
  set_xlat64(s.nt, V, 4, 0xFFFFFFFFFFFFFFFFull);  // garbage: masked to the BAR size
  std::vector<uint8_t> big(32u << 20, 0xAB);       // twice the window
  EXPECT_EQ(s.host.write(s.bars.bar4, big.data(), unsigned(big.size())),
            tlm::TLM_ADDRESS_ERROR_RESPONSE);
  EXPECT_EQ(s.host.write(s.bars.bar4 + (8u << 20), big.data(), 8u << 20), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(s.link_dom.reqs.back().addr, 0xFFFFFFFFFF000000ull + (8u << 20));
  EXPECT_EQ(s.host.write(UINT64_MAX - 3, big.data(), 4), tlm::TLM_ADDRESS_ERROR_RESPONSE);
  EXPECT_EQ(s.host.read(s.bars.bar0 + 0x3FFFC, big.data(), 8), tlm::TLM_ADDRESS_ERROR_RESPONSE);
  // A large BAR0 access is split into register dwords.
  EXPECT_EQ(s.host.read(s.bars.bar0, big.data(), 256 * 1024), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(big[0], 0x00);        // port 0 space: not modelled, reads 0
  EXPECT_EQ(big[V + 0], 0xB5);    // NT0 virtual page: vendor 10b5, device 87b0
  EXPECT_EQ(big[V + 3], 0x87);
  EXPECT_EQ(big[L + 2], 0xA0);
}
