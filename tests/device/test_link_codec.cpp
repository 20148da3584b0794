// SPDX-License-Identifier: GPL-2.0-only
// The node-link codec: well-formed streams decode; every kind of malformed
// stream is refused with a reason, without buffering oversized bodies.
#include <gtest/gtest.h>

#include <cstring>

#include "link_codec.h"

using namespace ntblab::sw;

namespace {
std::vector<uint8_t> raw(nl_hdr h, std::vector<uint8_t> body = {}) {
  std::vector<uint8_t> out(sizeof h);
  std::memcpy(out.data(), &h, sizeof h);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}
template <typename T>
std::vector<uint8_t> bytes(const T& v) {
  std::vector<uint8_t> b(sizeof v);
  std::memcpy(b.data(), &v, sizeof v);
  return b;
}
}  // namespace

TEST(LinkCodec, RoundTripInPieces) {
  FrameEncoder enc;
  FrameDecoder dec(/*to_switch=*/true);
  nl_mmio_read r{7, 2, 0x1000, 4, 0};
  auto a = enc.encode(NL_MMIO_READ, r, 123);
  std::vector<uint8_t> w(sizeof(nl_mmio_write) + 3);
  nl_mmio_write mw{0, 3, 0x10};
  std::memcpy(w.data(), &mw, sizeof mw);
  w[16] = 1, w[17] = 2, w[18] = 3;
  auto b = enc.encode(NL_MMIO_WRITE, w.data(), static_cast<uint32_t>(w.size()), 124);
  a.insert(a.end(), b.begin(), b.end());
  for (size_t i = 0; i < a.size(); ++i) dec.feed(&a[i], 1);  // byte by byte
  auto m1 = dec.next();
  ASSERT_TRUE(m1);
  EXPECT_EQ(m1->hdr.type, NL_MMIO_READ);
  EXPECT_EQ(m1->hdr.time_ns, 123u);
  EXPECT_EQ(m1->as<nl_mmio_read>().tag, 7u);
  auto m2 = dec.next();
  ASSERT_TRUE(m2);
  EXPECT_EQ(m2->hdr.seq, 1u);
  EXPECT_EQ(m2->body[18], 3);
  EXPECT_FALSE(dec.next());
  EXPECT_FALSE(dec.error());
}

TEST(LinkCodec, OversizedBodyRefusedFromHeaderAlone) {
  FrameDecoder dec(true);
  nl_hdr h{NL_MMIO_WRITE, 0, NL_MAX_BODY + 1, 0, 0, 0};
  auto s = raw(h);
  dec.feed(s.data(), s.size());
  EXPECT_FALSE(dec.next());
  ASSERT_TRUE(dec.error());
  EXPECT_NE(dec.error()->what.find("exceeds"), std::string::npos);
}

TEST(LinkCodec, SequenceGapRefused) {
  FrameDecoder dec(true);
  auto s = raw(nl_hdr{NL_BYE, 0, 0, 1, 0, 0});
  dec.feed(s.data(), s.size());
  EXPECT_FALSE(dec.next());
  ASSERT_TRUE(dec.error());
  EXPECT_NE(dec.error()->what.find("out of order"), std::string::npos);
}

TEST(LinkCodec, UnknownTypeAndWrongDirectionRefused) {
  FrameDecoder a(true), b(true), c(false);
  auto s = raw(nl_hdr{99, 0, 0, 0, 0, 0});
  a.feed(s.data(), s.size());
  EXPECT_FALSE(a.next());
  EXPECT_NE(a.error()->what.find("unknown"), std::string::npos);
  auto irq = raw(nl_hdr{NL_IRQ, 0, sizeof(nl_irq), 0, 0, 0}, bytes(nl_irq{0, 1}));
  b.feed(irq.data(), irq.size());  // IRQ travels switch -> device only
  EXPECT_FALSE(b.next());
  EXPECT_NE(b.error()->what.find("wrong direction"), std::string::npos);
  c.feed(irq.data(), irq.size());
  EXPECT_TRUE(c.next());
}

