// SPDX-License-Identifier: GPL-2.0-only
// Private to the model's timing and fabric areas: the one request/completion
// walk that PcieLink and FabricSwitch (src/fabric/) share. A transaction passes a list of request stages, is handed
// to the next component, and (reads) its completions pass a list of completion
// stages back. Each stage is pcie::pass_stage() on one wire.
#pragma once

#include <systemc>
#include <tlm>

#include "ntblab/model/link.h"
#include "ntblab/model/pcie.h"

namespace ntblab::model::timing_detail {

/// One step of a transaction's path inside a module.
struct Stage {
  const pcie::LinkMath* math;  ///< the link's arithmetic
  pcie::WireState* wire;       ///< the direction it uses (contention, counters)
  double latency_ns;           ///< fixed latency before the wire (switch hop, or 0)
  bool timed;                  ///< false: the partner already serialized this wire;
                               ///< count the TLPs but add only the latency
};

/// Walk `gp` through `req` stages, call `forward(gp, delay)` (the next component),
/// then walk read completions through `cpl` stages. Returns false if the next
/// component answered with an error. `delay` follows tlp.h's convention.
template <class Forward>
bool carry(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay, double ns_per_unit,
           const Stage* req, int nreq, const Stage* cpl, int ncpl, Forward&& forward) {
  const double now = to_ns(sc_core::sc_time_stamp(), ns_per_unit);
  const uint64_t addr = gp.get_address();
  const uint64_t len = gp.get_data_length();
  const bool is_read = gp.get_command() == tlm::TLM_READ_COMMAND;
  const bool is_write = gp.get_command() == tlm::TLM_WRITE_COMMAND;

  TrainExtension owned;
  TrainExtension* ext = gp.get_extension<TrainExtension>();
  const bool own = ext == nullptr;
  if (own) {
    ext = &owned;
    gp.set_extension(ext);
  }

  if (!is_read && !is_write) {  // TLM_IGNORE_COMMAND: route only, no wire time
    forward(gp, delay);
    if (own) gp.clear_extension(ext);
    return gp.is_response_ok();
  }

  pcie::TrainAt at{now + to_ns(delay, ns_per_unit), to_ns(ext->request_span, ns_per_unit)};
  for (int i = 0; i < nreq; ++i) {
    const Stage& s = req[i];
    const pcie::TlpTrain train =
        is_read ? s.math->read_request_train(addr, len) : s.math->write_train(addr, len);
    if (s.timed) {
      at = pcie::pass_stage(at, train, s.latency_ns, s.math->params().propagation_ns, s.wire);
    } else {
      at.last_ns += s.latency_ns;
      s.wire->tlps += train.tlps;
      s.wire->payload_bytes += train.payload_bytes;
      s.wire->transactions += 1;
    }
  }
  ext->request_span = from_ns(at.span_ns);
  ext->completion_span = sc_core::SC_ZERO_TIME;
  delay = from_ns(at.last_ns - now);
  forward(gp, delay);
  const bool ok = gp.is_response_ok();

  if (is_read) {
    pcie::TrainAt back{now + to_ns(delay, ns_per_unit), to_ns(ext->completion_span, ns_per_unit)};
    for (int i = 0; i < ncpl; ++i) {
      const Stage& s = cpl[i];
      const pcie::TlpTrain train =
          ok ? s.math->completion_train(addr, len) : s.math->error_completion_train();
      if (s.timed) {
        back = pcie::pass_stage(back, train, s.latency_ns, s.math->params().propagation_ns, s.wire);
      } else {
        back.last_ns += s.latency_ns;
        s.wire->tlps += train.tlps;
        s.wire->payload_bytes += train.payload_bytes;
        s.wire->transactions += 1;
      }
    }
    ext->completion_span = from_ns(back.span_ns);
    delay = from_ns(back.last_ns - now);
  }
  if (own) gp.clear_extension(ext);
  return ok;
}

}  // namespace ntblab::model::timing_detail
