// SPDX-License-Identifier: GPL-2.0-only
#include "ntblab/scenario/scenario.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "model_error.h"
#include "ntblab/model/config_error.h"
#include "ntblab/model/limits.h"  // plain C++: the loader needs no SystemC (scenario/CMakeLists.txt)
#include "ntblab/model/path.h"
#include "ntblab/scenario/units.h"

namespace ntblab::scenario {

namespace {

constexpr int kMaxNodes = int(model::kMaxLabNodes);
constexpr int kMaxPorts = int(model::kPex8749Ports);
constexpr uint64_t kMinMemory = 128ull << 20;
constexpr uint64_t kMaxMemory = 16ull << 30;
constexpr uint64_t kMiB = 1ull << 20;                             // QEMU's -m takes whole MiB
constexpr uint64_t kMinTimeoutPs = 1000000000ull;                 // 1 ms: the agent counts whole ms, 0 = none
constexpr uint64_t kMaxTimeoutPs = 24ull * 3600 * 1000000000000ull;  // 24 h, fits the agent's u32 ms
constexpr uint64_t kMaxHopLatencyPs = 1000000000ull;              // 1 ms, ~8000 x the PEX8749's 126 ns
static_assert(model::pcie::kPex8749HopLatencyNs == double(long(model::pcie::kPex8749HopLatencyNs)),
              "messages write the PEX8749's hop latency as whole ns");
const std::string kPex8749Hop = std::to_string(long(model::pcie::kPex8749HopLatencyNs)) + "ns";

/// Throws LoadInterrupted once `interrupted` says so.
class Poll {
 public:
  Poll(const Interrupted& interrupted, const std::string& file) : interrupted_(interrupted), file_(file) {}
  void operator()() const {
    if (interrupted_ && interrupted_()) throw LoadInterrupted(file_);
  }

 private:
  const Interrupted& interrupted_;
  const std::string& file_;
};

std::string too_big(uint64_t bytes) {
  return "is " + std::to_string(bytes) + " bytes; a scenario file may be at most 1MiB (" +
         std::to_string(kMaxScenarioBytes) + " bytes)";
}

/// First pass over the parser's events, before any tree is built: one
/// document, bounded nesting (yaml-cpp recurses per level), no aliases (a
/// tree with aliases may share or even contain itself).
class ShapeCheck : public YAML::EventHandler {
 public:
  ShapeCheck(const std::string& file, const Poll& poll) : file_(file), poll_(poll) {}
  int documents = 0;  ///< documents started
  int ended = 0;      ///< documents parsed to their end

  void OnDocumentStart(const YAML::Mark& m) override {
    poll_();
    if (++documents > 1)
      throw ScenarioError(file_, m.line + 1, "(document)", "a second YAML document; a file holds one scenario");
  }
  void OnDocumentEnd() override { ++ended; }
  void OnNull(const YAML::Mark&, YAML::anchor_t) override { poll_(); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override {
    throw ScenarioError(file_, m.line + 1, "(alias)", "aliases (*name) are not supported; write the value out");
  }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {
    poll_();
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    enter(m);
  }
  void OnSequenceEnd() override { --depth_; }
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    enter(m);
  }
  void OnMapEnd() override { --depth_; }

