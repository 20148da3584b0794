// SPDX-License-Identifier: GPL-2.0-only
// Test bench for the NT endpoint: small initiators and targets, a single
// endpoint with recorders on both outputs, and a driver that programs the chip
// the way the FreeBSD ntb_hw_plx driver does in back-to-back mode.
#pragma once

#include <cstring>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include "ntblab/model/memory.h"
#include "ntblab/model/nt_endpoint.h"
#include "ntblab/model/tlp.h"

namespace nt_test {

using namespace ntblab::model;

/// Issues single requests from test code (outside any process; loosely timed).
struct Initiator : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Initiator> socket;
  explicit Initiator(sc_core::sc_module_name n) : sc_module(n), socket("socket") {}

  tlm::tlm_response_status access(tlm::tlm_command cmd, uint64_t addr, void* data, unsigned len) {
    tlm::tlm_generic_payload gp;
    make_request(gp, cmd, addr, data, len);
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    socket->b_transport(gp, delay);
    return gp.get_response_status();
  }
  tlm::tlm_response_status write(uint64_t addr, const void* data, unsigned len) {
    return access(tlm::TLM_WRITE_COMMAND, addr, const_cast<void*>(data), len);
  }
  tlm::tlm_response_status read(uint64_t addr, void* data, unsigned len) {
    return access(tlm::TLM_READ_COMMAND, addr, data, len);
  }
  tlm::tlm_response_status write32(uint64_t addr, uint32_t v) { return write(addr, &v, 4); }
  uint32_t read32(uint64_t addr, tlm::tlm_response_status* st = nullptr) {
    uint32_t v = 0x5EEDF00D;  // anything but all ones, so a fill is visible
    auto s = read(addr, &v, 4);
    if (st) *st = s;
    return v;
  }
};

/// Records every request; reads return `read_fill` bytes; may refuse all.
struct Recorder : sc_core::sc_module {
  struct Req {
    tlm::tlm_command cmd;
    uint64_t addr;
    std::vector<uint8_t> data;
  };
  tlm_utils::simple_target_socket<Recorder> socket;
  std::vector<Req> reqs;
  bool refuse_all = false;
  uint8_t read_fill = 0x3C;

  explicit Recorder(sc_core::sc_module_name n) : sc_module(n), socket("socket") {
    socket.register_b_transport(this, &Recorder::b_transport);
  }
  void b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time&) {
    uint8_t* p = gp.get_data_ptr();
    const unsigned len = gp.get_data_length();
    if (gp.is_read() && !refuse_all) std::memset(p, read_fill, len);
    reqs.push_back({gp.get_command(), gp.get_address(), std::vector<uint8_t>(p, p + len)});
    gp.set_response_status(refuse_all ? tlm::TLM_ADDRESS_ERROR_RESPONSE : tlm::TLM_OK_RESPONSE);
  }
};

/// Where a test's host put the virtual BARs (host physical addresses).
struct HostBars {
  uint64_t bar0 = 0xF0000000;       // 256 KB registers
  uint64_t bar2 = 0x4000000000ull;  // 64-bit windows
  uint64_t bar4 = 0x4100000000ull;
};

/// What a BIOS does: assign the virtual BARs and enable memory and bus master.
inline void enumerate(NtEndpoint& nt, const HostBars& b = {}) {
  using namespace ntreg;
  const auto& c = nt.config();
  auto put = [&](unsigned bar, uint64_t addr, bool is64) {
    nt.cfg_write(Side::Virtual, bar_reg(bar), 4, uint32_t(addr));
    if (is64) nt.cfg_write(Side::Virtual, bar_reg(bar + 1), 4, uint32_t(addr >> 32));
  };
  put(0, b.bar0, c.bar0_64bit);
  if (c.bar[2].size) put(2, b.bar2, c.bar[2].is64);
  if (c.bar[4].size) put(4, b.bar4, c.bar[4].is64);
  nt.cfg_write(Side::Virtual, kCommand, 2, kCmdMemEnable | kCmdBusMaster);
}

