// SPDX-License-Identifier: GPL-2.0-only
// bench_modelled: the lab's guests in modelled time (docs/modelled-time.md),
// from one invocation, several short runs of two back-to-back guests:
//   free        boot in today's free-running mode          boot_2node_s_free
//   probe       exact mode, both chips programmed from user space: a 4-byte
//               read through node1's window and an 8-byte posted write from
//               node0 into node1's RAM, timed by the guests' TSCs, against the
//               model's latencies for them
//   gen3x8      exact mode (boot in quantum rounds, af_ntb loaded, the
//               exact-time marker): 10 000 af_ntb 64 B round trips
//   ntb_perf    Linux's ntb_perf with DMA (plx_dma), 4 MiB, Gen3 x8, exact
//   gen1x1 ×2   the same ping-pong on a Gen1 x1 link in batch mode
//               (docs/modelled-time.md, "Batch mode"), twice: deterministic
//               is 1 when the two runs' batch logs and trace hashes agree
// Figures in modelled time: *_modelled, window_read_ns_*, posted_write_ns_*, rtt64_us_*,
// link_payload_limit_mb_per_s; in host wall-clock time: boot_2node_s_*,
// host_s_10k_pingpong. Printed as "name value", written to DIR/modelled.json.
//   bench_modelled [--out DIR] [--iters N] [--demo]
// --demo (what ./ntblab demo runs): only the two ping-pongs, one run each, 300
// round trips unless --iters says otherwise.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <systemc>
#include <vector>

#include "ntblab/model/path.h"
#include "ntblab/scenario/scenario.h"
#include "results_file.h"
#include "runner.h"

using namespace ntblab::cli;
using nlohmann::json;

namespace {

std::string two_nodes(const std::string& name, const std::string& timing, int gen, int width,
                      const std::string& cmdline = "") {
  std::ostringstream s;
  s << "name: " << name << "\ntopology: back-to-back\nboot_timeout: 300s\n";
  if (!timing.empty()) s << "timing: " << timing << "\n";
  for (int i = 0; i < 2; ++i)
    s << (i ? "" : "nodes:\n") << "  - {name: node" << i << ", memory: 256MiB, link: {gen: " << gen
      << ", width: " << width << "}" << (cmdline.empty() ? "" : ", cmdline: \"" + cmdline + "\"") << "}\n";
  return s.str();
}

// node1's inbound window lands here; the kernel leaves the region alone
// (memmap), so ntbmmio may map it through /dev/mem.
constexpr const char* kInbound = "0xC000000";

struct Run {
  LabRun& c;
  std::string build;  // the build tree, as the guests see it
  std::string root;

