// SPDX-License-Identifier: GPL-2.0-only
// DMA function: config space and BAR0 registers, table-driven (reset values,
// access types, widths), and BAR0 access through the TLM socket.
#include <gtest/gtest.h>

#include <tlm_utils/simple_initiator_socket.h>

#include "ntblab/model/dma.h"
#include "ntblab/model/memory.h"

using namespace ntblab::model;
using namespace ntblab::model::dma;

namespace {

uint32_t width_mask(unsigned width) { return width == 4 ? 0xFFFFFFFFu : (1u << (8 * width)) - 1; }

/// Host RAM and the engine, mem_out bound; elaborated.
struct Bench {
  VectorMemory ram{64 * 1024};
  MemoryTarget mem{"mem", ram};
  DmaEngine dma{"dma"};
  Bench() {
    dma.mem_out.bind(mem.socket);
    sc_core::sc_start(sc_core::SC_ZERO_TIME);
  }
};

/// Stands in for the fabric: drives BAR0 of function 0 through the socket.
struct Bar0Initiator : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Bar0Initiator> out{"out"};
  explicit Bar0Initiator(sc_core::sc_module_name n) : sc_module(n) {}
  tlm::tlm_response_status access(tlm::tlm_command cmd, uint64_t off, void* data, unsigned len) {
    tlm::tlm_generic_payload gp;
    gp.set_command(cmd);
    gp.set_address(off);
    gp.set_data_ptr(static_cast<unsigned char*>(data));
    gp.set_data_length(len);
    gp.set_streaming_width(len);
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    out->b_transport(gp, delay);
    return gp.get_response_status();
  }
};

}  // namespace

TEST(DmaRegisters, TablesAreConsistent) {
  for (const RegBlock* b : dma_register_blocks()) {
    for (const RegDesc& r : b->regs) {
      SCOPED_TRACE(r.name);
      EXPECT_TRUE(r.width == 1 || r.width == 2 || r.width == 4);
      EXPECT_EQ(r.offset % r.width, 0u) << "naturally aligned";
      EXPECT_EQ((r.rw_mask | r.w1c_mask | r.reset) & ~width_mask(r.width), 0u);
      EXPECT_EQ(r.rw_mask & r.w1c_mask, 0u);
      if (r.access == Access::RO) {
        EXPECT_EQ(r.rw_mask | r.w1c_mask, 0u);
      }
      if (r.access == Access::W1C) {
        EXPECT_NE(r.w1c_mask, 0u);
      }
      if (r.access == Access::RW) {
        EXPECT_NE(r.rw_mask, 0u);
      }
    }
  }
  const std::string md = to_markdown(dma_register_blocks());
  EXPECT_NE(md.find("| 0x00238 | 16 | RW | 0x1700 | CTRL |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 0x00010 | 32 | RW | 0x00000000 | BAR0 |"), std::string::npos) << md;
}

TEST(DmaRegisters, Bar0ResetValuesAndAccessTypes) {
  Bench b;
  for (unsigned fn = 0; fn < kChannels; ++fn) {
    for (const RegDesc& r : kChannelRegs.regs) {
      SCOPED_TRACE(std::string(r.name) + " fn " + std::to_string(fn));
      const uint32_t off = kChannelRegs.base + r.offset;
      EXPECT_EQ(b.dma.mmio_read(fn, off, r.width), r.reset);
      if (off == kCtrl) continue;  // side effects: own test below
      const uint32_t ones = width_mask(r.width);
      b.dma.mmio_write(fn, off, r.width, ones);
      const uint32_t after_ones = ((r.reset & ~r.rw_mask) | r.rw_mask) & ~r.w1c_mask;
      EXPECT_EQ(b.dma.mmio_read(fn, off, r.width), after_ones);
      b.dma.mmio_write(fn, off, r.width, 0);
      EXPECT_EQ(b.dma.mmio_read(fn, off, r.width), after_ones & ~r.rw_mask);
    }
  }
  // Nothing else in the 8 KB BAR: reads 0, writes ignored.
  b.dma.mmio_write(0, 0x100, 4, 0xFFFFFFFF);
  EXPECT_EQ(b.dma.mmio_read(0, 0x100, 4), 0u);
  EXPECT_EQ(b.dma.mmio_read(0, kBar0Size - 4, 4), 0u);
  EXPECT_EQ(b.dma.mmio_read(0, kBar0Size, 4), 0u);  // beyond the BAR
  // Offsets that wrap around 2^64 are outside too.
  b.dma.mmio_write(0, UINT64_MAX - 1, 4, 0xFFFFFFFF);
  EXPECT_EQ(b.dma.mmio_read(0, UINT64_MAX - 1, 4), 0u);
  EXPECT_EQ(b.dma.cfg_read(0, UINT32_MAX - 1, 4), 0xFFFFFFFFu);
  EXPECT_EQ(b.dma.mmio_read(kChannels, kCtrl, 2), 0u) << "no fifth function";
}

