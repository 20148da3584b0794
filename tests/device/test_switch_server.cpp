// SPDX-License-Identifier: GPL-2.0-only
// The switch process's server against a scripted device: handshake, reads,
// posted writes into shared guest RAM, interrupts, and malformed or hostile
// devices — which lose their own link and nothing else.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include "node_link_client.h"
#include "server.h"

using namespace ntblab::sw;

namespace {

constexpr uint64_t kRamSize = 1 << 20;

/// A backend that records what reaches it: BAR0 is a 4 KiB register file,
/// BAR2 writes go to guest RAM at offset 0x1000 + offset.
class RecordingBackend : public NodeBackend {
 public:
  std::optional<nl_welcome> attach(unsigned node, const nl_hello&, std::unique_ptr<GuestRam> ram,
                                   std::string&) override {
    std::lock_guard<std::mutex> g(mu);
    rams[node] = std::move(ram);
    nl_welcome w{};
    w.magic = NL_MAGIC;
    w.version = NL_VERSION;
    w.node_index = node;
    w.vendor_id = 0x10b5;
    w.device_id = 0x87b0;
    w.bar[0] = {256 * 1024, 0, 0};
    return w;
  }
  uint32_t cfg_read(unsigned, uint32_t offset, uint32_t) override { return 0xC0DE0000 | offset; }
  void cfg_write(unsigned, uint32_t offset, uint32_t, uint32_t value) override { last_cfg = {offset, value}; }
  bool mmio_read(unsigned node, unsigned bar, uint64_t offset, uint32_t size, uint64_t& data) override {
    if (bar != 0 || offset + size > sizeof regs) return false;
    data = 0;
    std::memcpy(&data, regs + offset, size);
    return true;
  }
  void mmio_write(unsigned node, unsigned bar, uint64_t offset, const uint8_t* data, uint32_t size) override {
    std::lock_guard<std::mutex> g(mu);
    if (bar == 0 && offset + size <= sizeof regs) std::memcpy(regs + offset, data, size);
    if (bar == 0 && offset == kDoorbell && server) server->send_irq(node, data[0] != 0);
    if (bar == 2 && rams[node]) rams[node]->write(0x1000 + offset, data, size);
    ++writes;
  }
  void detach(unsigned node) override {
    std::lock_guard<std::mutex> g(mu);
    rams[node].reset();
    ++detached[node];
  }
  std::mutex mu;
  uint8_t regs[4096] = {};
  std::unique_ptr<GuestRam> rams[4];
  std::atomic<int> detached[4] = {};
  std::atomic<int> writes{0};
  std::pair<uint32_t, uint32_t> last_cfg{};
  Server* server = nullptr;  // to raise interrupts from inside the loop, as the model does
  static constexpr uint64_t kDoorbell = 0xC4C;
};

/// A minimal device end of a node link, blocking, for tests.
class TestDevice {
 public:
  /// `sealed`: the RAM file carries the seals QEMU's memory-backend-memfd sets.
  explicit TestDevice(const std::string& path, bool sealed = true) {
    for (int i = 0; i < 200; ++i) {
      if ((fd = ntblab::test::connect_unix(path)) >= 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ramfd = memfd_create("guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    EXPECT_EQ(ftruncate(ramfd, kRamSize), 0);
    if (sealed) {
      EXPECT_EQ(fcntl(ramfd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL), 0);
    }
    ram = static_cast<uint8_t*>(mmap(nullptr, kRamSize, PROT_READ | PROT_WRITE, MAP_SHARED, ramfd, 0));
  }
  ~TestDevice() {
    munmap(ram, kRamSize);
    close(ramfd);
    if (fd >= 0) close(fd);
  }
  void send_raw(const std::vector<uint8_t>& b, int pass_fd = -1) {
    ASSERT_TRUE(ntblab::test::send_with_fd(fd, b, pass_fd));
  }
  template <typename T>
  void send(uint16_t type, const T& body, int pass_fd = -1) { send_raw(enc.encode(type, body, 0), pass_fd); }
  nl_hello hello(const char* name, uint64_t region_size = kRamSize) {
    nl_hello h{};
    h.magic = NL_MAGIC;
    h.version = NL_VERSION;
    std::memcpy(h.node, name, std::min(std::strlen(name), size_t{NL_NAME_LEN}));
    h.n_ram = 1;
    h.n_fds = 1;
    h.ram[0] = {0, region_size, 0, 0, 0};
    return h;
  }
  /// Next message, or nullopt on EOF/timeout/error.
  std::optional<Message> recv() {
    for (;;) {
      if (auto m = dec.next()) return m;
      uint8_t buf[4096];
      ssize_t r = read(fd, buf, sizeof buf);
      if (r <= 0) return std::nullopt;
      dec.feed(buf, static_cast<size_t>(r));
    }
  }
  int fd = -1, ramfd = -1;
  uint8_t* ram = nullptr;
  FrameEncoder enc;
  FrameDecoder dec{false};
};

struct ServerFixture : ::testing::Test {
  void SetUp() override {
    dir = "/tmp/ntblab-test-" + std::to_string(getpid());
    mkdir(dir.c_str(), 0700);
    server = std::make_unique<Server>(
        std::vector<NodeEndpoint>{{"node0", NL_FN_NT, dir + "/node0.sock"}, {"node1", NL_FN_NT, dir + "/node1.sock"}}, backend);
    server->log = [this](const std::string& s) {
      std::lock_guard<std::mutex> g(log_mu);
      log += s + "\n";
    };
    server->hello_timeout = std::chrono::milliseconds(300);
    backend.server = server.get();
    thread = std::thread([this] { server->run(); });
  }
  void TearDown() override {
    shutdown();
    server.reset();
    rmdir(dir.c_str());
  }
  void shutdown() {
    if (stopped) return;
    server->stop();
    thread.join();
    stopped = true;
  }
  std::string logged() {
    std::lock_guard<std::mutex> g(log_mu);
    return log;
  }
  bool wait_for(const std::function<bool()>& cond) {
    for (int i = 0; i < 500 && !cond(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return cond();
  }
  std::string dir;
  RecordingBackend backend;
  std::unique_ptr<Server> server;
  std::thread thread;
  bool stopped = false;
  std::mutex log_mu;
  std::string log;
};

void welcome(TestDevice& d, const char* name) {
  d.send(NL_HELLO, d.hello(name), d.ramfd);
  auto m = d.recv();
  ASSERT_TRUE(m);
  ASSERT_EQ(m->hdr.type, NL_WELCOME);
  EXPECT_EQ(m->as<nl_welcome>().device_id, 0x87b0);
}

}  // namespace

TEST_F(ServerFixture, HandshakeReadsAndPostedWritesIntoGuestRam) {
  TestDevice d(dir + "/node0.sock");
  welcome(d, "node0");
  uint32_t v = 0xA5A5F00D;
  std::vector<uint8_t> w(sizeof(nl_mmio_write) + 4);
  nl_mmio_write hdr{0, 4, 0x40};
  std::memcpy(w.data(), &hdr, sizeof hdr);
  std::memcpy(w.data() + sizeof hdr, &v, 4);
  d.send_raw(d.enc.encode(NL_MMIO_WRITE, w.data(), static_cast<uint32_t>(w.size()), 0));
  d.send(NL_MMIO_READ, nl_mmio_read{42, 0, 0x40, 4, 0});
  auto c = d.recv();
  ASSERT_TRUE(c);
  ASSERT_EQ(c->hdr.type, NL_COMPLETION);
  EXPECT_EQ(c->as<nl_completion>().tag, 42u);
  EXPECT_EQ(c->as<nl_completion>().status, NL_STATUS_OK);
  EXPECT_EQ(c->as<nl_completion>().data, v);  // the posted write was applied first

  // A BAR2 write lands in the device's own shared RAM, written by the switch process.
  hdr = {2, 4, 0x20};
  std::memcpy(w.data(), &hdr, sizeof hdr);
  d.send_raw(d.enc.encode(NL_MMIO_WRITE, w.data(), static_cast<uint32_t>(w.size()), 0));
  d.send(NL_CFG_READ, nl_cfg_read{1, 0xC8C, 4, 0});
  c = d.recv();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->as<nl_completion>().data, 0xC0DE0C8Cu);
  uint32_t landed;
  std::memcpy(&landed, d.ram + 0x1020, 4);
  EXPECT_EQ(landed, v);

  // Unsupported request completes with all ones.
  d.send(NL_MMIO_READ, nl_mmio_read{43, 4, 0, 8, 0});
  c = d.recv();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->as<nl_completion>().status, NL_STATUS_UR);
  EXPECT_EQ(c->as<nl_completion>().data, ~0ull);
}

TEST_F(ServerFixture, InterruptsReachTheDevice) {
  TestDevice d(dir + "/node1.sock");
  welcome(d, "node1");
  std::vector<uint8_t> w(sizeof(nl_mmio_write) + 4, 0);
  nl_mmio_write hdr{0, 4, RecordingBackend::kDoorbell};
  std::memcpy(w.data(), &hdr, sizeof hdr);
  w[sizeof hdr] = 1;
  d.send_raw(d.enc.encode(NL_MMIO_WRITE, w.data(), static_cast<uint32_t>(w.size()), 0));
  auto m = d.recv();
  ASSERT_TRUE(m);
  ASSERT_EQ(m->hdr.type, NL_IRQ);
  EXPECT_EQ(m->as<nl_irq>().level, 1u);
}

TEST_F(ServerFixture, MalformedMessageClosesOnlyThatLink) {
  TestDevice good(dir + "/node0.sock"), bad(dir + "/node1.sock");
  welcome(good, "node0");
  welcome(bad, "node1");
  nl_hdr h{NL_MMIO_WRITE, 0, 1u << 30, 1, 0, 0};  // a 1 GiB body: refused from the header
  std::vector<uint8_t> b(sizeof h);
  std::memcpy(b.data(), &h, sizeof h);
  bad.send_raw(b);
  EXPECT_FALSE(bad.recv());  // closed
  EXPECT_TRUE(wait_for([&] { return backend.detached[1] == 1; }));
  EXPECT_NE(logged().find("node1: link closed: protocol error"), std::string::npos) << logged();
  good.send(NL_MMIO_READ, nl_mmio_read{5, 0, 0, 4, 0});
  auto c = good.recv();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->as<nl_completion>().tag, 5u);
  EXPECT_EQ(backend.detached[0], 0);
}

TEST_F(ServerFixture, HelloIsCheckedBeforeAnythingIsMapped) {
  {
    TestDevice d(dir + "/node0.sock");  // wrong node name for this socket
    d.send(NL_HELLO, d.hello("node1"), d.ramfd);
    auto m = d.recv();
    ASSERT_TRUE(m);
    ASSERT_EQ(m->hdr.type, NL_REJECT);
    EXPECT_NE(std::string(m->as<nl_reject>().reason).find("for node 'node0'"), std::string::npos);
    EXPECT_FALSE(d.recv());
  }
  {
    TestDevice d(dir + "/node0.sock");  // region larger than the file
    d.send(NL_HELLO, d.hello("node0", kRamSize * 4), d.ramfd);
    auto m = d.recv();
    ASSERT_TRUE(m);
    ASSERT_EQ(m->hdr.type, NL_REJECT);
    EXPECT_NE(std::string(m->as<nl_reject>().reason).find("does not fit"), std::string::npos);
  }
  {
    TestDevice d(dir + "/node0.sock");  // another protocol version
    nl_hello h = d.hello("node0");
    h.version = NL_VERSION + 1;
    d.send(NL_HELLO, h, d.ramfd);
    auto m = d.recv();
    ASSERT_TRUE(m);
    ASSERT_EQ(m->hdr.type, NL_REJECT);
    EXPECT_NE(std::string(m->as<nl_reject>().reason).find("protocol version"), std::string::npos);
  }
  {
    TestDevice d(dir + "/node0.sock");  // the DMA function on the NT function's socket
    nl_hello h = d.hello("node0");
    h.function = NL_FN_DMA;
    d.send(NL_HELLO, h, d.ramfd);
    auto m = d.recv();
    ASSERT_TRUE(m);
    ASSERT_EQ(m->hdr.type, NL_REJECT);
    EXPECT_NE(std::string(m->as<nl_reject>().reason).find("for function 0"), std::string::npos);
  }
  {
    TestDevice d(dir + "/node0.sock");  // a request before HELLO
    d.send(NL_MMIO_READ, nl_mmio_read{1, 0, 0, 4, 0});
    EXPECT_FALSE(d.recv());
  }
  EXPECT_EQ(backend.writes, 0);
  EXPECT_EQ(backend.detached[0], 0);  // never attached, so never detached
}

TEST_F(ServerFixture, GuestRamThatCanShrinkIsRefused) {
  {
    TestDevice d(dir + "/node0.sock", /*sealed=*/false);
    d.send(NL_HELLO, d.hello("node0"), d.ramfd);
    auto m = d.recv();
    ASSERT_TRUE(m);
    ASSERT_EQ(m->hdr.type, NL_REJECT);
    EXPECT_NE(std::string(m->as<nl_reject>().reason).find("not sealed against shrinking"), std::string::npos)
        << m->as<nl_reject>().reason;
    EXPECT_FALSE(d.recv());  // and closed
  }
  EXPECT_TRUE(wait_for([&] { return logged().find("node0: link closed: rejected") != std::string::npos; }));
  EXPECT_EQ(backend.detached[0], 0);
  TestDevice good(dir + "/node0.sock");  // a sealed file is welcome
  welcome(good, "node0");
}

TEST(GuestRamGuard, BusErrorFailsTheCopyNotTheProcess) {
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  int fd = memfd_create("shrinking", MFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, off_t(4 * page)), 0);
  auto* p = static_cast<uint8_t*>(mmap(nullptr, 4 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  ASSERT_NE(p, MAP_FAILED);
  std::vector<uint8_t> buf(2 * page, 0x5A);
  EXPECT_TRUE(guarded_copy(p, buf.data(), buf.size()));
  ASSERT_EQ(ftruncate(fd, off_t(page)), 0);  // what a hostile node could do to an unsealed file
  EXPECT_TRUE(guarded_copy(buf.data(), p, page));       // still inside the file
  EXPECT_FALSE(guarded_copy(buf.data(), p, 2 * page));  // reads past its end: SIGBUS, caught
  EXPECT_FALSE(guarded_copy(p + page, buf.data(), 16)); // writes past its end too
  EXPECT_FALSE(guarded_copy(buf.data(), p + 3 * page, 1));
  EXPECT_TRUE(guarded_copy(buf.data(), p, 64));         // and the guard is re-armed each time
  std::thread other([&] { EXPECT_FALSE(guarded_copy(buf.data(), p + 2 * page, 8)); });  // per thread
  other.join();
  munmap(p, 4 * page);
  close(fd);
}

TEST(GuestRamGuard, UnsealedFileIsNotMapped) {
  int fd = memfd_create("unsealed", MFD_CLOEXEC);
  ASSERT_EQ(ftruncate(fd, off_t(kRamSize)), 0);
  nl_hello h{};
  h.n_ram = 1;
  h.n_fds = 1;
  h.ram[0] = {0, kRamSize, 0, 0, 0};
  EXPECT_THROW(GuestRam(h, {fd}), std::runtime_error);  // takes (and closes) the fd
}

TEST_F(ServerFixture, ClientThatNeverFinishesHelloLosesTheSlot) {
  TestDevice stalled(dir + "/node0.sock");
  std::vector<uint8_t> partial(10, 0);  // less than a header, then nothing
  stalled.send_raw(partial);
  const auto t0 = std::chrono::steady_clock::now();
  timeval tv{3, 0};
  setsockopt(stalled.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char x;
  EXPECT_EQ(read(stalled.fd, &x, 1), 0) << "closed by the switch, not timed out here";
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, std::chrono::milliseconds(250));
  EXPECT_LT(waited, std::chrono::milliseconds(2000));
  EXPECT_TRUE(wait_for([&] { return logged().find("node0: link closed: no HELLO within 300 ms") != std::string::npos; }))
      << logged();
  TestDevice good(dir + "/node0.sock");  // the slot is free for the real device
  welcome(good, "node0");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // a welcomed link has no deadline
  good.send(NL_CFG_READ, nl_cfg_read{9, 0, 4, 0});
  auto c = good.recv();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->as<nl_completion>().tag, 9u);
}

TEST_F(ServerFixture, RepeatedBadConnectionsAreLoggedThrottled) {
  for (int i = 0; i < 300; ++i) {
    TestDevice d(dir + "/node1.sock");
    d.send(NL_MMIO_READ, nl_mmio_read{1, 0, 0, 4, 0});  // a request before HELLO
    EXPECT_FALSE(d.recv());
  }
  TestDevice good(dir + "/node0.sock");  // another node's lines are not suppressed
  welcome(good, "node0");
  EXPECT_TRUE(wait_for([&] { return logged().find("node0: welcomed") != std::string::npos; })) << logged();
  const std::string l = logged();
  size_t lines = std::count(l.begin(), l.end(), '\n');
  EXPECT_LT(lines, 40u) << l;  // 600 events on node1: 10 lines per kind per window
  EXPECT_NE(l.find("node0: device connected"), std::string::npos) << l;
  shutdown();  // at shutdown the suppressed lines are summed up
  EXPECT_NE(log.find("node1 closed: 290 similar messages suppressed"), std::string::npos) << log;
  EXPECT_NE(log.find("node1 connected: 290 similar messages suppressed"), std::string::npos) << log;
}

TEST(LogThrottle, BurstThenSummaryPerKeyAndWindow) {
  using namespace std::chrono;
  LogThrottle t(3, seconds(10));
  std::vector<std::string> out;
  auto sink = [&](const std::string& s) { out.push_back(s); };
  const auto t0 = LogThrottle::Clock::now();
  for (int i = 0; i < 100; ++i) t.log("a", "a" + std::to_string(i), sink, t0 + milliseconds(i));
  t.log("b", "b0", sink, t0 + milliseconds(200));
  EXPECT_EQ(out, (std::vector<std::string>{"a0", "a1", "a2", "b0"}));
  t.flush(sink, false, t0 + seconds(5));  // window not over: nothing yet
  EXPECT_EQ(out.size(), 4u);
  t.log("a", "late", sink, t0 + seconds(11));  // next window: summary, then the line
  ASSERT_EQ(out.size(), 6u);
  EXPECT_EQ(out[4], "a: 97 similar messages suppressed");
  EXPECT_EQ(out[5], "late");
  for (int i = 0; i < 5; ++i) t.log("a", "x", sink, t0 + seconds(12));
  t.flush(sink, true);
  EXPECT_EQ(out.back(), "a: 3 similar messages suppressed");
  EXPECT_EQ(t.suppressed(), 100u);
}

TEST_F(ServerFixture, DeviceThatVanishesIsDetached) {
  {
    TestDevice d(dir + "/node0.sock");
    welcome(d, "node0");
  }  // closes its socket
  EXPECT_TRUE(wait_for([&] { return backend.detached[0] == 1; }));
  TestDevice again(dir + "/node0.sock");  // and the node can come back
  welcome(again, "node0");
}
