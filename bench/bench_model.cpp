// bench_model: how fast the model simulates a bulk transfer.
//
// A requester on port 1 of a FabricSwitch (PEX8749, Gen3 x8 ports) writes into a
// host memory behind port 2, in 4 KiB posted writes, as a DMA engine would.
// Figures (printed as "name value", one per line, and written to DIR/model.json):
//   sim_payload_bytes_per_wall_s  payload bytes the model moves per wall-clock second
//   wall_ns_per_tlp               wall-clock ns per modelled TLP (256-byte payloads)
//   modelled_payload_bytes_per_sim_s  the simulated link's own throughput (sanity)
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
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>

#include "ntblab/model/fabric.h"
#include "ntblab/model/memory.h"
#include "ntblab/model/tlp.h"

namespace {

using namespace ntblab::model;

constexpr uint64_t kMemBase = 0x1'0000'0000ULL;   // above 4 GiB: 4DW headers, like real DMA
constexpr uint64_t kMemSize = 16ULL << 20;          // 16 MiB of host RAM
constexpr unsigned kChunkBytes = 4096;              // one posted write (the arbitration grain)
constexpr uint64_t kBytesPerIteration = 1ULL << 20; // 1 MiB per benchmark iteration
constexpr unsigned kSrcPort = 1, kDstPort = 2;

/// The issuing side: a DMA-like requester with one reusable payload.
struct Requester : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Requester> socket;
  std::vector<uint8_t> src = std::vector<uint8_t>(kChunkBytes, 0x5A);
  tlm::tlm_generic_payload gp;
  double last_completion_ns = 0;

  explicit Requester(sc_core::sc_module_name n) : sc_module(n), socket("socket") {
    auto* ext = new TlpExtension;  // owned by gp
    ext->bulk = true;
    gp.set_extension(ext);
  }
  /// One posted write issued at local time 0: queueing on the links paces it.
  void write(uint64_t addr, unsigned len) {
    make_request(gp, tlm::TLM_WRITE_COMMAND, addr, src.data(), len);
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    socket->b_transport(gp, delay);
    last_completion_ns = delay.to_seconds() * 1e9;
  }
};

/// Everything on the benchmarked path. Built once per process (SystemC
/// elaborates once), by build_path() alone; the integrator can swap the switch
/// for NT endpoints here without touching the benchmarks.
struct ModelPath {
  std::unique_ptr<FabricSwitch> sw;
  std::unique_ptr<VectorMemory> ram;
  std::unique_ptr<MemoryTarget> mem;
  std::unique_ptr<Requester> req;
  uint64_t mem_base = kMemBase;
  uint64_t mem_size = kMemSize;
  unsigned max_payload = 256;
};

ModelPath build_path() {
  ModelPath p;
  SwitchConfig cfg;
  cfg.ports = {PortConfig::make(PortRole::Upstream, 3, 8),
               PortConfig::make(PortRole::Downstream, 3, 8),
               PortConfig::make(PortRole::Downstream, 3, 8)};
  p.max_payload = cfg.ports[kDstPort].max_payload;
  p.sw = std::make_unique<FabricSwitch>("pex8749", cfg);
  p.ram = std::make_unique<VectorMemory>(kMemSize, kMemBase);
  p.mem = std::make_unique<MemoryTarget>("host_ram", *p.ram);
  p.req = std::make_unique<Requester>("dma");
  p.req->socket.bind(p.sw->in[kSrcPort]);
  p.sw->out[kDstPort].bind(p.mem->socket);
  p.sw->set_windows(kDstPort, {{kMemBase, kMemBase + kMemSize}});
  sc_core::sc_start(sc_core::SC_ZERO_TIME);  // elaborate
  return p;
}

ModelPath* g_path = nullptr;

void transfer(ModelPath& p, uint64_t bytes, unsigned chunk, uint64_t& cursor) {
  for (uint64_t done = 0; done < bytes; done += chunk) {
    p.req->write(p.mem_base + cursor, chunk);
    cursor = (cursor + chunk) % p.mem_size;
  }
}

void BM_BulkWrite(benchmark::State& state) {
  ModelPath& p = *g_path;
  const unsigned chunk = unsigned(state.range(0));
  uint64_t cursor = 0, bytes = 0;
  const uint64_t tlps_before = p.sw->stats(kDstPort).tlps_out;
  for (auto _ : state) {
    transfer(p, kBytesPerIteration, chunk, cursor);
    bytes += kBytesPerIteration;
  }
  const uint64_t tlps = p.sw->stats(kDstPort).tlps_out - tlps_before;
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

  // The figures come from the 4 KiB run (the default grain of bulk transfers).
  const std::string want = "BM_BulkWrite/" + std::to_string(kChunkBytes) + "/real_time";
  const benchmark::BenchmarkReporter::Run* run = nullptr;
  for (const auto& r : reporter.runs)
    if (r.benchmark_name() == want && r.run_type == benchmark::BenchmarkReporter::Run::RT_Iteration)
      run = &r;
  if (!run) {
    std::fprintf(stderr, "bench_model: no run of %s (filtered out?)\n", want.c_str());
    return 1;
  }
  const double wall_s = run->real_accumulated_time;
  const double bytes = run->counters.at("payload_bytes").value;
  const double tlps = run->counters.at("tlps").value;
  std::map<std::string, double> figures;
  figures["sim_payload_bytes_per_wall_s"] = bytes / wall_s;
  figures["wall_ns_per_tlp"] = wall_s * 1e9 / tlps;
  // Simulated time: every chunk was issued at time 0 and queued on the links, so
  // the last completion is the simulated duration of everything sent so far.
  const double total_bytes = double(path.sw->stats(kDstPort).bytes_out);
  figures["modelled_payload_bytes_per_sim_s"] = total_bytes / (path.req->last_completion_ns * 1e-9);

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
