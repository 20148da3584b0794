// SPDX-License-Identifier: GPL-2.0-only
// Batch mode (docs/modelled-time.md, "Batch mode"): what a scenario's steps
// need is packed into an initramfs overlay with each node's requests for the
// guest agent; the agent answers on a serial line that QEMU writes to a file.
// Nothing from the host reaches a guest while it runs, so two runs of a
// modelled scenario give the same bytes.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "agent_client.h"
#include "ntblab/scenario/scenario.h"

namespace ntblab::cli::batch {

/// A cpio archive in the kernel's "newc" format (the initramfs format,
/// Linux's Documentation/driver-api/early-userspace/buffer-format.rst), built
/// in memory. Deterministic: owner root, mtime 0, inode numbers in order of
/// addition; parent directories are added first, each once.
class Cpio {
 public:
  void add_dir(const std::string& path);
  void add_file(const std::string& path, const std::string& data, unsigned mode = 0644);
  bool has(const std::string& path) const { return names_.count(path) > 0; }
  /// The archive with its trailer; the Cpio is empty afterwards.
  std::string finish();

 private:
  void entry(const std::string& path, unsigned mode, const std::string& data);
  std::set<std::string> names_;
  std::string out_;
  unsigned ino_ = 1;
};

/// The shared libraries (and the program interpreter) a dynamically linked
/// program loads, as `ldd` names them; empty for anything else.
std::vector<std::string> libraries_of(const std::string& program);

/// Modules to carry, as paths relative to `moddir` (/lib/modules/RELEASE),
/// dependencies first: every module of the lab's own (updates/ntblab/) and
/// `names`, each with what modules.dep says it needs. Throws naming a module
/// the tree does not have.
std::vector<std::string> module_closure(const std::string& moddir, const std::vector<std::string>& names);

/// Step ids in a node's requests: 0 is the ping, step k of the scenario is k + 1.
constexpr uint32_t kPingId = 0;
inline uint32_t step_id(size_t k) { return uint32_t(k + 1); }

/// One node's request file: a ping, then `sh -c ENV+run` for every step on
/// that node (stopping at the first that fails), then power-off.
std::string node_requests(const scenario::Scenario& s, size_t node, const std::string& env);

/// What a node's serial log says.
struct NodeLog {
  std::string info;                            ///< the ping's answer (agent, kernel release)
  std::map<uint32_t, CommandResult> finished;  ///< by step id: steps that ended
  uint32_t running = 0;                        ///< a step with output but no end yet (0: none)
  bool done = false;                           ///< the agent powered the node off
};
NodeLog parse_log(const std::string& bytes);

}  // namespace ntblab::cli::batch
