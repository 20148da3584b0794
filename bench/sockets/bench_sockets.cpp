// SPDX-License-Identifier: GPL-2.0-only
// bench_sockets: the af_ntb family against TCP, side by side on ONE pair of
// guests (back to back), from one run:
//   (a) af_ntb                       10.1.0.1
//   (b) TCP over virtio-net          10.0.0.1
//   (c) TCP over ntb_netdev          10.2.0.1 (ntb_transport and af_ntb are
//       both NTB clients and one device binds one client, so this is a
//       second phase on the same two guests: af_ntb out, ntb_netdev in)
// Ping-pong RTT at 64 B (p50, p99) and streaming throughput with 64 KiB
// messages, measured by ntb_pingpong_bench and ntb_stream_bench in the guests.
// Printed as "name value" and written to DIR/sockets.json.
//   bench_sockets [--out DIR] [--iters N] [--seconds S] [--poll-us US]
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

const char* kTwoNodes = R"(name: bench-sockets
topology: back-to-back
nodes:
  - {name: node0, memory: 512MiB}
  - {name: node1, memory: 512MiB}
)";

struct Bench {
  LabRun& c;
  std::string tools;   // build/sockets
  std::string guest;   // sockets/lab/guest.sh

  void must(const std::string& node, const std::string& cmd, double timeout, const std::string& what) {
    CommandResult r = c.exec(node, cmd, timeout);
    if (r.status != 0)
      throw std::runtime_error(node + ": " + what + " failed (status " + std::to_string(r.status) +
                               "): " + r.err + r.out);
  }
  nlohmann::json json_of(const std::string& node, const std::string& cmd, double timeout,
                         const std::string& what) {
    CommandResult r = c.exec(node, cmd, timeout);
    if (r.status != 0)
      throw std::runtime_error(node + ": " + what + " failed (status " + std::to_string(r.status) +
                               "): " + r.err + r.out);
    auto pos = r.out.rfind("\n{");
    return nlohmann::json::parse(pos == std::string::npos ? r.out : r.out.substr(pos + 1));
  }
  /// ping-pong at 64 B: {p50, p99}
  std::pair<double, double> pingpong(const std::string& fam, const std::string& addr, int port,
                                     int iters) {
    auto j = json_of("node1",
                     tools + "/ntb_pingpong_bench --client " + addr + " --family " + fam +
                         " --port " + std::to_string(port) + " --sizes 64 --iters " +
                         std::to_string(iters) + " --json",
                     300, "ping-pong " + fam + " " + addr);
    const auto& r = j.at("results").at(0);
    return {r.at("p50_us").get<double>(), r.at("p99_us").get<double>()};
  }
  double stream(const std::string& fam, const std::string& addr, int port, double seconds) {
    auto j = json_of("node1",
                     tools + "/ntb_stream_bench --client " + addr + " --family " + fam +
                         " --port " + std::to_string(port) + " --msg 64K --seconds " +
                         std::to_string(seconds) + " --json",
                     120 + seconds, "stream " + fam + " " + addr);
    if (j.at("errors").get<int>() != 0)
      throw std::runtime_error("stream " + fam + " " + addr + ": errors");
    return j.at("mb_per_s").get<double>();
  }
  /// Start a server in the background on node0; its pid goes to /tmp/NAME.pid
  void server(const std::string& name, const std::string& tool, const std::string& fam, int port) {
    must("node0",
         "nohup " + tools + "/" + tool + " --server --family " + fam + " --port " +
             std::to_string(port) + " >/tmp/" + name + ".log 2>&1 & echo $! >/tmp/" + name + ".pid",
         30, "start " + name);
  }
};

}  // namespace

