// SPDX-License-Identifier: GPL-2.0-only
#include "junit.h"

#include <cstdio>

namespace ntblab::cli {

using json = nlohmann::json;

namespace {

/// Length of the valid UTF-8 sequence at s[i] and its code point, or 0.
size_t utf8_at(const std::string& s, size_t i, uint32_t& cp) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  size_t n;
  uint32_t min;
  if (c < 0x80) {
    cp = c;
    return 1;
  } else if ((c & 0xE0) == 0xC0) {
    n = 2, cp = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, cp = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = cp << 6 | (b(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;  // overlong, too big, surrogate
  return n;
}

std::string str(const json& j, const char* key, const std::string& fallback = "") {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  return it->is_string() ? it->get<std::string>() : it->dump();
}

double num(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : 0.0;
}

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", s < 0 ? 0.0 : s);
  return buf;
}

std::string attr(const char* name, const std::string& value) {
  return std::string(" ") + name + "=\"" + xml_escape(value) + "\"";
}

/// Why a step that is not ok failed.
std::string failure_message(const json& step) {
  if (step.value("timed_out", false)) return "timed out";
  const json& expect = step.contains("expect") ? step["expect"] : json(0);
  const int status = step.contains("status") && step["status"].is_number_integer() ? step["status"].get<int>() : -1;
  if (status < 0) return "control channel error: no exit status (the guest, its QEMU or the switch process was lost)";
  if (expect.is_number_integer() && status != expect.get<int>())
    return "exit status " + std::to_string(status) + ", expected " + std::to_string(expect.get<int>());
  return "control channel error (exit status " + std::to_string(status) + ")";
}

/// The (step name, node) pairs a scenario runs, in the order results.json
/// lists them: each step's nodes, a parallel group's steps one after another.
std::vector<std::pair<std::string, std::string>> planned(const json& resolved) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!resolved.is_object() || !resolved.contains("steps") || !resolved["steps"].is_array()) return out;
  auto leaf = [&](const json& st) {
    if (!st.contains("on") || !st["on"].is_array()) return;
    for (const json& node : st["on"]) out.emplace_back(str(st, "name"), node.is_string() ? node.get<std::string>() : "");
  };
  for (const json& st : resolved["steps"]) {
    if (st.contains("parallel") && st["parallel"].is_array())
      for (const json& p : st["parallel"]) leaf(p);
    else
      leaf(st);
  }
  return out;
}

struct Suite {
  std::string xml;
  int tests = 0, failures = 0, errors = 0, skipped = 0;
  double time = 0;
};

Suite suite_of(const json& run) {
  Suite s;
  const std::string scenario = str(run, "scenario", "scenario");
  const std::string file = str(run, "file");
  std::string cases;
  auto testcase = [&](const std::string& name, double t, const std::string& line, const std::string& body) {
    ++s.tests;
    s.time += t;
    cases += "    <testcase" + attr("name", name) + attr("classname", scenario) + attr("time", seconds(t));
    if (!file.empty()) cases += attr("file", file);
    if (!line.empty()) cases += attr("line", line);
    cases += body.empty() ? "/>\n" : ">\n" + body + "    </testcase>\n";
  };

  const json steps = run.contains("steps") && run["steps"].is_array() ? run["steps"] : json::array();
  for (const json& st : steps) {
    const std::string out = output_tail(str(st, "stdout")), err = output_tail(str(st, "stderr"));
    std::string body;
    if (!st.value("ok", false)) {
      ++s.failures;
      std::string detail;
      if (!err.empty()) detail += "--- stderr (end) ---\n" + err;
      if (!out.empty()) detail += "--- stdout (end) ---\n" + out;
      body += "      <failure" + attr("message", failure_message(st)) + attr("type", "step") + ">" +
              xml_escape(detail, false) + "</failure>\n";
    }
    if (!out.empty()) body += "      <system-out>" + xml_escape(out, false) + "</system-out>\n";
    if (!err.empty()) body += "      <system-err>" + xml_escape(err, false) + "</system-err>\n";
    const std::string line = st.contains("line") && st["line"].is_number_integer() ? st["line"].dump() : "";
    // Batch mode has no host time per step: the guest's clock instead.
    const double t = st.contains("seconds") && st["seconds"].is_number() ? num(st, "seconds") : num(st, "guest_seconds");
    testcase(str(st, "name") + " [" + str(st, "node") + "]", t, line, body);
  }

  // Steps never reached: the rest of the plan, if what ran is its beginning.
  const std::string error = str(run, "error");
  const auto plan = planned(run.contains("scenario_resolved") ? run["scenario_resolved"] : json());
  bool prefix = plan.size() >= steps.size();
  for (size_t i = 0; prefix && i < steps.size(); ++i)
    prefix = plan[i].first == str(steps[i], "name") && plan[i].second == str(steps[i], "node");
  if (prefix) {
    const std::string why = error.empty() ? "not run: an earlier step failed" : "not run: " + error;
    for (size_t i = steps.size(); i < plan.size(); ++i) {
      ++s.skipped;
      testcase(plan[i].first + " [" + plan[i].second + "]", 0, "", "      <skipped" + attr("message", why) + "/>\n");
    }
  }

  if (!error.empty()) {
    ++s.errors;
    testcase("(run)", num(run, "boot_s"), "",
             "      <error" + attr("message", error) + attr("type", "run") + ">" + xml_escape(error, false) + "</error>\n");
  }

  std::string props;
  auto prop = [&](const std::string& name, const std::string& value) {
    if (!value.empty()) props += "      <property" + attr("name", name) + attr("value", value) + "/>\n";
  };
  prop("file", file);
  prop("topology", str(run, "topology"));
  if (run.contains("provenance") && run["provenance"].is_object())
    for (const auto& [k, v] : run["provenance"].items()) prop(k, v.is_string() ? v.get<std::string>() : v.dump());

  s.xml = "  <testsuite" + attr("name", scenario) + attr("tests", std::to_string(s.tests)) +
          attr("failures", std::to_string(s.failures)) + attr("errors", std::to_string(s.errors)) +
          attr("skipped", std::to_string(s.skipped)) + attr("time", seconds(s.time)) + ">\n" +
          (props.empty() ? "" : "    <properties>\n" + props + "    </properties>\n") + cases + "  </testsuite>\n";
  return s;
}

}  // namespace