TEST(DmaRegisters, CtrlStatusBitsAreWriteOneToClear) {
  Bench b;
  EXPECT_EQ(b.dma.mmio_read(0, kCtrl, 2),
            unsigned(kCtrlDescInvalid | kCtrlGracefulPauseDone | kCtrlAbortDone | kCtrlImmPauseDone));
  b.dma.mmio_write(0, kCtrl, 2, 0);  // writing 0 clears nothing
  EXPECT_EQ(b.dma.mmio_read(0, kCtrl, 2), 0x1700u);
  b.dma.mmio_write(0, kCtrl, 2, kCtrlDescInvalid | kCtrlAbortDone);
  EXPECT_EQ(b.dma.mmio_read(0, kCtrl, 2), unsigned(kCtrlGracefulPauseDone | kCtrlImmPauseDone));
  // Stored bits; START is an action and reads 0.
  b.dma.mmio_write(0, kCtrl, 2, kCtrlWriteBackEn | kCtrlRingStopMode | (kDescModeOffChip << 5));
  EXPECT_EQ(b.dma.mmio_read(0, kCtrl, 2) & 0xFF, unsigned(kCtrlWriteBackEn | kCtrlRingStopMode | 0x40));
  // A 32-bit write at 0x238 also writes CTRL2 (plx_dma's writel does this).
  b.dma.mmio_write(0, kCtrl, 4, 0x00050000);
  EXPECT_EQ(b.dma.mmio_read(0, kCtrl2, 2), 5u);
  EXPECT_EQ(b.dma.mmio_read(0, kCtrl, 4) >> 16, 5u);
  // The other three channels are untouched.
  EXPECT_EQ(b.dma.mmio_read(1, kCtrl, 4), 0x1700u);
}

TEST(DmaRegisters, ByteAndSplitAccesses) {
  Bench b;
  b.dma.mmio_write(0, kRingAddrLo, 4, 0x12345670);
  EXPECT_EQ(b.dma.mmio_read(0, kRingAddrLo + 1, 1), 0x56u);
  EXPECT_EQ(b.dma.mmio_read(0, kRingAddrLo + 2, 2), 0x1234u);
  b.dma.mmio_write(0, kRingAddrLo + 3, 1, 0xAB);
  EXPECT_EQ(b.dma.mmio_read(0, kRingAddrLo, 4), 0xAB345670u);
  // A 32-bit access at 0x23C covers INTR_CTRL and INTR_STATUS.
  EXPECT_EQ(b.dma.mmio_read(0, kIntrCtrl, 4), unsigned(kIntrErrorEn));
  b.dma.mmio_write(0, kIntrCtrl, 4, 0xFFFF0000);  // clears status, enables none
  EXPECT_EQ(b.dma.mmio_read(0, kIntrCtrl, 4), 0u);
  // Invalid widths are ignored.
  b.dma.mmio_write(0, kRingAddrHi, 3, 0xFFFF);
  EXPECT_EQ(b.dma.mmio_read(0, kRingAddrHi, 4), 0u);
}

TEST(DmaRegisters, ConfigSpaceResetValuesAndAccessTypes) {
  Bench b;
  for (const RegDesc& r : kConfigRegs.regs) {
    SCOPED_TRACE(r.name);
    EXPECT_EQ(b.dma.cfg_read(2, r.offset, r.width), r.reset);
    const uint32_t ones = width_mask(r.width);
    b.dma.cfg_write(2, r.offset, r.width, ones);
    uint32_t after_ones = ((r.reset & ~r.rw_mask) | r.rw_mask) & ~r.w1c_mask;
    EXPECT_EQ(b.dma.cfg_read(2, r.offset, r.width), after_ones);
    b.dma.cfg_write(2, r.offset, r.width, 0);
    EXPECT_EQ(b.dma.cfg_read(2, r.offset, r.width), after_ones & ~r.rw_mask);
  }
}

