// SPDX-License-Identifier: GPL-2.0-only
#include "ntblab/model/cluster.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include "ntblab/model/config_error.h"
#include "ntblab/model/fabric.h"
#include "ntblab/model/link.h"
#include "ntblab/model/tlp.h"

namespace ntblab::model {

using sc_core::sc_time;
using timing_detail::from_ns;

namespace {

double to_ns(const sc_time& t) { return timing_detail::to_ns(t, timing_detail::ns_per_sc_unit()); }

/// RAM that can be detached: the node's QEMU may come and go.
class SwitchableMemory : public HostMemory {
 public:
  HostMemory* target = nullptr;
  bool read(uint64_t a, void* d, size_t n) override { return target && target->read(a, d, n); }
  bool write(uint64_t a, const void* s, size_t n) override { return target && target->write(a, s, n); }
  bool write_at(uint64_t a, const void* s, size_t n, double t) override {
    return target && target->write_at(a, s, n, t);
  }
  uint64_t size() const override { return target ? target->size() : 0; }
};

/// Issues the host CPU's requests onto the host link.
class HostCpu : public sc_core::sc_module {
 public:
  tlm_utils::simple_initiator_socket<HostCpu> socket;
  explicit HostCpu(sc_core::sc_module_name n) : sc_module(n), socket("socket") {}
};

}  // namespace

// ---------------------------------------------------------------------------
// The node's switch, seen from its upstream port: routes the host CPU's and the
// DMA engine's requests to the NT virtual interface, the DMA BAR0s or up to the
// host's RAM. TLPs coming out of the NT virtual interface (inbound traffic from
// peers) only ever go up to RAM, so a misprogrammed translation cannot loop.
class Cluster::Router : public sc_core::sc_module {
 public:
  enum Source { kFromCpu = 0, kFromDma = 1, kFromNt = 2 };
  sc_core::sc_vector<tlm_utils::simple_target_socket_tagged<Router>> in;
  tlm_utils::simple_initiator_socket<Router> to_nt;
  tlm_utils::simple_initiator_socket<Router> to_host;
  sc_core::sc_vector<tlm_utils::simple_initiator_socket<Router>> to_dma;

  Router(sc_core::sc_module_name n, NtEndpoint& nt, DmaEngine* dma)
      : sc_module(n), in("in", 3), to_nt("to_nt"), to_host("to_host"),
        to_dma("to_dma", dma ? dma::kChannels : 0), nt_(nt), dma_(dma) {
    for (int i = 0; i < 3; ++i) in[i].register_b_transport(this, &Router::b_transport, i);
  }
  uint64_t refused = 0;

