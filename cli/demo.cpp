// SPDX-License-Identifier: GPL-2.0-only
// `ntblab demo`: the lab's main job, for a person to read.
//   1. the model: the paper's Tables 1 and 2 as the model computes them, and a
//      modelled transfer between two back-to-back NT ports;
//   2. the lab: the default 2-node cluster booted, its NT link exercised from
//      inside the guests;
//   3. the paper's point: ping-pong and stream over the NTB socket family and
//      over TCP, side by side, on one pair of guests.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <vector>

#include "commands.h"
#include "ntblab/model/support/b2b_setup.h"
#include "ntblab/model/cluster.h"
#include "ntblab/model/pcie.h"
#include "runner.h"

namespace ntblab::cli {

namespace {

using model::pcie::LinkMath;
using model::pcie::LinkParams;

void paper_table2() {
  // The paper's Table 2 as printed, Gbps, rows Gen1..3, columns x1..x16.
  const double paper[3][5] = {{2.5, 5, 10, 20, 60}, {5, 10, 20, 40, 80}, {8, 16, 32, 64, 128}};
  const unsigned widths[5] = {1, 2, 4, 8, 16};
  std::printf("Table 2 of the paper: raw PCIe rate (Gbps) by generation and width, as the model computes it\n\n");
  std::printf("  %-6s", "");
  for (unsigned w : widths) std::printf("%9s", ("x" + std::to_string(w)).c_str());
  std::printf("   encoding   data rate x8\n");
  std::vector<std::string> typos;
  for (unsigned g = 1; g <= 3; ++g) {
    std::printf("  Gen%-3u", g);
    for (int k = 0; k < 5; ++k) {
      double v = model::pcie::raw_gbps(g, widths[k]);
      bool typo = std::abs(v - paper[g - 1][k]) > 1e-9;
      std::printf("%8g%s", v, typo ? "*" : " ");
      if (typo) {
        char buf[160];
        std::snprintf(buf, sizeof buf, "Gen%u x%u: the paper prints %g; %g GT/s x %u lanes = %g", g, widths[k],
                      paper[g - 1][k], model::pcie::generation_info(g).gigatransfers, widths[k], v);
        typos.push_back(buf);
      }
    }
    std::printf("   %-9s  %.2f Gbps\n", model::pcie::generation_info(g).encoding, model::pcie::data_gbps(g, 8));
  }
  for (const auto& t : typos) std::printf("  * typo in the paper: %s\n", t.c_str());
  std::printf("\n");
}

void paper_table1() {
  LinkParams tlp_only;
  tlp_only.dllp = model::pcie::DllpPolicy::tlp_only();
  LinkParams per_tlp;  // one ACK and one UpdateFC DLLP per TLP, SKP ordered sets
  std::printf("Table 1 of the paper: PCIe protocol efficiency at 256-byte payloads (3DW headers)\n\n");
  std::printf("  %-52s %8s\n", "what is counted", "model");
  std::printf("  %-52s %7.2f%%   (the paper's \"93 %%\")\n", "TLP framing, sequence, LCRC, 3DW header",
              100 * LinkMath(tlp_only).efficiency(256));
  std::printf("  %-52s %7.2f%%\n", "... plus one ACK + one UpdateFC DLLP per TLP and SKP",
              100 * LinkMath(per_tlp).efficiency(256));
  for (unsigned w : {4u, 8u, 16u}) {
    LinkParams p = tlp_only;
    p.width = w;
    char what[64];
    std::snprintf(what, sizeof what, "Gen3 x%u payload bandwidth, TLPs only", w);
    std::printf("  %-52s %6.2f GB/s\n", what, LinkMath(p).payload_gbytes_per_s(256));
  }
  std::printf("\n");
}

void modelled_transfer() {
  model::ClusterConfig cfg;
  for (int i = 0; i < 2; ++i) {
    model::ClusterNodeConfig n;
    n.name = "node" + std::to_string(i);
    cfg.nodes.push_back(n);
  }
  model::Cluster cluster("demo", cfg);
  sc_core::sc_start(sc_core::SC_ZERO_TIME);
  model::VectorMemory ram0(64u << 20), ram1(64u << 20);
  cluster.attach_memory(0, &ram0);
  cluster.attach_memory(1, &ram1);
  model::lab::B2bLayout l;
  model::lab::setup_b2b(cluster, 0, l);
  model::lab::setup_b2b(cluster, 1, l);
  uint32_t drain;
  cluster.host_read(0, l.bar0, &drain, 4);  // let the set-up writes drain

  std::printf("A modelled transfer: node0 -> node1 through two PEX8749 NT ports cabled back to back\n");
  std::printf("(Gen3 x8 links, MPS 256, 126 ns per switch hop; host link, NT hop, cable, NT hop, host link)\n\n");
  uint64_t v = 0x1122334455667788ull;
  auto w8 = cluster.host_write(0, l.bar2, &v, 8, false);
  cluster.host_read(0, l.bar0, &drain, 4);
  uint32_t r4 = 0;
  auto rd = cluster.host_read(0, l.bar2, &r4, 4);
  std::printf("  %-44s %10.0f ns\n", "8-byte posted write, issue to landed", w8.latency_ns);
  std::printf("  %-44s %10.0f ns\n", "4-byte read through the window, round trip", rd.latency_ns);

  const uint64_t total = 16u << 20, chunk = 4096;
  std::vector<uint8_t> buf(chunk, 0xA5);
  double t0 = cluster.now_ns(), last = 0;
  for (uint64_t off = 0; off < total; off += chunk) {
    auto w = cluster.host_write(0, l.bar2 + (off % (8u << 20)), buf.data(), chunk, true);
    last = std::max(last, t0 + w.latency_ns);
  }
  double ns = cluster.now_ns() - t0;
  std::printf("  %-44s %10.2f GB/s  (%llu MiB in %.1f us modelled)\n", "16 MiB bulk write, payload throughput",
              double(total) / ns, (unsigned long long)(total >> 20), ns / 1000);
  auto s = cluster.stats();
  std::printf("  %-44s %10llu\n", "TLPs on the cable",
              (unsigned long long)s["cable"]["a_to_b"]["tlps"].get<uint64_t>());
  std::printf("  %-44s %10s\n", "bytes landed in node1 at the translated address",
              ram1.data()[l.inbound + 100] == 0xA5 ? "yes" : "NO");
  std::printf("\n");
}

/// What the modelled switch saw during the run (from results.json).
void print_switch_summary(const std::string& results_path) {
  std::ifstream in(results_path);
  nlohmann::json r;
  try {
    in >> r;
  } catch (...) {
    return;
  }
  const auto& sw = r["switch"];
  if (!sw.is_object() || !sw.contains("nodes")) return;
  std::printf("\nWhat the modelled switch saw (%s):\n\n", sw.value("topology", "?").c_str());
  std::printf("  %-8s %8s %12s %12s %12s %12s\n", "node", "link ups", "reg reads", "reg writes", "bytes out",
              "refusals");
  for (const auto& n : sw["nodes"]) {
    const auto& nt = n["nt"];
    std::printf("  %-8s %8llu %12llu %12llu %12llu %12llu\n", n.value("name", "?").c_str(),
                (unsigned long long)nt["link_ups"].get<uint64_t>(),
                (unsigned long long)nt["register_reads"].get<uint64_t>(),
                (unsigned long long)nt["register_writes"].get<uint64_t>(),
                (unsigned long long)nt["from_host"]["bytes"].get<uint64_t>(),
                (unsigned long long)(nt["refused_from_host"]["total"].get<uint64_t>() +
                                     nt["refused_from_link"]["total"].get<uint64_t>()));
  }
  std::printf("  (register reads: the guests' kernels probing the NT function's config space and BAR0)\n");
}

/// The paper's point: the same ping-pong and stream over the NTB socket family
/// and over TCP, on one pair of guests (bench_sockets does the measuring).
int sockets_side_by_side(const std::string& out_dir) {
  const char* b = std::getenv("NTBLAB_BUILD_DIR");
  const std::string bench = std::string(b ? b : "build") + "/bench/bench_sockets";
  if (!std::filesystem::exists(bench)) {
    std::printf("(no %s: the socket comparison is skipped)\n", bench.c_str());
    return 1;
  }
  const std::string out = out_dir + "/sockets";
  std::filesystem::create_directories(out);
  const std::string cmd = bench + " --out '" + out + "' --iters 300 --seconds 3 > '" + out + "/figures.txt'";
  int rc = std::system(cmd.c_str());
  std::ifstream in(out + "/sockets.json");
  nlohmann::json f;
  try {
    in >> f;
  } catch (...) {
    std::printf("socket comparison failed (status %d); logs in %s\n", rc, out.c_str());
    return 1;
  }
  auto v = [&](const std::string& k) { return f.value(k, 0.0); };
  std::printf("\nSockets over PCIe vs TCP, the same two guests (%s/sockets.json)\n\n", out_dir.c_str());
  std::printf("  %-26s %14s %18s %18s\n", "", "NTB family", "TCP (virtio-net)", "TCP (ntb_netdev)");
  std::printf("  %-26s %11.0f us %15.0f us %15.0f us\n", "ping-pong 64 B, p50", v("rtt64_p50_us_ntb"),
              v("rtt64_p50_us_tcp"), v("rtt64_p50_us_ntbnetdev"));
  std::printf("  %-26s %11.0f us %15.0f us %15.0f us\n", "ping-pong 64 B, p99", v("rtt64_p99_us_ntb"),
              v("rtt64_p99_us_tcp"), v("rtt64_p99_us_ntbnetdev"));
  std::printf("  %-26s %9.1f MB/s %13.1f MB/s %13.1f MB/s\n", "stream, 64 KiB messages", v("stream_mb_per_s_ntb"),
              v("stream_mb_per_s_tcp"), v("stream_mb_per_s_ntbnetdev"));
  std::printf("\n  NTB family vs TCP: round trip x%.2f, stream x%.2f.\n", v("rtt64_ratio_ntb_vs_tcp"),
              v("stream_ratio_ntb_vs_tcp"));
  std::printf("  These are wall-clock figures of emulated guests (TCG): every register access and\n"
              "  interrupt of the NTB path is emulated, while TCP runs on virtio. On hardware the path\n"
              "  costs what Part 1's model computes (a few hundred ns per crossing).\n");
  return rc == 0 ? 0 : 1;
}

/// The same af_ntb ping-pong with the guests in modelled time, on two links
/// (bench_modelled --demo does the measuring; docs/modelled-time.md).
int modelled_pingpong(const std::string& out_dir) {
  const char* b = std::getenv("NTBLAB_BUILD_DIR");
  const std::string bench = std::string(b ? b : "build") + "/bench/bench_modelled";
  if (!std::filesystem::exists(bench)) {
    std::printf("(no %s: the modelled-time ping-pong is skipped)\n", bench.c_str());
    return 1;
  }
  const std::string out = out_dir + "/modelled";
  std::filesystem::create_directories(out);
  int rc = std::system((bench + " --demo --out '" + out + "' > '" + out + "/figures.txt'").c_str());
  nlohmann::json f, s;
  try {
    std::ifstream(out + "/modelled.json") >> f;
    std::ifstream(out_dir + "/sockets/sockets.json") >> s;
  } catch (...) {
    std::printf("modelled-time ping-pong failed (status %d); logs in %s\n", rc, out.c_str());
    return 1;
  }
  std::printf("\naf_ntb ping-pong, 64 B, p50 (%s/modelled.json)\n\n", out.c_str());
  std::printf("  %-40s %10.1f us\n", "host wall clock, TCG guests (Part 3)", s.value("rtt64_p50_us_ntb", 0.0));
  std::printf("  %-40s %10.2f us\n", "modelled time, Gen3 x8 cable", f.value("rtt64_us_modelled_gen3x8", 0.0));
  std::printf("  %-40s %10.2f us\n", "modelled time, Gen1 x1 cable", f.value("rtt64_us_modelled_gen1x1", 0.0));
  std::printf("\n  The first line is how fast this machine emulates the guests; the other two are what\n"
              "  the guests' own clocks read when they run on the model's PCIe time (1 ns per\n"
              "  instruction): the lab's prediction for the hardware, link by link. The Gen1 x1\n"
              "  run is in batch mode: nothing from the host reaches the guests, so running it\n"
              "  again gives the same bytes (docs/modelled-time.md, \"Batch mode\").\n");
  return rc == 0 ? 0 : 1;
}

}  // namespace

int demo(const std::string& out_dir, bool model_only) {
  std::printf("ntblab: socket communication over PCIe NTB, without the hardware\n");
  std::printf("================================================================\n\n");
  std::printf("Part 1. The PEX8749 model\n\n");
  paper_table2();
  paper_table1();
  modelled_transfer();
  if (model_only) return 0;
  std::printf("Part 2. The lab: two QEMU guests on the modelled switch\n\n");
  std::fflush(stdout);
  const char* root = std::getenv("NTBLAB_ROOT");
  std::string scenario = std::string(root ? root : ".") + "/scenarios/two-node.yaml";
  RunOptions opts;
  opts.out_dir = out_dir;
  int rc = run_scenario(scenario, opts);
  print_switch_summary(out_dir + "/results.json");
  std::printf("\nPart 3. The paper's point: socket data over PCIe instead of TCP/IP\n\n");
  std::fflush(stdout);
  int rc3 = sockets_side_by_side(out_dir);
  std::printf("\nPart 4. The same ping-pong in modelled time\n");
  std::fflush(stdout);
  int rc4 = modelled_pingpong(out_dir);
  const bool ok = rc == 0 && rc3 == 0 && rc4 == 0;
  std::printf("\n%s: results in %s/\n", ok ? "demo done" : "demo FAILED", out_dir.c_str());
  return rc != 0 ? rc : rc3 != 0 ? rc3 : rc4;
}

}  // namespace ntblab::cli
