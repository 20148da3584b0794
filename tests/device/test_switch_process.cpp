// SPDX-License-Identifier: GPL-2.0-only
// The real switch process (ntblab-switch, two-node scenario) against scripted
// clients that misbehave on purpose: a DMA ring that would run for hours, a
// process out of file descriptors, a storm of malformed traffic. In each case
// the switch must keep answering a good node quickly, honour SIGTERM, and not
// leak. No QEMU, no guest.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include "link_codec.h"
#include "node_link_client.h"
#include "ntblab/model/dma.h"
#include "process.h"

using ntblab::cli::ChildProcess;
using namespace ntblab::sw;
using ntblab::test::connect_unix;
using ntblab::test::sealed_memfd;
using ntblab::test::send_with_fd;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

/// The device end of one node link, scripted.
class Node {
 public:
  explicit Node(const std::string& path) : fd_(connect_unix(path)) {}
  ~Node() {
    if (fd_ >= 0) close(fd_);
  }
  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  bool send_raw(const std::vector<uint8_t>& b, int pass_fd = -1) { return send_with_fd(fd_, b, pass_fd); }
  template <typename T>
  bool send(uint16_t type, const T& body, int pass_fd = -1) {
    return send_raw(enc_.encode(type, body, 0), pass_fd);
  }
  /// Next message within `timeout`, skipping IRQs; nullopt on EOF or timeout.
  std::optional<Message> recv(milliseconds timeout = milliseconds(5000)) {
    const auto until = Clock::now() + timeout;
    for (;;) {
      while (auto m = dec_.next())
        if (m->hdr.type != NL_IRQ) return m;
      auto left = std::chrono::duration_cast<milliseconds>(until - Clock::now()).count();
      pollfd p{fd_, POLLIN, 0};
      if (left <= 0 || poll(&p, 1, int(left)) <= 0) return std::nullopt;
      uint8_t buf[4096];
      ssize_t r = read(fd_, buf, sizeof buf);
      if (r <= 0) return std::nullopt;
      dec_.feed(buf, size_t(r));
    }
  }
  /// HELLO for `node`/`function` with one RAM region of `ram_size` bytes in `ram_fd`.
  bool hello(const char* node, uint32_t function, int ram_fd, uint64_t ram_size) {
    nl_hello h{};
    h.magic = NL_MAGIC;
    h.version = NL_VERSION;
    std::memcpy(h.node, node, std::min(std::strlen(node), size_t{NL_NAME_LEN}));
    h.function = function;
    h.n_ram = 1;
    h.n_fds = 1;
    h.ram[0] = {0, ram_size, 0, 0, 0};
    if (!send(NL_HELLO, h, ram_fd)) return false;
    auto m = recv();
    return m && m->hdr.type == NL_WELCOME;
  }
  std::optional<uint64_t> cfg_read(uint32_t off, uint32_t size, milliseconds timeout = milliseconds(5000)) {
    const uint32_t tag = ++tag_;
    if (!send(NL_CFG_READ, nl_cfg_read{tag, off, size, 0})) return std::nullopt;
    auto m = recv(timeout);
    if (!m || m->hdr.type != NL_COMPLETION || m->as<nl_completion>().tag != tag) return std::nullopt;
    return m->as<nl_completion>().data;
  }
  bool cfg_write(uint32_t off, uint32_t size, uint32_t value) {
    return send(NL_CFG_WRITE, nl_cfg_write{off, size, value, 0});
  }
  bool mmio_write(unsigned bar, uint64_t off, uint32_t size, uint32_t value) {
    std::vector<uint8_t> b(sizeof(nl_mmio_write) + size);
    nl_mmio_write h{bar, size, off};
    std::memcpy(b.data(), &h, sizeof h);
    std::memcpy(b.data() + sizeof h, &value, size);
    return send_raw(enc_.encode(NL_MMIO_WRITE, b.data(), uint32_t(b.size()), 0));
  }
  std::optional<uint64_t> mmio_read(unsigned bar, uint64_t off, uint32_t size,
                                    milliseconds timeout = milliseconds(5000)) {
    const uint32_t tag = ++tag_;
    if (!send(NL_MMIO_READ, nl_mmio_read{tag, bar, off, size, 0})) return std::nullopt;
    auto m = recv(timeout);
    if (!m || m->hdr.type != NL_COMPLETION || m->as<nl_completion>().tag != tag) return std::nullopt;
    return m->as<nl_completion>().data;
  }

