// SPDX-License-Identifier: GPL-2.0-only
// A guest's RAM, shared with the switch process: the file descriptors QEMU
// sent in HELLO, mapped here, addressed by guest-physical address.
//
// A guest RAM file that shrinks after it was mapped turns the next access to a
// page past its end into SIGBUS. Two defences (docs/node-link-protocol.md,
// "What the switch refuses"): HELLO is refused unless every file is sealed
// against shrinking (F_SEAL_SHRINK, which QEMU's memory-backend-memfd sets by
// default), and every copy to or from guest RAM runs under a SIGBUS guard, so a
// bus error fails that one access instead of killing the switch.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ntblab/model/memory.h"
#include "ntblab/node_link.h"

namespace ntblab::sw {

/// memcpy that survives a bus error on either side: returns false (and leaves
/// `dst` partly written) if the copy raised SIGBUS. The first call installs a
/// process-wide SIGBUS handler; a SIGBUS outside a guarded copy keeps its
/// default action (the process dies, as before). Thread-safe.
bool guarded_copy(void* dst, const void* src, size_t len);

class GuestRam : public model::HostMemory {
 public:
  /// Maps each region of `hello` from `fds` (taking ownership of the fds).
  /// Throws std::runtime_error naming the region that does not fit its file.
  GuestRam(const nl_hello& hello, std::vector<int> fds);
  ~GuestRam() override;
  GuestRam(const GuestRam&) = delete;
  GuestRam& operator=(const GuestRam&) = delete;

  bool read(uint64_t addr, void* dst, size_t len) override;
  bool write(uint64_t addr, const void* src, size_t len) override;
  uint64_t size() const override;
  /// Whether [addr, addr + len) lies inside one region.
  bool contains(uint64_t addr, size_t len) const;
  /// Accesses that hit a bus error; after the first, every access is refused.
  uint64_t faults() const { return faults_; }

 private:
  struct Region {
    uint64_t gpa, size;
    uint8_t* host;
    size_t map_len;
  };
  uint8_t* translate(uint64_t addr, size_t len);
  void release();  // unmap and close; safe to call twice
  std::vector<Region> regions_;
  std::vector<int> fds_;
  std::atomic<uint64_t> faults_{0};
};

}  // namespace ntblab::sw
