// SPDX-License-Identifier: GPL-2.0-only
// Child processes of a run (the switch process, the QEMUs): started in their own
// process group, told to die with us (PR_SET_PDEATHSIG), stopped with SIGTERM
// then SIGKILL. Nothing a run starts outlives it.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace ntblab::cli {

class ChildProcess {
 public:
  /// Start argv[0] with argv; stdout/stderr to files (empty: /dev/null).
  /// `stdout_pipe`: keep a pipe to its stdout instead (read with read_line).
  /// `nice`: the child's scheduling niceness (negative needs root; ignored if refused).
  static ChildProcess spawn(const std::vector<std::string>& argv, const std::string& stdout_path,
                            const std::string& stderr_path, bool stdout_pipe = false, int nice = 0);
  ChildProcess() = default;
  ChildProcess(ChildProcess&& o) noexcept;
  ChildProcess& operator=(ChildProcess&& o) noexcept;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  bool running();
  /// Exit status (or 128+signal); -1 while running.
  int status() const { return status_; }
  /// How it ended, from the wait status: "exit status N" or "killed by
  /// signal N (SIGNAME)"; "running" while it runs.
  std::string how() const;
  /// A line from the stdout pipe within timeout_ms, or false.
  bool read_line(std::string& line, int timeout_ms);
  /// SIGTERM, wait up to grace_ms, then SIGKILL; always reaps.
  void stop(int grace_ms = 3000);
  const std::string& name() const { return name_; }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  int wait_status_ = -1;  ///< raw, from waitpid
  int out_fd_ = -1;
  std::string name_, pending_;
};

/// Set the niceness (and, if cpu >= 0, pin to that CPU) every thread of `pid`
/// whose name starts with `prefix` (e.g. QEMU's "CPU 0/TCG" with -name
/// ...,debug-threads=on). Returns how many.
int renice_threads(pid_t pid, const std::string& prefix, int nice, int cpu = -1);

/// SIGINT/SIGTERM/SIGHUP set a flag instead of killing us, so a run can tear
/// down what it started. Returns the previous state on destruction.
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  static bool interrupted();
};

}  // namespace ntblab::cli
