// SPDX-License-Identifier: GPL-2.0-only
// PcieLink: a point-to-point link as a TLM-2.0 module (see link.h).
#include "ntblab/model/link.h"

#include <cmath>

#include "train_transport.h"

namespace ntblab::model {

namespace timing_detail {
double ns_per_sc_unit() { return sc_core::sc_get_time_resolution().to_seconds() * 1e9; }

sc_core::sc_time from_ns(double ns) {
  static const double units_per_ns = 1.0 / ns_per_sc_unit();
  if (!(ns > 0)) return sc_core::SC_ZERO_TIME;
  return sc_core::sc_time::from_value(sc_dt::uint64(std::llround(ns * units_per_ns)));
}
}  // namespace timing_detail

namespace {
DirectionStats to_stats(const pcie::WireState& w) {
  return {w.transactions, w.tlps, w.payload_bytes, w.busy_ns};
}
}  // namespace

PcieLink::PcieLink(sc_core::sc_module_name name, const pcie::LinkParams& params)
    : sc_module(name),
      a_in("a_in"),
      b_out("b_out"),
      b_in("b_in"),
      a_out("a_out"),
      math_(params, "link") {
  a_in.register_b_transport(this, &PcieLink::b_transport, kEndA);
  b_in.register_b_transport(this, &PcieLink::b_transport, kEndB);
  a_in.register_transport_dbg(this, &PcieLink::transport_dbg, kEndA);
  b_in.register_transport_dbg(this, &PcieLink::transport_dbg, kEndB);
}

void PcieLink::b_transport(int from, tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  using timing_detail::Stage;
  static const double ns_per_unit = timing_detail::ns_per_sc_unit();
  const int to = from == kEndA ? kEndB : kEndA;
  // Requests use the direction away from `from`; completions the way back.
  const Stage req{&math_, &wire_[from], 0.0, true};
  const Stage cpl{&math_, &wire_[to], 0.0, true};
  auto& out = from == kEndA ? b_out : a_out;
  if (out.size() == 0) {  // nothing on the far end: Unsupported Request
    ++refusals_;
    gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return;
  }
  const bool ok = timing_detail::carry(gp, delay, ns_per_unit, &req, 1, &cpl, 1,
                                       [&](tlm::tlm_generic_payload& g, sc_core::sc_time& d) {
                                         out->b_transport(g, d);
                                       });
  if (!ok) ++refusals_;
}

unsigned int PcieLink::transport_dbg(int from, tlm::tlm_generic_payload& gp) {
  auto& out = from == kEndA ? b_out : a_out;
  return out.size() ? out->transport_dbg(gp) : 0;
}

LinkStats PcieLink::stats() const {
  return {to_stats(wire_[kEndA]), to_stats(wire_[kEndB]), refusals_};
}

sc_core::sc_time PcieLink::busy_until_a_to_b() const {
  return timing_detail::from_ns(wire_[kEndA].busy_until_ns);
}
sc_core::sc_time PcieLink::busy_until_b_to_a() const {
  return timing_detail::from_ns(wire_[kEndB].busy_until_ns);
}

}  // namespace ntblab::model
