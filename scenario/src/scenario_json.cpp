// SPDX-License-Identifier: GPL-2.0-only
#include "ntblab/scenario/scenario_json.h"

#include "ntblab/scenario/units.h"

namespace ntblab::scenario {

using json = nlohmann::json;

std::string format_duration(uint64_t ps) {
  static const struct {
    uint64_t ps;
    const char* unit;
  } units[] = {{1000000000000ull, "s"}, {1000000000ull, "ms"}, {1000000ull, "us"}, {1000ull, "ns"}};
  for (const auto& u : units)
    if (ps != 0 && ps % u.ps == 0) return std::to_string(ps / u.ps) + u.unit;
  return std::to_string(ps) + "ps";
}

namespace {

json link_json(const LinkSpec& l) { return {{"gen", l.gen}, {"width", l.width}}; }

json step_json(const StepSpec& st) {
  json j = {{"name", st.name}};
  if (!st.parallel.empty()) {
    json group = json::array();
    for (const StepSpec& leaf : st.parallel) group.push_back(step_json(leaf));
    j["parallel"] = group;
    return j;
  }
  j["on"] = st.on;
  j["run"] = st.run;
  j["timeout"] = format_duration(st.timeout_ps);
  j["expect"] = st.expect ? json(*st.expect) : json("any");
  return j;
}

}  // namespace

json resolved_json(const Scenario& s) {
  const bool fabric = s.topology == "fabric";
  json timing = {{"mode", to_string(s.timing.mode)}};
  if (s.timing.modelled()) {
    timing["ns_per_insn"] = s.timing.ns_per_insn;
    timing["quantum"] = format_duration(s.timing.quantum_ps);
    timing["seed"] = s.timing.seed;
  }
  if (s.timing.mode == TimingMode::Exact) timing["exact_from"] = s.timing.exact_from;

  json sw = {{"hop_latency", format_duration(s.hop_latency_ps)}};
  if (fabric) {
    json ports = json::array();
    for (const PortSpec& p : s.ports) ports.push_back({{"number", p.number}, {"gen", p.link.gen}, {"width", p.link.width}});
    sw["ports"] = ports;
  }

  json nodes = json::array();
  for (const NodeSpec& n : s.nodes) {
    json j = {{"name", n.name}, {"memory", format_size(n.memory)}, {"cpus", n.cpus}, {"link", link_json(n.link)}};
    if (fabric) j["port"] = n.port;
    j["ip"] = n.ip;
    j["cmdline"] = n.cmdline;
    nodes.push_back(j);
  }

  json steps = json::array();
  for (const StepSpec& st : s.steps) steps.push_back(step_json(st));

  json out = {{"name", s.name},       {"description", s.description},
              {"topology", s.topology}, {"accel", s.accel},
              {"timing", timing},     {"boot_timeout", format_duration(s.boot_timeout_ps)},
              {"switch", sw},         {"nodes", nodes},
              {"steps", steps}};
  if (s.batch.enabled) out["batch"] = {{"files", s.batch.files}, {"modules", s.batch.modules}};
  return out;
}

}  // namespace ntblab::scenario