TEST(DmaRegisters, ConfigSpaceAsLinuxSeesIt) {
  Bench b;
  for (unsigned fn = 0; fn < kChannels; ++fn) {
    EXPECT_EQ(b.dma.cfg_read(fn, 0x00, 4), 0x87D010B5u);
    EXPECT_EQ(b.dma.cfg_read(fn, 0x08, 4) >> 8, kClassCode);  // PCI_CLASS_SYSTEM_OTHER << 8
    EXPECT_EQ(b.dma.cfg_read(fn, 0x3D, 1), 2u);                 // INTB
  }
  // BAR0 sizing: 8 KB, 32-bit, non-prefetchable memory.
  b.dma.cfg_write(0, 0x10, 4, 0xFFFFFFFF);
  EXPECT_EQ(b.dma.cfg_read(0, 0x10, 4), 0xFFFFE000u);
  for (uint32_t bar = 0x14; bar <= 0x24; bar += 4) {
    b.dma.cfg_write(0, bar, 4, 0xFFFFFFFF);
    EXPECT_EQ(b.dma.cfg_read(0, bar, 4), 0u) << "BAR at " << bar << " not implemented";
  }
  b.dma.cfg_write(0, 0x10, 4, 0xF0846000);
  EXPECT_EQ(b.dma.bar0_base(0), 0u) << "memory space disabled";
  b.dma.cfg_write(0, 0x04, 2, 0x0006);
  EXPECT_EQ(b.dma.bar0_base(0), 0xF0846000u);
  // Capability list: PM (0x40) -> PCIe Endpoint v2 (0x68) -> end; no MSI.
  EXPECT_TRUE(b.dma.cfg_read(0, 0x06, 2) & 0x10);
  uint32_t ptr = b.dma.cfg_read(0, 0x34, 1);
  std::vector<uint32_t> ids;
  while (ptr && ids.size() < 8) {
    ids.push_back(b.dma.cfg_read(0, ptr, 1));
    if (ids.back() == 0x10) {
      EXPECT_EQ((b.dma.cfg_read(0, ptr + 2, 2) >> 4) & 0xF, 0u) << "Endpoint";
    }
    ptr = b.dma.cfg_read(0, ptr + 1, 1);
  }
  EXPECT_EQ(ids, (std::vector<uint32_t>{0x01, 0x10}));
  EXPECT_EQ(b.dma.cfg_read(0, 0x100, 4), 0u) << "no extended capabilities";
  EXPECT_EQ(b.dma.cfg_read(0, 0x1000, 4), 0xFFFFFFFFu) << "outside config space";
}

TEST(DmaRegisters, Bar0ThroughTheTargetSocket) {
  VectorMemory ram(4096);
  MemoryTarget mem("mem", ram);
  DmaEngine dma("dma");
  Bar0Initiator host("host");
  dma.mem_out.bind(mem.socket);
  host.out.bind(dma.bar0_in[0]);
  sc_core::sc_start(sc_core::SC_ZERO_TIME);

  uint64_t ring = 0x0000ABCD12345670ull;
  EXPECT_EQ(host.access(tlm::TLM_WRITE_COMMAND, kRingAddrLo, &ring, 8), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(dma.mmio_read(0, kRingAddrLo, 4), 0x12345670u);
  EXPECT_EQ(dma.mmio_read(0, kRingAddrHi, 4), 0xABCDu);
  uint32_t ctrl = 0;
  EXPECT_EQ(host.access(tlm::TLM_READ_COMMAND, kCtrl, &ctrl, 4), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(ctrl, 0x1700u);
  uint16_t w = 0;
  EXPECT_EQ(host.access(tlm::TLM_READ_COMMAND, kBar0Size, &w, 2), tlm::TLM_ADDRESS_ERROR_RESPONSE);
  EXPECT_EQ(host.access(tlm::TLM_READ_COMMAND, 0x200, &ring, 3), tlm::TLM_ADDRESS_ERROR_RESPONSE);
  EXPECT_EQ(dma.mmio_read(1, kRingAddrLo, 4), 0u) << "socket 0 is function 0 only";
}
