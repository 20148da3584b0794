// SPDX-License-Identifier: GPL-2.0-only
// Register tables of the NT endpoint: every row's reset value and access
// type, driven by the RegBlocks themselves, plus the configuration checks.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "ntblab/model/config_error.h"
#include "test_nt_bench.h"

using namespace ntblab::model;
using namespace ntblab::model::ntreg;
using nt_test::Single;

namespace {

NtEndpointConfig alut_config() {
  NtEndpointConfig c;
  c.alut = AlutMode::Owned256;
  c.port = 9;
  c.requester_id = 0x0A10;
  c.link_requester_id = 0x0301;
  return c;
}

/// Reset values that come from the configuration (EEPROM), computed here from
/// the config independently of the model, by absolute register-map offset.
std::map<uint32_t, uint32_t> config_resets(const NtEndpointConfig& c) {
  std::map<uint32_t, uint32_t> m;
  for (Side s : {Side::Virtual, Side::Link}) {
    const uint32_t p = page_base(c.ntx, s);
    m[p + kLinkCap] = c.link_gen | c.link_width << 4 | c.port << 24;
    m[p + kLinkCap2] = ((1u << c.link_gen) - 1) << 1;
    m[p + kLinkCtl2] = c.link_gen;
    m[p + kRequesterId] = s == Side::Virtual ? c.requester_id : c.link_requester_id;
    m[p + kBar0Setup] = c.bar0_64bit ? 3 : 2;
    // default config: BAR2 and BAR4 64-bit prefetchable, 16 MiB
    const uint32_t lo = uint32_t(~(uint64_t(c.bar[2].size) - 1)) | 0xC;
    m[p + 0xE8] = lo;
    m[p + 0xEC] = 0xFFFFFFFF;
    m[p + 0xF0] = lo;
    m[p + 0xF4] = 0xFFFFFFFF;
    for (unsigned b = 0; b < 6; ++b) m[p + bar_reg(b)] = (b == 2 || b == 4) ? 0xC : 0;
  }
  m[kNtPortConfig] = c.port << 8 | 1u << 30;  // NT0, 256-entry A-LUT owned by NT0
  return m;
}

bool is_doorbell(const RegBlock& b, const RegDesc& r) {
  return &b == &nt_shared_block(0) && r.offset < kSpad0;
}

bool is_bar(const RegBlock& b, const RegDesc& r) {
  return &b != &nt_shared_block(0) && &b != &nt_chip_block() && &b != &nt_alut_block() &&
         r.offset >= bar_reg(0) && r.offset <= bar_reg(5);
}

/// Absolute offset of a row; A-LUT rows are entry 0 of the link->host table.
uint32_t where(const RegBlock& b, const RegDesc& r) {
  if (&b == &nt_alut_block()) return 0x38000 + 1 * 0x1000 * 2 + r.offset;  // sel 1, k 2
  return b.base + r.offset;
}

}  // namespace

TEST(NtRegs, EveryRowResetValue) {
  const NtEndpointConfig cfg = alut_config();
  Single s(cfg);
  const auto from_config = config_resets(cfg);
  int checked = 0;
  for (const RegBlock* b : nt_register_blocks(0)) {
    for (const RegDesc& r : b->regs) {
      const uint32_t off = where(*b, r);
      auto it = from_config.find(off);
      const uint32_t expect = it != from_config.end() ? it->second : r.reset;
      EXPECT_EQ(s.nt.reg_read(off, 4), expect) << b->name << " " << r.name;
      ++checked;
    }
  }
  EXPECT_GT(checked, 100);
}

