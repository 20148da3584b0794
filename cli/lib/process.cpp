// SPDX-License-Identifier: GPL-2.0-only
#include "process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <dirent.h>
#include <sys/prctl.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace ntblab::cli {

namespace {
std::atomic<bool> g_interrupted{false};
struct sigaction g_old[3];
const int kSignals[3] = {SIGINT, SIGTERM, SIGHUP};
void on_signal(int) { g_interrupted = true; }

int open_out(const std::string& path) {
  return path.empty() ? open("/dev/null", O_WRONLY | O_CLOEXEC)
                      : open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}
}  // namespace

InterruptGuard::InterruptGuard() {
  g_interrupted = false;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &sa, &g_old[i]);
}

InterruptGuard::~InterruptGuard() {
  for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &g_old[i], nullptr);
}

bool InterruptGuard::interrupted() { return g_interrupted; }

ChildProcess ChildProcess::spawn(const std::vector<std::string>& argv, const std::string& stdout_path,
                                 const std::string& stderr_path, bool stdout_pipe, int nice) {
  if (argv.empty()) throw std::invalid_argument("spawn: empty argv");
  int pipefd[2] = {-1, -1};
  if (stdout_pipe && pipe2(pipefd, O_CLOEXEC) != 0) throw std::runtime_error("pipe: " + std::string(strerror(errno)));
  int out = stdout_pipe ? pipefd[1] : open_out(stdout_path);
  int err = open_out(stderr_path);
  if (out < 0 || err < 0) throw std::runtime_error("cannot open log files for " + argv[0]);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork: " + std::string(strerror(errno)));
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (nice) setpriority(PRIO_PROCESS, 0, nice);
    if (getppid() != parent) _exit(127);  // the parent died before prctl
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    int in = open("/dev/null", O_RDONLY);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    execvp(args[0], args.data());
    dprintf(2, "cannot run %s: %s\n", args[0], strerror(errno));
    _exit(127);
  }
  setpgid(pid, pid);
  close(out);
  close(err);
  ChildProcess c;
  c.pid_ = pid;
  c.out_fd_ = stdout_pipe ? pipefd[0] : -1;
  c.name_ = argv[0];
  return c;
}

int renice_threads(pid_t pid, const std::string& prefix, int nice, int cpu) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = opendir(dir.c_str());
  if (!d) return 0;
  int n = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char comm[64] = {};
    int fd = open((dir + "/" + e->d_name + "/comm").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t r = read(fd, comm, sizeof comm - 1);
    close(fd);
    if (r <= 0 || std::string(comm).rfind(prefix, 0) != 0) continue;
    const pid_t tid = pid_t(std::stoi(e->d_name));
    bool ok = setpriority(PRIO_PROCESS, id_t(tid), nice) == 0;
    if (cpu >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(cpu, &set);
      ok = sched_setaffinity(tid, sizeof set, &set) == 0 && ok;
    }
    if (ok) ++n;
  }
  closedir(d);
  return n;
}

ChildProcess::ChildProcess(ChildProcess&& o) noexcept { *this = std::move(o); }

ChildProcess& ChildProcess::operator=(ChildProcess&& o) noexcept {
  if (this != &o) {
    stop(0);
    pid_ = o.pid_;
    status_ = o.status_;
    wait_status_ = o.wait_status_;
    out_fd_ = o.out_fd_;
    name_ = std::move(o.name_);
    pending_ = std::move(o.pending_);
    o.pid_ = -1;
    o.out_fd_ = -1;
  }
  return *this;
}

ChildProcess::~ChildProcess() { stop(1000); }

bool ChildProcess::running() {
  if (pid_ < 0) return false;
  if (status_ >= 0) return false;
  int st;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    wait_status_ = st;
    return false;
  }
  return true;
}

std::string ChildProcess::how() const {
  if (wait_status_ < 0) return status_ < 0 ? "running" : "exit status " + std::to_string(status_);
  if (WIFEXITED(wait_status_)) return "exit status " + std::to_string(WEXITSTATUS(wait_status_));
  if (WIFSIGNALED(wait_status_)) {
    const int sig = WTERMSIG(wait_status_);
    const char* abbrev = sigabbrev_np(sig);
    return "killed by signal " + std::to_string(sig) + (abbrev ? std::string(" (SIG") + abbrev + ")" : "");
  }
  return "wait status " + std::to_string(wait_status_);
}

bool ChildProcess::read_line(std::string& line, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    size_t nl = pending_.find('\n');
    if (nl != std::string::npos) {
      line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      return true;
    }
    if (out_fd_ < 0) return false;
    int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
    if (left <= 0) return false;
    pollfd p{out_fd_, POLLIN, 0};
    if (poll(&p, 1, std::min(left, 200)) <= 0) {
      if (InterruptGuard::interrupted()) return false;
      continue;
    }
    char buf[4096];
    ssize_t r = read(out_fd_, buf, sizeof buf);
    if (r <= 0) {
      close(out_fd_);
      out_fd_ = -1;
      return false;
    }
    pending_.append(buf, size_t(r));
  }
}

void ChildProcess::stop(int grace_ms) {
  if (out_fd_ >= 0) {
    close(out_fd_);
    out_fd_ = -1;
  }
  if (pid_ < 0) return;
  if (running()) {
    kill(-pid_, SIGTERM);
    kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
    while (running() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (running()) {
      kill(-pid_, SIGKILL);
      kill(pid_, SIGKILL);
      int st;
      if (waitpid(pid_, &st, 0) == pid_) {
        status_ = 128 + SIGKILL;
        wait_status_ = st;
      }
    }
  }
  kill(-pid_, SIGKILL);  // whatever else is left in its group
  pid_ = -1;
}

}  // namespace ntblab::cli
