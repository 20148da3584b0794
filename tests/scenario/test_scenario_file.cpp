// SPDX-License-Identifier: GPL-2.0-only
// Scenario files on disk: what is not a readable regular file of at most
// 1 MiB is refused before any YAML is read, with the reason (errno text,
// file kind, size). (Ctrl-C while loading and `run --quiet`: tests/cli/test_run.cpp.)
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>

#include "ntblab/scenario/scenario.h"
#include "temp_dir.h"

using namespace ntblab::scenario;

namespace {

/// A fresh directory under /tmp, and what the loader says of files there.
class ScenarioFile : public ntblab::test::TempDirTest {
 protected:
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
};

}  // namespace

TEST_F(ScenarioFile, MissingFileGivesTheErrnoText) {
  int line = -1;
  std::string field;
  EXPECT_EQ(refusal(dir_ + "/x.yaml", &line, &field),
            dir_ + "/x.yaml:0: (file): cannot be read: No such file or directory");
  EXPECT_EQ(line, 0);
  EXPECT_EQ(field, "(file)");
}

TEST_F(ScenarioFile, UnreadableFileGivesTheErrnoText) {
  // Root reads any file whatever its mode bits, so as root use a sysctl that
  // is write-only for everyone (0200: open for reading fails with EACCES).
  std::string path = "/proc/sys/vm/drop_caches";
  if (geteuid() != 0) {
    path = dir_ + "/secret.yaml";
    std::ofstream(path) << "name: x\n";
    chmod(path.c_str(), 0);
  }
  EXPECT_NE(refusal(path).find("cannot be read: Permission denied"), std::string::npos) << refusal(path);
}

TEST_F(ScenarioFile, DirectoryIsRefused) {
  EXPECT_EQ(refusal(dir_), dir_ + ":0: (file): is a directory, not a scenario file");
}

TEST_F(ScenarioFile, FifoIsRefusedWithoutBlocking) {
  const std::string path = dir_ + "/fifo.yaml";
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
  auto message = std::async(std::launch::async, [&] { return refusal(path); });
  if (message.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    // Unblock a loader stuck in open(): a writer that closes at once.
    close(open(path.c_str(), O_WRONLY));
    FAIL() << "loading a FIFO blocked";
  }
  EXPECT_EQ(message.get(), path + ":0: (file): is a FIFO, not a regular file");
}

TEST_F(ScenarioFile, DeviceIsRefused) {
  EXPECT_EQ(refusal("/dev/zero"), "/dev/zero:0: (file): is a character device, not a regular file");
}

TEST_F(ScenarioFile, LargeFileIsRefusedByItsSize) {
  const std::string path = dir_ + "/big.yaml";
  {
    std::ofstream out(path);
    out << "name: big\n";
    const std::string line = "# " + std::string(1021, 'x') + "\n";
    for (int i = 0; i < 10 * 1024; ++i) out << line;  // 10 MiB of comments
  }
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(refusal(path), path + ":0: (file): is 10485770 bytes; a scenario file may be at most 1MiB (1048576 bytes)");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 1.0);
}

TEST_F(ScenarioFile, ExactlyOneMiBStillLoads) {
  const std::string path = dir_ + "/full.yaml";
  std::string y = "name: x\nnodes:\n  - name: a\n  - name: b\n";
  y += "#" + std::string(kMaxScenarioBytes - y.size() - 2, ' ') + "\n";
  ASSERT_EQ(y.size(), kMaxScenarioBytes);
  std::ofstream(path) << y;
  EXPECT_EQ(refusal(path), "");
}
