// SPDX-License-Identifier: GPL-2.0-only
// Conventions for TLM-2.0 transactions inside the model.
//
// Every data-path component talks through tlm::tlm_generic_payload and the
// blocking transport interface, loosely timed:
//  - the address is a bus address in the PCIe domain of the socket
//    (host physical on a virtual interface, fabric address on a link side);
//  - b_transport never calls wait(); each component adds its delay to the
//    `delay` argument. On return `delay` is the time, relative to the caller's
//    local time, at which the request was complete at its destination (a posted
//    write: data landed; a read: completion data back at the requester);
//  - a request nobody claims, or one refused by translation, returns
//    tlm::TLM_ADDRESS_ERROR_RESPONSE and leaves data untouched; the requester
//    turns that into an Unsupported Request (reads complete with all ones);
//  - a TlpExtension may carry the requester ID and marks the transfer as bulk
//    (a burst that the timing model splits into max-payload TLPs).
#pragma once

#include <cstdint>
#include <tlm>

namespace ntblab::model {

struct TlpExtension : tlm::tlm_extension<TlpExtension> {
  uint16_t requester_id = 0;   ///< bus/device/function of the requester
  bool bulk = false;           ///< a burst of many TLPs (DMA, memcpy)

  tlm::tlm_extension_base* clone() const override { return new TlpExtension(*this); }
  void copy_from(const tlm::tlm_extension_base& ext) override {
    *this = static_cast<const TlpExtension&>(ext);
  }
};

/// Fill a generic payload for a single access. `data` must outlive the call.
inline void make_request(tlm::tlm_generic_payload& gp, tlm::tlm_command cmd, uint64_t addr,
                         void* data, unsigned len) {
  gp.set_command(cmd);
  gp.set_address(addr);
  gp.set_data_ptr(static_cast<unsigned char*>(data));
  gp.set_data_length(len);
  gp.set_streaming_width(len);
  gp.set_byte_enable_ptr(nullptr);
  gp.set_byte_enable_length(0);
  gp.set_dmi_allowed(false);
  gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
}

}  // namespace ntblab::model