 private:
  void enter(const YAML::Mark& m) {
    poll_();
    if (++depth_ > kMaxScenarioDepth)
      throw ScenarioError(file_, m.line + 1, "(nesting)",
                          "lists and mappings nested deeper than " + std::to_string(kMaxScenarioDepth) + " levels");
  }
  const std::string& file_;
  const Poll& poll_;
  int depth_ = 0;
};

void check_shape(const std::string& text, const std::string& file, const Poll& poll) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  ShapeCheck shape(file, poll);
  try {
    while (parser.HandleNextDocument(shape)) {
    }
  } catch (const YAML::Exception& e) {
    if (shape.ended > 0)
      throw ScenarioError(file, e.mark.line + 1, "(document)", "text after the scenario's document: " + e.msg);
    throw ScenarioError(file, e.mark.line + 1, "(syntax)", e.msg);
  }
}

/// Every mapping's keys are names, each given once: yaml-cpp silently keeps
/// the first of a duplicate key and cannot convert a list or null key.
void check_keys(const YAML::Node& n, const std::string& path, const std::string& file, const Poll& poll) {
  poll();
  if (n.IsSequence()) {
    size_t i = 0;
    for (const auto& item : n) check_keys(item, path + "[" + std::to_string(i++) + "]", file, poll);
  } else if (n.IsMap()) {
    std::map<std::string, int> seen;
    for (const auto& kv : n) {
      const int line = kv.first.Mark().line + 1;
      if (!kv.first.IsScalar())
        throw ScenarioError(file, line, path.empty() ? "(top level)" : path,
                            std::string("a key must be a name, not ") +
                                (kv.first.IsSequence() ? "a list" : kv.first.IsMap() ? "a mapping" : "null"));
      const std::string field = path.empty() ? kv.first.Scalar() : path + "." + kv.first.Scalar();
      auto first = seen.emplace(kv.first.Scalar(), line);
      if (!first.second)
        throw ScenarioError(file, line, field,
                            "given twice (first on line " + std::to_string(first.first->second) + ")");
      check_keys(kv.second, field, file, poll);
    }
  }
}

/// Walks the YAML tree with the current field path, so every error names
/// file, line and field.
class Reader {
 public:
  Reader(Scenario& s) : s_(s) {}

  [[noreturn]] void fail(const YAML::Node& n, const std::string& field, const std::string& what) {
    throw ScenarioError(s_.file, n.Mark().line + 1, field, what);
  }

  void only_keys(const YAML::Node& map, const std::string& path, std::initializer_list<const char*> keys) {
    if (!map.IsMap()) fail(map, path.empty() ? "(top level)" : path, "expected a mapping");
    for (const auto& kv : map) {
      std::string k = kv.first.as<std::string>();
      if (std::find_if(keys.begin(), keys.end(), [&](const char* x) { return k == x; }) == keys.end()) {
        std::string list;
        for (const char* x : keys) list += std::string(list.empty() ? "" : ", ") + x;
        fail(kv.first, join(path, k), "unknown field (expected one of: " + list + ")");
      }
    }
  }

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  void note(const YAML::Node& n, const std::string& field) { s_.lines[field] = n.Mark().line + 1; }

  std::string str(const YAML::Node& n, const std::string& field) {
    note(n, field);
    if (!n.IsScalar()) fail(n, field, "expected a string");
    return n.as<std::string>();
  }

  /// A decimal whole number in lo..hi. A leading zero is refused: "010" is 8
  /// to some readers and 10 to others.
  long integer(const YAML::Node& n, const std::string& field, long lo, long hi) {
    std::string t = str(n, field);
    const size_t digits = !t.empty() && t[0] == '-' ? 1 : 0;
    if (t.size() == digits || t.find_first_not_of("0123456789", digits) != std::string::npos)
      fail(n, field, "'" + t + "' is not a whole number");
    if (t[digits] == '0' && t.size() > digits + 1)
      fail(n, field, "'" + t + "' has a leading zero (octal or decimal?); write it without");
    const std::string range = " is out of range " + std::to_string(lo) + ".." + std::to_string(hi);
    if (t.size() - digits > 9) fail(n, field, t + range);
    long v = std::stol(t);
    if (v < lo || v > hi) fail(n, field, t + range);
    return v;
  }

  uint64_t size(const YAML::Node& n, const std::string& field) {
    std::string t = str(n, field);
    auto v = parse_size(t);
    if (!v) fail(n, field, "'" + t + "' is not a size (write e.g. 256MiB, 1GiB)");
    return *v;
  }

  uint64_t duration(const YAML::Node& n, const std::string& field) {
    std::string t = str(n, field);
    auto v = parse_duration_ps(t);
    if (!v) fail(n, field, "'" + t + "' is not a duration (write e.g. 126ns, 30s)");
    return *v;
  }

