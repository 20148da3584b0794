// SPDX-License-Identifier: GPL-2.0-only
#include "sync_engine.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "ntblab/model/path.h"

namespace ntblab::sw {

using sync::EffectKind;
using sync::RequestKind;
using sync::Time;

namespace {

template <typename T>
void append(sync::Payload& p, const T& v) {
  const auto* b = reinterpret_cast<const uint8_t*>(&v);
  p.insert(p.end(), b, b + sizeof v);
}

template <typename T>
T load(const sync::Payload& p, size_t at) {
  T v;
  std::memcpy(&v, p.data() + at, sizeof v);
  return v;
}

Time ceil_ns(double ns) { return ns <= 0 ? 0 : Time(std::ceil(ns)); }

}  // namespace

/// A node's RAM as the model sees it in modelled time: reads at once (the
/// node is stopped), writes deferred to the time their data lands.
class SyncEngine::TimedRam : public model::HostMemory {
 public:
  TimedRam(SyncEngine& e, unsigned node, GuestRam* ram) : e_(e), node_(node), ram_(ram) {}
  bool read(uint64_t a, void* d, size_t n) override { return ram_->read(a, d, n); }
  bool write(uint64_t a, const void* s, size_t n) override { return write_at(a, s, n, double(e_.now_)); }
  bool write_at(uint64_t a, const void* s, size_t n, double landed_ns) override {
    if (!e_.in_request_) return ram_->write(a, s, n);
    if (!ram_->contains(a, n)) return false;
    e_.post_ram_write(node_, landed_ns, a, s, n);
    return true;
  }
  uint64_t size() const override { return ram_->size(); }

