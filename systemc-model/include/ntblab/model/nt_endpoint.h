// SPDX-License-Identifier: GPL-2.0-only
// One non-transparent (NT) port of a PEX87xx switch, as its two hosts see it.
//
// The port has two PCIe functions: the *virtual* interface in the local host's
// domain and the *link* interface in the fabric/link domain. Each exposes BAR0
// (the chip's whole 256 KB register map) and data BARs 2..5. A request to a
// data BAR on one side is translated (BAR translation register, or the A-LUT for
// BAR2) and re-issued on the other side:
//
//   host  --virt_in-->  [virtual BARs]  --translate-->  link_out --> link domain
//   host <--virt_out--  [translate]  <--  [link BARs]  <--link_in--  link domain
//
// Doorbells (16 per side) and scratchpads are registers of this chip; a peer
// reaches them through the link interface's BAR0. Interrupts are INTx levels
// delivered through callbacks. See docs/model-nt-endpoint.md.
//
// Loosely timed TLM-2.0 (tlp.h): b_transport never waits; refused requests
// return TLM_ADDRESS_ERROR_RESPONSE, reads refused here are filled with 0xFF.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include "ntblab/model/nt_regs.h"
#include "ntblab/model/regtable.h"

namespace ntblab::model {

/// One data BAR as loaded from the EEPROM (virtual side; link-side reset value).
struct NtBarConfig {
  uint64_t size = 0;          ///< bytes: 0 = not implemented, else a power of two >= 1 MiB
  bool is64 = false;          ///< 64-bit BAR (takes the next BAR slot as its high dword)
  bool prefetchable = true;   ///< reported in the BAR's bit 3
};

/// A-LUT configuration, chip register 0x360 bits 31:30 (docs/sources.md, "NT port registers").
enum class AlutMode : uint8_t {
  None,       ///< this NT has no A-LUT: BAR2 uses plain translation
  Shared128,  ///< 0x360[31:30] = 3: 128 entries for each NT
  Owned256,   ///< 0x360 bit (30 + ntx): 256 entries owned by this NT
};

struct NtEndpointConfig {
  unsigned ntx = 0;              ///< NT0 or NT1
  unsigned port = 8;             ///< chip port number of this NT port (0..23)
  bool bar0_64bit = false;       ///< register BAR0 type (0xE4: 0x2 or 0x3)
  /// Data BARs by number; bar[0] and bar[1] must stay empty (BAR0 is the
  /// register BAR). Default: BAR2 and BAR4 64-bit, 16 MiB each.
  std::array<NtBarConfig, 6> bar{{{}, {}, {16u << 20, true, true}, {}, {16u << 20, true, true}, {}}};
  AlutMode alut = AlutMode::None;
  unsigned link_gen = 3;         ///< 1..4 (2.5, 5, 8, 16 GT/s); PEX8749 is Gen3
  unsigned link_width = 8;       ///< lanes: 1, 2, 4, 8 or 16
  uint16_t requester_id = 0x0100;      ///< virtual interface, read back at 0xC90
  uint16_t link_requester_id = 0x0000; ///< link interface, read back at link 0xC90
  /// Time a request spends crossing the NT port (added to the TLM delay).
  /// Default 0: link and switch timing belong to the timing model.
  sc_core::sc_time forward_latency = sc_core::SC_ZERO_TIME;
  /// Time a BAR0 register access takes at the chip. Default 0 (timing model's).
  sc_core::sc_time register_latency = sc_core::SC_ZERO_TIME;
};

/// Throws ConfigError naming the offending field.
void validate(const NtEndpointConfig& cfg);

/// Where an address falls in one side's BARs.
struct BarHit {
  unsigned bar;     ///< 0 (registers) or 2..5
  uint64_t base;    ///< BAR base address in that side's domain
  uint64_t size;    ///< BAR size, bytes
  uint64_t offset;  ///< addr - base
};

struct NtWindowStats {
  uint64_t tlps = 0;   ///< requests (a bulk request counts once; the timing model splits it)
  uint64_t bytes = 0;
};

/// Traffic that entered through one side.
struct NtDirectionStats {
  NtWindowStats total;                  ///< every accepted request
  std::array<NtWindowStats, 6> bar{};   ///< by BAR: [0] = this chip's registers, [2..5] forwarded
  std::array<NtWindowStats, 256> alut{};///< BAR2 requests by A-LUT entry
};

struct NtRefusalStats {
  uint64_t no_bar = 0;           ///< no enabled BAR claims the whole request
  uint64_t window_disabled = 0;  ///< link down, or egress interface's bus master off
  uint64_t alut_permission = 0;  ///< A-LUT entry lacks read/write permission
  uint64_t unclaimed = 0;        ///< translated target refused/unclaimed on the far side
  uint64_t total() const { return no_bar + window_disabled + alut_permission + unclaimed; }
};

struct NtStats {
  NtDirectionStats from_virtual;        ///< host -> virtual BARs (forwarded to link)
  NtDirectionStats from_link;           ///< link -> link BARs (forwarded to host)
  std::array<NtRefusalStats, 2> refused{};  ///< by ingress Side
  std::array<uint64_t, 2> doorbells_rung{}; ///< writes ringing a bit, by doorbell Side
  uint64_t reg_reads = 0;               ///< register reads (config, BAR0, reg_read)
  uint64_t reg_writes = 0;
  uint64_t misaligned_xlat = 0;         ///< translation values stored misaligned to the BAR
  uint64_t link_ups = 0;
  uint64_t link_downs = 0;
};

class NtEndpoint : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<NtEndpoint> virt_in;      ///< host -> virtual BARs
  tlm_utils::simple_initiator_socket<NtEndpoint> virt_out;  ///< -> host memory
  tlm_utils::simple_target_socket<NtEndpoint> link_in;      ///< link -> link BARs
  tlm_utils::simple_initiator_socket<NtEndpoint> link_out;  ///< -> link domain

