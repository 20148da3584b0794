// SPDX-License-Identifier: GPL-2.0-only
// The integrated model: two nodes back to back, programmed like a public PLX
// driver programs them, exchange data, doorbells and scratchpads; refusals
// reach no memory; and the timing of the whole path equals the analytic path
// model (link, hop, cable, hop, link).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <numeric>

#include "ntblab/model/support/b2b_setup.h"
#include "ntblab/model/cluster.h"
#include "ntblab/model/config_error.h"
#include "ntblab/model/path.h"

using namespace ntblab::model;

namespace {

constexpr uint64_t kRam = 64ull << 20;

ClusterConfig two_nodes() {
  ClusterConfig c;
  c.topology = Topology::BackToBack;
  for (int i = 0; i < 2; ++i) {
    ClusterNodeConfig n;
    n.name = "node" + std::to_string(i);
    c.nodes.push_back(n);
  }
  return c;
}

struct B2bFixture : ::testing::Test {
  void SetUp() override {
    cluster = std::make_unique<Cluster>("cluster", two_nodes());
    sc_core::sc_start(sc_core::SC_ZERO_TIME);
    cluster->on_irq = [this](unsigned node, Function fn, bool level, double) {
      if (fn == Function::Nt) intx[node] = level;
    };
    cluster->attach_memory(0, &ram[0]);
    cluster->attach_memory(1, &ram[1]);
    lab::setup_b2b(*cluster, 0);
    lab::setup_b2b(*cluster, 1);
  }
  std::unique_ptr<Cluster> cluster;
  VectorMemory ram[2] = {VectorMemory(kRam), VectorMemory(kRam)};
  bool intx[2] = {false, false};
  lab::B2bLayout layout;
};

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = uint8_t(seed + i * 7);
  return v;
}

}  // namespace

TEST_F(B2bFixture, LinkComesUpWhenBothHostsArePresent) {
  EXPECT_TRUE(cluster->nt(0).link_up());
  EXPECT_TRUE(cluster->nt(1).link_up());
  cluster->attach_memory(1, nullptr);  // node1's QEMU went away
  EXPECT_FALSE(cluster->nt(0).link_up());
  EXPECT_FALSE(cluster->nt(1).link_up());
  cluster->attach_memory(1, &ram[1]);
  EXPECT_TRUE(cluster->nt(0).link_up());
}

TEST_F(B2bFixture, WindowWriteLandsAtTheTranslatedAddressAndNowhereElse) {
  auto data = pattern(4096, 3);
  HostAccess w = cluster->host_write(0, layout.bar2 + 0x1000, data.data(), data.size(), true);
  ASSERT_TRUE(w.ok);
  const uint8_t* mem = ram[1].data();
  EXPECT_TRUE(std::equal(data.begin(), data.end(), mem + layout.inbound + 0x1000));
  // Every other byte of node1's RAM is untouched (it started as zeros).
  size_t nonzero = 0;
  for (uint64_t a = 0; a < kRam; ++a)
    if (mem[a] && (a < layout.inbound + 0x1000 || a >= layout.inbound + 0x2000)) ++nonzero;
  EXPECT_EQ(nonzero, 0u);
  // Node0's own RAM holds only what it wrote itself: nothing.
  EXPECT_EQ(std::accumulate(ram[0].data(), ram[0].data() + kRam, uint64_t{0}), 0u);
}

TEST_F(B2bFixture, ReadThroughTheWindowCompletes) {
  uint32_t v = 0xCAFEF00D;
  ram[1].write(layout.inbound + 0x40, &v, 4);
  uint32_t got = 0, drain = 0;
  cluster->host_read(0, layout.bar0, &drain, 4);  // let the set-up writes drain first
  HostAccess r = cluster->host_read(0, layout.bar2 + 0x40, &got, 4);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(got, v);
  // Request and completion each cross both chips: the analytic path's read.
  const ClusterNodeConfig& n = cluster->config().nodes[0];
  pcie::PathModel path({n.host_link, n.nt_link, n.host_link}, cluster->config().hop_latency_ns);
  EXPECT_NEAR(r.latency_ns, path.read(4).latency_ns, 0.05 * path.read(4).latency_ns);
}

