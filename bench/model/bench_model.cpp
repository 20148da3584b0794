// SPDX-License-Identifier: GPL-2.0-only
// bench_model: how fast the model simulates a bulk transfer.
//
// Two nodes whose PEX8749 NT ports (Gen3 x8) are cabled back to back, each
// programmed the way public PLX drivers program them: node0's host writes
// through its BAR2 window, in 4 KiB posted writes as a memcpy or DMA engine
// would, and the data crosses node0's chip, the cable and node1's chip into
// node1's RAM (host link, hop, cable, hop, host link).
// Figures (printed as "name value", one per line, and written to DIR/model.json):
//   sim_payload_bytes_per_wall_s  payload bytes the model moves per wall-clock second,
//                                 in 64 KiB transactions (the DMA engine's grain)
//   wall_ns_per_tlp               wall-clock ns per modelled TLP on the cable (256-byte payloads)
//   sim_payload_bytes_per_wall_s_4k, wall_ns_per_tlp_4k   the same in 4 KiB transactions
//   modelled_payload_bytes_per_sim_s  the simulated path's own throughput (sanity)
//
//   bench_model [--out DIR] [Google Benchmark flags]     (DIR default: ./bench-results)
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <systemc>

#include "ntblab/model/support/b2b_setup.h"
#include "ntblab/model/cluster.h"
#include "ntblab/model/memory.h"

namespace {

using namespace ntblab::model;

constexpr uint64_t kRamSize = 64ULL << 20;          // each host's RAM
constexpr uint64_t kWindow = 8ULL << 20;            // the part of the 16 MiB window written
constexpr unsigned kChunkBytes = 4096;              // one posted write (the arbitration grain)
constexpr uint64_t kBytesPerIteration = 1ULL << 20; // 1 MiB per benchmark iteration

/// Everything on the benchmarked path, built once per process (SystemC
/// elaborates once) by build_path() alone.
struct ModelPath {
  std::unique_ptr<Cluster> cluster;
  std::unique_ptr<VectorMemory> ram[2];
  lab::B2bLayout layout;
  std::vector<uint8_t> src = std::vector<uint8_t>(64 * 1024, 0x5A);
  double first_ns = 0, last_completion_ns = 0;
  uint64_t cable_tlps() const { return cluster->stats()["cable"]["a_to_b"]["tlps"].get<uint64_t>(); }
  uint64_t cable_bytes() const {
    return cluster->stats()["cable"]["a_to_b"]["payload_bytes"].get<uint64_t>();
  }
};

ModelPath build_path() {
  ModelPath p;
  ClusterConfig cfg;  // Gen3 x8 links everywhere by default
  for (int i = 0; i < 2; ++i) {
    ClusterNodeConfig n;
    n.name = "node" + std::to_string(i);
    cfg.nodes.push_back(n);
  }
  p.cluster = std::make_unique<Cluster>("bench", cfg);
  sc_core::sc_start(sc_core::SC_ZERO_TIME);  // elaborate
  for (int i = 0; i < 2; ++i) {
    p.ram[i] = std::make_unique<VectorMemory>(kRamSize);
    p.cluster->attach_memory(unsigned(i), p.ram[i].get());
    lab::setup_b2b(*p.cluster, unsigned(i), p.layout);
  }
  uint32_t drain;
  p.cluster->host_read(0, p.layout.bar0, &drain, 4);  // set-up writes drained
  p.first_ns = p.cluster->now_ns();
  return p;
}

ModelPath* g_path = nullptr;

void transfer(ModelPath& p, uint64_t bytes, unsigned chunk, uint64_t& cursor) {
  for (uint64_t done = 0; done < bytes; done += chunk) {
    HostAccess w = p.cluster->host_write(0, p.layout.bar2 + cursor, p.src.data(), chunk, true);
    (void)w;
    cursor = (cursor + chunk) % kWindow;
  }
}

void BM_BulkWrite(benchmark::State& state) {
  ModelPath& p = *g_path;
  const unsigned chunk = unsigned(state.range(0));
  uint64_t cursor = 0, bytes = 0;
  const uint64_t tlps_before = p.cable_tlps();
  for (auto _ : state) {
    transfer(p, kBytesPerIteration, chunk, cursor);
    bytes += kBytesPerIteration;
  }
  const uint64_t tlps = p.cable_tlps() - tlps_before;
  state.SetBytesProcessed(int64_t(bytes));
  state.counters["payload_bytes"] = double(bytes);
  state.counters["tlps"] = double(tlps);
  state.counters["sim_B_per_wall_s"] = benchmark::Counter(double(bytes), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_BulkWrite)->Arg(kChunkBytes)->Arg(64 * 1024)->UseRealTime()->Unit(benchmark::kMillisecond);

/// Console table as usual, and keep the runs to compute the figures from.
class CapturingReporter : public benchmark::ConsoleReporter {
 public:
  std::vector<Run> runs;
  void ReportRuns(const std::vector<Run>& r) override {
    runs.insert(runs.end(), r.begin(), r.end());
    ConsoleReporter::ReportRuns(r);
  }
};

std::string take_out_dir(int& argc, char** argv) {
  std::string dir = "bench-results";
  int w = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
      dir = argv[++i];
    } else if (std::strncmp(argv[i], "--out=", 6) == 0) {
      dir = argv[i] + 6;
    } else {
      argv[w++] = argv[i];
    }
  }
  argc = w;
  return dir;
}

}  // namespace

