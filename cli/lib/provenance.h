// SPDX-License-Identifier: GPL-2.0-only
// What a run's results can be traced back to (results.json: schema_version,
// provenance, scenario_resolved; docs/scenario-format.md, "Results"): the
// lab's revision, QEMU's version, the guest kernel's release and build, and
// the scenario with every default filled in.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "ntblab/scenario/scenario.h"

namespace ntblab::cli {

struct LabPaths;
struct RunOptions;

/// results.json's layout version. 1: the keys before provenance (no
/// schema_version key); 2: adds schema_version, provenance, scenario_resolved.
constexpr int kResultsSchemaVersion = 2;

/// `git describe --always --dirty` of the lab's tree `root`; "unknown" when
/// it is not a git work tree (or git is missing or fails).
std::string lab_revision(const std::string& root);

/// The first line of `qemu --version`; empty when it cannot be run.
std::string qemu_version(const std::string& qemu);

/// The kernel image a run boots from a guest image directory: vmlinux when
/// there is one, else vmlinuz (as LabRun::qemu_args chooses).
std::string kernel_image_in(const std::string& image_dir);

/// The build string of a kernel image: what `uname -v` prints in a guest that
/// booted it ("#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-26)"). From a
/// bzImage's setup header (kernel_version), or from an ELF vmlinux's
/// "Linux version" banner (the last one with a build number: the link leaves
/// a placeholder "# SMP ..." banner too). Empty when neither is found.
std::string kernel_build_of(const std::string& image_file);

/// results["schema_version"], ["provenance"] and ["scenario_resolved"] for a
/// run of `s` with `paths` and `opts` (--accel overrides the scenario's). The
/// kernel release is the guests' own (results' nodes[].kernel_release) when
/// they booted, else the lab's (paths.krel).
void add_provenance(nlohmann::json& results, const scenario::Scenario& s, const LabPaths& paths,
                    const RunOptions& opts);

}  // namespace ntblab::cli