  /// A timeout: 1ms..24h. Below 1 ms the agent's whole milliseconds are 0,
  /// which means no timeout; 24 h is far inside its 32-bit milliseconds.
  uint64_t timeout(const YAML::Node& n, const std::string& field) {
    uint64_t ps = duration(n, field);
    if (ps < kMinTimeoutPs)
      fail(n, field, "'" + n.Scalar() + "' is below 1ms (timeouts count whole milliseconds; 0 would mean none)");
    if (ps > kMaxTimeoutPs)
      fail(n, field, "'" + n.Scalar() + "' is above 24h (the guest agent takes 32-bit milliseconds)");
    return ps;
  }

  /// The `batch` section (docs/scenario-format.md, "batch").
  void batch(const YAML::Node& b, BatchSpec& out) {
    only_keys(b, "batch", {"files", "modules"});
    out.enabled = true;
    auto list = [&](const char* key, std::vector<std::string>& v) {
      const std::string field = std::string("batch.") + key;
      const YAML::Node& l = b[key];
      if (!l) return;
      note(l, field);
      if (!l.IsSequence()) fail(l, field, "expected a list");
      for (size_t i = 0; i < l.size(); ++i) {
        const std::string f = field + "[" + std::to_string(i) + "]";
        std::string x = str(l[i], f);
        if (x.empty()) fail(l[i], f, "empty");
        if (x.find('\n') != std::string::npos || x.find('\0') != std::string::npos)
          fail(l[i], f, "contains a newline or NUL");
        v.push_back(std::move(x));
      }
    };
    list("files", out.files);
    list("modules", out.modules);
    for (size_t i = 0; i < out.modules.size(); ++i)
      if (out.modules[i].find_first_of("/ ") != std::string::npos || out.modules[i].size() > 64)
        fail(b["modules"][i], "batch.modules[" + std::to_string(i) + "]",
             "'" + out.modules[i] + "' is not a module name (e.g. ntb_transport)");
  }

  /// The `timing` section (docs/scenario-format.md, "timing").
  void timing(const YAML::Node& t, TimingSpec& out) {
    only_keys(t, "timing", {"mode", "ns_per_insn", "quantum", "seed", "exact_from"});
    if (t["mode"]) {
      const std::string m = str(t["mode"], "timing.mode");
      if (m == "free") out.mode = TimingMode::Free;
      else if (m == "quantum") out.mode = TimingMode::Quantum;
      else if (m == "exact") out.mode = TimingMode::Exact;
      else fail(t["mode"], "timing.mode", "'" + m + "' is not free, quantum or exact");
    }
    if (t["ns_per_insn"]) {
      const long v = integer(t["ns_per_insn"], "timing.ns_per_insn", 1, 1024);
      if (v & (v - 1))
        fail(t["ns_per_insn"], "timing.ns_per_insn",
             std::to_string(v) + " is not a power of two (QEMU's -icount takes 2^shift ns per instruction)");
      out.ns_per_insn = unsigned(v);
    }
    if (t["quantum"]) {
      out.quantum_ps = duration(t["quantum"], "timing.quantum");
      if (out.quantum_ps < 1000 || out.quantum_ps > 1000000000000ull)
        fail(t["quantum"], "timing.quantum", "'" + t["quantum"].Scalar() + "' is not between 1ns and 1s");
      // The switch and results.json count the quantum in whole ns: a fraction
      // would be cut off silently (1.5ns would run as 1ns).
      if (out.quantum_ps % 1000 != 0)
        fail(t["quantum"], "timing.quantum", "'" + t["quantum"].Scalar() + "' is not a whole number of ns");
    }
    if (t["seed"]) out.seed = uint64_t(integer(t["seed"], "timing.seed", 0, 999999999));
    if (t["exact_from"]) {
      out.exact_from = str(t["exact_from"], "timing.exact_from");
      if (out.exact_from != "boot" && out.exact_from != "marker")
        fail(t["exact_from"], "timing.exact_from", "'" + out.exact_from + "' is not boot or marker");
      if (out.mode != TimingMode::Exact)
        fail(t["exact_from"], "timing.exact_from", "only for mode: exact");
    }
    if (out.mode == TimingMode::Free)
      for (const char* k : {"ns_per_insn", "quantum", "seed"})
        if (t[k]) fail(t[k], std::string("timing.") + k, "only for mode: quantum or exact (mode is free)");
  }