 private:
  SyncEngine& e_;
  unsigned node_;
  GuestRam* ram_;
};

SyncEngine::SyncEngine(Server& server, ModelBackend& backend, model::Cluster& cluster, SyncConfig config)
    : server_(server), backend_(backend), cluster_(cluster), config_(config), nodes_(cluster.size()) {
  for (NodeState& n : nodes_) n.links.assign(NL_MAX_FUNCTIONS, -1);
  for (unsigned l = 0; l < backend_.links(); ++l) {
    const ModelBackend::LinkTarget& t = backend_.target(l);
    const unsigned fn = static_cast<unsigned>(t.fn);
    nodes_.at(t.node).links.at(fn) = int(l);
    if (t.fn == model::Function::Nt) nodes_[t.node].clock_link = int(l);
  }
  exact_now_ = config_.exact && !config_.exact_from_marker;
  const Time start_lookahead = exact_now_ ? lookahead_ns(0) : std::max<Time>(1, config_.quantum_ns);
  sync::Hooks hooks;
  hooks.execute = [this](const sync::Request& r, Time now) { execute(r, now); };
  hooks.deliver = [this](sync::NodeId n, const sync::Effect& e) { deliver(n, e); };
  hooks.grant = [this](sync::NodeId n, Time until) { grant(n, until); };
  sched_ = std::make_unique<sync::Scheduler>(nodes_.size(), start_lookahead, std::move(hooks));
  // The whole trace, for finding where two runs part (docs/modelled-time.md, "Determinism").
  if (const char* path = std::getenv("NTBLAB_SYNC_TRACE"); path && *path) {
    trace_file_ = std::fopen(path, "w");
    if (trace_file_) sched_->set_trace_file(trace_file_);
    else log(std::string("cannot write the trace to ") + path);
  }
  if (exact_now_) go_exact(0);

  // The model runs at the time of the request being executed; a DMA START
  // runs its whole ring inside its register write (no slices outside time).
  cluster_.set_time_source([this] { return double(now_); });
  cluster_.set_dma_slice(0, 0);
  backend_.irq_sink = [this](unsigned link, bool level, double t) { post_irq(link, level, t); };
  backend_.wrap_ram = [this](unsigned node, GuestRam* ram) -> model::HostMemory* {
    nodes_.at(node).ram = std::make_unique<TimedRam>(*this, node, ram);
    return nodes_[node].ram.get();
  };
}

SyncEngine::~SyncEngine() {
  backend_.irq_sink = nullptr;
  backend_.wrap_ram = nullptr;
  if (trace_file_) {
    sched_->set_trace_file(nullptr);
    std::fclose(trace_file_);
  }
}

Time SyncEngine::lookahead_ns(unsigned from) const {
  // Nothing a request of node `from` causes on another node can happen before
  // a 4-byte posted write has crossed its host link, its own switch and its
  // NT link (the cable or the fabric port): the model's shortest cross-node
  // path, docs/modelled-time.md "Lookahead".
  const model::ClusterNodeConfig& n = cluster_.config().nodes.at(from);
  model::pcie::PathModel path({n.host_link, n.nt_link}, cluster_.config().hop_latency_ns);
  return std::max<Time>(1, Time(std::floor(path.write(4).latency_ns)));
}

void SyncEngine::go_exact(Time at) {
  exact_now_ = true;
  exact_since_ = at;
  for (size_t from = 0; from < nodes_.size(); ++from)
    for (size_t to = 0; to < nodes_.size(); ++to) sched_->set_lookahead(from, to, lookahead_ns(unsigned(from)));
  if (at) log("exact modelled time from " + std::to_string(at) + " ns (marker)");
}

uint32_t SyncEngine::welcome_flags(unsigned link) const {
  const ModelBackend::LinkTarget& t = backend_.target(link);
  return NL_WF_SYNC | (nodes_.at(t.node).clock_link == int(link) ? NL_WF_CLOCK : 0u);
}

void SyncEngine::serve_setup(unsigned link, const Message& m) {
  // Before its first PARK a node is still being built (QEMU reads the
  // function's config space in realize): served at once, at time 0.
  const auto& r = m.as<nl_cfg_read>();
  nl_completion c{r.tag, NL_STATUS_OK, backend_.cfg_read(link, r.offset, r.size)};
  ++setup_requests_;
  server_.send_at(link, NL_COMPLETION, &c, sizeof c, 0);
}

void SyncEngine::on_message(unsigned link, const Message& m) {
  const unsigned node = backend_.target(link).node;
  NodeState& n = nodes_.at(node);
  if (m.hdr.node_seq == 0) {
    if (m.hdr.type == NL_CFG_READ && !n.started) return serve_setup(link, m);
    if (m.hdr.type == NL_BYE) return server_.close_link(link, "device said BYE");
    return server_.close_link(link, std::string(type_name(m.hdr.type)) + " outside the node's message sequence");
  }
  if (m.hdr.node_seq < n.next_seq || n.pending.count(m.hdr.node_seq) || n.pending.size() > 1024)
    return server_.close_link(link, "node_seq " + std::to_string(m.hdr.node_seq) + " repeated or too far ahead");
  n.pending.emplace(m.hdr.node_seq, std::make_pair(link, m));
  // Messages of one node arrive on several sockets; they are taken in the
  // order the node sent them (node_seq), whatever order the sockets deliver.
  for (auto it = n.pending.find(n.next_seq); it != n.pending.end(); it = n.pending.find(n.next_seq)) {
    auto [l, msg] = std::move(it->second);
    n.pending.erase(it);
    ++n.next_seq;
    accept(node, l, msg);
    if (n.closed) break;
  }
  pump();
}

void SyncEngine::accept(unsigned node, unsigned link, const Message& m) {
  NodeState& n = nodes_[node];
  const Time t = m.hdr.time_ns;
  auto request = [&](RequestKind kind) {
    sync::Payload p;
    append(p, m.hdr);
    p.insert(p.end(), m.body.begin(), m.body.end());
    sched_->request(node, t, link, m.hdr.node_seq, kind, std::move(p));
  };
  // A node starts with its first PARK (at 0): the scheduler holds it parked
  // until then, so a request before it could never run, and nothing would
  // report it while the whole cluster waited for this node to start.
  if (!n.started && m.hdr.type != NL_PARK && m.hdr.type != NL_BYE)
    return server_.close_link(link, std::string(type_name(m.hdr.type)) + " before the node's first PARK");
  switch (m.hdr.type) {
    case NL_PARK:
      if (!n.started) {
        if (int(link) != n.clock_link) return server_.close_link(link, "PARK on a link that does not own the clock");
        n.started = true;
        running_ = std::all_of(nodes_.begin(), nodes_.end(), [](const NodeState& x) { return x.started; });
        if (running_) log("every node stopped at 0 ns: modelled time starts");
        return;
      }
      if (int(link) != n.clock_link) return server_.close_link(link, "PARK on a link that does not own the clock");
      return sched_->park(node, t, m.as<nl_park>().idle_until);
    case NL_MMIO_READ:
    case NL_CFG_READ:
      return request(RequestKind::NonPosted);
    case NL_MMIO_WRITE:
      return request(m.hdr.flags & NL_HF_NONPOSTED ? RequestKind::NonPosted : RequestKind::Posted);
    case NL_CFG_WRITE:
      if (!(m.hdr.flags & NL_HF_NONPOSTED))
        return server_.close_link(link, "posted CFG_WRITE on a synchronized link");
      return request(RequestKind::NonPosted);
    case NL_BYE:
      return server_.close_link(link, "device said BYE");
  }
  server_.close_link(link, std::string(type_name(m.hdr.type)) + " not expected on a synchronized link");
}

void SyncEngine::on_close(unsigned link) {
  const unsigned node = backend_.target(link).node;
  NodeState& n = nodes_.at(node);
  n.links[static_cast<unsigned>(backend_.target(link).fn)] = -1;
  if (int(link) == n.clock_link || !n.started) {
    // Without its clock the node cannot keep time: it leaves the run.
    if (!n.closed) {
      n.closed = true;
      n.started = true;  // a node that never started must not hold the others
      sched_->close(node);
      for (int l : n.links)
        if (l >= 0 && l != int(link)) server_.close_link(unsigned(l), "the node's clock link closed");
    }
    running_ = std::all_of(nodes_.begin(), nodes_.end(), [](const NodeState& x) { return x.started; });
  }
  pump();
}

void SyncEngine::pump() {
  if (!running_ || pumping_ || deadlocked_) return;
  pumping_ = true;
  for (;;) {
    const sync::StepResult r = sched_->step();
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (sched_->error(i).empty() || nodes_[i].closed) continue;
      const std::string why = "modelled-time protocol: " + sched_->error(i);
      nodes_[i].closed = true;
      for (int l : nodes_[i].links)
        if (l >= 0) server_.close_link(unsigned(l), why);
    }
    if (r == sync::StepResult::Deadlock) {
      deadlocked_ = true;
      on_deadlock("modelled time cannot advance: " + sched_->diagnosis());
      break;
    }
    if (r != sync::StepResult::Progress) break;
  }
  pumping_ = false;
}

