// SPDX-License-Identifier: GPL-2.0-only
// ntblab-switch: the switch process. Hosts the model of a whole cluster (from a
// scenario file) and serves one node link per PCI function of every node, at
// the paths ntblab/scenario/node_links.h names:
//   DIR/<node>.nt.sock   the NT port's virtual interface (10b5:87b0)
//   DIR/<node>.dma.sock  the switch's DMA function (10b5:87d0)
//   DIR/eth.sock         an Ethernet hub joining the guests' virtio-net NICs
// Prints "ready" on stdout once every socket listens. On SIGINT/SIGTERM it
// closes the links, writes the model's statistics (--stats) and exits 0.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>

#include <csignal>
#include <iostream>
#include <nlohmann/json.hpp>

#include "eth_hub.h"
#include "model_backend.h"
#include "results_file.h"
#include "ntblab/scenario/cluster_config.h"
#include "ntblab/scenario/node_links.h"
#include "ntblab/scenario/scenario.h"
#include "server.h"
#include "sync_engine.h"

using namespace ntblab;

int sc_main(int argc, char** argv) {
  CLI::App app{"ntblab-switch: the modelled PEX8749 cluster behind the QEMU nodes"};
  std::string scenario_path, socket_dir, stats_path, log_path;
  app.add_option("--scenario", scenario_path, "scenario file describing the cluster")->required();
  app.add_option("--socket-dir", socket_dir, "where to create the node-link sockets")->required();
  app.add_option("--stats", stats_path, "write the model's statistics here (JSON) on exit");
  app.add_option("--log", log_path, "log file (default: stderr)");
  unsigned hello_timeout_ms = 5000;
  app.add_option("--hello-timeout-ms", hello_timeout_ms,
                 "close a connection that has not completed HELLO within this time (default 5000)");
  CLI11_PARSE(app, argc, argv);

  // If whoever started us dies, so do we: no switch process is left behind.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  // Signals are taken by the server's signalfd; block them before any thread
  // (the Ethernet hub's) exists, so none of them dies of a default action.
  sigset_t sigs;
  sigemptyset(&sigs);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&sigs, sig);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto logger = log_path.empty() ? spdlog::stderr_color_mt("switch")
                                 : spdlog::basic_logger_mt("switch", log_path, true);
  logger->set_pattern("%H:%M:%S.%e [%n] %v");
  logger->flush_on(spdlog::level::info);
  try {
    scenario::Scenario scenario = scenario::load_scenario(scenario_path);
    model::ClusterConfig config = scenario::cluster_config(scenario);
    model::Cluster cluster("cluster", config);
    sc_core::sc_start(sc_core::SC_ZERO_TIME);  // end of elaboration

    std::vector<sw::NodeEndpoint> endpoints;
    std::vector<sw::ModelBackend::LinkTarget> targets;
    for (const scenario::NodeLink& link : scenario::node_links(config, socket_dir)) {
      endpoints.push_back({link.name, link.function == model::Function::Dma ? NL_FN_DMA : NL_FN_NT, link.path});
      targets.push_back({link.node, link.function});
    }
    sw::EthHub hub(scenario::eth_socket(socket_dir));  // the guests' virtio-net, for TCP baselines
    sw::ModelBackend backend(cluster, targets);
    sw::Server server(endpoints, backend);
    backend.set_server(&server);
    server.hello_timeout = std::chrono::milliseconds(hello_timeout_ms);
    server.log = [&](const std::string& line) { logger->info("{}", line); };
    // Modelled time (docs/modelled-time.md): the links run through the scheduler.
    std::unique_ptr<sw::SyncEngine> sync;
    int status = 0;
    if (scenario.timing.modelled()) {
      sw::SyncConfig sc;
      sc.exact = scenario.timing.mode == scenario::TimingMode::Exact;
      sc.quantum_ns = std::max<uint64_t>(1, scenario.timing.quantum_ps / 1000);
      sc.exact_from_marker = sc.exact && scenario.timing.exact_from == "marker";
      sync = std::make_unique<sw::SyncEngine>(server, backend, cluster, sc);
      sync->log = server.log;
      sync->on_deadlock = [&](const std::string& why) {
        logger->error("{}", why);
        status = 3;
        server.stop();
      };
      server.set_sync(sync.get());
      logger->info("timing: {} (quantum {} ns)", scenario::to_string(scenario.timing.mode), sc.quantum_ns);
    }
    logger->info("{}: {} nodes, {} links, listening in {}", scenario.name, config.nodes.size(),
                 endpoints.size(), socket_dir);
    server.take_signals();
    std::cout << "ready" << std::endl;
    server.run();
    if (!stats_path.empty()) {
      nlohmann::json stats = cluster.stats();
      if (sync) stats["sync"] = sync->stats();
      try {
        cli::write_file_atomic(stats_path, cli::json_text(stats) + "\n");
      } catch (const std::exception& e) {
        logger->error("{}", e.what());
        status = status ? status : 1;
      }
    }
    logger->info("stopped");
    return status;
  } catch (const std::exception& e) {
    logger->error("{}", e.what());
    return 1;
  }
}