TEST(NtRegs, EveryRowAccessType) {
  Single s(alut_config());
  int checked = 0;
  for (const RegBlock* b : nt_register_blocks(0)) {
    for (const RegDesc& r : b->regs) {
      if (is_doorbell(*b, r) || is_bar(*b, r)) continue;  // own tests below
      const uint32_t off = where(*b, r);
      for (uint32_t pattern : {0xA5A5A5A5u, 0x5A5A5A5Au, 0xFFFFFFFFu, 0u}) {
        const uint32_t before = s.nt.reg_read(off, 4);
        s.nt.reg_write(off, 4, pattern);
        uint32_t expect = before;
        switch (r.access) {
          case Access::RO: break;
          case Access::RW:
          case Access::W1C:
            expect = ((before & ~r.rw_mask) | (pattern & r.rw_mask)) & ~(pattern & r.w1c_mask);
            break;
          default: ADD_FAILURE() << r.name << ": unexpected access type";
        }
        EXPECT_EQ(s.nt.reg_read(off, 4), expect)
            << b->name << " " << r.name << " pattern " << std::hex << pattern;
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 80);
}

TEST(NtRegs, RowsAreDwordsWithoutOverlap) {
  for (unsigned ntx : {0u, 1u}) {
    std::set<uint32_t> seen;
    for (const RegBlock* b : nt_register_blocks(ntx))
      for (const RegDesc& r : b->regs) {
        EXPECT_EQ(r.width, 4) << r.name;
        EXPECT_EQ(r.offset % 4, 0u) << r.name;
        EXPECT_TRUE(seen.insert(b->base + r.offset).second) << "overlap at " << r.name;
        EXPECT_EQ(r.rw_mask & r.w1c_mask, 0u) << r.name;
      }
  }
  // Doorbells and scratchpads sit between the page rows of 0xC48 and 0xC8C.
  EXPECT_EQ(nt_page_block(0, Side::Virtual).find(kDbSetV), nullptr);
  EXPECT_NE(nt_shared_block(0).find(kSpad0 + 28), nullptr);
}

TEST(NtRegs, WhoAmIAndIdsPerPage) {
  for (unsigned ntx : {0u, 1u}) {
    EXPECT_EQ(nt_page_block(ntx, Side::Virtual).find(kWhoAmI)->reset, ntx);
    EXPECT_EQ(nt_page_block(ntx, Side::Link).find(kWhoAmI)->reset, 0x80000000u | ntx);
  }
  NtEndpointConfig c;
  c.ntx = 1;
  Single s(c);
  EXPECT_EQ(s.nt.cfg_read(Side::Virtual, kWhoAmI, 4), 1u);
  EXPECT_EQ(s.nt.cfg_read(Side::Link, kWhoAmI, 4), 0x80000001u);
  EXPECT_EQ(s.nt.reg_read(0x3C000 + kWhoAmI, 4), 1u);
  EXPECT_EQ(s.nt.reg_read(0x3D000 + kWhoAmI, 4), 0x80000001u);
  EXPECT_EQ(s.nt.cfg_read(Side::Virtual, 0, 4), 0x87B110B5u);
  EXPECT_EQ(s.nt.cfg_read(Side::Link, 0, 4), 0x87A110B5u);
  EXPECT_EQ(s.nt.reg_read(0x3E000, 4), 0u);  // NT0 is not modelled by this endpoint
}

TEST(NtRegs, ScratchpadsSharedByBothPagesAndExtraPatterns) {
  Single s;
  for (unsigned i = 0; i < 8; ++i) s.nt.reg_write(0x3E000 + 0xC6C + 4 * i, 4, 0x1000 + i);
  for (unsigned i = 0; i < 8; ++i) {
    EXPECT_EQ(s.nt.reg_read(0x3F000 + 0xC6C + 4 * i, 4), 0x1000 + i);
    EXPECT_EQ(s.nt.cfg_read(Side::Link, 0xC6C + 4 * i, 4), 0x1000 + i);
  }
  // FreeBSD probes the extra scratchpads with 0x12345678 at port_base(ntx*8) + 0x20C.
  for (unsigned i = 0; i < 4; ++i) {
    s.nt.reg_write(0x20C + 4 * i, 4, 0x12345678 + i);
    EXPECT_EQ(s.nt.reg_read(0x20C + 4 * i, 4), 0x12345678 + i);
  }
}

TEST(NtRegs, SubDwordAccesses) {
  Single s;
  const uint32_t spad = 0x3E000 + kSpad0;
  s.nt.reg_write(spad, 4, 0x11223344);
  s.nt.reg_write(spad + 1, 1, 0xAB);
  EXPECT_EQ(s.nt.reg_read(spad, 4), 0x1122AB44u);
  EXPECT_EQ(s.nt.reg_read(spad + 2, 2), 0x1122u);
  EXPECT_EQ(s.nt.reg_read(spad + 3, 1), 0x11u);
  // Crossing into the next scratchpad.
  s.nt.reg_write(spad + 4, 4, 0x55667788);
  EXPECT_EQ(s.nt.reg_read(spad + 2, 4), 0x77881122u);
  // A byte write to the doorbell clear register clears only that byte's bits.
  s.nt.reg_write(0x3E000 + kDbSetV, 4, 0xFFFF);
  s.nt.reg_write(0x3E000 + kDbClrV + 1, 1, 0xFF);
  EXPECT_EQ(s.nt.reg_read(0x3E000 + kDbSetV, 4), 0x00FFu);
  // Writing the Command half must not clear Status W1C bits, nor touch them.
  s.nt.cfg_write(Side::Virtual, kCommand, 2, kCmdMemEnable);
  EXPECT_EQ(s.nt.cfg_read(Side::Virtual, kCommand + 2, 2), 0x0010u);  // cap list only
}

TEST(NtRegs, PortConfigAndAlutModes) {
  NtEndpointConfig c;
  c.port = 17;
  c.ntx = 1;
  c.alut = AlutMode::Shared128;
  Single s(c);
  const uint32_t v = s.nt.reg_read(kNtPortConfig, 4);
  EXPECT_EQ((v >> 16) & 0x1F, 17u);  // what FreeBSD reads for NT1
  EXPECT_EQ(v >> 30, 3u);
  s.nt.reg_write(kNtPortConfig, 4, 0);  // read-only
  EXPECT_EQ(s.nt.reg_read(kNtPortConfig, 4), v);
}

TEST(NtRegs, OutOfRangeAccessesDoNotCrash) {
  Single s;
  EXPECT_EQ(s.nt.reg_read(0x40000, 4), 0xFFFFFFFFu);
  EXPECT_EQ(s.nt.reg_read(0x3FFFE, 4), 0xFFFFFFFFu);
  EXPECT_EQ(s.nt.reg_read(0x100, 0), 0u);
  EXPECT_EQ(s.nt.reg_read(0x100, 8), 0xFFFFFFFFu);
  s.nt.reg_write(0xFFFFFFFF, 4, 1);
  s.nt.reg_write(0x100, 3, 1);  // odd length inside a dword: fine
  EXPECT_EQ(s.nt.cfg_read(Side::Virtual, 0x1000, 4), 0xFFFFFFFFu);
  EXPECT_EQ(s.nt.cfg_read(Side::Link, 0xFFF, 2), 0xFFFFu);
  s.nt.cfg_write(Side::Link, 0xFFFFFFF0, 4, 0xFFFFFFFF);
  EXPECT_EQ(s.nt.reg_read(0x12340, 4), 0u);  // unmodelled: reads 0
}

namespace {
void expect_config_error(NtEndpointConfig c, const std::string& field) {
  try {
    NtEndpoint nt("bad", c);
    ADD_FAILURE() << "no ConfigError for " << field;
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), field) << e.what();
  }
}
}  // namespace

