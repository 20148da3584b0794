#include "eth_hub.h"

#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

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
  for (Port& p : ports_)
    if (p.fd >= 0) close(p.fd);
  close(listen_fd_);
  close(stopfd_);
  close(epfd_);
  unlink(path_.c_str());
}

void EthHub::drop_port(size_t i) {
  if (ports_[i].fd < 0) return;
  epoll_ctl(epfd_, EPOLL_CTL_DEL, ports_[i].fd, nullptr);
  close(ports_[i].fd);
  ports_[i].fd = -1;
  ports_[i].in.clear();
}

void EthHub::forward(size_t from, const uint8_t* frame, size_t len) {
  ++frames_;
  uint32_t be = htonl(uint32_t(len));
  for (size_t i = 0; i < ports_.size(); ++i) {
    if (i == from || ports_[i].fd < 0) continue;
    iovec iov[2] = {{&be, 4}, {const_cast<uint8_t*>(frame), len}};
    msghdr mh{};
    mh.msg_iov = iov;
    mh.msg_iovlen = 2;
    // All or nothing: a partial frame would desynchronize the stream, so a
    // port whose buffer is full loses this frame; one that errors is closed.
    ssize_t w = sendmsg(ports_[i].fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w == ssize_t(4 + len)) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      ++dropped_;
      continue;
    }
    drop_port(i);  // partial write or error
  }
}

void EthHub::loop() {
  epoll_event evs[16];
  for (;;) {
    int n = epoll_wait(epfd_, evs, 16, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;
    for (int k = 0; k < n; ++k) {
      uint64_t tag = evs[k].data.u64;
      if (tag == kStopTag) return;
      if (tag == kListenTag) {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) continue;
        int sz = 4 << 20;
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
        ports_.push_back({fd, {}});
        epoll_event ev{EPOLLIN, {.u64 = ports_.size() - 1}};
        epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
        continue;
      }
      size_t i = size_t(tag);
      Port& p = ports_[i];
      uint8_t buf[65536];
      ssize_t r = read(p.fd, buf, sizeof buf);
      if (r <= 0) {
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        drop_port(i);
        continue;
      }
      p.in.insert(p.in.end(), buf, buf + r);
      size_t pos = 0;
      while (p.in.size() - pos >= 4) {
        uint32_t len;
        std::memcpy(&len, p.in.data() + pos, 4);
        len = ntohl(len);
        if (len == 0 || len > kMaxFrame) {  // not a frame stream: close this port
          drop_port(i);
          break;
        }
        if (p.in.size() - pos < 4 + len) break;
        forward(i, p.in.data() + pos + 4, len);
        pos += 4 + len;
      }
      if (ports_[i].fd >= 0) p.in.erase(p.in.begin(), p.in.begin() + long(pos));
    }
  }
}

}  // namespace ntblab::sw
