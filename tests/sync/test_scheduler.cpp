// SPDX-License-Identifier: GPL-2.0-only
// sync::Scheduler against fake nodes: each fake runs a fixed program of
// posted writes, reads and halts in its own modelled time, within its grants;
// a fake model turns executed requests into effects at later times.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <tuple>

#include "sync/scheduler.h"

namespace {

using namespace ntblab::sync;

struct Action {
  enum Kind { Write, Read, Halt } kind;
  Time gap;            // ns from the previous action (or the end of a stall)
  NodeId target = 0;   // Write / Read: the node whose memory is touched
  Time halt_for = 0;   // Halt: kNever halts with no timer
  bool doorbell = false;  // Write: raises the target's INTx instead of writing RAM
};

using Program = std::vector<Action>;

// One message from a fake node to the scheduler.
struct Msg {
  enum Kind { Req, Park, Close } kind;
  Time time = 0;
  Time idle_until = 0;
  RequestKind req = RequestKind::Posted;
  std::uint64_t seq = 0;
  Payload payload;

  explicit Msg(Kind k, Time t = 0, Time idle = 0) : kind(k), time(t), idle_until(idle) {}
  static Msg park(Time t, Time idle_until) { return Msg(Park, t, idle_until); }
  static Msg request(Time t, RequestKind rk, std::uint64_t seq, Payload p) {
    Msg m(Req, t);
    m.req = rk, m.seq = seq, m.payload = std::move(p);
    return m;
  }
};

struct Fake {
  Program program;
  std::size_t pc = 0;
  Time clock = 0;
  Time anchor = 0;        // the previous action, or when the last stall ended
  Time halted_until = 0;  // > clock: halted
  bool blocked = false;
  bool done = false;
  std::uint64_t seq = 0;
  std::vector<Effect> seen;
  std::vector<std::string> faults;  // what the fake saw go wrong
};

struct Executed {
  Time time;
  NodeId node;
  std::uint32_t link;
  std::uint64_t seq;
  bool operator==(const Executed& o) const {
    return std::tie(time, node, link, seq) == std::tie(o.time, o.node, o.link, o.seq);
  }
  bool operator<(const Executed& o) const {
    return std::tie(time, node, link, seq) < std::tie(o.time, o.node, o.link, o.seq);
  }
};

// The harness: a scheduler, its fakes, a fake model and a random arrival order.
class Lab {
 public:
  Lab(std::vector<Program> programs, Time lookahead, std::uint64_t arrival_seed)
      : fakes_(programs.size()),
        sched_(programs.size(), lookahead,
               Hooks{[this](const Request& r, Time now) { execute(r, now); },
                     [this](NodeId n, const Effect& e) { deliver(n, e); },
                     [this](NodeId n, Time until) { grants_.emplace_back(n, until); }}),
        latency_(programs.size() * programs.size(), lookahead),
        arrival_(arrival_seed) {
    for (std::size_t i = 0; i < programs.size(); ++i) fakes_[i].program = std::move(programs[i]);
  }

  // Lookahead and the model's one-way latency (>= lookahead) for from -> to.
  void set_path(NodeId from, NodeId to, Time lookahead, Time latency) {
    sched_.set_lookahead(from, to, lookahead);
    latency_[from * fakes_.size() + to] = latency;
  }
  void set_read_latency(Time t) { read_latency_ = t; }
  void set_jitter(Time j) { jitter_ = j; }
  void set_rogue(NodeId node, int on_grant, Time overrun) { rogue_ = node, rogue_grant_ = on_grant, overrun_ = overrun; }
  void set_silent_reads() { silent_reads_ = true; }

  StepResult run(std::size_t max_rounds = 1'000'000) {
    for (std::size_t i = 0; i < max_rounds; ++i) {
      StepResult r = sched_.step();
      if (r == StepResult::Finished || r == StepResult::Deadlock) return r;
      if (r == StepResult::Waiting) {
        ADD_FAILURE() << "step() waits although every fake has answered its grant";
        return r;
      }
      deliver_messages();
    }
    ADD_FAILURE() << "no end after " << max_rounds << " rounds";
    return StepResult::Waiting;
  }

