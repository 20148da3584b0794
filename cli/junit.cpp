// SPDX-License-Identifier: GPL-2.0-only
// `ntblab junit RESULTS.json... [--out FILE]`: JUnit XML of earlier runs
// (what `run --junit` writes), e.g. for a CI step after the runs.
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "junit.h"
#include "results_file.h"

namespace ntblab::cli {

int junit(const std::vector<std::string>& results_files, const std::string& out) {
  std::vector<nlohmann::json> runs;
  for (const std::string& f : results_files) {
    std::ifstream in(f);
    if (!in) {
      std::cerr << "ntblab junit: cannot read " << f << "\n";
      return 1;
    }
    try {
      runs.push_back(nlohmann::json::parse(in));
    } catch (const nlohmann::json::exception& e) {
      std::cerr << "ntblab junit: " << f << ": not JSON: " << e.what() << "\n";
      return 1;
    }
    if (!runs.back().is_object()) {
      std::cerr << "ntblab junit: " << f << ": not a results.json object\n";
      return 1;
    }
  }
  const std::string xml = junit_xml(runs);
  if (out.empty() || out == "-") {
    std::cout << xml;
    return std::cout.good() ? 0 : 1;
  }
  write_file_atomic(out, xml);  // throws: main reports it, status 1
  return 0;
}

}  // namespace ntblab::cli
