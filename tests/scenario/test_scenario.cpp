// SPDX-License-Identifier: GPL-2.0-only
// Scenario files: good ones load with defaults filled in; every malformed one
// is refused with file, line and field.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "ntblab/scenario/scenario.h"
#include "ntblab/scenario/units.h"

using namespace ntblab::scenario;

namespace {

const char* kGood = R"(name: pair
description: two nodes
topology: back-to-back
nodes:
  - name: node0
    memory: 512MiB
    link: {gen: 2, width: 4}
  - name: node1
steps:
  - name: hello
    on: all
    run: echo hi
    timeout: 5s
  - parallel:
      - {on: node0, run: "true"}
      - {on: [node1], run: "false", expect: 1}
)";

struct Bad {
  const char* text;
  int line;
  const char* field;
  const char* says;
};

}  // namespace

TEST(Units, SizesAndDurations) {
  EXPECT_EQ(parse_size("256MiB"), 256ull << 20);
  EXPECT_EQ(parse_size("1GiB"), 1ull << 30);
  EXPECT_EQ(parse_size("4096"), 4096u);
  EXPECT_FALSE(parse_size("256MB"));
  EXPECT_FALSE(parse_size("-1KiB"));
  EXPECT_FALSE(parse_size("0.5B"));
  EXPECT_EQ(parse_duration_ps("126ns"), 126000u);
  EXPECT_EQ(parse_duration_ps("1.5us"), 1500000u);
  EXPECT_EQ(parse_duration_ps("30s"), 30000000000000ull);
  EXPECT_EQ(parse_duration_ps("2h"), 7200000000000000ull);
  EXPECT_FALSE(parse_duration_ps("30"));
  EXPECT_FALSE(parse_duration_ps("fast"));
}

TEST(Scenario, GoodOneLoadsWithDefaults) {
  Scenario s = parse_scenario(kGood, "pair.yaml");
  ASSERT_EQ(s.nodes.size(), 2u);
  EXPECT_EQ(s.nodes[0].memory, 512ull << 20);
  EXPECT_EQ(s.nodes[0].link.gen, 2);
  EXPECT_EQ(s.nodes[1].link.width, 8);
  EXPECT_EQ(s.nodes[1].ip, "10.0.0.2/24");
  ASSERT_EQ(s.steps.size(), 2u);
  EXPECT_EQ(s.steps[0].on, (std::vector<std::string>{"node0", "node1"}));
  EXPECT_EQ(s.steps[0].timeout_ps, 5000000000000ull);
  ASSERT_EQ(s.steps[1].parallel.size(), 2u);
  EXPECT_EQ(s.steps[1].parallel[1].expect, 1);
  EXPECT_EQ(s.steps[1].line, 14);
}

TEST(Scenario, FabricAssignsPortsAndChecksLanes) {
  std::string y = "name: f\ntopology: fabric\nnodes:\n";
  for (int i = 0; i < 4; ++i) y += "  - {name: n" + std::to_string(i) + ", link: {width: 16}}\n";
  try {
    parse_scenario(y, "f.yaml");
    FAIL() << "4 x16 ports exceed 48 lanes";
  } catch (const ScenarioError& e) {
    EXPECT_EQ(e.line(), 7);
    EXPECT_EQ(e.field(), "nodes[3].link.width");
    EXPECT_NE(std::string(e.what()).find("lane budget"), std::string::npos);
  }
  Scenario s = parse_scenario("name: f\ntopology: fabric\nnodes:\n  - {name: a}\n  - {name: b, port: 5}\n", "f.yaml");
  EXPECT_EQ(s.nodes[0].port, 0);
  EXPECT_EQ(s.nodes[1].port, 5);
  EXPECT_EQ(s.ports.size(), 2u);
}