  CommandResult must(const std::string& node, const std::string& cmd, double timeout, const std::string& what) {
    CommandResult r = c.exec(node, cmd, timeout);
    if (r.status != 0)
      throw std::runtime_error(node + ": " + what + " failed (status " + std::to_string(r.status) + "): " + r.err +
                               r.out);
    return r;
  }
  /// The exact-time marker (docs/modelled-time.md, "Modes"): from here on
  /// every effect lands at its modelled nanosecond.
  void marker() {
    must("node1",
         "d=$(grep -l 0x87b0 /sys/bus/pci/devices/*/device | head -1); "
         "printf '\\041\\142\\164\\156' | dd of=${d%/device}/config bs=4 seek=1020 conv=notrunc status=none",
         60, "exact-time marker");
  }
  /// Both chips programmed from user space, no driver (tests/cluster/ntprobe.py),
  /// so ntbmmio may map node1's BAR2: a window onto node0's RAM.
  void windows() {
    for (const char* n : {"node0", "node1"})
      must(n, "python3 " + root + "/tests/cluster/ntprobe.py b2b-setup --inbound " + kInbound, 120, "b2b-setup");
  }
  /// af_ntb up on both nodes, a ping-pong server on node0.
  void setup() {
    const std::string guest = root + "/sockets/lab/guest.sh";
    for (const char* n : {"node0", "node1"}) must(n, guest + " load", 240, "af_ntb load");
    for (const char* n : {"node0", "node1"}) must(n, guest + " wait-up 120", 240, "af_ntb session");
    must("node0",
         "nohup " + build + "/sockets/ntb_pingpong_bench --server --family ntb --port 5201 >/tmp/pp.log 2>&1 &", 30,
         "ping-pong server");
  }
  /// {p50 us, host seconds} of an af_ntb 64 B ping-pong from node1.
  std::pair<double, double> pingpong(int iters, json* all = nullptr) {
    CommandResult r = must("node1",
                           build + "/sockets/ntb_pingpong_bench --client 10.1.0.1 --family ntb --port 5201 "
                                   "--sizes 64 --warmup 20 --json --iters " + std::to_string(iters),
                           1800, "ping-pong");
    auto pos = r.out.rfind("\n{");
    json j = json::parse(pos == std::string::npos ? r.out : r.out.substr(pos + 1));
    if (all) *all = j.at("results");
    return {j.at("results").at(0).at("p50_us").get<double>(), r.seconds};
  }
  /// Guest-timed 4-byte read through node1's BAR2 window: the fastest of 50,
  /// less the cost of reading the TSC twice, in ns.
  double window_read_ns() {
    CommandResult r = must("node1", build + "/bench/ntbmmio read-ticks 2 0 50", 120, "window read");
    unsigned long long mn = 0, p50 = 0, mx = 0, over = 0;
    if (std::sscanf(r.out.c_str(), "%llu %llu %llu %llu", &mn, &p50, &mx, &over) != 4)
      throw std::runtime_error("ntbmmio: unexpected output: " + r.out);
    return double(mn) - double(over);
  }
  /// One 8-byte posted write from node0 into node1's RAM, timed by the two
  /// guests' TSCs (one clock in modelled time), in ns.
  double posted_write_ns() {
    must("node1", "rm -f /tmp/recv.out; " + build + "/bench/ntbmmio recv-ticks " + kInbound + " 20 /tmp/recv.out",
         120, "posted-write receiver");
    must("node0", build + "/bench/ntbmmio send-ticks 2 0", 120, "posted write");
    CommandResult r = must("node1",
                           "for i in $(seq 200); do [ -s /tmp/recv.out ] && break; sleep 0.05; done; cat /tmp/recv.out",
                           120, "posted-write result");
    return std::stod(r.out);
  }
};

/// An af_ntb 64 B ping-pong in batch mode: node1 writes the marker once
/// both sessions are up; node0 serves one client.
std::string batch_pingpong(const std::string& name, int gen, int width, int iters, const std::string& root,
                           const std::string& build) {
  const std::string bench = build + "/sockets/ntb_pingpong_bench";
  std::ostringstream s;
  s << two_nodes(name, "{mode: exact, exact_from: marker}", gen, width)
    << "batch:\n  files: [/bin/bash, sockets/lab/guest.sh, guest/lib/guest-lib.sh, " << bench << "]\n"
    << "steps:\n"
    << "  - {name: load af_ntb, on: all, timeout: 240s, run: \"" << root << "/sockets/lab/guest.sh load && " << root
    << "/sockets/lab/guest.sh wait-up 120\"}\n"
    << "  - name: marker\n    on: node1\n    timeout: 60s\n"
    << "    run: d=$(grep -l 0x87b0 /sys/bus/pci/devices/*/device | head -1); printf '\\041\\142\\164\\156' | "
       "dd of=${d%/device}/config bs=4 seek=1020 conv=notrunc status=none\n"
    << "  - {name: server, on: node0, timeout: 3600s, run: \"" << bench
    << " --server --family ntb --port 5201 --once\"}\n"
    << "  - {name: ping-pong, on: node1, timeout: 3600s, run: \"" << bench
    << " --client 10.1.0.1 --family ntb --port 5201 --sizes 64 --warmup 20 --json --iters " << iters << "\"}\n";
  return s.str();
}

json sync_stats(LabRun& c) {
  const json& s = c.switch_stats();
  if (!s.contains("sync")) throw std::runtime_error("the switch wrote no modelled-time statistics");
  return s["sync"];
}

}  // namespace

