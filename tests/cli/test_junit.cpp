// SPDX-License-Identifier: GPL-2.0-only
// JUnit XML from results.json (cli/lib/junit.h): one testcase per step and
// node, failures that say why with the output's tail, skipped steps a stopped
// run never reached, and well-formed XML whatever bytes a guest printed.
// (That an XML parser reads it: tests/cli/junit.sh.)
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "junit.h"

using namespace ntblab::cli;
using json = nlohmann::json;

namespace {

json step(const std::string& name, const std::string& node, int status, bool ok, double s = 0.5) {
  return {{"name", name}, {"node", node}, {"command", "cmd"}, {"status", status}, {"expect", 0},
          {"ok", ok}, {"timed_out", false}, {"seconds", s}, {"stdout", "out of " + name + "\n"},
          {"stderr", ""}, {"line", 7}};
}

json plan(std::initializer_list<std::pair<const char*, std::vector<std::string>>> steps) {
  json a = json::array();
  for (const auto& [name, on] : steps) a.push_back({{"name", name}, {"on", on}});
  return {{"steps", a}};
}

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace

TEST(JunitEscape, EntitiesAndReferences) {
  EXPECT_EQ(xml_escape("a&b<c>\"d'e"), "a&amp;b&lt;c&gt;&quot;d&apos;e");
  EXPECT_EQ(xml_escape("x\ny\tz\r"), "x&#10;y&#9;z&#13;");           // attribute: kept as written
  EXPECT_EQ(xml_escape("x\ny\tz\r", false), "x\ny\tz&#13;");         // text: LF and TAB as they are
  EXPECT_EQ(xml_escape("grüße €"), "grüße €");                       // valid UTF-8 passes
}

TEST(JunitEscape, WhatXmlCannotHoldBecomesReplacementCharacter) {
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(xml_escape(std::string("a\0b", 3)), "a" + fffd + "b");   // NUL
  EXPECT_EQ(xml_escape("\x01\x1b[0m"), fffd + fffd + "[0m");         // controls (an ANSI colour)
  EXPECT_EQ(xml_escape("\xff\xfe"), fffd + fffd);                     // not UTF-8
  EXPECT_EQ(xml_escape("\xc3"), fffd);                                // cut sequence
  EXPECT_EQ(xml_escape("\xc0\xaf"), fffd + fffd);                     // overlong '/'
  EXPECT_EQ(xml_escape("\xed\xa0\x80"), fffd + fffd + fffd);          // a surrogate
  EXPECT_EQ(xml_escape("\xef\xbf\xbf"), fffd);                        // U+FFFF
}

TEST(JunitTail, LastLinesWithinBytes) {
  EXPECT_EQ(output_tail(""), "");
  EXPECT_EQ(output_tail("\n\n"), "");
  EXPECT_EQ(output_tail("one\ntwo\n"), "one\ntwo\n");
  EXPECT_EQ(output_tail("no newline"), "no newline\n");
  EXPECT_EQ(output_tail("1\n2\n3\n4\n", 2), "[... 4 bytes cut ...]\n3\n4\n");
  EXPECT_EQ(output_tail("1\n2\n3\n4\n", 1), "[... 6 bytes cut ...]\n4\n");
  std::string big;
  for (int i = 0; i < 1000; ++i) big += "line " + std::to_string(i) + "\n";
  const std::string t = output_tail(big, 50, 100);
  EXPECT_LE(t.size(), 100u + 30u);
  EXPECT_EQ(t.rfind("line 999\n"), t.size() - 9);
  EXPECT_EQ(t.find("[... "), 0u);
  EXPECT_NE(t.find("bytes cut ...]\nline "), std::string::npos) << t;  // cut at a line start
}

TEST(Junit, OneTestcasePerStepAndNode) {
  json run = {{"scenario", "two-node"}, {"file", "scenarios/two-node.yaml"}, {"ok", true},
              {"steps", {step("see", "node0", 0, true, 0.25), step("see", "node1", 0, true, 0.5),
                         step("ping", "node0", 0, true, 1.0)}},
              {"scenario_resolved", plan({{"see", {"node0", "node1"}}, {"ping", {"node0"}}})}};
  const std::string x = junit_xml(run);
  EXPECT_EQ(x.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites", 0), 0u) << x;
  EXPECT_EQ(count(x, "<testsuite "), 1u);
  EXPECT_EQ(count(x, "<testcase "), 3u);
  EXPECT_NE(x.find("<testsuite name=\"two-node\" tests=\"3\" failures=\"0\" errors=\"0\" skipped=\"0\" time=\"1.750\">"),
            std::string::npos) << x;
  EXPECT_NE(x.find("<testcase name=\"see [node1]\" classname=\"two-node\" time=\"0.500\" "
                   "file=\"scenarios/two-node.yaml\" line=\"7\">"), std::string::npos) << x;
  EXPECT_NE(x.find("<system-out>out of ping\n</system-out>"), std::string::npos) << x;
  EXPECT_EQ(count(x, "<failure"), 0u);
  EXPECT_EQ(count(x, "<skipped"), 0u);
}

TEST(Junit, FailureSaysWhyAndSkipsTheRest) {
  json failed = step("check", "node1", 3, false);
  failed["stderr"] = "first\nthe reason\n";
  json timed = step("wait", "node0", 137, false);
  timed["timed_out"] = true;
  json lost = step("lost", "node0", -1, false);
  json run = {{"scenario", "s"}, {"ok", false},
              {"steps", {step("ok", "node0", 0, true), failed, timed, lost}},
              {"scenario_resolved", plan({{"ok", {"node0"}}, {"check", {"node1"}}, {"wait", {"node0"}},
                                          {"lost", {"node0"}}, {"later", {"node0", "node1"}}})}};
  const std::string x = junit_xml(run);
  EXPECT_NE(x.find("tests=\"6\" failures=\"3\" errors=\"0\" skipped=\"2\""), std::string::npos) << x;
  EXPECT_NE(x.find("<failure message=\"exit status 3, expected 0\" type=\"step\">--- stderr (end) ---\nfirst\n"
                   "the reason\n--- stdout (end) ---\nout of check\n</failure>"), std::string::npos) << x;
  EXPECT_NE(x.find("<failure message=\"timed out\""), std::string::npos) << x;
  EXPECT_NE(x.find("<failure message=\"control channel error: no exit status"), std::string::npos) << x;
  EXPECT_NE(x.find("<testcase name=\"later [node1]\" classname=\"s\" time=\"0.000\">\n"
                   "      <skipped message=\"not run: an earlier step failed\"/>"), std::string::npos) << x;
}

TEST(Junit, ARunThatStoppedHasAnErrorCase) {
  json run = {{"scenario", "s"}, {"ok", false}, {"boot_s", 3.0},
              {"error", "node1: no answer from the guest within 120 s; console:\n<panic>"},
              {"steps", json::array()},
              {"scenario_resolved", plan({{"a", {"node0"}}})}};
  const std::string x = junit_xml(run);
  EXPECT_NE(x.find("tests=\"2\" failures=\"0\" errors=\"1\" skipped=\"1\""), std::string::npos) << x;
  EXPECT_NE(x.find("<skipped message=\"not run: node1: no answer from the guest within 120 s; console:&#10;&lt;panic&gt;\"/>"),
            std::string::npos) << x;
  EXPECT_NE(x.find("<testcase name=\"(run)\" classname=\"s\" time=\"3.000\">\n      <error message=\"node1: no answer"),
            std::string::npos) << x;
}

TEST(Junit, WithoutAPlanOnlyWhatRan) {
  // An older results.json (no scenario_resolved): the steps that ran, nothing invented.
  json run = {{"scenario", "s"}, {"steps", {step("a", "n", 1, false)}}};
  const std::string x = junit_xml(run);
  EXPECT_EQ(count(x, "<testcase "), 1u);
  EXPECT_EQ(count(x, "<skipped"), 0u);
}

TEST(Junit, OneTestsuitePerRun) {
  json a = {{"scenario", "a"}, {"steps", {step("x", "n", 0, true)}}};
  json b = {{"scenario", "b"}, {"steps", {step("y", "n", 1, false), step("z", "n", 0, true)}}};
  const std::string x = junit_xml(std::vector<json>{a, b});
  EXPECT_EQ(count(x, "<testsuite "), 2u);
  EXPECT_NE(x.find("<testsuites name=\"ntblab\" tests=\"3\" failures=\"1\""), std::string::npos) << x;
}

TEST(Junit, ProvenanceBecomesProperties) {
  json run = {{"scenario", "s"}, {"steps", json::array()},
              {"provenance", {{"lab_revision", "abc123-dirty"}, {"qemu_version", "QEMU emulator version 7.2.22"}}}};
  const std::string x = junit_xml(run);
  EXPECT_NE(x.find("<property name=\"lab_revision\" value=\"abc123-dirty\"/>"), std::string::npos) << x;
  EXPECT_NE(x.find("<property name=\"qemu_version\" value=\"QEMU emulator version 7.2.22\"/>"), std::string::npos);
}

// Batch mode has no host time per step (seconds is null): the guest's own.
TEST(Junit, BatchStepsTakeTheGuestClock) {
  json st = step("ping", "node1", 0, true);
  st["seconds"] = nullptr;
  st["guest_seconds"] = 0.125;
  const json run = {{"scenario", "b"}, {"file", "b.yaml"}, {"ok", true}, {"steps", json::array({st})}};
  const std::string x = junit_xml(run);
  EXPECT_NE(x.find("<testcase name=\"ping [node1]\" classname=\"b\" time=\"0.125\""), std::string::npos) << x;
}
