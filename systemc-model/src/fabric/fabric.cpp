// SPDX-License-Identifier: GPL-2.0-only
// FabricSwitch: the PEX8749 fabric (see fabric.h).
#include "ntblab/model/fabric.h"

#include <cmath>

#include "ntblab/model/config_error.h"
#include "../timing/train_transport.h"

namespace ntblab::model {

const char* to_string(PortRole r) {
  switch (r) {
    case PortRole::Upstream: return "upstream";
    case PortRole::Downstream: return "downstream";
    case PortRole::NonTransparent: return "nt";
  }
  return "?";
}

void SwitchConfig::validate() const {
  if (ports.empty()) throw ConfigError("ports", "a switch needs at least one port");
  if (ports.size() > max_ports)
    throw ConfigError("ports", std::to_string(ports.size()) + " ports, the chip has " +
                                   std::to_string(max_ports));
  if (!(hop_latency_ns >= 0) || !std::isfinite(hop_latency_ns))
    throw ConfigError("hop_latency_ns", std::to_string(hop_latency_ns) +
                                            " is not a finite time >= 0");
  unsigned lanes_used = 0, nt = 0, upstream = 0;
  for (size_t i = 0; i < ports.size(); ++i) {
    const std::string name = "ports[" + std::to_string(i) + "]";
    ports[i].validate(name);
    lanes_used = add_lanes(lanes_used, ports[i].width, name + ".width", lanes);
    if (ports[i].role == PortRole::NonTransparent && ++nt > max_nt_ports)
      throw ConfigError(name + ".role", "NT port number " + std::to_string(nt) + ", at most " +
                                            std::to_string(max_nt_ports) + " may be non-transparent");
    if (ports[i].role == PortRole::Upstream && ++upstream > 1 && single_upstream)
      throw ConfigError(name + ".role",
                        "second upstream port; a transparent switch has exactly one "
                        "(set single_upstream = false for multi-host or NT-only fabrics)");
  }
  if (single_upstream && upstream == 0)
    throw ConfigError("ports", "no upstream port; a transparent switch has exactly one "
                               "(set single_upstream = false for NT-only fabrics)");
}

FabricSwitch::FabricSwitch(sc_core::sc_module_name name, const SwitchConfig& config)
    : sc_module(name), cfg_(config), ns_per_unit_(timing_detail::ns_per_sc_unit()) {
  cfg_.validate();
  ports_.reserve(cfg_.ports.size());
  for (size_t i = 0; i < cfg_.ports.size(); ++i) {
    ports_.push_back(Port{pcie::LinkMath(cfg_.ports[i]), {}, {}, {}, {}, 0, 0});
    if (upstream_ < 0 && cfg_.ports[i].role == PortRole::Upstream) upstream_ = int(i);
  }
  in.init(cfg_.ports.size());
  out.init(cfg_.ports.size());
  for (size_t i = 0; i < cfg_.ports.size(); ++i) {
    in[i].register_b_transport(this, &FabricSwitch::b_transport, int(i));
    in[i].register_transport_dbg(this, &FabricSwitch::transport_dbg, int(i));
  }
}

void FabricSwitch::check_port(unsigned port) const {
  if (port >= ports_.size())
    throw ConfigError("port", std::to_string(port) + " is not a port of this switch (0.." +
                                  std::to_string(ports_.size() - 1) + ")");
}

const pcie::LinkMath& FabricSwitch::link(unsigned port) const {
  check_port(port);
  return ports_[port].math;
}

void FabricSwitch::set_windows(unsigned port, std::vector<AddressWindow> windows) {
  check_port(port);
  for (size_t i = 0; i < windows.size(); ++i)
    if (windows[i].limit <= windows[i].base)
      throw ConfigError("windows[" + std::to_string(i) + "]", "limit must be above base");
  ports_[port].windows = std::move(windows);
}

void FabricSwitch::add_window(unsigned port, AddressWindow window) {
  check_port(port);
  if (window.limit <= window.base) throw ConfigError("window", "limit must be above base");
  ports_[port].windows.push_back(window);
}

void FabricSwitch::clear_windows(unsigned port) {
  check_port(port);
  ports_[port].windows.clear();
}

void FabricSwitch::set_route(unsigned port, std::function<bool(uint64_t)> claims) {
  check_port(port);
  ports_[port].claims = std::move(claims);
}

int FabricSwitch::route(unsigned from_port, uint64_t addr) const {
  for (size_t q = 0; q < ports_.size(); ++q) {
    if (cfg_.ports[q].role == PortRole::Upstream) continue;
    const Port& port = ports_[q];
    bool hit = false;
    for (const auto& w : port.windows)
      if (w.contains(addr)) { hit = true; break; }
    if (!hit && port.claims) hit = port.claims(addr);
    if (hit) return q == from_port ? -1 : int(q);  // never back out where it came from
  }
  if (upstream_ >= 0 && unsigned(upstream_) != from_port) return upstream_;
  return -1;
}

void FabricSwitch::b_transport(int p, tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  using timing_detail::Stage;
  Port& in_port = ports_[p];
  const int q = route(unsigned(p), gp.get_address());
  if (q < 0 || out[q].size() == 0) {  // unclaimed, or nothing bound behind the port: UR
    ++in_port.refusals;
    gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return;
  }
  Port& out_port = ports_[q];
  const double hop = cfg_.hop_latency_ns;
  const Stage req[2] = {
      {&in_port.math, &in_port.wire_in, 0.0, !cfg_.ports[p].ingress_modelled_by_partner},
      {&out_port.math, &out_port.wire_out, hop, true}};
  const Stage cpl[2] = {
      {&out_port.math, &out_port.wire_in, 0.0, !cfg_.ports[q].ingress_modelled_by_partner},
      {&in_port.math, &in_port.wire_out, hop, true}};
  auto& sock = out[q];
  const bool ok = timing_detail::carry(gp, delay, ns_per_unit_, req, 2, cpl, 2,
                                       [&](tlm::tlm_generic_payload& g, sc_core::sc_time& d) {
                                         sock->b_transport(g, d);
                                       });
  if (!ok) ++out_port.errors;
}

unsigned int FabricSwitch::transport_dbg(int p, tlm::tlm_generic_payload& gp) {
  const int q = route(unsigned(p), gp.get_address());
  if (q < 0 || out[q].size() == 0) return 0;
  return out[q]->transport_dbg(gp);
}

PortStats FabricSwitch::stats(unsigned port) const {
  check_port(port);
  const Port& s = ports_[port];
  PortStats r;
  r.tlps_in = s.wire_in.tlps;
  r.tlps_out = s.wire_out.tlps;
  r.bytes_in = s.wire_in.payload_bytes;
  r.bytes_out = s.wire_out.payload_bytes;
  r.transactions_in = s.wire_in.transactions;
  r.transactions_out = s.wire_out.transactions;
  r.refusals = s.refusals;
  r.errors_from_target = s.errors;
  r.busy_in_ns = s.wire_in.busy_ns;
  r.busy_out_ns = s.wire_out.busy_ns;
  return r;
}

std::vector<PortStats> FabricSwitch::stats() const {
  std::vector<PortStats> v;
  for (unsigned i = 0; i < ports_.size(); ++i) v.push_back(stats(i));
  return v;
}

}  // namespace ntblab::model
