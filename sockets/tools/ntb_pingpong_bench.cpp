// SPDX-License-Identifier: GPL-2.0 OR MIT
// ntb_pingpong_bench: round-trip latency of a stream socket, AF_INET (TCP,
// TCP_NODELAY) or the NTB family, message sizes 1 B .. 64 KiB.
//
//   server:  ntb_pingpong_bench --server [--family ntb] [--bind ADDR] [--port 5201] [--once]
//   client:  ntb_pingpong_bench --client ADDR [--family ntb] [--port 5201]
//            [--sizes 1,64,1K,4K,16K,64K] [--iters 1000] [--warmup 100] [--json]
//
// The server echoes every byte it reads.  The client times each round trip
// of one message and prints min/mean/p50/p99/max per size; --json prints one
// JSON object with the same, plus rtt64_p50_us when 64 B was measured.
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.hpp"

using namespace ntbtools;

static void echo_conn(int fd) {
  std::vector<char> buf(256 * 1024);
  set_nodelay(fd);
  for (;;) {
    ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (!write_full(fd, buf.data(), size_t(n))) break;
  }
  close(fd);
}

int main(int argc, char** argv) {
  CLI::App app{"ntb_pingpong_bench: round-trip latency of a stream socket"};
  Endpoint e;
  e.port = 5201;
  std::string sizes_s = "1,64,1K,4K,16K,64K";
  long iters = 1000, warmup = 100;
  add_endpoint_options(app, e);
  app.add_option("--sizes", sizes_s, "client: message sizes")->capture_default_str();
  app.add_option("--iters", iters, "client: round trips per size")->capture_default_str();
  app.add_option("--warmup", warmup, "client: round trips not counted")->capture_default_str();
  parse_or_exit(app, e, argc, argv);
  const bool server = e.server, json = e.json, once = e.once;
  const std::string &host = e.host, &bind_addr = e.bind_addr, &fam = e.family;
  const uint16_t port = e.port;
  try {
    int family = family_from(fam);
    if (server) {
      int lfd = listen_on(family, bind_addr, port);
      std::fprintf(stderr, "ntb_pingpong_bench: listening on port %u (%s)\n", port, fam.c_str());
      serve(lfd, echo_conn, once);
      close(lfd);
      return 0;
    }

    std::vector<size_t> sizes = parse_sizes(sizes_s);
    int fd = connect_to(family, host, port);
    size_t maxs = *std::max_element(sizes.begin(), sizes.end());
    std::vector<char> out(maxs, 'x'), in(maxs);
    std::string js = "{\"tool\":\"ntb_pingpong_bench\",\"family\":\"" + fam + "\",\"iters\":" +
                     std::to_string(iters) + ",\"results\":[";
    double rtt64 = -1;
    for (size_t si = 0; si < sizes.size(); si++) {
      size_t s = sizes[si];
      std::vector<double> us;
      us.reserve(size_t(iters));
      for (long k = 0; k < warmup + iters; k++) {
        double t0 = now_s();
        if (!write_full(fd, out.data(), s) || read_full(fd, in.data(), s) != ssize_t(s))
          throw std::runtime_error(errstr("round trip"));
        double t1 = now_s();
        if (k >= warmup) us.push_back((t1 - t0) * 1e6);
      }
      double sum = 0;
      for (double v : us) sum += v;
      double p50 = percentile(us, 50), p99 = percentile(us, 99);
      double mn = *std::min_element(us.begin(), us.end()), mx = *std::max_element(us.begin(), us.end());
      if (s == 64) rtt64 = p50;
      if (json) {
        char b[256];
        std::snprintf(b, sizeof(b),
                      "%s{\"size\":%zu,\"min_us\":%.2f,\"mean_us\":%.2f,\"p50_us\":%.2f,\"p99_us\":%.2f,\"max_us\":%.2f}",
                      si ? "," : "", s, mn, sum / double(us.size()), p50, p99, mx);
        js += b;
      } else {
        std::printf("%-7s size %6zu  min %9.2f  mean %9.2f  p50 %9.2f  p99 %9.2f  max %9.2f us\n",
                    fam.c_str(), s, mn, sum / double(us.size()), p50, p99, mx);
      }
    }
    close(fd);
    if (json) {
      js += "]";
      if (rtt64 >= 0) {
        char b[64];
        std::snprintf(b, sizeof(b), ",\"rtt64_p50_us\":%.2f", rtt64);
        js += b;
      }
      std::cout << js << "}" << std::endl;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ntb_pingpong_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
