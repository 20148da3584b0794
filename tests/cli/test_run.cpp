// SPDX-License-Identifier: GPL-2.0-only
// `ntblab run` and scenarios: loading stops on Ctrl-C (the runner's
// InterruptGuard); `run --quiet` still prints errors. (The loader itself:
// tests/scenario/.)
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <string>

#include "ntblab/scenario/scenario.h"
#include "process.h"
#include "runner.h"
#include "temp_dir.h"

using namespace ntblab::cli;
using ntblab::scenario::parse_scenario;

namespace {

/// A fresh directory under /tmp.
class ScenarioFile : public ntblab::test::TempDirTest {};

}  // namespace

TEST(ScenarioInterrupt, CtrlCStopsLoading) {
  {
    InterruptGuard guard;  // as `ntblab run` has while it loads
    raise(SIGINT);
    ASSERT_TRUE(InterruptGuard::interrupted());
    EXPECT_THROW(parse_scenario("name: x\nnodes:\n  - name: a\n  - name: b\n", "x.yaml", InterruptGuard::interrupted),
                 ntblab::scenario::LoadInterrupted);
  }
  { InterruptGuard reset; }  // clears the flag for the tests that follow
  EXPECT_NO_THROW(parse_scenario("name: x\nnodes:\n  - name: a\n  - name: b\n", "x.yaml", InterruptGuard::interrupted));
}

// `run --quiet` silences progress, not errors. No VM starts: the QEMU named
// does not exist, which the run finds before starting anything.
TEST_F(ScenarioFile, QuietRunStillPrintsErrors) {
  setenv("NTBLAB_QEMU", (dir_ + "/no-such-qemu").c_str(), 1);
  RunOptions opts;
  opts.out_dir = dir_ + "/results";
  opts.quiet = true;
  testing::internal::CaptureStderr();
  const int rc = run_scenario(std::string(NTBLAB_SCENARIO_DIR) + "/two-node.yaml", opts);
  const std::string err = testing::internal::GetCapturedStderr();
  unsetenv("NTBLAB_QEMU");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(err.find("error: missing " + dir_ + "/no-such-qemu"), std::string::npos) << err;
  EXPECT_EQ(err.find("tearing down"), std::string::npos) << "progress printed despite --quiet:\n" << err;
}
