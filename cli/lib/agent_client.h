// SPDX-License-Identifier: GPL-2.0-only
// Host side of the guest control channel (the agent in guest/agent/, protocol
// in docs/guest-and-qemu.md): ping, run a command, power off.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace ntblab::cli {

struct CommandResult {
  int status = -1;          ///< exit status, 128+N on signal N, -1 if it never ran
  bool timed_out = false;   ///< killed by the agent at the timeout
  bool channel_error = false;
  std::string out, err;     ///< captured output (each capped, see kMaxCapture)
  double seconds = 0;       ///< wall time
};

class AgentClient {
 public:
  static constexpr size_t kMaxCapture = 4u << 20;  ///< per stream; the rest is dropped

  /// `stop`: when it becomes true, a call in progress gives up (as a lost
  /// connection) — the runner sets it when the switch process or a QEMU died.
  explicit AgentClient(std::string socket_path, const std::atomic<bool>* stop = nullptr)
      : path_(std::move(socket_path)), stop_(stop) {}
  /// Wait until the agent answers a ping; returns its info line, or empty on timeout.
  std::string wait_ready(double timeout_s);
  /// Run `sh -c command` in the guest (host userland chroot; with
  /// `in_initramfs`, the initramfs's busybox instead).
  CommandResult run(const std::string& command, double timeout_s, bool in_initramfs = false);
  /// Ask the guest to power off; true if acknowledged.
  bool poweroff(double timeout_s);

 private:
  bool stopped() const { return stop_ && stop_->load(); }
  std::string path_;
  const std::atomic<bool>* stop_ = nullptr;
};

}  // namespace ntblab::cli
