// SPDX-License-Identifier: GPL-2.0-only
#include "guest_ram.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <stdexcept>

namespace ntblab::sw {

namespace {
// The guard of the copy this thread is doing, if any. The handler jumps back
// into guarded_copy() only when the fault happened inside one.
thread_local sigjmp_buf* t_guard = nullptr;
struct sigaction g_previous_sigbus;

void on_sigbus(int, siginfo_t*, void*) {
  if (sigjmp_buf* guard = t_guard) {
    t_guard = nullptr;
    siglongjmp(*guard, 1);
  }
  // Not a guarded copy: put the previous disposition back and return; the
  // faulting instruction runs again and takes that action (normally: death).
  sigaction(SIGBUS, &g_previous_sigbus, nullptr);
}

void install_sigbus_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = on_sigbus;
    // SA_NODEFER: SIGBUS is not blocked while the handler runs, so jumping out
    // of it leaves the thread's signal mask as it was (sigsetjmp need not save it).
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &g_previous_sigbus);
  });
}
}  // namespace

bool guarded_copy(void* dst, const void* src, size_t len) {
  install_sigbus_handler();
  sigjmp_buf guard;
  if (sigsetjmp(guard, 0) != 0) return false;  // came back from on_sigbus
  t_guard = &guard;
  std::atomic_signal_fence(std::memory_order_seq_cst);  // no access moves out of the guard
  std::memcpy(dst, src, len);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t_guard = nullptr;
  return true;
}

GuestRam::GuestRam(const nl_hello& hello, std::vector<int> fds) : fds_(std::move(fds)) {
  auto fail = [&](unsigned i, const std::string& why) {
    release();
    throw std::runtime_error("HELLO ram[" + std::to_string(i) + "]: " + why);
  };
  if (hello.n_ram > NL_MAX_RAM_REGIONS) fail(0, "too many regions");
  for (unsigned i = 0; i < hello.n_ram; ++i) {
    const nl_ram_region& r = hello.ram[i];
    if (r.fd_index >= fds_.size()) fail(i, "fd_index " + std::to_string(r.fd_index) + " not attached");
    struct stat st {};
    if (fstat(fds_[r.fd_index], &st) != 0) fail(i, std::string("fstat: ") + std::strerror(errno));
    // A file that can shrink could turn a mapped page into SIGBUS at any time.
    const int seals = fcntl(fds_[r.fd_index], F_GET_SEALS);
    if (seals < 0 || !(seals & F_SEAL_SHRINK))
      fail(i, "guest RAM file not sealed against shrinking (use memory-backend-memfd, seal=on)");
    uint64_t file_size = static_cast<uint64_t>(st.st_size);
    if (r.size == 0 || r.fd_offset > file_size || r.size > file_size - r.fd_offset)
      fail(i, "region of " + std::to_string(r.size) + " bytes at file offset " +
                  std::to_string(r.fd_offset) + " does not fit the " + std::to_string(file_size) +
                  "-byte file");
    if (r.gpa + r.size < r.gpa) fail(i, "guest-physical range wraps");
    for (const Region& o : regions_)
      if (r.gpa < o.gpa + o.size && o.gpa < r.gpa + r.size) fail(i, "overlaps another region");
    const long page = sysconf(_SC_PAGESIZE);
    uint64_t start = r.fd_offset & ~static_cast<uint64_t>(page - 1);
    size_t map_len = static_cast<size_t>(r.fd_offset - start + r.size);
    void* p = mmap(nullptr, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fds_[r.fd_index],
                   static_cast<off_t>(start));
    if (p == MAP_FAILED) fail(i, std::string("mmap: ") + std::strerror(errno));
    regions_.push_back({r.gpa, r.size, static_cast<uint8_t*>(p) + (r.fd_offset - start), map_len});
  }
}

GuestRam::~GuestRam() { release(); }

void GuestRam::release() {
  const long page = sysconf(_SC_PAGESIZE);
  for (const Region& r : regions_) {
    auto base = reinterpret_cast<uintptr_t>(r.host) & ~static_cast<uintptr_t>(page - 1);
    munmap(reinterpret_cast<void*>(base), r.map_len);
  }
  regions_.clear();
  for (int fd : fds_)
    if (fd >= 0) close(fd);
  fds_.clear();
}

uint8_t* GuestRam::translate(uint64_t addr, size_t len) {
  for (const Region& r : regions_)
    if (addr >= r.gpa && len <= r.size && addr - r.gpa <= r.size - len) return r.host + (addr - r.gpa);
  return nullptr;
}

bool GuestRam::contains(uint64_t addr, size_t len) const {
  return const_cast<GuestRam*>(this)->translate(addr, len) != nullptr;
}

bool GuestRam::read(uint64_t addr, void* dst, size_t len) {
  uint8_t* p = faults_ ? nullptr : translate(addr, len);
  if (!p) return false;
  if (guarded_copy(dst, p, len)) return true;
  ++faults_;
  return false;
}

bool GuestRam::write(uint64_t addr, const void* src, size_t len) {
  uint8_t* p = faults_ ? nullptr : translate(addr, len);
  if (!p) return false;
  if (guarded_copy(p, src, len)) return true;
  ++faults_;
  return false;
}

uint64_t GuestRam::size() const {
  uint64_t s = 0;
  for (const Region& r : regions_) s += r.size;
  return s;
}

}  // namespace ntblab::sw
