// SPDX-License-Identifier: GPL-2.0-only
#include "ntblab/model/memory.h"

#include <cstring>

namespace ntblab::model {

VectorMemory::VectorMemory(uint64_t size, uint64_t base) : base_(base), bytes_(size) {}

bool VectorMemory::in_range(uint64_t addr, size_t len) const {
  return addr >= base_ && len <= bytes_.size() && addr - base_ <= bytes_.size() - len;
}

bool VectorMemory::read(uint64_t addr, void* dst, size_t len) {
  if (!in_range(addr, len)) return false;
  std::memcpy(dst, bytes_.data() + (addr - base_), len);
  return true;
}

bool VectorMemory::write(uint64_t addr, const void* src, size_t len) {
  if (!in_range(addr, len)) return false;
  std::memcpy(bytes_.data() + (addr - base_), src, len);
  return true;
}

MemoryTarget::MemoryTarget(sc_core::sc_module_name name, HostMemory& mem,
                           sc_core::sc_time access_latency)
    : sc_module(name), socket("socket"), mem_(mem), latency_(access_latency) {
  socket.register_b_transport(this, &MemoryTarget::b_transport);
}

void MemoryTarget::b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  bool ok = false;
  if (gp.get_command() == tlm::TLM_READ_COMMAND)
    ok = mem_.read(gp.get_address(), gp.get_data_ptr(), gp.get_data_length());
  else if (gp.get_command() == tlm::TLM_WRITE_COMMAND)
    ok = mem_.write_at(gp.get_address(), gp.get_data_ptr(), gp.get_data_length(),
                       (delay + latency_).to_seconds() * 1e9);
  if (!ok) {
    ++refused_;
    gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return;
  }
  delay += latency_;
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

}  // namespace ntblab::model