TEST(Scenario, MalformedOnesNameFileLineField) {
  const std::vector<Bad> cases = {
      {"name: x\nnodes:\n  - name: a\n    memroy: 1GiB\n  - name: b\n", 4, "nodes[0].memroy", "unknown field"},
      {"name: x\nnodes:\n  - name: a\n    memory: 256MB\n  - name: b\n", 4, "nodes[0].memory", "not a size"},
      {"name: x\nnodes:\n  - name: a\n    link: {gen: 5}\n  - name: b\n", 4, "nodes[0].link.gen", "out of range"},
      {"name: x\nnodes:\n  - name: a\n    link: {width: 3}\n  - name: b\n", 4, "nodes[0].link.width", "not one of"},
      {"name: x\nnodes:\n  - name: a\n  - name: a\n", 4, "nodes[1].name", "used twice"},
      {"name: x\nnodes:\n  - name: a\n", 3, "nodes", "exactly 2"},
      {"name: x\nnodes:\n  - name: a\n  - name: b\nsteps:\n  - on: c\n    run: ls\n", 6, "steps[0].on", "no node named"},
      {"name: x\nnodes:\n  - name: a\n  - name: b\nsteps:\n  - on: a\n", 6, "steps[0].run", "missing"},
      {"name: x\nnodes:\n  - name: a\n  - name: b\nsteps:\n  - {on: a, run: ls, timeout: 10}\n", 6,
       "steps[0].timeout", "not a duration"},
      {"name: x\nnodes:\n  - name: a\n    ip: 10.0.0.300/24\n  - name: b\n", 4, "nodes[0].ip", "not an address"},
      {"name: x\nnodes: [\n", 3, "(syntax)", ""},
      {"nodes:\n  - name: a\n", 1, "name", "missing"},
      {"name: x\ntopology: ring\nnodes:\n  - name: a\n", 2, "topology", "not back-to-back"},
  };
  for (const Bad& c : cases) {
    try {
      parse_scenario(c.text, "bad.yaml");
      ADD_FAILURE() << "accepted:\n" << c.text;
    } catch (const ScenarioError& e) {
      EXPECT_EQ(e.file(), "bad.yaml");
      EXPECT_EQ(e.line(), c.line) << e.what();
      EXPECT_EQ(e.field(), c.field) << e.what();
      EXPECT_NE(std::string(e.what()).find(c.says), std::string::npos) << e.what();
    }
  }
}

TEST(Scenario, LaterErrorsFindTheirLine) {
  Scenario s = parse_scenario(kGood, "pair.yaml");
  ScenarioError e = s.error("nodes[0].link.width", "too wide for the model");
  EXPECT_EQ(e.line(), 7);
  EXPECT_EQ(s.error("nodes[1].link.width", "x").line(), 8);  // falls back to the node's line
}

TEST(Scenario, EveryExampleLoads) {
  int n = 0;
  for (const auto& f : std::filesystem::directory_iterator(NTBLAB_SCENARIO_DIR)) {
    if (f.path().extension() != ".yaml") continue;
    EXPECT_NO_THROW(load_scenario(f.path().string())) << f.path();
    ++n;
  }
  EXPECT_GE(n, 2);
}

// The test suites' scenarios (tests/*/*.yaml) load too.
TEST(Scenario, EveryTestScenarioLoads) {
  int n = 0;
  for (const auto& d : std::filesystem::directory_iterator(NTBLAB_TESTS_DIR)) {
    if (!d.is_directory()) continue;
    for (const auto& f : std::filesystem::directory_iterator(d.path())) {
      if (f.path().extension() != ".yaml") continue;
      try {
        load_scenario(f.path().string());
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
      }
      ++n;
    }
  }
  EXPECT_GE(n, 9);
}

// Scenarios that loaded (or failed without file, line and field) before the
// loader's hardening: each is refused with FILE:LINE: FIELD: reason
// (docs/scenario-format.md, "Errors").
namespace {

struct Refusal {
  const char* name;
  std::string text;
  int line;
  const char* field;
  const char* says;
};

const std::string kPair = "name: x\nnodes:\n  - name: a\n  - name: b\n";  // lines 1-4
const std::string kFabric = "name: x\ntopology: fabric\n";                // nodes from line 3

std::string many_nodes(int count, const std::string& extra_on_second) {
  std::string y = "name: x\ntopology: fabric\nnodes:\n";
  for (int i = 0; i < count; ++i)
    y += "  - {name: n" + std::to_string(i) + (i == 1 ? ", " + extra_on_second : "") + "}\n";
  return y;
}

void PrintTo(const Refusal& r, std::ostream* os) { *os << r.name; }

class Refused : public testing::TestWithParam<Refusal> {};

}  // namespace

