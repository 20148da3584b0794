// SPDX-License-Identifier: GPL-2.0-only
// Quantities written with their units in scenario files: sizes ("256MiB") and
// durations ("126ns", "30s"). Plain numbers are refused where a unit is
// needed, so "256" never silently means bytes or seconds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace ntblab::scenario {

/// "4096", "64KiB", "256MiB", "1GiB", "2G" (binary multiples) → bytes.
std::optional<uint64_t> parse_size(const std::string& text);

/// "126ns", "1.5us", "20ms", "30s", "2m", "1h" → picoseconds (bare numbers refused).
std::optional<uint64_t> parse_duration_ps(const std::string& text);

std::string format_size(uint64_t bytes);

}  // namespace ntblab::scenario
