// SPDX-License-Identifier: GPL-2.0-only
// Test helper for scenario-schema.py: each scenario file given, loaded and
// printed as its resolved JSON (scenario_json.h), one line per file. Exit
// status 2 with the loader's message when a file is refused.
#include <iostream>

#include "ntblab/scenario/scenario.h"
#include "ntblab/scenario/scenario_json.h"

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    try {
      std::cout << ntblab::scenario::resolved_json(ntblab::scenario::load_scenario(argv[i])).dump() << "\n";
    } catch (const ntblab::scenario::ScenarioError& e) {
      std::cerr << e.what() << "\n";
      return 2;
    }
  }
  return 0;
}
