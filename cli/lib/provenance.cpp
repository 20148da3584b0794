// SPDX-License-Identifier: GPL-2.0-only
#include "provenance.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "ntblab/scenario/scenario_json.h"
#include "process.h"
#include "runner.h"

namespace ntblab::cli {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

/// The first line `argv` prints on stdout within 10 s, if it exits 0.
std::string first_line_of(const std::vector<std::string>& argv) {
  try {
    ChildProcess p = ChildProcess::spawn(argv, "", "", true);
    std::string line;
    const bool got = p.read_line(line, 10000);
    std::string rest;
    while (got && p.read_line(rest, 10000)) {
    }  // let it finish
    p.stop(1000);
    return got && p.status() == 0 ? line : "";
  } catch (const std::exception&) {
    return "";
  }
}

/// The UTS version in a banner or kernel_version string: from " #<digit>".
std::string uts_version_in(const std::string& text) {
  for (size_t at = text.find(" #"); at != std::string::npos; at = text.find(" #", at + 1))
    if (at + 2 < text.size() && text[at + 2] >= '0' && text[at + 2] <= '9') return text.substr(at + 1);
  return "";
}

}  // namespace

std::string lab_revision(const std::string& root) {
  std::string rev = first_line_of({"git", "-C", root, "describe", "--always", "--dirty"});
  return rev.empty() ? "unknown" : rev;
}

std::string qemu_version(const std::string& qemu) { return first_line_of({qemu, "--version"}); }

std::string kernel_image_in(const std::string& image_dir) {
  return image_dir + (fs::exists(image_dir + "/vmlinux") ? "/vmlinux" : "/vmlinuz");
}

std::string kernel_build_of(const std::string& image_file) {
  std::ifstream in(image_file, std::ios::binary);
  if (!in) return "";
  std::string head(0x10000, '\0');
  in.read(head.data(), std::streamsize(head.size()));
  head.resize(size_t(in.gcount()));
  // bzImage: "HdrS" at 0x202; the 16-bit kernel_version at 0x20e points to
  // a NUL-terminated string 0x200 bytes further on (Documentation/x86/boot.rst).
  if (head.size() > 0x210 && head.compare(0x202, 4, "HdrS") == 0) {
    const size_t off = size_t(uint8_t(head[0x20e]) | uint8_t(head[0x20f]) << 8) + 0x200;
    if (off < head.size()) return uts_version_in(head.substr(off, head.find('\0', off) - off));
    return "";
  }
  if (head.compare(0, 4, "\x7f" "ELF") != 0) return "";
  // vmlinux: every "Linux version " banner; the last with a build number.
  in.clear();
  in.seekg(0);
  const std::string key = "Linux version ";
  std::string found, carry;
  std::string buf(1 << 20, '\0');
  while (in.read(buf.data(), std::streamsize(buf.size())) || in.gcount() > 0) {
    std::string chunk = carry + buf.substr(0, size_t(in.gcount()));
    for (size_t at = chunk.find(key); at != std::string::npos; at = chunk.find(key, at + 1)) {
      const size_t end = chunk.find_first_of(std::string("\n\0", 2), at);
      if (end == std::string::npos) break;  // continues in the next chunk: carried over below
      const std::string build = uts_version_in(chunk.substr(at, end - at));
      if (!build.empty()) found = build;
    }
    // Keep the tail that may hold a banner cut by the chunk boundary.
    carry = chunk.size() > 512 ? chunk.substr(chunk.size() - 512) : chunk;
    if (size_t(in.gcount()) < buf.size()) break;
  }
  return found;
}

void add_provenance(json& results, const scenario::Scenario& s, const LabPaths& paths, const RunOptions& opts) {
  std::string release;
  if (results.contains("nodes") && results["nodes"].is_array())
    for (const json& n : results["nodes"])
      if (release.empty() && n.contains("kernel_release") && n["kernel_release"].is_string())
        release = n["kernel_release"].get<std::string>();
  if (release.empty()) release = paths.krel;
  const std::string image = kernel_image_in(paths.image);
  const std::string build = kernel_build_of(image);
  const std::string qemu = qemu_version(paths.qemu);
  results["schema_version"] = kResultsSchemaVersion;
  results["provenance"] = {
      {"lab_revision", lab_revision(paths.root)},
      {"qemu", paths.qemu},
      {"qemu_version", qemu.empty() ? json() : json(qemu)},
      {"kernel_image", image},
      {"kernel_release", release.empty() ? json() : json(release)},
      {"kernel_build", build.empty() ? json() : json(build)},
  };
  scenario::Scenario ran = s;
  if (!opts.accel.empty()) ran.accel = opts.accel;
  results["scenario_resolved"] = scenario::resolved_json(ran);
}

}  // namespace ntblab::cli
