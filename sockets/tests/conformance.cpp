// SPDX-License-Identifier: GPL-2.0 OR MIT
// Socket conformance test for the NTB family against TCP's behaviour.
//
//   server:    conformance --server [--family inet|ntb] [--port 5600]
//   client:    conformance --client ADDR [--family inet|ntb] [--port 5600] [--integrity|--integrity-only]
//   loopback:  conformance --loopback [--family inet]   (server thread + client, 127.0.0.1)
//
// The client runs every check against the server (which answers commands on
// its connections) and prints "N passed, N failed" last; exit status 1 on any
// failure.  Port+1 must have no listener (for ECONNREFUSED).  --integrity
// sends 1 GiB over 8 connections, verified byte by byte on the server.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/time.h>
#include <linux/sockios.h>

#include "../tools/bench_common.hpp"

using namespace ntbtools;

static int g_pass, g_fail;
static std::atomic<int> g_sigpipe{0};

#define CHECK(cond, what)                                                          \
  do {                                                                             \
    if (cond) {                                                                    \
      g_pass++;                                                                    \
      std::printf("ok   %s\n", what);                                              \
    } else {                                                                       \
      g_fail++;                                                                    \
      std::printf("FAIL %s (errno %d %s) at line %d\n", what, errno, std::strerror(errno), __LINE__); \
    }                                                                              \
    std::fflush(stdout);                                                           \
  } while (0)

// ---- server ---------------------------------------------------------------

