// SPDX-License-Identifier: GPL-2.0-only
// ntblab.timing: PCIe link arithmetic and the analytic path model, the same code
// the SystemC fabric uses (systemc-model/src/timing/pcie.cpp, path.cpp).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <string>
#include <vector>

#include "ntblab/model/config_error.h"
#include "ntblab/model/path.h"
#include "ntblab/model/pcie.h"
#include "register.h"

namespace py = pybind11;
using namespace ntblab::model;
using namespace ntblab::model::pcie;

namespace {

unsigned as_unsigned(const py::handle& v, const std::string& field) {
  const long long x = v.cast<long long>();
  if (x < 0) throw ConfigError(field, std::to_string(x) + " is negative");
  if (x > 0xFFFFFFFFLL) throw ConfigError(field, std::to_string(x) + " is too large");
  return unsigned(x);
}

int64_t as_size(long long v, const char* field) {
  if (v < 0) throw ConfigError(field, std::to_string(v) + " is negative");
  return int64_t(v);
}

const char* const kLinkKeys =
    "generation, width, max_payload, max_read_request, read_completion_boundary, "
    "header_bytes, ecrc, tlps_per_ack, tlps_per_update_fc, skp, propagation_ns, "
    "update_fc_latency_ns, posted_header_credits, posted_data_credits, "
    "nonposted_header_credits, nonposted_data_credits, completion_header_credits, "
    "completion_data_credits";

/// Apply keyword arguments to LinkParams; unknown keys are a ConfigError.
void apply(LinkParams& p, const py::dict& kw) {
  for (const auto& item : kw) {
    const std::string k = py::str(item.first);
    const py::handle v = item.second;
    if (k == "generation") p.generation = as_unsigned(v, k);
    else if (k == "width") p.width = as_unsigned(v, k);
    else if (k == "max_payload") p.max_payload = as_unsigned(v, k);
    else if (k == "max_read_request") p.max_read_request = as_unsigned(v, k);
    else if (k == "read_completion_boundary") p.read_completion_boundary = as_unsigned(v, k);
    else if (k == "header_bytes") p.header_bytes = as_unsigned(v, k);
    else if (k == "ecrc") p.ecrc = v.cast<bool>();
    else if (k == "tlps_per_ack") p.dllp.tlps_per_ack = as_unsigned(v, k);
    else if (k == "tlps_per_update_fc") p.dllp.tlps_per_update_fc = as_unsigned(v, k);
    else if (k == "skp") p.dllp.skp = v.cast<bool>();
    else if (k == "propagation_ns") p.propagation_ns = v.cast<double>();
    else if (k == "update_fc_latency_ns") p.update_fc_latency_ns = v.cast<double>();
    else if (k == "posted_header_credits") p.credits.posted_header = as_unsigned(v, k);
    else if (k == "posted_data_credits") p.credits.posted_data = as_unsigned(v, k);
    else if (k == "nonposted_header_credits") p.credits.nonposted_header = as_unsigned(v, k);
    else if (k == "nonposted_data_credits") p.credits.nonposted_data = as_unsigned(v, k);
    else if (k == "completion_header_credits") p.credits.completion_header = as_unsigned(v, k);
    else if (k == "completion_data_credits") p.credits.completion_data = as_unsigned(v, k);
    else throw ConfigError(k, std::string("unknown link parameter; known: ") + kLinkKeys);
  }
}

LinkParams params_from(const py::dict& kw) {
  LinkParams p;
  apply(p, kw);
  p.validate();
  return p;
}

py::dict params_dict(const LinkParams& p) {
  py::dict d;
  d["generation"] = p.generation;
  d["width"] = p.width;
  d["max_payload"] = p.max_payload;
  d["max_read_request"] = p.max_read_request;
  d["read_completion_boundary"] = p.read_completion_boundary;
  d["header_bytes"] = p.header_bytes;
  d["ecrc"] = p.ecrc;
  d["tlps_per_ack"] = p.dllp.tlps_per_ack;
  d["tlps_per_update_fc"] = p.dllp.tlps_per_update_fc;
  d["skp"] = p.dllp.skp;
  d["propagation_ns"] = p.propagation_ns;
  d["update_fc_latency_ns"] = p.update_fc_latency_ns;
  d["posted_header_credits"] = p.credits.posted_header;
  d["posted_data_credits"] = p.credits.posted_data;
  d["nonposted_header_credits"] = p.credits.nonposted_header;
  d["nonposted_data_credits"] = p.credits.nonposted_data;
  d["completion_header_credits"] = p.credits.completion_header;
  d["completion_data_credits"] = p.credits.completion_data;
  return d;
}

py::dict train_dict(const TlpTrain& t) {
  py::dict d;
  d["tlps"] = t.tlps;
  d["payload_bytes"] = t.payload_bytes;
  d["wire_bytes"] = t.wire_bytes;
  d["first_ns"] = t.first_ns;
  d["last_ns"] = t.last_ns;
  d["span_ns"] = t.span_ns;
  d["occupancy_ns"] = t.occupancy_ns;
  d["wire_ns"] = t.wire_ns;
  return d;
}

py::dict timing_dict(const PathTiming& t) {
  py::dict d;
  d["latency_ns"] = t.latency_ns;
  d["tlps"] = t.tlps;
  d["payload_bytes"] = t.payload_bytes;
  d["throughput_gbytes_per_s"] = t.throughput_gbytes_per_s();
  return d;
}

TlpClass tlp_class(const std::string& s) {
  if (s == "posted") return TlpClass::Posted;
  if (s == "nonposted") return TlpClass::NonPosted;
  if (s == "completion") return TlpClass::Completion;
  throw ConfigError("cls", "'" + s + "' is not posted, nonposted or completion");
}

/// The smallest legal max payload size that carries `payload` in one TLP.
unsigned mps_for(int64_t payload) {
  unsigned mps = kMinMaxPayload;
  while (mps < payload && mps < kMaxMaxPayload) mps *= 2;
  if (payload > mps)
    throw ConfigError("payloads", std::to_string(payload) + " B exceeds the largest MPS (2048)");
  return mps;
}

std::vector<LinkParams> links_from(const py::iterable& links) {
  std::vector<LinkParams> v;
  for (const auto& l : links) {
    if (py::isinstance<LinkMath>(l)) v.push_back(l.cast<const LinkMath&>().params());
    else if (py::isinstance<py::dict>(l)) v.push_back(params_from(l.cast<py::dict>()));
    else throw ConfigError("links", "each link is a Link or a dict of link parameters");
  }
  return v;
}

}  // namespace

