// SPDX-License-Identifier: GPL-2.0-only
#include "ntblab/scenario/node_links.h"

#include "ntblab/scenario/cluster_config.h"

namespace ntblab::scenario {

const char* function_name(model::Function f) {
  switch (f) {
    case model::Function::Nt: return "nt";
    case model::Function::Dma: return "dma";
  }
  return "?";
}

std::vector<NodeLink> node_links(const model::ClusterConfig& c, const std::string& dir) {
  std::vector<NodeLink> links;
  for (unsigned i = 0; i < c.nodes.size(); ++i) {
    const std::string& name = c.nodes[i].name;
    auto add = [&](model::Function f) {
      links.push_back({i, name, f, dir + "/" + name + "." + function_name(f) + ".sock"});
    };
    add(model::Function::Nt);
    if (c.nodes[i].dma) add(model::Function::Dma);
  }
  return links;
}

std::vector<NodeLink> node_links(const Scenario& s, const std::string& dir) {
  return node_links(unchecked_cluster_config(s), dir);
}

std::string control_socket(const std::string& dir, const std::string& node, unsigned agent) {
  return dir + "/" + node + ".ctl" + (agent ? std::to_string(agent) : std::string()) + ".sock";
}

std::string eth_socket(const std::string& dir) { return dir + "/eth.sock"; }

}  // namespace ntblab::scenario
