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
