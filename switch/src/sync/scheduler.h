// SPDX-License-Identifier: GPL-2.0-only
// Conservative lock-step scheduler for modelled time (docs/modelled-time.md).
//
// The scheduler knows N nodes (guests), each either running up to a granted
// time, parked, blocked on a non-posted request, or dead. Nodes send it
// timestamped requests; it executes them in a fixed global order through a
// callback (the model), which posts timestamped effects back onto nodes. Each
// round it hands out grants so that no node ever runs past an effect that can
// still reach it. It is a library only: nothing in ntblab-switch uses it yet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace ntblab::sync {

// Modelled time in nanoseconds since the run started (QEMU's virtual clock).
using Time = std::uint64_t;
inline constexpr Time kNever = std::numeric_limits<Time>::max();

using NodeId = std::size_t;
using Payload = std::vector<std::uint8_t>;

enum class NodeState { Running, Parked, Blocked, Dead };

// Non-posted requests (reads, register writes) block the sender until their
// completion; posted requests (window writes) do not.
enum class RequestKind : std::uint8_t { NonPosted, Posted };

struct Request {
  Time time = 0;
  NodeId node = 0;
  std::uint32_t link = 0;
  std::uint64_t seq = 0;
  RequestKind kind = RequestKind::Posted;
  Payload payload;
};

// What an executed request does to a node later on. A Completion releases
// the node's blocking request; the other kinds are delivered in time order.
enum class EffectKind : std::uint8_t { Completion, Intx, RamWrite };

struct Effect {
  Time time = 0;
  EffectKind kind = EffectKind::RamWrite;
  std::uint64_t seq = 0;  // per target node, in posting order (ties at one time)
  Payload payload;
};

struct Hooks {
  // Runs a request at its modelled time `now` (== request.time); may call
  // Scheduler::post_effect.
  std::function<void(const Request&, Time now)> execute;
  // Hands an effect to its (parked or blocked) node.
  std::function<void(NodeId, const Effect&)> deliver;
  // Lets a node run up to `until` (inclusive), after which it must park.
  std::function<void(NodeId, Time until)> grant;
};

// Counters that a correct run keeps at 0.
struct Counters {
  std::uint64_t late_effects = 0;      // effect posted before its node's present
  std::uint64_t grant_overruns = 0;    // node parked or requested beyond its grant
  std::uint64_t requests_in_past = 0;  // node requested or parked before its own present
  std::uint64_t protocol_errors = 0;   // message in the wrong state (e.g. request while parked)
};

enum class StepResult {
  Waiting,   // a node is still running: nothing to do until it parks or blocks
  Progress,  // the round executed, delivered or granted something
  Finished,  // every node is dead
  Deadlock,  // every live node waits and nothing can wake it: see diagnosis()
};

class Scheduler {
 public:
  // All nodes start parked, busy, at time 0. `lookahead` (>= 1 ns) is the
  // smallest delay from a request of one node to an effect on any node
  // (itself included); set_lookahead refines it per ordered pair.
  Scheduler(std::size_t nodes, Time lookahead, Hooks hooks);

  void set_lookahead(NodeId from, NodeId to, Time lookahead);
  Time lookahead(NodeId from, NodeId to) const { return lookahead_[from * nodes_.size() + to]; }

  // Node messages. idle_until > time: the node is halted until then (kNever:
  // halted with no timer armed); idle_until <= time: it wants to run on.
  void park(NodeId node, Time time, Time idle_until);
  void request(NodeId node, Time time, std::uint32_t link, std::uint64_t seq, RequestKind kind,
               Payload payload = {});
  // The node left the run (its QEMU exited normally).
  void close(NodeId node);
  // The node's host is gone from the model's point of view (it powered off:
  // docs/modelled-time.md, "Leaving"), though its QEMU still runs for a while:
  // from now on it gets only the completions of its own requests; interrupts
  // and data for it are dropped, queued or not, and never hashed. Called at a
  // request's execution, so where in the trace it happens is deterministic.
  void retire(NodeId node);
  bool retired(NodeId node) const { return nodes_.at(node).retired; }

  // From the execute hook (or anything that runs the model at a request's time).
  void post_effect(NodeId node, Time time, EffectKind kind, Payload payload = {});

  // One conservative round; see docs/modelled-time.md for the rules.
  StepResult step();

  NodeState state(NodeId node) const { return nodes_[node].state; }
  // The node's present: its park or block time, or its grant while it runs.
  Time now(NodeId node) const;
  Time grant_of(NodeId node) const { return nodes_[node].grant; }
  std::size_t size() const { return nodes_.size(); }

  const Counters& counters() const { return counters_; }
  // Running hash of the executed trace: requests as executed, effects as
  // delivered, with their payloads.
  std::uint64_t trace_hash() const { return hash_; }
  // Also write the trace, one line per hashed event, to `out` (nullptr: no):
  // two runs that should agree can then be compared line by line.
  void set_trace_file(std::FILE* out) { trace_ = out; }
  std::uint64_t rounds() const { return rounds_; }
  // Why the last Deadlock was reported; why a node was closed for a violation.
  const std::string& diagnosis() const { return diagnosis_; }
  const std::string& error(NodeId node) const { return nodes_[node].error; }

 private:
  struct Node {
    NodeState state = NodeState::Parked;
    Time clock = 0;       // parked at / blocked at / last known time while running
    Time idle_until = 0;  // meaningful while parked
    Time grant = 0;
    std::deque<Request> inbox;   // arrival order; sorted by time for one node
    std::vector<Effect> effects;  // kept sorted by (time, seq)
    std::uint64_t next_effect_seq = 0;
    bool retired = false;
    std::string error;
  };

  struct Bounds {
    std::vector<Time> lower;     // earliest time a node can send a new request
    std::vector<Time> activity;  // min(lower, its earliest request not yet executed)
  };

  bool live(NodeId n) const { return nodes_[n].state != NodeState::Dead; }
  bool idle(const Node& n) const {
    return n.state == NodeState::Parked && n.idle_until > n.clock;
  }
  Time next_effect(const Node& n) const { return n.effects.empty() ? kNever : n.effects.front().time; }
  Time completion_time(const Node& n) const;
  Bounds bounds() const;
  Time horizon(NodeId n, const Bounds& b) const;
  bool execute_ready();
  bool deliver_until(NodeId n, Time t);
  void violation(NodeId node, std::uint64_t& counter, const std::string& what);
  void mix(Time time, NodeId node, std::uint64_t kind, std::uint64_t seq, const Payload& payload);
  std::string describe(NodeId n) const;

  std::vector<Node> nodes_;
  std::vector<Time> lookahead_;  // [from * N + to]
  Hooks hooks_;
  Counters counters_;
  std::uint64_t hash_ = 0x6e74626c61620001ULL;  // arbitrary non-zero seed
  std::FILE* trace_ = nullptr;
  std::uint64_t rounds_ = 0;
  std::string diagnosis_;
};

const char* to_string(NodeState s);

}  // namespace ntblab::sync
