// SPDX-License-Identifier: GPL-2.0-only
#include "ntblab/model/support/b2b_setup.h"

namespace ntblab::model::lab {

namespace {
constexpr uint32_t kCommand = 0x04;
constexpr uint16_t kMemoryAndMaster = 0x0006;
constexpr uint32_t kBar0Setup = 0xE4, kBar2Setup = 0xE8;
constexpr uint32_t kXlatBar2 = 0xC3C, kXlatBar4 = 0xC44;

void cfg_bar64(Cluster& c, unsigned node, unsigned bar, uint64_t addr) {
  c.cfg_write(node, Function::Nt, 0x10 + 4 * bar, 4, uint32_t(addr));
  c.cfg_write(node, Function::Nt, 0x14 + 4 * bar, 4, uint32_t(addr >> 32));
}
void reg_write64(Cluster& c, unsigned node, uint32_t off, uint64_t v) {
  reg_write(c, node, off, uint32_t(v));
  reg_write(c, node, off + 4, uint32_t(v >> 32));
}
}  // namespace

void reg_write(Cluster& cluster, unsigned node, uint32_t offset, uint32_t value) {
  cluster.mmio_write(node, Function::Nt, 0, offset, &value, 4);
}

uint32_t reg_read(Cluster& cluster, unsigned node, uint32_t offset) {
  return uint32_t(cluster.mmio_read(node, Function::Nt, 0, offset, 4).data);
}

void setup_b2b(Cluster& c, unsigned node, const B2bLayout& l) {
  const NtEndpointConfig& nt = c.config().nodes.at(node).nt;
  // BIOS: place the BARs, enable memory decoding and bus mastering.
  c.cfg_write(node, Function::Nt, 0x10, 4, uint32_t(l.bar0));
  cfg_bar64(c, node, 2, l.bar2);
  cfg_bar64(c, node, 4, l.bar4);
  c.cfg_write(node, Function::Nt, kCommand, 2, kMemoryAndMaster);

  // Driver, own chip's link side: BAR0 (64-bit) at the B2B address of BAR4 so
  // the peer reaches our registers through the start of its BAR4.
  reg_write(c, node, kNt0Link + kBar0Setup, 0x3);
  reg_write64(c, node, kNt0Link + 0x10, b2b_link_address(4) | 0x4);
  // Link BAR2: same size as the virtual BAR2, at its B2B address; what arrives
  // there is translated to our inbound buffer.
  const uint64_t size = nt.bar[2].size;
  reg_write64(c, node, kNt0Link + kBar2Setup, (~(size - 1) & ~0xFFFFFull) | 0xC);
  reg_write64(c, node, kNt0Link + 0x18, b2b_link_address(2));
  reg_write64(c, node, kNt0Link + kXlatBar2, l.inbound);
  reg_write(c, node, kNt0Link + kCommand, kMemoryAndMaster);
  // Virtual side: our BAR2 and BAR4 reach the peer's link BAR2 and BAR0.
  reg_write64(c, node, kNt0Virtual + kXlatBar2, b2b_link_address(2));
  reg_write64(c, node, kNt0Virtual + kXlatBar4, b2b_link_address(4));
}

}  // namespace ntblab::model::lab
