// SPDX-License-Identifier: GPL-2.0-only
#include "link_codec.h"

#include <cstring>

namespace ntblab::sw {

const char* type_name(uint16_t type) {
  switch (type) {
    case NL_HELLO: return "HELLO";
    case NL_WELCOME: return "WELCOME";
    case NL_REJECT: return "REJECT";
    case NL_CFG_READ: return "CFG_READ";
    case NL_CFG_WRITE: return "CFG_WRITE";
    case NL_MMIO_READ: return "MMIO_READ";
    case NL_MMIO_WRITE: return "MMIO_WRITE";
    case NL_COMPLETION: return "COMPLETION";
    case NL_IRQ: return "IRQ";
    case NL_BYE: return "BYE";
    case NL_PARK: return "PARK";
    case NL_GRANT: return "GRANT";
  }
  return "unknown";
}

namespace {

std::string size_error(const char* type, uint32_t len, size_t want) {
  return std::string(type) + " body is " + std::to_string(len) + " bytes, expected " +
         std::to_string(want);
}

bool valid_access_size(uint32_t s, uint32_t max) { return s == 1 || s == 2 || s == 4 || (s == 8 && max >= 8); }

template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

std::string check_body(uint16_t type, uint32_t len, const uint8_t* body, bool to_switch) {
  const bool from_device_only = type == NL_HELLO || type == NL_CFG_READ || type == NL_CFG_WRITE ||
                                type == NL_MMIO_READ || type == NL_MMIO_WRITE || type == NL_PARK;
  const bool from_switch_only = type == NL_WELCOME || type == NL_REJECT ||
                                type == NL_COMPLETION || type == NL_IRQ || type == NL_GRANT;
  if (!from_device_only && !from_switch_only && type != NL_BYE)
    return "unknown message type " + std::to_string(type);
  if ((to_switch && from_switch_only) || (!to_switch && from_device_only))
    return std::string(type_name(type)) + " sent in the wrong direction";
  switch (type) {
    case NL_HELLO: {
      if (len != sizeof(nl_hello)) return size_error("HELLO", len, sizeof(nl_hello));
      auto h = load<nl_hello>(body);
      if (h.n_ram > NL_MAX_RAM_REGIONS) return "HELLO declares " + std::to_string(h.n_ram) + " RAM regions (max 4)";
      return {};
    }
    case NL_WELCOME: return len == sizeof(nl_welcome) ? "" : size_error("WELCOME", len, sizeof(nl_welcome));
    case NL_REJECT: return len == sizeof(nl_reject) ? "" : size_error("REJECT", len, sizeof(nl_reject));
    case NL_BYE: return len == 0 ? "" : size_error("BYE", len, 0);
    case NL_IRQ: return len == sizeof(nl_irq) ? "" : size_error("IRQ", len, sizeof(nl_irq));
    case NL_PARK: return len == sizeof(nl_park) ? "" : size_error("PARK", len, sizeof(nl_park));
    case NL_GRANT: return len == sizeof(nl_grant) ? "" : size_error("GRANT", len, sizeof(nl_grant));
    case NL_COMPLETION:
      return len == sizeof(nl_completion) ? "" : size_error("COMPLETION", len, sizeof(nl_completion));
    case NL_CFG_READ: {
      if (len != sizeof(nl_cfg_read)) return size_error("CFG_READ", len, sizeof(nl_cfg_read));
      auto r = load<nl_cfg_read>(body);
      if (!valid_access_size(r.size, 4) || r.offset >= NL_CFG_SPACE || r.offset + r.size > NL_CFG_SPACE)
        return "CFG_READ of " + std::to_string(r.size) + " bytes at " + std::to_string(r.offset);
      return {};
    }
    case NL_CFG_WRITE: {
      if (len != sizeof(nl_cfg_write)) return size_error("CFG_WRITE", len, sizeof(nl_cfg_write));
      auto w = load<nl_cfg_write>(body);
      if (!valid_access_size(w.size, 4) || w.offset >= NL_CFG_SPACE || w.offset + w.size > NL_CFG_SPACE)
        return "CFG_WRITE of " + std::to_string(w.size) + " bytes at " + std::to_string(w.offset);
      return {};
    }
    case NL_MMIO_READ: {
      if (len != sizeof(nl_mmio_read)) return size_error("MMIO_READ", len, sizeof(nl_mmio_read));
      auto r = load<nl_mmio_read>(body);
      if (r.bar >= NL_NUM_BARS) return "MMIO_READ of BAR " + std::to_string(r.bar);
      if (!valid_access_size(r.size, NL_MAX_READ)) return "MMIO_READ of " + std::to_string(r.size) + " bytes";
      return {};
    }
    case NL_MMIO_WRITE: {
      if (len < sizeof(nl_mmio_write)) return size_error("MMIO_WRITE", len, sizeof(nl_mmio_write));
      auto w = load<nl_mmio_write>(body);
      if (w.bar >= NL_NUM_BARS) return "MMIO_WRITE of BAR " + std::to_string(w.bar);
      if (w.size == 0 || w.size > NL_MAX_WRITE) return "MMIO_WRITE of " + std::to_string(w.size) + " bytes";
      if (len != sizeof(nl_mmio_write) + w.size)
        return size_error("MMIO_WRITE", len, sizeof(nl_mmio_write) + w.size);
      return {};
    }
  }
  return "unknown message type " + std::to_string(type);
}

void FrameDecoder::feed(const uint8_t* data, size_t len) {
  if (error_) return;
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  buf_.insert(buf_.end(), data, data + len);
}

std::optional<Message> FrameDecoder::next() {
  if (error_ || buffered() < sizeof(nl_hdr)) return std::nullopt;
  nl_hdr h;
  std::memcpy(&h, buf_.data() + pos_, sizeof h);
  auto fail = [&](std::string what) {
    error_ = ProtocolError{std::move(what)};
    return std::nullopt;
  };
  // Checks on the header come before waiting for the body: an oversized length
  // must not make us buffer it.
  if (h.len > NL_MAX_BODY)
    return fail(std::string(type_name(h.type)) + " body of " + std::to_string(h.len) +
                " bytes exceeds " + std::to_string(NL_MAX_BODY));
  if (h.seq != expect_seq_)
    return fail("sequence " + std::to_string(h.seq) + " out of order (expected " +
                std::to_string(expect_seq_) + ")");
  if (!sync_ && (h.flags != 0 || h.node_seq != 0))
    return fail("header fields of synchronized links on an unsynchronized link");
  if (!sync_ && h.type == NL_PARK) return fail("PARK on an unsynchronized link");
  if (h.flags & ~NL_HF_NONPOSTED) return fail("unknown header flags");
  if (h.flags && h.type != NL_MMIO_WRITE && h.type != NL_CFG_WRITE)
    return fail(std::string("NONPOSTED flag on ") + type_name(h.type));
  if (buffered() < sizeof h + h.len) return std::nullopt;
  const uint8_t* body = buf_.data() + pos_ + sizeof h;
  if (std::string e = check_body(h.type, h.len, body, to_switch_); !e.empty()) return fail(e);
  Message m;
  m.hdr = h;
  m.body.assign(body, body + h.len);
  pos_ += sizeof h + h.len;
  ++expect_seq_;
  if (pos_ > 65536 && pos_ * 2 > buf_.size()) {  // compact now and then
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<long>(pos_));
    pos_ = 0;
  }
  return m;
}

std::vector<uint8_t> FrameEncoder::encode(uint16_t type, const void* body, uint32_t len,
                                          uint64_t time_ns) {
  nl_hdr h{};
  h.type = type;
  h.len = len;
  h.seq = seq_++;
  h.time_ns = time_ns;
  std::vector<uint8_t> out(sizeof h + len);
  std::memcpy(out.data(), &h, sizeof h);
  if (len) std::memcpy(out.data() + sizeof h, body, len);
  return out;
}

}  // namespace ntblab::sw
