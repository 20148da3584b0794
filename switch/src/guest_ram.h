// A guest's RAM, shared with the switch process: the file descriptors QEMU
// sent in HELLO, mapped here, addressed by guest-physical address.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ntblab/model/memory.h"
#include "ntblab/node_link.h"

namespace ntblab::sw {

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
};

}  // namespace ntblab::sw