std::string xml_escape(const std::string& text, bool attribute) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (size_t i = 0; i < text.size();) {
    uint32_t cp = 0;
    const size_t n = utf8_at(text, i, cp);
    if (n == 0) {  // not UTF-8: one byte becomes U+FFFD
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    switch (cp) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      case '\n': out += attribute ? "&#10;" : "\n"; break;
      case '\r': out += "&#13;"; break;
      case '\t': out += attribute ? "&#9;" : "\t"; break;
      default:
        if (cp < 0x20 || cp == 0xFFFE || cp == 0xFFFF) out += "\xEF\xBF\xBD";
        else out.append(text, i, n);
    }
    i += n;
  }
  return out;
}

std::string output_tail(const std::string& text, size_t max_lines, size_t max_bytes) {
  size_t end = text.size();
  while (end > 0 && text[end - 1] == '\n') --end;  // trailing newlines are no lines
  if (end == 0) return "";
  // Back from the end, one newline per line kept.
  size_t start = 0, pos = end, lines = 0;
  while (pos > 0) {
    const size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) break;
    if (++lines >= max_lines) {
      start = nl + 1;
      break;
    }
    pos = nl;
  }
  if (end - start > max_bytes) {
    start = end - max_bytes;
    const size_t nl = text.find('\n', start);
    if (nl != std::string::npos && nl + 1 < end) start = nl + 1;
  }
  std::string tail = text.substr(start, end - start) + "\n";
  if (start > 0) tail = "[... " + std::to_string(start) + " bytes cut ...]\n" + tail;
  return tail;
}

std::string junit_xml(const std::vector<json>& runs) {
  Suite all;
  std::string suites;
  for (const json& run : runs) {
    Suite s = suite_of(run);
    all.tests += s.tests, all.failures += s.failures, all.errors += s.errors, all.skipped += s.skipped;
    all.time += s.time;
    suites += s.xml;
  }
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites" + attr("name", "ntblab") +
         attr("tests", std::to_string(all.tests)) + attr("failures", std::to_string(all.failures)) +
         attr("errors", std::to_string(all.errors)) + attr("skipped", std::to_string(all.skipped)) +
         attr("time", seconds(all.time)) + ">\n" + suites + "</testsuites>\n";
}

std::string junit_xml(const json& run) { return junit_xml(std::vector<json>{run}); }

}  // namespace ntblab::cli
