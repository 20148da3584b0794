// SPDX-License-Identifier: GPL-2.0 OR MIT
// Shared helpers for the socket tools and the conformance test: family
// selection, connect/listen, an accept loop, full reads and writes, line reads,
// a verifiable data pattern, percentiles.
#pragma once

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ntb_sockets.h"

#include <CLI/CLI.hpp>

namespace ntbtools {

/// The options every tool shares: which end it is, the family, where.
struct Endpoint {
  bool server = false, json = false, once = false;
  std::string host, bind_addr, family = "inet";
  uint16_t port = 0;
};

/// Adds the shared options to a tool's command line (CLI11).
inline void add_endpoint_options(CLI::App& app, Endpoint& e) {
  auto* srv = app.add_flag("--server", e.server, "serve (echo or sink) until killed, or one client with --once");
  auto* cli = app.add_option("--client", e.host, "connect to this address");
  srv->excludes(cli);
  app.add_option("--family", e.family, "inet (or tcp) or ntb (the NTB family)")->check(CLI::IsMember({"inet", "tcp", "ntb"}));
  app.add_option("--bind", e.bind_addr, "server: listen on this address");
  app.add_option("--port", e.port, "port")->capture_default_str();
  app.add_flag("--json", e.json, "client: print one JSON object");
  app.add_flag("--once", e.once, "server: serve one client, then exit");
}

/// Parses a tool's command line; a usage error exits with status 2.
inline void parse_or_exit(CLI::App& app, const Endpoint& e, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    if (e.server == e.host.empty()) return;
    throw CLI::ValidationError("give --server or --client ADDR");
  } catch (const CLI::ParseError& err) {
    const int rc = app.exit(err);
    std::exit(rc == 0 ? 0 : 2);
  }
}

inline int family_from(const std::string& name) {
  if (name == "inet" || name == "tcp") return AF_INET;
  if (name == "ntb") return ntb_family();
  throw std::runtime_error("unknown family '" + name + "' (inet|ntb)");
}

inline std::string errstr(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

inline int make_socket(int family) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(errstr("socket"));
  return fd;
}

inline void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

inline int listen_on(int family, const std::string& addr, uint16_t port, int backlog = 64) {
  int fd = make_socket(family);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in sin{};
  if (ntb_sockaddr(&sin, addr.c_str(), port)) throw std::runtime_error("bad address " + addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) < 0) throw std::runtime_error(errstr("bind"));
  if (listen(fd, backlog) < 0) throw std::runtime_error(errstr("listen"));
  return fd;
}

inline int connect_to(int family, const std::string& addr, uint16_t port) {
  int fd = make_socket(family);
  sockaddr_in sin{};
  if (ntb_sockaddr(&sin, addr.c_str(), port)) throw std::runtime_error("bad address " + addr);
  for (int tries = 0;; tries++) {
    if (connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) == 0) break;
    if (errno == ECONNREFUSED && tries < 50) {  // server not up yet
      close(fd);
      usleep(100000);
      fd = make_socket(family);
      continue;
    }
    throw std::runtime_error(errstr("connect"));
  }
  set_nodelay(fd);
  return fd;
}

inline bool write_full(int fd, const void* buf, size_t len) {
  auto p = static_cast<const char*>(buf);
  while (len) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= size_t(n);
  }
  return true;
}

// Returns bytes read: len, or less at EOF; -1 on error.
inline ssize_t read_full(int fd, void* buf, size_t len) {
  auto p = static_cast<char*>(buf);
  size_t got = 0;
  while (got < len) {
    ssize_t n = recv(fd, p + got, len - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    got += size_t(n);
  }
  return ssize_t(got);
}

// Data pattern: byte at stream offset p of stream `seed` is byte p%8 of
// splitmix64(seed + p/8).  Any chunking of the stream verifies the same.
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

inline void pattern_fill(uint8_t* buf, uint64_t off, size_t len, uint64_t seed) {
  size_t i = 0;
  while (i < len) {
    uint64_t pos = off + i;
    uint64_t w = splitmix64(seed + pos / 8);
    unsigned b = unsigned(pos % 8);
    if (b == 0 && len - i >= 8) {
      std::memcpy(buf + i, &w, 8);  // little-endian hosts
      i += 8;
      continue;
    }
    buf[i++] = uint8_t(w >> (8 * b));
  }
}

// Returns the offset of the first bad byte, or -1.
inline int64_t pattern_check(const uint8_t* buf, uint64_t off, size_t len, uint64_t seed) {
  uint8_t tmp[4096];
  for (size_t i = 0; i < len; i += sizeof(tmp)) {
    size_t n = std::min(sizeof(tmp), len - i);
    pattern_fill(tmp, off + i, n, seed);
    if (std::memcmp(tmp, buf + i, n)) {
      for (size_t j = 0; j < n; j++)
        if (tmp[j] != buf[i + j]) return int64_t(off + i + j);
    }
  }
  return -1;
}

inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  double idx = p / 100.0 * double(v.size() - 1);
  size_t lo = size_t(idx);
  size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (idx - double(lo));
}

inline double now_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

inline std::vector<size_t> parse_sizes(const std::string& s) {
  std::vector<size_t> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t end = s.find(',', pos);
    std::string tok = s.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    size_t mult = 1;
    if (!tok.empty() && (tok.back() == 'K' || tok.back() == 'k')) { mult = 1024; tok.pop_back(); }
    else if (!tok.empty() && (tok.back() == 'M' || tok.back() == 'm')) { mult = 1 << 20; tok.pop_back(); }
    out.push_back(size_t(std::stoull(tok)) * mult);
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return out;
}

/// One '\n'-terminated line (without it), at most `max` bytes; false on EOF,
/// error or an over-long line.
inline bool read_line(int fd, std::string& line, size_t max = 256) {
  line.clear();
  char c;
  while (line.size() < max) {
    ssize_t n = recv(fd, &c, 1, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    if (c == '\n') return true;
    line += c;
  }
  return false;
}

/// Accept connections on `lfd` and hand each to `handle` on its own thread;
/// with `once`, serve the first one on this thread and return.
template <typename Handler>
void serve(int lfd, Handler handle, bool once) {
  for (;;) {
    int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(errstr("accept"));
    }
    if (once) {
      handle(fd);
      return;
    }
    std::thread(handle, fd).detach();
  }
}

}  // namespace ntbtools