static void serve_conn(int fd, std::atomic<bool>* quit) {
  std::string cmd;
  if (!read_line(fd, cmd)) { close(fd); return; }
  std::vector<uint8_t> buf(1 << 20);
  unsigned long long n = 0, seed = 0;
  int ms = 0;
  if (cmd == "ECHO") {
    for (;;) {
      ssize_t r = recv(fd, buf.data(), buf.size(), 0);
      if (r <= 0) break;
      if (!write_full(fd, buf.data(), size_t(r))) break;
    }
  } else if (cmd == "CLOSE") {
  } else if (cmd == "RESET") {
    linger lg{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  } else if (cmd == "HALF") {
    uint64_t total = 0;
    for (;;) {
      ssize_t r = recv(fd, buf.data(), buf.size(), 0);
      if (r <= 0) break;
      total += uint64_t(r);
    }
    std::string a = "BYE " + std::to_string(total) + "\n";
    write_full(fd, a.data(), a.size());
  } else if (std::sscanf(cmd.c_str(), "NOREAD %d", &ms) == 1) {
    usleep(unsigned(ms) * 1000);
    while (recv(fd, buf.data(), buf.size(), 0) > 0) {}
  } else if (std::sscanf(cmd.c_str(), "SENDCLOSE %llu", &n) == 1) {
    std::vector<uint8_t> d(static_cast<size_t>(n));
    pattern_fill(d.data(), 0, d.size(), 7);
    write_full(fd, d.data(), d.size());
  } else if (std::sscanf(cmd.c_str(), "VERIFY %llu %llu", &n, &seed) == 2) {
    uint64_t total = 0;
    int64_t bad = -1;
    while (total < n) {
      ssize_t r = recv(fd, buf.data(), size_t(std::min<uint64_t>(buf.size(), n - total)), 0);
      if (r <= 0) break;
      if (bad < 0) bad = pattern_check(buf.data(), total, size_t(r), seed);
      total += uint64_t(r);
    }
    std::string a = (total == n && bad < 0) ? "OK\n" : "BAD\n";
    write_full(fd, a.data(), a.size());
  } else if (cmd == "QUIT") {
    quit->store(true);
  }
  close(fd);
}

static int run_server(int family, uint16_t port, int* ready_fd = nullptr) {
  int lfd = listen_on(family, "", port, 128);
  if (ready_fd) *ready_fd = lfd;
  std::atomic<bool> quit{false};
  while (!quit.load()) {
    pollfd p{lfd, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::thread(serve_conn, fd, &quit).detach();
  }
  close(lfd);
  usleep(200000);
  return 0;
}

// ---- client ---------------------------------------------------------------

struct Ctx {
  int family;
  bool ntb;
  std::string host;
  uint16_t port;
};

static int conn_cmd(const Ctx& c, const std::string& cmd) {
  int fd = connect_to(c.family, c.host, c.port);
  std::string l = cmd + "\n";
  write_full(fd, l.data(), l.size());
  return fd;
}

static sockaddr_in addr_of(const Ctx& c, uint16_t port) {
  sockaddr_in sin{};
  ntb_sockaddr(&sin, c.host.c_str(), port);
  return sin;
}

static void test_create(const Ctx& c) {
  int fd = socket(c.family, SOCK_STREAM, 0);
  CHECK(fd >= 0, "socket(SOCK_STREAM, 0)");
  close(fd);
  fd = socket(c.family, SOCK_STREAM, IPPROTO_TCP);
  CHECK(fd >= 0, "socket(SOCK_STREAM, IPPROTO_TCP)");
  close(fd);
  fd = socket(c.family, SOCK_STREAM, IPPROTO_UDP);
  CHECK(fd < 0 && errno == EPROTONOSUPPORT, "socket(SOCK_STREAM, IPPROTO_UDP) -> EPROTONOSUPPORT");
  if (c.ntb) {
    fd = socket(c.family, SOCK_DGRAM, 0);
    CHECK(fd < 0 && errno == ESOCKTNOSUPPORT, "socket(SOCK_DGRAM) -> ESOCKTNOSUPPORT");
    fd = socket(c.family, SOCK_SEQPACKET, 0);
    CHECK(fd < 0 && errno == ESOCKTNOSUPPORT, "socket(SOCK_SEQPACKET) -> ESOCKTNOSUPPORT");
  }
}

static void test_local(const Ctx& c) {
  // bind/listen/accept on this node, no peer involved
  int a = make_socket(c.family), b = make_socket(c.family);
  sockaddr_in sin{};
  ntb_sockaddr(&sin, nullptr, uint16_t(c.port + 7));
  CHECK(bind(a, (sockaddr*)&sin, sizeof(sin)) == 0, "bind INADDR_ANY");
  CHECK(bind(a, (sockaddr*)&sin, sizeof(sin)) < 0 && errno == EINVAL, "bind twice -> EINVAL");
  CHECK(listen(a, 4) == 0, "listen backlog 4");
  CHECK(bind(b, (sockaddr*)&sin, sizeof(sin)) < 0 && errno == EADDRINUSE, "bind in use -> EADDRINUSE");
  fcntl(a, F_SETFL, O_NONBLOCK);
  CHECK(accept(a, nullptr, nullptr) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK), "non-blocking accept -> EAGAIN");
  pollfd p{a, POLLIN, 0};
  CHECK(poll(&p, 1, 0) == 0, "poll on idle listener: nothing");
  sockaddr_in got{};
  socklen_t gl = sizeof(got);
  CHECK(getsockname(a, (sockaddr*)&got, &gl) == 0 && got.sin_family == AF_INET && ntohs(got.sin_port) == c.port + 7,
        "getsockname: AF_INET and the bound port");
  gl = sizeof(got);
  CHECK(getpeername(a, (sockaddr*)&got, &gl) < 0 && errno == ENOTCONN, "getpeername on listener -> ENOTCONN");
  char x;
  CHECK(recv(b, &x, 1, MSG_DONTWAIT) < 0 && errno == ENOTCONN, "recv unconnected -> ENOTCONN");
  CHECK(send(b, &x, 1, MSG_NOSIGNAL) < 0 && (errno == ENOTCONN || errno == EPIPE), "send unconnected -> ENOTCONN/EPIPE");
  CHECK(shutdown(b, SHUT_RDWR) < 0 && errno == ENOTCONN, "shutdown unconnected -> ENOTCONN");
  int one = 1, v = 0;
  socklen_t vl = sizeof(v);
  CHECK(setsockopt(b, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0, "SO_REUSEADDR");
  CHECK(setsockopt(b, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) == 0, "SO_KEEPALIVE");
  int sz = 256 * 1024;
  CHECK(setsockopt(b, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)) == 0, "SO_RCVBUF");
  CHECK(setsockopt(b, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)) == 0, "SO_SNDBUF");
  CHECK(setsockopt(b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0, "TCP_NODELAY");
  CHECK(getsockopt(b, IPPROTO_TCP, TCP_NODELAY, &v, &vl) == 0 && v, "getsockopt TCP_NODELAY");
  vl = sizeof(v);
  CHECK(getsockopt(b, SOL_SOCKET, SO_TYPE, &v, &vl) == 0 && v == SOCK_STREAM, "SO_TYPE = SOCK_STREAM");
  vl = sizeof(v);
  CHECK(getsockopt(b, SOL_SOCKET, SO_ERROR, &v, &vl) == 0 && v == 0, "SO_ERROR = 0");
  linger lg{1, 5};
  CHECK(setsockopt(b, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0, "SO_LINGER");
  timeval tv{0, 200000};
  CHECK(setsockopt(b, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0, "SO_RCVTIMEO");
  CHECK(setsockopt(b, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == 0, "SO_SNDTIMEO");
  close(a);
  close(b);
  // SO_REUSEADDR lets a new listener take the port of a closed one
  a = make_socket(c.family);
  setsockopt(a, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  CHECK(bind(a, (sockaddr*)&sin, sizeof(sin)) == 0 && listen(a, 1) == 0, "rebind after close");
  close(a);
}

static void test_connect(const Ctx& c) {
  // no listener -> ECONNREFUSED
  int fd = make_socket(c.family);
  sockaddr_in none = addr_of(c, uint16_t(c.port + 1));
  CHECK(connect(fd, (sockaddr*)&none, sizeof(none)) < 0 && errno == ECONNREFUSED, "connect without listener -> ECONNREFUSED");
  close(fd);

  // non-blocking connect refused
  fd = make_socket(c.family);
  fcntl(fd, F_SETFL, O_NONBLOCK);
  int r = connect(fd, (sockaddr*)&none, sizeof(none));
  CHECK(r < 0 && (errno == EINPROGRESS || errno == ECONNREFUSED), "non-blocking connect -> EINPROGRESS");
  pollfd p{fd, POLLOUT, 0};
  poll(&p, 1, 5000);
  int err = 0;
  socklen_t el = sizeof(err);
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
  CHECK((p.revents & (POLLERR | POLLHUP)) && (r == 0 || err == ECONNREFUSED || errno == ECONNREFUSED),
        "refused non-blocking connect: POLLERR|POLLHUP, SO_ERROR ECONNREFUSED");
  close(fd);

  // non-blocking connect accepted
  fd = make_socket(c.family);
  fcntl(fd, F_SETFL, O_NONBLOCK);
  sockaddr_in srv = addr_of(c, c.port);
  r = connect(fd, (sockaddr*)&srv, sizeof(srv));
  CHECK(r == 0 || errno == EINPROGRESS, "non-blocking connect to listener -> EINPROGRESS or 0");
  p = {fd, POLLOUT, 0};
  CHECK(poll(&p, 1, 5000) == 1 && (p.revents & POLLOUT) && !(p.revents & POLLERR), "connected: POLLOUT");
  err = -1;
  el = sizeof(err);
  CHECK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0, "connected: SO_ERROR 0");
  r = connect(fd, (sockaddr*)&srv, sizeof(srv));
  if (r == 0) r = connect(fd, (sockaddr*)&srv, sizeof(srv));
  CHECK(r < 0 && errno == EISCONN, "connect again -> EISCONN");
  sockaddr_in pa{};
  socklen_t pl = sizeof(pa);
  CHECK(getpeername(fd, (sockaddr*)&pa, &pl) == 0 && pa.sin_family == AF_INET && pa.sin_port == srv.sin_port &&
            pa.sin_addr.s_addr == srv.sin_addr.s_addr,
        "getpeername: the server's address and port");
  pl = sizeof(pa);
  CHECK(getsockname(fd, (sockaddr*)&pa, &pl) == 0 && pa.sin_family == AF_INET && pa.sin_port != 0,
        "getsockname: an ephemeral port");
  tcp_info ti{};
  socklen_t til = sizeof(ti);
  CHECK(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &til) == 0 && til > 0 && ti.tcpi_state == TCP_ESTABLISHED &&
            ti.tcpi_snd_mss > 0,
        "TCP_INFO: ESTABLISHED, an MSS");
  std::string l = "CLOSE\n";
  fcntl(fd, F_SETFL, 0);
  write_full(fd, l.data(), l.size());
  close(fd);

  if (c.ntb) {
    fd = make_socket(c.family);
    sockaddr_in off{};
    ntb_sockaddr(&off, "192.0.2.1", 9);  // TEST-NET-1: never in the table
    CHECK(connect(fd, (sockaddr*)&off, sizeof(off)) < 0 && (errno == ENETUNREACH), "connect off the fabric -> ENETUNREACH");
    close(fd);
  }
}

static void test_data(const Ctx& c) {
  int fd = conn_cmd(c, "ECHO");
  char b1 = 'a', r1 = 0;
  CHECK(send(fd, &b1, 1, 0) == 1 && recv(fd, &r1, 1, MSG_WAITALL) == 1 && r1 == 'a', "1-byte echo");
  for (size_t sz : {size_t(64), size_t(4096), size_t(65536), size_t(1 << 20)}) {
    std::vector<uint8_t> out(sz), in(sz);
    pattern_fill(out.data(), 0, sz, sz);
    std::thread w([&] { write_full(fd, out.data(), sz); });
    ssize_t n = recv(fd, in.data(), sz, MSG_WAITALL);
    w.join();
    std::string what = "echo " + std::to_string(sz) + " bytes, MSG_WAITALL, intact";
    CHECK(n == ssize_t(sz) && in == out, what.c_str());
  }
  // MSG_DONTWAIT on empty
  char x;
  CHECK(recv(fd, &x, 1, MSG_DONTWAIT) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK), "MSG_DONTWAIT on empty -> EAGAIN");
  int q = -1;
  CHECK(ioctl(fd, FIONREAD, &q) == 0 && q == 0, "FIONREAD 0 when empty");
  // FIONREAD, MSG_PEEK
  send(fd, "hello", 5, 0);
  pollfd p{fd, POLLIN, 0};
  CHECK(poll(&p, 1, 5000) == 1 && (p.revents & POLLIN), "poll POLLIN when data arrives");
  usleep(100000);
  CHECK(ioctl(fd, SIOCINQ, &q) == 0 && q == 5, "SIOCINQ counts 5 bytes");
  char pk[8] = {0};
  CHECK(recv(fd, pk, 5, MSG_PEEK) == 5 && !std::memcmp(pk, "hello", 5), "MSG_PEEK sees the data");
  std::memset(pk, 0, sizeof(pk));
  CHECK(recv(fd, pk, 5, 0) == 5 && !std::memcmp(pk, "hello", 5), "read after peek gets the same data");
  CHECK(ioctl(fd, SIOCOUTQ, &q) == 0 && q >= 0, "SIOCOUTQ");
  // select
  send(fd, "z", 1, 0);
  fd_set rs;
  FD_ZERO(&rs);
  FD_SET(fd, &rs);
  timeval tv{5, 0};
  CHECK(select(fd + 1, &rs, nullptr, nullptr, &tv) == 1 && FD_ISSET(fd, &rs), "select readable");
  recv(fd, &x, 1, 0);
  // MSG_MORE then flush
  send(fd, "ab", 2, MSG_MORE);
  send(fd, "cd", 2, 0);
  char m[4];
  CHECK(recv(fd, m, 4, MSG_WAITALL) == 4 && !std::memcmp(m, "abcd", 4), "MSG_MORE data arrives");
  // SO_RCVTIMEO
  timeval to{0, 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &to, sizeof(to));
  double t0 = now_s();
  ssize_t r = recv(fd, &x, 1, 0);
  double dt = now_s() - t0;
  CHECK(r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && dt > 0.15 && dt < 2.0, "SO_RCVTIMEO expires with EAGAIN");
  // sendfile (sendpage path)
  char tmpl[] = "/tmp/ntbconfXXXXXX";
  int tf = mkstemp(tmpl);
  std::vector<uint8_t> fdata(200000);
  pattern_fill(fdata.data(), 0, fdata.size(), 99);
  for (size_t w = 0; w < fdata.size();) {
    ssize_t k = write(tf, fdata.data() + w, fdata.size() - w);
    if (k <= 0) break;
    w += size_t(k);
  }
  unlink(tmpl);
  off_t off = 0;
  std::vector<uint8_t> back(fdata.size());
  std::thread rd([&] { recv(fd, back.data(), back.size(), MSG_WAITALL); });
  size_t sent = 0;
  while (sent < fdata.size()) {
    ssize_t s = sendfile(fd, tf, &off, fdata.size() - sent);
    if (s <= 0) break;
    sent += size_t(s);
  }
  rd.join();
  close(tf);
  CHECK(sent == fdata.size() && back == fdata, "sendfile 200000 bytes echoed intact");
  // epoll + shutdown(SHUT_WR): server echoes, then closes -> EPOLLRDHUP
  int ep = epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.fd = fd;
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  CHECK(shutdown(fd, SHUT_WR) == 0, "shutdown(SHUT_WR)");
  epoll_event got{};
  int ne = epoll_wait(ep, &got, 1, 5000);
  CHECK(ne == 1 && (got.events & EPOLLRDHUP), "epoll EPOLLRDHUP after peer closes");
  CHECK(recv(fd, &x, 1, 0) == 0, "recv -> 0 at EOF");
  CHECK(send(fd, "x", 1, MSG_NOSIGNAL) < 0 && errno == EPIPE, "send after SHUT_WR -> EPIPE");
  close(ep);
  close(fd);
}

static void test_close_paths(const Ctx& c) {
  // half close: we send, shut down, and still read the answer
  int fd = conn_cmd(c, "HALF");
  send(fd, "12345", 5, 0);
  shutdown(fd, SHUT_WR);
  std::string l;
  CHECK(read_line(fd, l) && l == "BYE 5", "half close: peer sees EOF and still answers");
  char x;
  CHECK(recv(fd, &x, 1, 0) == 0, "then EOF");
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  CHECK(poll(&p, 1, 1000) == 1 && (p.revents & POLLRDHUP) && (p.revents & POLLIN), "POLLIN|POLLRDHUP at EOF");
  close(fd);

  // data then close: all data, then EOF
  fd = conn_cmd(c, "SENDCLOSE 300000");
  std::vector<uint8_t> in(300000);
  ssize_t n = recv(fd, in.data(), in.size(), MSG_WAITALL);
  CHECK(n == 300000 && pattern_check(in.data(), 0, in.size(), 7) < 0, "peer's data before its close arrives intact");
  CHECK(recv(fd, &x, 1, 0) == 0, "EOF after the peer's close");
  // writes after the peer closed fail with EPIPE (maybe after a few)
  bool epipe = false;
  for (int i = 0; i < 200 && !epipe; i++) {
    if (send(fd, "x", 1, MSG_NOSIGNAL) < 0) epipe = (errno == EPIPE || errno == ECONNRESET);
    usleep(5000);
  }
  CHECK(epipe, "send after peer close -> EPIPE/ECONNRESET");
  close(fd);

  // SIGPIPE without MSG_NOSIGNAL
  fd = conn_cmd(c, "CLOSE");
  recv(fd, &x, 1, 0);
  g_sigpipe = 0;
  for (int i = 0; i < 200 && !g_sigpipe.load(); i++) {
    send(fd, "x", 1, 0);
    usleep(5000);
  }
  CHECK(g_sigpipe.load() > 0, "SIGPIPE without MSG_NOSIGNAL");
  close(fd);

  // reset: ECONNRESET
  fd = conn_cmd(c, "RESET");
  usleep(200000);
  ssize_t r = recv(fd, &x, 1, 0);
  int e = errno;
  CHECK(r < 0 && e == ECONNRESET, "peer abort (SO_LINGER 0) -> ECONNRESET");
  p = {fd, POLLIN, 0};
  poll(&p, 1, 100);
  CHECK(p.revents & POLLHUP, "POLLHUP after reset");
  close(fd);

  // send timeout on a full pipe
  fd = conn_cmd(c, "NOREAD 1500");
  timeval to{0, 200000};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &to, sizeof(to));
  std::vector<char> big(1 << 20);
  bool timed_out = false;
  for (int i = 0; i < 64 && !timed_out; i++) {
    ssize_t s = send(fd, big.data(), big.size(), MSG_NOSIGNAL);
    if (s < 0) {
      timed_out = (errno == EAGAIN || errno == EWOULDBLOCK);
      if (!timed_out) std::printf("     send: %s after %d\n", std::strerror(errno), i);
    } else if (size_t(s) < big.size()) {
      timed_out = true;  // partial: timed out after some
    }
  }
  CHECK(timed_out, "SO_SNDTIMEO on a full pipe -> EAGAIN or a short write");
  fcntl(fd, F_SETFL, O_NONBLOCK);
  bool again = false;
  for (int i = 0; i < 256 && !again; i++) {
    ssize_t s = send(fd, big.data(), big.size(), MSG_NOSIGNAL);
    if (s < 0) {
      again = errno == EAGAIN || errno == EWOULDBLOCK;
      if (!again) break;
    }
  }
  CHECK(again, "non-blocking send on full pipe -> EAGAIN");
  pollfd po{fd, POLLOUT, 0};
  CHECK(poll(&po, 1, 5000) == 1 && (po.revents & POLLOUT), "POLLOUT once the peer reads");
  close(fd);

  // many connections at once
  std::vector<int> fds;
  for (int i = 0; i < 32; i++) fds.push_back(conn_cmd(c, "ECHO"));
  bool ok = true;
  for (size_t i = 0; i < fds.size(); i++) {
    uint32_t v = uint32_t(i);
    ok = ok && send(fds[i], &v, 4, 0) == 4;
  }
  for (size_t i = 0; i < fds.size(); i++) {
    uint32_t w = ~0U;
    ok = ok && recv(fds[i], &w, 4, MSG_WAITALL) == 4 && w == i;
    close(fds[i]);
  }
  CHECK(ok, "32 connections at once, each its own stream");
}

static void test_integrity(const Ctx& c, uint64_t total, int conns) {
  uint64_t per = total / uint64_t(conns);
  std::vector<int> ok(size_t(conns), 0);
  std::vector<std::thread> ts;
  double t0 = now_s();
  for (int i = 0; i < conns; i++) {
    ts.emplace_back([&, i] {
      uint64_t seed = 1000 + uint64_t(i);
      int fd = conn_cmd(c, "VERIFY " + std::to_string(per) + " " + std::to_string(seed));
      std::vector<uint8_t> buf(256 * 1024);
      uint64_t sent = 0;
      while (sent < per) {
        size_t n = size_t(std::min<uint64_t>(buf.size(), per - sent));
        pattern_fill(buf.data(), sent, n, seed);
        if (!write_full(fd, buf.data(), n)) break;
        sent += n;
      }
      std::string l;
      ok[size_t(i)] = sent == per && read_line(fd, l) && l == "OK";
      close(fd);
    });
  }
  for (auto& t : ts) t.join();
  double dt = now_s() - t0;
  int good = 0;
  for (int v : ok) good += v;
  char what[160];
  std::snprintf(what, sizeof(what), "integrity: %llu MiB over %d connections verified (%.1f MB/s)",
                (unsigned long long)(total >> 20), conns, double(total) / dt / 1e6);
  CHECK(good == conns, what);
}

int main(int argc, char** argv) {
  bool server = false, loop = false, integrity = false, only = false;
  std::string host, fam = "inet";
  uint16_t port = 5600;
  uint64_t ibytes = 1ULL << 30;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--server") server = true;
    else if (a == "--client") host = next();
    else if (a == "--loopback") loop = true;
    else if (a == "--family") fam = next();
    else if (a == "--port") port = uint16_t(std::stoi(next()));
    else if (a == "--integrity") integrity = true;
    else if (a == "--integrity-only") integrity = only = true;
    else if (a == "--integrity-bytes") ibytes = std::stoull(next());
    else {
      std::fprintf(stderr, "usage: conformance --server|--client ADDR|--loopback [--family inet|ntb] [--port P] [--integrity|--integrity-only]\n");
      return 2;
    }
  }
  std::signal(SIGPIPE, [](int) { g_sigpipe++; });
  try {
    int family = family_from(fam);
    if (server) return run_server(family, port);
    std::thread st;
    if (loop) {
      host = "127.0.0.1";
      int lfd = -1;
      st = std::thread([&] { run_server(family, port, &lfd); });
      usleep(300000);
    }
    Ctx c{family, family != AF_INET, host, port};
    std::printf("conformance: family %s (%d), server %s:%u\n", fam.c_str(), family, host.c_str(), port);
    if (!only) {
      test_create(c);
      test_local(c);
      test_connect(c);
      test_data(c);
      test_close_paths(c);
    }
    if (integrity) test_integrity(c, ibytes, 8);
    if (loop) {
      int fd = conn_cmd(c, "QUIT");
      close(fd);
      st.join();
    }
  } catch (const std::exception& e) {
    std::printf("FAIL exception: %s\n", e.what());
    g_fail++;
  }
  std::printf("%d passed, %d failed\n", g_pass, g_fail);
  return g_fail ? 1 : 0;
}