  /// gen/width of `n`; `own_map` when n holds nothing else (otherwise the
  /// caller has checked the keys).
  LinkSpec link(const YAML::Node& n, const std::string& path, LinkSpec def, bool own_map = true) {
    if (own_map) only_keys(n, path, {"gen", "width"});
    note(n, path);
    if (n["gen"]) def.gen = static_cast<int>(integer(n["gen"], path + ".gen", 1, 3));
    if (n["width"]) {
      def.width = static_cast<int>(integer(n["width"], path + ".width", 1, 16));
      if (def.width != 1 && def.width != 2 && def.width != 4 && def.width != 8 && def.width != 16)
        fail(n["width"], path + ".width", std::to_string(def.width) + " is not one of 1, 2, 4, 8, 16");
    }
    return def;
  }

  std::vector<std::string> on(const YAML::Node& n, const std::string& field) {
    std::vector<std::string> names;
    if (n.IsScalar()) {
      std::string v = str(n, field);
      if (v == "all") {
        for (const auto& nd : s_.nodes) names.push_back(nd.name);
        return names;
      }
      names.push_back(v);
    } else if (n.IsSequence()) {
      std::set<std::string> seen;
      for (size_t i = 0; i < n.size(); ++i) {
        const std::string f = field + "[" + std::to_string(i) + "]";
        names.push_back(str(n[i], f));
        if (!seen.insert(names.back()).second) fail(n[i], f, "'" + names.back() + "' is named twice");
      }
    } else {
      fail(n, field, "expected a node name, a list of names, or 'all'");
    }
    if (names.empty()) fail(n, field, "names no node");
    for (const auto& name : names)
      if (s_.node_index(name) < 0) fail(n, field, "no node named '" + name + "'");
    return names;
  }

  StepSpec step(const YAML::Node& n, const std::string& path, bool nested) {
    only_keys(n, path, {"name", "on", "run", "timeout", "expect", "parallel"});
    StepSpec st;
    st.line = n.Mark().line + 1;
    note(n, path);
    if (n["name"]) st.name = str(n["name"], path + ".name");
    if (n["parallel"]) {
      if (nested) fail(n["parallel"], path + ".parallel", "parallel groups do not nest");
      if (n["run"] || n["on"]) fail(n, path, "a step has either 'parallel' or 'on' + 'run', not both");
      const YAML::Node& p = n["parallel"];
      if (!p.IsSequence() || p.size() == 0) fail(p, path + ".parallel", "expected a non-empty list of steps");
      for (size_t i = 0; i < p.size(); ++i)
        st.parallel.push_back(step(p[i], path + ".parallel[" + std::to_string(i) + "]", true));
    } else {
      if (!n["on"]) fail(n, path + ".on", "missing (which node runs the step)");
      if (!n["run"]) fail(n, path + ".run", "missing (the command to run)");
      st.on = on(n["on"], path + ".on");
      st.run = str(n["run"], path + ".run");
      if (st.run.empty()) fail(n["run"], path + ".run", "empty command");
    }
    if (n["timeout"]) st.timeout_ps = timeout(n["timeout"], path + ".timeout");
    if (n["expect"]) {
      if (n["expect"].IsScalar() && n["expect"].as<std::string>() == "any")
        st.expect.reset();
      else
        st.expect = static_cast<int>(integer(n["expect"], path + ".expect", 0, 255));
    }
    if (st.name.empty()) st.name = st.parallel.empty() ? st.run : "parallel group";
    return st;
  }