TEST_P(Refused, WithFileLineField) {
  const Refusal& c = GetParam();
  try {
    parse_scenario(c.text, "bad.yaml");
    ADD_FAILURE() << "accepted:\n" << c.text.substr(0, 400);
  } catch (const ScenarioError& e) {
    EXPECT_EQ(e.file(), "bad.yaml");
    EXPECT_EQ(e.line(), c.line) << e.what();
    EXPECT_EQ(e.field(), c.field) << e.what();
    EXPECT_NE(std::string(e.what()).find(c.says), std::string::npos) << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a ScenarioError: " << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Scenario, Refused,
    testing::Values(
        Refusal{"DuplicateTopLevelKey", "name: x\nname: y\nnodes:\n  - name: a\n  - name: b\n", 2, "name",
                "given twice (first on line 1)"},
        Refusal{"DuplicateNodeKey", "name: x\nnodes:\n  - name: a\n    cpus: 2\n    cpus: 4\n  - name: b\n", 5,
                "nodes[0].cpus", "given twice (first on line 4)"},
        Refusal{"DuplicateFlowKey", "name: x\nnodes:\n  - {name: a, link: {gen: 2, gen: 3}}\n  - name: b\n", 3,
                "nodes[0].link.gen", "given twice"},
        Refusal{"DuplicateKeyInStep", kPair + "steps:\n  - {on: a, run: ls, run: rm}\n", 6, "steps[0].run",
                "given twice"},
        Refusal{"SecondDocument", kPair + "---\nname: y\n", 5, "(document)", "second YAML document"},
        Refusal{"SecondDocumentBroken", kPair + "---\nnodes: [\n", 5, "(document)", "second YAML document"},
        Refusal{"TextAfterDocumentEnd", kPair + "...\n]\n", 6, "(document)", "text after the scenario's document"},
        Refusal{"NullKey", "name: x\n~: 1\nnodes:\n  - name: a\n  - name: b\n", 2, "(top level)",
                "a key must be a name, not null"},
        Refusal{"ListKey", "name: x\nnodes:\n  - name: a\n    ? [p, q]\n    : 1\n  - name: b\n", 4, "nodes[0]",
                "a key must be a name, not a list"},
        Refusal{"DeepNesting", "name: x\nnodes: " + std::string(100000, '['), 2, "(nesting)",
                "nested deeper than 64 levels"},
        Refusal{"DeepBlockNesting", "name: x\ndescription:\n" + [] {
                  std::string y;
                  for (int i = 0; i < 70; ++i) y += std::string(size_t(i) * 2 + 2, ' ') + "- \n";
                  return y;
                }(),
                66, "(nesting)", "nested deeper than 64 levels"},
        Refusal{"Alias", "name: &n x\ndescription: *n\nnodes:\n  - name: a\n  - name: b\n", 2, "(alias)",
                "not supported"},
        Refusal{"SameIp", "name: x\nnodes:\n  - {name: a, ip: 10.0.0.5/24}\n  - {name: b, ip: 10.0.0.5/16}\n", 4,
                "nodes[1].ip", "10.0.0.5 is also a's address"},
        Refusal{"IpIsAnothersDefault", "name: x\nnodes:\n  - name: a\n    ip: 10.0.0.2/24\n  - name: b\n", 4,
                "nodes[0].ip", "10.0.0.2 is also b's address (its default"},
        Refusal{"NetworkAddress", "name: x\nnodes:\n  - {name: a, ip: 10.0.1.0/24}\n  - name: b\n", 3,
                "nodes[0].ip", "network address"},
        Refusal{"BroadcastAddress", "name: x\nnodes:\n  - name: a\n  - {name: b, ip: 10.0.3.255/22}\n", 4,
                "nodes[1].ip", "broadcast address"},
        Refusal{"IpLeadingZero", "name: x\nnodes:\n  - {name: a, ip: 10.0.0.010/24}\n  - name: b\n", 3,
                "nodes[0].ip", "not an address"},
        Refusal{"NodeTwiceInOn", kPair + "steps:\n  - name: twice\n    on: [a, a]\n    run: ls\n", 7,
                "steps[0].on[1]", "'a' is named twice"},
        Refusal{"NodeNamedAll", "name: x\nnodes:\n  - name: all\n  - name: b\n", 3, "nodes[0].name", "reserved"},
        Refusal{"CpusLeadingZero", "name: x\nnodes:\n  - {name: a, cpus: 010}\n  - name: b\n", 3, "nodes[0].cpus",
                "leading zero"},
        Refusal{"CpusHex", "name: x\nnodes:\n  - {name: a, cpus: 0x4}\n  - name: b\n", 3, "nodes[0].cpus",
                "not a whole number"},
        Refusal{"MemoryNotWholeMiB", "name: x\nnodes:\n  - {name: a, memory: 200000KiB}\n  - name: b\n", 3,
                "nodes[0].memory", "not a whole number of MiB"},
        Refusal{"TimeoutZero", kPair + "steps:\n  - {on: a, run: ls, timeout: 0s}\n", 6, "steps[0].timeout",
                "below 1ms"},
        Refusal{"TimeoutBelowOneMs", kPair + "steps:\n  - {on: a, run: ls, timeout: 999us}\n", 6,
                "steps[0].timeout", "below 1ms"},
        Refusal{"TimeoutAboveCap", kPair + "steps:\n  - {on: a, run: ls, timeout: 1441m}\n", 6, "steps[0].timeout",
                "above 24h"},
        Refusal{"TimeoutOverflowsAgentMs", kPair + "steps:\n  - {on: a, run: ls, timeout: 72000m}\n", 6,
                "steps[0].timeout", "above 24h"},
        Refusal{"NestedTimeoutZero", kPair + "steps:\n  - parallel:\n      - {on: a, run: ls, timeout: 0ms}\n", 7,
                "steps[0].parallel[0].timeout", "below 1ms"},
        Refusal{"BootTimeoutZero", "name: x\nboot_timeout: 0s\nnodes:\n  - name: a\n  - name: b\n", 2,
                "boot_timeout", "below 1ms"},
        Refusal{"PortOnBackToBack", "name: x\nnodes:\n  - name: a\n    port: 3\n  - name: b\n", 4, "nodes[0].port",
                "back-to-back has no switch ports"},
        Refusal{"FabricOfOne", kFabric + "nodes:\n  - name: a\n", 4, "nodes", "2 to 16 nodes"},
        Refusal{"HopLatencyAboveCap", kFabric + "switch:\n  hop_latency: 2ms\nnodes:\n  - name: a\n  - name: b\n", 4,
                "switch.hop_latency", "above 1ms"},
        Refusal{"LinkWiderThanPort",
                kFabric + "switch:\n  ports:\n    - {number: 0, width: 4}\n    - {number: 1}\nnodes:\n"
                          "  - {name: a, link: {width: 8}}\n  - name: b\n",
                8, "nodes[0].link.width", "x8 is wider than switch port 0's x4"},
        Refusal{"DefaultLinkWiderThanPort",
                kFabric + "switch:\n  ports:\n    - {number: 0}\n    - {number: 1, width: 2}\nnodes:\n"
                          "  - name: a\n  - name: b\n",
                9, "nodes[1].link.width", "x8 is wider than switch port 1's x2"},
        Refusal{"LinkFasterThanPort",
                kFabric + "switch:\n  ports:\n    - {number: 0, gen: 2}\n    - {number: 1}\nnodes:\n"
                          "  - name: a\n    link: {gen: 3, width: 8}\n  - name: b\n",
                9, "nodes[0].link.gen", "Gen3 is faster than switch port 0's Gen2"},
        Refusal{"TooManyNodesBeforeNodeChecks", many_nodes(17, "memory: 1MB"), 4, "nodes",
                "at most 16 nodes (this has 17)"},
        Refusal{"TooManyPortsBeforePortChecks", kFabric + "switch:\n  ports:\n" + [] {
                  std::string y;
                  for (int i = 0; i < 19; ++i) y += "    - {number: " + std::to_string(i) + ", width: 1}\n";
                  return y;
                }() + "nodes:\n  - name: a\n  - name: b\n",
                5, "switch.ports", "19 ports; the PEX8749 has 18"},
        Refusal{"TextOverOneMiB", kPair + "# " + std::string(1u << 20, 'x') + "\n", 0, "(file)",
                "at most 1MiB"}),
    [](const testing::TestParamInfo<Refusal>& info) { return std::string(info.param.name); });

// 40 000 nodes in under 1 MiB: refused by their count before any is read
// (before, per-node checks made this quadratic: minutes).
TEST(Scenario, LongNodeListIsRefusedQuickly) {
  const std::string y = many_nodes(40000, "cpus: 1");
  ASSERT_LT(y.size(), kMaxScenarioBytes);
  const auto t0 = std::chrono::steady_clock::now();
  try {
    parse_scenario(y, "big.yaml");
    FAIL() << "40000 nodes accepted";
  } catch (const ScenarioError& e) {
    EXPECT_EQ(e.field(), "nodes") << e.what();
    EXPECT_NE(std::string(e.what()).find("at most 16 nodes (this has 40000)"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 10.0);
}

TEST(Scenario, LimitsStillAdmitTheirBounds) {
  // 1ms and 24h timeouts, a 1ms hop, a link equal to its port, an address
  // that is neither network nor broadcast in a /31.
  Scenario s = parse_scenario(kFabric +
                                  "boot_timeout: 24h\nswitch:\n  hop_latency: 1ms\n  ports:\n"
                                  "    - {number: 0, gen: 2, width: 4}\n    - {number: 1}\nnodes:\n"
                                  "  - {name: a, link: {gen: 2, width: 4}, ip: 192.168.0.0/31}\n"
                                  "  - {name: b, link: {gen: 1, width: 1}, cpus: 8, memory: 1025MiB}\n"
                                  "steps:\n  - {on: [a, b], run: ls, timeout: 1ms}\n"
                                  "  - {on: all, run: ls, timeout: 1440m, expect: 0}\n",
                              "ok.yaml");
  EXPECT_EQ(s.boot_timeout_ps, 24ull * 3600 * 1000000000000ull);
  EXPECT_EQ(s.hop_latency_ps, 1000000000ull);
  EXPECT_EQ(s.steps[0].timeout_ps, 1000000000ull);
  EXPECT_EQ(s.nodes[1].cpus, 8);
  EXPECT_EQ(s.nodes[1].memory, 1025ull << 20);
  EXPECT_EQ(s.nodes[1].ip, "10.0.0.2/24");
}
