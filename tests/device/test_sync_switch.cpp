// SPDX-License-Identifier: GPL-2.0-only
// Modelled time in the real switch process (ntblab-switch, SyncEngine) against
// fake synchronized devices: two back-to-back nodes, each with its NT link (the
// clock: PARK/GRANT) and its DMA link, speaking node-link version 2 as
// qemu-device/src/pex8749.c does (node_seq over both links, the first PARK at
// time 0 with node_seq 1, set-up reads with node_seq 0, a GRANT after each
// COMPLETION whose sent[] counts cover every message of the node's links).
// No QEMU, no guest. Every wait has a deadline; nothing sleeps to synchronize.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "link_codec.h"
#include "node_link_client.h"
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

constexpr uint64_t kRam = 4 << 20;
constexpr uint64_t kNever = UINT64_MAX;
constexpr uint64_t kNt = 0x3E000;            // NT0 virtual page in BAR0 (mirrors its config space)
constexpr uint64_t kSpad0 = kNt + 0xC6C;     // scratchpad 0
constexpr uint64_t kDbSet = kNt + 0xC4C;     // doorbell set (virtual side)
constexpr uint64_t kDbMaskClear = kNt + 0xC58;
constexpr uint32_t kNtId = 0x87b010b5;       // vendor/device of the NT function
constexpr uint32_t kDmaId = 0x87d010b5;

template <typename T>
std::vector<uint8_t> bytes_of(const T& v) {
  std::vector<uint8_t> b(sizeof v);
  std::memcpy(b.data(), &v, sizeof v);
  return b;
}

/// One function's link of a fake device.
struct FnLink {
  int fd = -1;
  uint32_t tx_seq = 0;
  FrameDecoder dec{false};
  std::deque<Message> in;  ///< received, not yet taken by the test
  uint32_t received = 0;   ///< messages received on this link so far (WELCOME included)
  bool eof = false;
};

/// A fake synchronized node: what pex8749.c sends, scripted by the test.
struct FakeNode {
  explicit FakeNode(std::string n) : name(std::move(n)), ram(sealed_memfd(kRam)) {}
  ~FakeNode() {
    for (FnLink& l : link)
      if (l.fd >= 0) close(l.fd);
    if (ram >= 0) close(ram);
  }
  FakeNode(const FakeNode&) = delete;

  std::string name;
  int ram;
  FnLink link[2];          ///< by NL_FN_*
  uint32_t node_seq = 0;   ///< last node_seq used (0: not started)
  // Auto mode: park at every grant (not halted) until a grant reaches stop_at.
  bool auto_park = false;
  uint64_t stop_at = kNever;
  bool holding = false;    ///< auto mode stopped: holds a grant >= stop_at
  std::vector<nl_grant> grants;   ///< grants taken in auto mode
  std::vector<Message> others;    ///< other messages taken in auto mode

  /// Sends one message on function `fn`'s link; `numbered`: the next node_seq
  /// (else `node_seq_override`, default 0).
  bool send(unsigned fn, uint16_t type, uint16_t flags, uint64_t time, const std::vector<uint8_t>& body,
            bool numbered = true, std::optional<uint32_t> node_seq_override = std::nullopt, int pass_fd = -1) {
    FnLink& l = link[fn];
    nl_hdr h{};
    h.type = type;
    h.flags = flags;
    h.len = uint32_t(body.size());
    h.seq = l.tx_seq++;
    h.node_seq = node_seq_override ? *node_seq_override : numbered ? ++node_seq : 0;
    h.time_ns = time;
    std::vector<uint8_t> b = bytes_of(h);
    b.insert(b.end(), body.begin(), body.end());
    return send_with_fd(l.fd, b, pass_fd);
  }
  bool park(uint64_t t, uint64_t idle_until) { return send(NL_FN_NT, NL_PARK, 0, t, bytes_of(nl_park{idle_until})); }
  bool mmio_read(unsigned fn, uint32_t tag, uint64_t off, uint64_t t, uint32_t size = 4) {
    return send(fn, NL_MMIO_READ, 0, t, bytes_of(nl_mmio_read{tag, 0, off, size, 0}));
  }
  /// A BAR0 register write: non-posted, as pex8749.c sends it on a synchronized link.
  bool reg_write(unsigned fn, uint64_t off, uint32_t value, uint64_t t, uint16_t flags = NL_HF_NONPOSTED) {
    std::vector<uint8_t> b = bytes_of(nl_mmio_write{0, 4, off});
    const auto v = bytes_of(value);
    b.insert(b.end(), v.begin(), v.end());
    return send(fn, NL_MMIO_WRITE, flags, t, b);
  }
  bool cfg_read(unsigned fn, uint32_t tag, uint32_t off, uint64_t t, bool numbered = true) {
    return send(fn, NL_CFG_READ, 0, t, bytes_of(nl_cfg_read{tag, off, 4, 0}), numbered);
  }
  bool closed() const { return link[0].eof && link[1].eof; }
};

class SyncSwitchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    nodes_.clear();  // a previous run's nodes (SyncDeterminism restarts) are gone
    dir_ = "/tmp/ntblab-sync-" + std::to_string(getpid()) + "-" + std::to_string(++runs_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (sw_.pid() > 0) sw_.stop(2000);
    if (HasFailure()) std::cerr << "--- switch log ---\n" << log() << "------------------\n";
    fs::remove_all(dir_);
  }

  /// Starts ntblab-switch on a back-to-back pair with this `timing:` section.
  void start(const std::string& timing) {
    {
      std::ofstream y(dir_ + "/sync.yaml");
      y << "name: sync-test\ntopology: back-to-back\ntiming: " << timing
        << "\nnodes:\n  - {name: node0, memory: 128MiB}\n  - {name: node1, memory: 128MiB}\n";
    }
    const char* env = std::getenv("NTBLAB_SWITCH");
    std::vector<std::string> argv{env ? env : NTBLAB_SWITCH_PATH, "--scenario", dir_ + "/sync.yaml",
                                  "--socket-dir", dir_, "--log", dir_ + "/switch.log",
                                  "--stats", dir_ + "/stats.json"};
    sw_ = ChildProcess::spawn(argv, "", dir_ + "/switch.err", true);
    std::string line;
    ASSERT_TRUE(sw_.read_line(line, 30000) && line == "ready") << log();
  }

  std::string log() const {
    std::ifstream in(dir_ + "/switch.log"), err(dir_ + "/switch.err");
    std::stringstream s;
    s << in.rdbuf() << err.rdbuf();
    return s.str();
  }

  /// SIGTERM; the statistics the switch wrote on its way out.
  nlohmann::json stop_and_stats() {
    sw_.stop(5000);
    EXPECT_EQ(sw_.status(), 0) << sw_.how();
    std::ifstream in(dir_ + "/stats.json");
    if (!in) {
      ADD_FAILURE() << "no stats written\n" << log();
      return {};
    }
    return nlohmann::json::parse(in, nullptr, false);
  }

  /// Reads what has arrived on every open link (waiting up to `wait` for
  /// something), then lets auto-parking nodes act on it.
  void pump(milliseconds wait) {
    std::vector<pollfd> fds;
    std::vector<FnLink*> who;
    for (FakeNode* n : nodes_)
      for (FnLink& l : n->link)
        if (l.fd >= 0 && !l.eof) {
          fds.push_back({l.fd, POLLIN, 0});
          who.push_back(&l);
        }
    if (!fds.empty() && poll(fds.data(), fds.size(), int(wait.count())) > 0) {
      for (size_t i = 0; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        FnLink& l = *who[i];
        uint8_t buf[65536];
        const ssize_t r = read(l.fd, buf, sizeof buf);
        if (r <= 0) {
          l.eof = true;
          continue;
        }
        l.dec.feed(buf, size_t(r));
        while (auto m = l.dec.next()) {
          l.in.push_back(std::move(*m));
          ++l.received;
        }
        if (l.dec.error()) ADD_FAILURE() << "malformed message from the switch: " << l.dec.error()->what;
      }
    }
    for (FakeNode* n : nodes_) {
      if (!n->auto_park) continue;
      for (FnLink& l : n->link)
        while (!l.in.empty()) {
          Message m = std::move(l.in.front());
          l.in.pop_front();
          if (m.hdr.type != NL_GRANT) {
            n->others.push_back(std::move(m));
            continue;
          }
          const nl_grant g = m.as<nl_grant>();
          n->grants.push_back(g);
          if (g.until >= n->stop_at) n->holding = true;
          else n->park(g.until, g.until);
        }
    }
  }

  /// Pumps until `pred` holds; false at the deadline.
  bool wait_until(const std::function<bool()>& pred, milliseconds timeout = milliseconds(5000)) {
    const auto deadline = Clock::now() + timeout;
    while (!pred()) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      pump(std::min(left, milliseconds(50)));
    }
    return true;
  }

  /// The next message on `n`'s link `fn` (nullopt at the deadline or EOF).
  std::optional<Message> next(FakeNode& n, unsigned fn, milliseconds timeout = milliseconds(5000)) {
    FnLink& l = n.link[fn];
    if (!wait_until([&] { return !l.in.empty() || l.eof; }, timeout) || l.in.empty()) return std::nullopt;
    Message m = std::move(l.in.front());
    l.in.pop_front();
    return m;
  }

  /// The next message on `n`'s link `fn`, which must be of `type`.
  std::optional<Message> expect(FakeNode& n, unsigned fn, uint16_t type) {
    auto m = next(n, fn);
    if (!m) {
      ADD_FAILURE() << n.name << ": no " << type_name(type) << " on link " << fn
                    << (n.link[fn].eof ? " (closed)" : " (timeout)");
      return std::nullopt;
    }
    if (m->hdr.type != type) {
      ADD_FAILURE() << n.name << ": " << type_name(m->hdr.type) << " where " << type_name(type) << " was expected";
      return std::nullopt;
    }
    return m;
  }

  /// Connects both functions of `n`, HELLO with its RAM, WELCOME checked.
  void connect(FakeNode& n) {
    nodes_.push_back(&n);
    for (unsigned fn : {NL_FN_NT, NL_FN_DMA}) {
      FnLink& l = n.link[fn];
      l.fd = connect_unix(dir_ + "/" + n.name + (fn == NL_FN_NT ? ".nt.sock" : ".dma.sock"));
      ASSERT_GE(l.fd, 0);
      nl_hello h{};
      h.magic = NL_MAGIC;
      h.version = NL_VERSION;
      std::memcpy(h.node, n.name.data(), n.name.size());
      h.function = fn;
      h.n_ram = 1;
      h.n_fds = 1;
      h.ram[0] = {0, kRam, 0, 0, 0};
      ASSERT_TRUE(n.send(fn, NL_HELLO, 0, 0, bytes_of(h), false, std::nullopt, n.ram));
      auto w = expect(n, fn, NL_WELCOME);
      ASSERT_TRUE(w) << log();
      const uint32_t want = fn == NL_FN_NT ? (NL_WF_SYNC | NL_WF_CLOCK) : NL_WF_SYNC;
      EXPECT_EQ(w->as<nl_welcome>().flags, want) << n.name << " function " << fn;
      l.dec.set_sync(true);
    }
  }

  /// Both nodes connected and started (first PARK at 0, node_seq 1); their
  /// first grants, in node order.
  std::vector<nl_grant> start_both(FakeNode& a, FakeNode& b) {
    connect(a);
    connect(b);
    EXPECT_TRUE(a.park(0, 0));
    EXPECT_TRUE(b.park(0, 0));
    std::vector<nl_grant> out;
    for (FakeNode* n : {&a, &b}) {
      auto g = expect(*n, NL_FN_NT, NL_GRANT);
      out.push_back(g ? g->as<nl_grant>() : nl_grant{});
    }
    return out;
  }

  /// Places BAR0 and turns memory decoding on (what firmware does), with the
  /// non-posted config writes of a synchronized link, at time `now` (a config
  /// write takes no modelled time). The grant after the last one.
  std::optional<nl_grant> enable_bar0(FakeNode& n, uint64_t now) {
    std::optional<nl_grant> g;
    for (const nl_cfg_write& w : {nl_cfg_write{0x10, 4, 0xE0000000, 0}, nl_cfg_write{0x04, 2, 0x0006, 0}}) {
      if (!n.send(NL_FN_NT, NL_CFG_WRITE, NL_HF_NONPOSTED, now, bytes_of(w))) return std::nullopt;
      auto c = expect(n, NL_FN_NT, NL_COMPLETION);
      if (!c) return std::nullopt;
      EXPECT_EQ(c->as<nl_completion>().tag, NL_WRITE_TAG);
      EXPECT_EQ(c->hdr.time_ns, now);
      auto m = expect(n, NL_FN_NT, NL_GRANT);
      if (!m) return std::nullopt;
      g = m->as<nl_grant>();
      EXPECT_GT(g->until, now);
    }
    return g;
  }

  /// A register write on `n`'s NT function at `now`, its completion (moves
  /// `now` to it) and the grant after it.
  std::optional<nl_grant> write_reg(FakeNode& n, uint64_t off, uint32_t v, uint64_t& now) {
    if (!n.reg_write(NL_FN_NT, off, v, now)) return std::nullopt;
    auto c = expect(n, NL_FN_NT, NL_COMPLETION);
    if (!c) return std::nullopt;
    EXPECT_EQ(c->as<nl_completion>().tag, NL_WRITE_TAG);
    EXPECT_GE(c->hdr.time_ns, now);
    now = c->hdr.time_ns;
    auto gm = expect(n, NL_FN_NT, NL_GRANT);
    if (!gm) return std::nullopt;
    EXPECT_EQ(gm->as<nl_grant>().sent[NL_FN_NT], n.link[NL_FN_NT].received);
    return gm->as<nl_grant>();
  }

  /// The switch in `timing`, both nodes started, node1 parked at its first
  /// grant and parking at every grant from then on: node0 is the node a test
  /// drives. The two first grants; empty if the start failed.
  std::vector<nl_grant> node1_on_autopilot(const std::string& timing, FakeNode& a, FakeNode& b) {
    start(timing);
    std::vector<nl_grant> g = start_both(a, b);
    if (g.size() != 2) return {};
    autopilot(b);
    if (!b.park(g[1].until, g[1].until)) return {};
    return g;
  }

  /// Lets `n` park at every grant from now on.
  static void autopilot(FakeNode& n, uint64_t stop_at = kNever) {
    n.auto_park = true;
    n.stop_at = stop_at;
  }

  std::string dir_;
  ChildProcess sw_;
  std::vector<FakeNode*> nodes_;
  static inline int runs_ = 0;
};

