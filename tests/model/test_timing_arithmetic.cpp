// SPDX-License-Identifier: GPL-2.0-only
// PCIe link arithmetic against the seed paper's tables and docs/sources.md.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "ntblab/model/config_error.h"
#include "ntblab/model/path.h"
#include "ntblab/model/pcie.h"
#include "expect_config_error.h"

using namespace ntblab::model;
using namespace ntblab::model::pcie;

namespace {

// The seed paper's Table 2 ("PCIe의 Gen과 Lane에 따른 전송 속도"), Gbps, as printed.
constexpr unsigned kTable2Widths[5] = {1, 2, 4, 8, 16};
constexpr double kPaperTable2[3][5] = {
    {2.5, 5, 10, 20, 60},   // Gen1 (x16 printed as 60)
    {5, 10, 20, 40, 80},    // Gen2
    {8, 16, 32, 64, 128},   // Gen3
};

LinkParams link(unsigned gen, unsigned width, DllpPolicy dllp = DllpPolicy::tlp_only()) {
  LinkParams p;
  p.generation = gen;
  p.width = width;
  p.max_payload = 256;
  p.header_bytes = kHeader3DWBytes;
  p.dllp = dllp;
  return p;
}

using model_test::expect_config_error;

}  // namespace

TEST(PaperTable2, EveryCellButGen1x16MatchesTheModel) {
  int mismatches = 0;
  for (unsigned g = 1; g <= 3; ++g) {
    for (int w = 0; w < 5; ++w) {
      const double model = raw_gbps(g, kTable2Widths[w]);
      // Independent of the model: GT/s per lane × lanes.
      const double per_lane = g == 1 ? 2.5 : g == 2 ? 5.0 : 8.0;
      EXPECT_DOUBLE_EQ(model, per_lane * kTable2Widths[w]) << "Gen" << g << " x" << kTable2Widths[w];
      if (g == 1 && kTable2Widths[w] == 16) continue;  // the typo, see the next test
      EXPECT_DOUBLE_EQ(model, kPaperTable2[g - 1][w]) << "Gen" << g << " x" << kTable2Widths[w];
      if (model != kPaperTable2[g - 1][w]) ++mismatches;
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(PaperTable2, Gen1x16CellSays60ButIs40_Typo) {
  // Row Gen1, column x16 of the paper's Table 2 prints 60 Gbps; 2.5 GT/s × 16 = 40.
  const double model = raw_gbps(1, 16);
  EXPECT_DOUBLE_EQ(model, 40.0);
  EXPECT_NE(model, kPaperTable2[0][4]);
  EXPECT_DOUBLE_EQ(kPaperTable2[0][4], 60.0);
  // It is the only wrong cell: every other row doubles from x8 to x16.
  EXPECT_DOUBLE_EQ(raw_gbps(2, 16), 2 * raw_gbps(2, 8));
  EXPECT_DOUBLE_EQ(model, 2 * raw_gbps(1, 8));
}

TEST(LinkArithmetic, DataRateAfterEncoding) {
  EXPECT_DOUBLE_EQ(data_gbps(1, 1), 2.0);                    // 8b/10b
  EXPECT_DOUBLE_EQ(data_gbps(2, 4), 16.0);
  EXPECT_DOUBLE_EQ(data_gbps(3, 8), 64.0 * 128.0 / 130.0);   // 128b/130b
  EXPECT_DOUBLE_EQ(data_gbps(4, 16), 256.0 * 128.0 / 130.0);
  EXPECT_STREQ(generation_info(3).encoding, "128b/130b");
}

TEST(LinkArithmetic, TlpWireBytes) {
  LinkMath m(link(3, 8));
  // framing 2 + sequence 2 + LCRC 4 + header + payload (+ ECRC 4)
  EXPECT_EQ(m.tlp_wire_bytes(256, 12), 2u + 2 + 4 + 12 + 256);
  EXPECT_EQ(m.tlp_wire_bytes(256, 16), 2u + 2 + 4 + 16 + 256);
  EXPECT_EQ(m.tlp_wire_bytes(0), 20u);   // a read request
  EXPECT_EQ(m.tlp_wire_bytes(1), 24u);   // payload in whole double words
  LinkParams with_ecrc = link(3, 8);
  with_ecrc.ecrc = true;
  EXPECT_EQ(LinkMath(with_ecrc).tlp_wire_bytes(256), 2u + 2 + 4 + 12 + 4 + 256);
}

TEST(PaperTable1, Efficiency93PercentIs92_75AtPayload256With3DW) {
  LinkMath m(link(1, 1, DllpPolicy::tlp_only()));
  const double eff = m.efficiency(256);
  EXPECT_NEAR(eff, 256.0 / (256 + 8 + 12), 1e-12);
  EXPECT_NEAR(eff * 100, 92.75, 0.005);
  EXPECT_EQ(std::lround(eff * 100), 93);  // the paper's "93 %"
  // Same on every generation: efficiency is about bytes, not rate.
  EXPECT_DOUBLE_EQ(LinkMath(link(3, 16)).efficiency(256), eff);
}

TEST(PaperTable1, With1Ack1UpdateFcPerTlpAndSkpIs87_4Percent) {
  LinkMath m(link(1, 1, DllpPolicy::per_tlp()));
  const double eff = m.efficiency(256);
  const double expect = 256.0 / (276 + 8 + 8) * (1538.0 - 4) / 1538.0;
  EXPECT_NEAR(eff, expect, 1e-12);
  EXPECT_NEAR(eff * 100, 87.4, 0.05);
  // On Gen1 that is about 70 % of the raw lane rate (8b/10b): PLX data books.
  const double of_raw = m.payload_gbytes_per_s(256) * 8 / m.raw_gbps();
  EXPECT_NEAR(of_raw, 0.70, 0.005);
}

TEST(LinkArithmetic, DllpPolicyPerNTlps) {
  DllpPolicy every4{4, 4, false};
  LinkMath m(link(3, 8, every4));
  EXPECT_NEAR(m.efficiency(256), 256.0 / (276 + 8.0 / 4 + 8.0 / 4), 1e-12);
  EXPECT_DOUBLE_EQ(m.dllp_bytes_per_tlp(), 4.0);
}

// docs/sources.md: payload bandwidth at MPS 256, 3DW, TLP-only: Gen3 x4 3.65, x8 7.31,
// x16 14.61 GB/s. These come out exactly with: 8 GT/s × lanes, 128b/130b
// encoding, 276 wire bytes per 256-byte TLP, no DLLPs, no SKP, GB = 1e9 B.
TEST(FactsBandwidth, Gen3AtMps256TlpOnly) {
  const unsigned widths[3] = {4, 8, 16};
  const double facts[3] = {3.65, 7.31, 14.61};
  for (int i = 0; i < 3; ++i) {
    LinkMath m(link(3, widths[i], DllpPolicy::tlp_only()));
    const double gbs = m.payload_gbytes_per_s(256);
    EXPECT_NEAR(gbs, facts[i], 0.005) << "x" << widths[i];
    // Written out: lanes × 8e9 T/s × 128/130 / 8 bit × 256/276.
    EXPECT_NEAR(gbs, widths[i] * 8.0 * 128 / 130 / 8 * 256 / 276, 1e-12);
  }
}

TEST(FactsBandwidth, OtherAssumptionsDoNotGiveFactsFigures) {
  // Without the 128b/130b encoding, or with DLLPs and SKP, x8 misses 7.31 GB/s.
  const double no_encoding = 8 * 8.0 / 8 * 256 / 276;
  EXPECT_GT(std::abs(no_encoding - 7.31), 0.05);
  LinkMath with_dllps(link(3, 8, DllpPolicy::per_tlp()));
  EXPECT_GT(std::abs(with_dllps.payload_gbytes_per_s(256) - 7.31), 0.05);
}

TEST(LinkArithmetic, SerializationOfTlpAndBulkTransfer) {
  LinkMath m(link(3, 8, DllpPolicy::tlp_only()));
  const double byte_ns = 1.0 / (8.0 * 8 * 128 / 130 / 8);  // ns per byte, Gen3 x8
  EXPECT_NEAR(m.byte_ns(), byte_ns, 1e-15);
  EXPECT_NEAR(m.tlp_time_ns(256), 276 * byte_ns, 1e-12);
  // 4 KiB + 100 B: 16 full TLPs and one of 100 B (rounded to 100, a DW multiple).
  const TlpTrain t = m.write_train(0, 4096 + 100);
  EXPECT_EQ(t.tlps, 17u);
  EXPECT_EQ(t.payload_bytes, 4196u);
  EXPECT_EQ(t.wire_bytes, 16u * 276 + (20 + 100));
  EXPECT_NEAR(m.transfer_time_ns(4096 + 100), (16 * 276 + 120) * byte_ns, 1e-9);
}

TEST(LinkArithmetic, RequestsAbove4GiBUse4DWHeaders) {
  LinkMath m(link(3, 8, DllpPolicy::tlp_only()));
  EXPECT_EQ(m.write_train(0x1000, 8).wire_bytes, 8u + 12 + 8);
  EXPECT_EQ(m.write_train(0x1'0000'0000ULL, 8).wire_bytes, 8u + 16 + 8);
}

TEST(LinkArithmetic, CompletionsSplitAtRcbAndMps) {
  LinkParams p = link(3, 8, DllpPolicy::tlp_only());
  p.read_completion_boundary = 64;
  LinkMath m(p);
  // Aligned 1 KiB: four completions of MPS 256.
  TlpTrain a = m.completion_train(0x1000, 1024);
  EXPECT_EQ(a.tlps, 4u);
  EXPECT_EQ(a.wire_bytes, 4u * (8 + 12 + 256));
  // Start 32 B past an RCB boundary: the first completion stops at the last RCB
  // boundary within MPS (0x1100 - 0x1020 = 224 B), then 256 B each, then the rest.
  TlpTrain b = m.completion_train(0x1020, 1024);
  EXPECT_EQ(b.tlps, 5u);  // 224 + 256 + 256 + 256 + 32
  EXPECT_EQ(b.wire_bytes, 5u * 20 + 1024);
  // A small read fits one completion; reads request in MRRS pieces.
  EXPECT_EQ(m.completion_train(0x1000, 64).tlps, 1u);
  EXPECT_EQ(m.read_request_train(0, 4096).tlps, 4096u / p.max_read_request);
}

TEST(LinkArithmetic, CreditWindowAndThrottle) {
  LinkParams p = link(3, 8, DllpPolicy::tlp_only());
  p.credits.posted_header = 4;
  p.credits.posted_data = 32;  // 512 B: two 256-B TLPs
  LinkMath m(p);
  EXPECT_EQ(m.credit_window(TlpClass::Posted, 256), 2u);
  EXPECT_EQ(m.credit_window(TlpClass::Posted, 64), 4u);  // header credits bind
  EXPECT_EQ(m.credit_window(TlpClass::Completion, 256), 0u);  // infinite
  const double rtt = m.tlp_time_ns(256) + 2 * p.propagation_ns + p.update_fc_latency_ns +
                     8 * m.byte_ns();
  EXPECT_NEAR(m.credit_round_trip_ns(256), rtt, 1e-12);
  EXPECT_NEAR(m.stream_gbytes_per_s(TlpClass::Posted, 256), 2 * 256 / rtt, 1e-12);
  EXPECT_LT(m.stream_gbytes_per_s(TlpClass::Posted, 256), m.payload_gbytes_per_s(256));
}

TEST(LinkArithmeticErrors, BadInputsNameTheirField) {
  expect_config_error([] { generation_info(5); }, "generation");
  expect_config_error([] { raw_gbps(0, 4); }, "generation");
  expect_config_error([] { raw_gbps(3, 3); }, "width");
  expect_config_error([] { raw_gbps(3, 32); }, "width");
  expect_config_error([] { raw_gbps(3, 12); }, "width");
  auto with = [](auto mutate) {
    LinkParams p;
    mutate(p);
    return LinkMath(p);
  };
  expect_config_error([&] { with([](LinkParams& p) { p.max_payload = 100; }); }, "max_payload");
  expect_config_error([&] { with([](LinkParams& p) { p.max_payload = 4096; }); }, "max_payload");
  expect_config_error([&] { with([](LinkParams& p) { p.max_payload = 64; }); }, "max_payload");
  expect_config_error([&] { with([](LinkParams& p) { p.max_read_request = 300; }); },
                      "max_read_request");
  expect_config_error([&] { with([](LinkParams& p) { p.read_completion_boundary = 32; }); },
                      "read_completion_boundary");
  expect_config_error([&] { with([](LinkParams& p) { p.header_bytes = 8; }); }, "header_bytes");
  expect_config_error([&] { with([](LinkParams& p) { p.propagation_ns = -1; }); },
                      "propagation_ns");
  expect_config_error([&] { with([](LinkParams& p) { p.update_fc_latency_ns = -5; }); },
                      "update_fc_latency_ns");
  expect_config_error([&] { with([](LinkParams& p) { p.credits.posted_data = 8; }); },
                      "credits.posted_data");
  LinkMath m{LinkParams{}};
  expect_config_error([&] { m.tlp_wire_bytes(-1); }, "payload");
  expect_config_error([&] { m.efficiency(-256); }, "payload");
  expect_config_error([&] { m.tlp_wire_bytes(5000); }, "payload");
  expect_config_error([&] { m.transfer_time_ns(-4096); }, "bytes");
  // Prefixes: a port's link reads "ports[3].width".
  LinkParams bad;
  bad.width = 3;
  expect_config_error([&] { bad.validate("ports[3]"); }, "ports[3].width");
}

TEST(PathModel, OneHopWriteIsIngressHopEgressPropagation) {
  LinkParams p = link(3, 8);
  p.propagation_ns = 2.0;
  const PathModel path = PathModel::uniform(p, 1, 126.0);
  const double ser = (8 + 12 + 8) / (8.0 * 8 * 128 / 130 / 8);  // 28 B at Gen3 x8
  EXPECT_NEAR(path.write(8).latency_ns, ser + 2.0 + 126.0 + ser + 2.0, 1e-9);
  // More hops add a hop latency, a serialization and a propagation each.
  const PathModel three = PathModel::uniform(p, 3, 126.0);
  EXPECT_NEAR(three.write(8).latency_ns, 4 * (ser + 2.0) + 3 * 126.0, 1e-9);
  EXPECT_THROW(PathModel({}, 126), ConfigError);
  expect_config_error([&] { PathModel::uniform(p, 1, -1); }, "hop_latency_ns");
  expect_config_error([&] { path.write(-8); }, "bytes");
  LinkParams bad = p;
  bad.generation = 7;
  expect_config_error([&] { PathModel({p, bad}); }, "links[1].generation");
}

TEST(PathModel, BulkWriteIsForwardedTlpByTlp) {
  LinkParams p = link(3, 8, DllpPolicy::tlp_only());
  p.propagation_ns = 0;
  const PathModel path = PathModel::uniform(p, 1, 126.0);
  LinkMath m(p);
  // 64 KiB = 256 TLPs: the burst streams through the hop, the egress finishes one
  // TLP after the ingress; it is not stored whole (which would cost 2 × 256 TLPs).
  const double expect = 256 * m.tlp_time_ns(256) + 126.0 + m.tlp_time_ns(256);
  EXPECT_NEAR(path.write(65536).latency_ns, expect, 1e-6);
  EXPECT_NEAR(path.write_stream_gbytes_per_s(), 7.31, 0.005);
}