void SyncEngine::execute(const sync::Request& r, Time now) {
  Message m;
  std::memcpy(&m.hdr, r.payload.data(), sizeof m.hdr);
  m.body.assign(r.payload.begin() + sizeof m.hdr, r.payload.end());
  const unsigned link = r.link;
  in_request_ = true;
  cur_posted_ = r.kind == RequestKind::Posted;
  cur_node_ = unsigned(r.node);
  now_ = now;
  cur_latency_ns_ = 0;
  irqs_.clear();
  bool reply = false;
  Time done = now;
  nl_completion c{NL_WRITE_TAG, NL_STATUS_OK, 0};
  switch (m.hdr.type) {
    case NL_MMIO_READ: {
      const auto& q = m.as<nl_mmio_read>();
      uint64_t data = 0;
      const bool ok = backend_.mmio_read(link, q.bar, q.offset, q.size, data);
      cur_latency_ns_ = backend_.last_latency_ns();
      c = {q.tag, ok ? NL_STATUS_OK : NL_STATUS_UR, ok ? data : ~0ull};
      done = now + ceil_ns(cur_latency_ns_);  // the CPU waits for the data
      ++mmio_reads_;
      read_ns_min_ = std::min(read_ns_min_, done - now);
      read_ns_max_ = std::max(read_ns_max_, done - now);
      {
        const bool dma = backend_.target(link).fn == model::Function::Dma;
        auto [it, fresh] = read_ns_by_bar_.try_emplace((dma ? "dma" : "") + std::to_string(q.bar), done - now, done - now);
        if (!fresh) {
          it->second.first = std::min(it->second.first, done - now);
          it->second.second = std::max(it->second.second, done - now);
        }
      }
      reply = true;
      break;
    }
    case NL_CFG_READ: {
      const auto& q = m.as<nl_cfg_read>();
      c = {q.tag, NL_STATUS_OK, backend_.cfg_read(link, q.offset, q.size)};
      reply = true;
      break;
    }
    case NL_MMIO_WRITE: {
      const auto& w = m.as<nl_mmio_write>();
      backend_.mmio_write(link, w.bar, w.offset, m.body.data() + sizeof w, w.size);
      cur_latency_ns_ = backend_.last_latency_ns();
      reply = r.kind == RequestKind::NonPosted;  // a register write: the CPU goes on at once
      break;
    }
    case NL_CFG_WRITE: {
      const auto& w = m.as<nl_cfg_write>();
      const bool lab_register = int(link) == nodes_[cur_node_].clock_link && w.offset == kMarkerOffset && w.size == 4;
      if (lab_register && w.value == kMarkerValue) {
        if (config_.exact && !exact_now_) go_exact(now);
      } else if (lab_register && w.value == kLeaveValue) {
        // The host powers off: its link goes down now, at a point of the
        // trace that does not depend on when its QEMU exits.
        if (!sched_->retired(cur_node_)) {
          log("node " + std::to_string(cur_node_) + " leaves at " + std::to_string(now) + " ns (powers off)");
          sched_->retire(cur_node_);
          cluster_.attach_memory(cur_node_, nullptr);
        }
      } else {
        backend_.cfg_write(link, w.offset, w.size, w.value);
      }
      reply = true;
      break;
    }
  }
  in_request_ = false;
  const bool posted = r.kind == RequestKind::Posted;
  for (const PendingIrq& irq : irqs_) {
    const unsigned to = backend_.target(irq.link).node;
    Time t = irq.time_ns >= 0 ? ceil_ns(irq.time_ns) : now + ceil_ns(cur_latency_ns_);
    if (to != cur_node_ || posted) t = std::max(t, now + sched_->lookahead(cur_node_, to));
    sync::Payload p;
    append(p, uint32_t(irq.link));
    append(p, uint32_t(irq.level));
    const Time present = sched_->now(to);
    if (t < present) {
      ++deferred_effects_;
      t = present;
    }
    sched_->post_effect(to, std::max(t, now), EffectKind::Intx, std::move(p));
  }
  irqs_.clear();
  if (reply) {
    sync::Payload p;
    append(p, uint32_t(link));
    append(p, c);
    sched_->post_effect(r.node, done, EffectKind::Completion, std::move(p));
  }
}