const char* kExact = "{mode: exact, exact_from: boot}";

}  // namespace

// (a) Nobody runs until every node has parked at 0; then each gets a grant
// that ends within the lookahead (exact mode: the model's shortest cross-node
// latency, a 4-byte posted write over host link, switch and NT link).
TEST_F(SyncSwitchTest, FirstParksGetGrantsWithinTheLookahead) {
  start(kExact);
  FakeNode a("node0"), b("node1");
  connect(a);
  connect(b);
  ASSERT_TRUE(a.park(0, 0));
  // node1 has not started: node0 must not be granted anything yet.
  EXPECT_FALSE(next(a, NL_FN_NT, milliseconds(300))) << "granted before every node started";
  ASSERT_TRUE(b.park(0, 0));
  for (FakeNode* n : {&a, &b}) {
    auto m = expect(*n, NL_FN_NT, NL_GRANT);
    ASSERT_TRUE(m) << log();
    const nl_grant g = m->as<nl_grant>();
    EXPECT_GT(g.until, 0u);
    EXPECT_LT(g.until, 1000u);
    EXPECT_EQ(m->hdr.time_ns, g.until);     // stamped with its own time
    EXPECT_EQ(g.sent[NL_FN_NT], 2u);        // WELCOME and this GRANT
    EXPECT_EQ(g.sent[NL_FN_NT], n->link[NL_FN_NT].received);
    EXPECT_EQ(g.sent[NL_FN_DMA], 1u);       // WELCOME
    EXPECT_EQ(g.sent[NL_FN_DMA], n->link[NL_FN_DMA].received);
  }
  EXPECT_NE(log().find("every node stopped at 0 ns: modelled time starts"), std::string::npos) << log();
  nlohmann::json s = stop_and_stats()["sync"];
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(s["mode"], "exact");
  EXPECT_EQ(s["exact_since_ns"], 0);
  const uint64_t la = s["lookahead_ns"];
  EXPECT_GT(la, 0u);
  EXPECT_LT(la, 1000u);
  EXPECT_EQ(s["protocol_errors"], 0);
  EXPECT_EQ(s["grant_overruns"], 0);
  EXPECT_EQ(s["late_effects"], 0);
  EXPECT_GE(s["rounds"].get<uint64_t>(), 1u);
  std::cout << "exact lookahead " << la << " ns\n";
}

