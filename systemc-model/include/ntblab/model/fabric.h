// SPDX-License-Identifier: GPL-2.0-only
// The PEX8749 switch fabric as a TLM-2.0 module: ports with their links,
// address routing, hop latency, egress contention, per-port statistics.
//
// Port p has a target socket in[p] (TLPs entering the switch from p's link
// partner) and an initiator socket out[p] (TLPs leaving through p). A port
// models its own link: it serializes what leaves on out[p] and what enters on
// in[p] (unless the partner already serialized it, see PortConfig). So bind a
// port straight to its partner, never through a PcieLink.
//
// Timing of a posted write entering port p and leaving port q (pcie.h, pass_stage):
//   ingress: serialize on p's link (partner→switch), contention with other traffic
//            entering p, + p's propagation;
//   hop:     + hop_latency_ns, TLP by TLP (a burst is never stored whole);
//   egress:  serialize on q's link (switch→partner), shared by every ingress port
//            sending to q, + q's propagation.
// A read's requests go the same way; its completions come back through q's
// ingress, the hop and p's egress.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include "ntblab/model/limits.h"  // kPex8749Ports, kPex8749Lanes, add_lanes
#include "ntblab/model/link.h"
#include "ntblab/model/path.h"
#include "ntblab/model/pcie.h"

namespace ntblab::model {

enum class PortRole : uint8_t { Upstream, Downstream, NonTransparent };
const char* to_string(PortRole r);

/// One switch port: its link (generation, width, MPS, ... inherited from
/// LinkParams, so errors read "ports[3].width") and its role.
struct PortConfig : pcie::LinkParams {
  PortRole role = PortRole::Downstream;
  /// The partner bound to in[p] already serialized this link's partner→switch
  /// direction (another FabricSwitch's egress, or a PcieLink): count, don't time.
  bool ingress_modelled_by_partner = false;

  static PortConfig make(PortRole role, unsigned generation, unsigned width) {
    PortConfig p;
    p.role = role;
    p.generation = generation;
    p.width = width;
    return p;
  }
};

/// The switch's configuration. validate() throws ConfigError naming the field.
struct SwitchConfig {
  std::vector<PortConfig> ports;
  /// Hop latency, ns: from a TLP completely received at the ingress port to its
  /// first symbol leaving the egress port. Not scaled with width or generation
  /// (see docs/timing-model.md). Default: PEX8749 product brief, x16 to x16.
  double hop_latency_ns = pcie::kPex8749HopLatencyNs;
  unsigned max_ports = kPex8749Ports;      ///< chip limit
  unsigned lanes = kPex8749Lanes;          ///< lane budget
  unsigned max_nt_ports = kPex8749MaxNtPorts;
  /// A transparent switch has exactly one upstream port; set false for fabrics of
  /// NT ports only or multi-host setups (then 0 or several upstream ports are fine).
  bool single_upstream = true;

  void validate() const;
};

/// Per-port statistics.
struct PortStats {
  uint64_t tlps_in = 0;            ///< TLPs entering (requests and completions)
  uint64_t tlps_out = 0;           ///< TLPs leaving
  uint64_t bytes_in = 0;           ///< payload bytes entering
  uint64_t bytes_out = 0;          ///< payload bytes leaving
  uint64_t transactions_in = 0;    ///< TLM transactions entering (requests + completion trains)
  uint64_t transactions_out = 0;
  uint64_t refusals = 0;           ///< requests entering here that nobody claimed (UR)
  uint64_t errors_from_target = 0; ///< requests sent out here that came back with an error
  double busy_in_ns = 0;           ///< modelled transmit time, partner→switch
  double busy_out_ns = 0;          ///< modelled transmit time, switch→partner
};

/// [base, limit): a range of bus addresses a port claims.
struct AddressWindow {
  uint64_t base = 0;
  uint64_t limit = 0;
  bool contains(uint64_t a) const { return a >= base && a < limit; }
};

/// The switch. Routing is by address (transparent): a request entering port p
/// goes to the first port q != p (in port order, upstream ports excluded) whose
/// windows or predicate claim the address; else to the upstream port (if there
/// is one and p is not it); else it is refused with TLM_ADDRESS_ERROR_RESPONSE.
class FabricSwitch : public sc_core::sc_module {
 public:
  sc_core::sc_vector<tlm_utils::simple_target_socket_tagged_optional<FabricSwitch>> in;
  sc_core::sc_vector<tlm_utils::simple_initiator_socket_tagged_optional<FabricSwitch>> out;

  /// Throws ConfigError (e.g. "ports[3].width").
  FabricSwitch(sc_core::sc_module_name name, const SwitchConfig& config);

  unsigned num_ports() const { return unsigned(ports_.size()); }
  const SwitchConfig& config() const { return cfg_; }
  const pcie::LinkMath& link(unsigned port) const;

  // Routing, changeable at any time (NT link-side BARs move at run time).
  /// Replace port's windows. Throws ConfigError("port"/"windows[i]") on bad input.
  void set_windows(unsigned port, std::vector<AddressWindow> windows);
  void add_window(unsigned port, AddressWindow window);
  void clear_windows(unsigned port);
  /// A predicate checked after the windows; an empty function removes it.
  void set_route(unsigned port, std::function<bool(uint64_t)> claims);
  /// Where a request entering `from_port` for `addr` goes; -1 = refused.
  int route(unsigned from_port, uint64_t addr) const;

  PortStats stats(unsigned port) const;
  std::vector<PortStats> stats() const;

 private:
  struct Port {
    pcie::LinkMath math;
    pcie::WireState wire_in;   // partner → switch
    pcie::WireState wire_out;  // switch → partner
    std::vector<AddressWindow> windows;
    std::function<bool(uint64_t)> claims;
    uint64_t refusals = 0;
    uint64_t errors = 0;
  };

  void b_transport(int port, tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
  unsigned int transport_dbg(int port, tlm::tlm_generic_payload& gp);
  void check_port(unsigned port) const;

  SwitchConfig cfg_;
  std::vector<Port> ports_;
  int upstream_ = -1;  // the first upstream port, if any
  double ns_per_unit_;
};

}  // namespace ntblab::model
