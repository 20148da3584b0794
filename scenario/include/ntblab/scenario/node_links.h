// SPDX-License-Identifier: GPL-2.0-only
// Where a cluster's parts meet: the Unix sockets in a run's socket directory.
// The runner hands these paths to the QEMUs, the switch process listens on
// them; both take them from here.
//   DIR/<node>.nt.sock   node link of the node's NT port (pex8749-nt)
//   DIR/<node>.dma.sock  node link of the switch's DMA function (pex8749-dma),
//                        if the node has one (ClusterNodeConfig::dma)
//   DIR/<node>.ctl.sock  the node's control channel (the guest agent);
//   DIR/<node>.ctlN.sock more of them, N = 1.., for steps run at once there
//   DIR/eth.sock         the Ethernet hub joining the guests' virtio-net NICs
#pragma once

#include <string>
#include <vector>

#include "ntblab/model/cluster.h"
#include "ntblab/scenario/scenario.h"

namespace ntblab::scenario {

/// One node link: a PCI function of a node's switch and its socket.
struct NodeLink {
  unsigned node = 0;        ///< index in the cluster's nodes
  std::string name;         ///< the node's name
  model::Function function = model::Function::Nt;
  std::string path;         ///< DIR/<node>.<function>.sock
};

/// "nt" or "dma": the function's part of socket names (and of the QEMU
/// device's, pex8749-<function>).
const char* function_name(model::Function f);

/// Every node link of the cluster, node by node, NT before DMA.
std::vector<NodeLink> node_links(const model::ClusterConfig& c, const std::string& dir);
/// The same for the cluster a scenario describes (unchecked_cluster_config).
std::vector<NodeLink> node_links(const Scenario& s, const std::string& dir);

/// DIR/<node>.ctl.sock: the node's control channel; with `agent` N > 0 its
/// N-th extra one, DIR/<node>.ctlN.sock (steps run at once on one node).
std::string control_socket(const std::string& dir, const std::string& node, unsigned agent = 0);
/// DIR/eth.sock: the Ethernet hub.
std::string eth_socket(const std::string& dir);

}  // namespace ntblab::scenario
