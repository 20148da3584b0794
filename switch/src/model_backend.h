// SPDX-License-Identifier: GPL-2.0-only
// The switch process's NodeBackend: node links → the cluster model.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "ntblab/model/cluster.h"
#include "server.h"

namespace ntblab::sw {

/// Maps link i to (node, function) and forwards everything to the Cluster.
class ModelBackend : public NodeBackend {
 public:
  struct LinkTarget {
    unsigned node;
    model::Function fn;
  };
  ModelBackend(model::Cluster& cluster, std::vector<LinkTarget> links);

  /// Needed to raise interrupts; set before the server runs.
  void set_server(Server* s) { server_ = s; }

  std::optional<nl_welcome> attach(unsigned link, const nl_hello& hello, std::unique_ptr<GuestRam> ram,
                                   std::string& reject) override;
  uint32_t cfg_read(unsigned link, uint32_t offset, uint32_t size) override;
  void cfg_write(unsigned link, uint32_t offset, uint32_t size, uint32_t value) override;
  bool mmio_read(unsigned link, unsigned bar, uint64_t offset, uint32_t size, uint64_t& data) override;
  void mmio_write(unsigned link, unsigned bar, uint64_t offset, const uint8_t* data, uint32_t size) override;
  void detach(unsigned link) override;
  uint64_t now_ns() const override;
  bool run_slice() override;

  /// Wall-clock ns since the backend started (the free-running time base).
  double wall_ns() const;

  /// Modelled latency of the last mmio_read or mmio_write, ns.
  double last_latency_ns() const { return last_latency_ns_; }
  /// The node and function behind a link.
  const LinkTarget& target(unsigned link) const { return links_.at(link); }
  size_t links() const { return links_.size(); }
  /// The guest RAM of a node, while one of its links is attached.
  GuestRam* ram(unsigned node) const { return node_ram_.at(node).get(); }

  // Modelled time (SyncEngine): where interrupts go instead of straight to
  // the server (`time_ns` < 0: untimed), and what the model sees as a node's
  // RAM (a wrapper that defers writes to their modelled time).
  std::function<void(unsigned link, bool level, double time_ns)> irq_sink;
  std::function<model::HostMemory*(unsigned node, GuestRam* ram)> wrap_ram;

 private:
  int link_of(unsigned node, model::Function fn) const;
  nl_welcome describe(unsigned link) const;

  model::Cluster& cluster_;
  std::vector<LinkTarget> links_;
  std::vector<std::shared_ptr<GuestRam>> node_ram_;  // per node; shared by its functions
  std::vector<bool> link_up_;
  Server* server_ = nullptr;
  std::chrono::steady_clock::time_point start_;
  double last_latency_ns_ = 0;
};

}  // namespace ntblab::sw
