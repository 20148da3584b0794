/* SPDX-License-Identifier: MIT */
/*
 * The node link: the wire protocol between a node's QEMU device (pex8749-nt,
 * C) and the switch process (ntblab-switch, C++). One stream socket (AF_UNIX,
 * SOCK_STREAM) per node. This header is the whole protocol; both sides include
 * it. docs/node-link-protocol.md explains it in prose.
 *
 * Every message is a fixed header followed by `len` bytes of body. All fields
 * are little-endian (both ends run on the same host). Each direction numbers
 * its messages from 0 (`seq`); a gap, an unknown type, a body of the wrong
 * size or a size over the limits closes the link with a log line.
 *
 * Ordering does the work of most handshakes: the stream is FIFO, so a posted
 * MMIO write is applied before any later read or doorbell of the same node.
 * Posted writes (MMIO and config writes) never wait for an answer; reads carry
 * a tag and wait for the COMPLETION with that tag. While waiting, the device
 * must still handle the IRQ messages that arrive in between.
 *
 * A node may present several PCI functions of its switch (the NT virtual
 * interface, the DMA function); each QEMU device is one function and has its
 * own link, so HELLO names the node and the function.
 *
 * Guest RAM is shared: HELLO carries the file descriptor(s) of the guest's RAM
 * (SCM_RIGHTS) and the guest-physical layout, so the switch process reads and
 * writes guest memory directly; it never touches memory outside those regions.
 */
#ifndef NTBLAB_NODE_LINK_H
#define NTBLAB_NODE_LINK_H

#include <stdint.h>