 private:
  int fd_;
  uint32_t tag_ = 0;
  FrameEncoder enc_;
  FrameDecoder dec_{false};
};

/// A good node0: NT function, welcomed, answers reads.
struct GoodNode {
  explicit GoodNode(const std::string& dir) : ram(sealed_memfd(kRam)), link(dir + "/node0.nt.sock") {}
  ~GoodNode() { close(ram); }
  static constexpr uint64_t kRam = 4 << 20;
  int ram;
  Node link;
};

struct SwitchProcessTest : ::testing::Test {
  void SetUp() override {
    dir = "/tmp/ntblab-swproc-" + std::to_string(getpid());
    fs::create_directories(dir);
  }
  void TearDown() override {
    if (sw.pid() > 0) sw.stop(2000);
    fs::remove_all(dir);
  }
  void start(const std::vector<std::string>& extra = {}) {
    std::string bin = std::getenv("NTBLAB_SWITCH") ? std::getenv("NTBLAB_SWITCH") : NTBLAB_SWITCH_PATH;
    std::vector<std::string> argv{bin, "--scenario", std::string(NTBLAB_SOURCE_DIR) + "/scenarios/two-node.yaml",
                                  "--socket-dir", dir, "--log", dir + "/switch.log"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    sw = ChildProcess::spawn(argv, "", dir + "/switch.err", true);
    std::string line;
    ASSERT_TRUE(sw.read_line(line, 30000) && line == "ready") << switch_log();
  }
  std::string switch_log() {
    std::ifstream in(dir + "/switch.log"), err(dir + "/switch.err");
    std::stringstream s;
    s << in.rdbuf() << err.rdbuf();
    return s.str();
  }
  /// Seconds of CPU the switch process used so far (all threads).
  double cpu_seconds() {
    std::ifstream in("/proc/" + std::to_string(sw.pid()) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), {});
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));
    std::string f;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> f; ++i) {
      if (i == 14) utime = std::stoull(f);
      if (i == 15) stime = std::stoull(f);
    }
    return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
  }
  size_t open_fds() {
    size_t n = 0;
    for ([[maybe_unused]] auto& e : fs::directory_iterator("/proc/" + std::to_string(sw.pid()) + "/fd")) ++n;
    return n;
  }
  uint64_t rss_kib() {
    std::ifstream in("/proc/" + std::to_string(sw.pid()) + "/status");
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
    return 0;
  }
  /// SIGTERM; success if the switch exited by itself (status 0) within `bound`.
  ::testing::AssertionResult terminates_within(milliseconds bound) {
    kill(sw.pid(), SIGTERM);
    const auto until = Clock::now() + bound;
    while (Clock::now() < until) {
      if (!sw.running()) {
        if (sw.status() == 0) return ::testing::AssertionSuccess();
        return ::testing::AssertionFailure() << "the switch ended with " << sw.how() << "\n" << switch_log();
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
    return ::testing::AssertionFailure() << "the switch still runs " << bound.count() << " ms after SIGTERM\n"
                                         << switch_log();
  }
  std::string dir;
  ChildProcess sw;
};

}  // namespace

