// SPDX-License-Identifier: GPL-2.0-only
#include "runner.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <sstream>
#include <thread>

#include "junit.h"
#include "ntblab/scenario/node_links.h"
#include "provenance.h"
#include "results_file.h"

namespace ntblab::cli {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

constexpr int kSwitchNice = -5;  // the switch process: serves every node's MMIO
constexpr int kVcpuNice = 0;     // guest vCPU threads (lowering them measured no better)

/// Errors and failed steps: printed also with --quiet (only progress is quiet).
void print_error(const std::string& line) { std::cerr << "[ntblab] " << line << std::endl; }

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string read_file(const std::string& path, size_t max = 1u << 20) {
  std::ifstream in(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (s.size() > max) s = "[... " + std::to_string(s.size() - max) + " bytes cut ...]\n" + s.substr(s.size() - max);
  return s;
}

/// The serial console writes CRLF: store plain lines (atomically; on
/// failure the log stays as QEMU wrote it).
void strip_cr(const std::string& path) {
  std::string s = read_file(path, SIZE_MAX);
  std::string out;
  out.reserve(s.size());
  for (char c : s)
    if (c != '\r') out += c;
  if (out.size() == s.size()) return;
  try {
    write_file_atomic(path, out);
  } catch (const std::exception& e) {
    std::cerr << "[ntblab] warning: " << e.what() << std::endl;
  }
}

std::string tail_lines(const std::string& text, int n) {
  size_t end = text.size();
  while (end > 0 && text[end - 1] == '\n') --end;  // ignore trailing newlines
  size_t pos = end;
  while (n-- > 0 && pos > 0) {
    size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) return text.substr(0, end) + "\n";
    pos = nl;
  }
  return text.substr(pos == 0 ? 0 : pos + 1, end - (pos == 0 ? 0 : pos + 1)) + "\n";
}

}  // namespace

LabPaths LabPaths::from_environment() {
  const std::string cache = env_or("NTBLAB_CACHE", "/var/cache/ntblab");
  LabPaths p;
  p.qemu = env_or("NTBLAB_QEMU", cache + "/qemu/bin/qemu-system-x86_64");
  p.image = env_or("NTBLAB_IMAGE", cache + "/guest/image");
  p.switch_bin = env_or("NTBLAB_SWITCH", "ntblab-switch");
  p.modroot = env_or("NTBLAB_MODROOT", fs::exists(cache + "/guest/modroot") ? cache + "/guest/modroot" : "");
  p.root = env_or("NTBLAB_ROOT", fs::current_path().string());
  p.krel = env_or("NTBLAB_KREL", "");
  if (p.krel.empty()) {
    std::ifstream rel(cache + "/guest/kernel.release");
    std::getline(rel, p.krel);
  }
  return p;
}

LabRun::LabRun(const Scenario& s, const LabPaths& paths, const RunOptions& opts)
    : s_(s), paths_(paths), opts_(opts) {
  if (!opts_.accel.empty()) s_.accel = opts_.accel;
  if (s_.timing.modelled() && s_.accel != "tcg")
    throw std::runtime_error("--accel " + s_.accel + ": timing mode " + scenario::to_string(s_.timing.mode) +
                             " needs tcg (it counts the guests' instructions)");
  // Unix socket paths are limited to 108 bytes: keep them short, under /tmp.
  char tmpl[] = "/tmp/ntblab-XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("cannot create a run directory in /tmp");
  sock_dir_ = tmpl;
  log_dir_ = opts_.out_dir + "/logs";
  fs::create_directories(log_dir_);
  for (const NodeSpec& n : s_.nodes) {
    Node node;
    node.name = n.name;
    node.ctl_socket = scenario::control_socket(sock_dir_, n.name);
    // One agent per command a step runs on this node at once (a `parallel`
    // group may run several there): the agent serves one request at a time
    // and QEMU's socket one client (docs/scenario-format.md, "steps[]").
    size_t agents = 1;
    for (const StepSpec& st : s_.steps) {
      size_t here = 0;
      for (const StepSpec& leaf : st.parallel.empty() ? std::vector<StepSpec>{st} : st.parallel)
        for (const std::string& on : leaf.on) here += on == n.name;
      agents = std::max(agents, here);
    }
    node.ctl_sockets.push_back(node.ctl_socket);
    for (size_t j = 1; j < agents; ++j)
      node.ctl_sockets.push_back(scenario::control_socket(sock_dir_, n.name, unsigned(j)));
    node.busy.assign(agents, false);
    node.console_log = log_dir_ + "/" + n.name + ".console.log";
    if (s_.batch.enabled) node.batch_log = log_dir_ + "/" + n.name + ".batch.log";
    nodes_.push_back(std::move(node));
  }
  initrd_ = paths_.image + "/initramfs.cpio.gz";
}

