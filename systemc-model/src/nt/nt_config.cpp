// SPDX-License-Identifier: GPL-2.0-only
// Validation of NtEndpointConfig: every impossible value is a ConfigError that
// names the field, so a scenario author sees exactly what to fix.
#include <string>

#include "ntblab/model/config_error.h"
#include "ntblab/model/nt_endpoint.h"

namespace ntblab::model {
namespace {

constexpr uint64_t kMinBarSize = 1u << 20;       // 1 MiB: BAR setup ignores bits 19:0 (docs/sources.md)
constexpr uint64_t kMax32BitBarSize = 1u << 31;  // a 32-bit BAR below 4 GiB: 2 GiB at most
constexpr unsigned kMaxPort = 23;                // PEX8749: 3 stations of 8 port numbers
constexpr unsigned kMaxGen = 4;                  // Gen1..Gen4 rates are known (docs/sources.md)

bool is_pow2(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

std::string bar_field(unsigned b, const char* what) {
  return "bar[" + std::to_string(b) + "]." + what;
}

void validate_bar(const NtEndpointConfig& cfg, unsigned b) {
  const NtBarConfig& bar = cfg.bar[b];
  if (b < 2) {
    if (bar.size != 0 || bar.is64)
      throw ConfigError(bar_field(b, "size"),
                        "BAR0/1 hold the 256 KB register map; use bar0_64bit instead");
    return;
  }
  if (bar.size == 0) {
    if (bar.is64) throw ConfigError(bar_field(b, "is64"), "a 64-bit BAR needs a size");
    return;
  }
  if (!is_pow2(bar.size))
    throw ConfigError(bar_field(b, "size"), std::to_string(bar.size) + " is not a power of two");
  if (bar.size < kMinBarSize)
    throw ConfigError(bar_field(b, "size"),
                      std::to_string(bar.size) + " is below the 1 MiB minimum");
  if (bar.is64 && b % 2 == 1)
    throw ConfigError(bar_field(b, "is64"), "a 64-bit BAR must start at BAR2 or BAR4");
  if (!bar.is64 && bar.size > kMax32BitBarSize)
    throw ConfigError(bar_field(b, "size"),
                      std::to_string(bar.size) + " does not fit a 32-bit BAR (max 2 GiB)");
  if (bar.is64 && b + 1 < cfg.bar.size() && cfg.bar[b + 1].size != 0)
    throw ConfigError(bar_field(b + 1, "size"),
                      "BAR" + std::to_string(b + 1) + " is the high dword of 64-bit BAR" +
                          std::to_string(b) + " and cannot be a window of its own");
}

}  // namespace

void validate(const NtEndpointConfig& cfg) {
  if (cfg.ntx > 1) throw ConfigError("ntx", std::to_string(cfg.ntx) + " is not 0 or 1");
  if (cfg.port > kMaxPort)
    throw ConfigError("port", std::to_string(cfg.port) + " is not a PEX8749 port (0..23)");
  for (unsigned b = 0; b < cfg.bar.size(); ++b) validate_bar(cfg, b);
  if (cfg.link_gen < 1 || cfg.link_gen > kMaxGen)
    throw ConfigError("link_gen", std::to_string(cfg.link_gen) + " is not one of 1, 2, 3, 4");
  switch (cfg.link_width) {
    case 1: case 2: case 4: case 8: case 16: break;
    default:
      throw ConfigError("link_width",
                        std::to_string(cfg.link_width) + " is not one of 1, 2, 4, 8, 16");
  }
  if (cfg.alut != AlutMode::None && cfg.alut != AlutMode::Shared128 &&
      cfg.alut != AlutMode::Owned256)
    throw ConfigError("alut", "unknown A-LUT mode");
  if (cfg.alut != AlutMode::None && cfg.bar[2].size == 0)
    throw ConfigError("alut", "the A-LUT splits BAR2, which is not implemented");
}

}  // namespace ntblab::model
