// SPDX-License-Identifier: GPL-2.0-only
// `ntblab run`: boot the cluster a scenario describes (the switch process and
// one QEMU per node), wait until every guest's agent answers, run the steps,
// write DIR/results.json, and tear everything down — also on failure and on
// Ctrl-C.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent_client.h"
#include "batch.h"
#include "ntblab/scenario/scenario.h"
#include "process.h"

namespace ntblab::cli {

// The runner runs scenarios (the scenario library, ntblab/scenario/).
using scenario::load_scenario;
using scenario::NodeSpec;
using scenario::Scenario;
using scenario::StepSpec;

/// Where the lab's parts are (./ntblab exports these; defaults: the cache).
struct LabPaths {
  std::string qemu;        ///< qemu-system-x86_64 with the pex8749 devices
  std::string image;       ///< guest image dir: vmlinux (or vmlinuz), initramfs.cpio.gz
  std::string switch_bin;  ///< ntblab-switch
  std::string modroot;     ///< guests' module tree (ci/build-lab.sh), bound over /lib/modules
  std::string root;        ///< the lab's source tree (guests see it read-only at the same path)
  std::string krel;        ///< guest kernel release
  static LabPaths from_environment();
};

struct RunOptions {
  std::string out_dir = "results";
  std::string accel;       ///< overrides the scenario's (tcg, kvm)
  bool quiet = false;      ///< no progress lines
  std::string junit;       ///< also write JUnit XML of the results here (junit.h)
};

/// A booted lab: the switch process and one QEMU per node (model::Cluster is
/// the modelled hardware inside the switch process). The destructor tears it down.
class LabRun {
 public:
  LabRun(const Scenario& s, const LabPaths& paths, const RunOptions& opts);
  ~LabRun();
  LabRun(const LabRun&) = delete;
  LabRun& operator=(const LabRun&) = delete;

  /// Start the switch and the nodes; wait for every agent (in batch mode:
  /// only start them). Throws on failure.
  void boot();
  /// Batch mode: wait until every node has run its steps and powered off,
  /// reporting steps as they end. Returns each node's log as far as it got;
  /// `error` says why the wait ended early (the switch or a QEMU died, the
  /// wall-clock budget is spent, Ctrl-C), empty if it did not.
  std::vector<batch::NodeLog> wait_batch(std::string& error);
  /// Run a command on one node. Commands on one node run concurrently up to
  /// the node's number of agents (see start_agents); more wait for one.
  CommandResult exec(const std::string& node, const std::string& command, double timeout_s);
  /// Power off, stop and reap everything; collect the switch's statistics.
  void shutdown();
  /// Whether the switch and every QEMU still run. The first time one is
  /// found dead: records it (died()), makes agent calls in progress give up,
  /// and returns what died and how; empty while all run.
  std::string check_processes();
  /// The processes found dead before the teardown: [{process, pid, how, ...}].
  const nlohmann::json& died() const { return died_; }

  double boot_seconds() const { return boot_s_; }
  const nlohmann::json& switch_stats() const { return switch_stats_; }
  nlohmann::json node_info() const;
  void progress(const std::string& line) const;
  /// "step K/N [node] name: ok (took)": a progress line, or an error line when not ok.
  void report_step(size_t k, size_t total, const std::string& node, const std::string& name, bool ok,
                   const std::string& took) const;

 private:
  struct Node {
    std::string name;
    std::string ctl_socket;
    std::string console_log;
    std::vector<std::string> ctl_sockets;  ///< [0]: the init's agent; more for parallel steps
    std::vector<bool> busy;                ///< per agent: a command runs on it
    std::string batch_log;                 ///< batch mode: the agent's answers (serial line 2)
    ChildProcess qemu;
    double ready_s = -1;
    std::string agent_info;
  };
  void start_agents();
  std::vector<std::string> qemu_args(size_t i) const;
  /// The environment every step's command starts with (NTBLAB_ROOT, ...).
  std::string step_env(size_t node) const;
  /// Batch mode: the initramfs with the overlay (batch.h) in the run directory.
  void prepare_batch();
  void check_alive();  ///< throws check_processes()'s message

  Scenario s_;
  LabPaths paths_;
  RunOptions opts_;
  std::string sock_dir_, log_dir_;
  std::string initrd_;  ///< the guests' initramfs (batch mode: with the overlay)
  ChildProcess switch_;
  std::vector<Node> nodes_;
  double boot_s_ = 0;
  nlohmann::json switch_stats_;
  nlohmann::json died_ = nlohmann::json::array();
  std::string death_;            ///< check_processes()'s message, once set
  std::atomic<bool> stop_{false};  ///< agent calls give up (see AgentClient)
  std::mutex agents_mu_;           ///< guards Node::busy
  std::condition_variable agents_cv_;
  bool down_ = false;
};

/// Run a scenario end to end; returns the process exit status (0: every step
/// passed; 1: a step failed, the cluster did not boot, the switch or a QEMU
/// died, or results.json could not be written; 130: interrupted).
int run_scenario(const std::string& scenario_path, const RunOptions& opts);

/// The guest's kernel release from the agent's info line
/// ("ntblab-agent VERSION RELEASE NODENAME"); empty if it has none.
std::string kernel_release_of(const std::string& agent_info);

}  // namespace ntblab::cli
