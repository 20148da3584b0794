// SPDX-License-Identifier: GPL-2.0-only
#include "ntblab/scenario/units.h"

#include <cmath>
#include <cstdlib>

namespace ntblab::scenario {

namespace {

bool split_number(const std::string& text, double& value, std::string& unit) {
  if (text.empty()) return false;
  const char* begin = text.c_str();
  char* end = nullptr;
  value = std::strtod(begin, &end);
  if (end == begin || !std::isfinite(value) || value < 0) return false;
  unit = std::string(end);
  while (!unit.empty() && unit.front() == ' ') unit.erase(unit.begin());
  return true;
}

}  // namespace

std::optional<uint64_t> parse_size(const std::string& text) {
  double v;
  std::string unit;
  if (!split_number(text, v, unit)) return std::nullopt;
  double mult;
  if (unit.empty() || unit == "B") mult = 1;
  else if (unit == "KiB" || unit == "K" || unit == "k") mult = 1024.0;
  else if (unit == "MiB" || unit == "M") mult = 1024.0 * 1024;
  else if (unit == "GiB" || unit == "G") mult = 1024.0 * 1024 * 1024;
  else if (unit == "TiB" || unit == "T") mult = 1024.0 * 1024 * 1024 * 1024;
  else return std::nullopt;
  double bytes = v * mult;
  if (bytes >= 18e18 || bytes != std::floor(bytes)) return std::nullopt;
  return static_cast<uint64_t>(bytes);
}

std::optional<uint64_t> parse_duration_ps(const std::string& text) {
  double v;
  std::string unit;
  if (!split_number(text, v, unit)) return std::nullopt;
  double mult;
  if (unit == "ps") mult = 1;
  else if (unit == "ns") mult = 1e3;
  else if (unit == "us" || unit == "µs") mult = 1e6;
  else if (unit == "ms") mult = 1e9;
  else if (unit == "s") mult = 1e12;
  else if (unit == "m" || unit == "min") mult = 60e12;
  else if (unit == "h") mult = 3600e12;
  else return std::nullopt;
  double ps = v * mult;
  if (ps >= 18e18) return std::nullopt;
  return static_cast<uint64_t>(std::llround(ps));
}

std::string format_size(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (u < 4 && bytes >= 1024 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++u;
  }
  return std::to_string(bytes) + units[u];
}

}  // namespace ntblab::scenario
