// SPDX-License-Identifier: GPL-2.0-only
#pragma once

#include <string>
#include <vector>

namespace ntblab::cli {
/// The lab's main job. `model_only`: the model's part alone (no VMs).
int demo(const std::string& out_dir, bool model_only);
/// The model's register tables as Markdown (docs are generated from these).
int regs();
/// JUnit XML of earlier runs' results.json files, to `out` ("" or "-": stdout).
int junit(const std::vector<std::string>& results_files, const std::string& out);
}  // namespace ntblab::cli
