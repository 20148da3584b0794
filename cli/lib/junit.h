// SPDX-License-Identifier: GPL-2.0-only
// JUnit XML from results.json (`ntblab run --junit FILE`, `ntblab junit`): one
// <testsuite> per scenario run, one <testcase> per step and node, the way CI
// systems show test results (docs/scenario-format.md, "JUnit XML").
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ntblab::cli {

/// The JUnit XML document of some runs, each a results.json object: a
/// <testsuites> with one <testsuite> per run. Per step and node a <testcase>
/// named "STEP [NODE]" with its time, <system-out>/<system-err> (the output's
/// tail) and, when it failed, a <failure> whose message says why (exit status,
/// timeout, lost control channel). Steps a stopped run never reached are
/// <skipped> (known from the run's scenario_resolved); a run that stopped
/// with an error (boot, a process died, interrupted) has a testcase "(run)"
/// with an <error>. Any bytes in the results come out as well-formed XML.
std::string junit_xml(const std::vector<nlohmann::json>& runs);
std::string junit_xml(const nlohmann::json& run);

/// `text` escaped for an XML 1.0 attribute value (or, `attribute` false, for
/// element text): & < > " ' as entities, CR as a reference (a parser would
/// turn it into LF) and, in attributes, LF and TAB too (a parser would turn
/// them into spaces); invalid UTF-8 and the characters XML 1.0 forbids
/// (other controls, U+FFFE, U+FFFF) become U+FFFD.
std::string xml_escape(const std::string& text, bool attribute = true);

/// The end of `text`: its last `max_lines` lines and at most `max_bytes`
/// bytes (cut at a line start when possible), with "[... N bytes cut ...]"
/// in front when anything was cut.
std::string output_tail(const std::string& text, size_t max_lines = 50, size_t max_bytes = 16384);

}  // namespace ntblab::cli
