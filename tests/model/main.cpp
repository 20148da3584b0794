// SPDX-License-Identifier: GPL-2.0-only
// SystemC owns main() and calls sc_main; the tests run from there.
#include <gtest/gtest.h>
#include <systemc>

int sc_main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
