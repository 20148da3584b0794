// SPDX-License-Identifier: GPL-2.0-only
// results.json's provenance (cli/lib/provenance.h): the lab's git revision,
// QEMU's version, the kernel image's build string, and how add_provenance
// fills results.json without touching its other keys.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "ntblab/scenario/scenario.h"
#include "provenance.h"
#include "runner.h"
#include "temp_dir.h"

using namespace ntblab::cli;
using json = nlohmann::json;

namespace {

class Provenance : public ntblab::test::TempDirTest {
 protected:
  std::string write(const std::string& name, const std::string& bytes) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  void sh(const std::string& cmd) { ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd; }
};

const char kBuild[] = "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-26)";

/// A bzImage's first bytes: the setup header's magic and kernel_version.
std::string bzimage(const std::string& version) {
  std::string img(0x4000, '\0');
  img.replace(0x202, 4, "HdrS");
  const unsigned off = 0x3000 - 0x200;  // kernel_version: offset from 0x200
  img[0x20e] = char(off & 0xff);
  img[0x20f] = char(off >> 8);
  img.replace(0x3000, version.size(), version);
  return img;
}

}  // namespace

TEST_F(Provenance, KernelBuildFromABzImage) {
  EXPECT_EQ(kernel_build_of(write("vmlinuz", bzimage("6.1.0-57-amd64 (debian-kernel@lists.debian.org) " +
                                                      std::string(kBuild)))),
            kBuild);
}

TEST_F(Provenance, KernelBuildFromAVmlinuxSkipsThePlaceholderBanner) {
  const std::string banner = "Linux version 6.1.0-57-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian "
                             "12.2.0-14+deb12u1) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) ";
  std::string elf = "\x7f" "ELF" + std::string(5000, 'x');
  elf += banner + "# SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-26)\n" + std::string(1, '\0');
  elf += std::string((1 << 20) - 300, 'y');  // the real banner across the 1 MiB read boundary
  elf += banner + kBuild + "\n" + std::string(1, '\0') + std::string(100, 'z');
  EXPECT_EQ(kernel_build_of(write("vmlinux", elf)), kBuild);
}

TEST_F(Provenance, NoKernelBuildWhereThereIsNone) {
  EXPECT_EQ(kernel_build_of(dir_ + "/missing"), "");
  EXPECT_EQ(kernel_build_of(write("text", "Linux version 6.1 #1 SMP but not an image\n")), "");
  EXPECT_EQ(kernel_build_of(write("elf", "\x7f" "ELF no banner")), "");
}

TEST_F(Provenance, KernelImageIsVmlinuxWhenThere) {
  EXPECT_EQ(kernel_image_in(dir_), dir_ + "/vmlinuz");
  write("vmlinux", "x");
  EXPECT_EQ(kernel_image_in(dir_), dir_ + "/vmlinux");
}

TEST_F(Provenance, LabRevisionOfAGitTreeAndOfAnythingElse) {
  EXPECT_EQ(lab_revision(dir_), "unknown");  // not a git tree
  EXPECT_EQ(lab_revision(dir_ + "/missing"), "unknown");
  const std::string git = "git -C " + dir_ + " -c user.name=t -c user.email=t@localhost ";
  sh(git + "init -q");
  write("f", "1");
  sh(git + "add f && " + git + "commit -q -m one");
  const std::string clean = lab_revision(dir_);
  EXPECT_TRUE(clean.size() >= 7 && clean.find_first_not_of("0123456789abcdef") == std::string::npos) << clean;
  write("f", "22");  // another size: git's stat check sees it within the same second too
  EXPECT_EQ(lab_revision(dir_), clean + "-dirty");
  sh(git + "commit -q -am two && " + git + "tag -a -m v1 v1");  // annotated: describe ignores light tags
  EXPECT_EQ(lab_revision(dir_), "v1");
}

TEST_F(Provenance, QemuVersionIsTheFirstLine) {
  const std::string fake = write("qemu", "#!/bin/sh\necho 'QEMU emulator version 7.2.22'\necho 'Copyright'\n");
  sh("chmod +x " + fake);
  EXPECT_EQ(qemu_version(fake), "QEMU emulator version 7.2.22");
  EXPECT_EQ(qemu_version(dir_ + "/no-such-qemu"), "");
  const std::string failing = write("bad-qemu", "#!/bin/sh\necho 'half'\nexit 3\n");
  sh("chmod +x " + failing);
  EXPECT_EQ(qemu_version(failing), "");  // exited non-zero: no version
}

TEST_F(Provenance, AddedBesideTheOtherKeys) {
  const ntblab::scenario::Scenario s =
      ntblab::scenario::parse_scenario("name: x\nnodes:\n  - name: a\n  - name: b\n", "x.yaml");
  const std::string fake = write("qemu", "#!/bin/sh\necho 'QEMU emulator version 7.2.22'\n");
  sh("chmod +x " + fake);
  write("vmlinuz", bzimage("6.1.0-57-amd64 (x@y) " + std::string(kBuild)));
  LabPaths paths;
  paths.qemu = fake;
  paths.image = dir_;
  paths.root = dir_;
  paths.krel = "6.1.0-57-amd64";
  RunOptions opts;
  opts.accel = "kvm";
  json results = {{"scenario", "x"}, {"ok", true}, {"nodes", {{{"name", "a"}, {"kernel_release", "6.1.0-58-amd64"}}}}};
  add_provenance(results, s, paths, opts);
  EXPECT_EQ(results["scenario"], "x");  // untouched
  EXPECT_EQ(results["ok"], true);
  EXPECT_EQ(results["schema_version"], 2);
  EXPECT_EQ(results["provenance"], json({{"lab_revision", "unknown"},
                                         {"qemu", fake},
                                         {"qemu_version", "QEMU emulator version 7.2.22"},
                                         {"kernel_image", dir_ + "/vmlinuz"},
                                         {"kernel_release", "6.1.0-58-amd64"},  // the guests', not the lab's
                                         {"kernel_build", kBuild}}));
  EXPECT_EQ(results["scenario_resolved"]["accel"], "kvm");  // what ran: --accel overrides
  EXPECT_EQ(results["scenario_resolved"]["nodes"][1]["ip"], "10.0.0.2/24");

  json before_boot = {{"nodes", json::array()}};  // no guest answered: the lab's release, no QEMU
  paths.qemu = dir_ + "/none";
  add_provenance(before_boot, s, paths, RunOptions{});
  EXPECT_EQ(before_boot["provenance"]["kernel_release"], "6.1.0-57-amd64");
  EXPECT_TRUE(before_boot["provenance"]["qemu_version"].is_null());
  EXPECT_EQ(before_boot["scenario_resolved"]["accel"], "tcg");
}
