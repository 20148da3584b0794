// SPDX-License-Identifier: GPL-2.0-only
// The switch process's event loop: one listening AF_UNIX socket per node link
// (a PCI function of a node), one connection per link, messages decoded by FrameDecoder and handed to a
// NodeBackend (the model). Single-threaded; sleeps in epoll_wait, so an idle
// cluster costs no CPU.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "guest_ram.h"
#include "link_codec.h"
#include "log_throttle.h"

namespace ntblab::sw {

/// What the server needs from whatever hosts the nodes' functions (the model).
/// `link` is the index of the NodeEndpoint the request came in on.
class NodeBackend {
 public:
  virtual ~NodeBackend() = default;
  /// A node said HELLO. Return the WELCOME body, or set `reject` and return nullopt.
  virtual std::optional<nl_welcome> attach(unsigned link, const nl_hello& hello,
                                           std::unique_ptr<GuestRam> ram, std::string& reject) = 0;
  virtual uint32_t cfg_read(unsigned link, uint32_t offset, uint32_t size) = 0;
  virtual void cfg_write(unsigned link, uint32_t offset, uint32_t size, uint32_t value) = 0;
  /// Returns false for an unsupported request (the device answers all ones).
  virtual bool mmio_read(unsigned link, unsigned bar, uint64_t offset, uint32_t size,
                         uint64_t& data) = 0;
  virtual void mmio_write(unsigned link, unsigned bar, uint64_t offset, const uint8_t* data,
                          uint32_t size) = 0;
  /// The node's link is gone (BYE, EOF or protocol error).
  virtual void detach(unsigned link) = 0;
  /// Modelled time now, stamped on outgoing messages.
  virtual uint64_t now_ns() const { return 0; }
  /// Work in progress that outlives a request (a DMA run): do one bounded slice
  /// of it. Called by the server between rounds of events; return true while
  /// some remains (the server then polls its sockets without sleeping).
  virtual bool run_slice() { return false; }
};

/// Modelled time: takes over a link's messages after its HELLO
/// (switch/src/sync_engine.h).
class LinkSync {
 public:
  virtual ~LinkSync() = default;
  /// NL_WF_* flags for the WELCOME of `link`.
  virtual uint32_t welcome_flags(unsigned link) const = 0;
  /// Every message after the HELLO of a link whose WELCOME said NL_WF_SYNC.
  virtual void on_message(unsigned link, const Message& m) = 0;
  /// The link closed (before the backend detaches it).
  virtual void on_close(unsigned link) = 0;
};

/// One node link: a PCI function of a node, and where it connects.
struct NodeEndpoint {
  std::string name;         ///< node name, expected in HELLO
  uint32_t function = NL_FN_NT;  ///< NL_FN_*, expected in HELLO
  std::string socket_path;  ///< where the server listens for this link
};

class Server {
 public:
  Server(std::vector<NodeEndpoint> nodes, NodeBackend& backend);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// From now on SIGINT, SIGTERM and SIGHUP stop run() (through a signalfd;
  /// the caller has blocked them in every thread). Call it before telling
  /// anyone the switch is ready: once the links are busy, a descriptor for it
  /// may no longer be free. Throws if the signalfd cannot be made.
  void take_signals();
  /// Runs until stop() or a signal taken by take_signals(); returns 0.
  int run();
  void stop();

  /// Raise or lower a node's INTx (called by the backend, from inside run()).
  void send_irq(unsigned link, bool level);
  /// Send a message stamped with `time_ns` (modelled time).
  void send_at(unsigned link, uint16_t type, const void* body, uint32_t len, uint64_t time_ns);
  /// Messages sent on the link since it connected (its next sequence number).
  uint32_t sent_count(unsigned link) const;
  /// Close a link with a log line (e.g. a protocol violation found by the sync engine).
  void close_link(unsigned link, const std::string& why) { close_node(link, why); }
  /// Modelled time: messages of synchronized links go here (not owned).
  void set_sync(LinkSync* sync) { sync_ = sync; }
  bool connected(unsigned link) const;
  /// Log sink: one line per event worth a person's attention. Lines about
  /// links are rate-limited per node and kind of event (LogThrottle).
  std::function<void(const std::string&)> log = [](const std::string&) {};
  /// A connection that has not completed its HELLO this long after it was
  /// accepted is closed, so a stalled client cannot hold the node's link slot.
  std::chrono::milliseconds hello_timeout{5000};
  /// When accept() fails for want of file descriptors (or memory), the
  /// listener is not polled for this long (else the loop would spin on it).
  std::chrono::milliseconds accept_backoff{100};

 private:
  struct Conn;
  void accept_on(unsigned link);
  void on_readable(unsigned link);
  void on_writable(unsigned link);
  void handle(unsigned link, const Message& m);
  void send(unsigned link, uint16_t type, const void* body, uint32_t len);
  void close_node(unsigned link, const std::string& why);
  void update_interest(unsigned link);
  /// Throttled log line about a link; `kind` is a fixed word, never device text.
  void note(unsigned link, const char* kind, const std::string& line);
  /// epoll_wait timeout: until the next HELLO deadline or listener resume, or -1.
  int next_timeout_ms() const;
  /// Closes links past their HELLO deadline, polls paused listeners again.
  void on_timers();

  std::vector<NodeEndpoint> nodes_;
  NodeBackend& backend_;
  int epfd_ = -1;
  int stopfd_ = -1;  // eventfd
  int sigfd_ = -1;   // signalfd, from take_signals()
  std::vector<int> listen_fds_;
  /// Per listener: not polled until then (accept backoff); {} = polled.
  std::vector<std::chrono::steady_clock::time_point> listen_paused_until_;
  LogThrottle throttle_;
  std::vector<std::unique_ptr<Conn>> conns_;
  LinkSync* sync_ = nullptr;
  bool stopping_ = false;
};

}  // namespace ntblab::sw