 private:
  int dma_function(uint64_t addr) const {
    if (!dma_) return -1;
    for (unsigned f = 0; f < dma::kChannels; ++f) {
      uint64_t base = dma_->bar0_base(f);
      if (base && addr >= base && addr - base < dma::kBar0Size) return int(f);
    }
    return -1;
  }
  void b_transport(int source, tlm::tlm_generic_payload& gp, sc_time& delay) {
    const uint64_t addr = gp.get_address();
    const bool to_chip_nt = nt_.claims(Side::Virtual, addr);
    if (source == kFromNt) {  // no hairpin back into the chip
      if (to_chip_nt || dma_function(addr) >= 0) return refuse(gp);
      return to_host->b_transport(gp, delay);
    }
    if (to_chip_nt) return to_nt->b_transport(gp, delay);
    if (const int fn = dma_function(addr); fn >= 0) {
      gp.set_address(addr - dma_->bar0_base(unsigned(fn)));
      to_dma[unsigned(fn)]->b_transport(gp, delay);
      gp.set_address(addr);
      return;
    }
    if (source == kFromDma) return to_host->b_transport(gp, delay);
    refuse(gp);  // the CPU addressed something this switch does not decode
  }
  void refuse(tlm::tlm_generic_payload& gp) {
    ++refused;
    gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
  }
  NtEndpoint& nt_;
  DmaEngine* dma_;
};

struct Cluster::Node {
  Node(const std::string& name, const ClusterNodeConfig& c, double hop_ns)
      : cpu((name + "_cpu").c_str()),
        host_link((name + "_host_link").c_str(), c.host_link),
        nt((name + "_nt").c_str(), with_hop(c.nt, hop_ns)),
        ram((name + "_ram").c_str(), memory) {
    if (c.dma) dma = std::make_unique<DmaEngine>((name + "_dma").c_str());
    router = std::make_unique<Router>((name + "_router").c_str(), nt, dma.get());
    cpu.socket.bind(host_link.a_in);
    host_link.b_out.bind(router->in[Router::kFromCpu]);
    router->to_host.bind(host_link.b_in);
    host_link.a_out.bind(ram.socket);
    router->to_nt.bind(nt.virt_in);
    nt.virt_out.bind(router->in[Router::kFromNt]);
    if (dma) {
      dma->mem_out.bind(router->in[Router::kFromDma]);
      for (unsigned f = 0; f < dma::kChannels; ++f) router->to_dma[f].bind(dma->bar0_in[f]);
    } else {
      dma_stub = std::make_unique<tlm_utils::simple_initiator_socket<Node>>((name + "_nodma").c_str());
      dma_stub->bind(router->in[Router::kFromDma]);
    }
  }
  static NtEndpointConfig with_hop(NtEndpointConfig c, double hop_ns) {
    // Crossing the node's own switch (upstream port <-> NT port) is one hop.
    c.forward_latency = from_ns(hop_ns);
    return c;
  }
  SwitchableMemory memory;
  HostCpu cpu;
  PcieLink host_link;
  NtEndpoint nt;
  MemoryTarget ram;
  std::unique_ptr<DmaEngine> dma;
  std::unique_ptr<Router> router;
  std::unique_ptr<tlm_utils::simple_initiator_socket<Node>> dma_stub;
  double local_ns = 0;  // this host's own clock: advanced by reads it waited for
  double latest_ns = 0; // latest completion seen
};

struct Cluster::Fabric {
  std::unique_ptr<PcieLink> cable;          // back-to-back
  std::unique_ptr<FabricSwitch> fabric;     // fabric
  std::vector<unsigned> port_of_node;       // fabric port index per node
};

void ClusterConfig::validate() const {
  if (nodes.size() < 2) throw ConfigError("nodes", "a cluster needs at least 2 nodes");
  if (topology == Topology::BackToBack && nodes.size() != 2)
    throw ConfigError("nodes", "back-to-back cables exactly 2 nodes, not " + std::to_string(nodes.size()));
  if (nodes.size() > kPex8749Ports) throw ConfigError("nodes", "at most 18 nodes on one fabric switch");
  if (!(hop_latency_ns >= 0)) throw ConfigError("hop_latency_ns", "must be >= 0");
  std::set<std::string> names;
  std::set<unsigned> ports;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const std::string f = "nodes[" + std::to_string(i) + "]";
    if (nodes[i].name.empty() || !names.insert(nodes[i].name).second)
      throw ConfigError(f + ".name", "missing or used twice");
    nodes[i].host_link.validate(f + ".host_link");
    nodes[i].nt_link.validate(f + ".nt_link");
    if (topology == Topology::Fabric) {
      if (nodes[i].fabric_port >= kPex8749Ports)
        throw ConfigError(f + ".fabric_port", std::to_string(nodes[i].fabric_port) + " is not a port 0..17");
      if (!ports.insert(nodes[i].fabric_port).second)
        throw ConfigError(f + ".fabric_port", "port " + std::to_string(nodes[i].fabric_port) + " is taken");
    }
  }
}

