// SPDX-License-Identifier: GPL-2.0-only
#include "model_backend.h"

#include <cstring>

#include "ntblab/model/dma.h"

namespace ntblab::sw {

using model::Function;

namespace {
// A DMA run works in slices between which the server serves every other link
// (docs/node-link-protocol.md, "What the switch refuses"). A slice stops after
// this many descriptors, or once this many bytes were copied, inside a
// descriptor if need be (a few ms of work). Rings of ordinary size finish
// inside the START write, as before.
constexpr uint32_t kDmaSliceDescriptors = 4096;
constexpr uint64_t kDmaSliceBytes = 4u << 20;
}  // namespace

ModelBackend::ModelBackend(model::Cluster& cluster, std::vector<LinkTarget> links)
    : cluster_(cluster), links_(std::move(links)), node_ram_(cluster.size()),
      link_up_(links_.size(), false), start_(std::chrono::steady_clock::now()) {
  cluster_.set_time_source([this] { return wall_ns(); });
  cluster_.set_dma_slice(kDmaSliceDescriptors, kDmaSliceBytes);
  cluster_.on_irq = [this](unsigned node, Function fn, bool level, double time_ns) {
    int l = link_of(node, fn);
    if (l < 0) return;
    if (irq_sink) irq_sink(unsigned(l), level, time_ns);
    else if (server_) server_->send_irq(unsigned(l), level);
  };
}

double ModelBackend::wall_ns() const {
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start_).count();
}

uint64_t ModelBackend::now_ns() const { return uint64_t(cluster_.now_ns()); }

bool ModelBackend::run_slice() { return cluster_.run_dma(); }

int ModelBackend::link_of(unsigned node, Function fn) const {
  for (size_t i = 0; i < links_.size(); ++i)
    if (links_[i].node == node && links_[i].fn == fn && link_up_[i]) return int(i);
  return -1;
}

nl_welcome ModelBackend::describe(unsigned link) const {
  const LinkTarget& t = links_[link];
  auto& c = const_cast<model::Cluster&>(cluster_);
  nl_welcome w{};
  w.magic = NL_MAGIC;
  w.version = NL_VERSION;
  w.node_index = t.node;
  w.vendor_id = uint16_t(c.cfg_read(t.node, t.fn, 0x00, 2));
  w.device_id = uint16_t(c.cfg_read(t.node, t.fn, 0x02, 2));
  w.class_code = c.cfg_read(t.node, t.fn, 0x08, 4) >> 8;
  if (t.fn == Function::Nt) {
    const model::NtEndpointConfig& nt = cluster_.config().nodes[t.node].nt;
    w.bar[0] = {256 * 1024, nt.bar0_64bit ? NL_BAR_MEM64 : 0u, 0};
    for (unsigned b = 2; b < 6; ++b) {
      const model::NtBarConfig& bc = nt.bar[b];
      if (!bc.size) continue;
      w.bar[b] = {bc.size, (bc.is64 ? NL_BAR_MEM64 : 0u) | (bc.prefetchable ? NL_BAR_PREFETCH : 0u), 0};
    }
  } else {
    w.bar[0] = {model::dma::kBar0Size, 0, 0};
  }
  return w;
}

std::optional<nl_welcome> ModelBackend::attach(unsigned link, const nl_hello& hello,
                                               std::unique_ptr<GuestRam> ram, std::string& reject) {
  const LinkTarget& t = links_.at(link);
  if (t.fn == Function::Dma && !cluster_.dma(t.node)) {
    reject = "this node's switch has no DMA function";
    return std::nullopt;
  }
  if (hello.n_ram == 0 && !node_ram_[t.node]) {
    reject = "the first function of a node must share the guest's RAM";
    return std::nullopt;
  }
  if (hello.n_ram > 0) {
    node_ram_[t.node] = std::shared_ptr<GuestRam>(std::move(ram));
    model::HostMemory* mem = node_ram_[t.node].get();
    if (wrap_ram) mem = wrap_ram(t.node, node_ram_[t.node].get());
    cluster_.attach_memory(t.node, mem);
  }
  link_up_[link] = true;
  return describe(link);
}

void ModelBackend::detach(unsigned link) {
  const LinkTarget& t = links_.at(link);
  link_up_[link] = false;
  for (size_t i = 0; i < links_.size(); ++i)
    if (links_[i].node == t.node && link_up_[i]) return;  // another function still holds the node
  cluster_.attach_memory(t.node, nullptr);  // the host is gone: its link goes down
  node_ram_[t.node].reset();
}

uint32_t ModelBackend::cfg_read(unsigned link, uint32_t offset, uint32_t size) {
  const LinkTarget& t = links_.at(link);
  return cluster_.cfg_read(t.node, t.fn, offset, size);
}

void ModelBackend::cfg_write(unsigned link, uint32_t offset, uint32_t size, uint32_t value) {
  const LinkTarget& t = links_.at(link);
  cluster_.cfg_write(t.node, t.fn, offset, size, value);
}

bool ModelBackend::mmio_read(unsigned link, unsigned bar, uint64_t offset, uint32_t size, uint64_t& data) {
  const LinkTarget& t = links_.at(link);
  model::HostAccess r = cluster_.mmio_read(t.node, t.fn, bar, offset, size);
  data = r.data;
  last_latency_ns_ = r.latency_ns;
  return r.ok;
}

void ModelBackend::mmio_write(unsigned link, unsigned bar, uint64_t offset, const uint8_t* data, uint32_t size) {
  const LinkTarget& t = links_.at(link);
  last_latency_ns_ = cluster_.mmio_write(t.node, t.fn, bar, offset, data, size).latency_ns;
}

}  // namespace ntblab::sw