/// Program the link side of `nt` from its own host so that the link BARn
/// (n = 0, 2..5) sits at `addr` with `size` (0 = disabled), 64-bit.
inline void set_link_bar64(NtEndpoint& nt, unsigned bar, uint64_t addr, uint64_t size) {
  using namespace ntreg;
  const uint32_t lp = page_base(nt.config().ntx, Side::Link);
  if (bar == 0) {
    nt.reg_write(lp + kBar0Setup, 4, 0x3);
  } else {
    const uint64_t mask = size ? (~(size - 1) & ~0xFFFFFull) | 0xC : 0;
    nt.reg_write(lp + bar_setup_reg(bar), 4, uint32_t(mask));
    nt.reg_write(lp + bar_setup_reg(bar + 1), 4, uint32_t(mask >> 32));
  }
  nt.reg_write(lp + bar_reg(bar), 4, uint32_t(addr));
  nt.reg_write(lp + bar_reg(bar + 1), 4, uint32_t(addr >> 32));
}

/// One endpoint, a host initiator on each side, recorders behind both outputs.
struct Single {
  NtEndpoint nt;
  Initiator host{"host"};
  Initiator peer{"peer"};
  Recorder host_ram{"host_ram"};
  Recorder link_dom{"link_dom"};
  HostBars bars;

  explicit Single(const NtEndpointConfig& cfg = {}) : nt("nt", cfg) {
    host.socket.bind(nt.virt_in);
    peer.socket.bind(nt.link_in);
    nt.virt_out.bind(host_ram.socket);
    nt.link_out.bind(link_dom.socket);
    sc_core::sc_start(sc_core::SC_ZERO_TIME);
  }
  uint32_t vpage() const { return ntreg::page_base(nt.config().ntx, Side::Virtual); }
  uint32_t lpage() const { return ntreg::page_base(nt.config().ntx, Side::Link); }
  /// Host enumerates, link comes up, link interface gets memory + bus master.
  void bring_up() {
    enumerate(nt, bars);
    nt.set_link_partner(true);
    nt.reg_write(lpage() + ntreg::kCommand, 2, ntreg::kCmdMemEnable | ntreg::kCmdBusMaster);
  }
};

/// What the FreeBSD ntb_hw_plx driver does on a virtual interface in B2B mode
/// (ntb_plx_attach / ntb_plx_init / ntb_plx_mw_set_trans_internal), through
/// the host's BAR0 mapping. Windows: BAR2 and BAR4, 64-bit; B2B uses BAR4.
struct PlxDriver {
  NtEndpoint& nt;
  Initiator& host;
  HostBars bars;
  unsigned ntx = 0;
  uint64_t b2b_off = 0;  // start of the data half of the B2B window

  PlxDriver(NtEndpoint& n, Initiator& h, HostBars b = {}) : nt(n), host(h), bars(b) {}

  uint32_t our(uint32_t reg) const { return ntreg::nt_base(ntx) + reg; }
  uint32_t peer(uint32_t reg) const { return ntreg::nt_base(ntx) + 0x1000 + reg; }
  void w(uint32_t off, uint32_t v) { host.write32(bars.bar0 + off, v); }
  uint32_t r(uint32_t off) { return host.read32(bars.bar0 + off); }

