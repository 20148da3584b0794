// SPDX-License-Identifier: GPL-2.0-only
// A whole lab cluster in one model: per node a host (root complex + RAM), the
// node's PEX87xx with its NT port (and the switch's DMA function), the links,
// and what joins the nodes — a cable between two NT ports (back-to-back) or a
// transparent PEX8749 fabric switch that every node's NT link side joins.
//
//   node i:  host RAM ◄─ MemoryTarget ◄─┐
//            host CPU ─► [host link] ─► router ─► NT virtual ═ NT link ─► [cable | fabric]
//                                         ▲ └──► DMA BAR0       │
//                                         └── DMA engine        ▼ (to the peers)
//
// The switch process drives it from the node links; the benchmark, the demo and
// the Python bindings drive it directly. Host accesses are loosely timed: each
// starts at max(the node's local time, the time source) and returns its
// modelled latency. docs/pex8749-model.md describes the topologies.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <systemc>

#include "ntblab/model/dma.h"
#include "ntblab/model/limits.h"  // kMaxLabNodes
#include "ntblab/model/memory.h"
#include "ntblab/model/nt_endpoint.h"
#include "ntblab/model/pcie.h"
#include "ntblab/model/path.h"

namespace ntblab::model {

enum class Topology { BackToBack, Fabric };

struct ClusterNodeConfig {
  std::string name;
  pcie::LinkParams host_link;   ///< root complex ↔ the node's switch
  pcie::LinkParams nt_link;     ///< the NT port's link: the cable, or the fabric port
  unsigned fabric_port = 0;     ///< fabric topology: the fabric switch port it joins
  NtEndpointConfig nt;          ///< the NT port (BARs, A-LUT, port number)
  bool dma = true;              ///< the switch's DMA function (10b5:87d0) is present
};

struct ClusterConfig {
  Topology topology = Topology::BackToBack;
  std::vector<ClusterNodeConfig> nodes;
  /// Cut-through latency of each switch crossed (each node's PEX87xx, and the
  /// fabric switch), ns. PEX8749 product brief: 126 ns x16 to x16.
  double hop_latency_ns = pcie::kPex8749HopLatencyNs;
  /// Throws ConfigError naming the field, e.g. "nodes[2].fabric_port".
  void validate() const;
};

/// Which PCI function of a node's switch a host access targets.
enum class Function : unsigned { Nt = 0, Dma = 1 };

/// The outcome of one host access.
struct HostAccess {
  bool ok = false;         ///< false: unsupported request (a read returns all ones)
  uint64_t data = 0;       ///< read data (little-endian, low `len` bytes)
  double latency_ns = 0;   ///< modelled: issue → completion (read) or data landed (write)
};

class Cluster : public sc_core::sc_module {
 public:
  Cluster(sc_core::sc_module_name name, const ClusterConfig& config);
  ~Cluster() override;

  const ClusterConfig& config() const { return config_; }
  size_t size() const { return config_.nodes.size(); }

  /// The node's RAM as its root complex sees it; nullptr detaches the host (its
  /// QEMU went away): requests into it are refused and its NT link goes down.
  void attach_memory(unsigned node, HostMemory* ram);
  bool attached(unsigned node) const;

  // ---- host accesses to the node's functions (what the QEMU device forwards) ----
  uint32_t cfg_read(unsigned node, Function fn, uint32_t off, unsigned len);
  void cfg_write(unsigned node, Function fn, uint32_t off, unsigned len, uint32_t value);
  /// Address of a BAR as the host programmed it (0 if unassigned).
  uint64_t bar_address(unsigned node, Function fn, unsigned bar) const;
  HostAccess mmio_read(unsigned node, Function fn, unsigned bar, uint64_t off, unsigned len);
  HostAccess mmio_write(unsigned node, Function fn, unsigned bar, uint64_t off, const void* data,
                        unsigned len);

  // ---- raw host-physical accesses (benchmarks, studies) ----
  HostAccess host_read(unsigned node, uint64_t addr, void* data, unsigned len);
  /// A posted write; `bulk` marks a burst (many TLPs) such as a memcpy.
  HostAccess host_write(unsigned node, uint64_t addr, const void* data, uint64_t len, bool bulk);

  /// INTx level of a node's function changed; `time_ns` is the modelled time
  /// of the change, or negative when the component does not time it (the NT
  /// port's doorbells: the change happens as the access that causes it lands).
  std::function<void(unsigned node, Function fn, bool level, double time_ns)> on_irq;

  /// Base time for host-initiated transactions, ns (the switch process gives
  /// wall-clock time since start; default: each node's local time only).
  void set_time_source(std::function<double()> now_ns) { time_source_ = std::move(now_ns); }
  /// Latest modelled time any node has reached, ns.
  double now_ns() const;

  NtEndpoint& nt(unsigned node);
  DmaEngine* dma(unsigned node);

  /// Bound the work a DMA START (or run_dma()) does in one call; see
  /// DmaConfig::slice_descriptors. 0, 0 (the default): a START runs to the end.
  void set_dma_slice(uint32_t descriptors, uint64_t bytes);
  /// Run one more slice of every DMA channel still running; true if some
  /// channel is still running afterwards.
  bool run_dma();

  /// Statistics of every component, as JSON (stable keys; see docs).
  nlohmann::json stats() const;

 private:
  struct Node;
  class Router;
  double start_time(unsigned node) const;
  HostAccess host_transport(unsigned node, tlm::tlm_command cmd, uint64_t addr, void* data,
                            uint64_t len, bool bulk);
  void update_partners();

  ClusterConfig config_;
  std::vector<std::unique_ptr<Node>> nodes_;
  struct Fabric;
  std::unique_ptr<Fabric> fabric_;
  std::function<double()> time_source_;
};

}  // namespace ntblab::model
