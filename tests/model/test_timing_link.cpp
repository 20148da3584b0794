// SPDX-License-Identifier: GPL-2.0-only
// PcieLink: serialization, contention per direction, reads, credit throttling.
#include <gtest/gtest.h>

#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>

#include "ntblab/model/config_error.h"
#include "ntblab/model/link.h"
#include "ntblab/model/memory.h"
#include "ntblab/model/tlp.h"

using namespace ntblab::model;
using sc_core::sc_time;
using sc_core::SC_NS;

namespace {

constexpr uint64_t kMemSize = 4 << 20;
constexpr double kGen3x8BytesPerNs = 8 * 8.0 * 128 / 130 / 8;

struct Requester : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Requester> socket;
  std::vector<uint8_t> buf = std::vector<uint8_t>(1 << 20, 0x5A);
  explicit Requester(sc_core::sc_module_name n) : sc_module(n), socket("socket") {}
  double access(tlm::tlm_command cmd, uint64_t addr, unsigned len, double at_ns = 0) {
    tlm::tlm_generic_payload gp;
    make_request(gp, cmd, addr, buf.data(), len);
    sc_time delay(at_ns, SC_NS);
    socket->b_transport(gp, delay);
    EXPECT_EQ(gp.get_response_status(), tlm::TLM_OK_RESPONSE);
    return delay.to_seconds() * 1e9;
  }
};

struct LinkBench {
  VectorMemory ram{kMemSize};
  PcieLink link;
  MemoryTarget mem{"mem", ram};
  Requester req{"req"};
  explicit LinkBench(const pcie::LinkParams& p) : link("link", p) {
    req.socket.bind(link.a_in);
    link.b_out.bind(mem.socket);
    sc_core::sc_start(sc_core::SC_ZERO_TIME);
  }
  /// Stream `bytes` as 4 KiB posted writes issued at time 0; payload GB/s.
  double stream(uint64_t bytes) {
    double last = 0;
    for (uint64_t off = 0; off < bytes; off += 4096)
      last = req.access(tlm::TLM_WRITE_COMMAND, off % kMemSize, 4096);
    return double(bytes) / last;
  }
};

pcie::LinkParams gen3x8() {
  pcie::LinkParams p;
  p.generation = 3;
  p.width = 8;
  p.propagation_ns = 5.0;
  p.update_fc_latency_ns = 100.0;
  return p;
}

}  // namespace

TEST(LinkTiming, SingleWriteAndRead) {
  LinkBench b(gen3x8());
  const double w = b.req.access(tlm::TLM_WRITE_COMMAND, 0x100, 64);
  EXPECT_NEAR(w, (8 + 12 + 64) / kGen3x8BytesPerNs + 5.0, 0.002);
  const double r = b.req.access(tlm::TLM_READ_COMMAND, 0x100, 64, 1000) - 1000;
  EXPECT_NEAR(r, 20 / kGen3x8BytesPerNs + 5.0 + 84 / kGen3x8BytesPerNs + 5.0, 0.002);
  const LinkStats s = b.link.stats();
  EXPECT_EQ(s.a_to_b.tlps, 2u);
  EXPECT_EQ(s.b_to_a.tlps, 1u);
  EXPECT_EQ(s.b_to_a.payload_bytes, 64u);
}

TEST(LinkTiming, BackToBackTransactionsQueuePerDirection) {
  LinkBench b(gen3x8());
  const pcie::TlpTrain t = b.link.math().write_train(0, 4096);
  const double first = b.req.access(tlm::TLM_WRITE_COMMAND, 0, 4096);
  const double second = b.req.access(tlm::TLM_WRITE_COMMAND, 4096, 4096);
  EXPECT_NEAR(first, t.span_ns + 5.0, 0.002);
  EXPECT_NEAR(second, t.occupancy_ns + t.span_ns + 5.0, 0.003);
  // The other direction is untouched by the writes: a read's completions do not queue.
  const double r = b.req.access(tlm::TLM_READ_COMMAND, 0, 64, second);
  EXPECT_NEAR(r - second, 20 / kGen3x8BytesPerNs + 5.0 + 84 / kGen3x8BytesPerNs + 5.0, 0.003);
}

TEST(LinkCredits, SmallCreditsThrottleTheStream) {
  pcie::LinkParams p = gen3x8();
  p.credits.posted_header = 2;
  p.credits.posted_data = 32;  // 512 B: two 256-B TLPs in flight
  LinkBench b(p);
  const double gbs = b.stream(1 << 20);
  const pcie::LinkMath& m = b.link.math();
  // Credit round trip: TLP serialization + flight + UpdateFC latency + DLLP + flight.
  const double rtt = 276 / kGen3x8BytesPerNs + 5.0 + 100.0 + 8 / kGen3x8BytesPerNs + 5.0;
  const double credit_limit = 2 * 256 / rtt;  // B/ns = GB/s
  EXPECT_NEAR(gbs / credit_limit, 1.0, 0.01);
  EXPECT_LT(gbs, 0.6 * m.payload_gbytes_per_s(256));
}

TEST(LinkCredits, EnoughCreditsRunAtLinkRate) {
  pcie::LinkParams p = gen3x8();
  p.credits.posted_header = 32;
  p.credits.posted_data = 512;  // 8 KiB in flight > rate × round trip (~1 KiB)
  LinkBench b(p);
  const double gbs = b.stream(1 << 20);
  EXPECT_NEAR(gbs / b.link.math().payload_gbytes_per_s(256), 1.0, 0.005);
  // Infinite credits (the default) give the same.
  EXPECT_DOUBLE_EQ(b.link.math().stream_gbytes_per_s(pcie::TlpClass::Posted, 256),
                   pcie::LinkMath(gen3x8()).payload_gbytes_per_s(256));
}

TEST(LinkConfig, BadParametersNameTheField) {
  pcie::LinkParams p = gen3x8();
  p.width = 3;
  try {
    PcieLink l("l", p);
    ADD_FAILURE();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "link.width");
  }
}

TEST(LinkTiming, UnboundFarEndRefuses) {
  PcieLink link("link", gen3x8());
  Requester r("r");
  r.socket.bind(link.b_in);
  sc_core::sc_start(sc_core::SC_ZERO_TIME);
  tlm::tlm_generic_payload gp;
  uint32_t v = 0;
  make_request(gp, tlm::TLM_READ_COMMAND, 0, &v, 4);
  sc_time d = sc_core::SC_ZERO_TIME;
  r.socket->b_transport(gp, d);
  EXPECT_EQ(gp.get_response_status(), tlm::TLM_ADDRESS_ERROR_RESPONSE);
  EXPECT_EQ(link.stats().refusals, 1u);
}