int sc_main(int argc, char** argv) {
  std::string out = "bench-results";
  int iters = 1000;
  double seconds = 5;
  int poll_us = 1000;  // af_ntb's default
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
    else if (!std::strcmp(argv[i], "--iters") && i + 1 < argc) iters = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = std::atof(argv[++i]);
    else if (!std::strcmp(argv[i], "--poll-us") && i + 1 < argc) poll_us = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: bench_sockets [--out DIR] [--iters N] [--seconds S] [--poll-us US]\n");
      return 2;
    }
  }
  std::filesystem::create_directories(out);
  InterruptGuard guard;
  LabPaths paths = LabPaths::from_environment();
  std::map<std::string, double> fig;
  try {
    RunOptions opts;
    opts.out_dir = out + "/sockets-run";
    std::string path = out + "/bench-sockets.yaml";
    std::ofstream(path) << kTwoNodes;
    LabRun c(load_scenario(path), paths, opts);
    Bench b{c, std::string(NTBLAB_BINARY_DIR) + "/sockets", paths.root + "/sockets/lab/guest.sh"};
    c.boot();
    for (const char* n : {"node0", "node1"})
      b.must(n, b.guest + " load poll_us=" + std::to_string(poll_us), 120, "af_ntb load");
    for (const char* n : {"node0", "node1"}) b.must(n, b.guest + " wait-up 60", 90, "af_ntb session");
    b.server("pp-ntb", "ntb_pingpong_bench", "ntb", 5201);
    b.server("st-ntb", "ntb_stream_bench", "ntb", 5202);
    b.server("pp-inet", "ntb_pingpong_bench", "inet", 5301);
    b.server("st-inet", "ntb_stream_bench", "inet", 5302);
    b.must("node0", b.guest + " wait-port 5302", 30, "TCP servers");
    c.progress("phase 1: af_ntb and TCP over virtio-net");
    auto [tp50, tp99] = b.pingpong("inet", "10.0.0.1", 5301, iters);
    auto [np50, np99] = b.pingpong("ntb", "10.1.0.1", 5201, iters);
    fig["rtt64_p50_us_tcp"] = tp50;
    fig["rtt64_p99_us_tcp"] = tp99;
    fig["rtt64_p50_us_ntb"] = np50;
    fig["rtt64_p99_us_ntb"] = np99;
    fig["stream_mb_per_s_tcp"] = b.stream("inet", "10.0.0.1", 5302, seconds);
    fig["stream_mb_per_s_ntb"] = b.stream("ntb", "10.1.0.1", 5202, seconds);

    c.progress("phase 2: TCP over ntb_netdev (af_ntb unloaded)");
    b.must("node0", "kill $(cat /tmp/pp-ntb.pid) $(cat /tmp/st-ntb.pid)", 10, "stop af_ntb servers");
    for (const char* n : {"node0", "node1"}) b.must(n, b.guest + " unload", 60, "rmmod af_ntb");
    for (const char* n : {"node0", "node1"}) b.must(n, b.guest + " netdev", 60, "ntb_netdev");
    for (const char* n : {"node0", "node1"}) b.must(n, b.guest + " netdev-wait 60", 90, "ntb_netdev link");
    auto [dp50, dp99] = b.pingpong("inet", "10.2.0.1", 5301, iters);
    fig["rtt64_p50_us_ntbnetdev"] = dp50;
    fig["rtt64_p99_us_ntbnetdev"] = dp99;
    fig["stream_mb_per_s_ntbnetdev"] = b.stream("inet", "10.2.0.1", 5302, seconds);
    for (const char* n : {"node0", "node1"}) b.must(n, b.guest + " check-log bench", 30, "kernel log");
    c.shutdown();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_sockets: %s\n", e.what());
    return 1;
  }
  fig["rtt64_ratio_ntb_vs_tcp"] = fig["rtt64_p50_us_ntb"] / fig["rtt64_p50_us_tcp"];
  fig["rtt64_ratio_ntb_vs_ntbnetdev"] = fig["rtt64_p50_us_ntb"] / fig["rtt64_p50_us_ntbnetdev"];
  fig["stream_ratio_ntb_vs_tcp"] = fig["stream_mb_per_s_ntb"] / fig["stream_mb_per_s_tcp"];
  fig["poll_us"] = poll_us;
  for (const auto& [k, v] : fig) std::printf("%s %.6g\n", k.c_str(), v);
  std::ofstream(out + "/sockets.json") << nlohmann::json(fig).dump(2) << "\n";
  return 0;
}
