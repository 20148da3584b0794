// SPDX-License-Identifier: GPL-2.0-only
// PCIe link arithmetic: pure C++, no SystemC.
//
// Everything the timing model knows about a PCIe link lives here: line rates and
// encodings per generation, what a TLP costs on the wire, how a transfer is split
// into TLPs, the share of DLLPs and SKP ordered sets, credit-based flow control,
// and one pipeline step (`pass_stage`) that the SystemC modules (PcieLink,
// FabricSwitch) and the pure path model (path.h, Python) all use, so a study in
// Python and the simulated fabric compute the same numbers.
//
// Units: bytes (B), nanoseconds (ns), GB/s = 1e9 B/s, Gbps = 1e9 bit/s.
// Every equation is written out in docs/timing-model.md.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

namespace ntblab::model::pcie {

// ---------------------------------------------------------------------------
// Constants (unit, source)

/// Physical-layer framing per TLP, B (STP + END symbols on 8b/10b links; Gen3's
/// 4-byte STP token carries the sequence number, same 8 B total with it and LCRC).
/// PCIe Base Spec 3.0 §4.2.2/§4.2.3; docs/sources.md "PCIe link arithmetic".
inline constexpr unsigned kFramingBytes = 2;
/// Data-link-layer sequence number, B. PCIe Base Spec §3.6.
inline constexpr unsigned kSequenceBytes = 2;
/// Link CRC, B. PCIe Base Spec §3.6.
inline constexpr unsigned kLcrcBytes = 4;
/// Everything a TLP carries on the wire besides its header, ECRC and payload, B.
inline constexpr unsigned kTlpEnvelopeBytes = kFramingBytes + kSequenceBytes + kLcrcBytes;
/// TLP header with 32-bit addresses (3 DW), B. PCIe Base Spec §2.2.
inline constexpr unsigned kHeader3DWBytes = 12;
/// TLP header with 64-bit addresses (4 DW), B. PCIe Base Spec §2.2.
inline constexpr unsigned kHeader4DWBytes = 16;
/// Completion header (always 3 DW), B. PCIe Base Spec §2.2.9.
inline constexpr unsigned kCompletionHeaderBytes = 12;
/// End-to-end CRC (TLP digest), B, when ECRC is enabled. PCIe Base Spec §2.7.
inline constexpr unsigned kEcrcBytes = 4;
/// Payload granularity, B: payloads are whole double words. PCIe Base Spec §2.2.
inline constexpr unsigned kDwordBytes = 4;
/// One DLLP (ACK, UpdateFC) on the wire incl. framing, B (6 B + 2 B framing). docs/sources.md.
inline constexpr unsigned kDllpBytes = 8;
/// Symbols of one SKP ordered set (COM + 3 SKP). PCIe Base Spec §4.2.7; docs/sources.md.
inline constexpr unsigned kSkpSymbols = 4;
/// Symbol times between SKP ordered sets (the spec's upper bound, 1180..1538). docs/sources.md.
inline constexpr unsigned kSkpIntervalSymbols = 1538;
/// Flow-control data credit, B. PCIe Base Spec §2.6.1.
inline constexpr unsigned kCreditUnitBytes = 16;
/// The address above which requests need a 4DW header, B (4 GiB).
inline constexpr uint64_t k4DWAddressThreshold = uint64_t{1} << 32;

/// Smallest max payload size, B. PCIe Base Spec §7.8.4 (Device Control).
inline constexpr unsigned kMinMaxPayload = 128;
/// Largest max payload size the PEX8749 supports, B. PEX8749 product brief; docs/sources.md.
inline constexpr unsigned kMaxMaxPayload = 2048;
/// Largest max read request size, B. PCIe Base Spec §7.8.4.
inline constexpr unsigned kMaxReadRequest = 4096;
/// Largest TLP payload the spec allows, B (bounds sweep inputs). PCIe Base Spec §2.2.2.
inline constexpr unsigned kMaxTlpPayload = 4096;

/// Default propagation delay per link direction, ns: ~30 cm of FR-4 trace at
/// ~15 cm/ns. An assumption; set it for cables (~5 ns/m) or retimers.
inline constexpr double kDefaultPropagationNs = 2.0;
/// Default time from a receiver freeing buffer space to its UpdateFC DLLP leaving,
/// ns. An assumption (the spec gives only guidelines in symbol times, §2.6.1.2).
inline constexpr double kDefaultUpdateFcLatencyNs = 100.0;

// ---------------------------------------------------------------------------
// Generations and widths

/// Line rate and encoding of one PCIe generation.
struct GenerationInfo {
  unsigned generation;      ///< 1..4
  double gigatransfers;     ///< GT/s per lane: 2.5, 5, 8, 16 (PCIe Base Spec 1.0..4.0)
  unsigned payload_bits;    ///< encoding: data bits per code word (8 or 128)
  unsigned line_bits;       ///< encoding: line bits per code word (10 or 130)
  const char* encoding;     ///< "8b/10b" or "128b/130b"
};

/// The generation's line rate and encoding; throws ConfigError(field) for 0, 5, ...
const GenerationInfo& generation_info(unsigned generation, const std::string& field = "generation");
/// Throws ConfigError(field) unless width is 1, 2, 4, 8 or 16 (the PEX8749's port widths).
void check_width(unsigned width, const std::string& field = "width");

/// Raw line rate of a link, Gbps = GT/s × lanes (the paper's Table 2).
double raw_gbps(unsigned generation, unsigned width);
/// Bit rate left after 8b/10b or 128b/130b encoding, Gbps.
double data_gbps(unsigned generation, unsigned width);

// ---------------------------------------------------------------------------
// Link parameters

/// How many DLLPs share the wire with TLPs, and whether SKP ordered sets are counted.
struct DllpPolicy {
  unsigned tlps_per_ack = 1;        ///< one ACK DLLP per this many TLPs (0: not counted)
  unsigned tlps_per_update_fc = 1;  ///< one UpdateFC DLLP per this many TLPs (0: not counted)
  bool skp = true;                  ///< count SKP ordered sets (4 symbols per 1538)