#ifdef __cplusplus
#define NL_STATIC_ASSERT(c, m) static_assert(c, m)
extern "C" {
#else
#define NL_STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif

#define NL_MAGIC 0x4b4c544eu      /* "NTLK" */
#define NL_VERSION 2u             /* bumped on any incompatible change */
#define NL_MAX_BODY 8192u         /* no message body is larger */
#define NL_MAX_WRITE 4096u        /* largest coalesced posted MMIO write */
#define NL_MAX_READ 8u            /* largest MMIO/config read */
#define NL_MAX_RAM_REGIONS 4u     /* guest RAM regions in HELLO */
#define NL_NAME_LEN 32u           /* node name, NUL padded */
#define NL_CFG_SPACE 4096u        /* PCIe config space of the function */
#define NL_NUM_BARS 6u

enum nl_type {
	NL_HELLO = 1,      /* device -> switch: first message; RAM fds attached */
	NL_WELCOME = 2,    /* switch -> device: accepted; function layout */
	NL_REJECT = 3,     /* switch -> device: refused (reason text), then close */
	NL_CFG_READ = 4,   /* device -> switch: config read, answered by COMPLETION */
	NL_CFG_WRITE = 5,  /* device -> switch: config write, posted */
	NL_MMIO_READ = 6,  /* device -> switch: BAR read, answered by COMPLETION */
	NL_MMIO_WRITE = 7, /* device -> switch: BAR write, posted (may be coalesced) */
	NL_COMPLETION = 8, /* switch -> device: data for a read */
	NL_IRQ = 9,        /* switch -> device: INTx level changed */
	NL_BYE = 10,       /* either way: orderly close */
	/* version 2, synchronized links only (WELCOME flag NL_WF_SYNC): */
	NL_PARK = 11,      /* device -> switch: the node's vCPU stopped at time_ns */
	NL_GRANT = 12,     /* switch -> device: run up to nl_grant.until */
};

/*
 * Synchronized links (modelled time, docs/modelled-time.md). When WELCOME
 * carries NL_WF_SYNC, the guest's clock is QEMU's virtual clock under
 * -icount, and:
 *  - every device -> switch message carries, in time_ns, the guest time at
 *    which it happened and, in node_seq, its place in the order of all
 *    messages of that QEMU (all its functions' links), from 0;
 *  - writes to BAR0 (registers) and config writes are non-posted: sent with
 *    NL_HF_NONPOSTED, answered by a COMPLETION with tag NL_WRITE_TAG; the
 *    device waits for it (a register write may act on the writer at once);
 *  - the link with NL_WF_CLOCK (one per node: the NT function's) owns the
 *    node's clock: the device runs the guest only up to the latest GRANT,
 *    then sends PARK and waits for the next GRANT;
 *  - COMPLETION and IRQ carry, in time_ns, the modelled time at which they
 *    take effect; after a COMPLETION the device waits for a GRANT, and a
 *    read's COMPLETION at time c stalls the guest's clock to c.
 */
#define NL_HF_NONPOSTED 0x1u      /* nl_hdr.flags: this write waits for a COMPLETION */
#define NL_WRITE_TAG 0xffffffffu  /* tag of the COMPLETION of a non-posted write */

/* Body of NL_PARK. */
struct nl_park {
	uint64_t idle_until; /* > time_ns: halted until then; UINT64_MAX: halted, no timer */
};
NL_STATIC_ASSERT(sizeof(struct nl_park) == 8, "nl_park layout");

/*
 * Body of NL_GRANT. `sent[f]` counts the messages the switch has sent so far on
 * the link of function f (NL_FN_*) of this node, this GRANT included for the
 * clock link: the device applies all of them before the guest runs on, so an
 * interrupt sent on another function's link is never taken late.
 */
#define NL_MAX_FUNCTIONS 2u
struct nl_grant {
	uint64_t until;      /* run up to this guest time (ns), then park */
	uint32_t sent[NL_MAX_FUNCTIONS];
};
NL_STATIC_ASSERT(sizeof(struct nl_grant) == 16, "nl_grant layout");

/* Header of every message. */
struct nl_hdr {
	uint16_t type;     /* enum nl_type */
	uint16_t flags;    /* NL_HF_*; 0 on unsynchronized links */
	uint32_t len;      /* body bytes that follow, <= NL_MAX_BODY */
	uint32_t seq;      /* per direction, from 0, +1 per message */
	uint32_t node_seq; /* synchronized links, device -> switch: see above; else 0 */
	uint64_t time_ns;  /* sender's clock: guest virtual ns (device) or model ns (switch) */
};
NL_STATIC_ASSERT(sizeof(struct nl_hdr) == 24, "nl_hdr layout");

/* One guest RAM region: guest-physical range backed by fd `fd_index` at `fd_offset`. */
struct nl_ram_region {
	uint64_t gpa;       /* guest-physical base */
	uint64_t size;      /* bytes */
	uint64_t fd_offset; /* offset of gpa in the file */
	uint32_t fd_index;  /* which of the attached fds */
	uint32_t reserved;
};
NL_STATIC_ASSERT(sizeof(struct nl_ram_region) == 32, "nl_ram_region layout");

/* Which PCI function of the node's switch a device presents. */
#define NL_FN_NT 0u    /* the NT port's virtual interface, 10b5:87b0 */
#define NL_FN_DMA 1u   /* the switch's DMA function, 10b5:87d0 */

struct nl_hello {
	uint32_t magic;            /* NL_MAGIC */
	uint32_t version;          /* NL_VERSION */
	char node[NL_NAME_LEN];    /* node name from the scenario, e.g. "node0" */
	uint32_t function;         /* NL_FN_*: one link per function */
	uint32_t reserved;         /* 0 */
	uint32_t n_ram;            /* regions used, <= NL_MAX_RAM_REGIONS */
	uint32_t n_fds;            /* fds attached with SCM_RIGHTS */
	struct nl_ram_region ram[NL_MAX_RAM_REGIONS];
};
NL_STATIC_ASSERT(sizeof(struct nl_hello) == 184, "nl_hello layout");

/* BAR description in WELCOME. */
#define NL_BAR_MEM64 0x1u       /* 64-bit memory BAR (consumes the next slot) */
#define NL_BAR_PREFETCH 0x2u    /* prefetchable */
struct nl_bar {
	uint64_t size;   /* bytes, power of two; 0 = not implemented */
	uint32_t flags;  /* NL_BAR_* */
	uint32_t reserved;
};
NL_STATIC_ASSERT(sizeof(struct nl_bar) == 16, "nl_bar layout");

#define NL_WF_SYNC 0x1u   /* the link is synchronized (modelled time) */
#define NL_WF_CLOCK 0x2u  /* this link owns the node's clock: PARK and GRANT */
struct nl_welcome {
	uint32_t magic;       /* NL_MAGIC */
	uint32_t version;     /* NL_VERSION */
	uint32_t node_index;  /* this node's index in the cluster */
	uint16_t vendor_id;
	uint16_t device_id;
	uint32_t class_code;  /* 24-bit class code */
	uint32_t flags;       /* NL_WF_* */
	struct nl_bar bar[NL_NUM_BARS];
};
NL_STATIC_ASSERT(sizeof(struct nl_welcome) == 120, "nl_welcome layout");

struct nl_reject {
	char reason[128];     /* NUL-terminated */
};

struct nl_cfg_read {
	uint32_t tag;     /* echoed in the COMPLETION */
	uint32_t offset;  /* < NL_CFG_SPACE */
	uint32_t size;    /* 1, 2 or 4; offset + size <= NL_CFG_SPACE */
	uint32_t reserved;
};
NL_STATIC_ASSERT(sizeof(struct nl_cfg_read) == 16, "nl_cfg_read layout");

struct nl_cfg_write {
	uint32_t offset;
	uint32_t size;    /* 1, 2 or 4 */
	uint32_t value;
	uint32_t reserved;
};
NL_STATIC_ASSERT(sizeof(struct nl_cfg_write) == 16, "nl_cfg_write layout");

struct nl_mmio_read {
	uint32_t tag;
	uint32_t bar;     /* BAR index 0..5 */
	uint64_t offset;  /* within the BAR */
	uint32_t size;    /* 1, 2, 4 or 8 */
	uint32_t reserved;
};
NL_STATIC_ASSERT(sizeof(struct nl_mmio_read) == 24, "nl_mmio_read layout");

/* Followed by `size` data bytes (body length = sizeof + size). */
struct nl_mmio_write {
	uint32_t bar;
	uint32_t size;    /* 1 .. NL_MAX_WRITE */
	uint64_t offset;
};
NL_STATIC_ASSERT(sizeof(struct nl_mmio_write) == 16, "nl_mmio_write layout");

#define NL_STATUS_OK 0u   /* data valid */
#define NL_STATUS_UR 1u   /* unsupported request: data is all ones */
struct nl_completion {
	uint32_t tag;
	uint32_t status;  /* NL_STATUS_* */
	uint64_t data;    /* little-endian, low `size` bytes valid */
};
NL_STATIC_ASSERT(sizeof(struct nl_completion) == 16, "nl_completion layout");

struct nl_irq {
	uint32_t pin;     /* 0 = INTA */
	uint32_t level;   /* 0 or 1 */
};
NL_STATIC_ASSERT(sizeof(struct nl_irq) == 8, "nl_irq layout");

#ifdef __cplusplus
}
#endif

#endif /* NTBLAB_NODE_LINK_H */
