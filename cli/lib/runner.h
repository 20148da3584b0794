// SPDX-License-Identifier: GPL-2.0-only
// `ntblab run`: boot the cluster a scenario describes (the switch process and
// one QEMU per node), wait until every guest's agent answers, run the steps,
// write DIR/results.json, and tear everything down — also on failure and on
// Ctrl-C.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent_client.h"
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
};

/// A booted cluster. The destructor tears it down.
class Cluster {
 public:
  Cluster(const Scenario& s, const LabPaths& paths, const RunOptions& opts);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  /// Start the switch and the nodes; wait for every agent. Throws on failure.
  void boot();
  /// Run a command on one node.
  CommandResult exec(const std::string& node, const std::string& command, double timeout_s);
  /// Power off, stop and reap everything; collect the switch's statistics.
  void shutdown();

  double boot_seconds() const { return boot_s_; }
  const nlohmann::json& switch_stats() const { return switch_stats_; }
  nlohmann::json node_info() const;
  void progress(const std::string& line) const;

 private:
  struct Node {
    std::string name;
    std::string ctl_socket;
    std::string console_log;
    ChildProcess qemu;
    double ready_s = -1;
    std::string agent_info;
  };
  std::vector<std::string> qemu_args(size_t i) const;
  void check_alive();

  Scenario s_;
  LabPaths paths_;
  RunOptions opts_;
  std::string sock_dir_, log_dir_;
  ChildProcess switch_;
  std::vector<Node> nodes_;
  double boot_s_ = 0;
  nlohmann::json switch_stats_;
  bool down_ = false;
};

/// Run a scenario end to end; returns the process exit status (0: every step
/// passed; 1: a step failed or the cluster did not boot; 130: interrupted).
int run_scenario(const std::string& scenario_path, const RunOptions& opts);

}  // namespace ntblab::cli