// (a, quantum) The first grant is one quantum; the next ones follow in steps
// of a quantum while both nodes park at their grants.
TEST_F(SyncSwitchTest, QuantumGrantsWholeQuanta) {
  start("{mode: quantum, quantum: 1us}");
  FakeNode a("node0"), b("node1");
  const auto g = start_both(a, b);
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].until, 1000u);
  EXPECT_EQ(g[1].until, 1000u);
  autopilot(a, 5000);
  autopilot(b, 5000);
  ASSERT_TRUE(a.park(1000, 1000));
  ASSERT_TRUE(b.park(1000, 1000));
  ASSERT_TRUE(wait_until([&] { return a.holding && b.holding; })) << log();
  for (FakeNode* n : {&a, &b}) {
    std::vector<uint64_t> until;
    for (const nl_grant& x : n->grants) until.push_back(x.until);
    EXPECT_EQ(until, (std::vector<uint64_t>{2000, 3000, 4000, 5000})) << n->name;
  }
  nlohmann::json s = stop_and_stats()["sync"];
  EXPECT_EQ(s["mode"], "quantum");
  EXPECT_EQ(s["quantum_ns"], 1000);
  EXPECT_EQ(s["lookahead_ns"], 1000);
  EXPECT_TRUE(s["exact_since_ns"].is_null());
}

// (b) A node that parks beyond its grant is closed (both its links), with a
// log line; the other node runs on alone.
TEST_F(SyncSwitchTest, ParkBeyondGrantClosesTheNode) {
  FakeNode a("node0"), b("node1");
  const auto g = node1_on_autopilot(kExact, a, b);
  ASSERT_EQ(g.size(), 2u) << log();
  ASSERT_TRUE(a.park(g[0].until + 1, g[0].until + 1));
  ASSERT_TRUE(wait_until([&] { return a.closed(); })) << "node0 still connected\n" << log();
  EXPECT_NE(log().find("beyond its grant"), std::string::npos) << log();
  // node1 keeps getting grants, further and further.
  const size_t before = b.grants.size();
  ASSERT_TRUE(wait_until([&] { return b.grants.size() >= before + 20; })) << log();
  for (size_t i = 1; i < b.grants.size(); ++i) EXPECT_GT(b.grants[i].until, b.grants[i - 1].until);
  EXPECT_FALSE(b.closed());
  nlohmann::json s = stop_and_stats()["sync"];
  EXPECT_EQ(s["grant_overruns"], 1);
  EXPECT_EQ(s["protocol_errors"], 0);
}

// (c) A register read by a running node: the COMPLETION carries the modelled
// time the data arrives (after the request), then a GRANT whose sent[] counts
// are what the node's links have delivered, this GRANT included.
TEST_F(SyncSwitchTest, RegisterReadCompletesLaterThenGrant) {
  FakeNode a("node0"), b("node1");
  const auto g = node1_on_autopilot(kExact, a, b);
  ASSERT_EQ(g.size(), 2u) << log();
  const auto ge = enable_bar0(a, 10);
  ASSERT_TRUE(ge) << log();
  const uint64_t t = 10 + (ge->until - 10) / 2;
  ASSERT_TRUE(a.mmio_read(NL_FN_NT, 7, kNt, t));
  auto c = expect(a, NL_FN_NT, NL_COMPLETION);
  ASSERT_TRUE(c) << log();
  EXPECT_EQ(c->as<nl_completion>().tag, 7u);
  EXPECT_EQ(c->as<nl_completion>().status, NL_STATUS_OK);
  EXPECT_EQ(c->as<nl_completion>().data, kNtId);
  EXPECT_GE(c->hdr.time_ns, t + 1);
  auto gm = expect(a, NL_FN_NT, NL_GRANT);
  ASSERT_TRUE(gm) << log();
  const nl_grant g2 = gm->as<nl_grant>();
  EXPECT_GT(g2.until, c->hdr.time_ns);
  EXPECT_EQ(g2.sent[NL_FN_NT], a.link[NL_FN_NT].received);
  EXPECT_EQ(g2.sent[NL_FN_NT], 8u);  // WELCOME, GRANT, 3 x (COMPLETION, GRANT)
  EXPECT_EQ(g2.sent[NL_FN_DMA], a.link[NL_FN_DMA].received);
  EXPECT_EQ(g2.sent[NL_FN_DMA], 1u);
  // The node's clock now reads the completion time; it runs on to its grant.
  ASSERT_TRUE(a.park(g2.until, g2.until));
  auto g3 = expect(a, NL_FN_NT, NL_GRANT);
  ASSERT_TRUE(g3) << log();
  EXPECT_GT(g3->as<nl_grant>().until, g2.until);
  nlohmann::json s = stop_and_stats()["sync"];
  EXPECT_EQ(s["mmio_reads"], 1);
  EXPECT_EQ(s["mmio_read_ns_min"].get<uint64_t>(), c->hdr.time_ns - t);
  EXPECT_EQ(s["requests_in_past"], 0);
  EXPECT_EQ(s["late_effects"], 0);
}

// (c, DMA link) A read on the node's other link: its COMPLETION comes there,
// and the GRANT on the clock link counts it in sent[NL_FN_DMA].
TEST_F(SyncSwitchTest, ReadOnTheDmaLinkIsCountedInTheGrant) {
  FakeNode a("node0"), b("node1");
  const auto g = node1_on_autopilot(kExact, a, b);
  ASSERT_EQ(g.size(), 2u) << log();
  ASSERT_TRUE(a.cfg_read(NL_FN_DMA, 3, 0x00, 10));
  auto c = expect(a, NL_FN_DMA, NL_COMPLETION);
  ASSERT_TRUE(c) << log();
  EXPECT_EQ(c->as<nl_completion>().data, kDmaId);
  EXPECT_GE(c->hdr.time_ns, 10u);
  auto gm = expect(a, NL_FN_NT, NL_GRANT);
  ASSERT_TRUE(gm) << log();
  EXPECT_EQ(gm->as<nl_grant>().sent[NL_FN_DMA], 2u);  // WELCOME, COMPLETION
  EXPECT_EQ(gm->as<nl_grant>().sent[NL_FN_NT], a.link[NL_FN_NT].received);
}

