// SPDX-License-Identifier: GPL-2.0-only
// ntblab.SwitchModel: the SystemC model itself (two nodes whose PEX8749 NT
// ports are cabled back to back, programmed like a public PLX driver does),
// driven from Python. SystemC elaborates once per process, so one SwitchModel
// per process; sweeps over generations and widths use ntblab.timing.Path, which
// runs the same equations without SystemC.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <systemc>
#include <vector>

#include "ntblab/model/support/b2b_setup.h"
#include "ntblab/model/cluster.h"
#include "register.h"

// libsystemc expects the program to define sc_main; Python is the program here.
extern "C" __attribute__((visibility("default"))) int sc_main(int, char**) { return 0; }

namespace py = pybind11;
using namespace ntblab::model;

namespace {

bool g_built = false;

class SwitchModel {
 public:
  SwitchModel(unsigned gen, unsigned width, double hop_latency_ns, unsigned max_payload) {
    if (g_built)
      throw std::runtime_error(
          "one SwitchModel per process (SystemC elaborates once); use ntblab.timing.Path for sweeps");
    ClusterConfig cfg;
    cfg.hop_latency_ns = hop_latency_ns;
    for (int i = 0; i < 2; ++i) {
      ClusterNodeConfig n;
      n.name = "node" + std::to_string(i);
      n.host_link.generation = n.nt_link.generation = n.nt.link_gen = gen;
      n.host_link.width = n.nt_link.width = n.nt.link_width = width;
      n.host_link.max_payload = n.nt_link.max_payload = max_payload;
      cfg.nodes.push_back(n);
    }
    g_built = true;  // even if the constructor throws below: SystemC state is spent
    cluster_ = std::make_unique<Cluster>("python_cluster", cfg);
    sc_core::sc_start(sc_core::SC_ZERO_TIME);
    for (unsigned i = 0; i < 2; ++i) {
      ram_[i] = std::make_unique<VectorMemory>(64ull << 20);
      cluster_->attach_memory(i, ram_[i].get());
      lab::setup_b2b(*cluster_, i, layout_);
    }
    lab::reg_write(*cluster_, 1, lab::kNt0Virtual + 0xC58, 0xFFFF);  // node1 unmasks doorbells
    drain();
  }

  /// node0 writes `bytes` through its window into node1's RAM (link idle first).
  py::dict write(uint64_t bytes) {
    check(bytes, 16ull << 20);
    drain();
    std::vector<uint8_t> buf(bytes, 0xA5);
    HostAccess w = cluster_->host_write(0, layout_.bar2, buf.data(), bytes, bytes > 8);
    return result(w);
  }
  /// node0 reads `bytes` (1..8) from node1's RAM through its window.
  py::dict read(unsigned bytes) {
    check(bytes, 8);
    drain();
    uint64_t v = 0;
    return result(cluster_->host_read(0, layout_.bar2, &v, bytes));
  }
  /// node0 rings node1's doorbell through the peer's registers.
  py::dict doorbell() {
    drain();
    uint32_t bit = 1;
    HostAccess w = cluster_->host_write(0, layout_.bar4 + lab::kNt0Virtual + 0xC4C, &bit, 4, false);
    lab::reg_write(*cluster_, 1, lab::kNt0Virtual + 0xC50, bit);
    return result(w);
  }
  /// A stream of `total` bytes in `chunk`-byte posted writes: modelled throughput.
  py::dict stream(uint64_t total, uint64_t chunk) {
    check(chunk, 16ull << 20);
    drain();
    std::vector<uint8_t> buf(chunk, 0x5A);
    const double t0 = cluster_->now_ns();
    for (uint64_t done = 0; done < total; done += chunk)
      cluster_->host_write(0, layout_.bar2 + done % (8ull << 20), buf.data(), std::min(chunk, total - done), true);
    drain();
    const double ns = cluster_->now_ns() - t0;
    py::dict d;
    d["modelled_ns"] = ns;
    d["gbytes_per_s"] = ns > 0 ? double(total) / ns : 0.0;
    return d;
  }
  /// Every component's statistics, as nested dicts.
  py::object stats() {
    return py::module_::import("json").attr("loads")(cluster_->stats().dump());
  }

 private:
  static void check(uint64_t v, uint64_t max) {
    if (v == 0 || v > max) throw std::invalid_argument("size must be 1.." + std::to_string(max));
  }
  void drain() {
    uint32_t v;
    cluster_->host_read(0, layout_.bar0, &v, 4);  // waits behind everything posted before
  }
  static py::dict result(const HostAccess& a) {
    py::dict d;
    d["ok"] = a.ok;
    d["latency_ns"] = a.latency_ns;
    return d;
  }
  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<VectorMemory> ram_[2];
  lab::B2bLayout layout_;
};

}  // namespace

namespace ntblab::python {

void register_switch_model(py::module_& m) {
  py::class_<SwitchModel>(m, "SwitchModel",
                          "The SystemC model: two PEX8749 NT ports back to back (one per process).")
      .def(py::init<unsigned, unsigned, double, unsigned>(), py::arg("gen") = 3, py::arg("width") = 8,
           py::arg("hop_latency_ns") = 126.0, py::arg("max_payload") = 256)
      .def("write", &SwitchModel::write, py::arg("bytes"), "posted write through the window: latency")
      .def("read", &SwitchModel::read, py::arg("bytes") = 4, "read through the window: round trip")
      .def("doorbell", &SwitchModel::doorbell, "ring the peer's doorbell: latency")
      .def("stream", &SwitchModel::stream, py::arg("total"), py::arg("chunk") = 65536,
           "posted-write stream: modelled throughput")
      .def("stats", &SwitchModel::stats, "every component's statistics");
}

}  // namespace ntblab::python
