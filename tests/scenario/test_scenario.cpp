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

// The `timing` section (docs/scenario-format.md, "timing"): what it accepts,
// with its defaults, and what it refuses, each with file, line and field.
namespace {

Scenario timed(const std::string& timing, const std::string& extra_top = "") {
  return parse_scenario("name: x\n" + extra_top + "timing: " + timing + "\nnodes:\n  - name: a\n  - name: b\n",
                        "timed.yaml");
}

}  // namespace

TEST(ScenarioTiming, DefaultsAreFreeTime) {
  const Scenario s = parse_scenario(kPair, "ok.yaml");
  EXPECT_EQ(s.timing.mode, TimingMode::Free);
  EXPECT_FALSE(s.timing.modelled());
  EXPECT_EQ(s.timing.ns_per_insn, 1u);
  EXPECT_EQ(s.timing.quantum_ps, 1000ull * 1000000);  // 1 ms
  EXPECT_EQ(s.timing.seed, 1u);
  EXPECT_EQ(s.timing.exact_from, "marker");
  // An empty-looking section changes nothing either.
  const Scenario f = timed("{mode: free}");
  EXPECT_EQ(f.timing.mode, TimingMode::Free);
  EXPECT_FALSE(f.timing.modelled());
}

TEST(ScenarioTiming, EachModeLoads) {
  const Scenario q = timed("{mode: quantum}");
  EXPECT_EQ(q.timing.mode, TimingMode::Quantum);
  EXPECT_TRUE(q.timing.modelled());
  EXPECT_EQ(q.timing.quantum_ps, 1000ull * 1000000);
  const Scenario e = timed("{mode: exact}");
  EXPECT_EQ(e.timing.mode, TimingMode::Exact);
  EXPECT_TRUE(e.timing.modelled());
  EXPECT_EQ(e.timing.exact_from, "marker");  // boot is cheap by default
  EXPECT_STREQ(to_string(TimingMode::Free), "free");
  EXPECT_STREQ(to_string(TimingMode::Quantum), "quantum");
  EXPECT_STREQ(to_string(TimingMode::Exact), "exact");
}

TEST(ScenarioTiming, NsPerInsnPowersOfTwo) {
  for (unsigned v : {1u, 2u, 4u, 64u, 1024u}) {
    const Scenario s = timed("{mode: quantum, ns_per_insn: " + std::to_string(v) + "}");
    EXPECT_EQ(s.timing.ns_per_insn, v);
  }
  EXPECT_EQ(timed("{mode: exact, ns_per_insn: 2}").timing.ns_per_insn, 2u);
}

TEST(ScenarioTiming, QuantumSeedAndExactFrom) {
  EXPECT_EQ(timed("{mode: quantum, quantum: 1us}").timing.quantum_ps, 1000000u);
  EXPECT_EQ(timed("{mode: quantum, quantum: 1ns}").timing.quantum_ps, 1000u);     // the bounds
  EXPECT_EQ(timed("{mode: quantum, quantum: 1s}").timing.quantum_ps, 1000000000000ull);
  EXPECT_EQ(timed("{mode: quantum, seed: 42}").timing.seed, 42u);
  EXPECT_EQ(timed("{mode: quantum, seed: 0}").timing.seed, 0u);
  EXPECT_EQ(timed("{mode: exact, exact_from: marker}").timing.exact_from, "marker");
  const Scenario b = timed("{mode: exact, exact_from: boot, quantum: 10us}");
  EXPECT_EQ(b.timing.exact_from, "boot");
  EXPECT_EQ(b.timing.quantum_ps, 10000000u);
  // Key order does not matter: mode may come after exact_from.
  EXPECT_EQ(timed("{exact_from: boot, mode: exact}").timing.exact_from, "boot");
  // Block style, and one vCPU and tcg given explicitly.
  const Scenario s = parse_scenario(
      "name: x\naccel: tcg\ntiming:\n  mode: exact\n  exact_from: boot\n  ns_per_insn: 8\nnodes:\n"
      "  - {name: a, cpus: 1}\n  - name: b\n",
      "ok.yaml");
  EXPECT_EQ(s.timing.mode, TimingMode::Exact);
  EXPECT_EQ(s.timing.exact_from, "boot");
  EXPECT_EQ(s.timing.ns_per_insn, 8u);
}