Cluster::Cluster(sc_core::sc_module_name name, const ClusterConfig& config)
    : sc_module(name), config_(config), fabric_(std::make_unique<Fabric>()) {
  config_.validate();
  for (size_t i = 0; i < config_.nodes.size(); ++i) {
    try {
      validate(config_.nodes[i].nt);
    } catch (const ConfigError& e) {
      throw ConfigError("nodes[" + std::to_string(i) + "].nt." + e.field(), e.what());
    }
    nodes_.push_back(std::make_unique<Node>(config_.nodes[i].name, config_.nodes[i], config_.hop_latency_ns));
  }
  if (config_.topology == Topology::BackToBack) {
    fabric_->cable = std::make_unique<PcieLink>("cable", config_.nodes[0].nt_link);
    NtEndpoint& a = nodes_[0]->nt;
    NtEndpoint& b = nodes_[1]->nt;
    a.link_out.bind(fabric_->cable->a_in);
    fabric_->cable->b_out.bind(b.link_in);
    b.link_out.bind(fabric_->cable->b_in);
    fabric_->cable->a_out.bind(a.link_in);
  } else {
    SwitchConfig sc;
    sc.hop_latency_ns = config_.hop_latency_ns;
    sc.single_upstream = false;
    for (size_t i = 0; i < config_.nodes.size(); ++i) {
      PortConfig p;
      static_cast<pcie::LinkParams&>(p) = config_.nodes[i].nt_link;
      p.role = PortRole::Downstream;
      sc.ports.push_back(p);
      fabric_->port_of_node.push_back(unsigned(i));
    }
    fabric_->fabric = std::make_unique<FabricSwitch>("fabric", sc);
    for (size_t i = 0; i < nodes_.size(); ++i) {
      NtEndpoint& nt = nodes_[i]->nt;
      nt.link_out.bind(fabric_->fabric->in[i]);
      fabric_->fabric->out[i].bind(nt.link_in);
      fabric_->fabric->set_route(unsigned(i), [&nt](uint64_t a) { return nt.claims(Side::Link, a); });
    }
  }
  for (unsigned i = 0; i < nodes_.size(); ++i) {
    nodes_[i]->nt.on_intx = [this, i](bool level) {
      if (on_irq) on_irq(i, Function::Nt, level, -1.0);
    };
    nodes_[i]->nt.on_port_enable_change = [this](bool) { update_partners(); };
    if (nodes_[i]->dma)
      nodes_[i]->dma->on_irq([this, i](unsigned fn, bool level, sc_time at) {
        if (fn == 0 && on_irq) on_irq(i, Function::Dma, level, to_ns(at));
      });
  }
  update_partners();
}

Cluster::~Cluster() = default;

void Cluster::update_partners() {
  // A link trains when both ends are powered and enabled. Back-to-back: the
  // other chip (its host present) with its NT port enabled. Fabric: the fabric
  // switch port, always enabled; a node whose host is gone loses its own link.
  for (size_t i = 0; i < nodes_.size(); ++i) {
    bool partner;
    if (config_.topology == Topology::BackToBack) {
      const Node& o = *nodes_[1 - i];
      partner = attached(unsigned(1 - i)) && o.nt.port_enabled() && attached(unsigned(i));
    } else {
      partner = attached(unsigned(i));
    }
    nodes_[i]->nt.set_link_partner(partner);
  }
}

void Cluster::attach_memory(unsigned node, HostMemory* ram) {
  nodes_.at(node)->memory.target = ram;
  update_partners();
}

bool Cluster::attached(unsigned node) const { return nodes_.at(node)->memory.target != nullptr; }

NtEndpoint& Cluster::nt(unsigned node) { return nodes_.at(node)->nt; }
DmaEngine* Cluster::dma(unsigned node) { return nodes_.at(node)->dma.get(); }

void Cluster::set_dma_slice(uint32_t descriptors, uint64_t bytes) {
  for (auto& n : nodes_)
    if (n->dma) n->dma->set_slice(descriptors, bytes);
}

bool Cluster::run_dma() {
  bool any = false;
  for (auto& n : nodes_)
    if (n->dma && n->dma->resume()) any = true;
  return any;
}

