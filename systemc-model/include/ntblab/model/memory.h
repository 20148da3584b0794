// SPDX-License-Identifier: GPL-2.0-only
// Host memory as the fabric sees it: a host's RAM (in the lab, a QEMU guest's
// shared RAM) behind its root complex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

namespace ntblab::model {

/// Byte-addressed host memory. Implementations refuse (return false) any
/// access not entirely inside RAM; they never touch memory outside it.
class HostMemory {
 public:
  virtual ~HostMemory() = default;
  virtual bool read(uint64_t addr, void* dst, size_t len) = 0;
  virtual bool write(uint64_t addr, const void* src, size_t len) = 0;
  /// A write whose data lands at modelled time `landed_ns` (since the start
  /// of the run). The switch process in modelled time defers it to then
  /// (docs/modelled-time.md); plain memory writes it at once.
  virtual bool write_at(uint64_t addr, const void* src, size_t len, double landed_ns) {
    (void)landed_ns;
    return write(addr, src, len);
  }
  virtual uint64_t size() const = 0;
};

/// RAM held in a vector, starting at bus address `base` (tests, studies).
class VectorMemory : public HostMemory {
 public:
  explicit VectorMemory(uint64_t size, uint64_t base = 0);
  bool read(uint64_t addr, void* dst, size_t len) override;
  bool write(uint64_t addr, const void* src, size_t len) override;
  uint64_t size() const override { return bytes_.size(); }
  uint8_t* data() { return bytes_.data(); }

 private:
  bool in_range(uint64_t addr, size_t len) const;
  uint64_t base_;
  std::vector<uint8_t> bytes_;
};

/// TLM target in front of a HostMemory: the host's root complex completing
/// memory requests from the fabric. Out-of-RAM requests get an address error.
class MemoryTarget : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<MemoryTarget> socket;

  MemoryTarget(sc_core::sc_module_name name, HostMemory& mem,
               sc_core::sc_time access_latency = sc_core::SC_ZERO_TIME);

  uint64_t refused() const { return refused_; }

 private:
  void b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
  HostMemory& mem_;
  sc_core::sc_time latency_;
  uint64_t refused_ = 0;
};

}  // namespace ntblab::model