TEST_F(SwitchProcessTest, HugeDmaRingDoesNotStallTheSwitch) {
  start();
  // node0's DMA function, its guest RAM 130 MiB: data at 0, the ring at 128 MiB.
  constexpr uint64_t kRam = 130ull << 20, kRing = 128ull << 20;
  constexpr uint32_t kCount = 65535;
  int ram = sealed_memfd(kRam);
  ASSERT_GE(ram, 0);
  {
    auto* ring = static_cast<uint8_t*>(mmap(nullptr, kCount * 16, PROT_READ | PROT_WRITE, MAP_SHARED, ram, kRing));
    ASSERT_NE(ring, MAP_FAILED);
    for (uint32_t i = 0; i < kCount; ++i) {  // every descriptor: 128 MiB - 1 from 0 to 0
      const uint32_t flags = ntblab::model::dma::kDescValid | ntblab::model::dma::kDescSizeMask;
      std::memset(ring + i * 16, 0, 16);
      std::memcpy(ring + i * 16, &flags, 4);
    }
    munmap(ring, kCount * 16);
  }
  Node dma(dir + "/node0.dma.sock");
  ASSERT_TRUE(dma.hello("node0", NL_FN_DMA, ram, kRam)) << switch_log();
  using namespace ntblab::model::dma;
  ASSERT_TRUE(dma.cfg_write(0x10, 4, 0xE0000000));  // BAR0
  ASSERT_TRUE(dma.cfg_write(0x04, 2, 0x0006));      // memory space, bus master
  dma.mmio_write(0, kRingAddrLo, 4, uint32_t(kRing));
  dma.mmio_write(0, kRingAddrHi, 4, 0);
  dma.mmio_write(0, kRingNext, 4, uint32_t(kRing));
  dma.mmio_write(0, kRingCount, 4, kCount);
  dma.mmio_write(0, kCtrl, 2, kCtrlWriteBackEn | (kDescModeOffChip << kCtrlDescModeShift) | kCtrlStart);

  // Another node is served while the ring runs: each read within a second.
  Node node1(dir + "/node1.nt.sock");
  int ram1 = sealed_memfd(4 << 20);
  const auto t_hello = Clock::now();
  ASSERT_TRUE(node1.hello("node1", NL_FN_NT, ram1, 4 << 20)) << switch_log();
  EXPECT_LT(Clock::now() - t_hello, milliseconds(1000));
  milliseconds worst{0};
  for (int i = 0; i < 10; ++i) {
    const auto t0 = Clock::now();
    auto v = node1.cfg_read(0x00, 4, milliseconds(3000));
    ASSERT_TRUE(v) << "read " << i << " unanswered\n" << switch_log();
    EXPECT_EQ(*v, 0x87b010b5u);
    worst = std::max(worst, std::chrono::duration_cast<milliseconds>(Clock::now() - t0));
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_LT(worst, milliseconds(1000));
  std::cout << "slowest read while the ring runs: " << worst.count() << " ms\n";
  // The DMA node itself is answered too, and its channel is still at work.
  auto ctrl = dma.mmio_read(0, kCtrl, 4, milliseconds(3000));
  ASSERT_TRUE(ctrl);
  EXPECT_TRUE(*ctrl & (uint32_t(kCtrl2InProgress) << 16)) << std::hex << *ctrl;

  // SIGTERM is honoured mid-ring.
  EXPECT_TRUE(terminates_within(milliseconds(3000)));
  close(ram);
  close(ram1);
}

TEST_F(SwitchProcessTest, OutOfDescriptorsBacksOffAndRecovers) {
  start();
  // Leave the switch three descriptors, then take them with Ethernet hub ports.
  rlimit lim{};
  ASSERT_EQ(prlimit(sw.pid(), RLIMIT_NOFILE, nullptr, &lim), 0);
  const size_t base = open_fds();
  lim.rlim_cur = base + 3;
  ASSERT_EQ(prlimit(sw.pid(), RLIMIT_NOFILE, &lim, nullptr), 0);
  std::vector<int> hub;
  for (int i = 0; i < 10; ++i) hub.push_back(connect_unix(dir + "/eth.sock"));  // some wait in the queue
  for (int i = 0; i < 100 && open_fds() < base + 3; ++i) std::this_thread::sleep_for(milliseconds(10));
  EXPECT_GE(open_fds(), base + 3);  // the hub took what was left (some ports wait in its queue)
  // A node arrives now: its connection waits in the listener's queue.
  GoodNode node(dir);
  ASSERT_TRUE(node.link.connected());
  std::this_thread::sleep_for(milliseconds(200));

  const double cpu0 = cpu_seconds();
  std::this_thread::sleep_for(milliseconds(1500));
  const double used = cpu_seconds() - cpu0;
  EXPECT_LT(used, 0.3) << "the switch spins on listeners it cannot accept from";
  EXPECT_TRUE(sw.running());

  for (int fd : hub) close(fd);  // descriptors free up: the waiting node is served
  EXPECT_TRUE(node.link.hello("node0", NL_FN_NT, node.ram, GoodNode::kRam)) << switch_log();
  auto v = node.link.cfg_read(0x00, 4);
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 0x87b010b5u);
  EXPECT_NE(switch_log().find("node0: cannot accept a connection (Too many open files)"), std::string::npos)
      << switch_log();
  EXPECT_TRUE(terminates_within(milliseconds(3000)));
}

