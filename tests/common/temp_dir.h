// SPDX-License-Identifier: GPL-2.0-only
// A test fixture with a fresh directory under /tmp, removed with all it holds
// when the test ends (tests/cli and tests/scenario write scenario files there).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace ntblab::test {

/// A fresh directory under /tmp: `dir_`.
class TempDirTest : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ntblab-scenario-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string dir_;
};

}  // namespace ntblab::test