int sc_main(int argc, char** argv) {
  const std::string out_dir = take_out_dir(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;

  ModelPath path = build_path();
  g_path = &path;
  CapturingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);

  // Headline figures: 64 KiB transactions, the grain in which the model carries a
  // bulk copy (the DMA engine's chunk); the 4 KiB grain (a CPU memcpy through the
  // window, coalesced by the QEMU device) is printed beside them.
  auto find_run = [&](unsigned chunk) -> const benchmark::BenchmarkReporter::Run* {
    const std::string want = "BM_BulkWrite/" + std::to_string(chunk) + "/real_time";
    for (const auto& r : reporter.runs)
      if (r.benchmark_name() == want && r.run_type == benchmark::BenchmarkReporter::Run::RT_Iteration) return &r;
    return nullptr;
  };
  const auto* run = find_run(64 * 1024);
  const auto* run4k = find_run(kChunkBytes);
  if (!run || !run4k) {
    std::fprintf(stderr, "bench_model: missing runs (filtered out?)\n");
    return 1;
  }
  std::map<std::string, double> figures;
  auto rate = [](const benchmark::BenchmarkReporter::Run* r) {
    return r->counters.at("payload_bytes").value / r->real_accumulated_time;
  };
  auto per_tlp = [](const benchmark::BenchmarkReporter::Run* r) {
    return r->real_accumulated_time * 1e9 / r->counters.at("tlps").value;
  };
  figures["sim_payload_bytes_per_wall_s"] = rate(run);
  figures["wall_ns_per_tlp"] = per_tlp(run);
  figures["sim_payload_bytes_per_wall_s_4k"] = rate(run4k);
  figures["wall_ns_per_tlp_4k"] = per_tlp(run4k);
  // Simulated time: posted writes queue on the links, so the latest completion
  // is the simulated duration of everything sent so far.
  const double total_bytes = double(path.cable_bytes());
  figures["modelled_payload_bytes_per_sim_s"] =
      total_bytes / ((path.cluster->now_ns() - path.first_ns) * 1e-9);

  for (const auto& [name, value] : figures) std::printf("%s %.6g\n", name.c_str(), value);

  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  const std::string file = out_dir + "/model.json";
  std::ofstream f(file);
  if (!f) {
    std::fprintf(stderr, "bench_model: cannot write %s\n", file.c_str());
    return 1;
  }
  f << nlohmann::json(figures).dump(2) << "\n";
  return 0;
}