  /// One ACK and one UpdateFC per TLP, SKP counted: the 87.4 % case (Medury 2010).
  static DllpPolicy per_tlp() { return {1, 1, true}; }
  /// TLPs only: no DLLPs, no SKP (the 92.75 % case, docs/sources.md's GB/s figures).
  static DllpPolicy tlp_only() { return {0, 0, false}; }
};

/// Kind of TLP, which decides the flow-control credit pool it draws from.
enum class TlpClass : uint8_t { Posted, NonPosted, Completion };

/// Credits a receiver advertises (header credits count TLPs, data credits count
/// 16-byte units). 0 means infinite, as in the PCIe spec's initial FC values.
struct FlowCredits {
  unsigned posted_header = 0;
  unsigned posted_data = 0;
  unsigned nonposted_header = 0;
  unsigned nonposted_data = 0;
  unsigned completion_header = 0;
  unsigned completion_data = 0;
};

/// One PCIe link (both directions alike): rate, sizes, overheads, flow control.
struct LinkParams {
  unsigned generation = 3;                ///< 1..4
  unsigned width = 8;                     ///< lanes: 1, 2, 4, 8, 16
  unsigned max_payload = 256;             ///< MPS, B: 128..2048, power of two
  unsigned max_read_request = 512;        ///< MRRS, B: 128..4096, power of two
  unsigned read_completion_boundary = 64; ///< RCB, B: 64 or 128
  unsigned header_bytes = kHeader3DWBytes;///< request header below 4 GiB: 12 (3DW) or 16 (4DW)
  bool ecrc = false;                      ///< TLP digest on every TLP
  DllpPolicy dllp = DllpPolicy::per_tlp();
  double propagation_ns = kDefaultPropagationNs;       ///< flight time per direction, ns
  FlowCredits credits;                    ///< what each receiver advertises (0 = infinite)
  double update_fc_latency_ns = kDefaultUpdateFcLatencyNs;  ///< receiver's UpdateFC latency, ns

  /// Throws ConfigError naming the field, prefixed: validate("ports[3]") → "ports[3].width".
  void validate(const std::string& prefix = "") const;
};

// ---------------------------------------------------------------------------
// A train of TLPs on one link

/// The TLPs of one transaction on one link direction, with their times.
struct TlpTrain {
  uint64_t tlps = 0;           ///< number of TLPs
  uint64_t payload_bytes = 0;  ///< data carried
  uint64_t wire_bytes = 0;     ///< TLP bytes on the wire (no DLLP, no SKP)
  double first_ns = 0;         ///< serialization of the first TLP alone
  double last_ns = 0;          ///< serialization of the last TLP alone
  double span_ns = 0;          ///< start of the first TLP to end of the last, back to back
  double occupancy_ns = 0;     ///< time the direction is taken: span + the last TLP's share
                               ///< of DLLPs/SKP, paced by credits
  double wire_ns = 0;          ///< time the wire actually transmits (incl. DLLP/SKP share)
};

/// Precomputed arithmetic for one validated LinkParams. Cheap to copy.
class LinkMath {
 public:
  explicit LinkMath(const LinkParams& params, const std::string& prefix = "");

