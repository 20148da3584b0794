// SPDX-License-Identifier: GPL-2.0-only
// Register map of a PEX87xx non-transparent (NT) port, as its drivers see it.
//
// The chip's 256 KB configuration space is exposed through BAR0 of the NT
// interfaces. Each NT port (NT0, NT1) owns two 4 KB pages in it: the virtual
// interface (seen by the local host) and the link interface (seen across the
// link). The 4 KB config space of an interface IS its page, so config offset X
// and BAR0 offset page_base + X are the same register.
//
// Sources: docs/sources.md "NT port registers"; FreeBSD
// sys/dev/ntb/ntb_hw/ntb_hw_plx.c (offsets and the way a driver programs them);
// the PCI/PCIe base specifications for the type-0 header and capabilities.
//
// The RegBlock tables (regtable.h) defined in nt_regs.cpp are the single
// description of these registers: the model's generic access uses their masks,
// and the docs are generated from them (`ntblab-cli regs`).
#pragma once

#include <cstdint>
#include <vector>

#include "ntblab/model/regtable.h"

namespace ntblab::model {

/// Which interface of an NT port: the local host's (virtual) or the link's.
enum class Side : uint8_t { Virtual = 0, Link = 1 };

inline const char* to_string(Side s) { return s == Side::Virtual ? "virtual" : "link"; }

namespace ntreg {

// ---- Chip-level layout (docs/sources.md) -----------------------------------
constexpr uint32_t kChipRegSpace = 256 * 1024;  ///< BAR0 size: whole register map, bytes
constexpr uint32_t kNt0Base = 0x3E000;          ///< NT0 virtual page
constexpr uint32_t kNt1Base = 0x3C000;          ///< NT1 virtual page
constexpr uint32_t kLinkPageOffset = 0x1000;    ///< link page = NT base + this
constexpr uint32_t kPageSize = 0x1000;          ///< one interface's config space, bytes

inline uint32_t nt_base(unsigned ntx) { return ntx ? kNt1Base : kNt0Base; }
inline uint32_t page_base(unsigned ntx, Side s) {
  return nt_base(ntx) + (s == Side::Link ? kLinkPageOffset : 0);
}
/// Register space of a chip port: (port << 12) (FreeBSD PLX_PORT_BASE).
inline uint32_t port_base(unsigned port) { return port << 12; }

// ---- Type-0 header (PCI Local Bus spec 3.0, ch. 6) ---------------------------
constexpr uint32_t kId = 0x00;          ///< device << 16 | vendor
constexpr uint32_t kCommand = 0x04;     ///< Command (15:0), Status (31:16)
constexpr uint32_t kClassRev = 0x08;    ///< class code << 8 | revision
constexpr uint32_t kHeader = 0x0C;      ///< cache line, latency, header type, BIST
constexpr uint32_t kBar0 = 0x10;        ///< BARn at kBar0 + 4 * n, n = 0..5
constexpr uint32_t kSubsystem = 0x2C;
constexpr uint32_t kCapPtr = 0x34;
constexpr uint32_t kInterrupt = 0x3C;   ///< line (7:0), pin (15:8)

constexpr uint32_t kCmdMemEnable = 1u << 1;
constexpr uint32_t kCmdBusMaster = 1u << 2;
constexpr uint32_t kCmdIntxDisable = 1u << 10;
constexpr uint32_t kStatusIntx = 1u << (16 + 3);     ///< Status bit 3: interrupt status
constexpr uint32_t kStatusCapList = 1u << (16 + 4);  ///< Status bit 4: capability list

constexpr uint16_t kVendorPlx = 0x10B5;
constexpr uint16_t kDevNt0Virtual = 0x87B0;
constexpr uint16_t kDevNt1Virtual = 0x87B1;
constexpr uint16_t kDevNt0Link = 0x87A0;
constexpr uint16_t kDevNt1Link = 0x87A1;
constexpr uint32_t kClassOtherBridge = 0x068000;  ///< bridge, "other bridge" subclass
constexpr uint8_t kRevision = 0xAA;               ///< silicon revision: our choice

inline uint32_t bar_reg(unsigned bar) { return kBar0 + 4 * bar; }

// ---- Capabilities (our layout; PLX places PCIe at 0x68 too) -----------------
constexpr uint32_t kPmCap = 0x40;       ///< power management capability
constexpr uint32_t kPmCsr = 0x44;
constexpr uint32_t kPcieCap = 0x68;     ///< PCI Express capability, version 2
constexpr uint32_t kDevCap = kPcieCap + 0x04;
constexpr uint32_t kDevCtl = kPcieCap + 0x08;   ///< Device Control / Status
constexpr uint32_t kLinkCap = kPcieCap + 0x0C;
constexpr uint32_t kLinkCtl = kPcieCap + 0x10;  ///< Link Control (15:0) / Status (31:16)
constexpr uint32_t kDevCap2 = kPcieCap + 0x24;
constexpr uint32_t kDevCtl2 = kPcieCap + 0x28;
constexpr uint32_t kLinkCap2 = kPcieCap + 0x2C;
constexpr uint32_t kLinkCtl2 = kPcieCap + 0x30;
constexpr unsigned kLinkStaSpeedShift = 16;       ///< Link Status 3:0 in the dword
constexpr unsigned kLinkStaWidthShift = 20;       ///< Link Status 9:4 in the dword
constexpr uint32_t kLinkStaSlotClock = 1u << 28;  ///< Link Status 12: slot clock configuration
constexpr unsigned kLinkCapWidthShift = 4;
constexpr unsigned kLinkCapPortShift = 24;
constexpr uint8_t kCapIdPm = 0x01;
constexpr uint8_t kCapIdPcie = 0x10;
constexpr uint8_t kPcieTypeEndpoint = 0x0;  ///< Device/Port Type 0000b: PCI Express Endpoint

// ---- NT port registers (offsets within a page; docs/sources.md, FreeBSD) -----
constexpr uint32_t kBar0Setup = 0xE4;   ///< 0x2 = 32-bit, 0x3 = 64-bit
inline uint32_t bar_setup_reg(unsigned bar) { return 0xE8 + (bar - 2) * 4; }  ///< bar 2..5
constexpr uint32_t kBarSetupType64 = 0x4;
constexpr uint32_t kBarSetupPrefetch = 0x8;
constexpr uint32_t kBarSetupMinSizeMask = 0xFFF00000;  ///< 1 MB minimum: low 20 bits ignored

inline uint32_t xlat_reg(unsigned bar) { return 0xC3C + (bar - 2) * 4; }  ///< bar 2..5

constexpr uint32_t kDbSetV = 0xC4C;     ///< virtual-side doorbell IRQ set (reads status)
constexpr uint32_t kDbClrV = 0xC50;     ///< virtual-side doorbell IRQ clear, W1C
constexpr uint32_t kDbMaskSetV = 0xC54;
constexpr uint32_t kDbMaskClrV = 0xC58;
constexpr uint32_t kDbSetL = 0xC5C;     ///< link-side doorbells, same layout
constexpr uint32_t kDbClrL = 0xC60;
constexpr uint32_t kDbMaskSetL = 0xC64;
constexpr uint32_t kDbMaskClrL = 0xC68;
constexpr uint32_t kDbBits = 0xFFFF;    ///< 16 doorbells
constexpr uint32_t kSpad0 = 0xC6C;      ///< 8 scratchpads, 0xC6C..0xC88
constexpr unsigned kNumSpads = 8;
constexpr uint32_t kSharedFirst = kDbSetV;                 ///< doorbells + scratchpads:
constexpr uint32_t kSharedEnd = kSpad0 + 4 * kNumSpads;   ///< one copy, in both pages

constexpr uint32_t kWhoAmI = 0xC8C;     ///< bit 0 = NT1, bit 31 = link interface
constexpr uint32_t kWhoAmINt1 = 1u << 0;
constexpr uint32_t kWhoAmILink = 1u << 31;
constexpr uint32_t kRequesterId = 0xC90;
constexpr uint32_t kAlutCtl = 0xC94;
constexpr uint32_t kAlutEnable = 0x10000000;  ///< bit 28
constexpr uint32_t kRidLutVirt = 0xD94;  ///< virtual page: 8 regs, two 16-bit entries each
constexpr unsigned kRidLutVirtRegs = 8;
constexpr uint32_t kRidLutLink = 0xDB4;  ///< link page: 16 regs, two entries each
constexpr unsigned kRidLutLinkRegs = 16;
constexpr uint32_t kLinkErrStatus = 0xFE0;  ///< virtual page only; W1C
constexpr uint32_t kLinkErrMask = 0xFE4;
constexpr uint32_t kLinkErrCorrectable = 1u << 0;
constexpr uint32_t kLinkErrUncorrectable = 1u << 1;
constexpr uint32_t kLinkErrDlDown = 1u << 2;
constexpr uint32_t kLinkErrUrDropped = 1u << 3;
constexpr uint32_t kLinkErrBits = 0xF;

// ---- Chip / station registers (offsets in the 256 KB map) -------------------
constexpr uint32_t kPortControl = 0x208;   ///< at port_base(port & ~7): bit (port & 7) = disabled
constexpr uint32_t kPhyPattern0 = 0x20C;   ///< at port_base(ntx * 8): 4 regs, extra scratchpads
constexpr unsigned kNumPhyPatterns = 4;
constexpr uint32_t kNtPortConfig = 0x360;  ///< NT0 port 12:8, NT1 port 20:16, A-LUT 31:30
constexpr unsigned kNtPortShiftNt0 = 8;
constexpr unsigned kNtPortShiftNt1 = 16;
constexpr unsigned kAlutConfigShift = 30;
constexpr unsigned kNumStations = 3;       ///< PEX8749: ports 0..23 in stations of 8

// ---- A-LUT (FreeBSD ntb_plx_mw_set_trans_internal) --------------------------
constexpr uint32_t kAlutBase = 0x38000;
constexpr uint32_t kAlutTableStride = 0x1000;  ///< × (1 for 128-entry, 2 for 256-entry mode)
constexpr uint32_t kAlutUpperOffset = 0x400;
constexpr uint32_t kAlutPermOffset = 0x800;
constexpr uint32_t kAlutHighHalfOffset = 0xE00;  ///< added for entries >= 128
constexpr uint32_t kAlutPermRead = 1u << 0;
constexpr uint32_t kAlutPermWrite = 1u << 1;

}  // namespace ntreg

/// The register page of interface `side` of NT port `ntx` (0 or 1).
const RegBlock& nt_page_block(unsigned ntx, Side side);
/// Doorbells and scratchpads of NT port `ntx`: one copy, visible at the same
/// offsets in the virtual page and in the link page.
const RegBlock& nt_shared_block(unsigned ntx);
/// Chip registers an NT driver uses outside its pages: station port control,
/// PHY user test patterns (extra scratchpads), NT port numbers / A-LUT mode.
const RegBlock& nt_chip_block();
/// The A-LUT: one row per register of entry 0; entry i is at +i*4 (see meaning).
const RegBlock& nt_alut_block();

/// Every block of NT port `ntx`, for docs and table-driven tests.
std::vector<const RegBlock*> nt_register_blocks(unsigned ntx = 0);

}  // namespace ntblab::model
