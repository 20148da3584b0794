// SPDX-License-Identifier: GPL-2.0-only
// The NT port's register tables. Each row: offset, width, access, reset,
// rw mask, w1c mask, name, meaning. Rows whose reset depends on the endpoint's
// configuration say "reset: configuration" and carry 0 here; NtEndpoint fills
// them in after a reset.
#include "ntblab/model/nt_regs.h"

#include <array>
#include <deque>
#include <string>

namespace ntblab::model {
namespace {

using namespace ntreg;

// Names of generated rows (RID LUT entries) need stable storage for RegDesc.
const char* intern(std::string s) {
  static std::deque<std::string> pool;
  pool.push_back(std::move(s));
  return pool.back().c_str();
}

constexpr uint32_t kCommandRw = 0x0546;       // I/O(0, hardwired 0) mem(1) BM(2) PER(6) SERR(8) INTxD(10)
constexpr uint32_t kStatusW1c = 0xF9000000;   // Status 15:11 and 8 (error bits), write-1-to-clear
constexpr uint32_t kPmCapValue = 0x0003u << 16 | kPcieCap << 8 | kCapIdPm;  // PM v1.2, next = PCIe
constexpr uint32_t kPcieCapValue = 0x0002u << 16 | kPcieTypeEndpoint << 20 | 0x00 << 8 | kCapIdPcie;
constexpr uint32_t kDevCapValue = 0x8000 | 1u << 5 | 0x4;  // RBER, 8-bit tags, MPS 2048 B (FACTS)
constexpr uint32_t kDevCtlReset = 0x2810;  // MRRS 512 B, no-snoop and relaxed ordering enabled
constexpr uint32_t kDevCtlRw = 0x79FF;
constexpr uint32_t kDevStaW1c = 0x000F0000;  // Device Status 3:0 error detected bits
constexpr uint32_t kLinkCtlRw = 0x00CB;      // ASPM, RCB, common clock, extended sync

void add_header(std::vector<RegDesc>& r, unsigned ntx, Side side) {
  const bool link = side == Side::Link;
  const uint16_t dev = link ? (ntx ? kDevNt1Link : kDevNt0Link)
                            : (ntx ? kDevNt1Virtual : kDevNt0Virtual);
  const uint32_t id = uint32_t(dev) << 16 | kVendorPlx;
  r.push_back({kId, 4, Access::RO, id, 0, 0, "ID", "device ID (31:16), vendor ID 10b5 (15:0)"});
  r.push_back({kCommand, 4, Access::RW, kStatusCapList, kCommandRw, kStatusW1c, "CMD_STS",
               "Command: memory enable (1), bus master (2), INTx disable (10); Status: INTx "
               "pending (19), capability list (20), error bits write-1-to-clear"});
  r.push_back({kClassRev, 4, Access::RO, kClassOtherBridge << 8 | kRevision, 0, 0, "CLASS_REV",
               "class code 068000 (other bridge), revision"});
  r.push_back({kHeader, 4, Access::RW, 0, 0xFF, 0, "HDR",
               "cache line size (RW), latency, header type 0, BIST"});
  static const char* const bar_names[] = {"BAR0", "BAR1", "BAR2", "BAR3", "BAR4", "BAR5"};
  for (unsigned b = 0; b < 6; ++b)
    r.push_back({bar_reg(b), 4, Access::RW, 0, 0xFFFFFFFF, 0, bar_names[b],
                 "base address; writable bits and type follow the BAR setup registers "
                 "(all ones reads back the size mask)"});
  r.push_back({kSubsystem, 4, Access::RO, id, 0, 0, "SUBSYS", "subsystem ID, subsystem vendor"});
  r.push_back({kCapPtr, 4, Access::RO, kPmCap, 0, 0, "CAP_PTR", "first capability: PM at 0x40"});
  r.push_back({kInterrupt, 4, Access::RW, 0x100, 0xFF, 0, "INTR",
               "interrupt line (RW), interrupt pin 1 = INTA"});
  r.push_back({kPmCap, 4, Access::RO, kPmCapValue, 0, 0, "PM_CAP",
               "power management capability, next = PCIe capability"});
  r.push_back({kPmCsr, 4, Access::RW, 0x8, 0x3, 0, "PM_CSR",
               "power state (1:0), no soft reset (3); stored, no effect"});
  r.push_back({kPcieCap, 4, Access::RO, kPcieCapValue, 0, 0, "PCIE_CAP",
               "PCI Express capability v2, device/port type Endpoint, last capability"});
  r.push_back({kDevCap, 4, Access::RO, kDevCapValue, 0, 0, "DEV_CAP",
               "max payload 2048 B, 8-bit tags, role-based error reporting"});
  r.push_back({kDevCtl, 4, Access::RW, kDevCtlReset, kDevCtlRw, kDevStaW1c, "DEV_CTL_STA",
               "Device Control (stored), Device Status error bits W1C"});
  r.push_back({kLinkCap, 4, Access::RO, 0, 0, 0, "LINK_CAP",
               "max speed (3:0), max width (9:4), port number (31:24); reset: configuration"});
  r.push_back({kLinkCtl, 4, Access::RW, kLinkStaSlotClock, kLinkCtlRw, 0, "LINK_CTL_STA",
               "Link Control (stored); Link Status: current speed (19:16), negotiated width "
               "(25:20), both 0 while the link is down"});
  r.push_back({kDevCap2, 4, Access::RO, 0, 0, 0, "DEV_CAP2", "no optional features"});
  r.push_back({kDevCtl2, 4, Access::RW, 0, 0x1F, 0, "DEV_CTL2", "completion timeout (stored)"});
  r.push_back({kLinkCap2, 4, Access::RO, 0, 0, 0, "LINK_CAP2",
               "supported link speeds vector; reset: configuration"});
  r.push_back({kLinkCtl2, 4, Access::RW, 0, 0xF, 0, "LINK_CTL2",
               "target link speed (stored); reset: configuration"});
}

void add_bar_setup(std::vector<RegDesc>& r, Side side) {
  const bool link = side == Side::Link;
  // Virtual side: loaded from EEPROM (the configuration), read-only at run time.
  // Link side: drivers resize the link BARs at run time (docs/sources.md, "Back-to-back mode").
  const Access acc = link ? Access::RW : Access::RO;
  r.push_back({kBar0Setup, 4, acc, 0, link ? 0x3u : 0u, 0, "BAR0_SETUP",
               "BAR0 (256 KB registers): 0x2 = 32-bit, 0x3 = 64-bit, else disabled; "
               "reset: configuration"});
  static const char* const names[] = {"BAR2_SETUP", "BAR3_SETUP", "BAR4_SETUP", "BAR5_SETUP"};
  for (unsigned b = 2; b <= 5; ++b) {
    const bool low = b % 2 == 0;  // BAR3/BAR5 setup doubles as the high dword of BAR2/BAR4
    r.push_back({bar_setup_reg(b), 4, acc, 0,
                 link ? (low ? 0xFFF0000Cu : 0xFFFFFFFFu) : 0u, 0, names[b - 2],
                 low ? "size mask ~(size-1) (31:20), 0 = disabled; bit 2 = 64-bit, bit 3 = "
                       "prefetchable; reset: configuration"
                     : "size mask of a 32-bit BAR, or high dword of the previous 64-bit BAR's "
                       "mask; reset: configuration"});
  }
}

void add_nt_regs(std::vector<RegDesc>& r, unsigned ntx, Side side) {
  const bool link = side == Side::Link;
  static const char* const xl_names[] = {"XLAT_BAR2", "XLAT_BAR3", "XLAT_BAR4", "XLAT_BAR5"};
  for (unsigned b = 2; b <= 5; ++b)
    r.push_back({xlat_reg(b), 4, Access::RW, 0, 0xFFFFFFFF, 0, xl_names[b - 2],
                 link ? "link BARn -> host translation base (lo/hi pairs for 64-bit BARs); "
                        "aligned to the BAR size"
                      : "virtual BARn -> link translation base (lo/hi pairs for 64-bit BARs); "
                        "aligned to the BAR size"});
  const uint32_t who = (ntx ? kWhoAmINt1 : 0) | (link ? kWhoAmILink : 0);
  r.push_back({kWhoAmI, 4, Access::RO, who, 0, 0, "WHOAMI",
               "which interface: bit 0 = NT1, bit 31 = link interface"});
  r.push_back({kRequesterId, 4, Access::RO, 0, 0, 0, "RID",
               "this interface's requester ID; reset: configuration"});
  r.push_back({kAlutCtl, 4, Access::RW, 0, kAlutEnable, 0, "ALUT_CTL",
               link ? "bit 28: enable the virtual BAR2 -> link A-LUT"
                    : "bit 28: enable the link BAR2 -> host A-LUT"});
  const uint32_t lut = link ? kRidLutLink : kRidLutVirt;
  const unsigned n = link ? kRidLutLinkRegs : kRidLutVirtRegs;
  for (unsigned i = 0; i < n; ++i)
    r.push_back({lut + 4 * i, 4, Access::RW, 0, 0xFFFFFFFF, 0,
                 intern((link ? "RID_LUT_L" : "RID_LUT_V") + std::to_string(i)),
                 "requester-ID LUT, two 16-bit entries (bit 0 enable); stored, not enforced"});
  if (!link) {
    r.push_back({kLinkErrStatus, 4, Access::W1C, 0, 0, kLinkErrBits, "LINK_ERR",
                 "link errors, W1C: correctable (0), uncorrectable (1), DL_Down (2), UR "
                 "message dropped (3)"});
    r.push_back({kLinkErrMask, 4, Access::RW, kLinkErrBits, kLinkErrBits, 0, "LINK_ERR_MASK",
                 "mask of LINK_ERR for INTx; reset: all masked"});
  }
}

RegBlock make_page(unsigned ntx, Side side) {
  RegBlock b;
  b.name = std::string(ntx ? "NT1 " : "NT0 ") +
           (side == Side::Link ? "link interface" : "virtual interface");
  b.space = "BAR0 (chip registers) = this interface's config space";
  b.base = page_base(ntx, side);
  add_header(b.regs, ntx, side);
  add_bar_setup(b.regs, side);
  add_nt_regs(b.regs, ntx, side);
  return b;
}

RegBlock make_shared(unsigned ntx) {
  RegBlock b;
  b.name = std::string(ntx ? "NT1" : "NT0") + " doorbells and scratchpads";
  b.space = "BAR0 (chip registers), same registers at +0x1000 (link page)";
  b.base = nt_base(ntx);
  b.regs = {
      {kDbSetV, 4, Access::W1S, 0, 0, 0, "DB_SET_V",
       "virtual-side doorbell IRQ set: write 1 rings; reads the doorbell status"},
      {kDbClrV, 4, Access::W1C, 0, 0, kDbBits, "DB_CLR_V",
       "virtual-side doorbell IRQ clear: write 1 clears; reads the doorbell status"},
      {kDbMaskSetV, 4, Access::W1S, kDbBits, 0, 0, "DB_MSET_V",
       "virtual-side doorbell mask set; reads the mask (reset: all masked)"},
      {kDbMaskClrV, 4, Access::W1C, kDbBits, 0, kDbBits, "DB_MCLR_V",
       "virtual-side doorbell mask clear; reads the mask"},
      {kDbSetL, 4, Access::W1S, 0, 0, 0, "DB_SET_L", "link-side doorbell IRQ set"},
      {kDbClrL, 4, Access::W1C, 0, 0, kDbBits, "DB_CLR_L", "link-side doorbell IRQ clear"},
      {kDbMaskSetL, 4, Access::W1S, kDbBits, 0, 0, "DB_MSET_L", "link-side doorbell mask set"},
      {kDbMaskClrL, 4, Access::W1C, kDbBits, 0, kDbBits, "DB_MCLR_L",
       "link-side doorbell mask clear"},
  };
  for (unsigned i = 0; i < kNumSpads; ++i)
    b.regs.push_back({kSpad0 + 4 * i, 4, Access::RW, 0, 0xFFFFFFFF, 0,
                      intern("SPAD" + std::to_string(i)), "scratchpad, shared by both sides"});
  return b;
}

RegBlock make_chip() {
  RegBlock b{"Chip registers used by NT drivers", "BAR0 (chip registers)", 0, {}};
  for (unsigned s = 0; s < kNumStations; ++s) {
    const uint32_t station = port_base(s * 8);
    b.regs.push_back({station + kPortControl, 4, Access::RW, 0, 0xFF, 0,
                      intern("PORT_CTL_S" + std::to_string(s)),
                      "station port control: bit (port & 7) set = port disabled (link down)"});
    if (s < 2)  // NTx's extra scratchpads live at port_base(ntx * 8)
      for (unsigned i = 0; i < kNumPhyPatterns; ++i)
        b.regs.push_back({station + kPhyPattern0 + 4 * i, 4, Access::RW, 0, 0xFFFFFFFF, 0,
                          intern("PHY_PATT_NT" + std::to_string(s) + "_" + std::to_string(i)),
                          "PHY user test pattern; NT drivers use it as an extra scratchpad"});
  }
  b.regs.push_back({kNtPortConfig, 4, Access::RO, 0, 0, 0, "NT_PORT_CFG",
                    "NT0 port (12:8), NT1 port (20:16), A-LUT mode (31:30: 3 = 128 entries "
                    "each, else bit ntx = 256 for that NT); reset: configuration"});
  return b;
}

RegBlock make_alut() {
  return RegBlock{
      "A-LUT (BAR2 split into 128 or 256 windows)",
      "BAR0 (chip registers); table T = 0x38000 + sel * 0x1000 * k",
      kAlutBase,
      {{0x000, 4, Access::RW, 0, 0xFFFFFFFF, 0, "ALUT_LO",
        "entry i lower address at T + i*4 (+0xE00 if i >= 128); bits below the window "
        "size ignored"},
       {kAlutUpperOffset, 4, Access::RW, 0, 0xFFFFFFFF, 0, "ALUT_HI",
        "entry i upper address, at lower + 0x400"},
       {kAlutPermOffset, 4, Access::RW, 0, 0x3, 0, "ALUT_PERM",
        "entry i permission at lower + 0x800: bit 0 read, bit 1 write"}}};
}

}  // namespace

const RegBlock& nt_page_block(unsigned ntx, Side side) {
  static const std::array<RegBlock, 4> blocks{make_page(0, Side::Virtual),
                                              make_page(0, Side::Link),
                                              make_page(1, Side::Virtual),
                                              make_page(1, Side::Link)};
  return blocks[(ntx ? 2 : 0) + (side == Side::Link ? 1 : 0)];
}

const RegBlock& nt_shared_block(unsigned ntx) {
  static const std::array<RegBlock, 2> blocks{make_shared(0), make_shared(1)};
  return blocks[ntx ? 1 : 0];
}

const RegBlock& nt_chip_block() {
  static const RegBlock block = make_chip();
  return block;
}

const RegBlock& nt_alut_block() {
  static const RegBlock block = make_alut();
  return block;
}

std::vector<const RegBlock*> nt_register_blocks(unsigned ntx) {
  return {&nt_page_block(ntx, Side::Virtual), &nt_page_block(ntx, Side::Link),
          &nt_shared_block(ntx), &nt_chip_block(), &nt_alut_block()};
}

}  // namespace ntblab::model
