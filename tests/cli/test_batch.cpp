// SPDX-License-Identifier: GPL-2.0-only
// Batch mode's host side (cli/lib/batch.h): the initramfs overlay, the
// modules it carries, the nodes' request files and the reading of their logs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "batch.h"

using namespace ntblab::cli;
namespace fs = std::filesystem;

namespace {

/// What GNU cpio lists in an archive (one name a line).
std::string cpio_list(const std::string& archive) {
  char tmpl[] = "/tmp/ntblab-batch-test-XXXXXX";
  const int fd = mkstemp(tmpl);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, archive.data(), archive.size()), ssize_t(archive.size()));
  close(fd);
  std::string out;
  if (FILE* p = popen(("cpio -it --quiet < " + std::string(tmpl)).c_str(), "r")) {
    char buf[256];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    pclose(p);
  }
  fs::remove(tmpl);
  return out;
}

std::string x_payload(int32_t status, uint32_t flags, uint64_t start, uint64_t end) {
  std::string p(24, '\0');
  std::memcpy(&p[0], &status, 4);
  std::memcpy(&p[4], &flags, 4);
  std::memcpy(&p[8], &start, 8);
  std::memcpy(&p[16], &end, 8);
  return p;
}

}  // namespace

TEST(BatchCpio, NewcArchiveWithParentsOnceAndTheSameBytesEveryTime) {
  auto build = [] {
    batch::Cpio c;
    c.add_file("/work/lab/tool", "#!/bin/sh\necho hi\n", 0755);
    c.add_file("/work/lab/data.txt", "abc");
    c.add_dir("/batch");
    EXPECT_TRUE(c.has("/work/lab"));
    return c.finish();
  };
  const std::string a = build();
  EXPECT_EQ(a, build());
  EXPECT_EQ(a.substr(0, 6), "070701");
  EXPECT_EQ(a.size() % 4, 0u);
  EXPECT_EQ(cpio_list(a), "work\nwork/lab\nwork/lab/tool\nwork/lab/data.txt\nbatch\n");
  batch::Cpio c;
  EXPECT_THROW(c.add_file("relative", "x"), std::invalid_argument);
}

TEST(BatchModules, LabModulesAndTheNamedOnesWithTheirDependencies) {
  char tmpl[] = "/tmp/ntblab-batch-test-XXXXXX";
  const fs::path dir = mkdtemp(tmpl);
  std::ofstream(dir / "modules.dep") << "updates/ntblab/af_ntb.ko: updates/ntblab/ntb.ko\n"
                                        "updates/ntblab/ntb.ko:\n"
                                        "kernel/drivers/x/foo-bar.ko: kernel/lib/dep.ko\n"
                                        "kernel/lib/dep.ko:\n"
                                        "kernel/lib/unused.ko:\n";
  EXPECT_EQ(batch::module_closure(dir, {}),
            (std::vector<std::string>{"updates/ntblab/ntb.ko", "updates/ntblab/af_ntb.ko"}));
  EXPECT_EQ(batch::module_closure(dir, {"foo_bar"}),
            (std::vector<std::string>{"updates/ntblab/ntb.ko", "updates/ntblab/af_ntb.ko", "kernel/lib/dep.ko",
                                      "kernel/drivers/x/foo-bar.ko"}));
  try {
    batch::module_closure(dir, {"nosuch"});
    ADD_FAILURE() << "an unknown module was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no module nosuch"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
  EXPECT_THROW(batch::module_closure(dir, {}), std::runtime_error);
}

TEST(BatchRequests, PingThenTheNodesStepsThenPowerOff) {
  const auto s = ntblab::scenario::parse_scenario(
      "name: x\nbatch: {}\nnodes:\n  - name: a\n  - name: b\nsteps:\n"
      "  - {on: a, run: one, timeout: 2s}\n  - {on: b, run: two}\n  - {on: all, run: three, expect: 3}\n"
      "  - {on: a, run: four, expect: any}\n",
      "x.yaml");
  std::string buf = batch::node_requests(s, 0, "ENV; ");
  std::vector<wire::Frame> frames;
  for (wire::Frame f; wire::take_frame(buf, f);) frames.push_back(f);
  EXPECT_TRUE(buf.empty());
  ASSERT_EQ(frames.size(), 5u);
  EXPECT_EQ(frames[0].type, 'P');
  EXPECT_EQ(frames[0].id, batch::kPingId);
  const std::vector<uint32_t> ids = {batch::step_id(0), batch::step_id(2), batch::step_id(3)};
  const std::vector<uint32_t> flags = {wire::kRunInInitramfs | wire::kRunCheck,
                                       wire::kRunInInitramfs | wire::kRunCheck | (3u << 8),
                                       wire::kRunInInitramfs | wire::kRunCheck | wire::kRunAnyStatus};
  for (size_t i = 0; i < 3; ++i) {
    const wire::Frame& f = frames[i + 1];
    EXPECT_EQ(f.type, 'R');
    EXPECT_EQ(f.id, ids[i]);
    uint32_t timeout_ms, fl;
    std::memcpy(&timeout_ms, f.payload.data(), 4);
    std::memcpy(&fl, f.payload.data() + 4, 4);
    EXPECT_EQ(fl, flags[i]) << i;
    EXPECT_EQ(timeout_ms, i == 0 ? 2000u : 60000u) << i;  // 60 s: the default
  }
  EXPECT_NE(frames[1].payload.find(std::string("ENV; one\0", 9)), std::string::npos);
  EXPECT_EQ(frames[4].type, 'S');
}

TEST(BatchLog, StepsAsTheAgentAnsweredThem) {
  std::string log = "noise before the first header";
  log += wire::frame('P', batch::kPingId, "ntblab-agent 1 6.1.0-57-amd64 a");
  log += wire::frame('O', 1, "out ");
  log += wire::frame('E', 1, "err");
  log += wire::frame('O', 1, "more");
  log += wire::frame('X', 1, x_payload(0, 0, 1000, 5000));
  log += wire::frame('X', 2, x_payload(124, 1, 6000, 9000));
  batch::NodeLog l = batch::parse_log(log);
  EXPECT_EQ(l.info, "ntblab-agent 1 6.1.0-57-amd64 a");
  ASSERT_EQ(l.finished.size(), 2u);
  EXPECT_EQ(l.finished[1].out, "out more");
  EXPECT_EQ(l.finished[1].err, "err");
  EXPECT_EQ(l.finished[1].status, 0);
  EXPECT_EQ(l.finished[1].guest_start_ns, 1000u);
  EXPECT_EQ(l.finished[1].guest_end_ns, 5000u);
  EXPECT_TRUE(l.finished[2].timed_out);
  EXPECT_EQ(l.finished[2].status, 124);
  EXPECT_EQ(l.running, 0u);
  EXPECT_FALSE(l.done);
  // A step with output and no end, then nothing: the guest stopped in it.
  l = batch::parse_log(log + wire::frame('O', 3, "half"));
  EXPECT_EQ(l.running, 3u);
  EXPECT_FALSE(l.done);
  l = batch::parse_log(log + wire::frame('S', 0));
  EXPECT_TRUE(l.done);
  // A frame cut short (the file read while QEMU writes it) waits for the rest.
  const std::string whole = wire::frame('X', 3, x_payload(0, 0, 1, 2));
  l = batch::parse_log(log + whole.substr(0, whole.size() - 3));
  EXPECT_EQ(l.finished.count(3), 0u);
}