  void attach() {
    enumerate(nt, bars);
    const uint32_t who = nt.cfg_read(Side::Virtual, 0xC8C, 4);
    ntx = who & 1;
    const uint64_t mw_size = nt.config().bar[4].size;
    b2b_off = mw_size >= 2 * 1024 * 1024 ? mw_size / 2 : 0;
    init();
    w(our(0xFE0), 0xF);  // clear link interrupts
    w(our(0xFE4), 0x0);  // unmask them
  }
  void init() {
    // Peer BAR0 (registers) at 0x2000000000000000 * 4, 64-bit.
    const uint64_t b0 = 0x2000000000000000ull * 4 | 0x4;
    w(peer(0xE4), 0x3);
    w(peer(0x10), uint32_t(b0));
    w(peer(0x14), uint32_t(b0 >> 32));
    for (unsigned bar : {2u, 4u}) {  // virtual -> link translation
      const uint64_t v = 0x2000000000000000ull * bar;
      w(our(0xC3C + (bar - 2) * 4), uint32_t(v));
      w(our(0xC3C + (bar - 2) * 4 + 4), uint32_t(v >> 32));
    }
    for (unsigned i = 0; i < 32; i += 2)
      w(peer(0xDB4 + i * 2), 0x00010001 | ((i + 1) << 19) | (i << 3));
    w(our(0xD94), (r(our(0xC90)) << 16) | 0x00010001);
    w(our(0xD98), 0x40210021);
    w(our(0xD9C), 0xC0218021);
    w(peer(0x04), ntreg::kCmdMemEnable | ntreg::kCmdBusMaster);
  }
  /// mw_set_trans for a 64-bit window `bar` (2 or 4) in B2B mode, no A-LUT.
  void set_trans(unsigned bar, uint64_t addr, uint64_t size) {
    const uint64_t off = bar == 4 ? b2b_off : 0;
    uint64_t bsize = 1;
    while (bsize < size) bsize <<= 1;
    if (bsize < (1u << 20)) bsize = 1u << 20;
    const uint64_t setup = (~(bsize - 1) & ~0xFFFFFull) | 0xC;
    w(peer(0xE8 + (bar - 2) * 4), uint32_t(setup));
    w(peer(0xE8 + (bar - 2) * 4 + 4), uint32_t(setup >> 32));
    const uint64_t base = 0x2000000000000000ull * bar + off;
    w(peer(0x10 + bar * 4), uint32_t(base));
    w(peer(0x10 + bar * 4 + 4), uint32_t(base >> 32));
    w(peer(0xC3C + (bar - 2) * 4), uint32_t(addr));
    w(peer(0xC3C + (bar - 2) * 4 + 4), uint32_t(addr >> 32));
  }
  /// The data half of the B2B window, as a host address.
  uint64_t mw_data(uint64_t offset) const { return bars.bar4 + b2b_off + offset; }
  /// The peer chip's register map, through the start of the B2B window.
  uint64_t peer_reg(uint32_t reg) const { return bars.bar4 + ntreg::nt_base(ntx) + reg; }
  void peer_db_set(uint32_t bits) { host.write32(peer_reg(0xC4C), bits); }
  void db_clear_mask(uint32_t bits) { w(our(0xC58), bits); }
  uint32_t db_read() { return r(our(0xC4C)); }
  void link_enable(bool on) {
    const uint32_t port = (r(0x360) >> (ntx ? 16 : 8)) & 0x1F;
    const uint32_t reg = ((port & ~7u) << 12) + 0x208;
    uint32_t v = r(reg);
    v = on ? v & ~(1u << (port & 7)) : v | (1u << (port & 7));
    w(reg, v);
  }
  bool link_is_up() {
    const uint16_t sta = uint16_t(nt.cfg_read(Side::Virtual, ntreg::kLinkCtl + 2, 2));
    return (sta & 0x3F0) != 0;
  }
};

/// Two chips back to back: each host's virtual interface, links cabled.
struct B2B {
  NtEndpoint a;
  NtEndpoint b;
  Initiator host_a{"host_a"};
  Initiator host_b{"host_b"};
  VectorMemory ram_a;
  VectorMemory ram_b;
  MemoryTarget mem_a;
  MemoryTarget mem_b;
  PlxDriver drv_a;
  PlxDriver drv_b;

  static constexpr uint64_t kRamSize = 4u << 20;

  explicit B2B(const NtEndpointConfig& cfg = {})
      : a("a", cfg),
        b("b", cfg),
        ram_a(kRamSize),
        ram_b(kRamSize),
        mem_a("mem_a", ram_a),
        mem_b("mem_b", ram_b),
        drv_a(a, host_a),
        drv_b(b, host_b) {
    host_a.socket.bind(a.virt_in);
    host_b.socket.bind(b.virt_in);
    a.virt_out.bind(mem_a.socket);
    b.virt_out.bind(mem_b.socket);
    a.link_out.bind(b.link_in);
    b.link_out.bind(a.link_in);
    a.on_port_enable_change = [this](bool en) { b.set_link_partner(en); };
    b.on_port_enable_change = [this](bool en) { a.set_link_partner(en); };
    sc_core::sc_start(sc_core::SC_ZERO_TIME);
  }
  void cable() {
    a.set_link_partner(b.port_enabled());
    b.set_link_partner(a.port_enabled());
  }
};

}  // namespace nt_test
