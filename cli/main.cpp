// ntblab-cli: subcommands of the lab. ./ntblab builds this and dispatches to it.
#include <CLI/CLI.hpp>
#include <iostream>

#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"ntblab: a virtual lab for socket communication over PCIe NTB"};
  app.require_subcommand(1);
  auto* demo = app.add_subcommand("demo", "show the model: the paper's tables and a modelled transfer");
  auto* regs = app.add_subcommand("regs", "print the model's register tables as Markdown");
  CLI11_PARSE(app, argc, argv);
  try {
    if (*demo) return ntblab::cli::demo();
    if (*regs) return ntblab::cli::regs();
  } catch (const std::exception& e) {
    std::cerr << "ntblab: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