TEST(ScenarioTiming, FreeTimeKeepsCpusAndKvm) {
  // The one-vCPU and tcg rules are for modelled time only.
  const Scenario s = parse_scenario("name: x\naccel: kvm\nnodes:\n  - {name: a, cpus: 4}\n  - name: b\n", "ok.yaml");
  EXPECT_EQ(s.accel, "kvm");
  EXPECT_EQ(s.nodes[0].cpus, 4);
}

namespace {
// kPair with a timing section at lines 2..: "name: x\n" + T + nodes.
std::string with_timing(const std::string& timing_lines, const std::string& nodes = "  - name: a\n  - name: b\n") {
  return "name: x\n" + timing_lines + "nodes:\n" + nodes;
}
}  // namespace

INSTANTIATE_TEST_SUITE_P(
    ScenarioTiming, Refused,
    testing::Values(
        Refusal{"BadMode", with_timing("timing:\n  mode: fast\n"), 3, "timing.mode",
                "'fast' is not free, quantum or exact"},
        Refusal{"NsPerInsnNotPowerOfTwo", with_timing("timing:\n  mode: quantum\n  ns_per_insn: 3\n"), 4,
                "timing.ns_per_insn", "3 is not a power of two"},
        Refusal{"NsPerInsnZero", with_timing("timing:\n  mode: quantum\n  ns_per_insn: 0\n"), 4,
                "timing.ns_per_insn", "out of range 1..1024"},
        Refusal{"NsPerInsn2048", with_timing("timing:\n  mode: exact\n  ns_per_insn: 2048\n"), 4,
                "timing.ns_per_insn", "2048 is out of range 1..1024"},
        Refusal{"QuantumZero", with_timing("timing:\n  mode: quantum\n  quantum: 0ns\n"), 4, "timing.quantum",
                "'0ns' is not between 1ns and 1s"},
        Refusal{"QuantumBareZero", with_timing("timing:\n  mode: quantum\n  quantum: 0\n"), 4, "timing.quantum",
                "not a duration"},
        Refusal{"QuantumTwoSeconds", with_timing("timing:\n  mode: quantum\n  quantum: 2s\n"), 4,
                "timing.quantum", "'2s' is not between 1ns and 1s"},
        Refusal{"QuantumNotWholeNs", with_timing("timing:\n  mode: quantum\n  quantum: 1500ps\n"), 4,
                "timing.quantum", "not a whole number of ns"},
        Refusal{"ExactFromWithQuantum", with_timing("timing:\n  mode: quantum\n  exact_from: boot\n"), 4,
                "timing.exact_from", "only for mode: exact"},
        Refusal{"ExactFromWithoutMode", with_timing("timing:\n  exact_from: marker\n"), 3, "timing.exact_from",
                "only for mode: exact"},
        Refusal{"ExactFromBogus", with_timing("timing:\n  mode: exact\n  exact_from: never\n"), 4,
                "timing.exact_from", "'never' is not boot or marker"},
        Refusal{"NsPerInsnWithFree", with_timing("timing:\n  mode: free\n  ns_per_insn: 2\n"), 4,
                "timing.ns_per_insn", "only for mode: quantum or exact (mode is free)"},
        Refusal{"QuantumWithDefaultFree", with_timing("timing:\n  quantum: 1us\n"), 3, "timing.quantum",
                "only for mode: quantum or exact"},
        Refusal{"SeedWithFree", with_timing("timing: {mode: free, seed: 3}\n"), 2, "timing.seed",
                "only for mode: quantum or exact"},
        Refusal{"UnknownTimingKey", with_timing("timing:\n  mode: exact\n  qantum: 1us\n"), 4, "timing.qantum",
                "unknown field (expected one of: mode, ns_per_insn, quantum, seed, exact_from)"},
        Refusal{"TimingNotAMapping", with_timing("timing: exact\n"), 2, "timing", "expected a mapping"},
        Refusal{"TwoCpusInExact",
                with_timing("timing: {mode: exact, exact_from: boot}\n", "  - name: a\n  - name: b\n    cpus: 2\n"),
                6, "nodes[1].cpus", "2 vCPUs; timing mode exact runs exactly 1 per node"},
        Refusal{"EightCpusInQuantum",
                with_timing("timing: {mode: quantum}\n", "  - {name: a, cpus: 8}\n  - name: b\n"), 4,
                "nodes[0].cpus", "8 vCPUs; timing mode quantum"},
        Refusal{"KvmInQuantum", "name: x\naccel: kvm\ntiming: {mode: quantum}\nnodes:\n  - name: a\n  - name: b\n",
                2, "accel", "'kvm' cannot count instructions; timing mode quantum needs tcg"},
        Refusal{"KvmInExact", "name: x\ntiming:\n  mode: exact\naccel: kvm\nnodes:\n  - name: a\n  - name: b\n", 4,
                "accel", "timing mode exact needs tcg"}),
    [](const testing::TestParamInfo<Refusal>& info) { return std::string(info.param.name); });

