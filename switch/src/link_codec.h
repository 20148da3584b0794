// SPDX-License-Identifier: GPL-2.0-only
// Framing and validation of node-link messages (node_link.h), independent of
// sockets so it can be tested byte by byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ntblab/node_link.h"

namespace ntblab::sw {

/// A decoded message: header plus body bytes (body size already checked
/// against the type).
struct Message {
  nl_hdr hdr{};
  std::vector<uint8_t> body;

  template <typename T>
  const T& as() const { return *reinterpret_cast<const T*>(body.data()); }
};

/// Why a byte stream was rejected; the link is closed with this text.
struct ProtocolError {
  std::string what;
};

/// Check that a body of `len` bytes is legal for message `type` travelling in
/// the given direction. Returns an error text, or empty if legal.
std::string check_body(uint16_t type, uint32_t len, const uint8_t* body, bool to_switch);

/// Incremental decoder for one direction of one link. Feed it bytes as they
/// arrive; pop whole, validated messages. After an error it stays failed.
class FrameDecoder {
 public:
  explicit FrameDecoder(bool to_switch) : to_switch_(to_switch) {}

  void feed(const uint8_t* data, size_t len);
  /// Next message, nullopt if incomplete. Sets error() on a malformed stream.
  std::optional<Message> next();
  const std::optional<ProtocolError>& error() const { return error_; }
  size_t buffered() const { return buf_.size() - pos_; }
  /// The link is synchronized (WELCOME said NL_WF_SYNC): PARK, header flags
  /// and node_seq become legal.
  void set_sync(bool on) { sync_ = on; }

 private:
  bool to_switch_;
  bool sync_ = false;
  uint32_t expect_seq_ = 0;
  std::vector<uint8_t> buf_;
  size_t pos_ = 0;
  std::optional<ProtocolError> error_;
};

/// Encoder for one direction: stamps sequence numbers.
class FrameEncoder {
 public:
  std::vector<uint8_t> encode(uint16_t type, const void* body, uint32_t len, uint64_t time_ns);
  template <typename T>
  std::vector<uint8_t> encode(uint16_t type, const T& body, uint64_t time_ns) {
    return encode(type, &body, sizeof body, time_ns);
  }

 /// Messages encoded so far.
  uint32_t count() const { return seq_; }

 private:
  uint32_t seq_ = 0;
};

const char* type_name(uint16_t type);

}  // namespace ntblab::sw