TEST(LinkCodec, BodySizesAndFieldsChecked) {
  struct Case {
    const char* name;
    std::vector<uint8_t> stream;
  };
  std::vector<uint8_t> short_write = bytes(nl_mmio_write{0, 8, 0});  // says 8 data bytes, has none
  std::vector<Case> cases = {
      {"short MMIO_READ", raw(nl_hdr{NL_MMIO_READ, 0, 8, 0, 0, 0}, std::vector<uint8_t>(8))},
      {"MMIO_READ BAR 6", raw(nl_hdr{NL_MMIO_READ, 0, sizeof(nl_mmio_read), 0, 0, 0},
                              bytes(nl_mmio_read{0, 6, 0, 4, 0}))},
      {"MMIO_READ 3 bytes", raw(nl_hdr{NL_MMIO_READ, 0, sizeof(nl_mmio_read), 0, 0, 0},
                                bytes(nl_mmio_read{0, 0, 0, 3, 0}))},
      {"MMIO_WRITE size mismatch",
       raw(nl_hdr{NL_MMIO_WRITE, 0, static_cast<uint32_t>(short_write.size()), 0, 0, 0}, short_write)},
      {"MMIO_WRITE 0 bytes", raw(nl_hdr{NL_MMIO_WRITE, 0, sizeof(nl_mmio_write), 0, 0, 0},
                                 bytes(nl_mmio_write{0, 0, 0}))},
      {"CFG_READ past 4K", raw(nl_hdr{NL_CFG_READ, 0, sizeof(nl_cfg_read), 0, 0, 0},
                               bytes(nl_cfg_read{0, 4094, 4, 0}))},
      {"CFG_WRITE 8 bytes", raw(nl_hdr{NL_CFG_WRITE, 0, sizeof(nl_cfg_write), 0, 0, 0},
                                bytes(nl_cfg_write{0, 8, 0, 0}))},
      {"reserved flags", raw(nl_hdr{NL_BYE, 1, 0, 0, 0, 0})},
      {"BYE with body", raw(nl_hdr{NL_BYE, 0, 4, 0, 0, 0}, std::vector<uint8_t>(4))},
  };
  for (auto& c : cases) {
    FrameDecoder dec(true);
    dec.feed(c.stream.data(), c.stream.size());
    EXPECT_FALSE(dec.next()) << c.name;
    EXPECT_TRUE(dec.error()) << c.name;
  }
}

TEST(LinkCodec, StaysFailedAfterError) {
  FrameDecoder dec(true);
  auto bad = raw(nl_hdr{99, 0, 0, 0, 0, 0});
  dec.feed(bad.data(), bad.size());
  EXPECT_FALSE(dec.next());
  FrameEncoder enc;
  auto good = enc.encode(NL_BYE, nullptr, 0, 0);
  dec.feed(good.data(), good.size());
  EXPECT_FALSE(dec.next());
  EXPECT_TRUE(dec.error());
}

// Version 2: header flags, node_seq, PARK and GRANT (synchronized links only).
namespace {

/// A decoder fed `stream`: the error text, or "" if every message decoded.
std::string refusal(const std::vector<uint8_t>& stream, bool to_switch, bool sync) {
  FrameDecoder dec(to_switch);
  dec.set_sync(sync);
  dec.feed(stream.data(), stream.size());
  while (dec.next()) {
  }
  if (dec.buffered()) return dec.error() ? dec.error()->what : "incomplete";
  return dec.error() ? dec.error()->what : "";
}

nl_hdr hdr(uint16_t type, uint16_t flags, uint32_t len, uint32_t seq = 0, uint32_t node_seq = 0, uint64_t t = 0) {
  return nl_hdr{type, flags, len, seq, node_seq, t};
}

std::vector<uint8_t> mmio_write_body(uint32_t value) {
  std::vector<uint8_t> b = bytes(nl_mmio_write{0, 4, 0x3E000});
  const auto v = bytes(value);
  b.insert(b.end(), v.begin(), v.end());
  return b;
}

}  // namespace

TEST(LinkCodecV2, SyncHeaderFieldsRefusedOnUnsynchronizedLink) {
  const auto w = mmio_write_body(1);
  const auto nonposted = raw(hdr(NL_MMIO_WRITE, NL_HF_NONPOSTED, uint32_t(w.size())), w);
  const auto numbered = raw(hdr(NL_CFG_READ, 0, sizeof(nl_cfg_read), 0, 5), bytes(nl_cfg_read{1, 0, 4, 0}));
  for (const auto* s : {&nonposted, &numbered}) {
    const std::string why = refusal(*s, true, false);
    EXPECT_NE(why.find("header fields of synchronized links on an unsynchronized link"), std::string::npos) << why;
    EXPECT_EQ(refusal(*s, true, true), "");  // legal once WELCOME said NL_WF_SYNC
  }
  // Refused from the header alone: the body never needs to arrive.
  FrameDecoder dec(true);
  const nl_hdr h = hdr(NL_MMIO_READ, 0, sizeof(nl_mmio_read), 0, 1);
  dec.feed(reinterpret_cast<const uint8_t*>(&h), sizeof h);
  EXPECT_FALSE(dec.next());
  EXPECT_TRUE(dec.error());
}

TEST(LinkCodecV2, SynchronizedFieldsSurviveDecoding) {
  const auto w = mmio_write_body(0xabcd);
  auto s = raw(hdr(NL_MMIO_WRITE, NL_HF_NONPOSTED, uint32_t(w.size()), 0, 7, 1234), w);
  const auto p = raw(hdr(NL_PARK, 0, sizeof(nl_park), 1, 8, 2000), bytes(nl_park{UINT64_MAX}));
  s.insert(s.end(), p.begin(), p.end());
  FrameDecoder dec(true);
  dec.set_sync(true);
  dec.feed(s.data(), s.size());
  auto m1 = dec.next();
  ASSERT_TRUE(m1) << (dec.error() ? dec.error()->what : "");
  EXPECT_EQ(m1->hdr.flags, NL_HF_NONPOSTED);
  EXPECT_EQ(m1->hdr.node_seq, 7u);
  EXPECT_EQ(m1->hdr.time_ns, 1234u);
  auto m2 = dec.next();
  ASSERT_TRUE(m2);
  EXPECT_EQ(m2->hdr.type, NL_PARK);
  EXPECT_EQ(m2->hdr.node_seq, 8u);
  EXPECT_EQ(m2->as<nl_park>().idle_until, UINT64_MAX);
  EXPECT_FALSE(dec.error());
}

