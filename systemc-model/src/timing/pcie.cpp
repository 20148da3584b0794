// SPDX-License-Identifier: GPL-2.0-only
// PCIe link arithmetic (see pcie.h and docs/timing-model.md). No SystemC here:
// this file is also compiled into the Python module.
#include "ntblab/model/pcie.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "ntblab/model/config_error.h"

namespace ntblab::model::pcie {

namespace {

// GT/s per lane and encoding per generation: PCIe Base Spec 1.0a, 2.0, 3.0, 4.0.
constexpr std::array<GenerationInfo, 4> kGenerations{{
    {1, 2.5, 8, 10, "8b/10b"},
    {2, 5.0, 8, 10, "8b/10b"},
    {3, 8.0, 128, 130, "128b/130b"},
    {4, 16.0, 128, 130, "128b/130b"},
}};

// Port widths of the PEX8749 (PCIe also allows x12 and x32; the chip does not).
constexpr std::array<unsigned, 5> kWidths{1, 2, 4, 8, 16};

constexpr double kBitsPerByte = 8.0;

std::string join(const std::string& prefix, const char* field) {
  return prefix.empty() ? std::string(field) : prefix + "." + field;
}

bool is_power_of_two(unsigned v) { return v != 0 && (v & (v - 1)) == 0; }

uint64_t round_up_dw(uint64_t bytes) {
  return (bytes + kDwordBytes - 1) / kDwordBytes * kDwordBytes;
}

void check_non_negative(int64_t v, const char* field) {
  if (v < 0) throw ConfigError(field, std::to_string(v) + " is negative");
}

}  // namespace

const GenerationInfo& generation_info(unsigned generation, const std::string& field) {
  for (const auto& g : kGenerations)
    if (g.generation == generation) return g;
  throw ConfigError(field, std::to_string(generation) + " is not a PCIe generation (1..4)");
}

void check_width(unsigned width, const std::string& field) {
  if (std::find(kWidths.begin(), kWidths.end(), width) == kWidths.end())
    throw ConfigError(field, std::to_string(width) + " is not one of 1, 2, 4, 8, 16");
}

double raw_gbps(unsigned generation, unsigned width) {
  check_width(width);
  return generation_info(generation).gigatransfers * width;
}

double data_gbps(unsigned generation, unsigned width) {
  const auto& g = generation_info(generation);
  return raw_gbps(generation, width) * g.payload_bits / g.line_bits;
}

void LinkParams::validate(const std::string& prefix) const {
  generation_info(generation, join(prefix, "generation"));
  check_width(width, join(prefix, "width"));
  if (!is_power_of_two(max_payload) || max_payload < kMinMaxPayload || max_payload > kMaxMaxPayload)
    throw ConfigError(join(prefix, "max_payload"),
                      std::to_string(max_payload) + " is not a power of two in 128..2048");
  if (!is_power_of_two(max_read_request) || max_read_request < kMinMaxPayload ||
      max_read_request > kMaxReadRequest)
    throw ConfigError(join(prefix, "max_read_request"),
                      std::to_string(max_read_request) + " is not a power of two in 128..4096");
  if (read_completion_boundary != 64 && read_completion_boundary != 128)
    throw ConfigError(join(prefix, "read_completion_boundary"),
                      std::to_string(read_completion_boundary) + " is not 64 or 128");
  if (header_bytes != kHeader3DWBytes && header_bytes != kHeader4DWBytes)
    throw ConfigError(join(prefix, "header_bytes"),
                      std::to_string(header_bytes) + " is not 12 (3DW) or 16 (4DW)");
  if (!(propagation_ns >= 0) || !std::isfinite(propagation_ns))
    throw ConfigError(join(prefix, "propagation_ns"), std::to_string(propagation_ns) +
                                                          " is not a finite time >= 0");
  if (!(update_fc_latency_ns >= 0) || !std::isfinite(update_fc_latency_ns))
    throw ConfigError(join(prefix, "update_fc_latency_ns"),
                      std::to_string(update_fc_latency_ns) + " is not a finite time >= 0");
  // A receiver must have room for one TLP of the largest size (PCIe Base Spec §2.6.1).
  const unsigned mps_units = max_payload / kCreditUnitBytes;
  auto check_data = [&](unsigned credits, const char* name, unsigned need) {
    if (credits != 0 && credits < need)
      throw ConfigError(join(prefix, name), std::to_string(credits) +
                                                " data credits cannot hold one TLP of " +
                                                std::to_string(need * kCreditUnitBytes) + " B");
  };
  check_data(credits.posted_data, "credits.posted_data", mps_units);
  check_data(credits.completion_data, "credits.completion_data", mps_units);
  check_data(credits.nonposted_data, "credits.nonposted_data", 1);
}

// ---------------------------------------------------------------------------

LinkMath::LinkMath(const LinkParams& params, const std::string& prefix) : p_(params) {
  p_.validate(prefix);
  const auto& g = generation_info(p_.generation);
  // B/ns = GT/s × lanes × (payload bits / line bits) / 8
  const double bytes_per_ns =
      g.gigatransfers * p_.width * g.payload_bits / g.line_bits / kBitsPerByte;
  byte_ns_ = 1.0 / bytes_per_ns;
  skp_factor_ = p_.dllp.skp
                    ? double(kSkpIntervalSymbols) / double(kSkpIntervalSymbols - kSkpSymbols)
                    : 1.0;
  dllp_bytes_ = 0;
  if (p_.dllp.tlps_per_ack) dllp_bytes_ += double(kDllpBytes) / p_.dllp.tlps_per_ack;
  if (p_.dllp.tlps_per_update_fc) dllp_bytes_ += double(kDllpBytes) / p_.dllp.tlps_per_update_fc;
}

double LinkMath::raw_gbps() const { return pcie::raw_gbps(p_.generation, p_.width); }
double LinkMath::data_gbps() const { return pcie::data_gbps(p_.generation, p_.width); }

uint64_t LinkMath::tlp_wire_bytes(int64_t payload, unsigned header_bytes) const {
  check_non_negative(payload, "payload");
  if (payload > kMaxTlpPayload)
    throw ConfigError("payload", std::to_string(payload) + " B is more than a TLP carries (4096)");
  if (header_bytes != kHeader3DWBytes && header_bytes != kHeader4DWBytes)
    throw ConfigError("header_bytes", std::to_string(header_bytes) + " is not 12 or 16");
  return kTlpEnvelopeBytes + header_bytes + (p_.ecrc ? kEcrcBytes : 0) +
         round_up_dw(uint64_t(payload));
}

double LinkMath::own_ns(uint64_t payload, unsigned header) const {
  return double(kTlpEnvelopeBytes + header + (p_.ecrc ? kEcrcBytes : 0) + round_up_dw(payload)) *
         byte_ns_;
}

double LinkMath::slot_ns(uint64_t payload, unsigned header) const {
  const double bytes =
      double(kTlpEnvelopeBytes + header + (p_.ecrc ? kEcrcBytes : 0) + round_up_dw(payload)) +
      dllp_bytes_;
  return bytes * byte_ns_ * skp_factor_;
}

double LinkMath::tlp_time_ns(int64_t payload) const {
  return double(tlp_wire_bytes(payload)) * byte_ns_;
}

double LinkMath::tlp_slot_ns(int64_t payload) const {
  tlp_wire_bytes(payload);  // validates
  return slot_ns(uint64_t(payload), p_.header_bytes);
}

double LinkMath::efficiency(int64_t payload) const {
  const double wire = double(tlp_wire_bytes(payload)) + dllp_bytes_;
  return double(payload) / (wire * skp_factor_);
}

double LinkMath::payload_gbytes_per_s(int64_t payload) const {
  return double(payload) / tlp_slot_ns(payload);  // B/ns == GB/s
}

uint64_t LinkMath::credit_window(TlpClass cls, int64_t payload) const {
  check_non_negative(payload, "payload");
  unsigned hdr = 0, data = 0;
  switch (cls) {
    case TlpClass::Posted: hdr = p_.credits.posted_header; data = p_.credits.posted_data; break;
    case TlpClass::NonPosted: hdr = p_.credits.nonposted_header; data = p_.credits.nonposted_data; break;
    case TlpClass::Completion: hdr = p_.credits.completion_header; data = p_.credits.completion_data; break;
  }
  uint64_t window = 0;  // 0 = unlimited
  if (hdr) window = hdr;
  const uint64_t units = (uint64_t(payload) + kCreditUnitBytes - 1) / kCreditUnitBytes;
  if (data && units) {
    const uint64_t by_data = std::max<uint64_t>(1, data / units);
    window = window ? std::min(window, by_data) : by_data;
  }
  return window;
}

double LinkMath::credit_round_trip_ns(int64_t payload) const {
  // TLP serialized, flies, receiver frees the buffer and schedules an UpdateFC,
  // the DLLP is serialized and flies back.
  return tlp_time_ns(payload) + p_.propagation_ns + p_.update_fc_latency_ns +
         double(kDllpBytes) * byte_ns_ + p_.propagation_ns;
}

double LinkMath::pace_ns(TlpClass cls, uint64_t payload, unsigned header) const {
  const double slot = slot_ns(payload, header);
  const uint64_t window = credit_window(cls, int64_t(payload));
  if (window == 0) return slot;
  const double rtt = own_ns(payload, header) + 2 * p_.propagation_ns + p_.update_fc_latency_ns +
                     double(kDllpBytes) * byte_ns_;
  return std::max(slot, rtt / double(window));
}

double LinkMath::tlp_pace_ns(TlpClass cls, int64_t payload) const {
  tlp_wire_bytes(payload);
  return pace_ns(cls, uint64_t(payload), p_.header_bytes);
}

double LinkMath::stream_gbytes_per_s(TlpClass cls, int64_t payload) const {
  return double(payload) / tlp_pace_ns(cls, payload);
}

unsigned LinkMath::request_header(uint64_t addr) const {
  return addr >= k4DWAddressThreshold ? kHeader4DWBytes : p_.header_bytes;
}

TlpTrain LinkMath::make_train(TlpClass cls, unsigned header, const Piece* pieces, int n) const {
  TlpTrain t;
  const Piece* first = nullptr;
  const Piece* last = nullptr;
  for (int i = 0; i < n; ++i) {
    const Piece& pc = pieces[i];
    if (pc.count == 0) continue;
    if (!first) first = &pc;
    last = &pc;
    t.tlps += pc.count;
    t.payload_bytes += pc.payload * pc.count;
    t.wire_bytes += (kTlpEnvelopeBytes + header + (p_.ecrc ? kEcrcBytes : 0) +
                     round_up_dw(pc.payload)) * pc.count;
    t.occupancy_ns += pace_ns(cls, pc.payload, header) * double(pc.count);
    t.wire_ns += slot_ns(pc.payload, header) * double(pc.count);
  }
  if (!first) return t;
  t.first_ns = own_ns(first->payload, header);
  t.last_ns = own_ns(last->payload, header);
  // Back to back: every TLP but the last takes its pace; the last only itself.
  t.span_ns = t.occupancy_ns - pace_ns(cls, last->payload, header) + t.last_ns;
  return t;
}

TlpTrain LinkMath::write_train(uint64_t addr, uint64_t bytes) const {
  const uint64_t mps = p_.max_payload;
  Piece pieces[2] = {{mps, bytes / mps}, {bytes % mps, bytes % mps ? 1u : 0u}};
  if (bytes == 0) pieces[1] = {0, 1};  // a zero-length write is still one TLP
  return make_train(TlpClass::Posted, request_header(addr), pieces, 2);
}

TlpTrain LinkMath::read_request_train(uint64_t addr, uint64_t bytes) const {
  const uint64_t requests = std::max<uint64_t>(1, (bytes + p_.max_read_request - 1) / p_.max_read_request);
  Piece pieces[1] = {{0, requests}};
  return make_train(TlpClass::NonPosted, request_header(addr), pieces, 1);
}

TlpTrain LinkMath::completion_train(uint64_t addr, uint64_t bytes) const {
  const uint64_t mps = p_.max_payload;
  const uint64_t rcb = p_.read_completion_boundary;
  if (bytes == 0) {
    Piece one[1] = {{0, 1}};
    return make_train(TlpClass::Completion, kCompletionHeaderBytes, one, 1);
  }
  // The first completion ends on the last RCB boundary within MPS of the start;
  // later ones start RCB-aligned and carry MPS (a multiple of RCB) each.
  const uint64_t first_end = (addr + mps) / rcb * rcb;
  const uint64_t first = std::min(bytes, first_end - addr);
  const uint64_t rest = bytes - first;
  Piece pieces[3] = {{first, 1}, {mps, rest / mps}, {rest % mps, rest % mps ? 1u : 0u}};
  return make_train(TlpClass::Completion, kCompletionHeaderBytes, pieces, 3);
}

TlpTrain LinkMath::error_completion_train() const {
  Piece one[1] = {{0, 1}};
  return make_train(TlpClass::Completion, kCompletionHeaderBytes, one, 1);
}

double LinkMath::transfer_time_ns(int64_t bytes) const {
  check_non_negative(bytes, "bytes");
  return write_train(0, uint64_t(bytes)).span_ns;
}

// ---------------------------------------------------------------------------

TrainAt pass_stage(const TrainAt& in, const TlpTrain& train, double latency_ns,
                   double propagation_ns, WireState* wire) {
  const double first_in = in.last_ns - in.span_ns;
  double start = first_in + latency_ns;
  if (wire && wire->busy_until_ns > start) start = wire->busy_until_ns;
  const double first_end = start + train.first_ns;
  const double end = std::max(start + train.span_ns, in.last_ns + latency_ns + train.last_ns);
  if (wire) {
    wire->busy_until_ns = start + train.occupancy_ns;
    wire->busy_ns += train.wire_ns;
    wire->tlps += train.tlps;
    wire->payload_bytes += train.payload_bytes;
    wire->transactions += 1;
  }
  return {end + propagation_ns, end - first_end};
}

}  // namespace ntblab::model::pcie
