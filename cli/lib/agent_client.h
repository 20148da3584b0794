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
  /// The guest's CLOCK_MONOTONIC when the command started and ended (modelled
  /// time in modelled modes); 0 from an agent that does not send them.
  uint64_t guest_start_ns = 0, guest_end_ns = 0;
};

/// The agent's frames (docs/guest-and-qemu.md, "Protocol"): used by
/// AgentClient on the socket and by batch mode (cli/lib/batch.h) in files.
namespace wire {
constexpr uint32_t kRunInInitramfs = 1;  ///< run flags: not in the host-root chroot
constexpr uint32_t kRunCheck = 2;        ///< batch: stop unless the status is bits 8..15
constexpr uint32_t kRunAnyStatus = 4;    ///< batch: with kRunCheck, any status will do
constexpr size_t kMaxCapture = 4u << 20;  ///< per stream; the rest is dropped

struct Frame {
  char type = 0;
  uint32_t id = 0;
  std::string payload;
};
std::string frame(char type, uint32_t id, const std::string& payload = {});
/// The payload of an 'R' request running `sh -c command`.
std::string run_payload(const std::string& command, double timeout_s, uint32_t flags);
/// Take the next whole frame off the front of `buf`, skipping bytes that do
/// not start a valid header; false while no whole frame is there.
bool take_frame(std::string& buf, Frame& f);
/// Add an answer to a run request to `r`; true when it was the last ('X' or 'F').
bool add_to_result(CommandResult& r, const Frame& f);
}  // namespace wire

class AgentClient {
 public:
  static constexpr size_t kMaxCapture = wire::kMaxCapture;

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