namespace ntblab::python {

void register_timing(py::module_& parent) {
  py::module_ m = parent.def_submodule(
      "timing", "PCIe link arithmetic and path latency (the equations the SystemC model uses)");

  m.attr("PEX8749_HOP_LATENCY_NS") = kPex8749HopLatencyNs;
  m.attr("HEADER_3DW") = kHeader3DWBytes;
  m.attr("HEADER_4DW") = kHeader4DWBytes;
  m.attr("TLP_ENVELOPE_BYTES") = kTlpEnvelopeBytes;
  m.attr("DLLP_BYTES") = kDllpBytes;
  m.attr("CREDIT_UNIT_BYTES") = kCreditUnitBytes;
  m.attr("LINK_PARAMETERS") = std::string(kLinkKeys);

  m.def("raw_gbps", &raw_gbps, py::arg("generation"), py::arg("width"),
        "Raw line rate, Gbps = GT/s × lanes (the seed paper's Table 2).");
  m.def("data_gbps", &data_gbps, py::arg("generation"), py::arg("width"),
        "Bit rate after 8b/10b or 128b/130b encoding, Gbps.");
  m.def("generation_info", [](unsigned g) {
    const GenerationInfo& i = generation_info(g);
    py::dict d;
    d["generation"] = i.generation;
    d["gigatransfers"] = i.gigatransfers;
    d["encoding"] = i.encoding;
    d["payload_bits"] = i.payload_bits;
    d["line_bits"] = i.line_bits;
    return d;
  }, py::arg("generation"));

  py::class_<LinkMath>(m, "Link", "One PCIe link; keyword arguments as in LINK_PARAMETERS.")
      .def(py::init([](py::kwargs kw) { return LinkMath(params_from(kw)); }))
      .def_property_readonly("params", [](const LinkMath& l) { return params_dict(l.params()); })
      .def("raw_gbps", &LinkMath::raw_gbps)
      .def("data_gbps", &LinkMath::data_gbps)
      .def_property_readonly("byte_ns", &LinkMath::byte_ns)
      .def_property_readonly("skp_factor", &LinkMath::skp_factor)
      .def_property_readonly("dllp_bytes_per_tlp", &LinkMath::dllp_bytes_per_tlp)
      .def("tlp_wire_bytes",
           [](const LinkMath& l, long long payload, py::object header) {
             return header.is_none()
                        ? l.tlp_wire_bytes(as_size(payload, "payload"))
                        : l.tlp_wire_bytes(as_size(payload, "payload"), header.cast<unsigned>());
           },
           py::arg("payload"), py::arg("header_bytes") = py::none())
      .def("tlp_time_ns", &LinkMath::tlp_time_ns, py::arg("payload"))
      .def("tlp_slot_ns", &LinkMath::tlp_slot_ns, py::arg("payload"))
      .def("efficiency", &LinkMath::efficiency, py::arg("payload"))
      .def("payload_gbytes_per_s", &LinkMath::payload_gbytes_per_s, py::arg("payload"))
      .def("credit_window",
           [](const LinkMath& l, long long payload, const std::string& cls) {
             return l.credit_window(tlp_class(cls), as_size(payload, "payload"));
           },
           py::arg("payload"), py::arg("cls") = "posted")
      .def("credit_round_trip_ns", &LinkMath::credit_round_trip_ns, py::arg("payload"))
      .def("stream_gbytes_per_s",
           [](const LinkMath& l, long long payload, const std::string& cls) {
             return l.stream_gbytes_per_s(tlp_class(cls), as_size(payload, "payload"));
           },
           py::arg("payload"), py::arg("cls") = "posted")
      .def("transfer_time_ns", &LinkMath::transfer_time_ns, py::arg("bytes"))
      .def("write_train",
           [](const LinkMath& l, long long bytes, uint64_t addr) {
             return train_dict(l.write_train(addr, uint64_t(as_size(bytes, "bytes"))));
           },
           py::arg("bytes"), py::arg("addr") = 0)
      .def("completion_train",
           [](const LinkMath& l, long long bytes, uint64_t addr) {
             return train_dict(l.completion_train(addr, uint64_t(as_size(bytes, "bytes"))));
           },
           py::arg("bytes"), py::arg("addr") = 0)
      .def("__repr__", [](const LinkMath& l) {
        return "<ntblab.timing.Link Gen" + std::to_string(l.params().generation) + " x" +
               std::to_string(l.params().width) + " MPS " +
               std::to_string(l.params().max_payload) + ">";
      });

  py::class_<PathModel>(m, "Path",
                        "links[0], switch hop, links[1], ...: the FabricSwitch's equations "
                        "without contention.")
      .def(py::init([](const py::iterable& links, double hop, double target) {
             return PathModel(links_from(links), hop, target);
           }),
           py::arg("links"), py::arg("hop_latency_ns") = kPex8749HopLatencyNs,
           py::arg("target_latency_ns") = 0.0)
      .def_static("uniform",
                  [](const LinkMath& link, long long hops, double hop, double target) {
                    if (hops < 0) throw ConfigError("hops", std::to_string(hops) + " is negative");
                    return PathModel::uniform(link.params(), unsigned(hops), hop, target);
                  },
                  py::arg("link"), py::arg("hops"),
                  py::arg("hop_latency_ns") = kPex8749HopLatencyNs,
                  py::arg("target_latency_ns") = 0.0)
      .def_property_readonly("hops", &PathModel::hops)
      .def("write",
           [](const PathModel& p, long long bytes, uint64_t addr) {
             return timing_dict(p.write(bytes, addr));
           },
           py::arg("bytes"), py::arg("addr") = 0,
           "Posted write: time until the last byte has landed, ns.")
      .def("read",
           [](const PathModel& p, long long bytes, uint64_t addr) {
             return timing_dict(p.read(bytes, addr));
           },
           py::arg("bytes"), py::arg("addr") = 0,
           "Read: requests out, target latency, completions back, ns.")
      .def("write_stream_gbytes_per_s", &PathModel::write_stream_gbytes_per_s);

  m.def(
      "sweep",
      [](std::vector<unsigned> generations, std::vector<unsigned> widths,
         std::vector<long long> payloads, std::vector<unsigned> header_bytes,
         std::vector<long long> hops, double hop_latency_ns, py::kwargs kw) {
        py::list rows;
        for (unsigned g : generations)
          for (unsigned w : widths)
            for (long long payload : payloads)
              for (unsigned h : header_bytes)
                for (long long n : hops) {
                  const int64_t pl = as_size(payload, "payloads");
                  if (n < 0) throw ConfigError("hops", std::to_string(n) + " is negative");
                  LinkParams p;
                  p.max_payload = mps_for(pl);
                  apply(p, kw);
                  p.generation = g;
                  p.width = w;
                  p.header_bytes = h;
                  const LinkMath link(p);
                  const PathModel path = PathModel::uniform(p, unsigned(n), hop_latency_ns);
                  py::dict r;
                  r["generation"] = g;
                  r["width"] = w;
                  r["payload"] = pl;
                  r["header_bytes"] = h;
                  r["hops"] = n;
                  r["max_payload"] = p.max_payload;
                  r["raw_gbps"] = link.raw_gbps();
                  r["tlp_wire_bytes"] = link.tlp_wire_bytes(pl);
                  r["efficiency"] = link.efficiency(pl);
                  r["throughput_gbytes_per_s"] = link.stream_gbytes_per_s(TlpClass::Posted, pl);
                  r["write_latency_ns"] = path.write(pl).latency_ns;
                  r["read_latency_ns"] = path.read(pl).latency_ns;
                  rows.append(r);
                }
        return rows;
      },
      py::arg("generations") = std::vector<unsigned>{1, 2, 3, 4},
      py::arg("widths") = std::vector<unsigned>{1, 2, 4, 8, 16},
      py::arg("payloads") = std::vector<long long>{256},
      py::arg("header_bytes") = std::vector<unsigned>{kHeader3DWBytes},
      py::arg("hops") = std::vector<long long>{1},
      py::arg("hop_latency_ns") = kPex8749HopLatencyNs,
      "One row per combination: raw rate, efficiency, stream throughput (GB/s) and the\n"
      "latency of one TLP-sized write and read across `hops` switches. Each row's MPS is\n"
      "the smallest legal one that carries `payload`; other link parameters as keywords.");
}

}  // namespace ntblab::python