  /// Virtual interface INTx level, called on every change (after INTx Disable).
  std::function<void(bool level)> on_intx;
  /// Link interface INTx level (link-side doorbells), called on every change.
  std::function<void(bool level)> on_link_intx;
  /// Link came up or went down.
  std::function<void(bool up)> on_link_change;
  /// Station port control enabled/disabled this port (wire to the partner's
  /// set_link_partner so that disabling one side takes both links down).
  std::function<void(bool enabled)> on_port_enable_change;

  NtEndpoint(sc_core::sc_module_name name, const NtEndpointConfig& cfg = {});

  const NtEndpointConfig& config() const { return cfg_; }

  // ---- configuration space of one interface (its 4 KB register page) ----
  uint32_t cfg_read(Side side, uint32_t off, unsigned len);
  void cfg_write(Side side, uint32_t off, unsigned len, uint32_t value);

  // ---- the 256 KB register map, as a BAR0 access sees it (len 1, 2 or 4) ----
  uint32_t reg_read(uint32_t off, unsigned len);
  void reg_write(uint32_t off, unsigned len, uint32_t value);

  // ---- address decode, for whoever routes the fabric ----
  std::optional<BarHit> decode(Side side, uint64_t addr) const;
  bool claims(Side side, uint64_t addr) const { return decode(side, addr).has_value(); }

  // ---- link state ----
  /// Cable/fabric partner present and its port enabled.
  void set_link_partner(bool present);
  bool link_up() const { return link_up_; }
  bool port_enabled() const;

  /// Current INTx level of one interface (after INTx Disable).
  bool intx(Side side) const { return intx_[idx(side)]; }

  const NtStats& stats() const { return stats_; }

 private:
  enum class Refusal { NoBar, WindowDisabled, AlutPermission, Unclaimed };
  struct BarLayout {
    bool enabled = false;   ///< decodes addresses
    bool upper = false;     ///< this slot is the high dword of the previous 64-bit BAR
    bool is64 = false;
    bool prefetch = false;
    uint64_t size = 0;
  };
  struct AlutEntry {
    uint32_t lo = 0, hi = 0, perm = 0;
  };
  struct AlutRef {
    unsigned table;  ///< 0: virtual BAR2 -> link, 1: link BAR2 -> host
    unsigned entry;
    unsigned reg;    ///< 0 lower, 1 upper, 2 permission
  };
  struct Chunk {
    uint64_t target;
    uint64_t pos;    ///< offset into the request's data
    uint64_t len;
    int alut_entry;  ///< -1 without A-LUT
  };

  static unsigned idx(Side s) { return s == Side::Link ? 1 : 0; }
  static Side other(Side s) { return s == Side::Link ? Side::Virtual : Side::Link; }

  // registers (nt_endpoint.cpp)
  void power_on_reset();
  void reset_page(Side side);
  void apply_config_resets(Side side);
  uint32_t read_dword(uint32_t off);
  void write_dword(uint32_t off, uint32_t data, uint32_t byte_mask);
  void read_bytes(uint32_t off, uint8_t* dst, uint64_t len);
  void write_bytes(uint32_t off, const uint8_t* src, uint64_t len, const uint8_t* be,
                   unsigned be_len);
  void page_side_effect(Side side, uint32_t po, uint32_t written);
  void shared_side_effect(uint32_t po, uint32_t written);
  void ring_or_mask(uint32_t set_reg, uint32_t clr_reg, uint32_t bits);
  void mirror(uint32_t from_reg, uint32_t to_reg);
  std::optional<AlutRef> locate_alut(uint32_t off) const;
  void update_intx(Side side);
  bool intx_pending(Side side) const;

  // BARs and link (nt_bars.cpp)
  BarLayout layout(Side side, unsigned bar) const;
  uint64_t bar_base(Side side, unsigned bar) const;
  void apply_bar_masks(Side side);
  void check_xlat_alignment(Side side, unsigned bar_slot, uint32_t value);
  void update_link();
  void update_port_enable();
  void write_link_status(Side side);
  uint32_t port_control_reg() const;

  // data path (nt_datapath.cpp)
  void b_transport_virt(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
  void b_transport_link(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
  void transport(Side ingress, tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
  void register_access(Side ingress, const BarHit& hit, tlm::tlm_generic_payload& gp,
                       sc_core::sc_time& delay);
  void forward(Side ingress, const BarHit& hit, tlm::tlm_generic_payload& gp,
               sc_core::sc_time& delay);
  bool plan_chunks(Side ingress, const BarHit& hit, bool is_write, uint64_t len,
                   std::vector<Chunk>& out);
  bool issue(Side egress, tlm::tlm_generic_payload& gp, const Chunk& c, bool whole,
             sc_core::sc_time& delay);
  void refuse(Side ingress, Refusal why, tlm::tlm_generic_payload& gp);
  unsigned alut_entries() const;
  bool alut_active(Side ingress) const;

  NtDirectionStats& dir(Side ingress) {
    return ingress == Side::Link ? stats_.from_link : stats_.from_virtual;
  }

  NtEndpointConfig cfg_;
  uint32_t base_;                       ///< NT base (virtual page) in the register map
  std::array<RegFile, 2> page_;         ///< by Side
  RegFile shared_;                      ///< doorbells and scratchpads
  RegFile chip_;                        ///< port control, PHY patterns, 0x360
  std::array<std::array<AlutEntry, 256>, 2> alut_{};
  bool partner_ = false;
  bool link_up_ = false;
  bool port_enabled_ = true;
  std::array<bool, 2> intx_{};
  NtStats stats_;
};

}  // namespace ntblab::model
