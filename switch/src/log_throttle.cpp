// SPDX-License-Identifier: GPL-2.0-only
#include "log_throttle.h"

namespace ntblab::sw {

void LogThrottle::summarize(const std::string& key, Entry& e, const Sink& sink) {
  if (!e.suppressed) return;
  sink(key + ": " + std::to_string(e.suppressed) + " similar message" + (e.suppressed == 1 ? "" : "s") +
       " suppressed");
  e.suppressed = 0;
}

void LogThrottle::log(const std::string& key, const std::string& line, const Sink& sink,
                      Clock::time_point now) {
  Entry& e = keys_[key];
  if (e.printed == 0 || now - e.window_start >= window_) {
    summarize(key, e, sink);
    e.window_start = now;
    e.printed = 0;
  }
  if (e.printed < burst_) {
    ++e.printed;
    sink(line);
  } else {
    ++e.suppressed;
    ++total_suppressed_;
  }
}

void LogThrottle::flush(const Sink& sink, bool all, Clock::time_point now) {
  for (auto& [key, e] : keys_)
    if (e.suppressed && (all || now - e.window_start >= window_)) summarize(key, e, sink);
}

}  // namespace ntblab::sw