uint32_t Cluster::cfg_read(unsigned node, Function fn, uint32_t off, unsigned len) {
  Node& n = *nodes_.at(node);
  if (fn == Function::Nt) return n.nt.cfg_read(Side::Virtual, off, len);
  if (n.dma) return n.dma->cfg_read(0, off, len);
  return len == 4 ? 0xFFFFFFFFu : (1u << (8 * len)) - 1;
}

void Cluster::cfg_write(unsigned node, Function fn, uint32_t off, unsigned len, uint32_t value) {
  Node& n = *nodes_.at(node);
  if (fn == Function::Nt) n.nt.cfg_write(Side::Virtual, off, len, value);
  else if (n.dma) n.dma->cfg_write(0, off, len, value);
}

uint64_t Cluster::bar_address(unsigned node, Function fn, unsigned bar) const {
  auto& self = const_cast<Cluster&>(*this);
  if (bar > 5) return 0;
  uint32_t lo = self.cfg_read(node, fn, 0x10 + 4 * bar, 4);
  if (lo & 1) return 0;  // I/O BARs are not implemented
  uint64_t addr = lo & ~0xFull;
  if ((lo & 0x6) == 0x4 && bar < 5) addr |= uint64_t(self.cfg_read(node, fn, 0x14 + 4 * bar, 4)) << 32;
  return addr;
}

double Cluster::start_time(unsigned node) const {
  double t = nodes_.at(node)->local_ns;
  if (time_source_) t = std::max(t, time_source_());
  return t;
}

double Cluster::now_ns() const {
  double t = 0;
  for (const auto& n : nodes_) t = std::max({t, n->local_ns, n->latest_ns});
  return t;
}

HostAccess Cluster::host_transport(unsigned node, tlm::tlm_command cmd, uint64_t addr, void* data,
                                   uint64_t len, bool bulk) {
  Node& n = *nodes_.at(node);
  tlm::tlm_generic_payload gp;
  make_request(gp, cmd, addr, data, static_cast<unsigned>(len));
  TlpExtension ext;
  ext.bulk = bulk;
  ext.requester_id = 0x0000;  // the root complex, 00:00.0
  gp.set_extension(&ext);
  const double start = start_time(node);
  sc_time delay = from_ns(start);
  n.cpu.socket->b_transport(gp, delay);
  gp.clear_extension(&ext);
  HostAccess r;
  r.ok = gp.is_response_ok();
  const double done = std::max(start, to_ns(delay));
  r.latency_ns = done - start;
  n.latest_ns = std::max(n.latest_ns, done);
  if (cmd == tlm::TLM_READ_COMMAND) n.local_ns = done;  // the CPU waited for the data
  return r;
}

HostAccess Cluster::host_read(unsigned node, uint64_t addr, void* data, unsigned len) {
  HostAccess r = host_transport(node, tlm::TLM_READ_COMMAND, addr, data, len, false);
  if (!r.ok) std::memset(data, 0xFF, len);
  return r;
}

HostAccess Cluster::host_write(unsigned node, uint64_t addr, const void* data, uint64_t len, bool bulk) {
  return host_transport(node, tlm::TLM_WRITE_COMMAND, addr, const_cast<void*>(data), len, bulk);
}

HostAccess Cluster::mmio_read(unsigned node, Function fn, unsigned bar, uint64_t off, unsigned len) {
  HostAccess r;
  uint64_t base = bar_address(node, fn, bar);
  if (len == 0 || len > 8 || base == 0) {
    r.data = ~0ull;
    return r;
  }
  uint64_t v = 0;
  r = host_read(node, base + off, &v, len);
  r.data = r.ok ? v : ~0ull;
  return r;
}

HostAccess Cluster::mmio_write(unsigned node, Function fn, unsigned bar, uint64_t off, const void* data,
                               unsigned len) {
  uint64_t base = bar_address(node, fn, bar);
  if (base == 0 || len == 0) return HostAccess{};
  return host_write(node, base + off, data, len, len > 8);
}