  Scheduler& sched() { return sched_; }
  const Fake& fake(NodeId n) const { return fakes_[n]; }
  const std::vector<Executed>& executed() const { return executed_; }

 private:
  Time latency(NodeId from, NodeId to) const { return latency_[from * fakes_.size() + to]; }
  // Deterministic in the request alone, so arrival order cannot change it.
  Time jitter(const Request& r) const { return jitter_ ? (r.seq * 37 + r.node * 11 + r.time) % jitter_ : 0; }

  void execute(const Request& r, Time now) {
    if (now != r.time) ADD_FAILURE() << "executed at " << now << ", request time " << r.time;
    executed_.push_back({r.time, r.node, r.link, r.seq});
    const NodeId target = r.payload.at(0);
    if (r.kind == RequestKind::Posted) {
      const EffectKind k = r.payload.at(1) ? EffectKind::Intx : EffectKind::RamWrite;
      sched_.post_effect(target, now + latency(r.node, target) + jitter(r), k);
    } else if (!silent_reads_) {
      const Time round_trip = read_latency_ ? read_latency_ : latency(r.node, target) + latency(target, r.node);
      sched_.post_effect(r.node, now + round_trip + jitter(r), EffectKind::Completion);
    }
  }

  void deliver(NodeId n, const Effect& e) {
    Fake& f = fakes_[n];
    if (e.time < f.clock)
      f.faults.push_back("effect at " + std::to_string(e.time) + " delivered at " + std::to_string(f.clock));
    if (!f.seen.empty() && e.time < f.seen.back().time) f.faults.push_back("effects out of time order");
    f.seen.push_back(e);
    if (e.kind == EffectKind::Completion) {
      if (!f.blocked) f.faults.push_back("completion while not blocked");
      f.blocked = false;
      f.clock = f.anchor = e.time;
    } else if (e.kind == EffectKind::Intx && f.halted_until > f.clock) {
      f.halted_until = 0;  // the interrupt wakes the halted CPU at its time
      f.clock = f.anchor = std::max(f.clock, e.time);
    }
  }

  // Runs fake n from its clock up to `until`; returns what it sends.
  std::vector<Msg> run_fake(NodeId n, Time until, int grant_no) {
    Fake& f = fakes_[n];
    std::vector<Msg> out;
    if (n == rogue_ && grant_no == rogue_grant_) {
      out.push_back(Msg::park(until + overrun_, until + overrun_));
      return out;
    }
    for (;;) {
      if (f.halted_until > f.clock) {
        if (f.halted_until > until) {
          f.clock = until;
          out.push_back(Msg::park(until, f.halted_until));
          return out;
        }
        f.clock = f.anchor = f.halted_until;  // its timer fires
        f.halted_until = 0;
      }
      if (f.pc == f.program.size()) {
        f.done = true;
        out.push_back(Msg(Msg::Close));
        return out;
      }
      const Action& a = f.program[f.pc];
      if (f.anchor + a.gap > until) {
        f.clock = until;
        out.push_back(Msg::park(until, until));
        return out;
      }
      f.clock = f.anchor = f.anchor + a.gap;
      ++f.pc;
      if (a.kind == Action::Halt) {
        f.halted_until = a.halt_for == kNever ? kNever : f.clock + a.halt_for;
        continue;
      }
      const bool read = a.kind == Action::Read;
      out.push_back(Msg::request(f.clock, read ? RequestKind::NonPosted : RequestKind::Posted, f.seq++,
                                 Payload{static_cast<std::uint8_t>(a.target), static_cast<std::uint8_t>(a.doorbell)}));
      if (read) {
        f.blocked = true;
        return out;
      }
    }
  }

  // Each granted fake answers; the answers reach the scheduler interleaved in
  // a random order that keeps each fake's own order.
  void deliver_messages() {
    std::vector<std::pair<NodeId, std::vector<Msg>>> queues;
    for (auto [n, until] : grants_) queues.emplace_back(n, run_fake(n, until, ++grant_count_[n]));
    grants_.clear();
    for (;;) {
      std::vector<std::size_t> open;
      for (std::size_t i = 0; i < queues.size(); ++i)
        if (!queues[i].second.empty()) open.push_back(i);
      if (open.empty()) return;
      auto& [n, msgs] = queues[open[arrival_() % open.size()]];
      Msg m = std::move(msgs.front());
      msgs.erase(msgs.begin());
      switch (m.kind) {
        case Msg::Req: sched_.request(n, m.time, 0, m.seq, m.req, std::move(m.payload)); break;
        case Msg::Park: sched_.park(n, m.time, m.idle_until); break;
        case Msg::Close: sched_.close(n); break;
      }
    }
  }

