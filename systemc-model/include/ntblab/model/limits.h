// SPDX-License-Identifier: GPL-2.0-only
// The PEX8749's limits and the lab's, as plain C++ (no SystemC): what the
// scenario loader checks a scenario against. fabric.h and cluster.h include
// this, so the model and the loader count with the same numbers; the loader
// alone (ntblab::scenario_loader, e.g. for `ntblab validate`) needs no SystemC.
#pragma once

#include <string>

#include "ntblab/model/config_error.h"

namespace ntblab::model {

/// PEX8749 limits (product brief; docs/sources.md "PEX8749 switch").
inline constexpr unsigned kPex8749Ports = 18;
inline constexpr unsigned kPex8749Lanes = 48;
inline constexpr unsigned kPex8749MaxNtPorts = 2;

/// Nodes a lab cluster may have: the scenario format's limit
/// (docs/scenario-format.md). The model itself joins up to kPex8749Ports.
inline constexpr unsigned kMaxLabNodes = 16;

/// The lane budget, counted port by port: `used` lanes plus a port `width`
/// lanes wide. Returns the new total; beyond `lanes` throws ConfigError(field,
/// "lane budget exceeded: ..."). SwitchConfig::validate and the scenario loader
/// both count with it.
inline unsigned add_lanes(unsigned used, unsigned width, const std::string& field,
                          unsigned lanes = kPex8749Lanes) {
  const unsigned total = used + width;
  if (total > lanes)
    throw ConfigError(field, "lane budget exceeded: " + std::to_string(total) + " lanes in use, the chip has " +
                                 std::to_string(lanes));
  return total;
}

}  // namespace ntblab::model
