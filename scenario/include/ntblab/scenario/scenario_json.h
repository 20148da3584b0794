// SPDX-License-Identifier: GPL-2.0-only
// A loaded scenario as JSON, every default filled in ("resolved"): what
// results.json records as `scenario_resolved`. It uses the scenario format's own field names and units
// (docs/scenario-format.md), so it is itself a valid scenario: it validates
// against docs/scenario.schema.json and loads to the same Scenario.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "ntblab/scenario/scenario.h"

namespace ntblab::scenario {

/// `s` with its defaults: every field the format has for what `s` uses (the
/// timing fields of its mode; `port` and `switch.ports` on a fabric only).
nlohmann::json resolved_json(const Scenario& s);

/// A duration in the largest of s, ms, us, ns, ps that holds it exactly
/// ("120s", "126ns", "1500us"): parse_duration_ps reads it back unchanged.
std::string format_duration(uint64_t ps);

}  // namespace ntblab::scenario
