// `ntblab run --quiet` silences progress, not errors (no VM starts).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>

#include "process.h"
#include "runner.h"
#include "scenario.h"

using namespace ntblab::cli;
namespace fs = std::filesystem;

namespace {

/// A fresh directory under the test's temporary directory.
class ScenarioFile : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ntblab-scenario-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  /// The message load_scenario refuses `path` with ("" if it loads).
  static std::string refusal(const std::string& path, int* line = nullptr, std::string* field = nullptr) {
    try {
      load_scenario(path);
    } catch (const ScenarioError& e) {
      if (line) *line = e.line();
      if (field) *field = e.field();
      return e.what();
    }
    return "";
  }
  std::string dir_;
};

}  // namespace

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
