// SPDX-License-Identifier: GPL-2.0-only
// The pex8749-nt QEMU device on its node link, without a guest OS: QEMU runs
// with the qtest accelerator, so this test reads and writes config space and
// BARs itself and sees INTx as "IRQ raise/lower" lines. Against the real
// switch process, then against a scripted one that misbehaves.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "link_codec.h"
#include "process.h"

using ntblab::cli::ChildProcess;
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kEcam = 0xB0000000;    // q35 MMCONFIG, enabled below
constexpr uint64_t kBar0 = 0xE0000000;    // where this test puts BAR0
constexpr unsigned kSlot = 4;             // -device ...,addr=4.0 on pcie.0
constexpr uint32_t kNt = 0x3E000;         // NT0 virtual page in BAR0

std::string qemu_path() {
  const char* q = std::getenv("NTBLAB_QEMU");
  std::string cache = std::getenv("NTBLAB_CACHE") ? std::getenv("NTBLAB_CACHE") : "/var/cache/ntblab";
  return q && *q ? q : cache + "/qemu/bin/qemu-system-x86_64";
}

int listen_unix(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strcpy(sa.sun_path, path.c_str());
  unlink(path.c_str());
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  EXPECT_EQ(listen(fd, 1), 0);
  return fd;
}

/// QEMU under the qtest accelerator, with one pex8749-nt on pcie.0.
class Qtest {
 public:
  Qtest(const std::string& dir, const std::string& switch_socket, const std::string& node = "node0") {
    const std::string qsock = dir + "/" + node + ".qtest.sock";
    int lfd = listen_unix(qsock);
    log_ = dir + "/" + node + ".qemu.log";
    qemu_ = ChildProcess::spawn(
        {qemu_path(), "-L", "/usr/share/seabios", "-L", "/usr/share/qemu", "-machine", "q35,memory-backend=mem", "-accel", "qtest", "-qtest", "unix:" + qsock,
         "-object", "memory-backend-memfd,id=mem,size=128M,share=on", "-m", "128M", "-nodefaults",
         "-display", "none", "-device",
         "pex8749-nt,addr=" + std::to_string(kSlot) + ".0,node=" + node + ",socket=" + switch_socket},
        "", log_);
    timeval tv{10, 0};
    setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    fd_ = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    close(lfd);
    if (fd_ >= 0) setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Qtest() {
    if (fd_ >= 0) close(fd_);
    qemu_.stop(2000);
  }
  bool connected() const { return fd_ >= 0; }
  bool alive() { return qemu_.running(); }
  std::string log() {
    std::ifstream in(log_);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  }

  /// Send a command, return the "OK ..." answer; IRQ lines are collected.
  std::string cmd(const std::string& c) {
    std::string line = c + "\n";
    if (write(fd_, line.data(), line.size()) != ssize_t(line.size())) return "<write failed>";
    for (;;) {
      std::string l = read_line();
      if (l.rfind("IRQ", 0) == 0) {
        irq_lines += l + "\n";
        continue;
      }
      return l;
    }
  }
  uint32_t readl(uint64_t a) { return uint32_t(std::stoul(value(cmd("readl " + hex(a))), nullptr, 16)); }
  void writel(uint64_t a, uint32_t v) { cmd("writel " + hex(a) + " " + hex(v)); }
  uint16_t readw(uint64_t a) { return uint16_t(std::stoul(value(cmd("readw " + hex(a))), nullptr, 16)); }
  void writew(uint64_t a, uint16_t v) { cmd("writew " + hex(a) + " " + hex(v)); }
  std::string irq_lines;

  /// PCI config through ECAM (enabled through the host bridge's PCIEXBAR).
  void enable_ecam() {
    cmd("outl 0xcf8 0x80000060");
    cmd("outl 0xcfc " + hex(kEcam | 1));
    cmd("outl 0xcf8 0x80000064");
    cmd("outl 0xcfc 0x0");
  }
  static uint64_t cfg(uint32_t off) { return kEcam + (uint64_t(kSlot) << 15) + off; }
  /// BAR0 placed, memory decoding on: what firmware does.
  void place_bar0() {
    enable_ecam();
    writel(cfg(0x10), uint32_t(kBar0));
    writew(cfg(0x04), 0x0006);
  }

 private:
  static std::string hex(uint64_t v) {
    char b[32];
    std::snprintf(b, sizeof b, "0x%llx", (unsigned long long)v);
    return b;
  }
  static std::string value(const std::string& ok) { return ok.size() > 3 ? ok.substr(3) : "0xdead"; }
  std::string read_line() {
    for (;;) {
      size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string l = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return l;
      }
      char tmp[4096];
      ssize_t r = read(fd_, tmp, sizeof tmp);
      if (r <= 0) return "<eof>";
      buf_.append(tmp, size_t(r));
    }
  }
  ChildProcess qemu_;
  std::string log_, buf_;
  int fd_ = -1;
};

