// SPDX-License-Identifier: GPL-2.0-only
// A loaded scenario as JSON with its defaults (scenario_json.h): the format's
// field names and units, only the fields the scenario's mode and topology
// have, and text that loads back to the same scenario. (That it validates
// against docs/scenario.schema.json: tests/docs/scenario-schema.py.)
#include <gtest/gtest.h>

#include "ntblab/scenario/scenario.h"
#include "ntblab/scenario/scenario_json.h"
#include "ntblab/scenario/units.h"

using namespace ntblab::scenario;
using json = nlohmann::json;

TEST(ScenarioJson, DurationsAreExactInTheLargestUnit) {
  EXPECT_EQ(format_duration(120ull * 1000000000000ull), "120s");
  EXPECT_EQ(format_duration(126000), "126ns");
  EXPECT_EQ(format_duration(1500000000ull), "1500us");  // 1.5 ms: not a whole ms
  EXPECT_EQ(format_duration(1000000000ull), "1ms");
  EXPECT_EQ(format_duration(1234), "1234ps");
  EXPECT_EQ(format_duration(0), "0ps");
  for (uint64_t ps : {uint64_t(1), uint64_t(999), uint64_t(126000), uint64_t(86400 * 1000000000000ull)})
    EXPECT_EQ(parse_duration_ps(format_duration(ps)), ps) << format_duration(ps);
}

TEST(ScenarioJson, BackToBackFreeHasEveryDefault) {
  const Scenario s = parse_scenario(
      "name: pair\nnodes:\n  - name: a\n  - {name: b, memory: 1GiB, cpus: 2}\n"
      "steps:\n  - {on: all, run: 'true'}\n"
      "  - parallel:\n      - {name: p, on: [b], run: 'false', expect: any, timeout: 1500ms}\n",
      "pair.yaml");
  const json j = resolved_json(s);
  EXPECT_EQ(j["description"], "");
  EXPECT_EQ(j["topology"], "back-to-back");
  EXPECT_EQ(j["accel"], "tcg");
  EXPECT_EQ(j["boot_timeout"], "120s");
  EXPECT_EQ(j["timing"], json({{"mode", "free"}}));  // quantum, seed ... are refused in free mode
  EXPECT_EQ(j["switch"], json({{"hop_latency", "126ns"}}));  // no ports back to back
  ASSERT_EQ(j["nodes"].size(), 2u);
  EXPECT_EQ(j["nodes"][0], json({{"name", "a"}, {"memory", "256MiB"}, {"cpus", 1},
                                 {"link", {{"gen", 3}, {"width", 8}}}, {"ip", "10.0.0.1/24"}, {"cmdline", ""}}));
  EXPECT_EQ(j["nodes"][1]["memory"], "1GiB");
  EXPECT_EQ(j["nodes"][1]["cpus"], 2);
  EXPECT_EQ(j["nodes"][1]["ip"], "10.0.0.2/24");
  EXPECT_FALSE(j["nodes"][1].contains("port"));
  ASSERT_EQ(j["steps"].size(), 2u);
  EXPECT_EQ(j["steps"][0], json({{"name", "true"}, {"on", {"a", "b"}}, {"run", "true"},
                                 {"timeout", "60s"}, {"expect", 0}}));
  EXPECT_EQ(j["steps"][1], json({{"name", "parallel group"},
                                 {"parallel", {{{"name", "p"}, {"on", {"b"}}, {"run", "false"},
                                                {"timeout", "1500ms"}, {"expect", "any"}}}}}));
}

TEST(ScenarioJson, FabricAndModelledTimeHaveTheirFields) {
  const Scenario s = parse_scenario(
      "name: f\ntopology: fabric\ntiming: {mode: exact, quantum: 2us}\n"
      "nodes:\n  - {name: a, port: 5, link: {gen: 2, width: 4}}\n  - name: b\n",
      "f.yaml");
  const json j = resolved_json(s);
  EXPECT_EQ(j["timing"], json({{"mode", "exact"}, {"ns_per_insn", 1}, {"quantum", "2us"}, {"seed", 1},
                               {"exact_from", "marker"}}));
  EXPECT_EQ(j["nodes"][0]["port"], 5);
  EXPECT_EQ(j["nodes"][1]["port"], 1);  // its index
  // Not listed: each node's port, at its link's speed.
  EXPECT_EQ(j["switch"]["ports"], json({{{"number", 5}, {"gen", 2}, {"width", 4}},
                                        {{"number", 1}, {"gen", 3}, {"width", 8}}}));
}

TEST(ScenarioJson, LoadsBackToTheSameScenario) {
  const Scenario s = parse_scenario(
      "name: f\ndescription: d\ntopology: fabric\ntiming: {mode: quantum, ns_per_insn: 4, seed: 7}\n"
      "boot_timeout: 90s\nswitch: {hop_latency: 1.5us}\n"
      "nodes:\n  - {name: a, cmdline: quiet, ip: 192.168.1.5/16}\n  - name: b\n  - name: c\n"
      "steps:\n  - {on: [a, c], run: 'echo \"x\"', expect: 3}\n",
      "f.yaml");
  const json j = resolved_json(s);
  const Scenario again = parse_scenario(j.dump(), "resolved.json");  // JSON is YAML
  EXPECT_EQ(resolved_json(again), j);
  EXPECT_EQ(again.hop_latency_ps, 1500000u);
  EXPECT_EQ(again.timing.ns_per_insn, 4u);
}
