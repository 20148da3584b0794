// SPDX-License-Identifier: GPL-2.0-only
// The names of a cluster's sockets, as both the runner (QEMU's arguments) and
// the switch process (where it listens) take them from node_links.h.
#include <gtest/gtest.h>

#include "ntblab/scenario/cluster_config.h"
#include "ntblab/scenario/node_links.h"
#include "ntblab/scenario/scenario.h"

using namespace ntblab::scenario;
using ntblab::model::Function;

namespace {

const char* kPair = "name: pair\nnodes:\n  - name: a\n  - name: b\n";

}  // namespace

TEST(NodeLinks, EveryNodeHasItsNtAndDmaSockets) {
  const Scenario s = parse_scenario(kPair, "pair.yaml");
  const std::vector<NodeLink> links = node_links(s, "/tmp/ntblab-x");
  ASSERT_EQ(links.size(), 4u);
  const struct {
    unsigned node;
    const char* name;
    Function fn;
    const char* path;
  } want[] = {{0, "a", Function::Nt, "/tmp/ntblab-x/a.nt.sock"},
              {0, "a", Function::Dma, "/tmp/ntblab-x/a.dma.sock"},
              {1, "b", Function::Nt, "/tmp/ntblab-x/b.nt.sock"},
              {1, "b", Function::Dma, "/tmp/ntblab-x/b.dma.sock"}};
  for (size_t k = 0; k < links.size(); ++k) {
    EXPECT_EQ(links[k].node, want[k].node) << k;
    EXPECT_EQ(links[k].name, want[k].name) << k;
    EXPECT_EQ(links[k].function, want[k].fn) << k;
    EXPECT_EQ(links[k].path, want[k].path) << k;
  }
  // The scenario's links are its cluster configuration's.
  const std::vector<NodeLink> from_config = node_links(cluster_config(s), "/tmp/ntblab-x");
  ASSERT_EQ(from_config.size(), links.size());
  for (size_t k = 0; k < links.size(); ++k) EXPECT_EQ(from_config[k].path, links[k].path) << k;
}

TEST(NodeLinks, ANodeWithoutDmaHasNoDmaSocket) {
  ntblab::model::ClusterConfig c = cluster_config(parse_scenario(kPair, "pair.yaml"));
  c.nodes[1].dma = false;
  const std::vector<NodeLink> links = node_links(c, "/d");
  ASSERT_EQ(links.size(), 3u);
  EXPECT_EQ(links[2].path, "/d/b.nt.sock");
  EXPECT_EQ(links[2].function, Function::Nt);
}

TEST(NodeLinks, ControlAndEthernetSockets) {
  EXPECT_EQ(control_socket("/tmp/ntblab-x", "a"), "/tmp/ntblab-x/a.ctl.sock");
  EXPECT_EQ(eth_socket("/tmp/ntblab-x"), "/tmp/ntblab-x/eth.sock");
  EXPECT_STREQ(function_name(Function::Nt), "nt");
  EXPECT_STREQ(function_name(Function::Dma), "dma");
}