// A register write is non-posted: COMPLETION with NL_WRITE_TAG, then a GRANT;
// a doorbell the node rings on itself arrives as an IRQ at its modelled time,
// once the node has parked there, before the grant that lets it run on.
TEST_F(SyncSwitchTest, RegisterWritesCompleteAndDoorbellIrqIsOnTime) {
  FakeNode a("node0"), b("node1");
  const auto g = node1_on_autopilot(kExact, a, b);
  ASSERT_EQ(g.size(), 2u) << log();
  uint64_t now = 5;
  ASSERT_TRUE(enable_bar0(a, now)) << log();
  auto write = [&](uint64_t off, uint32_t v) { return write_reg(a, off, v, now); };
  ASSERT_TRUE(write(kSpad0, 0x5eed1234)) << log();
  ASSERT_TRUE(a.mmio_read(NL_FN_NT, 9, kSpad0, now));
  auto c = expect(a, NL_FN_NT, NL_COMPLETION);
  ASSERT_TRUE(c) << log();
  EXPECT_EQ(c->as<nl_completion>().data, 0x5eed1234u);
  now = c->hdr.time_ns;
  ASSERT_TRUE(expect(a, NL_FN_NT, NL_GRANT));
  ASSERT_TRUE(write(kDbMaskClear, 0xFFFF));
  const uint64_t rung = now;
  auto grant = write(kDbSet, 0x1);
  ASSERT_TRUE(grant) << log();
  // The IRQ is due after the write: the node runs up to it at most, parks
  // there, and then gets it, followed by the next GRANT.
  uint64_t irq_time = 0;
  for (int round = 0; round < 50 && !irq_time; ++round) {
    ASSERT_TRUE(a.park(grant->until, grant->until));
    auto m = next(a, NL_FN_NT);
    ASSERT_TRUE(m) << log();
    if (m->hdr.type == NL_IRQ) {
      EXPECT_EQ(m->as<nl_irq>().level, 1u);
      irq_time = m->hdr.time_ns;
      EXPECT_EQ(irq_time, grant->until) << "an interrupt between two parks";
      EXPECT_GE(irq_time, rung);
      auto after = expect(a, NL_FN_NT, NL_GRANT);
      ASSERT_TRUE(after);
      EXPECT_EQ(after->as<nl_grant>().sent[NL_FN_NT], a.link[NL_FN_NT].received);
      break;
    }
    ASSERT_EQ(m->hdr.type, NL_GRANT);
    grant = m->as<nl_grant>();
  }
  EXPECT_GT(irq_time, 0u) << "no IRQ for the doorbell";
  nlohmann::json s = stop_and_stats()["sync"];
  EXPECT_EQ(s["late_effects"], 0);
  EXPECT_EQ(s["protocol_errors"], 0);
}

// The leave marker (docs/modelled-time.md, "Leaving"): from its time on the
// node's host is gone. It still gets its completions and grants until its
// QEMU goes, but no interrupt: a doorbell it rings after leaving never comes.
TEST_F(SyncSwitchTest, LeaveMarkerStopsInterruptsToTheNode) {
  FakeNode a("node0"), b("node1");
  ASSERT_EQ(node1_on_autopilot(kExact, a, b).size(), 2u) << log();
  uint64_t now = 5;
  ASSERT_TRUE(enable_bar0(a, now)) << log();
  ASSERT_TRUE(write_reg(a, kDbMaskClear, 0xFFFF, now)) << log();
  const uint64_t left = now;
  ASSERT_TRUE(a.send(NL_FN_NT, NL_CFG_WRITE, NL_HF_NONPOSTED, now, bytes_of(nl_cfg_write{0xFF0, 4, 0x21657962, 0})));
  ASSERT_TRUE(expect(a, NL_FN_NT, NL_COMPLETION)) << log();
  ASSERT_TRUE(expect(a, NL_FN_NT, NL_GRANT)) << log();
  auto g = write_reg(a, kDbSet, 0x1, now);
  ASSERT_TRUE(g) << log();
  // The doorbell test above sees its interrupt within a few rounds.
  for (int round = 0; round < 50; ++round) {
    ASSERT_TRUE(a.park(g->until, g->until));
    auto m = next(a, NL_FN_NT);
    ASSERT_TRUE(m) << log();
    ASSERT_NE(m->hdr.type, NL_IRQ) << "an interrupt for a node that left";
    ASSERT_EQ(m->hdr.type, NL_GRANT);
    g = m->as<nl_grant>();
  }
  EXPECT_NE(log().find("node 0 leaves at " + std::to_string(left) + " ns"), std::string::npos) << log();
  nlohmann::json s = stop_and_stats()["sync"];
  EXPECT_EQ(s["protocol_errors"], 0);
  EXPECT_EQ(s["late_effects"], 0);
}

// (e) A request at a time before the node's own present (its last park)
// closes the node; the other runs on.
TEST_F(SyncSwitchTest, RequestInItsOwnPastClosesTheNode) {
  FakeNode a("node0"), b("node1");
  const auto g = node1_on_autopilot(kExact, a, b);
  ASSERT_EQ(g.size(), 2u) << log();
  ASSERT_TRUE(a.park(g[0].until, g[0].until));
  auto g2 = expect(a, NL_FN_NT, NL_GRANT);
  ASSERT_TRUE(g2) << log();
  ASSERT_TRUE(a.mmio_read(NL_FN_NT, 1, kNt, g[0].until - 1));
  ASSERT_TRUE(wait_until([&] { return a.closed(); })) << "node0 still connected\n" << log();
  EXPECT_TRUE(a.link[NL_FN_NT].in.empty()) << "a request in the past was answered";
  EXPECT_NE(log().find("before its present"), std::string::npos) << log();
  const size_t before = b.grants.size();
  ASSERT_TRUE(wait_until([&] { return b.grants.size() >= before + 5; })) << log();
  nlohmann::json s = stop_and_stats()["sync"];
  EXPECT_EQ(s["requests_in_past"], 1);
  EXPECT_EQ(s["mmio_reads"], 0);
}