LabRun::~LabRun() {
  try {
    shutdown();
  } catch (...) {
  }
}

void LabRun::progress(const std::string& line) const {
  if (!opts_.quiet) std::cerr << "[ntblab] " << line << std::endl;
}

void LabRun::report_step(size_t k, size_t total, const std::string& node, const std::string& name, bool ok,
                         const std::string& took) const {
  const std::string line = "step " + std::to_string(k + 1) + "/" + std::to_string(total) + " [" + node + "] " +
                           name + ": " + (ok ? "ok" : "FAILED") + " (" + took + ")";
  if (ok) progress(line);
  else print_error(line);
}

// The guests' CPU: everything TCG offers except ERMS/FSRM ("fast REP MOVSB").
// With them, Linux's copy_{to,from}_user and glibc's memcpy use REP MOVSB,
// which TCG executes one byte per iteration: a guest's 64 KiB kernel copy
// ran at ~250 MB/s with them and ~1.5 GB/s without (a pipe round trip 126
// vs 736 MB/s). Both TCP and af_ntb copy, so both gain; docs/guest-and-qemu.md.
constexpr const char* kGuestCpu = "max,-erms,-fsrm";

std::vector<std::string> LabRun::qemu_args(size_t i) const {
  const NodeSpec& n = s_.nodes[i];
  const std::string mem = std::to_string(n.memory >> 20) + "M";
  const std::string kernel = fs::exists(paths_.image + "/vmlinux") ? "/vmlinux" : "/vmlinuz";
  char mac[32];
  std::snprintf(mac, sizeof mac, "52:54:00:4e:54:%02x", unsigned(i + 1));
  std::string cmdline = "console=ttyS0 quiet panic=-1 ntblab.name=" + n.name;
  if (s_.batch.enabled) cmdline += " ntblab.batch=/batch/" + n.name + ".req";
  else cmdline += " ntblab.ip=" + n.ip;
  if (!paths_.modroot.empty() && !s_.batch.enabled) cmdline += " ntblab.modroot=" + paths_.modroot;
  if (s_.timing.modelled()) {
    // Modelled time (docs/modelled-time.md): the TSC counts the guest's
    // virtual ns, so clock_gettime() reads modelled time to the nanosecond.
    cmdline += std::string(" clocksource=tsc tsc=reliable ntblab.timing=") + scenario::to_string(s_.timing.mode);
  }
  if (!n.cmdline.empty()) cmdline += " " + n.cmdline;
  std::vector<std::string> args = {
      paths_.qemu, "-name", n.name + ",debug-threads=on",
      "-L", "/usr/share/seabios", "-L", "/usr/share/qemu",
      "-nodefaults", "-vga", "none", "-display", "none", "-no-reboot",
      "-accel", s_.accel, "-cpu", kGuestCpu, "-smp", std::to_string(n.cpus), "-m", mem,
      "-object", "memory-backend-memfd,id=mem,size=" + mem + ",share=on",
      "-machine", "q35,memory-backend=mem",
      "-kernel", paths_.image + kernel, "-initrd", initrd_,
      "-append", cmdline,
      "-serial", "file:" + nodes_[i].console_log,
  };
  if (s_.batch.enabled) {
    // Batch mode: the agent answers on the second serial line; no device
    // brings the host into the guest (no 9p, virtio-serial or NIC).
    args.insert(args.end(), {"-serial", "file:" + nodes_[i].batch_log});
  } else {
    args.insert(args.end(), {
        "-fsdev", "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap",
        "-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot",
        "-chardev", "socket,id=ctl,path=" + nodes_[i].ctl_socket + ",server=on,wait=off",
        "-device", "virtio-serial-pci,id=vser",
        "-device", "virtserialport,bus=vser.0,chardev=ctl,name=org.ntblab.ctl",
    });
  }
  if (s_.timing.modelled()) {
    // The guest's clock counts executed instructions (2^shift ns each) and
    // jumps over idle stretches (sleep=off); random numbers and the RTC
    // follow the seed and the virtual clock.
    const int shift = __builtin_ctz(s_.timing.ns_per_insn);
    args.insert(args.end(), {"-icount", "shift=" + std::to_string(shift) + ",sleep=off",
                             "-seed", std::to_string(s_.timing.seed),
                             "-rtc", "base=2026-01-01T00:00:00,clock=vm"});
  }
  // The node's switch functions, each behind a root port (a PCIe Endpoint).
  unsigned slot = 0;
  for (const scenario::NodeLink& link : scenario::node_links(s_, sock_dir_)) {
    if (link.node != i) continue;
    const std::string fn = scenario::function_name(link.function), rp = "rp_" + fn;
    ++slot;
    args.insert(args.end(), {"-device", "pcie-root-port,id=" + rp + ",bus=pcie.0,chassis=" + std::to_string(slot) +
                                            ",slot=" + std::to_string(slot),
                             "-device", "pex8749-" + fn + ",bus=" + rp + ",node=" + n.name + ",socket=" + link.path});
  }
  if (!s_.batch.enabled)
    args.insert(args.end(), {
        // TCP/IP baseline: virtio-net into the switch process's Ethernet hub.
        "-netdev", "stream,id=net0,server=off,addr.type=unix,addr.path=" + scenario::eth_socket(sock_dir_),
        "-device", std::string("virtio-net-pci,netdev=net0,romfile=,mac=") + mac,
    });
  // More control ports for steps that run at once on this node (start_agents).
  for (size_t j = 1; j < nodes_[i].ctl_sockets.size(); ++j) {
    const std::string id = "ctl" + std::to_string(j);
    args.insert(args.end(), {"-chardev", "socket,id=" + id + ",path=" + nodes_[i].ctl_sockets[j] + ",server=on,wait=off",
                             "-device", "virtserialport,bus=vser.0,chardev=" + id + ",name=org.ntblab.ctl." +
                                            std::to_string(j)});
  }
  return args;
}