  const LinkParams& params() const { return p_; }
  double raw_gbps() const;            ///< GT/s × lanes
  double data_gbps() const;           ///< after encoding
  double byte_ns() const { return byte_ns_; }  ///< ns per byte on the wire after encoding
  /// Time multiplier for SKP ordered sets: 1538 / (1538 − 4), or 1 if not counted.
  double skp_factor() const { return skp_factor_; }
  /// DLLP bytes charged to each TLP by the policy (8/tlps_per_ack + 8/tlps_per_update_fc).
  double dllp_bytes_per_tlp() const { return dllp_bytes_; }

  /// Wire bytes of one TLP: envelope 8 + header + ECRC + payload rounded up to DW.
  uint64_t tlp_wire_bytes(int64_t payload, unsigned header_bytes) const;
  uint64_t tlp_wire_bytes(int64_t payload) const { return tlp_wire_bytes(payload, p_.header_bytes); }
  /// Serialization of one TLP alone (its own bytes), ns.
  double tlp_time_ns(int64_t payload) const;
  /// Wire time charged per TLP in a stream: TLP + DLLP share, × SKP factor, ns.
  double tlp_slot_ns(int64_t payload) const;
  /// Protocol efficiency: payload / (TLP + DLLP share) / SKP factor.
  double efficiency(int64_t payload) const;
  /// Payload throughput of a stream of such TLPs at wire speed, GB/s.
  double payload_gbytes_per_s(int64_t payload) const;

  /// Flow control: TLPs in flight allowed by the receiver's credits (0 = unlimited).
  uint64_t credit_window(TlpClass cls, int64_t payload) const;
  /// Credit round trip: TLP out, received, UpdateFC latency, DLLP back, ns.
  double credit_round_trip_ns(int64_t payload) const;
  /// Time charged per TLP in a stream when credits are counted: max(slot, RTT / window), ns.
  double tlp_pace_ns(TlpClass cls, int64_t payload) const;
  /// Payload throughput of a stream including credit throttling, GB/s.
  double stream_gbytes_per_s(TlpClass cls, int64_t payload) const;

  /// A posted write of `bytes` split into max-payload TLPs.
  TlpTrain write_train(uint64_t addr, uint64_t bytes) const;
  /// The read requests for `bytes` (one per max read request size), no data.
  TlpTrain read_request_train(uint64_t addr, uint64_t bytes) const;
  /// Completions with data for a read of `bytes` at `addr`, split at RCB/MPS
  /// (a completion ends on an RCB boundary unless it is the last).
  TlpTrain completion_train(uint64_t addr, uint64_t bytes) const;
  /// A completion without data (an error completion for a refused read).
  TlpTrain error_completion_train() const;

  /// Serialization of a bulk posted write of `bytes`, back to back, ns.
  double transfer_time_ns(int64_t bytes) const;

 private:
  struct Piece { uint64_t payload; uint64_t count; };
  TlpTrain make_train(TlpClass cls, unsigned header, const Piece* pieces, int n) const;
  double own_ns(uint64_t payload, unsigned header) const;
  double slot_ns(uint64_t payload, unsigned header) const;
  double pace_ns(TlpClass cls, uint64_t payload, unsigned header) const;
  unsigned request_header(uint64_t addr) const;

  LinkParams p_;
  double byte_ns_ = 0;
  double skp_factor_ = 1;
  double dllp_bytes_ = 0;
};

// ---------------------------------------------------------------------------
// One pipeline step, shared by PcieLink, FabricSwitch and PathModel

/// A train of TLPs at one point of its path (absolute times, ns).
struct TrainAt {
  double last_ns = 0;  ///< the last TLP is completely received here
  double span_ns = 0;  ///< from the first TLP completely received to the last
};

/// One link direction as a shared resource (contention and statistics).
struct WireState {
  double busy_until_ns = -std::numeric_limits<double>::infinity();  ///< reserved until
  double busy_ns = 0;   ///< modelled transmit time so far (incl. DLLP/SKP share)
  uint64_t tlps = 0;
  uint64_t payload_bytes = 0;
  uint64_t transactions = 0;
};

/// Pass a train through a fixed latency (a switch hop, or 0) and onto a wire.
/// TLPs are stored and forwarded one by one (never the whole burst), so
///   start = max(first TLP in + latency, wire free)
///   end   = max(start + train.span, last TLP in + latency + last TLP's serialization)
///   wire reserved until start + train.occupancy   (work-conserving, see docs)
/// The result is the train at the far end, `propagation_ns` later.
/// `wire` may be null (no contention: the pure path model).
TrainAt pass_stage(const TrainAt& in, const TlpTrain& train, double latency_ns,
                   double propagation_ns, WireState* wire);

}  // namespace ntblab::model::pcie