void SyncEngine::post_irq(unsigned link, bool level, double time_ns) {
  if (in_request_) {
    irqs_.push_back({link, level, time_ns});
    return;
  }
  // Outside a request (a node's link went down): at the node's present.
  const unsigned to = backend_.target(link).node;
  if (sched_->state(to) == sync::NodeState::Dead) return;
  sync::Payload p;
  append(p, uint32_t(link));
  append(p, uint32_t(level));
  sched_->post_effect(to, sched_->now(to), EffectKind::Intx, std::move(p));
}

void SyncEngine::post_ram_write(unsigned node, double landed_ns, uint64_t addr, const void* data, size_t len) {
  Time t = std::max(now_, ceil_ns(landed_ns));
  if (node != cur_node_) t = std::max(t, now_ + sched_->lookahead(cur_node_, node));
  if (node != cur_node_ && cur_posted_) {
    auto [it, fresh] = posted_write_ns_by_bytes_.try_emplace(std::to_string(len), t - now_, t - now_);
    if (!fresh) {
      it->second.first = std::min(it->second.first, t - now_);
      it->second.second = std::max(it->second.second, t - now_);
    }
  }
  const Time present = sched_->now(node);
  if (t < present) {
    ++deferred_effects_;
    t = present;
  }
  sync::Payload p;
  append(p, addr);
  const auto* b = static_cast<const uint8_t*>(data);
  p.insert(p.end(), b, b + len);
  sched_->post_effect(node, t, EffectKind::RamWrite, std::move(p));
}