TEST(LinkCodecV2, SyncTakesEffectMidStream) {
  // As the server does it: HELLO on an unsynchronized decoder, then set_sync
  // before the next message is taken.
  nl_hello hello{};
  hello.magic = NL_MAGIC;
  hello.version = NL_VERSION;
  auto s = raw(hdr(NL_HELLO, 0, sizeof hello), bytes(hello));
  const auto p = raw(hdr(NL_PARK, 0, sizeof(nl_park), 1, 1), bytes(nl_park{0}));
  s.insert(s.end(), p.begin(), p.end());
  FrameDecoder dec(true);
  dec.feed(s.data(), s.size());
  ASSERT_TRUE(dec.next());
  dec.set_sync(true);
  auto m = dec.next();
  ASSERT_TRUE(m) << (dec.error() ? dec.error()->what : "");
  EXPECT_EQ(m->hdr.type, NL_PARK);
}

TEST(LinkCodecV2, ParkRefusedWhenNotSynchronized) {
  const auto p = raw(hdr(NL_PARK, 0, sizeof(nl_park)), bytes(nl_park{0}));
  EXPECT_EQ(refusal(p, true, false), "PARK on an unsynchronized link");
  EXPECT_EQ(refusal(p, true, true), "");
}

TEST(LinkCodecV2, UnknownFlagBitsRefused) {
  const auto w = mmio_write_body(1);
  for (uint16_t f : {uint16_t(0x2), uint16_t(0x3), uint16_t(0x8000)}) {
    const std::string why = refusal(raw(hdr(NL_MMIO_WRITE, f, uint32_t(w.size()), 0, 1), w), true, true);
    EXPECT_EQ(why, "unknown header flags") << f;
  }
}

TEST(LinkCodecV2, NonpostedOnlyOnWrites) {
  struct Case {
    uint16_t type;
    std::vector<uint8_t> body;
  };
  const std::vector<Case> refused = {
      {NL_MMIO_READ, bytes(nl_mmio_read{1, 0, 0, 4, 0})},
      {NL_CFG_READ, bytes(nl_cfg_read{1, 0, 4, 0})},
      {NL_PARK, bytes(nl_park{0})},
      {NL_BYE, {}},
  };
  for (const Case& c : refused) {
    const std::string why = refusal(raw(hdr(c.type, NL_HF_NONPOSTED, uint32_t(c.body.size()), 0, 1), c.body), true, true);
    EXPECT_EQ(why, std::string("NONPOSTED flag on ") + type_name(c.type));
  }
  EXPECT_EQ(refusal(raw(hdr(NL_CFG_WRITE, NL_HF_NONPOSTED, sizeof(nl_cfg_write), 0, 1),
                        bytes(nl_cfg_write{0xFF0, 4, 0, 0})),
                    true, true),
            "");
}

TEST(LinkCodecV2, ParkAndGrantBodySizesChecked) {
  for (uint32_t len : {0u, 4u, 7u, 9u, 16u}) {
    const std::string why = refusal(raw(hdr(NL_PARK, 0, len, 0, 1), std::vector<uint8_t>(len)), true, true);
    EXPECT_EQ(why, "PARK body is " + std::to_string(len) + " bytes, expected 8");
  }
  for (uint32_t len : {0u, 8u, 15u, 17u, 24u}) {
    const std::string why = refusal(raw(hdr(NL_GRANT, 0, len), std::vector<uint8_t>(len)), false, true);
    EXPECT_EQ(why, "GRANT body is " + std::to_string(len) + " bytes, expected 16");
  }
  nl_grant g{};
  g.until = 136;
  g.sent[0] = 2;
  g.sent[1] = 1;
  FrameDecoder dec(false);
  const auto s = raw(hdr(NL_GRANT, 0, sizeof g, 0, 0, 136), bytes(g));
  dec.feed(s.data(), s.size());
  auto m = dec.next();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->as<nl_grant>().until, 136u);
  EXPECT_EQ(m->as<nl_grant>().sent[1], 1u);
}

TEST(LinkCodecV2, GrantAndParkOnlyInTheirDirection) {
  const auto g = raw(hdr(NL_GRANT, 0, sizeof(nl_grant)), bytes(nl_grant{}));
  EXPECT_EQ(refusal(g, true, true), "GRANT sent in the wrong direction");
  EXPECT_EQ(refusal(g, true, false), "GRANT sent in the wrong direction");
  const auto p = raw(hdr(NL_PARK, 0, sizeof(nl_park)), bytes(nl_park{0}));
  EXPECT_EQ(refusal(p, false, true), "PARK sent in the wrong direction");
  EXPECT_STREQ(type_name(NL_PARK), "PARK");
  EXPECT_STREQ(type_name(NL_GRANT), "GRANT");
}
