// SPDX-License-Identifier: GPL-2.0-only
// Modelled time in the switch process: the node links' messages go through
// the conservative scheduler (sync/scheduler.h), which runs them through the
// model at their guest time and hands the model's effects (completions,
// interrupts, data landing in guest RAM) back to the nodes at their modelled
// time. docs/modelled-time.md describes the modes; docs/node-link-protocol.md
// the messages (PARK, GRANT, node_seq, non-posted register writes).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "model_backend.h"
#include "server.h"
#include "sync/scheduler.h"

namespace ntblab::sw {

struct SyncConfig {
  /// Exact: every effect at its modelled ns; the lookahead is the model's
  /// shortest cross-node latency. Otherwise quantum: rounds of `quantum_ns`,
  /// effects at the first round boundary at or after their time.
  bool exact = false;
  uint64_t quantum_ns = 100000;
  /// Exact mode only: start in quantum rounds, go exact when a guest writes
  /// the exact-time marker (kMarkerOffset in the NT function's config space).
  bool exact_from_marker = false;
};

/// The lab-only exact-time marker: a 4-byte config write of kMarkerValue at
/// this offset of the NT function (docs/modelled-time.md, "Modes").
inline constexpr uint32_t kMarkerOffset = 0xFF0;
inline constexpr uint32_t kMarkerValue = 0x6e746221;  // "!btn"
/// The lab-only leave marker, kLeaveValue written to the same place: the
/// node's host powers off now (the guest agent writes it before it powers
/// the guest off). Its link goes down at this time, not when its QEMU's
/// sockets close later at a moment the host decides.
inline constexpr uint32_t kLeaveValue = 0x21657962;  // "bye!"

class SyncEngine : public LinkSync {
 public:
  SyncEngine(Server& server, ModelBackend& backend, model::Cluster& cluster, SyncConfig config);
  ~SyncEngine() override;

  uint32_t welcome_flags(unsigned link) const override;
  void on_message(unsigned link, const Message& m) override;
  void on_close(unsigned link) override;

  /// Scheduler counters, trace hash, rounds, mode: the "sync" part of the
  /// switch's statistics.
  nlohmann::json stats() const;
  /// Log sink (one line per event worth a person's attention).
  std::function<void(const std::string&)> log = [](const std::string&) {};
  /// Called once if the run can make no progress (every node waits and nothing
  /// can wake it); the switch then shuts down with this message.
  std::function<void(const std::string&)> on_deadlock = [](const std::string&) {};

 private:
  class TimedRam;
  struct NodeState {
    int clock_link = -1;          ///< the NT function's link
    std::vector<int> links;       ///< by function (NL_FN_*), -1 if none
    bool started = false;         ///< its first PARK arrived
    bool closed = false;
    uint32_t next_seq = 1;        ///< node_seq expected next
    std::map<uint32_t, std::pair<unsigned, Message>> pending;  ///< out-of-order arrivals
    std::unique_ptr<TimedRam> ram;
  };

  void accept(unsigned node, unsigned link, const Message& m);
  void pump();
  void execute(const sync::Request& r, sync::Time now);
  void deliver(sync::NodeId node, const sync::Effect& e);
  void grant(sync::NodeId node, sync::Time until);
  void post_ram_write(unsigned node, double landed_ns, uint64_t addr, const void* data, size_t len);
  void post_irq(unsigned link, bool level, double time_ns);
  void serve_setup(unsigned link, const Message& m);
  void go_exact(sync::Time at);
  sync::Time lookahead_ns(unsigned from) const;

  Server& server_;
  ModelBackend& backend_;
  model::Cluster& cluster_;
  SyncConfig config_;
  std::unique_ptr<sync::Scheduler> sched_;
  std::FILE* trace_file_ = nullptr;  ///< NTBLAB_SYNC_TRACE
  std::vector<NodeState> nodes_;
  bool exact_now_ = false;        ///< rounds are exact (not quantum) now
  sync::Time exact_since_ = 0;
  bool running_ = false;          ///< every node has started
  bool pumping_ = false;
  bool deadlocked_ = false;
  // The request being executed: effects it causes are timed from it.
  bool in_request_ = false;
  unsigned cur_node_ = 0;
  sync::Time now_ = 0;
  double cur_latency_ns_ = 0;
  struct PendingIrq {
    unsigned link;
    bool level;
    double time_ns;
  };
  std::vector<PendingIrq> irqs_;
  std::vector<uint64_t> closed_for_violation_;
  uint64_t deferred_effects_ = 0;  ///< quantum mode: effects taken at the next round
  uint64_t setup_requests_ = 0;
  // BAR reads' modelled latency (what a guest's clock should see them take).
  uint64_t mmio_reads_ = 0;
  sync::Time read_ns_min_ = sync::kNever, read_ns_max_ = 0;
  std::map<std::string, std::pair<sync::Time, sync::Time>> read_ns_by_bar_;  ///< "2", "dma0": min, max
  /// Posted writes landing in another node's RAM, by size: request to landed.
  std::map<std::string, std::pair<sync::Time, sync::Time>> posted_write_ns_by_bytes_;
  bool cur_posted_ = false;
};

}  // namespace ntblab::sw