// (f) Before its first PARK a node's config reads carry node_seq 0 and are
// served at once, at time 0; after it, node_seq 0 closes the node.
TEST_F(SyncSwitchTest, SetupReadsBeforeStartOnlyThenNodeSeqZeroCloses) {
  start(kExact);
  FakeNode a("node0"), b("node1");
  connect(a);
  connect(b);
  ASSERT_TRUE(a.cfg_read(NL_FN_NT, 1, 0x00, 0, false));
  ASSERT_TRUE(a.cfg_read(NL_FN_DMA, 2, 0x00, 0, false));
  auto c1 = expect(a, NL_FN_NT, NL_COMPLETION);
  auto c2 = expect(a, NL_FN_DMA, NL_COMPLETION);
  ASSERT_TRUE(c1 && c2) << log();
  EXPECT_EQ(c1->as<nl_completion>().data, kNtId);
  EXPECT_EQ(c1->hdr.time_ns, 0u);
  EXPECT_EQ(c2->as<nl_completion>().data, kDmaId);
  ASSERT_TRUE(a.park(0, 0));
  ASSERT_TRUE(b.park(0, 0));
  ASSERT_TRUE(expect(a, NL_FN_NT, NL_GRANT));
  auto gb = expect(b, NL_FN_NT, NL_GRANT);
  ASSERT_TRUE(gb);
  autopilot(b);
  ASSERT_TRUE(b.park(gb->as<nl_grant>().until, gb->as<nl_grant>().until));
  ASSERT_TRUE(a.mmio_read(NL_FN_NT, 5, kNt, 1));
  // That read was numbered (node_seq 2); answer it, then break the rule.
  ASSERT_TRUE(expect(a, NL_FN_NT, NL_COMPLETION)) << log();
  ASSERT_TRUE(expect(a, NL_FN_NT, NL_GRANT)) << log();
  ASSERT_TRUE(a.send(NL_FN_NT, NL_MMIO_READ, 0, 50, bytes_of(nl_mmio_read{6, 0, kNt, 4, 0}), false));
  ASSERT_TRUE(wait_until([&] { return a.closed(); })) << "node0 still connected\n" << log();
  EXPECT_NE(log().find("MMIO_READ outside the node's message sequence"), std::string::npos) << log();
  const size_t before = b.grants.size();
  ASSERT_TRUE(wait_until([&] { return b.grants.size() >= before + 5; })) << log();
  nlohmann::json s = stop_and_stats()["sync"];
  EXPECT_EQ(s["setup_requests"], 2);
}

TEST_F(SyncSwitchTest, SetupStyleReadAfterStartCloses) {
  FakeNode a("node0"), b("node1");
  const auto g = node1_on_autopilot(kExact, a, b);
  ASSERT_EQ(g.size(), 2u) << log();
  ASSERT_TRUE(a.cfg_read(NL_FN_NT, 1, 0x00, 10, false));  // node_seq 0 once started
  ASSERT_TRUE(wait_until([&] { return a.closed(); })) << log();
  EXPECT_TRUE(a.link[NL_FN_NT].in.empty()) << "answered";
  EXPECT_NE(log().find("CFG_READ outside the node's message sequence"), std::string::npos) << log();
}

// Messages of one node reach the switch on two sockets; they are taken in
// node_seq order, whatever order they arrive in. Here a posted register write
// (node_seq 2, NT link) arrives after a config read (node_seq 3, DMA link):
// taken the other way round, the write would come from a blocked node.
TEST_F(SyncSwitchTest, MessagesAreTakenInNodeSeqOrder) {
  FakeNode a("node0"), b("node1");
  const auto g = node1_on_autopilot(kExact, a, b);
  ASSERT_EQ(g.size(), 2u) << log();
  ASSERT_TRUE(enable_bar0(a, 5)) << log();
  const uint32_t first = a.node_seq + 1, second = a.node_seq + 2;
  a.node_seq += 2;
  ASSERT_TRUE(a.send(NL_FN_DMA, NL_CFG_READ, 0, 20, bytes_of(nl_cfg_read{4, 0x00, 4, 0}), true, second));
  std::vector<uint8_t> w = bytes_of(nl_mmio_write{0, 4, kSpad0 + 4});
  const auto v = bytes_of(uint32_t(0xabcdef01));
  w.insert(w.end(), v.begin(), v.end());
  ASSERT_TRUE(a.send(NL_FN_NT, NL_MMIO_WRITE, 0, 10, w, true, first));  // posted
  auto c = expect(a, NL_FN_DMA, NL_COMPLETION);
  ASSERT_TRUE(c) << log();
  EXPECT_EQ(c->as<nl_completion>().tag, 4u);
  auto gm = expect(a, NL_FN_NT, NL_GRANT);
  ASSERT_TRUE(gm) << log();
  EXPECT_EQ(gm->as<nl_grant>().sent[NL_FN_DMA], 2u);
  EXPECT_GE(c->hdr.time_ns, 20u);
  ASSERT_TRUE(a.mmio_read(NL_FN_NT, 8, kSpad0 + 4, c->hdr.time_ns));
  auto r = expect(a, NL_FN_NT, NL_COMPLETION);
  ASSERT_TRUE(r) << log();
  EXPECT_EQ(r->as<nl_completion>().data, 0xabcdef01u);
  EXPECT_FALSE(a.closed());
}

// Other violations: PARK on the DMA link, a repeated node_seq, a posted
// CFG_WRITE on a synchronized link.
TEST_F(SyncSwitchTest, OtherViolationsClose) {
  FakeNode a("node0"), b("node1");
  const auto g = node1_on_autopilot(kExact, a, b);
  ASSERT_EQ(g.size(), 2u) << log();
  // PARK on the DMA link: that link goes (the node keeps its clock link).
  ASSERT_TRUE(a.send(NL_FN_DMA, NL_PARK, 0, 5, bytes_of(nl_park{5})));
  ASSERT_TRUE(wait_until([&] { return a.link[NL_FN_DMA].eof; })) << log();
  EXPECT_NE(log().find("PARK on a link that does not own the clock"), std::string::npos) << log();
  // A posted config write: closed, and with the clock link the node.
  ASSERT_TRUE(a.send(NL_FN_NT, NL_CFG_WRITE, 0, 6, bytes_of(nl_cfg_write{0x04, 2, 6, 0})));
  ASSERT_TRUE(wait_until([&] { return a.link[NL_FN_NT].eof; })) << log();
  EXPECT_NE(log().find("posted CFG_WRITE on a synchronized link"), std::string::npos) << log();
}

