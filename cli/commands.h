// SPDX-License-Identifier: GPL-2.0-only
#pragma once

#include <string>

namespace ntblab::cli {
/// The lab's main job. `model_only`: the model's part alone (no VMs).
int demo(const std::string& out_dir, bool model_only);
/// The model's register tables as Markdown (docs are generated from these).
int regs();
}  // namespace ntblab::cli
