// SPDX-License-Identifier: GPL-2.0-only
#include "sync/scheduler.h"

#include <algorithm>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <tuple>

namespace ntblab::sync {
namespace {

Time add(Time a, Time b) { return a > kNever - b ? kNever : a + b; }

// SplitMix64's finaliser: a cheap, well-spread 64-bit mixing step.
std::uint64_t scramble(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string time_str(Time t) { return t == kNever ? std::string("never") : std::to_string(t) + " ns"; }

}  // namespace

const char* to_string(NodeState s) {
  switch (s) {
    case NodeState::Running: return "running";
    case NodeState::Parked: return "parked";
    case NodeState::Blocked: return "blocked";
    case NodeState::Dead: return "dead";
  }
  return "?";
}

Scheduler::Scheduler(std::size_t nodes, Time lookahead, Hooks hooks)
    : nodes_(nodes), lookahead_(nodes * nodes, lookahead), hooks_(std::move(hooks)) {
  if (nodes == 0) throw std::invalid_argument("sync::Scheduler: needs at least one node");
  if (lookahead == 0) throw std::invalid_argument("sync::Scheduler: lookahead must be at least 1 ns");
  if (!hooks_.execute || !hooks_.deliver || !hooks_.grant)
    throw std::invalid_argument("sync::Scheduler: execute, deliver and grant hooks are required");
}

void Scheduler::set_lookahead(NodeId from, NodeId to, Time la) {
  if (from >= nodes_.size() || to >= nodes_.size())
    throw std::out_of_range("sync::Scheduler::set_lookahead: no such node");
  if (la == 0) throw std::invalid_argument("sync::Scheduler: lookahead must be at least 1 ns");
  lookahead_[from * nodes_.size() + to] = la;
}

Time Scheduler::now(NodeId node) const {
  const Node& n = nodes_.at(node);
  switch (n.state) {
    case NodeState::Running: return n.grant;
    case NodeState::Dead: return kNever;
    default: return n.clock;
  }
}

// --- node messages --------------------------------------------------------

void Scheduler::park(NodeId node, Time time, Time idle_until) {
  Node& n = nodes_.at(node);
  if (n.state == NodeState::Dead) return;
  if (n.state != NodeState::Running)
    return violation(node, counters_.protocol_errors,
                     std::string("parked while ") + to_string(n.state));
  if (time < n.clock)
    return violation(node, counters_.requests_in_past,
                     "parked at " + time_str(time) + ", before its present " + time_str(n.clock));
  if (time > n.grant)
    return violation(node, counters_.grant_overruns,
                     "parked at " + time_str(time) + ", beyond its grant " + time_str(n.grant));
  n.state = NodeState::Parked;
  n.clock = time;
  n.idle_until = idle_until;
}

void Scheduler::request(NodeId node, Time time, std::uint32_t link, std::uint64_t seq, RequestKind kind,
                        Payload payload) {
  Node& n = nodes_.at(node);
  if (n.state == NodeState::Dead) return;
  if (n.state != NodeState::Running)
    return violation(node, counters_.protocol_errors,
                     std::string("sent a request while ") + to_string(n.state));
  if (time < n.clock)
    return violation(node, counters_.requests_in_past,
                     "request at " + time_str(time) + ", before its present " + time_str(n.clock));
  if (time > n.grant)
    return violation(node, counters_.grant_overruns,
                     "request at " + time_str(time) + ", beyond its grant " + time_str(n.grant));
  n.inbox.push_back(Request{time, node, link, seq, kind, std::move(payload)});
  n.clock = time;
  if (kind == RequestKind::NonPosted) n.state = NodeState::Blocked;
}

void Scheduler::violation(NodeId node, std::uint64_t& counter, const std::string& what) {
  ++counter;
  close(node);
  nodes_[node].inbox.clear();  // nothing a misbehaving node sent is executed
  nodes_[node].error = "node " + std::to_string(node) + " closed: " + what;
}

// Requests the node sent before it left still execute; effects on it are dropped.
void Scheduler::close(NodeId node) {
  Node& n = nodes_.at(node);
  n.state = NodeState::Dead;
  n.effects.clear();
}

void Scheduler::retire(NodeId node) {
  Node& n = nodes_.at(node);
  n.retired = true;
  n.effects.erase(std::remove_if(n.effects.begin(), n.effects.end(),
                                 [](const Effect& e) { return e.kind != EffectKind::Completion; }),
                  n.effects.end());
}

void Scheduler::post_effect(NodeId node, Time time, EffectKind kind, Payload payload) {
  Node& n = nodes_.at(node);
  if (n.state == NodeState::Dead || (n.retired && kind != EffectKind::Completion)) return;
  if (time < now(node)) ++counters_.late_effects;
  Effect e{time, kind, n.next_effect_seq++, std::move(payload)};
  auto at = std::upper_bound(n.effects.begin(), n.effects.end(), time,
                             [](Time t, const Effect& x) { return t < x.time; });
  n.effects.insert(at, std::move(e));
}

// --- the round --------------------------------------------------------------

Time Scheduler::completion_time(const Node& n) const {
  for (const Effect& e : n.effects)
    if (e.kind == EffectKind::Completion) return e.time;
  return kNever;
}

// lower[n]: the earliest time node n can send a request it has not sent yet.
// A parked busy node: its park time. A blocked node: its completion's time
// once known, else its block time. A halted (idle) node: the earliest of its
// timer, an effect queued on it, and anything another node could still do to
// it -- which depends on the other nodes' bounds, hence the relaxation (the
// lookaheads are >= 1, so it settles within N passes).
Scheduler::Bounds Scheduler::bounds() const {
  const std::size_t count = nodes_.size();
  Bounds b{std::vector<Time>(count, kNever), std::vector<Time>(count, kNever)};
  for (NodeId i = 0; i < count; ++i) {
    const Node& n = nodes_[i];
    switch (n.state) {
      case NodeState::Dead: break;
      case NodeState::Running: b.lower[i] = n.clock; break;  // step() never gets here
      case NodeState::Blocked: {
        Time c = completion_time(n);
        b.lower[i] = c != kNever ? c : n.clock;
        break;
      }
      case NodeState::Parked:
        b.lower[i] = idle(n) ? std::min(n.idle_until, next_effect(n)) : n.clock;
        break;
    }
  }
  auto activity = [&](NodeId k) {
    const Node& n = nodes_[k];
    return n.inbox.empty() ? b.lower[k] : std::min(b.lower[k], n.inbox.front().time);
  };
  for (std::size_t pass = 0; pass <= count; ++pass) {
    bool changed = false;
    for (NodeId i = 0; i < count; ++i) {
      if (!idle(nodes_[i])) continue;
      for (NodeId k = 0; k < count; ++k) {
        Time t = add(activity(k), lookahead(k, i));
        if (t < b.lower[i]) b.lower[i] = t, changed = true;
      }
    }
    if (!changed) break;
  }
  for (NodeId k = 0; k < count; ++k) b.activity[k] = activity(k);
  return b;
}

// The earliest time at which an effect not yet posted could land on node n.
Time Scheduler::horizon(NodeId n, const Bounds& b) const {
  Time h = kNever;
  for (NodeId k = 0; k < nodes_.size(); ++k) h = std::min(h, add(b.activity[k], lookahead(k, n)));
  return h;
}

// Executes, in (time, node, link, seq) order, every queued request that no
// request still to come can precede: one from node k could come at
// lower[k], and it would precede R if (lower[k], k) < (R.time, R.node).
bool Scheduler::execute_ready() {
  bool any = false;
  for (;;) {
    const Request* first = nullptr;
    for (const Node& n : nodes_) {
      if (n.inbox.empty()) continue;
      const Request& r = n.inbox.front();
      if (!first || std::tie(r.time, r.node, r.link, r.seq) <
                        std::tie(first->time, first->node, first->link, first->seq))
        first = &r;
    }
    if (!first) return any;
    Bounds b = bounds();
    for (NodeId k = 0; k < nodes_.size(); ++k)
      if (k != first->node && live(k) && std::tie(b.lower[k], k) <= std::tie(first->time, first->node))
        return any;
    Request r = std::move(nodes_[first->node].inbox.front());
    nodes_[r.node].inbox.pop_front();
    mix(r.time, r.node, static_cast<std::uint64_t>(r.kind), r.seq, r.payload);
    hooks_.execute(r, r.time);
    any = true;
  }
}

bool Scheduler::deliver_until(NodeId id, Time t) {
  Node& n = nodes_[id];
  bool any = false;
  while (n.state != NodeState::Dead && !n.effects.empty() && n.effects.front().time <= t) {
    Effect e = std::move(n.effects.front());
    n.effects.erase(n.effects.begin());
    mix(e.time, id, 2 + static_cast<std::uint64_t>(e.kind), e.seq, e.payload);
    hooks_.deliver(id, e);
    any = true;
  }
  return any;
}

StepResult Scheduler::step() {
  bool all_dead = true;
  for (const Node& n : nodes_) {
    if (n.state == NodeState::Running) return StepResult::Waiting;
    if (n.state != NodeState::Dead) all_dead = false;
  }
  if (all_dead) {
    execute_ready();  // what the nodes sent before they left
    return StepResult::Finished;
  }
  ++rounds_;

  bool progress = execute_ready();
  const Bounds b = bounds();
  // Grants are decided from the bounds above; a hook that makes a node park
  // or request at once is seen in the next round.
  for (NodeId id = 0; id < nodes_.size(); ++id) {
    Node& n = nodes_[id];
    const Time h = horizon(id, b);
    if (n.state == NodeState::Blocked) {
      const Time c = completion_time(n);
      if (c == kNever || c > h) {
        // Still stalled: effects up to the horizon (and not past the
        // completion, whose time may still be unknown) can land now.
        progress |= deliver_until(id, std::min(h, c == kNever ? n.clock : c));
        continue;
      }
      progress |= deliver_until(id, c);  // the completion is among them
      n.clock = c;
      n.idle_until = c;
      n.state = NodeState::Parked;  // released; it resumes with its next grant
    }
    if (n.state != NodeState::Parked) continue;
    progress |= deliver_until(id, std::min(n.clock, h));
    const Time until = std::min(next_effect(n), h);
    if (until == kNever && idle(n)) continue;  // never hand a halted node an endless sleep
    if (until <= n.clock) continue;  // waits here for others to advance
    n.state = NodeState::Running;
    n.grant = until;
    hooks_.grant(id, until);
    progress = true;
  }
  if (progress) return StepResult::Progress;

  std::ostringstream out;
  out << "deadlock in round " << rounds_ << ": no node can run and nothing queued can wake one;";
  const char* sep = " ";
  for (NodeId id = 0; id < nodes_.size(); ++id)
    if (live(id)) out << sep << describe(id), sep = "; ";
  diagnosis_ = out.str();
  return StepResult::Deadlock;
}

std::string Scheduler::describe(NodeId id) const {
  const Node& n = nodes_[id];
  std::ostringstream out;
  out << "node " << id << ' ' << to_string(n.state) << " at " << time_str(n.clock);
  if (n.state == NodeState::Parked) {
    if (n.idle_until == kNever) out << " (halted, no timer armed)";
    else if (n.idle_until > n.clock) out << " (halted until " << time_str(n.idle_until) << ')';
  }
  if (n.state == NodeState::Blocked && completion_time(n) == kNever)
    out << (n.inbox.empty() ? " (its request ran and posted no completion)" : " (its request waits)");
  out << ", " << n.inbox.size() << " requests and " << n.effects.size() << " effects queued";
  return out.str();
}

void Scheduler::mix(Time time, NodeId node, std::uint64_t kind, std::uint64_t seq, const Payload& payload) {
  for (std::uint64_t v : {time, static_cast<std::uint64_t>(node), kind, seq, std::uint64_t(payload.size())})
    hash_ = scramble(hash_ ^ v);
  // The contents too: two runs that write other data at the same times differ.
  for (std::size_t i = 0; i < payload.size(); i += 8) {
    std::uint64_t v = 0;
    std::memcpy(&v, payload.data() + i, std::min<std::size_t>(8, payload.size() - i));
    hash_ = scramble(hash_ ^ v);
  }
  if (trace_)
    std::fprintf(trace_, "%llu node %llu kind %llu seq %llu bytes %zu -> %016llx\n",
                 static_cast<unsigned long long>(time), static_cast<unsigned long long>(node),
                 static_cast<unsigned long long>(kind), static_cast<unsigned long long>(seq), payload.size(),
                 static_cast<unsigned long long>(hash_));
}

}  // namespace ntblab::sync
