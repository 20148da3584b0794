// SPDX-License-Identifier: GPL-2.0 OR MIT
// ntb_stream_bench: one-way streaming throughput of a stream socket,
// AF_INET (TCP) or the NTB family, over one or more connections.
//
//   server:  ntb_stream_bench --server [--family ntb] [--bind ADDR] [--port 5202] [--once]
//   client:  ntb_stream_bench --client ADDR [--family ntb] [--port 5202] [--conns 1]
//            [--msg 64K] [--seconds 5 | --bytes 1G] [--verify] [--json] [--report-errno]
//
// --report-errno: each connection that ends in a socket error prints
// "conn <i> errno <NAME> <seconds since start> sent <bytes>" on stdout (e.g. ECONNRESET
// when the peer's NTB device goes away mid-stream); the exit status is 1.
//
// Each client connection sends a header line "STREAM <seed> <verify>\n",
// then data (a per-connection pattern, so --verify checks every byte on the
// server), then shuts down its write side.  The server answers
// "<bytes> <first-bad-offset or -1>\n" after EOF.  Throughput counts from
// the first write to the last answer, so all data has been delivered.
#include <atomic>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.hpp"

using namespace ntbtools;


static void sink_conn(int fd) {
  std::string hdr;
  unsigned long long seed = 0;
  int verify = 0;
  if (!read_line(fd, hdr) || std::sscanf(hdr.c_str(), "STREAM %llu %d", &seed, &verify) != 2) {
    close(fd);
    return;
  }
  std::vector<uint8_t> buf(1 << 20);
  uint64_t total = 0;
  int64_t bad = -1;
  for (;;) {
    ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (verify && bad < 0) bad = pattern_check(buf.data(), total, size_t(n), seed);
    total += uint64_t(n);
  }
  std::string ans = std::to_string(total) + " " + std::to_string(bad) + "\n";
  write_full(fd, ans.data(), ans.size());
  close(fd);
}

struct Result {
  uint64_t sent = 0, acked = 0;
  int64_t bad = -1;
  std::string err;
  int errnum = 0;    // errno of the failed send/recv, 0 if none
  double err_t = 0;  // when (seconds since the first write)
};

