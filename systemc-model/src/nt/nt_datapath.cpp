// SPDX-License-Identifier: GPL-2.0-only
// NtEndpoint: the data path. A request entering one side is decoded against
// that side's BARs; BAR0 reaches this chip's registers, BAR2..5 are translated
// and re-issued on the other side. Every refusal is decided before anything is
// forwarded, so a refused write reaches no memory.
#include <algorithm>
#include <cstring>

#include "ntblab/model/nt_endpoint.h"
#include "ntblab/model/tlp.h"

namespace ntblab::model {

using namespace ntreg;

void NtEndpoint::b_transport_virt(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  transport(Side::Virtual, gp, delay);
}

void NtEndpoint::b_transport_link(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  transport(Side::Link, gp, delay);
}

void NtEndpoint::transport(Side ingress, tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  const uint64_t len = gp.get_data_length();
  if (gp.get_command() == tlm::TLM_IGNORE_COMMAND || len == 0) {
    gp.set_response_status(tlm::TLM_OK_RESPONSE);
    return;
  }
  if (!gp.get_data_ptr()) {  // a broken initiator, not a guest value: no data to move
    gp.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
    return;
  }
  const auto hit = decode(ingress, gp.get_address());
  if (!hit || len > hit->size - hit->offset) return refuse(ingress, Refusal::NoBar, gp);
  // Nothing crosses a link that is down, not even to this chip's registers.
  if (ingress == Side::Link && !link_up_) return refuse(ingress, Refusal::WindowDisabled, gp);
  if (hit->bar == 0)
    register_access(ingress, *hit, gp, delay);
  else
    forward(ingress, *hit, gp, delay);
}

namespace {
void account(NtWindowStats& w, uint64_t bytes) {
  ++w.tlps;
  w.bytes += bytes;
}
}  // namespace

void NtEndpoint::register_access(Side ingress, const BarHit& hit, tlm::tlm_generic_payload& gp,
                                 sc_core::sc_time& delay) {
  const uint32_t off = uint32_t(hit.offset);  // < 256 KB: BAR0 is the register map
  const uint64_t len = gp.get_data_length();
  if (gp.is_read()) {
    ++stats_.reg_reads;
    read_bytes(off, gp.get_data_ptr(), len);
  } else {
    ++stats_.reg_writes;
    write_bytes(off, gp.get_data_ptr(), len, gp.get_byte_enable_ptr(),
                gp.get_byte_enable_length());
  }
  account(dir(ingress).total, len);
  account(dir(ingress).bar[0], len);
  delay += cfg_.register_latency;
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

void NtEndpoint::forward(Side ingress, const BarHit& hit, tlm::tlm_generic_payload& gp,
                         sc_core::sc_time& delay) {
  const Side egress = other(ingress);
  // The egress interface masters the request onto its bus.
  if (!link_up_ || !(page_[idx(egress)].get(kCommand) & kCmdBusMaster))
    return refuse(ingress, Refusal::WindowDisabled, gp);
  const uint64_t len = gp.get_data_length();
  std::vector<Chunk> chunks;
  if (!plan_chunks(ingress, hit, gp.is_write(), len, chunks))
    return refuse(ingress, Refusal::AlutPermission, gp);
  // Crossing the chip is a hop each way: the request before it leaves, and a
  // read's completion on its way back.
  delay += cfg_.forward_latency;
  for (const Chunk& c : chunks)
    if (!issue(egress, gp, c, chunks.size() == 1, delay))
      return refuse(ingress, Refusal::Unclaimed, gp);
  if (gp.is_read()) delay += cfg_.forward_latency;
  NtDirectionStats& d = dir(ingress);
  account(d.total, len);
  account(d.bar[hit.bar], len);
  for (const Chunk& c : chunks)
    if (c.alut_entry >= 0) account(d.alut[c.alut_entry], c.len);
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

/// Translate the whole request into pieces, one per A-LUT window it touches
/// (one piece with plain BAR translation). False if an A-LUT entry lacks the
/// permission this request needs.
bool NtEndpoint::plan_chunks(Side ingress, const BarHit& hit, bool is_write, uint64_t len,
                             std::vector<Chunk>& out) {
  if (hit.bar == 2 && alut_active(ingress)) {
    const unsigned n = alut_entries();
    const uint64_t win = hit.size / n;  // >= 4 KB: BAR >= 1 MB, n <= 256
    const auto& table = alut_[idx(ingress)];
    const uint32_t need = is_write ? kAlutPermWrite : kAlutPermRead;
    for (uint64_t pos = 0; pos < len;) {
      const uint64_t o = hit.offset + pos;
      const unsigned i = unsigned(o / win);
      const uint64_t in_win = o % win;
      const uint64_t l = std::min(len - pos, win - in_win);
      const AlutEntry& e = table[i];
      if (!(e.perm & need)) return false;
      const uint64_t entry_base = (uint64_t(e.hi) << 32 | e.lo) & ~(win - 1);
      out.push_back({entry_base + in_win, pos, l, int(i)});
      pos += l;
    }
    return true;
  }
  const RegFile& p = page_[idx(ingress)];
  const BarLayout l = layout(ingress, hit.bar);
  uint64_t xlat = p.get(xlat_reg(hit.bar));
  if (l.is64) xlat |= uint64_t(p.get(xlat_reg(hit.bar + 1))) << 32;
  out.push_back({(xlat & ~(hit.size - 1)) + hit.offset, 0, len, -1});
  return true;
}

/// Send one piece out of `egress`. A single piece reuses the caller's payload
/// (address swapped and restored); several pieces each get their own payload
/// over the same data buffer, carrying the caller's TlpExtension.
bool NtEndpoint::issue(Side egress, tlm::tlm_generic_payload& gp, const Chunk& c, bool whole,
                       sc_core::sc_time& delay) {
  auto& socket = egress == Side::Link ? link_out : virt_out;
  if (whole) {
    const uint64_t addr = gp.get_address();
    gp.set_address(c.target);
    gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    socket->b_transport(gp, delay);
    gp.set_address(addr);
    return gp.is_response_ok();
  }
  tlm::tlm_generic_payload sub;
  make_request(sub, gp.get_command(), c.target, gp.get_data_ptr() + c.pos, unsigned(c.len));
  unsigned char* be = gp.get_byte_enable_ptr();
  const unsigned be_len = gp.get_byte_enable_length();
  if (be && be_len >= gp.get_data_length()) {
    sub.set_byte_enable_ptr(be + c.pos);
    sub.set_byte_enable_length(unsigned(c.len));
  } else if (be && be_len > 0) {
    sub.set_byte_enable_ptr(be);  // a repeating pattern; windows are multiples of it
    sub.set_byte_enable_length(be_len);
  }
  TlpExtension* ext = nullptr;
  gp.get_extension(ext);
  if (ext) sub.set_extension(ext);
  socket->b_transport(sub, delay);
  if (ext) sub.clear_extension(ext);  // not ours to free
  return sub.is_response_ok();
}

void NtEndpoint::refuse(Side ingress, Refusal why, tlm::tlm_generic_payload& gp) {
  NtRefusalStats& r = stats_.refused[idx(ingress)];
  switch (why) {
    case Refusal::NoBar: ++r.no_bar; break;
    case Refusal::WindowDisabled: ++r.window_disabled; break;
    case Refusal::AlutPermission: ++r.alut_permission; break;
    case Refusal::Unclaimed: ++r.unclaimed; break;
  }
  if (gp.is_read() && gp.get_data_ptr())
    std::memset(gp.get_data_ptr(), 0xFF, gp.get_data_length());  // UR: all ones
  gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
}

}  // namespace ntblab::model
