// SPDX-License-Identifier: GPL-2.0-only
// ntblab-validate: `./ntblab validate FILE...` loads and checks scenario files
// with the scenario loader alone (no SystemC, no QEMU, no guest image), so a
// CI lint stage or an editor checks a scenario in seconds on a fresh clone.
// One line per file: "FILE: ok (...)" on stdout, or the loader's
// "FILE:LINE: FIELD: reason" on stderr. Exit status 0 when every file is
// valid, 2 when one is not, 1 on a usage error (docs/scenario-format.md,
// "Checking a scenario").
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "ntblab/scenario/scenario.h"

namespace {

const char kUsage[] =
    "usage: ntblab validate FILE...\n"
    "  Loads and checks scenario files (docs/scenario-format.md); builds and boots nothing.\n"
    "  Prints one line per file: 'FILE: ok (...)', or 'FILE:LINE: FIELD: reason' on stderr.\n"
    "  Exit status: 0 all valid, 2 some file is not, 1 usage error.\n";

/// One line: a message's newlines (e.g. from the YAML parser) become spaces.
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

std::string summary(const ntblab::scenario::Scenario& s) {
  return s.name + ": " + s.topology + ", " + std::to_string(s.nodes.size()) + " nodes, " +
         std::to_string(s.steps.size()) + (s.steps.size() == 1 ? " step" : " steps") + ", timing " +
         ntblab::scenario::to_string(s.timing.mode);
}

}  // namespace

int main(int argc, char** argv) {
  bool options_done = false;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (!options_done && (a == "-h" || a == "--help")) {
      std::cout << kUsage;
      return 0;
    }
    if (!options_done && a == "--") {
      options_done = true;
    } else if (!options_done && a.size() > 1 && a[0] == '-') {
      std::cerr << "ntblab validate: unknown option " << a << "\n" << kUsage;
      return 1;
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) {
    std::cerr << "ntblab validate: no scenario file given\n" << kUsage;
    return 1;
  }
  int rc = 0;
  for (const std::string& f : files) {
    try {
      const ntblab::scenario::Scenario s = ntblab::scenario::load_scenario(f);
      std::cout << f << ": ok (" << one_line(summary(s)) << ")\n";
    } catch (const ntblab::scenario::ScenarioError& e) {
      std::cerr << one_line(e.what()) << "\n";
      rc = 2;
    } catch (const std::exception& e) {  // e.g. std::bad_alloc: still one line, still this file's
      std::cerr << f << ":0: (file): " << one_line(e.what()) << "\n";
      rc = 2;
    }
  }
  std::cout.flush();
  return rc;
}
