// SPDX-License-Identifier: GPL-2.0-only
// Rate limit for log lines: a device that connects and misbehaves in a loop
// must not fill the disk with one line per attempt. Lines are grouped by a key
// (a node and a kind of event, never text a device chose); each key may print
// `burst` lines per `window`, the rest are counted and summed up in one line
// when the key's next window opens, or at flush(). docs/node-link-protocol.md,
// "What the switch refuses", describes the policy.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace ntblab::sw {

class LogThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  using Sink = std::function<void(const std::string&)>;

  explicit LogThrottle(unsigned burst = 10, Clock::duration window = std::chrono::seconds(10))
      : burst_(burst), window_(window) {}

  /// Print `line` through `sink`, unless `key` has used up its window.
  void log(const std::string& key, const std::string& line, const Sink& sink,
           Clock::time_point now = Clock::now());
  /// Print the summary of every key with suppressed lines whose window has
  /// ended (all of them if `all`).
  void flush(const Sink& sink, bool all, Clock::time_point now = Clock::now());
  /// Lines suppressed so far, over all keys.
  uint64_t suppressed() const { return total_suppressed_; }

 private:
  struct Entry {
    Clock::time_point window_start{};
    unsigned printed = 0;
    uint64_t suppressed = 0;
  };
  void summarize(const std::string& key, Entry& e, const Sink& sink);

  unsigned burst_;
  Clock::duration window_;
  std::map<std::string, Entry> keys_;
  uint64_t total_suppressed_ = 0;
};

}  // namespace ntblab::sw
