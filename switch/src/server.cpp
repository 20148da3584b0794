// SPDX-License-Identifier: GPL-2.0-only
#include "server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace ntblab::sw {

namespace {
// epoll user data: kind in the top bits, node index below.
constexpr uint64_t kListen = 1ull << 32, kConn = 2ull << 32, kStop = 3ull << 32, kSignal = 4ull << 32;

std::runtime_error sys_error(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}
}  // namespace

using Clock = std::chrono::steady_clock;

struct Server::Conn {
  int fd = -1;
  bool welcomed = false;
  bool sync = false;  // messages go to the LinkSync
  Clock::time_point hello_deadline;
  FrameDecoder in{true};
  FrameEncoder out;
  std::vector<uint8_t> pending;  // bytes not yet written
  size_t pending_pos = 0;
};

Server::Server(std::vector<NodeEndpoint> nodes, NodeBackend& backend)
    : nodes_(std::move(nodes)), backend_(backend) {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) throw sys_error("epoll_create1");
  stopfd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event ev{EPOLLIN, {.u64 = kStop}};
  epoll_ctl(epfd_, EPOLL_CTL_ADD, stopfd_, &ev);
  conns_.resize(nodes_.size());
  listen_paused_until_.resize(nodes_.size());
  for (unsigned i = 0; i < nodes_.size(); ++i) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) throw sys_error("socket");
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (nodes_[i].socket_path.size() >= sizeof sa.sun_path)
      throw std::runtime_error("socket path too long: " + nodes_[i].socket_path);
    std::strcpy(sa.sun_path, nodes_[i].socket_path.c_str());
    unlink(sa.sun_path);
    if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(fd, 1) != 0) {
      close(fd);
      throw sys_error("listen on " + nodes_[i].socket_path);
    }
    listen_fds_.push_back(fd);
    epoll_event lev{EPOLLIN, {.u64 = kListen | i}};
    epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &lev);
  }
}

Server::~Server() {
  for (unsigned i = 0; i < conns_.size(); ++i)
    if (conns_[i]) close(conns_[i]->fd);
  for (unsigned i = 0; i < listen_fds_.size(); ++i) {
    close(listen_fds_[i]);
    unlink(nodes_[i].socket_path.c_str());
  }
  if (stopfd_ >= 0) close(stopfd_);
  if (sigfd_ >= 0) close(sigfd_);
  if (epfd_ >= 0) close(epfd_);
}

void Server::stop() {
  uint64_t one = 1;
  ssize_t r = write(stopfd_, &one, sizeof one);
  (void)r;
}

bool Server::connected(unsigned node) const { return node < conns_.size() && conns_[node]; }

void Server::take_signals() {
  if (sigfd_ >= 0) return;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  sigfd_ = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sigfd_ < 0) throw sys_error("signalfd");
  epoll_event ev{EPOLLIN, {.u64 = kSignal}};
  epoll_ctl(epfd_, EPOLL_CTL_ADD, sigfd_, &ev);
}

int Server::run() {
  signal(SIGPIPE, SIG_IGN);
  epoll_event evs[16];
  bool busy = false;  // the backend has work in progress: poll, do not sleep
  while (!stopping_) {
    int n = epoll_wait(epfd_, evs, 16, busy ? 0 : next_timeout_ms());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw sys_error("epoll_wait");
    }
    for (int k = 0; k < n && !stopping_; ++k) {
      uint64_t kind = evs[k].data.u64 & ~0xffffffffull;
      unsigned node = static_cast<unsigned>(evs[k].data.u64 & 0xffffffffu);
      if (kind == kStop || kind == kSignal) {
        if (kind == kSignal) log("signal received, shutting down");
        stopping_ = true;
      } else if (kind == kListen) {
        accept_on(node);
      } else if (kind == kConn) {
        if (evs[k].events & EPOLLOUT) on_writable(node);
        if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(node);
      }
    }
    on_timers();
    // One slice of long work (a DMA run) per round: every link and the signals
    // are served between two slices.
    if (!stopping_) busy = backend_.run_slice();
  }
  for (unsigned i = 0; i < conns_.size(); ++i)
    if (conns_[i]) close_node(i, "switch shutting down");
  throttle_.flush(log, true);
  return 0;
}

void Server::note(unsigned node, const char* kind, const std::string& line) {
  throttle_.log(nodes_[node].name + " " + kind, line, log);
}

int Server::next_timeout_ms() const {
  Clock::time_point next = Clock::time_point::max();
  for (const auto& c : conns_)
    if (c && !c->welcomed) next = std::min(next, c->hello_deadline);
  for (const auto& t : listen_paused_until_)
    if (t != Clock::time_point{}) next = std::min(next, t);
  if (next == Clock::time_point::max()) return -1;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(next - Clock::now()).count();
  return int(std::clamp<long long>(ms, 0, 60000));
}

