// SPDX-License-Identifier: GPL-2.0-only
// Analytic path model (see path.h). No SystemC: also compiled into the Python module.
#include "ntblab/model/path.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "ntblab/model/config_error.h"

namespace ntblab::model::pcie {

namespace {
void check_time(double v, const char* field) {
  if (!(v >= 0) || !std::isfinite(v))
    throw ConfigError(field, std::to_string(v) + " is not a finite time >= 0");
}
}  // namespace

PathModel::PathModel(std::vector<LinkParams> links, double hop_latency_ns,
                     double target_latency_ns)
    : hop_ns_(hop_latency_ns), target_ns_(target_latency_ns) {
  if (links.empty()) throw ConfigError("links", "a path needs at least one link");
  check_time(hop_latency_ns, "hop_latency_ns");
  check_time(target_latency_ns, "target_latency_ns");
  links_.reserve(links.size());
  for (size_t i = 0; i < links.size(); ++i)
    links_.emplace_back(links[i], "links[" + std::to_string(i) + "]");
}

PathModel PathModel::uniform(const LinkParams& link, unsigned hops, double hop_latency_ns,
                             double target_latency_ns) {
  return PathModel(std::vector<LinkParams>(hops + 1, link), hop_latency_ns, target_latency_ns);
}

// The stages are the same as in FabricSwitch::b_transport: the first link is
// entered with no latency (the requester's own port), each later link after a
// switch hop.
PathTiming PathModel::write(int64_t bytes, uint64_t addr) const {
  if (bytes < 0) throw ConfigError("bytes", std::to_string(bytes) + " is negative");
  TrainAt at{0.0, 0.0};
  PathTiming r;
  for (size_t i = 0; i < links_.size(); ++i) {
    const TlpTrain train = links_[i].write_train(addr, uint64_t(bytes));
    if (i == 0) r.tlps = train.tlps;
    at = pass_stage(at, train, i == 0 ? 0.0 : hop_ns_, links_[i].params().propagation_ns, nullptr);
  }
  r.latency_ns = at.last_ns + target_ns_;
  r.payload_bytes = uint64_t(bytes);
  return r;
}

PathTiming PathModel::read(int64_t bytes, uint64_t addr) const {
  if (bytes < 0) throw ConfigError("bytes", std::to_string(bytes) + " is negative");
  TrainAt at{0.0, 0.0};
  PathTiming r;
  for (size_t i = 0; i < links_.size(); ++i) {
    const TlpTrain train = links_[i].read_request_train(addr, uint64_t(bytes));
    if (i == 0) r.tlps += train.tlps;
    at = pass_stage(at, train, i == 0 ? 0.0 : hop_ns_, links_[i].params().propagation_ns, nullptr);
  }
  // The target starts completing when the last request has arrived.
  at = TrainAt{at.last_ns + target_ns_, 0.0};
  for (size_t k = links_.size(); k-- > 0;) {
    const TlpTrain train = links_[k].completion_train(addr, uint64_t(bytes));
    if (k == 0) r.tlps += train.tlps;
    at = pass_stage(at, train, k + 1 == links_.size() ? 0.0 : hop_ns_,
                    links_[k].params().propagation_ns, nullptr);
  }
  r.latency_ns = at.last_ns;
  r.payload_bytes = uint64_t(bytes);
  return r;
}

double PathModel::write_stream_gbytes_per_s() const {
  double best = std::numeric_limits<double>::infinity();
  for (const auto& l : links_) {
    const int64_t mps = l.params().max_payload;
    best = std::min(best, l.stream_gbytes_per_s(TlpClass::Posted, mps));
  }
  return best;
}

}  // namespace ntblab::model::pcie
