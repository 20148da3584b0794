// SPDX-License-Identifier: GPL-2.0-only
// The model's configuration errors, as the scenario loader words them.
#pragma once

#include <string>

#include "ntblab/model/config_error.h"

namespace ntblab::scenario {

/// What a ConfigError says, without its "field: " prefix (the loader names the
/// field itself, with the file and line).
inline std::string model_message(const model::ConfigError& e) {
  std::string what = e.what();
  const std::string prefix = e.field() + ": ";
  if (what.compare(0, prefix.size(), prefix) == 0) what.erase(0, prefix.size());
  return what;
}

}  // namespace ntblab::scenario