void Server::on_timers() {
  const Clock::time_point now = Clock::now();
  for (unsigned i = 0; i < listen_fds_.size(); ++i) {
    if (listen_paused_until_[i] == Clock::time_point{} || now < listen_paused_until_[i]) continue;
    listen_paused_until_[i] = {};
    epoll_event ev{EPOLLIN, {.u64 = kListen | i}};
    epoll_ctl(epfd_, EPOLL_CTL_ADD, listen_fds_[i], &ev);
  }
  for (unsigned i = 0; i < conns_.size(); ++i)
    if (conns_[i] && !conns_[i]->welcomed && now >= conns_[i]->hello_deadline)
      close_node(i, "no HELLO within " + std::to_string(hello_timeout.count()) + " ms");
  throttle_.flush(log, false, now);
}

void Server::accept_on(unsigned node) {
  int fd = accept4(listen_fds_[node], nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0) {
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      // The connection stays queued and the listener readable: stop polling it
      // for a while, or this loop would spin until a descriptor frees up.
      epoll_ctl(epfd_, EPOLL_CTL_DEL, listen_fds_[node], nullptr);
      listen_paused_until_[node] = Clock::now() + accept_backoff;
      note(node, "accept", nodes_[node].name + ": cannot accept a connection (" + std::strerror(errno) +
                               "), retrying in " + std::to_string(accept_backoff.count()) + " ms");
    }
    return;
  }
  if (conns_[node]) {  // one link per node: refuse a second device
    note(node, "refused", nodes_[node].name + ": second connection refused");
    close(fd);
    return;
  }
  conns_[node] = std::make_unique<Conn>();
  conns_[node]->fd = fd;
  conns_[node]->hello_deadline = Clock::now() + hello_timeout;
  epoll_event ev{EPOLLIN, {.u64 = kConn | node}};
  epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
  note(node, "connected", nodes_[node].name + ": device connected");
}

void Server::on_readable(unsigned node) {
  Conn* c = conns_[node].get();
  if (!c) return;
  uint8_t buf[65536];
  std::vector<int> fds;
  // At most 16 reads (1 MiB) per turn: a link that never stops sending must not
  // keep the others waiting; epoll reports it readable again next round.
  for (unsigned reads = 0; reads < 16; ++reads) {
    iovec iov{buf, sizeof buf};
    alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(int) * NL_MAX_RAM_REGIONS)];
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctrl;
    mh.msg_controllen = sizeof ctrl;
    ssize_t r = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      close_node(node, r == 0 ? "device closed the link" : std::string("read: ") + std::strerror(errno));
      return;
    }
    for (cmsghdr* cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
      if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
      size_t nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < nfd; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
        fds.push_back(fd);
      }
    }
    if (mh.msg_flags & MSG_CTRUNC) {
      for (int fd : fds) close(fd);
      close_node(node, "too many file descriptors attached");
      return;
    }
    c->in.feed(buf, static_cast<size_t>(r));
    while (auto m = c->in.next()) {
      if (m->hdr.type == NL_HELLO) {
        if (c->welcomed) {
          for (int fd : fds) close(fd);
          close_node(node, "second HELLO");
          return;
        }
        const auto& hello = m->as<nl_hello>();
        std::string reject;
        std::optional<nl_welcome> w;
        std::string expected = nodes_[node].name;
        if (hello.magic != NL_MAGIC || hello.version != NL_VERSION) {
          reject = "protocol version " + std::to_string(hello.version) + " (magic " +
                   std::to_string(hello.magic) + "), switch speaks version " + std::to_string(NL_VERSION);
        } else if (std::string(hello.node, strnlen(hello.node, NL_NAME_LEN)) != expected) {
          reject = "this socket is for node '" + expected + "'";
        } else if (hello.function != nodes_[node].function) {
          reject = "this socket is for function " + std::to_string(nodes_[node].function) + ", not " +
                   std::to_string(hello.function);
        } else if (hello.n_fds != fds.size()) {
          reject = "HELLO says " + std::to_string(hello.n_fds) + " fds, " + std::to_string(fds.size()) + " attached";
        } else {
          try {
            auto ram = std::make_unique<GuestRam>(hello, std::move(fds));
            fds.clear();
            w = backend_.attach(node, hello, std::move(ram), reject);
          } catch (const std::exception& e) {
            reject = e.what();
          }
        }
        for (int fd : fds) close(fd);
        fds.clear();
        if (!w) {
          nl_reject rj{};
          std::strncpy(rj.reason, reject.c_str(), sizeof rj.reason - 1);
          send(node, NL_REJECT, &rj, sizeof rj);
          close_node(node, "rejected: " + reject);
          return;
        }
        c->welcomed = true;
        if (sync_) {
          w->flags = sync_->welcome_flags(node);
          c->sync = (w->flags & NL_WF_SYNC) != 0;
          c->in.set_sync(c->sync);
        }
        send(node, NL_WELCOME, &*w, sizeof *w);
        if (!conns_[node]) return;
        note(node, "welcomed", nodes_[node].name + ": welcomed");
        continue;
      }
      if (!c->welcomed) {
        close_node(node, std::string(type_name(m->hdr.type)) + " before HELLO");
        return;
      }
      handle(node, *m);
      if (!conns_[node]) return;
    }
    for (int fd : fds) close(fd);  // fds outside a HELLO are not ours to keep
    fds.clear();
    if (c->in.error()) {
      close_node(node, "protocol error: " + c->in.error()->what);
      return;
    }
  }
}

