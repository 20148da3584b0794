// SPDX-License-Identifier: GPL-2.0-only
// A point-to-point PCIe link as a TLM-2.0 module, and the extension that lets
// timing-aware components pass TLP-train timing to each other.
//
// Conventions (tlp.h): loosely timed b_transport, never wait(); the delay on
// return is the completion time at the destination (posted write: data landed;
// read: completion data back at the caller's end of the link).
//
// Which component serializes a wire: a PcieLink serializes both of its
// directions. A FabricSwitch port serializes its own link (see fabric.h), so
// never put a PcieLink on a switch port: bind the port straight to its partner.
#pragma once

#include <cstdint>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include "ntblab/model/pcie.h"

namespace ntblab::model {

/// Timing of the TLP train a transaction stands for, passed along the path so the
/// next stage can forward TLP by TLP instead of waiting for the whole burst.
/// Components that forward a payload unchanged (e.g. an address translator) need
/// do nothing; one that builds a new payload should copy this extension across.
/// If absent, a train is taken to have arrived all at once (span 0).
struct TrainExtension : tlm::tlm_extension<TrainExtension> {
  /// Requests: from the first TLP completely received to the last, at the point
  /// the payload is handed over (set by the caller before forwarding).
  sc_core::sc_time request_span = sc_core::SC_ZERO_TIME;
  /// Read completions: the same for the completions on return (set by a
  /// timing-aware callee; the caller zeroes it before forwarding).
  sc_core::sc_time completion_span = sc_core::SC_ZERO_TIME;

  tlm::tlm_extension_base* clone() const override { return new TrainExtension(*this); }
  void copy_from(const tlm::tlm_extension_base& ext) override {
    *this = static_cast<const TrainExtension&>(ext);
  }
};

/// Counters of one direction of a link or port.
struct DirectionStats {
  uint64_t transactions = 0;  ///< TLM transactions carried
  uint64_t tlps = 0;          ///< TLPs they stand for (requests and completions)
  uint64_t payload_bytes = 0; ///< data carried (write data, completion data)
  double busy_ns = 0;         ///< modelled transmit time (TLPs + DLLP/SKP share)
};

/// Statistics of a PcieLink: one entry per direction.
struct LinkStats {
  DirectionStats a_to_b;
  DirectionStats b_to_a;
  uint64_t refusals = 0;      ///< requests the far side answered with an error
};

/// A PCIe link between end A and end B.
///   requests entering a_in leave on b_out (A→B); their read completions come back B→A;
///   requests entering b_in leave on a_out (B→A); their read completions come back A→B.
/// Each direction serializes its TLP trains (max-payload TLPs, completions split at
/// RCB/MPS), is busy until its last train is sent (back-to-back transactions queue),
/// is throttled by the receiver's flow-control credits, and adds propagation.
class PcieLink : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket_tagged_optional<PcieLink> a_in;
  tlm_utils::simple_initiator_socket_tagged_optional<PcieLink> b_out;
  tlm_utils::simple_target_socket_tagged_optional<PcieLink> b_in;
  tlm_utils::simple_initiator_socket_tagged_optional<PcieLink> a_out;

  /// Throws ConfigError naming "link.<field>".
  PcieLink(sc_core::sc_module_name name, const pcie::LinkParams& params);

  const pcie::LinkMath& math() const { return math_; }
  LinkStats stats() const;
  /// Absolute time (since simulation start) until which a direction is reserved.
  sc_core::sc_time busy_until_a_to_b() const;
  sc_core::sc_time busy_until_b_to_a() const;

 private:
  enum End : int { kEndA = 0, kEndB = 1 };
  void b_transport(int from, tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
  unsigned int transport_dbg(int from, tlm::tlm_generic_payload& gp);

  pcie::LinkMath math_;
  pcie::WireState wire_[2];  // [kEndA] = A→B, [kEndB] = B→A
  uint64_t refusals_ = 0;
};

namespace timing_detail {
/// ns per unit of sc_time's resolution (e.g. 0.001 at 1 ps).
double ns_per_sc_unit();
/// sc_time from a non-negative ns figure, rounded to the resolution.
sc_core::sc_time from_ns(double ns);
inline double to_ns(const sc_core::sc_time& t, double ns_per_unit) {
  return double(t.value()) * ns_per_unit;
}
}  // namespace timing_detail

}  // namespace ntblab::model