int main(int argc, char** argv) {
  CLI::App app{"ntb_stream_bench: streaming throughput of a stream socket"};
  Endpoint e;
  e.port = 5202;
  bool verify = false, report_errno = false;
  std::string msg_s = "64K", bytes_s;
  double seconds = 5;
  int conns = 1;
  add_endpoint_options(app, e);
  app.add_option("--conns", conns, "client: connections at once")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--msg", msg_s, "client: message size (e.g. 64K)")->capture_default_str();
  app.add_option("--seconds", seconds, "client: how long to stream")->capture_default_str();
  app.add_option("--bytes", bytes_s, "client: stream this many bytes instead (K, M or G suffix)");
  app.add_flag("--verify", verify, "check the data pattern");
  app.add_flag("--report-errno", report_errno, "client: report the errno of a failed send or receive");
  parse_or_exit(app, e, argc, argv);
  const bool server = e.server, json = e.json, once = e.once;
  const std::string &host = e.host, &bind_addr = e.bind_addr, &fam = e.family;
  const uint16_t port = e.port;
  const size_t msg = parse_sizes(msg_s).at(0);
  uint64_t bytes = 0;
  if (!bytes_s.empty()) {
    std::string v = bytes_s;
    uint64_t mult = 1;
    const char unit = v.back();
    if (unit == 'G' || unit == 'g') mult = 1ULL << 30;
    else if (unit == 'M' || unit == 'm') mult = 1ULL << 20;
    else if (unit == 'K' || unit == 'k') mult = 1ULL << 10;
    if (mult != 1) v.pop_back();
    bytes = std::stoull(v) * mult;
  }
  if (msg == 0) {
    std::fprintf(stderr, "ntb_stream_bench: --msg must be at least 1 byte\n");
    return 2;
  }
  try {
    int family = family_from(fam);
    if (server) {
      int lfd = listen_on(family, bind_addr, port);
      std::fprintf(stderr, "ntb_stream_bench: listening on port %u (%s)\n", port, fam.c_str());
      serve(lfd, sink_conn, once);
      close(lfd);
      return 0;
    }

    std::vector<Result> res(static_cast<size_t>(conns));
    std::vector<int> fds;
    for (int c = 0; c < conns; c++) fds.push_back(connect_to(family, host, port));
    double t0 = now_s();
    double deadline = t0 + seconds;
    std::vector<std::thread> ts;
    for (int c = 0; c < conns; c++) {
      ts.emplace_back([&, c]() {
        Result& r = res[size_t(c)];
        int fd = fds[size_t(c)];
        uint64_t seed = 0x5eed0000ULL + uint64_t(c) * 0x100000001ULL;
        std::string hdr = "STREAM " + std::to_string(seed) + " " + (verify ? "1" : "0") + "\n";
        std::vector<uint8_t> buf(msg);
        if (!verify) pattern_fill(buf.data(), 0, msg, seed);
        auto fail = [&](const char* what) {
          r.errnum = errno;
          r.err_t = now_s() - t0;
          r.err = errstr(what);
        };
        if (!write_full(fd, hdr.data(), hdr.size())) { fail("send"); return; }
        for (;;) {
          if (bytes ? r.sent >= bytes : now_s() >= deadline) break;
          size_t n = bytes ? size_t(std::min<uint64_t>(msg, bytes - r.sent)) : msg;
          if (verify) pattern_fill(buf.data(), r.sent, n, seed);
          if (!write_full(fd, buf.data(), n)) { fail("send"); return; }
          r.sent += n;
        }
        shutdown(fd, SHUT_WR);
        std::string line;
        errno = 0;
        if (!read_line(fd, line)) {
          if (errno) fail("recv");
          else r.err = "no answer from server";
          return;
        }
        unsigned long long got = 0;
        long long bad = -1;
        std::sscanf(line.c_str(), "%llu %lld", &got, &bad);
        r.acked = got;
        r.bad = bad;
      });
    }
    for (auto& t : ts) t.join();
    double t1 = now_s();
    for (int fd : fds) close(fd);
    uint64_t sent = 0, acked = 0;
    int errors = 0;
    for (size_t c = 0; report_errno && c < res.size(); c++) {
      if (res[c].errnum)
        std::printf("conn %zu errno %s %.3f sent %llu\n", c, strerrorname_np(res[c].errnum), res[c].err_t,
                    (unsigned long long)res[c].sent);
    }
    for (auto& r : res) {
      sent += r.sent;
      acked += r.acked;
      if (!r.err.empty() || r.acked != r.sent || r.bad >= 0) errors++;
      if (!r.err.empty()) std::fprintf(stderr, "ntb_stream_bench: %s\n", r.err.c_str());
      if (r.bad >= 0) std::fprintf(stderr, "ntb_stream_bench: bad byte at offset %lld\n", (long long)r.bad);
    }
    double mbps = double(acked) / (t1 - t0) / 1e6;
    if (json) {
      char b[512];
      std::snprintf(b, sizeof(b),
                    "{\"tool\":\"ntb_stream_bench\",\"family\":\"%s\",\"conns\":%d,\"msg\":%zu,\"bytes\":%llu,"
                    "\"seconds\":%.3f,\"mb_per_s\":%.2f,\"verified\":%s,\"errors\":%d}",
                    fam.c_str(), conns, msg, (unsigned long long)acked, t1 - t0, mbps,
                    verify ? "true" : "false", errors);
      std::cout << b << std::endl;
    } else {
      std::printf("%s: %d conn(s), msg %zu, %llu bytes in %.3f s: %.2f MB/s%s, %d error(s)\n", fam.c_str(), conns,
                  msg, (unsigned long long)acked, t1 - t0, mbps, verify ? " (verified)" : "", errors);
    }
    return errors ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ntb_stream_bench: %s\n", e.what());
    return 1;
  }
}
