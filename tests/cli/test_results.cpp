// What a run writes: results.json and its own logs are replaced atomically
// and are valid JSON whatever bytes a guest printed; a dead child process is
// described by how it ended (docs/scenario-format.md, "Results").
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "process.h"
#include "results_file.h"
#include "runner.h"

using namespace ntblab::cli;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/ntblab-cli-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

size_t entries(const fs::path& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace

TEST(AtomicWrite, CreatesAndReplacesWithoutLeavingTemporaries) {
  TempDir d;
  const fs::path f = d.path / "results.json";
  write_file_atomic(f, "first\n");
  EXPECT_EQ(slurp(f), "first\n");
  EXPECT_EQ(fs::status(f).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
  std::string big(3u << 20, 'x');
  write_file_atomic(f, big);
  EXPECT_EQ(slurp(f), big);
  EXPECT_EQ(entries(d.path), 1u);  // no temporary file left
}

TEST(AtomicWrite, AFailedWriteThrowsAndKeepsTheOldFile) {
  TempDir d;
  // The target is a non-empty directory: the rename fails after the data was written.
  fs::create_directories(d.path / "results.json" / "x");
  EXPECT_THROW(write_file_atomic(d.path / "results.json", "new\n"), std::runtime_error);
  EXPECT_TRUE(fs::is_directory(d.path / "results.json"));
  EXPECT_EQ(entries(d.path), 1u);
  // No such directory: nothing is created.
  EXPECT_THROW(write_file_atomic(d.path / "missing" / "results.json", "x"), std::runtime_error);
  EXPECT_FALSE(fs::exists(d.path / "missing"));
  // A readable old file stays whole when the replacement cannot be written.
  write_file_atomic(d.path / "old.json", "{\"old\": 1}\n");
  try {
    write_file_atomic(d.path / "no-dir" / "old.json", "");
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no-dir/old.json"), std::string::npos) << e.what();
  }
  EXPECT_EQ(slurp(d.path / "old.json"), "{\"old\": 1}\n");
}

TEST(ResultsJson, InvalidUtf8AnywhereStillGivesValidJson) {
  const std::string bad = "out \xff\xfe tail \xc3";  // invalid + truncated sequence
  json r = {{"scenario", "name-\x80"}, {"file", "/tmp/\xe2\x82"}, {"ok", false}};
  r["steps"] = json::array({{{"stdout", bad}, {"stderr", "fine \xc3\xa9"}}});
  EXPECT_THROW(r.dump(), json::type_error);  // what results.json ran into before
  const std::string text = json_text(r);
  json back;
  ASSERT_NO_THROW(back = json::parse(text));
  const std::string out = back["steps"][0]["stdout"];
  EXPECT_EQ(out.rfind("out ", 0), 0u);
  EXPECT_NE(out.find("\xef\xbf\xbd"), std::string::npos);  // U+FFFD
  EXPECT_NE(out.find(" tail "), std::string::npos);
  EXPECT_EQ(back["steps"][0]["stderr"], "fine \xc3\xa9");  // valid UTF-8 untouched
  EXPECT_EQ(back["scenario"].get<std::string>().rfind("name-", 0), 0u);
  EXPECT_NO_THROW(json::parse(json_text(back)));
}

TEST(ResultsJson, KernelReleaseFromTheAgentInfo) {
  EXPECT_EQ(kernel_release_of("ntblab-agent 1 6.1.0-28-amd64 node0"), "6.1.0-28-amd64");
  EXPECT_EQ(kernel_release_of("ready"), "");
  EXPECT_EQ(kernel_release_of(""), "");
}

TEST(ChildProcess, SaysHowItEnded) {
  ChildProcess p = ChildProcess::spawn({"sh", "-c", "exit 3"}, "", "");
  for (int i = 0; i < 500 && p.running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(p.how(), "exit status 3");
  ChildProcess q = ChildProcess::spawn({"sleep", "30"}, "", "");
  EXPECT_EQ(q.how(), "running");
  kill(q.pid(), SIGKILL);
  for (int i = 0; i < 500 && q.running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(q.how(), "killed by signal 9 (SIGKILL)");
  EXPECT_EQ(q.status(), 128 + 9);
}