TEST_F(SyncSwitchTest, RepeatedNodeSeqCloses) {
  FakeNode a("node0"), b("node1");
  const auto g = node1_on_autopilot(kExact, a, b);
  ASSERT_EQ(g.size(), 2u) << log();
  ASSERT_TRUE(a.send(NL_FN_NT, NL_PARK, 0, g[0].until, bytes_of(nl_park{g[0].until}), true, a.node_seq));
  ASSERT_TRUE(wait_until([&] { return a.closed(); })) << log();
  EXPECT_NE(log().find("repeated or too far ahead"), std::string::npos) << log();
}

// (d) The switch side is deterministic: one script, run twice against fresh
// switch processes (once with the nodes' messages in the opposite order),
// gives one trace hash; a script one nanosecond different gives another.
namespace {
struct ScriptResult {
  std::string hash;
  std::vector<uint64_t> seen;  // node0's COMPLETION and GRANT times, in order
};
}  // namespace

class SyncDeterminism : public SyncSwitchTest {
 protected:
  ScriptResult run(bool node1_first, uint64_t read_at) {
    ScriptResult out;
    start(kExact);
    if (HasFatalFailure()) return out;
    FakeNode a("node0"), b("node1");
    connect(a);
    connect(b);
    if (node1_first) b.park(0, 0), a.park(0, 0);
    else a.park(0, 0), b.park(0, 0);
    auto ga = expect(a, NL_FN_NT, NL_GRANT), gb = expect(b, NL_FN_NT, NL_GRANT);
    if (!ga || !gb) return out;
    out.seen.push_back(ga->as<nl_grant>().until);
    auto answered = [&](FakeNode& n) {
      auto c = expect(n, NL_FN_NT, NL_COMPLETION);
      auto g = expect(n, NL_FN_NT, NL_GRANT);
      return c && g ? std::optional<std::pair<uint64_t, nl_grant>>({c->hdr.time_ns, g->as<nl_grant>()})
                    : std::nullopt;
    };
    // node0 places its BAR0 at 5 ns while node1 writes a scratchpad at 20;
    // node0 turns decoding on (5 ns) and reads a register at `read_at`.
    const nl_cfg_write bar0{0x10, 4, 0xE0000000, 0}, cmd{0x04, 2, 0x0006, 0};
    auto node0 = [&] { a.send(NL_FN_NT, NL_CFG_WRITE, NL_HF_NONPOSTED, 5, bytes_of(bar0)); };
    auto node1 = [&] { b.reg_write(NL_FN_NT, kSpad0, 0x1111, 20); };
    if (node1_first) node1(), node0();
    else node0(), node1();
    auto ra0 = answered(a);
    if (!ra0) return out;
    a.send(NL_FN_NT, NL_CFG_WRITE, NL_HF_NONPOSTED, 5, bytes_of(cmd));
    auto ra1 = answered(a);
    if (!ra1) return out;
    out.seen.push_back(ra1->second.until);
    a.mmio_read(NL_FN_NT, 1, kNt, read_at);
    // node1's write completes before node0's read runs (20 < read_at); then
    // node1 reads its class code at that time and parks on from there.
    auto rb = answered(b);
    if (!rb) return out;
    out.seen.push_back(rb->first);
    b.cfg_read(NL_FN_NT, 2, 0x08, rb->first);
    auto rb2 = answered(b);
    if (!rb2) return out;
    out.seen.push_back(rb2->first);
    out.seen.push_back(rb2->second.until);
    autopilot(b, 3000);
    b.park(rb2->second.until, rb2->second.until);
    auto ra = answered(a);
    if (!ra) return out;
    EXPECT_GT(ra->first, read_at) << "the read took no modelled time";
    out.seen.push_back(ra->first);
    out.seen.push_back(ra->second.until);
    autopilot(a, 3000);
    a.park(ra->second.until, ra->second.until);
    // Once a node holds a grant at or past 3000 ns no round can follow, so
    // the trace is complete (whatever is still in flight cannot change it).
    if (!wait_until([&] { return a.holding || b.holding; })) {
      ADD_FAILURE() << "no node reached 3000 ns\n" << log();
      return out;
    }
    nlohmann::json s = stop_and_stats()["sync"];
    EXPECT_EQ(s["protocol_errors"], 0);
    EXPECT_EQ(s["late_effects"], 0);
    EXPECT_EQ(s["mmio_reads"], 1);
    out.hash = s.value("trace_hash", "");
    return out;
  }
  void restart() {
    TearDown();
    sw_ = ChildProcess();
    SetUp();
  }
};

TEST_F(SyncDeterminism, SameScriptSameTraceHash) {
  const ScriptResult one = run(false, 40);
  ASSERT_FALSE(one.hash.empty());
  restart();
  const ScriptResult two = run(false, 40);
  restart();
  const ScriptResult swapped = run(true, 40);
  restart();
  const ScriptResult other = run(false, 41);
  std::cout << "trace hashes: " << one.hash << " " << two.hash << " " << swapped.hash << " (read at 41: "
            << other.hash << ")\n";
  EXPECT_EQ(one.hash, two.hash);
  EXPECT_EQ(one.hash, swapped.hash);
  EXPECT_EQ(one.seen, two.seen);
  EXPECT_EQ(one.seen, swapped.seen);
  EXPECT_NE(one.hash, other.hash) << "the hash does not see the request's time";
  EXPECT_GT(one.seen.size(), 5u);
}

