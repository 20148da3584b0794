// SPDX-License-Identifier: GPL-2.0-only
#include "eth_hub.h"

#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace ntblab::sw {

namespace {
constexpr size_t kMaxFrame = 65536 + 64;   // virtio-net with big packets off: <= 64 KiB
constexpr uint64_t kListenTag = ~0ull, kStopTag = ~0ull - 1;
}  // namespace

EthHub::EthHub(std::string socket_path) : path_(std::move(socket_path)) {
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path_.size() >= sizeof sa.sun_path) throw std::runtime_error("socket path too long: " + path_);
  std::strcpy(sa.sun_path, path_.c_str());
  unlink(sa.sun_path);
  if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      listen(listen_fd_, 16) != 0)
    throw std::runtime_error("Ethernet hub: cannot listen on " + path_ + ": " + std::strerror(errno));
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  stopfd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event ev{EPOLLIN, {.u64 = kListenTag}};
  epoll_ctl(epfd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  epoll_event sev{EPOLLIN, {.u64 = kStopTag}};
  epoll_ctl(epfd_, EPOLL_CTL_ADD, stopfd_, &sev);
  thread_ = std::thread([this] { loop(); });
}

EthHub::~EthHub() {
  uint64_t one = 1;
  if (write(stopfd_, &one, sizeof one) < 0) {
  }
  thread_.join();
  for (auto& [id, p] : ports_)
    if (p.fd >= 0) close(p.fd);
  close(listen_fd_);
  close(stopfd_);
  close(epfd_);
  unlink(path_.c_str());
}

void EthHub::drop_port(Port& p) {
  if (p.fd < 0) return;
  epoll_ctl(epfd_, EPOLL_CTL_DEL, p.fd, nullptr);
  close(p.fd);
  p.fd = -1;
  p.in.clear();
}

void EthHub::forward(uint64_t from, const uint8_t* frame, size_t len) {
  ++frames_;
  uint32_t be = htonl(uint32_t(len));
  for (auto& [id, p] : ports_) {
    if (id == from || p.fd < 0) continue;
    iovec iov[2] = {{&be, 4}, {const_cast<uint8_t*>(frame), len}};
    msghdr mh{};
    mh.msg_iov = iov;
    mh.msg_iovlen = 2;
    // All or nothing: a partial frame would desynchronize the stream, so a
    // port whose buffer is full loses this frame; one that errors is closed.
    ssize_t w = sendmsg(p.fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w == ssize_t(4 + len)) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      ++dropped_;
      continue;
    }
    drop_port(p);  // partial write or error
  }
}

void EthHub::accept_port() {
  int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0) {
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      // Out of descriptors: the connection stays queued and the listener
      // readable. Stop polling it for a while instead of spinning.
      epoll_ctl(epfd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
      listen_paused_until_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    }
    return;
  }
  int sz = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  const uint64_t id = next_id_++;
  ports_.emplace(id, Port{fd, {}});
  epoll_event ev{EPOLLIN, {.u64 = id}};
  epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
}

void EthHub::read_port(uint64_t id) {
  auto it = ports_.find(id);
  if (it == ports_.end() || it->second.fd < 0) return;
  Port& p = it->second;
  uint8_t buf[65536];
  ssize_t r = read(p.fd, buf, sizeof buf);
  if (r <= 0) {
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
    drop_port(p);
    return;
  }
  p.in.insert(p.in.end(), buf, buf + r);
  size_t pos = 0;
  while (p.in.size() - pos >= 4) {
    uint32_t len;
    std::memcpy(&len, p.in.data() + pos, 4);
    len = ntohl(len);
    if (len == 0 || len > kMaxFrame) {  // not a frame stream: close this port
      drop_port(p);
      return;
    }
    if (p.in.size() - pos < 4 + len) break;
    forward(id, p.in.data() + pos + 4, len);
    pos += 4 + len;
  }
  p.in.erase(p.in.begin(), p.in.begin() + long(pos));
}

void EthHub::loop() {
  using Clock = std::chrono::steady_clock;
  epoll_event evs[16];
  for (;;) {
    int timeout = -1;
    if (listen_paused_until_ != Clock::time_point{}) {
      auto ms = std::chrono::ceil<std::chrono::milliseconds>(listen_paused_until_ - Clock::now()).count();
      timeout = int(std::max<long long>(ms, 0));
    }
    int n = epoll_wait(epfd_, evs, 16, timeout);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;
    for (int k = 0; k < n; ++k) {
      uint64_t tag = evs[k].data.u64;
      if (tag == kStopTag) return;
      if (tag == kListenTag) accept_port();
      else read_port(tag);
    }
    if (listen_paused_until_ != Clock::time_point{} && Clock::now() >= listen_paused_until_) {
      listen_paused_until_ = {};
      epoll_event ev{EPOLLIN, {.u64 = kListenTag}};
      epoll_ctl(epfd_, EPOLL_CTL_ADD, listen_fd_, &ev);
    }
    // Closed ports leave the table here, after the round, so no event of this
    // round refers to a port that is gone (their ids are not reused).
    for (auto it = ports_.begin(); it != ports_.end();)
      it = it->second.fd < 0 ? ports_.erase(it) : std::next(it);
    live_ports_ = ports_.size();
  }
}

}  // namespace ntblab::sw
