// SPDX-License-Identifier: GPL-2.0-only
#include "ntblab/scenario/cluster_config.h"

#include "model_error.h"
#include "ntblab/model/config_error.h"

namespace ntblab::scenario {

model::ClusterConfig unchecked_cluster_config(const Scenario& s) {
  model::ClusterConfig c;
  c.topology = s.topology == "fabric" ? model::Topology::Fabric : model::Topology::BackToBack;
  c.hop_latency_ns = double(s.hop_latency_ps) / 1000.0;
  for (size_t i = 0; i < s.nodes.size(); ++i) {
    const NodeSpec& n = s.nodes[i];
    model::ClusterNodeConfig nc;
    nc.name = n.name;
    nc.host_link.generation = unsigned(n.link.gen);
    nc.host_link.width = unsigned(n.link.width);
    nc.nt_link = nc.host_link;
    nc.nt.link_gen = unsigned(n.link.gen);
    nc.nt.link_width = unsigned(n.link.width);
    if (c.topology == model::Topology::Fabric) {
      nc.fabric_port = unsigned(n.port);
      for (const PortSpec& p : s.ports)
        if (p.number == n.port) {
          nc.nt_link.generation = unsigned(p.link.gen);
          nc.nt_link.width = unsigned(p.link.width);
        }
      // Each node's NT port is its adapter's port 0 ... numbered by fabric port
      // so that drivers can tell peers apart (reg 0x360).
      nc.nt.port = unsigned(n.port);
      nc.nt.alut = model::AlutMode::Owned256;
    }
    c.nodes.push_back(nc);
  }
  return c;
}

model::ClusterConfig cluster_config(const Scenario& s) {
  model::ClusterConfig c = unchecked_cluster_config(s);
  try {
    c.validate();
  } catch (const model::ConfigError& e) {
    throw s.error(e.field(), model_message(e));
  }
  return c;
}

}  // namespace ntblab::scenario