nlohmann::json Cluster::stats() const {
  using nlohmann::json;
  auto window = [](const NtWindowStats& w) { return json{{"tlps", w.tlps}, {"bytes", w.bytes}}; };
  auto refusals = [](const NtRefusalStats& r) {
    return json{{"no_bar", r.no_bar}, {"window_disabled", r.window_disabled},
                {"alut_permission", r.alut_permission}, {"unclaimed", r.unclaimed}, {"total", r.total()}};
  };
  auto direction = [](const DirectionStats& d) {
    return json{{"transactions", d.transactions}, {"tlps", d.tlps}, {"payload_bytes", d.payload_bytes},
                {"busy_ns", d.busy_ns}};
  };
  json out;
  out["topology"] = config_.topology == Topology::BackToBack ? "back-to-back" : "fabric";
  out["modelled_time_ns"] = now_ns();
  json nodes = json::array();
  for (const auto& n : nodes_) {
    const NtStats& s = n->nt.stats();
    json windows = json::object();
    for (unsigned b : {2u, 3u, 4u, 5u}) {
      if (s.from_virtual.bar[b].tlps) windows["bar" + std::to_string(b) + "_out"] = window(s.from_virtual.bar[b]);
      if (s.from_link.bar[b].tlps) windows["bar" + std::to_string(b) + "_in"] = window(s.from_link.bar[b]);
    }
    json alut = json::object();
    for (unsigned e = 0; e < 256; ++e) {
      if (s.from_virtual.alut[e].tlps) alut["out" + std::to_string(e)] = window(s.from_virtual.alut[e]);
      if (s.from_link.alut[e].tlps) alut["in" + std::to_string(e)] = window(s.from_link.alut[e]);
    }
    LinkStats hl = n->host_link.stats();
    json node{{"name", n->nt.name()},
              {"link_up", n->nt.link_up()},
              {"nt",
               {{"from_host", window(s.from_virtual.total)},
                {"from_link", window(s.from_link.total)},
                {"windows", windows},
                {"alut", alut},
                {"refused_from_host", refusals(s.refused[0])},
                {"refused_from_link", refusals(s.refused[1])},
                {"doorbells_rung_virtual", s.doorbells_rung[0]},
                {"doorbells_rung_link", s.doorbells_rung[1]},
                {"register_reads", s.reg_reads},
                {"register_writes", s.reg_writes},
                {"link_ups", s.link_ups},
                {"link_downs", s.link_downs}}},
              {"host_link", {{"down", direction(hl.a_to_b)}, {"up", direction(hl.b_to_a)}}},
              {"router_refused", n->router->refused},
              {"ram_refused", n->ram.refused()}};
    if (n->dma) {
      const DmaStats& d = n->dma->stats(0);
      node["dma"] = {{"descriptors_completed", d.descriptors_completed},
                     {"descriptors_failed", d.descriptors_failed},
                     {"bytes_copied", d.bytes_copied},
                     {"fetch_errors", d.fetch_errors},
                     {"busy_ns", to_ns(d.busy_time)}};
    }
    nodes.push_back(node);
  }
  out["nodes"] = nodes;
  if (fabric_->cable) {
    LinkStats c = fabric_->cable->stats();
    out["cable"] = {{"a_to_b", direction(c.a_to_b)}, {"b_to_a", direction(c.b_to_a)}, {"refusals", c.refusals}};
  }
  if (fabric_->fabric) {
    json ports = json::array();
    for (unsigned p = 0; p < fabric_->fabric->num_ports(); ++p) {
      PortStats ps = fabric_->fabric->stats(p);
      ports.push_back({{"node", config_.nodes[p].name},
                       {"port", config_.nodes[p].fabric_port},
                       {"tlps_in", ps.tlps_in},
                       {"tlps_out", ps.tlps_out},
                       {"bytes_in", ps.bytes_in},
                       {"bytes_out", ps.bytes_out},
                       {"refusals", ps.refusals},
                       {"busy_in_ns", ps.busy_in_ns},
                       {"busy_out_ns", ps.busy_out_ns}});
    }
    out["fabric_ports"] = ports;
  }
  return out;
}

}  // namespace ntblab::model