void LabRun::start_agents() {
  for (Node& n : nodes_) {
    if (n.ctl_sockets.size() < 2) continue;
    // The initramfs has the agent; the init's agent starts the others.
    std::string cmd;
    for (size_t j = 1; j < n.ctl_sockets.size(); ++j)
      cmd += "/sbin/ntblab-agent -p org.ntblab.ctl." + std::to_string(j) + " -r /host </dev/null >/dev/null 2>&1 & ";
    CommandResult r = AgentClient(n.ctl_socket, &stop_).run(cmd + "exit 0", 30, true);
    if (r.status != 0)
      throw std::runtime_error(n.name + ": cannot start more agents: " + r.err);
    for (size_t j = 1; j < n.ctl_sockets.size(); ++j)
      if (AgentClient(n.ctl_sockets[j], &stop_).wait_ready(30).empty())
        throw std::runtime_error(n.name + ": agent " + std::to_string(j) + " does not answer");
  }
}

std::string LabRun::check_processes() {
  if (!death_.empty() || down_) return death_;
  auto record = [&](const std::string& what, const std::string& node, ChildProcess& p) {
    json d = {{"process", what}, {"pid", p.pid()}, {"how", p.how()}};
    if (!node.empty()) d["node"] = node;
    died_.push_back(d);
  };
  std::string msg;
  if (!switch_.running()) {
    record("switch", "", switch_);
    msg = "the switch process (pid " + std::to_string(switch_.pid()) + ") died: " + switch_.how() + "; see " +
          log_dir_ + "/switch.log";
  }
  for (Node& n : nodes_)
    if (!n.qemu.running()) {
      // In batch mode a guest powers off when its steps end (wait_batch
      // checks that they did): QEMU exits with status 0.
      if (s_.batch.enabled && n.qemu.status() == 0) continue;
      record("qemu", n.name, n.qemu);
      if (!msg.empty()) continue;
      std::string log = read_file(log_dir_ + "/" + n.name + ".qemu.log");
      msg = n.name + ": QEMU (pid " + std::to_string(n.qemu.pid()) + ") died: " + n.qemu.how() +
            (log.empty() ? "" : "; its log:\n" + tail_lines(log, 8));
    }
  if (!msg.empty()) {
    death_ = msg;
    stop_ = true;
  }
  return death_;
}

void LabRun::check_alive() {
  std::string dead = check_processes();
  if (!dead.empty()) throw std::runtime_error(dead);
}

