// SPDX-License-Identifier: GPL-2.0-only
// bench_cluster: the lab's own speed, wall clock, on this machine.
//   boot_2node_s           `run` to every guest's agent answering, 2 nodes back to back
//   boot_4node_s           the same, 4 nodes on a fabric
//   bar_read_rtt_us        one 32-bit read of an NT register by a guest (BAR0), mean
//   window_write_mb_per_s  posted writes through a window (BAR2) by a guest, 64 MiB
// Printed as "name value" and written to DIR/cluster.json.
//   bench_cluster [--out DIR]      (DIR default: ./bench-results)
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <systemc>

#include "runner.h"
#include "ntblab/scenario/scenario.h"

using namespace ntblab::cli;

namespace {

const char* kTwoNodes = R"(name: bench-two-node
topology: back-to-back
nodes:
  - {name: node0, cmdline: "memmap=16M$0xC000000"}
  - {name: node1, cmdline: "memmap=16M$0xC000000"}
)";

const char* kFourNodes = R"(name: bench-four-node
topology: fabric
nodes: [{name: node0}, {name: node1}, {name: node2}, {name: node3}]
)";

/// Write the scenario to a file (the switch process reads it) and load it.
Scenario scenario(const std::string& dir, const std::string& name, const char* text) {
  std::string path = dir + "/" + name + ".yaml";
  std::ofstream(path) << text;
  return load_scenario(path);
}

double number(const CommandResult& r, const std::string& what) {
  if (r.status != 0) throw std::runtime_error(what + " failed: " + r.err + r.out);
  return std::stod(r.out);
}

}  // namespace

int sc_main(int argc, char** argv) {
  std::string out = "bench-results";
  for (int i = 1; i < argc; ++i)
    if (!std::strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
  std::filesystem::create_directories(out);
  InterruptGuard guard;
  LabPaths paths = LabPaths::from_environment();
  const std::string mmio = std::string(NTBLAB_BINARY_DIR) + "/bench/ntbmmio";
  const std::string probe = paths.root + "/tests/cluster/ntprobe.py";
  std::map<std::string, double> fig;
  try {
    RunOptions opts;
    opts.out_dir = out + "/cluster-run";
    {
      LabRun c(scenario(out, "bench-two-node", kTwoNodes), paths, opts);
      c.boot();
      fig["boot_2node_s"] = c.boot_seconds();
      for (const char* node : {"node0", "node1"})
        if (c.exec(node, "python3 " + probe + " b2b-setup --inbound 0xC000000", 60).status != 0)
          throw std::runtime_error(std::string(node) + ": b2b-setup failed");
      fig["bar_read_rtt_us"] = number(c.exec("node0", mmio + " read-rtt 0 0x3EC6C 2000", 120), "read-rtt");
      fig["window_write_mb_per_s"] =
          number(c.exec("node0", mmio + " write-bw 2 0 67108864", 300), "write-bw");
      c.shutdown();
    }
    {
      LabRun c(scenario(out, "bench-four-node", kFourNodes), paths, opts);
      c.boot();
      fig["boot_4node_s"] = c.boot_seconds();
      c.shutdown();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cluster: %s\n", e.what());
    return 1;
  }
  for (const auto& [k, v] : fig) std::printf("%s %.6g\n", k.c_str(), v);
  std::ofstream(out + "/cluster.json") << nlohmann::json(fig).dump(2) << "\n";
  return 0;
}