struct QemuDeviceTest : ::testing::Test {
  void SetUp() override {
    ASSERT_TRUE(fs::exists(qemu_path())) << "no QEMU at " << qemu_path() << " (./ntblab builds it)";
    dir = "/tmp/ntblab-qdev-" + std::to_string(getpid());
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  std::string dir;
};

/// The real switch process for the 2-node example scenario.
ChildProcess start_switch(const std::string& dir) {
  std::string bin = std::getenv("NTBLAB_SWITCH") ? std::getenv("NTBLAB_SWITCH") : NTBLAB_SWITCH_PATH;
  ChildProcess sw = ChildProcess::spawn({bin, "--scenario", std::string(NTBLAB_SOURCE_DIR) + "/scenarios/two-node.yaml",
                                         "--socket-dir", dir, "--log", dir + "/switch.log"},
                                        "", dir + "/switch.err", true);
  std::string line;
  EXPECT_TRUE(sw.read_line(line, 30000) && line == "ready");
  return sw;
}

}  // namespace

TEST_F(QemuDeviceTest, RegistersConfigAndInterruptsThroughTheRealSwitch) {
  ChildProcess sw = start_switch(dir);
  Qtest q(dir, dir + "/node0.nt.sock");
  ASSERT_TRUE(q.connected()) << q.log();
  q.enable_ecam();
  EXPECT_EQ(q.readl(Qtest::cfg(0x00)), 0x87b010b5u);
  EXPECT_EQ(q.readl(Qtest::cfg(0x08)) >> 8, 0x068000u);     // class: other bridge
  EXPECT_EQ(q.readl(Qtest::cfg(0xC8C)), 0u);                // extended config from the model: NT0, virtual
  // Walk the capability list (from the model) to the PCIe capability.
  uint32_t cap = q.readl(Qtest::cfg(0x34)) & 0xFF, pcie = 0;
  for (int i = 0; cap && i < 16; ++i, cap = (q.readl(Qtest::cfg(cap)) >> 8) & 0xFF)
    if ((q.readl(Qtest::cfg(cap)) & 0xFF) == 0x10) pcie = cap;
  ASSERT_NE(pcie, 0u);
  EXPECT_EQ((q.readl(Qtest::cfg(pcie)) >> 20) & 0xF, 0u);   // device/port type: Endpoint

  q.place_bar0();
  EXPECT_EQ(q.readl(kBar0 + kNt + 0xC8C), 0u);               // BAR0 mirrors the config page
  q.writel(kBar0 + kNt + 0xC6C + 8, 0xfeedbeef);            // scratchpad 2
  EXPECT_EQ(q.readl(kBar0 + kNt + 0xC6C + 8), 0xfeedbeefu);

  // INTx follows (doorbell status & ~mask): unmask, ring our own doorbell, clear it.
  q.cmd("irq_intercept_in ioapic");
  q.writel(kBar0 + kNt + 0xC58, 0xFFFF);
  q.writel(kBar0 + kNt + 0xC4C, 0x1);
  EXPECT_EQ(q.readl(kBar0 + kNt + 0xC4C), 1u);  // a read: the IRQ message came before its completion
  EXPECT_NE(q.irq_lines.find("IRQ raise"), std::string::npos) << q.irq_lines;
  q.writel(kBar0 + kNt + 0xC50, 0x1);
  EXPECT_EQ(q.readl(kBar0 + kNt + 0xC4C), 0u);
  EXPECT_NE(q.irq_lines.find("IRQ lower"), std::string::npos) << q.irq_lines;

  // An offset past every register the chip decodes reads as the chip answers it;
  // either way the device and the switch process stay up.
  q.readl(kBar0 + 0x3FFFC);
  EXPECT_TRUE(q.alive());
  EXPECT_TRUE(sw.running());
}