namespace {
/// One round of hostile traffic on a random link of node1 (or the hub, or
/// node0's occupied NT socket), chosen by `rng`.
void hostile_round(const std::string& dir, std::mt19937_64& rng) {
  static const char* kTargets[] = {"node1.nt.sock", "node1.dma.sock", "eth.sock", "node0.nt.sock"};
  auto pick = [&](uint64_t n) { return rng() % n; };
  const std::string target = kTargets[pick(4)];
  const bool dma = target == "node1.dma.sock";
  Node n(dir + "/" + target);
  if (!n.connected()) return;
  std::vector<uint8_t> junk(1 + pick(9000));
  for (auto& b : junk) b = uint8_t(rng());
  switch (pick(7)) {
    case 0:  // noise
      n.send_raw(junk);
      break;
    case 1: {  // a header of any type and length, then noise
      nl_hdr h{uint16_t(pick(12)), 0, uint32_t(pick(2) ? pick(9000) : rng()), 0, 0, 0};
      std::vector<uint8_t> b(sizeof h);
      std::memcpy(b.data(), &h, sizeof h);
      b.insert(b.end(), junk.begin(), junk.end());
      n.send_raw(b);
      break;
    }
    case 2:  // part of a header, held for a while
      n.send_raw(std::vector<uint8_t>(junk.begin(), junk.begin() + long(std::min<size_t>(junk.size(), pick(24)))));
      std::this_thread::sleep_for(milliseconds(pick(1500)));
      break;
    case 3: {  // HELLO with a RAM file that is not sealed (or lies about its size)...
      int fd = memfd_create("unsealed", MFD_CLOEXEC);
      if (ftruncate(fd, 1 << 20) == 0 &&
          n.hello("node1", dma ? NL_FN_DMA : NL_FN_NT, fd, pick(2) ? 1 << 20 : 1ull << 40) &&
          ftruncate(fd, 0) == 0 && dma) {  // ...shrunk if welcomed, then read by a DMA run
        using namespace ntblab::model::dma;
        n.cfg_write(0x10, 4, 0xE0000000);
        n.cfg_write(0x04, 2, 0x0006);
        n.mmio_write(0, kRingAddrLo, 4, 0x1000);
        n.mmio_write(0, kRingNext, 4, 0x1000);
        n.mmio_write(0, kRingCount, 4, 16);
        n.mmio_write(0, kCtrl, 2, (kDescModeOffChip << kCtrlDescModeShift) | kCtrlStart);
      }
      close(fd);
      break;
    }
    case 4:  // connect and leave
      break;
    default: {  // a proper HELLO, then random requests (DMA starts included)
      const uint64_t ram_size = 1 << 20;
      int fd = sealed_memfd(ram_size);
      if (fd < 0) return;
      void* p = mmap(nullptr, ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (p != MAP_FAILED) {
        for (size_t i = 0; i < ram_size / 8; ++i) static_cast<uint64_t*>(p)[i] = rng();
        munmap(p, ram_size);
      }
      if (n.hello("node1", dma ? NL_FN_DMA : NL_FN_NT, fd, ram_size)) {
        if (dma) {
          n.cfg_write(0x10, 4, 0xE0000000);
          n.cfg_write(0x04, 2, 0x0006);
        }
        const int requests = int(pick(200));
        for (int i = 0; i < requests; ++i) {
          switch (pick(5)) {
            case 0: n.cfg_write(uint32_t(pick(4096)), 1u << pick(3), uint32_t(rng())); break;
            case 1: n.send(NL_CFG_READ, nl_cfg_read{uint32_t(i), uint32_t(pick(4096)), 1u << pick(3), 0}); break;
            case 2: n.mmio_write(unsigned(pick(6)), dma ? 0x200 + pick(0x40) : pick(1 << 18), 1u << pick(3),
                                 uint32_t(rng())); break;
            case 3: n.send(NL_MMIO_READ, nl_mmio_read{uint32_t(i), uint32_t(pick(6)), pick(1 << 18), 1u << pick(4), 0}); break;
            default: n.mmio_write(0, ntblab::model::dma::kCtrl, 2, uint32_t(rng())); break;  // START, pause, abort...
          }
        }
        n.recv(milliseconds(pick(50)));  // read a little, or not
        if (pick(4) == 0) n.send(NL_BYE, std::array<uint8_t, 0>{});
      }
      close(fd);
      break;
    }
  }
}
}  // namespace

TEST_F(SwitchProcessTest, SoakWithMalformedTrafficKeepsServingAndLeaksNothing) {
  start({"--hello-timeout-ms", "1000"});
  GoodNode good(dir);
  ASSERT_TRUE(good.link.hello("node0", NL_FN_NT, good.ram, GoodNode::kRam)) << switch_log();
  ASSERT_TRUE(good.link.cfg_read(0x00, 4));
  std::this_thread::sleep_for(milliseconds(200));
  const size_t fds_before = open_fds();
  const uint64_t rss_before = rss_kib();

  std::atomic<bool> stop{false};
  std::atomic<unsigned> rounds{0};
  std::vector<std::thread> clients;
  for (unsigned t = 0; t < 4; ++t)
    clients.emplace_back([&, t] {
      std::mt19937_64 rng(0x5eed0000 + t);
      while (!stop) {
        hostile_round(dir, rng);
        ++rounds;
      }
    });
  const auto until = Clock::now() + std::chrono::seconds(25);
  milliseconds worst{0};
  int unanswered = 0;
  while (Clock::now() < until) {
    const auto t0 = Clock::now();
    auto v = good.link.cfg_read(0x00, 4, milliseconds(3000));
    if (!v || *v != 0x87b010b5u) ++unanswered;
    worst = std::max(worst, std::chrono::duration_cast<milliseconds>(Clock::now() - t0));
    if (!sw.running()) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  stop = true;
  for (auto& c : clients) c.join();
  ASSERT_TRUE(sw.running()) << switch_log();
  EXPECT_EQ(unanswered, 0);
  EXPECT_LT(worst, milliseconds(1000));
  EXPECT_GT(rounds, 100u);

  // Everything the storm opened is closed again (the HELLO deadline is 1 s).
  for (int i = 0; i < 300 && open_fds() != fds_before; ++i) std::this_thread::sleep_for(milliseconds(10));
  EXPECT_EQ(open_fds(), fds_before) << switch_log().substr(0, 4000);
  EXPECT_LT(rss_kib(), rss_before + 64 * 1024) << "RSS " << rss_before << " KiB -> " << rss_kib() << " KiB";
  auto v = good.link.cfg_read(0x00, 4);
  ASSERT_TRUE(v);
  std::ifstream log(dir + "/switch.log");
  std::string text((std::istreambuf_iterator<char>(log)), {});
  EXPECT_LT(text.size(), 200u * 1024) << "the log is throttled";
  EXPECT_NE(text.find("similar messages suppressed"), std::string::npos);
  std::cout << rounds << " hostile rounds; slowest good read " << worst.count() << " ms; fds " << fds_before
            << " -> " << open_fds() << "; RSS " << rss_before << " -> " << rss_kib() << " KiB; log "
            << text.size() << " bytes\n";
  EXPECT_TRUE(terminates_within(milliseconds(3000)));
}