int sc_main(int argc, char** argv) {
  std::string out = "bench-results";
  int iters = 0;
  bool demo = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
    else if (!std::strcmp(argv[i], "--iters") && i + 1 < argc) iters = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--demo")) demo = true;
    else {
      std::fprintf(stderr, "usage: bench_modelled [--out DIR] [--iters N] [--demo]\n");
      return 2;
    }
  }
  if (iters <= 0) iters = demo ? 300 : 10000;
  std::filesystem::create_directories(out);
  InterruptGuard guard;
  LabPaths paths = LabPaths::from_environment();
  const std::string build = NTBLAB_BINARY_DIR;
  std::map<std::string, double> fig;
  double late = 0;
  auto scenario = [&](const std::string& name, const std::string& text) {
    const std::string path = out + "/" + name + ".yaml";
    write_file_atomic(path, text);
    return load_scenario(path);
  };
  auto options = [&](const std::string& name) {
    RunOptions o;
    o.out_dir = out + "/" + name;
    return o;
  };
  try {
    if (!demo) {  // today's mode, for the cost of booting in quantum rounds
      LabRun c(scenario("free", two_nodes("bench-modelled-free", "", 3, 8)), paths, options("free"));
      c.boot();
      fig["boot_2node_s_free"] = c.boot_seconds();
      c.shutdown();
    }
    const std::string exact = "{mode: exact, exact_from: marker}";
    if (!demo) {  // a read and a posted write through the window, timed by the guests
      LabRun c(scenario("probe", two_nodes("bench-modelled-probe", exact, 3, 8, std::string("memmap=16M$") + kInbound)),
               paths, options("probe"));
      Run r{c, build, paths.root};
      c.boot();
      r.windows();
      r.marker();
      fig["window_read_ns_guest"] = r.window_read_ns();
      fig["posted_write_ns_guest"] = r.posted_write_ns();
      c.shutdown();
      const json s = sync_stats(c);
      fig["window_read_ns_model"] = s.at("mmio_read_ns_by_bar").at("2").at(0).get<double>();
      fig["posted_write_ns_model"] = s.at("posted_write_ns_by_bytes").at("8").at(0).get<double>();
      late += s.at("late_effects").get<double>() + s.at("grant_overruns").get<double>();
    }
    {
      LabRun c(scenario("gen3x8", two_nodes("bench-modelled-gen3x8", exact, 3, 8)), paths, options("gen3x8"));
      Run r{c, build, paths.root};
      c.boot();
      fig["boot_2node_s_quantum"] = c.boot_seconds();
      r.setup();
      r.marker();
      c.progress("af_ntb ping-pong, " + std::to_string(iters) + " round trips in modelled time");
      auto [p50, host_s] = r.pingpong(iters);
      fig["rtt64_us_modelled_gen3x8"] = p50;
      fig["host_s_10k_pingpong"] = host_s * 10000.0 / iters;
      c.shutdown();
      late += sync_stats(c).at("late_effects").get<double>() + sync_stats(c).at("grant_overruns").get<double>();
    }
    if (!demo) {  // Linux's ntb_perf with the switch's DMA engine, timed by the guest
      LabRun c(scenario("ntb_perf", two_nodes("bench-modelled-ntb-perf", exact, 3, 8)), paths, options("ntb_perf"));
      Run r{c, build, paths.root};
      c.boot();
      for (const char* n : {"node0", "node1"}) r.must(n, paths.root + "/tests/ntb/guest.sh setup", 240, "ntb setup");
      for (const char* n : {"node0", "node1"})
        r.must(n, "modprobe ntb_perf use_dma=1 total_order=22 max_mw_size=4194304 && sleep 2", 240, "ntb_perf");
      r.marker();
      CommandResult p = r.must("node0",
                               "D=$(ls /sys/bus/ntb/devices); P=/sys/kernel/debug/ntb_perf/$D; "
                               "echo 0 > $P/run && cat $P/run",
                               1800, "ntb_perf run");
      // "0: copied 4194304 bytes in 733 usecs, 5722 MBytes/s"
      const auto at = p.out.find(" MBytes/s");
      const auto from = p.out.rfind(", ", at);
      if (at == std::string::npos || from == std::string::npos)
        throw std::runtime_error("ntb_perf: no MBytes/s in: " + p.out);
      fig["ntb_perf_dma_mb_per_s_modelled"] = std::stod(p.out.substr(from + 2, at - from - 2));
      c.shutdown();
      late += sync_stats(c).at("late_effects").get<double>() + sync_stats(c).at("grant_overruns").get<double>();
    }
    // The Gen1 x1 ping-pong in batch mode, twice (once for the demo): the
    // same bytes both times?
    std::vector<json> runs;
    for (const char* name : {"gen1x1-a", "gen1x1-b"}) {
      if (demo && !runs.empty()) break;
      const std::string path = out + "/" + name + ".yaml";
      write_file_atomic(path, batch_pingpong(std::string("bench-modelled-") + name, 1, 1, std::min(iters, 1000),
                                             paths.root, build));
      RunOptions o = options(name);
      o.quiet = true;
      std::fprintf(stderr, "[ntblab] %s: af_ntb ping-pong on Gen1 x1 in batch mode\n", name);
      if (run_scenario(path, o) != 0) throw std::runtime_error(name + std::string(": the batch run failed; see ") +
                                                               o.out_dir + "/results.json");
      json r = json::parse(read_whole_file(o.out_dir + "/results.json"));
      const std::string pp = r.at("steps").back().at("stdout").get<std::string>();
      const auto pos = pp.rfind("\n{");
      fig["rtt64_us_modelled_gen1x1"] =
          json::parse(pos == std::string::npos ? pp : pp.substr(pos + 1)).at("results").at(0).at("p50_us").get<double>();
      const json& sy = r.at("timing").at("sync");
      late += sy.at("late_effects").get<double>() + sy.at("grant_overruns").get<double>();
      json same = {{"trace_hash", sy.at("trace_hash")}};
      for (const json& n : r.at("nodes")) same[n.at("name").get<std::string>()] = read_whole_file(n.at("batch_log"));
      runs.push_back(same);
    }
    // Two runs of one scenario: byte-identical modelled results?
    if (!demo) fig["deterministic"] = runs[0] == runs[1] ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_modelled: %s\n", e.what());
    return 1;
  }
  // The model's own payload limit for the Gen3 x8 path (docs/timing-model.md).
  ntblab::model::pcie::LinkParams l;
  ntblab::model::pcie::PathModel path({l, l, l}, ntblab::model::pcie::kPex8749HopLatencyNs);
  fig["link_payload_limit_mb_per_s"] = path.write_stream_gbytes_per_s() * 1000.0;
  for (const char* what : {"window_read", "posted_write"}) {
    const std::string g = std::string(what) + "_ns_guest", m = std::string(what) + "_ns_model";
    if (fig.count(m) && fig[m] > 0) fig[std::string(what) + "_rel_err"] = std::fabs(fig[g] - fig[m]) / fig[m];
  }
  fig["late_effects"] = late;
  for (const auto& [k, v] : fig) std::printf("%s %.6g\n", k.c_str(), v);
  write_file_atomic(out + "/modelled.json", json(fig).dump(2) + "\n");
  return 0;
}
