// SPDX-License-Identifier: GPL-2.0-only
// The register sequence public PLX NTB drivers run in back-to-back mode
// (docs/sources.md, "Back-to-back mode"), issued as host config and BAR0
// accesses on a Cluster. For the model's own tests, the benchmark and the demo,
// which need a programmed window without a guest; the lab's real driver lives
// in driver/ and shares no code with this.
#pragma once

#include <cstdint>

#include "ntblab/model/cluster.h"

namespace ntblab::model::lab {

/// Where the host puts things. Addresses must be aligned to the BAR sizes.
struct B2bLayout {
  uint64_t bar0 = 0xF0000000;   ///< host address of the register BAR (256 KB)
  uint64_t bar2 = 0xE0000000;   ///< host address of the data window BAR2 (64-bit)
  uint64_t bar4 = 0xD0000000;   ///< host address of BAR4, whose start reaches the peer's registers
  uint64_t inbound = 0x2000000; ///< host RAM the peer's writes land in (aligned to BAR2's size)
};

/// Fixed link-domain addresses of public PLX drivers: 0x2000000000000000 × BAR.
inline constexpr uint64_t b2b_link_address(unsigned bar) { return 0x2000000000000000ull * bar; }

/// NT0's register pages in the chip's 256 KB map (docs/sources.md).
inline constexpr uint32_t kNt0Virtual = 0x3E000;
inline constexpr uint32_t kNt0Link = 0x3F000;

/// Enumerate the NT function like a BIOS (BARs, memory + bus master), then
/// program its chip's link side and translations like a B2B driver.
void setup_b2b(Cluster& cluster, unsigned node, const B2bLayout& layout = {});

/// 32-bit register access through the node's BAR0, as the driver does.
void reg_write(Cluster& cluster, unsigned node, uint32_t offset, uint32_t value);
uint32_t reg_read(Cluster& cluster, unsigned node, uint32_t offset);

}  // namespace ntblab::model::lab