TEST_F(B2bFixture, DoorbellAndScratchpadThroughThePeersRegisters) {
  const uint32_t remote = lab::kNt0Virtual;  // peer registers at the start of BAR4
  lab::reg_write(*cluster, 1, lab::kNt0Virtual + 0xC58, 0xFFFF);  // node1 unmasks its doorbells
  EXPECT_FALSE(intx[1]);
  uint32_t bit = 1u << 5;
  cluster->host_write(0, layout.bar4 + remote + 0xC4C, &bit, 4, false);  // ring node1
  EXPECT_TRUE(intx[1]);
  EXPECT_FALSE(intx[0]);
  EXPECT_EQ(lab::reg_read(*cluster, 1, lab::kNt0Virtual + 0xC4C), bit);
  lab::reg_write(*cluster, 1, lab::kNt0Virtual + 0xC50, bit);  // node1 clears it
  EXPECT_FALSE(intx[1]);
  uint32_t spad = 0x5EED;
  cluster->host_write(0, layout.bar4 + remote + 0xC6C + 4 * 3, &spad, 4, false);
  EXPECT_EQ(lab::reg_read(*cluster, 1, lab::kNt0Virtual + 0xC6C + 4 * 3), spad);
  EXPECT_EQ(lab::reg_read(*cluster, 0, lab::kNt0Virtual + 0xC6C + 4 * 3), 0u);  // each chip its own
}

TEST_F(B2bFixture, AccessOutsideEveryWindowIsRefusedAndReachesNoMemory) {
  uint64_t beyond = layout.bar2 + (16ull << 20);  // just past BAR2: nobody decodes it
  uint32_t v = 0xBAD;
  EXPECT_FALSE(cluster->host_write(0, beyond, &v, 4, false).ok);
  uint32_t got = 0;
  EXPECT_FALSE(cluster->host_read(0, beyond, &got, 4).ok);
  EXPECT_EQ(got, 0xFFFFFFFFu);
  // Window closed by clearing the peer's link BAR2: the write is dropped, counted.
  lab::reg_write(*cluster, 1, lab::kNt0Link + 0xE8, 0);
  lab::reg_write(*cluster, 1, lab::kNt0Link + 0xEC, 0);
  EXPECT_FALSE(cluster->host_write(0, layout.bar2, &v, 4, false).ok);
  EXPECT_EQ(std::accumulate(ram[1].data(), ram[1].data() + kRam, uint64_t{0}), 0u);
  auto s = cluster->stats();
  EXPECT_GE(s["nodes"][0]["router_refused"].get<uint64_t>() +
                s["nodes"][1]["nt"]["refused_from_link"]["total"].get<uint64_t>() +
                s["cable"]["refusals"].get<uint64_t>(),
            1u);
}

TEST_F(B2bFixture, IdleWriteTimingEqualsTheAnalyticPath) {
  // host0 link, chip0 hop, cable, chip1 hop, host1 link: the path model's answer.
  const ClusterNodeConfig& n = cluster->config().nodes[0];
  pcie::PathModel path({n.host_link, n.nt_link, n.host_link}, cluster->config().hop_latency_ns);
  for (uint64_t bytes : {8ull, 256ull, 4096ull, 65536ull}) {
    std::vector<uint8_t> data(bytes, 0x5A);
    // Start each write after everything before it (setup included) has drained:
    // a read waits behind the posted writes on the same link.
    uint64_t drain = 0;
    cluster->host_read(0, layout.bar0, &drain, 4);
    HostAccess w = cluster->host_write(0, layout.bar2 + 0x100000, data.data(), bytes, bytes > 8);
    ASSERT_TRUE(w.ok);
    // The path model's addresses: the window is above 4 GiB on the link, below on the hosts.
    EXPECT_NEAR(w.latency_ns, path.write(int64_t(bytes)).latency_ns, 0.05 * path.write(int64_t(bytes)).latency_ns)
        << bytes << " bytes";
  }
}

TEST(Cluster, BadConfigurationsNameTheirField) {
  ClusterConfig c = two_nodes();
  c.nodes[1].host_link.width = 3;
  try {
    Cluster bad("bad", c);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "nodes[1].host_link.width");
  }
  c = two_nodes();
  c.nodes.push_back(c.nodes[0]);
  c.nodes[2].name = "node2";
  EXPECT_THROW(Cluster("three", c), ConfigError);  // back-to-back cables exactly two
  c.topology = Topology::Fabric;
  c.nodes[2].fabric_port = 1;
  c.nodes[1].fabric_port = 1;
  try {
    Cluster bad("bad2", c);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "nodes[2].fabric_port");
  }
}