void Server::handle(unsigned node, const Message& m) {
  if (conns_[node]->sync) return sync_->on_message(node, m);
  if (m.hdr.type == NL_PARK) return close_node(node, "PARK on an unsynchronized link");
  switch (m.hdr.type) {
    case NL_CFG_READ: {
      const auto& r = m.as<nl_cfg_read>();
      nl_completion c{r.tag, NL_STATUS_OK, backend_.cfg_read(node, r.offset, r.size)};
      send(node, NL_COMPLETION, &c, sizeof c);
      break;
    }
    case NL_CFG_WRITE: {
      const auto& w = m.as<nl_cfg_write>();
      backend_.cfg_write(node, w.offset, w.size, w.value);
      break;
    }
    case NL_MMIO_READ: {
      const auto& r = m.as<nl_mmio_read>();
      uint64_t data = 0;
      bool ok = backend_.mmio_read(node, r.bar, r.offset, r.size, data);
      nl_completion c{r.tag, ok ? NL_STATUS_OK : NL_STATUS_UR, ok ? data : ~0ull};
      send(node, NL_COMPLETION, &c, sizeof c);
      break;
    }
    case NL_MMIO_WRITE: {
      const auto& w = m.as<nl_mmio_write>();
      backend_.mmio_write(node, w.bar, w.offset, m.body.data() + sizeof(nl_mmio_write), w.size);
      break;
    }
    case NL_BYE:
      close_node(node, "device said BYE");
      break;
  }
}

void Server::send(unsigned node, uint16_t type, const void* body, uint32_t len) {
  send_at(node, type, body, len, backend_.now_ns());
}

uint32_t Server::sent_count(unsigned link) const {
  return link < conns_.size() && conns_[link] ? conns_[link]->out.count() : 0;
}

void Server::send_at(unsigned node, uint16_t type, const void* body, uint32_t len, uint64_t time_ns) {
  Conn* c = conns_[node].get();
  if (!c) return;
  std::vector<uint8_t> bytes = c->out.encode(type, body, len, time_ns);
  if (c->pending_pos == c->pending.size()) {
    c->pending.clear();
    c->pending_pos = 0;
  }
  c->pending.insert(c->pending.end(), bytes.begin(), bytes.end());
  on_writable(node);
}

void Server::on_writable(unsigned node) {
  Conn* c = conns_[node].get();
  if (!c) return;
  while (c->pending_pos < c->pending.size()) {
    ssize_t w = ::send(c->fd, c->pending.data() + c->pending_pos, c->pending.size() - c->pending_pos,
                       MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (w < 0) {
      close_node(node, std::string("write: ") + std::strerror(errno));
      return;
    }
    c->pending_pos += static_cast<size_t>(w);
  }
  if (c->pending.size() - c->pending_pos > (64u << 20)) {
    close_node(node, "device does not read its messages (64 MiB queued)");
    return;
  }
  update_interest(node);
}

void Server::update_interest(unsigned node) {
  Conn* c = conns_[node].get();
  uint32_t want = EPOLLIN | (c->pending_pos < c->pending.size() ? EPOLLOUT : 0u);
  epoll_event ev{want, {.u64 = kConn | node}};
  epoll_ctl(epfd_, EPOLL_CTL_MOD, c->fd, &ev);
}

void Server::send_irq(unsigned node, bool level) {
  if (!connected(node) || !conns_[node]->welcomed) return;
  nl_irq irq{0, level ? 1u : 0u};
  send(node, NL_IRQ, &irq, sizeof irq);
}

void Server::close_node(unsigned node, const std::string& why) {
  std::unique_ptr<Conn> c = std::move(conns_[node]);
  if (!c) return;
  note(node, "closed", nodes_[node].name + ": link closed: " + why);
  epoll_ctl(epfd_, EPOLL_CTL_DEL, c->fd, nullptr);
  close(c->fd);
  if (c->sync) sync_->on_close(node);
  if (c->welcomed) backend_.detach(node);
}

}  // namespace ntblab::sw