TEST_F(QemuDeviceTest, SwitchThatDiesLeavesALinkDownNotAHang) {
  ChildProcess sw = start_switch(dir);
  Qtest q(dir, dir + "/node0.nt.sock");
  Qtest peer(dir, dir + "/node1.nt.sock", "node1");  // back to back: the link needs both chips' hosts
  ASSERT_TRUE(q.connected() && peer.connected()) << q.log() << peer.log();
  // QEMU answers qtest only once its devices are realized, i.e. once the peer's
  // HELLO was welcomed: without this read the link could still be down here.
  peer.readl(Qtest::cfg(0x00));
  q.place_bar0();
  uint32_t cap = 0x68;  // the model's PCIe capability
  EXPECT_NE((q.readl(Qtest::cfg(cap + 0x10)) >> 16) & 0x3F0, 0u);  // Link Status: width while up
  q.writel(kBar0 + kNt + 0xC6C, 0x1234);
  sw.stop(0);  // SIGTERM; then make sure it is gone
  EXPECT_FALSE(sw.running());
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(q.readl(kBar0 + kNt + 0xC6C), 0xFFFFFFFFu);  // all ones, like a surprise link-down
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ((q.readl(Qtest::cfg(cap + 0x10)) >> 16) & 0x3F0, 0u);  // Link Status: no width
  EXPECT_EQ(q.readl(Qtest::cfg(0x00)), 0x87b010b5u);               // the function is still there
  q.writel(kBar0 + kNt + 0xC6C, 0x1);                               // writes are dropped, no crash
  EXPECT_TRUE(q.alive());
  EXPECT_NE(q.log().find("switch link down"), std::string::npos) << q.log();
}

namespace {
/// A scripted switch: takes the HELLO, then does `after`.
void scripted_switch(int lfd, const std::function<void(int fd, ntblab::sw::FrameEncoder&,
                                                       ntblab::sw::FrameDecoder&)>& after) {
  int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) return;
  ntblab::sw::FrameDecoder dec(true);
  uint8_t buf[4096];
  while (!dec.next()) {  // the HELLO (its RAM fd is dropped with the control data)
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) {
      close(fd);
      return;
    }
    dec.feed(buf, size_t(n));
  }
  ntblab::sw::FrameEncoder enc;
  after(fd, enc, dec);
  char x;
  while (read(fd, &x, 1) > 0) {
  }
  close(fd);
}
nl_welcome welcome() {
  nl_welcome w{};
  w.magic = NL_MAGIC;
  w.version = NL_VERSION;
  w.vendor_id = 0x10b5;
  w.device_id = 0x87b0;
  w.class_code = 0x068000;
  w.bar[0] = {256 * 1024, 0, 0};
  return w;
}
void send_all(int fd, const std::vector<uint8_t>& b) { ASSERT_EQ(write(fd, b.data(), b.size()), ssize_t(b.size())); }
}  // namespace

TEST_F(QemuDeviceTest, MalformedMessageClosesTheLinkWithALogLine) {
  const std::string path = dir + "/fake.sock";
  int lfd = listen_unix(path);
  std::thread fake([&] {
    scripted_switch(lfd, [](int fd, ntblab::sw::FrameEncoder& enc, ntblab::sw::FrameDecoder& dec) {
      send_all(fd, enc.encode(NL_WELCOME, welcome(), 0));
      // Answer config reads with zeros until realize is done, then garbage.
      uint8_t buf[65536];
      for (int reads = 0; reads < 1024;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) return;
        dec.feed(buf, size_t(n));
        while (auto m = dec.next()) {
          if (m->hdr.type != NL_CFG_READ) continue;
          nl_completion c{m->as<nl_cfg_read>().tag, NL_STATUS_OK, 0};
          send_all(fd, enc.encode(NL_COMPLETION, c, 0));
          ++reads;
        }
      }
      std::vector<uint8_t> junk(64, 0xAB);  // no valid header
      send_all(fd, junk);
    });
  });
  {
    Qtest q(dir, path);
    ASSERT_TRUE(q.connected()) << q.log();
    q.place_bar0();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_EQ(q.readl(kBar0 + kNt), 0xFFFFFFFFu) << q.log();
    EXPECT_TRUE(q.alive()) << q.log();
    EXPECT_NE(q.log().find("malformed message"), std::string::npos) << q.log();
  }
  fake.join();
  close(lfd);
}

TEST_F(QemuDeviceTest, RejectedHandshakeStopsQemuWithTheReason) {
  const std::string path = dir + "/fake.sock";
  int lfd = listen_unix(path);
  std::thread fake([&] {
    scripted_switch(lfd, [](int fd, ntblab::sw::FrameEncoder& enc, ntblab::sw::FrameDecoder&) {
      nl_reject r{};
      std::strcpy(r.reason, "this socket is for node 'node7'");
      send_all(fd, enc.encode(NL_REJECT, r, 0));
      shutdown(fd, SHUT_RDWR);
    });
  });
  Qtest q(dir, path);
  for (int i = 0; i < 100 && q.alive(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(q.alive());
  EXPECT_NE(q.log().find("node 'node7'"), std::string::npos) << q.log();
  fake.join();
  close(lfd);
}
