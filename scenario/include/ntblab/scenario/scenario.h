// SPDX-License-Identifier: GPL-2.0-only
// Scenario files: what cluster to boot and what to run on it (YAML).
// docs/scenario-format.md describes the vocabulary; scenarios/ has examples.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "ntblab/model/path.h"

namespace ntblab::scenario {

/// A malformed scenario: file, line and field are always named.
class ScenarioError : public std::runtime_error {
 public:
  ScenarioError(const std::string& file, int line, const std::string& field, const std::string& what)
      : std::runtime_error(file + ":" + std::to_string(line) + ": " + field + ": " + what),
        file_(file), line_(line), field_(field) {}
  const std::string& file() const { return file_; }
  int line() const { return line_; }
  const std::string& field() const { return field_; }

 private:
  std::string file_;
  int line_;
  std::string field_;
};

/// Loading stopped because the caller's `Interrupted` said so (`ntblab run`:
/// SIGINT, SIGTERM or SIGHUP while its InterruptGuard, cli/lib/process.h, is installed).
class LoadInterrupted : public std::runtime_error {
 public:
  explicit LoadInterrupted(const std::string& file) : std::runtime_error(file + ": loading interrupted") {}
};

/// Limits checked before the YAML is turned into a tree (docs/scenario-format.md, "Errors").
constexpr size_t kMaxScenarioBytes = 1u << 20;
constexpr int kMaxScenarioDepth = 64;

struct LinkSpec {
  int gen = 3;    ///< PCIe generation 1..3 (the PEX8749 is Gen3)
  int width = 8;  ///< lanes: 1, 2, 4, 8 or 16
};

struct NodeSpec {
  std::string name;
  uint64_t memory = 256ull << 20;  ///< guest RAM, bytes
  int cpus = 1;
  LinkSpec link;                   ///< the node's NT port link
  int port = -1;                   ///< fabric switch port (fabric topology)
  std::string ip;                  ///< virtio-net address "a.b.c.d/len" (TCP baseline)
  std::string cmdline;             ///< extra kernel command line
};

struct PortSpec {
  int number = 0;
  LinkSpec link;
};

struct StepSpec {
  std::string name;
  std::vector<std::string> on;     ///< node names
  std::string run;                 ///< shell command, run in the guest
  uint64_t timeout_ps = 60ull * 1000000000000ull;
  std::optional<int> expect = 0;   ///< expected exit status; nullopt = any
  std::vector<StepSpec> parallel;  ///< a group run at once (then `run` is empty)
  int line = 0;
};

/// How guests keep time (docs/modelled-time.md).
enum class TimingMode {
  Free,     ///< today's: guests run on the host's clock, the model answers at once
  Quantum,  ///< modelled time, effects at the next round (at most `quantum` late)
  Exact,    ///< modelled time, every effect at its modelled nanosecond
};
const char* to_string(TimingMode m);

struct TimingSpec {
  TimingMode mode = TimingMode::Free;
  /// Guest CPU speed: ns per instruction, a power of two 1..1024 (QEMU's
  /// -icount shift = log2 of it).
  unsigned ns_per_insn = 1;
  uint64_t quantum_ps = 1000ull * 1000000;  ///< quantum mode (and exact's boot): round length, 1 ms
  uint64_t seed = 1;                       ///< QEMU -seed: the guests' random numbers
  /// Exact mode only: when exact timing starts. "boot": from the first
  /// instruction; "marker": in quantum mode until a guest writes the lab's
  /// exact-time marker (docs/modelled-time.md), so boot is cheap.
  std::string exact_from = "marker";
  bool modelled() const { return mode != TimingMode::Free; }
};

/// Batch mode (docs/modelled-time.md, "Batch mode"): each node runs its
/// steps from its initramfs and reports on a serial line; nothing from the
/// host reaches a guest while it runs, so modelled runs repeat exactly.
struct BatchSpec {
  bool enabled = false;
  /// Host files and directories the steps need, at the same paths in the
  /// guest (relative: to the lab's root); programs bring their libraries.
  std::vector<std::string> files;
  /// Kernel modules beyond the lab's own (which are always there), with
  /// their dependencies.
  std::vector<std::string> modules;
};

struct Scenario {
  std::string file;
  std::string name;
  std::string description;
  std::string topology = "back-to-back";  ///< "back-to-back" or "fabric"
  std::string accel = "tcg";
  TimingSpec timing;
  BatchSpec batch;
  uint64_t boot_timeout_ps = 120ull * 1000000000000ull;
  uint64_t hop_latency_ps = uint64_t(model::pcie::kPex8749HopLatencyNs * 1000);  ///< PEX8749 cut-through, x16 to x16
  std::vector<PortSpec> ports;            ///< fabric switch ports in use
  std::vector<NodeSpec> nodes;
  std::vector<StepSpec> steps;
  /// Line of every field read, by path ("nodes[1].link.width"), so errors found
  /// later (e.g. by the model's own checks) can still name the line.
  std::map<std::string, int> lines;

  /// Error for a field found wrong after loading (line looked up in `lines`).
  ScenarioError error(const std::string& field, const std::string& what) const;
  int node_index(const std::string& name) const;
};

/// Asked while loading; true stops it with LoadInterrupted. Empty: never.
using Interrupted = std::function<bool()>;

/// Load and validate a scenario. Throws ScenarioError, or LoadInterrupted.
Scenario load_scenario(const std::string& path, const Interrupted& interrupted = {});
/// Same, from text (for tests); `file` is used in messages.
Scenario parse_scenario(const std::string& text, const std::string& file, const Interrupted& interrupted = {});

}  // namespace ntblab::scenario