  std::vector<Fake> fakes_;
  Scheduler sched_;
  std::vector<Time> latency_;
  Time read_latency_ = 0;
  Time jitter_ = 0;
  bool silent_reads_ = false;
  NodeId rogue_ = ~NodeId{0};
  int rogue_grant_ = 0;
  Time overrun_ = 0;
  std::mt19937_64 arrival_;
  std::vector<std::pair<NodeId, Time>> grants_;
  std::map<NodeId, int> grant_count_;
  std::vector<Executed> executed_;
};

Program random_program(std::mt19937_64& rng, NodeId self, std::size_t nodes, std::size_t length,
                       Time gap_unit) {
  Program p;
  auto pick = [&](std::uint64_t n) { return rng() % n; };
  for (std::size_t i = 0; i < length; ++i) {
    Action a{Action::Write, gap_unit * pick(20)};  // gap 0: right after a stall ends
    NodeId other = (self + 1 + pick(nodes - 1)) % nodes;
    switch (pick(6)) {
      case 0: case 1: a.kind = Action::Write; a.target = other; break;
      case 2: a.kind = Action::Write; a.target = other; a.doorbell = true; break;
      case 3: case 4: a.kind = Action::Read; a.target = other; break;
      default: a.kind = Action::Halt; a.halt_for = gap_unit * (1 + pick(200)); break;
    }
    p.push_back(a);
  }
  return p;
}

struct Outcome {
  StepResult result;
  std::vector<Executed> executed;
  std::uint64_t hash;
};

// A random cluster from `seed`; `arrival` only changes the order in which
// simultaneous messages reach the scheduler.
Outcome run_random(std::uint64_t seed, std::uint64_t arrival, Time gap_unit = 7) {
  std::mt19937_64 rng(seed);
  const std::size_t nodes = 3 + rng() % 2;
  std::vector<Program> programs;
  for (NodeId n = 0; n < nodes; ++n) programs.push_back(random_program(rng, n, nodes, 25, gap_unit));
  Lab lab(programs, 100, arrival);
  for (NodeId a = 0; a < nodes; ++a)
    for (NodeId b = 0; b < nodes; ++b) {
      // On the 50 ns grid, completions, wake-ups and requests of different
      // nodes often fall on the same nanosecond.
      const bool grid = gap_unit == 50;
      const Time la = grid ? 50 * (1 + rng() % 5) : 50 + rng() % 250;
      lab.set_path(a, b, la, la + (grid ? 50 * (rng() % 2) : rng() % 40));
    }
  lab.set_jitter(gap_unit == 50 ? 0 : 30);
  Outcome o{lab.run(), lab.executed(), lab.sched().trace_hash()};
  const Counters& c = lab.sched().counters();
  EXPECT_EQ(o.result, StepResult::Finished) << "seed " << seed << ": " << lab.sched().diagnosis();
  EXPECT_EQ(c.late_effects, 0u) << "seed " << seed;
  EXPECT_EQ(c.grant_overruns, 0u) << "seed " << seed;
  EXPECT_EQ(c.requests_in_past, 0u) << "seed " << seed;
  EXPECT_EQ(c.protocol_errors, 0u) << "seed " << seed;
  for (NodeId n = 0; n < nodes; ++n) {
    EXPECT_TRUE(lab.fake(n).done) << "seed " << seed << " node " << n;
    for (const std::string& f : lab.fake(n).faults) ADD_FAILURE() << "seed " << seed << " node " << n << ": " << f;
  }
  EXPECT_TRUE(std::is_sorted(o.executed.begin(), o.executed.end())) << "seed " << seed;
  return o;
}

TEST(SyncScheduler, NoEffectIsLateOverRandomSchedules) {
  std::size_t executed = 0;
  for (std::uint64_t seed = 1; seed <= 1000; ++seed) {
    executed += run_random(seed, seed * 7919).executed.size();
    if (HasFailure()) break;
  }
  // 3-4 nodes x 25 actions, two thirds of them requests: the runs did run.
  EXPECT_GT(executed, 1000u * 3 * 25 / 2);
}

TEST(SyncScheduler, ArrivalOrderDoesNotChangeTheRun) {
  // gap_unit 50 puts many requests of different nodes at the same time.
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    for (Time unit : {Time{7}, Time{50}}) {
      Outcome a = run_random(seed, 1, unit);
      Outcome b = run_random(seed, 2, unit);
      Outcome c = run_random(seed, 3, unit);
      ASSERT_EQ(a.executed, b.executed) << "seed " << seed;
      ASSERT_EQ(a.executed, c.executed) << "seed " << seed;
      ASSERT_EQ(a.hash, b.hash) << "seed " << seed;
      ASSERT_EQ(a.hash, c.hash) << "seed " << seed;
    }
  }
}