 private:
  Scenario& s_;
};

const std::regex kNameRe("[a-z][a-z0-9_-]{0,30}");
const std::regex kCidrRe("(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})/(\\d{1,2})");

struct Cidr {
  uint32_t addr = 0;
  int len = 0;
};

/// "a.b.c.d/len": parts 0..255, len 0..32, no leading zeros (some tools read
/// them as octal).
std::optional<Cidr> parse_cidr(const std::string& text) {
  std::smatch m;
  if (!std::regex_match(text, m, kCidrRe)) return std::nullopt;
  Cidr c;
  for (int k = 1; k <= 5; ++k) {
    const std::string part = m[k];
    if (part.size() > 1 && part[0] == '0') return std::nullopt;
    const int v = std::stoi(part);
    if (v > (k == 5 ? 32 : 255)) return std::nullopt;
    if (k < 5) c.addr = c.addr << 8 | uint32_t(v);
    else c.len = v;
  }
  return c;
}

std::string dotted(uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string(a >> 16 & 255) + "." + std::to_string(a >> 8 & 255) + "." +
         std::to_string(a & 255);
}

}  // namespace

ScenarioError Scenario::error(const std::string& field, const std::string& what) const {
  // The closest recorded line: the field itself, else its nearest parent.
  std::string f = field;
  for (;;) {
    auto it = lines.find(f);
    if (it != lines.end()) return ScenarioError(file, it->second, field, what);
    size_t cut = f.find_last_of(".[");
    if (cut == std::string::npos) return ScenarioError(file, 1, field, what);
    f = f.substr(0, cut);
  }
}

int Scenario::node_index(const std::string& n) const {
  for (size_t i = 0; i < nodes.size(); ++i)
    if (nodes[i].name == n) return static_cast<int>(i);
  return -1;
}

namespace {

/// The scenario in `root`, whose shape and keys have been checked. (Not
/// const: a const Node's missing key cannot be indexed further.)
}  // namespace

const char* to_string(TimingMode m) {
  switch (m) {
    case TimingMode::Free: return "free";
    case TimingMode::Quantum: return "quantum";
    case TimingMode::Exact: return "exact";
  }
  return "?";
}

