// SPDX-License-Identifier: GPL-2.0-only
// ntblab-cli: subcommands of the lab. ./ntblab builds this and dispatches to it.
#include <CLI/CLI.hpp>
#include <iostream>
#include <systemc>  // declares sc_main extern "C"

#include "commands.h"
#include "runner.h"
#include "ntblab/scenario/scenario.h"

int sc_main(int argc, char** argv) {
  CLI::App app{"ntblab: a virtual lab for socket communication over PCIe NTB"};
  app.require_subcommand(1);

  auto* demo = app.add_subcommand("demo", "the lab's main job: a cluster, a workload, a readable result");
  std::string demo_out = "results/demo";
  demo->add_option("--out", demo_out, "where the demo writes its results");
  bool model_only = false;
  demo->add_flag("--model-only", model_only, "only the model: the paper's tables and a modelled transfer");

  auto* regs = app.add_subcommand("regs", "print the model's register tables as Markdown");

  auto* run = app.add_subcommand("run", "boot the cluster a scenario describes and run its steps");
  std::string scenario;
  ntblab::cli::RunOptions opts;
  run->add_option("scenario", scenario, "scenario file (YAML)")->required();
  run->add_option("--out", opts.out_dir, "results directory (results.json, logs/)");
  run->add_option("--accel", opts.accel, "QEMU accelerator, overrides the scenario")
      ->check(CLI::IsMember({"tcg", "kvm"}));
  run->add_flag("--quiet", opts.quiet, "no progress lines");
  run->add_option("--junit", opts.junit, "also write JUnit XML here: one testcase per step and node");

  auto* junit = app.add_subcommand("junit", "JUnit XML from results.json files: one testsuite each");
  std::vector<std::string> junit_in;
  std::string junit_out;
  junit->add_option("results", junit_in, "results.json files of earlier runs")->required();
  junit->add_option("--out", junit_out, "the XML file (default: stdout)");

  CLI11_PARSE(app, argc, argv);
  try {
    if (*demo) return ntblab::cli::demo(demo_out, model_only);
    if (*regs) return ntblab::cli::regs();
    if (*run) return ntblab::cli::run_scenario(scenario, opts);
    if (*junit) return ntblab::cli::junit(junit_in, junit_out);
  } catch (const ntblab::scenario::ScenarioError& e) {
    std::cerr << e.what() << "\n";
    return 2;
  } catch (const ntblab::scenario::LoadInterrupted& e) {
    std::cerr << "ntblab: " << e.what() << "\n";
    return 130;
  } catch (const std::exception& e) {
    std::cerr << "ntblab: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