TEST(NtRegs, ConfigValidation) {
  NtEndpointConfig c;
  c.ntx = 2;
  expect_config_error(c, "ntx");
  c = {};
  c.port = 24;
  expect_config_error(c, "port");
  c = {};
  c.bar[2].size = 512 * 1024;
  expect_config_error(c, "bar[2].size");
  c = {};
  c.bar[4].size = 3u << 20;
  expect_config_error(c, "bar[4].size");
  c = {};
  c.bar[5].size = 1u << 20;  // BAR5 is BAR4's high dword
  expect_config_error(c, "bar[5].size");
  c = {};
  c.bar[3] = {1u << 20, true, false};
  c.bar[2].is64 = false;
  expect_config_error(c, "bar[3].is64");
  c = {};
  c.bar[2] = {4ull << 30, false, false};
  expect_config_error(c, "bar[2].size");
  c = {};
  c.bar[0].size = 1u << 20;
  expect_config_error(c, "bar[0].size");
  c = {};
  c.link_gen = 5;
  expect_config_error(c, "link_gen");
  c = {};
  c.link_gen = 0;
  expect_config_error(c, "link_gen");
  c = {};
  c.link_width = 3;
  expect_config_error(c, "link_width");
  c = {};
  c.bar[2] = {};
  c.bar[3] = {};
  c.alut = AlutMode::Owned256;
  expect_config_error(c, "alut");
  // A valid 32-bit layout: BAR2..5 each 32-bit.
  c = {};
  for (unsigned b = 2; b <= 5; ++b) c.bar[b] = {1u << 20, false, false};
  EXPECT_NO_THROW(validate(c));
}

TEST(NtRegs, DocsRenderFromTables) {
  const std::string md = to_markdown(nt_register_blocks(0));
  EXPECT_NE(md.find("| 0x3EC4C | 32 | RW1S | 0x00000000 | DB_SET_V |"), std::string::npos);
  EXPECT_NE(md.find("| 0x3FC8C | 32 | RO | 0x80000000 | WHOAMI |"), std::string::npos);
  EXPECT_NE(md.find("| 0x3EFE0 | 32 | RW1C |"), std::string::npos);
  EXPECT_EQ(md.find("| 0x3FFE0 |"), std::string::npos);  // the link page has no link errors
}