void SyncEngine::deliver(sync::NodeId node, const sync::Effect& e) {
  switch (e.kind) {
    case EffectKind::Completion: {
      const auto link = load<uint32_t>(e.payload, 0);
      const auto c = load<nl_completion>(e.payload, 4);
      server_.send_at(link, NL_COMPLETION, &c, sizeof c, e.time);
      break;
    }
    case EffectKind::Intx: {
      const auto link = load<uint32_t>(e.payload, 0);
      const nl_irq irq{0, load<uint32_t>(e.payload, 4)};
      server_.send_at(link, NL_IRQ, &irq, sizeof irq, e.time);
      break;
    }
    case EffectKind::RamWrite: {
      GuestRam* ram = backend_.ram(unsigned(node));
      const auto addr = load<uint64_t>(e.payload, 0);
      if (ram) ram->write(addr, e.payload.data() + 8, e.payload.size() - 8);
      break;
    }
  }
}

void SyncEngine::grant(sync::NodeId node, Time until) {
  const NodeState& n = nodes_.at(node);
  if (n.clock_link < 0) return;
  nl_grant g{};
  g.until = until;
  for (unsigned f = 0; f < NL_MAX_FUNCTIONS; ++f) {
    const int l = n.links[f];
    g.sent[f] = l < 0 ? 0 : server_.sent_count(unsigned(l)) + (l == n.clock_link ? 1 : 0);
  }
  server_.send_at(unsigned(n.clock_link), NL_GRANT, &g, sizeof g, until);
}

nlohmann::json SyncEngine::stats() const {
  const sync::Counters& k = sched_->counters();
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(sched_->trace_hash()));
  nlohmann::json by_bar = nlohmann::json::object();
  for (const auto& [bar, mm] : read_ns_by_bar_) by_bar[bar] = {mm.first, mm.second};
  nlohmann::json writes = nlohmann::json::object();
  for (const auto& [bytes, mm] : posted_write_ns_by_bytes_) writes[bytes] = {mm.first, mm.second};
  nlohmann::json nodes = nlohmann::json::array();
  for (size_t i = 0; i < nodes_.size(); ++i)
    nodes.push_back({{"state", sync::to_string(sched_->state(i))}, {"time_ns", sched_->now(i)}});
  return {{"mode", config_.exact ? "exact" : "quantum"},
          {"quantum_ns", config_.quantum_ns},
          {"exact_since_ns", exact_now_ ? nlohmann::json(exact_since_) : nlohmann::json(nullptr)},
          {"lookahead_ns", exact_now_ ? sched_->lookahead(0, 0) : config_.quantum_ns},
          {"rounds", sched_->rounds()},
          {"trace_hash", hash},
          {"late_effects", k.late_effects},
          {"grant_overruns", k.grant_overruns},
          {"requests_in_past", k.requests_in_past},
          {"protocol_errors", k.protocol_errors},
          {"deferred_effects", deferred_effects_},
          {"setup_requests", setup_requests_},
          {"mmio_reads", mmio_reads_},
          {"mmio_read_ns_min", mmio_reads_ ? nlohmann::json(read_ns_min_) : nlohmann::json(nullptr)},
          {"mmio_read_ns_max", read_ns_max_},
          {"mmio_read_ns_by_bar", by_bar},
          {"posted_write_ns_by_bytes", writes},
          {"deadlock", deadlocked_},
          {"nodes", nodes}};
}

}  // namespace ntblab::sw