namespace {
std::string batched(const std::string& batch, const std::string& steps = "") {
  return "name: x\n" + batch + "nodes:\n  - name: a\n  - name: b\n" + steps;
}
}  // namespace

TEST(ScenarioBatch, OffByDefaultOnWhenPresent) {
  EXPECT_FALSE(parse_scenario(kPair, "ok.yaml").batch.enabled);
  const Scenario e = parse_scenario(batched("batch: {}\n"), "ok.yaml");
  EXPECT_TRUE(e.batch.enabled);
  EXPECT_TRUE(e.batch.files.empty());
  const Scenario s = parse_scenario(
      batched("batch:\n  files: [/bin/bash, build/sockets/ntb_pingpong_bench]\n  modules: [ntb_transport]\n",
              "steps:\n  - {on: a, run: 'true'}\n  - {on: all, run: 'false', expect: 1}\n"),
      "ok.yaml");
  EXPECT_EQ(s.batch.files, (std::vector<std::string>{"/bin/bash", "build/sockets/ntb_pingpong_bench"}));
  EXPECT_EQ(s.batch.modules, std::vector<std::string>{"ntb_transport"});
  EXPECT_EQ(s.steps.size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(
    ScenarioBatch, Refused,
    testing::Values(
        Refusal{"UnknownKey", batched("batch:\n  file: [/bin/sh]\n"), 3, "batch.file",
                "unknown field (expected one of: files, modules)"},
        Refusal{"NotAMapping", batched("batch: yes\n"), 2, "batch", "expected a mapping"},
        Refusal{"FilesNotAList", batched("batch:\n  files: /bin/sh\n"), 3, "batch.files", "expected a list"},
        Refusal{"EmptyFile", batched("batch:\n  files: ['']\n"), 3, "batch.files[0]", "empty"},
        Refusal{"ModulePath", batched("batch:\n  modules: [kernel/ntb.ko]\n"), 3, "batch.modules[0]",
                "'kernel/ntb.ko' is not a module name"},
        Refusal{"ParallelGroup",
                batched("batch: {}\n", "steps:\n  - parallel:\n      - {on: a, run: 'true'}\n"), 8,
                "steps[0].parallel", "batch mode runs each node's steps one after another: no parallel groups"}),
    [](const testing::TestParamInfo<Refusal>& info) { return std::string(info.param.name); });