void LabRun::boot() {
  auto t0 = Clock::now();
  for (const std::string& p : {paths_.qemu, paths_.image + "/initramfs.cpio.gz"})
    if (!fs::exists(p)) throw std::runtime_error("missing " + p + " (./ntblab builds it)");
  if (s_.batch.enabled) prepare_batch();

  progress("starting the switch process (" + s_.topology + ", " + std::to_string(s_.nodes.size()) + " nodes)");
  // Scheduling on a small machine: the guests' vCPUs may spin (polling), the
  // switch process only wakes for events: it runs a little above normal, and
  // each node's vCPU gets a core of its own after boot (see below).
  switch_ = ChildProcess::spawn({paths_.switch_bin, "--scenario", s_.file, "--socket-dir", sock_dir_,
                                 "--stats", log_dir_ + "/switch-stats.json", "--log", log_dir_ + "/switch.log"},
                                "", log_dir_ + "/switch.stderr", true, kSwitchNice);
  std::string line;
  while (line != "ready") {
    if (!switch_.read_line(line, 30000)) {
      if (InterruptGuard::interrupted()) throw std::runtime_error("interrupted");
      throw std::runtime_error("the switch process did not start:\n" +
                               tail_lines(read_file(log_dir_ + "/switch.log") + read_file(log_dir_ + "/switch.stderr"), 8));
    }
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Node& n = nodes_[i];
    std::vector<std::string> args = qemu_args(i);
    std::string cmdline;
    for (const auto& a : args) cmdline += a + " ";
    write_file_atomic(log_dir_ + "/" + n.name + ".qemu.cmdline", cmdline + "\n");
    n.qemu = ChildProcess::spawn(args, "", log_dir_ + "/" + n.name + ".qemu.log");
  }
  progress("booting " + std::to_string(nodes_.size()) + " guests (" + s_.accel +
           (s_.batch.enabled ? ", batch mode)" : ")"));
  if (s_.batch.enabled) return;  // wait_batch() follows them

  // Wait for every agent, in parallel; stop early if a QEMU dies.
  const double timeout = double(s_.boot_timeout_ps) / 1e12;
  std::atomic<bool> stop{false};
  std::vector<std::future<std::string>> ready;
  for (Node& n : nodes_)
    ready.push_back(std::async(std::launch::async, [&n, timeout, &stop] {
      return AgentClient(n.ctl_socket, &stop).wait_ready(timeout);
    }));
  size_t done = 0;
  std::vector<bool> seen(nodes_.size(), false);
  try {
    while (done < nodes_.size()) {
      if (InterruptGuard::interrupted()) throw std::runtime_error("interrupted");
      check_alive();
      for (size_t i = 0; i < nodes_.size(); ++i) {
        if (seen[i] || ready[i].wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) continue;
        seen[i] = true;
        ++done;
        nodes_[i].agent_info = ready[i].get();
        if (nodes_[i].agent_info.empty())
          throw std::runtime_error(nodes_[i].name + ": no answer from the guest within " +
                                   std::to_string(int(timeout)) + " s; console:\n" +
                                   tail_lines(read_file(nodes_[i].console_log), 10));
        nodes_[i].ready_s = since(t0);
        char buf[64];
        std::snprintf(buf, sizeof buf, " ready after %.1f s", nodes_[i].ready_s);
        progress(nodes_[i].name + buf);
      }
    }
  } catch (...) {
    stop = true;
    for (size_t i = 0; i < ready.size(); ++i)
      if (!seen[i]) ready[i].wait();
    throw;
  }
  start_agents();
  boot_s_ = since(t0);
  // One host CPU per node's vCPU, round robin: two guests that both spin
  // (polling) otherwise land on one core now and then and the other waits.
  int vcpus = 0;
  const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  for (size_t i = 0; i < nodes_.size(); ++i)
    // (threads "CPU 0/TCG"..., or one "ALL CPUs/TCG" under -icount)
    vcpus += renice_threads(nodes_[i].qemu.pid(), s_.timing.modelled() ? "ALL CPUs" : "CPU ", kVcpuNice, ncpu > 1 ? int(i % size_t(ncpu)) : -1);
  if (vcpus < int(nodes_.size())) progress("note: could not lower the vCPU threads' priority");
}

