// SPDX-License-Identifier: GPL-2.0-only
// Analytic model of one path through the fabric: link, switch hop, link, ...
// Pure C++ (no SystemC), for sweeps from C++ and Python. It runs the very
// pass_stage() steps that PcieLink and FabricSwitch run, without contention, so
// an idle fabric in SystemC and this model agree to the picosecond.
#pragma once

#include <cstdint>
#include <vector>

#include "ntblab/model/pcie.h"

namespace ntblab::model::pcie {

/// PEX8749 cut-through latency, x16 to x16, ns (PEX8749 product brief; docs/sources.md).
inline constexpr double kPex8749HopLatencyNs = 126.0;

/// Timing of one transfer along a path.
struct PathTiming {
  double latency_ns = 0;      ///< request issued → write data landed / read data back
  uint64_t tlps = 0;          ///< TLPs on the first link (requests + completions for reads)
  uint64_t payload_bytes = 0; ///< data moved
  double throughput_gbytes_per_s() const {
    return latency_ns > 0 ? double(payload_bytes) / latency_ns : 0.0;
  }
};

/// A path of links[0], hop, links[1], hop, ..., links[n]: n switch hops.
class PathModel {
 public:
  /// `links` from the requester to the target (at least one). Throws ConfigError
  /// naming "links[i].field" or "hop_latency_ns"/"target_latency_ns".
  PathModel(std::vector<LinkParams> links, double hop_latency_ns = kPex8749HopLatencyNs,
            double target_latency_ns = 0.0);
  /// `hops` switches between hops + 1 identical links.
  static PathModel uniform(const LinkParams& link, unsigned hops,
                           double hop_latency_ns = kPex8749HopLatencyNs,
                           double target_latency_ns = 0.0);

  unsigned hops() const { return unsigned(links_.size() - 1); }
  const std::vector<LinkMath>& links() const { return links_; }

  /// A posted write of `bytes` at `addr`: time until the last byte has landed.
  PathTiming write(int64_t bytes, uint64_t addr = 0) const;
  /// A read: requests out, target latency, completions back to the requester.
  PathTiming read(int64_t bytes, uint64_t addr = 0) const;
  /// Steady-state payload throughput of a stream of writes (the slowest link), GB/s.
  double write_stream_gbytes_per_s() const;

 private:
  std::vector<LinkMath> links_;
  double hop_ns_;
  double target_ns_;
};

}  // namespace ntblab::model::pcie