TEST(SyncScheduler, TiesAreBrokenByNodeThenLinkThenSeq) {
  // Three nodes write at exactly 100 ns; whatever the arrival order, node 0's
  // write executes first.
  for (std::uint64_t arrival = 1; arrival <= 20; ++arrival) {
    std::vector<Program> programs(3);
    for (NodeId n = 0; n < 3; ++n)
      programs[n] = {{Action::Write, 100, (n + 1) % 3}, {Action::Write, 0, (n + 2) % 3}};
    Lab lab(programs, 500, arrival);
    ASSERT_EQ(lab.run(), StepResult::Finished);
    std::vector<Executed> want = {{100, 0, 0, 0}, {100, 0, 0, 1}, {100, 1, 0, 0},
                                  {100, 1, 0, 1}, {100, 2, 0, 0}, {100, 2, 0, 1}};
    EXPECT_EQ(lab.executed(), want);
  }
}

TEST(SyncScheduler, BlockedReadWaitsForEarlierEffects) {
  // Node 0 reads at 100 (completion at 600). Node 1 writes into node 0 at
  // 300, landing at 569: the completion may not pass it.
  std::vector<Program> programs = {{{Action::Read, 100, 1}}, {{Action::Write, 300, 0}}};
  Lab lab(programs, 269, 1);
  lab.set_read_latency(500);
  ASSERT_EQ(lab.run(), StepResult::Finished) << lab.sched().diagnosis();
  const auto& seen = lab.fake(0).seen;
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].kind, EffectKind::RamWrite);
  EXPECT_EQ(seen[0].time, 569u);
  EXPECT_EQ(seen[1].kind, EffectKind::Completion);
  EXPECT_EQ(seen[1].time, 600u);
  EXPECT_EQ(lab.sched().counters().late_effects, 0u);
}

TEST(SyncScheduler, BlockedReadIsReleasedOnlyWhenSafe) {
  // Drive the scheduler by hand: after node 0's read has run, its completion
  // (600) must wait until node 1 has passed 600 - lookahead.
  std::vector<std::pair<NodeId, Time>> grants;
  std::vector<std::pair<NodeId, Time>> delivered;
  Scheduler* self = nullptr;
  Scheduler s(2, 269,
              Hooks{[&](const Request& r, Time now) { self->post_effect(r.node, now + 500, EffectKind::Completion); },
                    [&](NodeId n, const Effect& e) { delivered.emplace_back(n, e.time); },
                    [&](NodeId n, Time until) { grants.emplace_back(n, until); }});
  self = &s;
  ASSERT_EQ(s.step(), StepResult::Progress);  // both granted up to 269
  EXPECT_EQ(s.step(), StepResult::Waiting);
  s.request(0, 100, 0, 0, RequestKind::NonPosted);
  s.park(1, 100, 100);
  grants.clear();
  ASSERT_EQ(s.step(), StepResult::Progress);  // read runs; node 1 may go to 100 + 269
  EXPECT_TRUE(delivered.empty());
  ASSERT_EQ(grants, (std::vector<std::pair<NodeId, Time>>{{1, 369}}));
  s.park(1, 369, 369);
  grants.clear();
  // Node 1's next effect on node 0 lands at 369 + 269 = 638 or later: the
  // completion at 600 is safe now. Node 0 resumes at 600.
  ASSERT_EQ(s.step(), StepResult::Progress);
  ASSERT_EQ(delivered, (std::vector<std::pair<NodeId, Time>>{{0, 600}}));
  EXPECT_EQ(grants, (std::vector<std::pair<NodeId, Time>>{{0, 638}, {1, 638}}));
  EXPECT_EQ(s.now(0), 638u);
}