std::vector<batch::NodeLog> LabRun::wait_batch(std::string& error) {
  auto t0 = Clock::now();
  // Wall-clock budget: the boot's plus every step's timeout on the busiest
  // node (the guest enforces the timeouts in its own time; this is the
  // host's guard against a run that never ends).
  uint64_t most_ps = 0;
  for (const Node& n : nodes_) {
    uint64_t sum = 0;
    for (const StepSpec& st : s_.steps)
      for (const std::string& on : st.on) sum += on == n.name ? st.timeout_ps : 0;
    most_ps = std::max(most_ps, sum);
  }
  const double budget = double(s_.boot_timeout_ps + most_ps) / 1e12 + 30;
  std::vector<batch::NodeLog> logs(nodes_.size());
  std::vector<std::set<uint32_t>> shown(nodes_.size());
  try {
    for (;;) {
      if (InterruptGuard::interrupted()) throw std::runtime_error("interrupted");
      // Read the logs before looking at the processes: a guest that powered
      // off has written its last answer by the time its QEMU is gone.
      bool running = false;
      for (Node& n : nodes_) running = running || n.qemu.running();
      for (size_t i = 0; i < nodes_.size(); ++i) {
        logs[i] = batch::parse_log(read_file(nodes_[i].batch_log, SIZE_MAX));
        if (nodes_[i].ready_s < 0 && !logs[i].info.empty()) {
          nodes_[i].ready_s = since(t0);
          nodes_[i].agent_info = logs[i].info;
          boot_s_ = std::max(boot_s_, nodes_[i].ready_s);
        }
        for (const auto& [id, r] : logs[i].finished) {
          if (!shown[i].insert(id).second || id == batch::kPingId || id > s_.steps.size()) continue;
          const StepSpec& st = s_.steps[id - 1];
          const bool ok = !r.timed_out && !r.channel_error && (!st.expect || r.status == *st.expect);
          char took[48];
          std::snprintf(took, sizeof took, "guest clock %.6f s", double(r.guest_end_ns - r.guest_start_ns) / 1e9);
          report_step(id - 1, s_.steps.size(), nodes_[i].name, st.name, ok, took);
        }
      }
      check_alive();  // the switch, or a QEMU that did not end by powering off
      if (!running) break;
      if (since(t0) > budget) {
        std::string which;
        for (Node& n : nodes_)
          if (n.qemu.running()) which += (which.empty() ? "" : ", ") + n.name;
        throw std::runtime_error("batch: " + which + " still running after " + std::to_string(int(budget)) +
                                 " s (boot_timeout plus the steps' timeouts); console logs in " + log_dir_);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  return logs;
}

std::string LabRun::step_env(size_t i) const {
  // Every command knows where the lab's sources are (the host's / is visible
  // read-only in the guest; in batch mode the files it needs are at the same
  // paths) and which node it runs on.
  return "export NTBLAB_ROOT='" + paths_.root + "' NTBLAB_NODE='" + nodes_[i].name +
         "' NTBLAB_NODE_INDEX=" + std::to_string(i) + " NTBLAB_NODES=" + std::to_string(nodes_.size()) +
         " NTBLAB_TOPOLOGY=" + s_.topology + " NTBLAB_KREL='" + paths_.krel +
         "' NTBLAB_TIMING=" + scenario::to_string(s_.timing.mode) + "; ";
}

void LabRun::prepare_batch() {
  batch::Cpio cpio;
  const auto file = read_whole_file;
  // A program at its own path, with its libraries at theirs (ldd).
  auto add = [&](const std::string& path) {
    if (cpio.has(path)) return;
    const fs::perms p = fs::status(path).permissions();
    cpio.add_file(path, file(path), unsigned(p) & 0777);
    for (const std::string& lib : batch::libraries_of(path))
      if (!cpio.has(lib)) cpio.add_file(lib, file(lib), 0755);
  };
  for (const std::string& f : s_.batch.files) {
    const std::string path = f.front() == '/' ? f : paths_.root + "/" + f;
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<std::string> all;
      for (const auto& e : fs::recursive_directory_iterator(path, ec))
        if (e.is_regular_file()) all.push_back(e.path().string());
      std::sort(all.begin(), all.end());  // the same archive every time
      for (const std::string& x : all) add(x);
    } else if (fs::is_regular_file(path, ec)) {
      add(path);
    } else {
      throw s_.error("batch.files", f + ": no such file or directory (" + path + ")");
    }
  }
  // Modules: the lab's own and the scenario's, with their dependencies and
  // the index busybox's modprobe reads.
  if (paths_.modroot.empty() || paths_.krel.empty())
    throw std::runtime_error("batch mode needs the guests' module tree (NTBLAB_MODROOT, NTBLAB_KREL)");
  const std::string moddir = paths_.modroot + "/lib/modules/" + paths_.krel;
  const std::string guestdir = "/lib/modules/" + paths_.krel;
  for (const std::string& m : batch::module_closure(moddir, s_.batch.modules))
    cpio.add_file(guestdir + "/" + m, file(moddir + "/" + m));
  for (const char* idx : {"modules.dep", "modules.alias", "modules.symbols", "modules.builtin", "modules.softdep"})
    if (fs::exists(moddir + "/" + idx)) cpio.add_file(guestdir + "/" + idx, file(moddir + "/" + idx));
  for (size_t i = 0; i < nodes_.size(); ++i)
    cpio.add_file("/batch/" + nodes_[i].name + ".req", batch::node_requests(s_, i, step_env(i)));
  // Linux unpacks concatenated archives, compressed or not, one after the
  // other; each starts on a 4-byte boundary (zeros between are skipped).
  std::string img = file(paths_.image + "/initramfs.cpio.gz");
  img.append((4 - img.size() % 4) % 4, '\0');
  img += cpio.finish();
  initrd_ = sock_dir_ + "/initramfs-batch.img";
  write_file_atomic(initrd_, img);
}

CommandResult LabRun::exec(const std::string& node, const std::string& command, double timeout_s) {
  int i = s_.node_index(node);
  if (i < 0) throw std::runtime_error("no node named " + node);
  const std::string env = step_env(size_t(i));
  Node& n = nodes_[size_t(i)];
  size_t agent = 0;
  {
    std::unique_lock<std::mutex> lk(agents_mu_);
    for (;;) {
      while (agent < n.busy.size() && n.busy[agent]) ++agent;
      if (agent < n.busy.size()) break;
      agent = 0;
      agents_cv_.wait_for(lk, std::chrono::milliseconds(100));
    }
    n.busy[agent] = true;
  }
  CommandResult r = AgentClient(n.ctl_sockets[agent], &stop_).run(env + command, timeout_s);
  {
    std::lock_guard<std::mutex> lk(agents_mu_);
    n.busy[agent] = false;
  }
  agents_cv_.notify_all();
  return r;
}

void LabRun::shutdown() {
  if (down_) return;
  check_processes();  // a death not noticed yet is one all the same
  down_ = true;
  // Guests first (an orderly poweroff is quick), then whatever is left, then
  // the switch, which writes its statistics when it stops.
  std::vector<std::future<bool>> offs;
  for (Node& n : nodes_)
    if (n.qemu.running() && !s_.batch.enabled)
      offs.push_back(std::async(std::launch::async, [&n] { return AgentClient(n.ctl_socket).poweroff(2.0); }));
  for (auto& f : offs) f.wait();
  auto deadline = Clock::now() + std::chrono::seconds(3);
  for (Node& n : nodes_)
    while (n.qemu.running() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  for (Node& n : nodes_) n.qemu.stop(2000);
  switch_.stop(5000);
  for (Node& n : nodes_)
    if (fs::exists(n.console_log)) strip_cr(n.console_log);
  std::ifstream st(log_dir_ + "/switch-stats.json");
  if (st) {
    try {
      st >> switch_stats_;
    } catch (...) {
    }
  }
  std::error_code ec;
  fs::remove_all(sock_dir_, ec);
}

json LabRun::node_info() const {
  json a = json::array();
  for (const Node& n : nodes_)
    a.push_back({{"name", n.name}, {"ready_s", n.ready_s}, {"agent", n.agent_info},
                 {"kernel_release", n.agent_info.empty() ? json() : json(kernel_release_of(n.agent_info))},
                 {"console_log", n.console_log}});
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (!nodes_[i].batch_log.empty()) a[i]["batch_log"] = nodes_[i].batch_log;
  return a;
}

namespace {

struct StepRun {
  const StepSpec* spec;
  std::string node;
  CommandResult result;
  bool ok() const {
    if (result.channel_error || result.timed_out) return false;
    return !spec->expect || result.status == *spec->expect;
  }
};

/// The step's times on the guest's own clock (modelled time in modelled modes).
json guest_times(const CommandResult& r) {
  if (r.guest_end_ns == 0) return json::object();
  return {{"guest_start_ns", r.guest_start_ns}, {"guest_end_ns", r.guest_end_ns},
          {"guest_seconds", double(r.guest_end_ns - r.guest_start_ns) / 1e9}};
}

json step_json(const StepRun& r) {
  json j = {{"name", r.spec->name}, {"node", r.node}, {"command", r.spec->run},
          {"status", r.result.status}, {"expect", r.spec->expect ? json(*r.spec->expect) : json("any")},
          {"ok", r.ok()}, {"timed_out", r.result.timed_out}, {"seconds", r.result.seconds},
          {"stdout", r.result.out}, {"stderr", r.result.err}, {"line", r.spec->line}};
  j.update(guest_times(r.result));
  return j;
}

/// Batch mode: each node's steps from its log, in scenario order. With
/// `complete` (every node powered off), throws after adding what ran to
/// `steps` if a node stopped before its batch ended. Returns whether every
/// step passed.
bool batch_steps(const Scenario& s, const std::vector<batch::NodeLog>& logs, const LabRun& lab, json& steps,
                 bool complete) {
  bool all_ok = true;
  for (size_t k = 0; k < s.steps.size(); ++k)
    for (const std::string& node : s.steps[k].on) {
      const batch::NodeLog& log = logs[size_t(s.node_index(node))];
      StepRun r{&s.steps[k], node, {}};
      auto it = log.finished.find(batch::step_id(k));
      if (it != log.finished.end()) {
        r.result = it->second;
      } else if (log.running == batch::step_id(k)) {
        r.result.channel_error = true;
        r.result.err = "[ntblab] the guest stopped during this step";
      } else {
        continue;  // not run: an earlier step of this node failed
      }
      json j = step_json(r);
      j["seconds"] = nullptr;  // batch mode has no host time per step
      steps.push_back(j);
      all_ok = all_ok && r.ok();
    }
  for (size_t i = 0; i < logs.size() && complete; ++i)
    if (!logs[i].done) {
      const json info = lab.node_info()[i];
      throw std::runtime_error(s.nodes[i].name + ": the guest stopped before its batch ended; see " +
                               info["console_log"].get<std::string>());
    }
  return all_ok;
}

/// The leaf steps of one scenario step, each with the node it runs on.
std::vector<StepRun> expand(const StepSpec& st) {
  std::vector<StepRun> runs;
  auto add = [&](const StepSpec& leaf) {
    for (const std::string& node : leaf.on) runs.push_back({&leaf, node, {}});
  };
  if (st.parallel.empty()) add(st);
  for (const StepSpec& leaf : st.parallel) add(leaf);
  return runs;
}

/// Agent mode: run the steps in order through the agents, each step's
/// commands at once; stop at the first step that fails. Returns whether
/// every step passed.
bool agent_steps(const Scenario& s, LabRun& cluster, json& steps) {
  char buf[96];
  bool all_ok = true;
  for (size_t k = 0; k < s.steps.size() && all_ok; ++k) {
    if (InterruptGuard::interrupted()) throw std::runtime_error("interrupted");
    std::vector<StepRun> runs = expand(s.steps[k]);
    std::vector<std::future<CommandResult>> fut;
    for (StepRun& r : runs)
      fut.push_back(std::async(std::launch::async, [&cluster, &r] {
        return cluster.exec(r.node, r.spec->run, double(r.spec->timeout_ps) / 1e12);
      }));
    // Collect them as they finish; meanwhile watch the switch and the
    // QEMUs: when one dies, the steps still waiting give up.
    std::vector<bool> got(runs.size(), false);
    for (size_t left = runs.size(); left > 0;) {
      for (size_t j = 0; j < runs.size(); ++j) {
        if (got[j] || fut[j].wait_for(std::chrono::milliseconds(left > 1 ? 20 : 100)) != std::future_status::ready)
          continue;
        got[j] = true;
        --left;
        runs[j].result = fut[j].get();
        std::snprintf(buf, sizeof buf, "%.1f s", runs[j].result.seconds);
        cluster.report_step(k, s.steps.size(), runs[j].node, runs[j].spec->name, runs[j].ok(), buf);
        if (!runs[j].ok()) {
          all_ok = false;
          std::string why = runs[j].result.timed_out ? "timed out"
                            : runs[j].result.channel_error
                                ? "control channel error"
                                : "exit status " + std::to_string(runs[j].result.status);
          print_error("  " + why + "; stderr:\n" + tail_lines(runs[j].result.err, 10) +
                      "  stdout:\n" + tail_lines(runs[j].result.out, 10));
        }
      }
      cluster.check_processes();
    }
    for (const StepRun& r : runs) steps.push_back(step_json(r));
    // A lost agent connection may be a QEMU dying: give its exit a moment to show.
    bool lost = false;
    for (const StepRun& r : runs) lost = lost || r.result.channel_error;
    for (int t = 0; lost && t < 40 && cluster.check_processes().empty(); ++t)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const std::string dead = cluster.check_processes();
    if (!dead.empty()) throw std::runtime_error(dead);
  }
  return all_ok;
}

}  // namespace

std::string kernel_release_of(const std::string& agent_info) {
  std::istringstream in(agent_info);
  std::string tag, version, release;
  if (!(in >> tag >> version >> release) || tag != "ntblab-agent") return {};
  return release;
}

int run_scenario(const std::string& scenario_path, const RunOptions& opts) {
  InterruptGuard guard;
  Scenario s = load_scenario(scenario_path, InterruptGuard::interrupted);
  fs::create_directories(opts.out_dir);
  json results = {{"scenario", s.name}, {"file", s.file}, {"topology", s.topology}, {"ok", false}};
  json steps = json::array();
  int rc = 1;
  {
    LabRun cluster(s, LabPaths::from_environment(), opts);
    try {
      cluster.boot();
      bool all_ok;
      if (s.batch.enabled) {
        std::string stopped;
        const std::vector<batch::NodeLog> logs = cluster.wait_batch(stopped);
        results["boot_s"] = cluster.boot_seconds();
        // The steps that ended are kept also when the run stopped early.
        all_ok = batch_steps(s, logs, cluster, steps, stopped.empty());
        if (!stopped.empty()) throw std::runtime_error(stopped);
      } else {
        char buf[96];
        std::snprintf(buf, sizeof buf, "all %zu guests ready in %.1f s", s.nodes.size(), cluster.boot_seconds());
        cluster.progress(buf);
        results["boot_s"] = cluster.boot_seconds();
        all_ok = agent_steps(s, cluster, steps);
      }
      if (InterruptGuard::interrupted()) throw std::runtime_error("interrupted");
      results["ok"] = all_ok;
      rc = all_ok ? 0 : 1;
    } catch (const std::exception& e) {
      results["error"] = e.what();
      print_error(std::string("error: ") + e.what());
      rc = InterruptGuard::interrupted() ? 130 : 1;
    }
    cluster.progress("tearing down");
    cluster.shutdown();
    // A death seen only at the teardown fails the run too.
    if (!cluster.died().empty() && !results.contains("error")) {
      const json& d = cluster.died()[0];
      results["error"] = d["process"].get<std::string>() +
                         (d.contains("node") ? " of " + d["node"].get<std::string>() : std::string()) +
                         " (pid " + std::to_string(d["pid"].get<int>()) + ") died: " + d["how"].get<std::string>();
      print_error("error: " + results["error"].get<std::string>());
      results["ok"] = false;
      if (rc == 0) rc = 1;
    }
    results["died"] = cluster.died();
    results["nodes"] = cluster.node_info();
    results["switch"] = cluster.switch_stats();
    // Which clock the guests' own figures are on (docs/modelled-time.md):
    // steps[].seconds and boot_s are always host wall-clock time.
    json timing = {{"mode", scenario::to_string(s.timing.mode)},
                   {"guest_clock", s.timing.modelled() ? "modelled" : "host wall clock (TCG)"}};
    if (s.timing.modelled()) {
      timing["ns_per_insn"] = s.timing.ns_per_insn;
      timing["quantum_ns"] = s.timing.quantum_ps / 1000;
      timing["seed"] = s.timing.seed;
      if (s.timing.mode == scenario::TimingMode::Exact) timing["exact_from"] = s.timing.exact_from;
      if (cluster.switch_stats().contains("sync")) timing["sync"] = cluster.switch_stats()["sync"];
    }
    results["timing"] = timing;
  }
  results["steps"] = steps;
  add_provenance(results, s, LabPaths::from_environment(), opts);
  const std::string path = opts.out_dir + "/results.json";
  try {
    write_file_atomic(path, json_text(results) + "\n");
  } catch (const std::exception& e) {
    std::cerr << "[ntblab] error: results not written: " << e.what() << std::endl;
    return rc == 0 ? 1 : rc;
  }
  if (!opts.quiet) std::cerr << "[ntblab] results: " << path << std::endl;
  if (!opts.junit.empty()) {
    try {
      write_file_atomic(opts.junit, junit_xml(results));
    } catch (const std::exception& e) {
      std::cerr << "[ntblab] error: JUnit XML not written: " << e.what() << std::endl;
      return rc == 0 ? 1 : rc;
    }
    if (!opts.quiet) std::cerr << "[ntblab] JUnit XML: " << opts.junit << std::endl;
  }
  return rc;
}

}  // namespace ntblab::cli
