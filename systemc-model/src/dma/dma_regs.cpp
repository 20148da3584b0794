// SPDX-License-Identifier: GPL-2.0-only
// Register tables of the PEX87xx DMA function: the channel registers in BAR0 and
// the function's config space. Bit meanings follow what Linux's
// drivers/dma/plx_dma.c uses; where the chip's behaviour is not public the
// meaning says "model:" and docs/model-dma.md explains the choice.
#include "ntblab/model/dma.h"

namespace ntblab::model {
namespace dma {

namespace {
constexpr uint32_t rel(uint32_t bar0_offset) { return bar0_offset - kRegBlockBase; }

constexpr uint16_t kCtrlStoredBits =
    kCtrlGracefulPause | kCtrlAbort | kCtrlWriteBackEn | kCtrlRingStopMode | kCtrlDescModeMask;
constexpr uint16_t kCtrlStatusBits =
    kCtrlDescInvalid | kCtrlGracefulPauseDone | kCtrlAbortDone | kCtrlImmPauseDone;
constexpr uint16_t kIntrEnableBits =
    kIntrErrorEn | kIntrInvDescEn | kIntrAbortDoneEn | kIntrPauseDoneEn | kIntrImmPauseDoneEn;
constexpr uint16_t kStatusBits = kStatusError | kStatusInvDesc | kStatusDescDone |
                                 kStatusAbortDone | kStatusPauseDone | kStatusImmPauseDone;
}  // namespace

const RegBlock kChannelRegs{
    "DMA channel",
    "DMA function BAR0 (8 KB, one channel per function)",
    kRegBlockBase,
    {
        {rel(kRingAddrLo), 4, Access::RW, 0, 0xFFFFFFF0, 0, "RING_ADDR",
         "Descriptor ring base address, bits 31:4 (16-byte aligned)"},
        {rel(kRingAddrHi), 4, Access::RW, 0, 0x0000FFFF, 0, "RING_ADDR_HI",
         "Descriptor ring base address, bits 47:32"},
        {rel(kRingNext), 4, Access::RW, 0, 0xFFFFFFF0, 0, "RING_NEXT",
         "Low 32 bits of the next descriptor's address (high bits from RING_ADDR_HI); "
         "the engine advances it and wraps to RING_ADDR"},
        {rel(kRingCount), 4, Access::RW, 0, 0x0000FFFF, 0, "RING_COUNT",
         "Descriptors in the ring (plx_dma: 2048); 0 = no ring, START fails"},
        {rel(kLastAddr), 4, Access::RO, 0, 0, 0, "LAST_ADDR",
         "model: low 32 bits of the address of the last descriptor the engine finished"},
        {rel(kLastSize), 4, Access::RO, 0, 0, 0, "LAST_SIZE",
         "model: bytes that descriptor moved"},
        {rel(kPrefetchLimit), 4, Access::RW, 0, 0x000000FF, 0, "PREF_LIMIT",
         "Descriptor prefetch limit (plx_dma writes 8); stored, no effect in the model"},
        {rel(kCtrl), 2, Access::RW, kCtrlStatusBits, kCtrlStoredBits, kCtrlStatusBits, "CTRL",
         "0 graceful pause, 1 abort, 2 descriptor write-back enable, 3 start (write 1; reads 0), "
         "4 ring stop mode, 6:5 descriptor mode (0 block, 1 on-chip, 2 off-chip; only 2 runs), "
         "8 descriptor invalid, 9 graceful pause done, 10 abort done, 12 immediate pause done "
         "(8..12 RW1C, set at reset)"},
        {rel(kCtrl2), 2, Access::RW, 0, kCtrl2MaxTxfrMask, 0, "CTRL2",
         "2:0 max transfer size (0 = 64 B .. 5 = 2 KB, 7 = 4 B; stored only), "
         "14 channel in progress (RO, bit 30 of a 32-bit read at 0x238)"},
        {rel(kIntrCtrl), 2, Access::RW, kIntrErrorEn, kIntrEnableBits, 0, "INTR_CTRL",
         "Interrupt enables: 0 error, 1 invalid descriptor, 3 abort done, 4 graceful pause "
         "done, 5 immediate pause done (model: reset 0x0001, error enabled)"},
        {rel(kIntrStatus), 2, Access::W1C, 0, 0, kStatusBits, "INTR_STATUS",
         "0 error, 1 invalid descriptor, 2 descriptor done (descriptor had bit 30 set), "
         "3 abort done, 4 pause done, 5 immediate pause done; RW1C; INTx while nonzero"},
    }};

namespace {
constexpr uint16_t kCommandWritable = 0x0546;   // memory, bus master, parity, SERR, INTx disable
constexpr uint16_t kStatusErrorBits = 0xF900;   // RW1C error bits
constexpr uint16_t kStatusCapList = 0x0010;
constexpr uint32_t kBar0Mask = ~(kBar0Size - 1);  // 32-bit memory, non-prefetchable
constexpr uint8_t kPmCapOffset = 0x40;
constexpr uint8_t kPcieCapOffset = 0x68;
// PM capability: ID 0x01, next 0x68, PMC version 3.
constexpr uint32_t kPmCap = 0x01u | uint32_t(kPcieCapOffset) << 8 | 0x0003u << 16;
constexpr uint32_t kPmCsrNoSoftReset = 0x00000008;
// PCIe capability: ID 0x10, last in list, version 2, Endpoint (type 0).
constexpr uint32_t kPcieCap = 0x10u | 0x0002u << 16;
// Device Capabilities: max payload 1024 B (encoding 3), role-based error reporting.
constexpr uint32_t kDevCap = 0x3u | 1u << 15;
// Device Control: relaxed ordering + no snoop enabled, MPS 128 B, MRRS 512 B.
constexpr uint16_t kDevCtlReset = 0x2810;
}  // namespace

const RegBlock kConfigRegs{
    "DMA function config space",
    "PCI config space of each DMA function (4 KB)",
    0,
    {
        {0x00, 2, Access::RO, kVendorId, 0, 0, "VENDOR_ID", "PLX Technology / Broadcom"},
        {0x02, 2, Access::RO, kDeviceId, 0, 0, "DEVICE_ID", "PEX PCI Express switch DMA interface"},
        {0x04, 2, Access::RW, 0, kCommandWritable, 0, "COMMAND",
         "1 memory space, 2 bus master (required for START), 6 parity, 8 SERR, 10 INTx disable"},
        {0x06, 2, Access::W1C, kStatusCapList, 0, kStatusErrorBits, "STATUS",
         "3 INTx pending (RO), 4 capability list; error bits 8, 11..15 RW1C"},
        {0x08, 1, Access::RO, kRevision, 0, 0, "REVISION", "revision ID"},
        {0x09, 1, Access::RO, kClassCode & 0xFF, 0, 0, "PROG_IF", "class code: programming interface"},
        {0x0A, 1, Access::RO, (kClassCode >> 8) & 0xFF, 0, 0, "SUBCLASS",
         "class code: 0x80 other (plx_dma matches class 0x088000 exactly)"},
        {0x0B, 1, Access::RO, (kClassCode >> 16) & 0xFF, 0, 0, "BASE_CLASS",
         "class code: 0x08 system peripheral"},
        {0x0C, 1, Access::RW, 0, 0xFF, 0, "CACHE_LINE", "cache line size (stored)"},
        {0x0D, 1, Access::RO, 0, 0, 0, "LATENCY_TIMER", "0 on PCIe"},
        {0x0E, 1, Access::RO, 0, 0, 0, "HEADER_TYPE", "type 0"},
        {0x10, 4, Access::RW, 0, kBar0Mask, 0, "BAR0",
         "8 KB 32-bit non-prefetchable memory: channel registers at +0x200"},
        {0x2C, 2, Access::RO, kVendorId, 0, 0, "SUBSYS_VENDOR", "subsystem vendor"},
        {0x2E, 2, Access::RO, kDeviceId, 0, 0, "SUBSYS_ID", "subsystem ID"},
        {0x34, 1, Access::RO, kPmCapOffset, 0, 0, "CAP_PTR", "first capability: PM at 0x40"},
        {0x3C, 1, Access::RW, 0, 0xFF, 0, "INT_LINE", "interrupt line (stored)"},
        {0x3D, 1, Access::RO, kInterruptPinB, 0, 0, "INT_PIN", "INTB, like the chip's DMA functions"},
        {kPmCapOffset, 4, Access::RO, kPmCap, 0, 0, "PM_CAP",
         "PCI power management v3; next 0x68 (the chip's MSI at 0x48 is not modelled)"},
        {kPmCapOffset + 4u, 4, Access::RW, kPmCsrNoSoftReset, 0x3, 0, "PM_CSR",
         "1:0 power state (stored, no effect), 3 no soft reset"},
        {kPcieCapOffset, 4, Access::RO, kPcieCap, 0, 0, "PCIE_CAP",
         "PCI Express capability v2, Endpoint, last capability"},
        {kPcieCapOffset + 4u, 4, Access::RO, kDevCap, 0, 0, "DEV_CAP",
         "max payload 1024 B, role-based error reporting, no FLR"},
        {kPcieCapOffset + 8u, 2, Access::RW, kDevCtlReset, 0x78FF, 0, "DEV_CTL",
         "error reporting enables, relaxed ordering, max payload, no snoop, max read request"},
        {kPcieCapOffset + 10u, 2, Access::W1C, 0, 0, 0x000F, "DEV_STS", "error detected bits, RW1C"},
        {kPcieCapOffset + 12u, 4, Access::RO, 0, 0, 0, "LINK_CAP",
         "0: internal function, no link of its own"},
        {kPcieCapOffset + 16u, 2, Access::RW, 0, 0x00C3, 0, "LINK_CTL", "ASPM, common clock (stored)"},
        {kPcieCapOffset + 18u, 2, Access::RO, 0, 0, 0, "LINK_STS", "0: no link of its own"},
    }};

}  // namespace dma

std::vector<const RegBlock*> dma_register_blocks() {
  return {&dma::kChannelRegs, &dma::kConfigRegs};
}

}  // namespace ntblab::model