namespace {

Scenario read_scenario(YAML::Node root, const std::string& file, const Poll& poll) {
  Scenario s;
  s.file = file;
  Reader r(s);
  if (!root.IsMap()) throw ScenarioError(file, 1, "(top level)", "expected a mapping with name, nodes, steps");
  r.only_keys(root, "", {"name", "description", "topology", "accel", "timing", "batch", "boot_timeout", "switch",
                        "nodes", "steps"});

  if (!root["name"]) throw ScenarioError(file, 1, "name", "missing");
  s.name = r.str(root["name"], "name");
  if (root["description"]) s.description = r.str(root["description"], "description");
  if (root["topology"]) {
    s.topology = r.str(root["topology"], "topology");
    if (s.topology != "back-to-back" && s.topology != "fabric")
      r.fail(root["topology"], "topology", "'" + s.topology + "' is not back-to-back or fabric");
  }
  if (root["accel"]) {
    s.accel = r.str(root["accel"], "accel");
    if (s.accel != "tcg" && s.accel != "kvm") r.fail(root["accel"], "accel", "'" + s.accel + "' is not tcg or kvm");
  }
  if (root["boot_timeout"]) s.boot_timeout_ps = r.timeout(root["boot_timeout"], "boot_timeout");
  if (const YAML::Node& t = root["timing"]) r.timing(t, s.timing);
  if (const YAML::Node& b = root["batch"]) r.batch(b, s.batch);

  // Fabric switch ports.
  std::set<int> port_numbers;
  if (const YAML::Node& sw = root["switch"]) {
    r.only_keys(sw, "switch", {"hop_latency", "ports"});
    if (sw["hop_latency"]) {
      s.hop_latency_ps = r.duration(sw["hop_latency"], "switch.hop_latency");
      if (s.hop_latency_ps > kMaxHopLatencyPs)
        r.fail(sw["hop_latency"], "switch.hop_latency",
               "'" + sw["hop_latency"].Scalar() +
                   "' is above 1ms (a PEX8749 hop is " + kPex8749Hop +
                   "; the model's 64-bit picosecond time would saturate)");
    }
    if (const YAML::Node& ports = sw["ports"]) {
      if (!ports.IsSequence()) r.fail(ports, "switch.ports", "expected a list of ports");
      if (ports.size() > size_t(kMaxPorts))
        r.fail(ports, "switch.ports",
               std::to_string(ports.size()) + " ports; the PEX8749 has " + std::to_string(kMaxPorts));
      unsigned lanes = 0;
      for (size_t i = 0; i < ports.size(); ++i) {
        std::string path = "switch.ports[" + std::to_string(i) + "]";
        r.only_keys(ports[i], path, {"number", "gen", "width"});
        if (!ports[i]["number"]) r.fail(ports[i], path + ".number", "missing");
        PortSpec p;
        p.number = static_cast<int>(r.integer(ports[i]["number"], path + ".number", 0, kMaxPorts - 1));
        if (!port_numbers.insert(p.number).second)
          r.fail(ports[i]["number"], path + ".number", "port " + std::to_string(p.number) + " listed twice");
        p.link = r.link(ports[i], path, LinkSpec{}, false);
        try {
          lanes = model::add_lanes(lanes, unsigned(p.link.width), path + ".width");
        } catch (const model::ConfigError& e) {
          r.fail(ports[i], e.field(), model_message(e));
        }
        s.ports.push_back(p);
      }
    }
  }

  // Nodes. The count is checked before any node is.
  const YAML::Node& nodes = root["nodes"];
  if (!nodes) throw ScenarioError(file, 1, "nodes", "missing (the cluster's nodes)");
  if (!nodes.IsSequence() || nodes.size() == 0) r.fail(nodes, "nodes", "expected a non-empty list");
  if (nodes.size() > size_t(kMaxNodes))
    r.fail(nodes, "nodes",
           "at most " + std::to_string(kMaxNodes) + " nodes (this has " + std::to_string(nodes.size()) + ")");
  std::vector<Cidr> addrs;
  std::vector<bool> addr_given;
  for (size_t i = 0; i < nodes.size(); ++i) {
    std::string path = "nodes[" + std::to_string(i) + "]";
    const YAML::Node& n = nodes[i];
    r.only_keys(n, path, {"name", "memory", "cpus", "link", "port", "ip", "cmdline"});
    r.note(n, path);
    NodeSpec nd;
    if (!n["name"]) r.fail(n, path + ".name", "missing");
    nd.name = r.str(n["name"], path + ".name");
    if (!std::regex_match(nd.name, kNameRe))
      r.fail(n["name"], path + ".name", "'" + nd.name + "' must be lowercase letters, digits, - or _, at most 31");
    if (nd.name == "all") r.fail(n["name"], path + ".name", "'all' is reserved (on: all means every node)");
    if (s.node_index(nd.name) >= 0) r.fail(n["name"], path + ".name", "'" + nd.name + "' is used twice");
    if (n["memory"]) {
      nd.memory = r.size(n["memory"], path + ".memory");
      if (nd.memory < kMinMemory || nd.memory > kMaxMemory)
        r.fail(n["memory"], path + ".memory", format_size(nd.memory) + " is outside 128MiB..16GiB");
      if (nd.memory % kMiB != 0)
        r.fail(n["memory"], path + ".memory", format_size(nd.memory) + " is not a whole number of MiB");
    }
    if (n["cpus"]) nd.cpus = static_cast<int>(r.integer(n["cpus"], path + ".cpus", 1, 8));
    if (n["link"]) nd.link = r.link(n["link"], path + ".link", LinkSpec{});
    if (n["port"]) {
      if (s.topology != "fabric")
        r.fail(n["port"], path + ".port", "back-to-back has no switch ports (port is for topology: fabric)");
      nd.port = static_cast<int>(r.integer(n["port"], path + ".port", 0, kMaxPorts - 1));
    }
    Cidr addr;
    if (n["ip"]) {
      nd.ip = r.str(n["ip"], path + ".ip");
      auto c = parse_cidr(nd.ip);
      if (!c) r.fail(n["ip"], path + ".ip", "'" + nd.ip + "' is not an address like 10.0.0.1/24");
      addr = *c;
      // /31 and /32 have no network or broadcast address.
      const uint32_t host = addr.len == 0 ? ~0u : ~(~0u << (32 - addr.len));
      if (addr.len <= 30 && (addr.addr & host) == 0)
        r.fail(n["ip"], path + ".ip", "'" + nd.ip + "' is the network address of its subnet, not a host's");
      if (addr.len <= 30 && (addr.addr & host) == host)
        r.fail(n["ip"], path + ".ip", "'" + nd.ip + "' is the broadcast address of its subnet, not a host's");
    } else {
      nd.ip = "10.0.0." + std::to_string(i + 1) + "/24";
      addr = *parse_cidr(nd.ip);
    }
    addrs.push_back(addr);
    addr_given.push_back(bool(n["ip"]));
    if (n["cmdline"]) nd.cmdline = r.str(n["cmdline"], path + ".cmdline");
    s.nodes.push_back(nd);
  }
  // Two nodes on one address: blame the one whose ip was written (the other has its default).
  for (size_t i = 0; i < s.nodes.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (addrs[i].addr == addrs[j].addr) {
        const size_t blame = addr_given[i] ? i : j, other = blame == i ? j : i;
        throw s.error("nodes[" + std::to_string(blame) + "].ip",
                      dotted(addrs[i].addr) + " is also " + s.nodes[other].name + "'s address" +
                          (addr_given[other] ? "" : " (its default, 10.0.0.<index+1>)"));
      }

  if (s.topology == "back-to-back") {
    if (s.nodes.size() != 2)
      r.fail(nodes, "nodes", "back-to-back cables exactly 2 nodes (this has " + std::to_string(s.nodes.size()) +
                                 "); use topology: fabric for more");
    if (root["switch"] && root["switch"]["ports"])
      r.fail(root["switch"]["ports"], "switch.ports", "back-to-back has no fabric switch ports");
  } else {
    if (s.nodes.size() < 2)
      r.fail(nodes, "nodes", "a fabric joins 2 to " + std::to_string(kMaxNodes) + " nodes (this has 1)");
    // Fabric: every node joins a port; unspecified ones get port i, Gen3 x8.
    unsigned lanes = 0;
    for (const auto& p : s.ports) lanes += unsigned(p.link.width);
    for (size_t i = 0; i < s.nodes.size(); ++i) {
      NodeSpec& nd = s.nodes[i];
      std::string path = "nodes[" + std::to_string(i) + "]";
      if (nd.port < 0) nd.port = static_cast<int>(i);
      if (!port_numbers.count(nd.port)) {
        if (!s.ports.empty() && root["switch"]["ports"])
          r.fail(nodes[i], path + ".port", "port " + std::to_string(nd.port) + " is not in switch.ports");
        s.ports.push_back(PortSpec{nd.port, nd.link});
        port_numbers.insert(nd.port);
        try {
          lanes = model::add_lanes(lanes, unsigned(nd.link.width), path + ".link.width");
        } catch (const model::ConfigError& e) {
          r.fail(nodes[i], e.field(), model_message(e));
        }
      }
      for (size_t j = 0; j < i; ++j)
        if (s.nodes[j].port == nd.port)
          r.fail(nodes[i], path + ".port", "port " + std::to_string(nd.port) + " is already " + s.nodes[j].name + "'s");
      // The switch port limits the node's link: a faster link could not train.
      for (const PortSpec& p : s.ports) {
        if (p.number != nd.port) continue;
        const std::string port = "switch port " + std::to_string(p.number) + "'s ";
        const std::string why = " (the port limits the link)";
        if (nd.link.gen > p.link.gen)
          throw s.error(path + ".link.gen", "Gen" + std::to_string(nd.link.gen) + " is faster than " + port + "Gen" +
                                                std::to_string(p.link.gen) + why);
        if (nd.link.width > p.link.width)
          throw s.error(path + ".link.width", "x" + std::to_string(nd.link.width) + " is wider than " + port + "x" +
                                                  std::to_string(p.link.width) + why);
      }
    }
  }

  if (s.timing.modelled()) {
    // One vCPU per guest: under -icount QEMU runs all vCPUs of a guest in one
    // thread, one after the other, so their clocks would not be the guest's.
    const std::string mode = to_string(s.timing.mode);
    for (size_t i = 0; i < s.nodes.size(); ++i)
      if (s.nodes[i].cpus != 1)
        throw s.error("nodes[" + std::to_string(i) + "].cpus",
                      std::to_string(s.nodes[i].cpus) + " vCPUs; timing mode " + mode + " runs exactly 1 per node");
    if (s.accel != "tcg")
      throw s.error("accel", "'" + s.accel + "' cannot count instructions; timing mode " + mode + " needs tcg");
  }

  if (const YAML::Node& steps = root["steps"]) {
    if (!steps.IsSequence()) r.fail(steps, "steps", "expected a list of steps");
    for (size_t i = 0; i < steps.size(); ++i) {
      poll();
      s.steps.push_back(r.step(steps[i], "steps[" + std::to_string(i) + "]", false));
      // A batch node runs its steps one after another, on its own.
      if (s.batch.enabled && !s.steps.back().parallel.empty())
        r.fail(steps[i]["parallel"], "steps[" + std::to_string(i) + "].parallel",
               "batch mode runs each node's steps one after another: no parallel groups");
    }
  }
  return s;
}

const char* file_kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

/// The file's text. Sizes and kinds are checked by fstat before reading; the
/// open does not block (O_NONBLOCK), e.g. on a FIFO without a writer.
std::string read_scenario_file(const std::string& path, const Poll& poll) {
  auto error = [&](const std::string& what) { return ScenarioError(path, 0, "(file)", what); };
  const int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw error(std::string("cannot be read: ") + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  struct stat st {};
  if (fstat(fd, &st) != 0) throw error(std::string("cannot be read: ") + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw error("is a directory, not a scenario file");
  if (!S_ISREG(st.st_mode)) throw error(std::string("is ") + file_kind(st.st_mode) + ", not a regular file");
  if (uint64_t(st.st_size) > kMaxScenarioBytes) throw error(too_big(uint64_t(st.st_size)));
  std::string text;
  char buf[65536];
  for (;;) {
    const ssize_t got = read(fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) {
      poll();
      continue;
    }
    if (got < 0) throw error(std::string("cannot be read: ") + std::strerror(errno));
    if (got == 0) break;
    text.append(buf, size_t(got));
    if (text.size() > kMaxScenarioBytes) throw error(too_big(text.size()));  // grew since fstat
  }
  return text;
}

}  // namespace

Scenario parse_scenario(const std::string& text, const std::string& file, const Interrupted& interrupted) {
  const Poll poll(interrupted, file);
  // Sizes, shape and keys first, so that nothing below meets a huge, deep or
  // ambiguous tree (docs/scenario-format.md, "Errors").
  if (text.size() > kMaxScenarioBytes) throw ScenarioError(file, 0, "(file)", too_big(text.size()));
  check_shape(text, file, poll);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ScenarioError(file, e.mark.line + 1, "(syntax)", e.msg);
  }
  check_keys(root, "", file, poll);
  try {
    return read_scenario(root, file, poll);
  } catch (const YAML::Exception& e) {
    throw ScenarioError(file, e.mark.line + 1, "(yaml)", e.msg);
  }
}

Scenario load_scenario(const std::string& path, const Interrupted& interrupted) {
  return parse_scenario(read_scenario_file(path, Poll(interrupted, path)), path, interrupted);
}

}  // namespace ntblab::scenario