TEST(SyncScheduler, IdleStretchesAreSkipped) {
  // Three nodes sleep for 1, 2 and 3 s of modelled time with a 100 ns
  // lookahead: 3e7 lookaheads, crossed in a handful of rounds.
  std::vector<Program> programs(3);
  for (NodeId n = 0; n < 3; ++n)
    programs[n] = {{Action::Halt, 10, 0, (n + 1) * 1'000'000'000ULL}, {Action::Write, 10, (n + 1) % 3}};
  Lab lab(programs, 100, 1);
  ASSERT_EQ(lab.run(1000), StepResult::Finished) << lab.sched().diagnosis();
  EXPECT_LE(lab.sched().rounds(), 12u);
  EXPECT_EQ(lab.executed().size(), 3u);
  EXPECT_EQ(lab.sched().counters().late_effects, 0u);
}

TEST(SyncScheduler, DoorbellWakesANodeHaltedWithoutTimer) {
  // Node 1 halts with no timer; node 0 rings it at 1 ms and node 1 then writes back.
  std::vector<Program> programs = {{{Action::Write, 1'000'000, 1, 0, true}, {Action::Halt, 1, 0, 5000}},
                                   {{Action::Halt, 5, 0, kNever}, {Action::Write, 1, 0}}};
  Lab lab(programs, 200, 1);
  ASSERT_EQ(lab.run(), StepResult::Finished) << lab.sched().diagnosis();
  ASSERT_EQ(lab.executed().size(), 2u);
  EXPECT_EQ(lab.executed()[1].node, 1u);
  EXPECT_EQ(lab.executed()[1].time, 1'000'201u);  // woken at 1'000'200, one ns later
}

TEST(SyncScheduler, DeadlockWhenEveryNodeSleepsForever) {
  std::vector<Program> programs = {{{Action::Halt, 10, 0, kNever}}, {{Action::Halt, 20, 0, kNever}}};
  Lab lab(programs, 100, 1);
  ASSERT_EQ(lab.run(1000), StepResult::Deadlock);
  const std::string& why = lab.sched().diagnosis();
  EXPECT_NE(why.find("deadlock"), std::string::npos) << why;
  EXPECT_NE(why.find("node 0 parked at 100 ns (halted, no timer armed)"), std::string::npos) << why;
  EXPECT_NE(why.find("node 1 parked at 100 ns (halted, no timer armed)"), std::string::npos) << why;
}

TEST(SyncScheduler, DeadlockWhenAReadNeverCompletes) {
  std::vector<Program> programs = {{{Action::Read, 10, 1}}, {{Action::Halt, 20, 0, kNever}}};
  Lab lab(programs, 100, 1);
  lab.set_silent_reads();
  ASSERT_EQ(lab.run(1000), StepResult::Deadlock);
  const std::string& why = lab.sched().diagnosis();
  EXPECT_NE(why.find("node 0 blocked at 10 ns (its request ran and posted no completion)"), std::string::npos)
      << why;
}

TEST(SyncScheduler, GrantOverrunClosesThatNodeOnly) {
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    std::mt19937_64 rng(seed);
    std::vector<Program> programs;
    for (NodeId n = 0; n < 4; ++n) programs.push_back(random_program(rng, n, 4, 20, 7));
    Lab lab(programs, 120, seed);
    lab.set_rogue(2, 3, 1);  // node 2 parks 1 ns past its third grant
    ASSERT_EQ(lab.run(), StepResult::Finished) << lab.sched().diagnosis();
    const Counters& c = lab.sched().counters();
    EXPECT_EQ(c.grant_overruns, 1u);
    EXPECT_EQ(c.late_effects, 0u);
    EXPECT_EQ(lab.sched().state(2), NodeState::Dead);
    EXPECT_NE(lab.sched().error(2).find("beyond its grant"), std::string::npos) << lab.sched().error(2);
    for (NodeId n : {0, 1, 3}) {
      EXPECT_TRUE(lab.fake(n).done) << "seed " << seed << " node " << n;
      EXPECT_TRUE(lab.sched().error(n).empty());
    }
  }
}

TEST(SyncScheduler, RequestInItsOwnPastClosesTheNode) {
  Scheduler s(2, 100, Hooks{[](const Request&, Time) {}, [](NodeId, const Effect&) {}, [](NodeId, Time) {}});
  ASSERT_EQ(s.step(), StepResult::Progress);
  s.request(0, 50, 0, 0, RequestKind::Posted);
  s.request(0, 40, 0, 1, RequestKind::Posted);
  EXPECT_EQ(s.counters().requests_in_past, 1u);
  EXPECT_EQ(s.state(0), NodeState::Dead);
  EXPECT_NE(s.error(0).find("before its present 50 ns"), std::string::npos) << s.error(0);
  s.park(1, 100, 100);
  EXPECT_EQ(s.step(), StepResult::Progress);
  EXPECT_EQ(s.state(1), NodeState::Running);
  EXPECT_EQ(s.grant_of(1), 200u);
}

TEST(SyncScheduler, MessageFromAParkedNodeClosesIt) {
  Scheduler s(2, 100, Hooks{[](const Request&, Time) {}, [](NodeId, const Effect&) {}, [](NodeId, Time) {}});
  s.request(1, 0, 0, 0, RequestKind::Posted);  // not granted yet
  EXPECT_EQ(s.counters().protocol_errors, 1u);
  EXPECT_EQ(s.state(1), NodeState::Dead);
  EXPECT_NE(s.error(1).find("sent a request while parked"), std::string::npos) << s.error(1);
  EXPECT_EQ(s.step(), StepResult::Progress);
  EXPECT_EQ(s.state(0), NodeState::Running);
}

TEST(SyncScheduler, LateEffectIsCounted) {
  Scheduler s(1, 100, Hooks{[](const Request&, Time) {}, [](NodeId, const Effect&) {}, [](NodeId, Time) {}});
  ASSERT_EQ(s.step(), StepResult::Progress);
  s.park(0, 80, 80);
  s.post_effect(0, 79, EffectKind::Intx);
  EXPECT_EQ(s.counters().late_effects, 1u);
  s.post_effect(0, 80, EffectKind::Intx);
  EXPECT_EQ(s.counters().late_effects, 1u);
}

// A node whose host powered off (the leave marker) keeps only the completions
// of its own requests; what else was queued or comes later for it is dropped,
// and what comes later leaves no mark in the trace hash.
TEST(SyncScheduler, RetiredNodeGetsOnlyItsCompletions) {
  auto run = [](bool later_effect) {
    std::vector<std::pair<NodeId, EffectKind>> seen;
    Scheduler s(1, 100, Hooks{[](const Request&, Time) {}, [&](NodeId n, const Effect& e) { seen.emplace_back(n, e.kind); },
                              [](NodeId, Time) {}});
    s.post_effect(0, 5, EffectKind::Intx);  // queued before: dropped
    s.retire(0);
    EXPECT_TRUE(s.retired(0));
    if (later_effect) s.post_effect(0, 6, EffectKind::RamWrite);  // after: dropped
    s.post_effect(0, 7, EffectKind::Completion);
    EXPECT_EQ(s.step(), StepResult::Progress);
    EXPECT_EQ(s.grant_of(0), 7u);  // nothing earlier left to wake it for
    s.park(0, 7, 7);
    EXPECT_EQ(s.step(), StepResult::Progress);
    EXPECT_EQ(seen, (std::vector<std::pair<NodeId, EffectKind>>{{0, EffectKind::Completion}}));
    return s.trace_hash();
  };
  EXPECT_EQ(run(true), run(false));
}

TEST(SyncScheduler, RejectsZeroLookahead) {
  Hooks h{[](const Request&, Time) {}, [](NodeId, const Effect&) {}, [](NodeId, Time) {}};
  EXPECT_THROW(Scheduler(2, 0, h), std::invalid_argument);
  Scheduler s(2, 10, h);
  EXPECT_THROW(s.set_lookahead(0, 1, 0), std::invalid_argument);
}

}  // namespace
