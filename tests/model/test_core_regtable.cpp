// SPDX-License-Identifier: GPL-2.0-only
#include <gtest/gtest.h>

#include "ntblab/model/memory.h"
#include "ntblab/model/regtable.h"

using namespace ntblab::model;

namespace {
const RegBlock kBlock{"test", "BAR0", 0x100,
                      {{0x0, 4, Access::RW, 0x12, 0x0000FFFF, 0, "A", "plain"},
                       {0x4, 4, Access::W1C, 0xF0, 0, 0xFF, "S", "status"},
                       {0x8, 4, Access::RO, 0xDEAD, 0, 0, "ID", "id"}}};
}

TEST(RegFile, ResetValuesAndMasks) {
  RegFile f(&kBlock);
  EXPECT_EQ(f.get(0x0), 0x12u);
  EXPECT_EQ(f.get(0x4), 0xF0u);
  EXPECT_EQ(f.write(0x0, 0xABCD1234), 0x1234u);  // upper half not writable
  EXPECT_EQ(f.write(0x4, 0x30), 0xC0u);          // W1C clears bits 4,5
  EXPECT_EQ(f.write(0x8, 0), 0xDEADu);           // RO
  f.reset();
  EXPECT_EQ(f.get(0x0), 0x12u);
}

TEST(RegBlock, FindAndMarkdown) {
  EXPECT_EQ(kBlock.find(0x6)->name, std::string("S"));
  EXPECT_EQ(kBlock.find(0xC), nullptr);
  std::string md = to_markdown({&kBlock});
  EXPECT_NE(md.find("| 0x00104 | 32 | RW1C | 0x000000F0 | S | status |"), std::string::npos) << md;
}

TEST(VectorMemory, RefusesOutOfRange) {
  VectorMemory m(4096, 0x1000);
  uint32_t v = 0x55;
  EXPECT_TRUE(m.write(0x1000, &v, 4));
  EXPECT_FALSE(m.write(0xFFF, &v, 4));
  EXPECT_FALSE(m.write(0x1FFD, &v, 4));
  EXPECT_FALSE(m.read(UINT64_MAX - 1, &v, 4));
  EXPECT_TRUE(m.read(0x1FFC, &v, 4));
}