// A node whose first numbered message is not its PARK has not started: it is
// closed at once (before, its request was queued for a node the scheduler
// still held parked at 0, and nothing reported it while the cluster waited).
TEST_F(SyncSwitchTest, RequestBeforeTheFirstParkCloses) {
  start(kExact);
  FakeNode a("node0"), b("node1");
  connect(a);
  connect(b);
  ASSERT_TRUE(a.mmio_read(NL_FN_NT, 1, kNt, 0));  // node_seq 1, but not a PARK
  ASSERT_TRUE(wait_until([&] { return a.closed(); })) << "node0 still connected\n" << log();
  EXPECT_TRUE(a.link[NL_FN_NT].in.empty()) << "answered";
  EXPECT_NE(log().find("MMIO_READ before the node's first PARK"), std::string::npos) << log();
  ASSERT_TRUE(b.park(0, 0));
  auto g = expect(b, NL_FN_NT, NL_GRANT);  // node0 left the run: node1 runs alone
  ASSERT_TRUE(g) << log();
  EXPECT_GT(g->as<nl_grant>().until, 0u);
}

// Every node halted with no timer armed: nothing can ever wake one. The
// switch says so and exits by itself (status 3), its statistics written.
TEST_F(SyncSwitchTest, EveryNodeHaltedForeverIsADeadlock) {
  start(kExact);
  FakeNode a("node0"), b("node1");
  const auto g = start_both(a, b);
  ASSERT_EQ(g.size(), 2u);
  ASSERT_TRUE(a.park(g[0].until, kNever));
  ASSERT_TRUE(b.park(g[1].until, kNever));
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (sw_.running() && Clock::now() < deadline) pump(milliseconds(20));
  ASSERT_FALSE(sw_.running()) << "the switch waits forever\n" << log();
  EXPECT_EQ(sw_.status(), 3) << sw_.how();
  EXPECT_NE(log().find("modelled time cannot advance"), std::string::npos) << log();
  EXPECT_NE(log().find("halted, no timer armed"), std::string::npos) << log();
  std::ifstream in(dir_ + "/stats.json");
  ASSERT_TRUE(in) << log();
  nlohmann::json s = nlohmann::json::parse(in, nullptr, false)["sync"];
  EXPECT_EQ(s["deadlock"], true);
}

// Nodes halted until their timers cross the idle stretch in one round: both
// are granted past the earlier timer (up to a lookahead after it), however
// many lookaheads away it is.
TEST_F(SyncSwitchTest, HaltedNodesAreGrantedToTheirTimer) {
  start(kExact);
  FakeNode a("node0"), b("node1");
  const auto g = start_both(a, b);
  ASSERT_EQ(g.size(), 2u);
  ASSERT_TRUE(a.park(g[0].until, 1000000));  // halted until 1 ms
  ASSERT_TRUE(b.park(g[1].until, 2000000));  // halted until 2 ms
  auto ga = expect(a, NL_FN_NT, NL_GRANT);
  auto gb = expect(b, NL_FN_NT, NL_GRANT);
  ASSERT_TRUE(ga && gb) << log();
  for (const Message* m : {&*ga, &*gb}) {
    EXPECT_GE(m->as<nl_grant>().until, 1000000u);
    EXPECT_LE(m->as<nl_grant>().until, 1000000u + 136);
  }
  // node0 woke at its timer and runs on; node1 still sleeps: lookahead steps.
  const uint64_t ua = ga->as<nl_grant>().until, ub = gb->as<nl_grant>().until;
  ASSERT_TRUE(a.park(ua, ua));
  ASSERT_TRUE(b.park(ub, 2000000));
  auto ga2 = expect(a, NL_FN_NT, NL_GRANT);
  ASSERT_TRUE(ga2) << log();
  EXPECT_GT(ga2->as<nl_grant>().until, ua);
  EXPECT_LE(ga2->as<nl_grant>().until, ua + 136);
  nlohmann::json s = stop_and_stats()["sync"];
  EXPECT_LE(s["rounds"].get<uint64_t>(), 5u);
}

// exact_from: marker: quantum rounds until a guest writes the exact-time
// marker into its NT function's config space; exact lookahead steps after.
TEST_F(SyncSwitchTest, MarkerSwitchesToExactTime) {
  start("{mode: exact, exact_from: marker, quantum: 1us}");
  FakeNode a("node0"), b("node1");
  const auto g = start_both(a, b);
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].until, 1000u);  // a quantum
  autopilot(b);
  ASSERT_TRUE(b.park(g[1].until, g[1].until));
  ASSERT_TRUE(a.send(NL_FN_NT, NL_CFG_WRITE, NL_HF_NONPOSTED, 500, bytes_of(nl_cfg_write{0xFF0, 4, 0x6e746221, 0})));
  auto c = expect(a, NL_FN_NT, NL_COMPLETION);
  ASSERT_TRUE(c) << log();
  EXPECT_EQ(c->as<nl_completion>().tag, NL_WRITE_TAG);
  std::vector<uint64_t> until;
  for (int i = 0; i < 5; ++i) {
    auto m = expect(a, NL_FN_NT, NL_GRANT);
    ASSERT_TRUE(m) << log();
    until.push_back(m->as<nl_grant>().until);
    ASSERT_TRUE(a.park(until.back(), until.back()));
  }
  for (size_t i = 1; i < until.size(); ++i) {
    EXPECT_GT(until[i], until[i - 1]);
    EXPECT_LE(until[i] - until[i - 1], 136u) << "still in quantum rounds after the marker";
  }
  EXPECT_NE(log().find("exact modelled time from 500 ns (marker)"), std::string::npos) << log();
  nlohmann::json s = stop_and_stats()["sync"];
  EXPECT_EQ(s["exact_since_ns"], 500);
  EXPECT_EQ(s["lookahead_ns"], 136);
}
