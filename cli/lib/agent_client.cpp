// SPDX-License-Identifier: GPL-2.0-only
#include "agent_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include "process.h"

namespace ntblab::cli {

namespace {

using Clock = std::chrono::steady_clock;

#pragma pack(push, 1)
struct FrameHeader {
  char magic[2];     // "NT"
  uint8_t version;   // 1
  uint8_t type;      // 'P' ping, 'R' run, 'O' stdout, 'E' stderr, 'X' exit, 'F' refused, 'S' poweroff
  uint32_t id;
  uint32_t len;
};
#pragma pack(pop)
static_assert(sizeof(FrameHeader) == 12, "agent frame header");

constexpr uint32_t kMaxFrame = 16u << 20;

/// One connection to the agent's socket.
class Channel {
 public:
  explicit Channel(const std::string& path, const std::atomic<bool>* stop = nullptr) : stop_(stop) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
    if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      if (fd_ >= 0) close(fd_);
      fd_ = -1;
    }
  }
  ~Channel() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }

  bool send(char type, uint32_t id, const std::string& payload = {}) {
    const std::string buf = wire::frame(type, id, payload);
    size_t off = 0;
    while (off < buf.size()) {
      ssize_t w = ::send(fd_, buf.data() + off, buf.size() - off, MSG_NOSIGNAL);
      if (w <= 0) return false;
      off += size_t(w);
    }
    return true;
  }

  /// Next frame for `id` (others dropped) before the deadline. 0 on timeout, -1 on error.
  int recv(uint32_t id, Clock::time_point deadline, char& type, std::string& payload) {
    for (;;) {
      wire::Frame f;
      while (wire::take_frame(buf_, f)) {
        if (f.id != id) continue;
        type = f.type;
        payload = std::move(f.payload);
        return 1;
      }
      int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
      if (left <= 0) return 0;
      pollfd p{fd_, POLLIN, 0};
      int r = poll(&p, 1, std::min(left, 200));
      if (r < 0 && errno != EINTR) return -1;
      if (InterruptGuard::interrupted() || (stop_ && stop_->load())) return -1;
      if (r <= 0) continue;
      char tmp[65536];
      ssize_t n = read(fd_, tmp, sizeof tmp);
      if (n <= 0) return -1;
      buf_.append(tmp, size_t(n));
    }
  }

 private:
  int fd_ = -1;
  std::string buf_;
  const std::atomic<bool>* stop_;
};

uint32_t new_id() {
  static std::mt19937 rng{std::random_device{}()};
  return rng();
}

Clock::time_point after(double s) {
  return Clock::now() + std::chrono::microseconds(int64_t(s * 1e6));
}

}  // namespace

namespace wire {

std::string frame(char type, uint32_t id, const std::string& payload) {
  FrameHeader h{{'N', 'T'}, 1, uint8_t(type), id, uint32_t(payload.size())};
  return std::string(reinterpret_cast<const char*>(&h), sizeof h) + payload;
}

std::string run_payload(const std::string& command, double timeout_s, uint32_t flags) {
  const std::vector<std::string> argv = {"/bin/sh", "-c", command};
  std::string payload;
  auto put32 = [&](uint32_t v) { payload.append(reinterpret_cast<const char*>(&v), 4); };
  put32(uint32_t(timeout_s * 1000));
  put32(flags);
  put32(uint32_t(argv.size()));
  put32(0);  // no stdin
  for (const auto& a : argv) payload += a + std::string(1, '\0');
  return payload;
}

bool take_frame(std::string& buf, Frame& f) {
  while (buf.size() >= sizeof(FrameHeader)) {
    FrameHeader h;
    std::memcpy(&h, buf.data(), sizeof h);
    if (h.magic[0] != 'N' || h.magic[1] != 'T' || h.version != 1 || h.len > kMaxFrame) {
      buf.erase(0, 1);  // resynchronize: stale bytes from an earlier connection
      continue;
    }
    if (buf.size() < sizeof h + h.len) return false;
    f.type = char(h.type);
    f.id = h.id;
    f.payload = buf.substr(sizeof h, h.len);
    buf.erase(0, sizeof h + h.len);
    return true;
  }
  return false;
}

bool add_to_result(CommandResult& r, const Frame& f) {
  const std::string& data = f.payload;
  if (f.type == 'O' && r.out.size() < kMaxCapture) r.out += data.substr(0, kMaxCapture - r.out.size());
  else if (f.type == 'E' && r.err.size() < kMaxCapture) r.err += data.substr(0, kMaxCapture - r.err.size());
  else if (f.type == 'X' && data.size() >= 8) {
    int32_t status;
    uint32_t flags;
    std::memcpy(&status, data.data(), 4);
    std::memcpy(&flags, data.data() + 4, 4);
    r.status = status & 0xFF;
    r.timed_out = flags & 1;
    if (data.size() >= 24) {
      std::memcpy(&r.guest_start_ns, data.data() + 8, 8);
      std::memcpy(&r.guest_end_ns, data.data() + 16, 8);
    }
    return true;
  } else if (f.type == 'F') {
    r.channel_error = true;
    r.err += "[ntblab] agent refused: " + data;
    return true;
  }
  return false;
}

}  // namespace wire

std::string AgentClient::wait_ready(double timeout_s) {
  auto deadline = after(timeout_s);
  while (Clock::now() < deadline && !InterruptGuard::interrupted() && !stopped()) {
    Channel ch(path_, stop_);
    if (!ch.ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    // Pings sent before the agent opened its port are answered late: ids tell them apart.
    while (Clock::now() < deadline && !InterruptGuard::interrupted()) {
      uint32_t id = new_id();
      if (!ch.send('P', id)) break;
      char type;
      std::string payload;
      int r = ch.recv(id, std::min(deadline, after(1.0)), type, payload);
      if (r < 0) break;
      if (r > 0 && type == 'P') return payload.empty() ? std::string("ready") : payload;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return {};
}

CommandResult AgentClient::run(const std::string& command, double timeout_s, bool in_initramfs) {
  CommandResult res;
  auto t0 = Clock::now();
  Channel ch(path_, stop_);
  if (!ch.ok()) {
    res.channel_error = true;
    res.err = "cannot connect to the guest agent at " + path_;
    return res;
  }
  uint32_t id = new_id();
  if (!ch.send('R', id, wire::run_payload(command, timeout_s, in_initramfs ? wire::kRunInInitramfs : 0))) {
    res.channel_error = true;
    res.err = "guest agent connection failed";
    return res;
  }
  // The agent enforces the timeout; the margin covers the channel.
  auto deadline = after(timeout_s + 30);
  for (;;) {
    wire::Frame f{0, id, {}};
    int r = ch.recv(id, deadline, f.type, f.payload);
    if (r <= 0) {
      res.channel_error = true;
      res.err += r == 0       ? "\n[ntblab] no answer from the guest agent"
                 : stopped() ? "\n[ntblab] abandoned: a process of the run died"
                             : "\n[ntblab] guest agent connection lost";
      break;
    }
    if (wire::add_to_result(res, f)) break;
  }
  res.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return res;
}

bool AgentClient::poweroff(double timeout_s) {
  Channel ch(path_);
  if (!ch.ok()) return false;
  uint32_t id = new_id();
  if (!ch.send('S', id)) return false;
  char type;
  std::string payload;
  return ch.recv(id, after(timeout_s), type, payload) > 0 && type == 'S';
}

}  // namespace ntblab::cli
