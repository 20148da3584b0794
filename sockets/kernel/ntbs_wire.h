/* SPDX-License-Identifier: GPL-2.0 */
/*
 * af_ntb wire format: what one node writes into another node's memory
 * through an NTB memory window, and what it publishes in its scratchpads.
 *
 * Every multi-byte field is little-endian with an explicit width.  Each
 * structure is followed by a static size check.  docs/socket-family.md has
 * the same layout in prose.
 */
#ifndef NTBS_WIRE_H
#define NTBS_WIRE_H

#include <linux/types.h>
#include <linux/build_bug.h>

#define NTBS_MAGIC		0x5342544eU	/* "NTBS" read as little-endian */
#define NTBS_VERSION		3

/* Scratchpads each node writes into its *own* set (peers read them) */
enum ntbs_spad {
	NTBS_SPAD_MAGIC,	/* NTBS_MAGIC once the inbound buffers are ready */
	NTBS_SPAD_VERSION,	/* NTBS_VERSION */
	NTBS_SPAD_EPOCH,	/* random, non-zero; new on every local reset */
	NTBS_SPAD_SIZE,		/* bytes of each per-peer inbound buffer */
	NTBS_SPAD_LAYOUT,	/* rings of the buffer, ntbs_layout_encode() */
	NTBS_SPAD_COUNT
};

/*
 * Layout of one inbound buffer: the memory a receiver R keeps for one
 * sender S.  S writes everything in it; R only reads it (R zeroes it while
 * the session with S is down).
 */
#define NTBS_MAX_SLOTS		256
#define NTBS_CTRL_ENTRIES	64
#define NTBS_OFF_HELLO		0x0000
#define NTBS_OFF_CTRL_IDX	0x0040
#define NTBS_OFF_CONS		0x0100
#define NTBS_OFF_PROD		0x0500
#define NTBS_OFF_QUIET		0x0900
#define NTBS_OFF_CTRL		0x1000
#define NTBS_OFF_RINGS		0x2000
#define NTBS_MIN_RING_ORDER	12	/* 4 KiB */
#define NTBS_MAX_RING_ORDER	24	/* 16 MiB */

/*
 * The receive rings of a buffer: @nbig rings of 2^@big_order bytes, then
 * @nsmall rings of 2^@small_order bytes, back to back from NTBS_OFF_RINGS.
 * Ring j is big if j < @nbig.  Scratchpad NTBS_SPAD_LAYOUT holds nbig (bits
 * 7:0), big_order (12:8), nsmall (21:13) and small_order (26:22).
 */
struct ntbs_layout {
	u16 nbig;
	u16 nsmall;
	u8 big_order;
	u8 small_order;
};

static inline u32 ntbs_layout_encode(const struct ntbs_layout *l)
{
	return (u32)l->nbig | (u32)l->big_order << 8 | (u32)l->nsmall << 13 |
	       (u32)l->small_order << 22;
}

static inline struct ntbs_layout ntbs_layout_decode(u32 v)
{
	return (struct ntbs_layout){ .nbig = v & 0xff,
				     .big_order = (v >> 8) & 0x1f,
				     .nsmall = (v >> 13) & 0x1ff,
				     .small_order = (v >> 22) & 0x1f };
}

static inline unsigned int ntbs_nslots(const struct ntbs_layout *l)
{
	return l->nbig + l->nsmall;
}

/* Offset of ring @j in the buffer */
static inline size_t ntbs_ring_off(const struct ntbs_layout *l, unsigned int j)
{
	if (j < l->nbig)
		return NTBS_OFF_RINGS + ((size_t)j << l->big_order);
	return NTBS_OFF_RINGS + ((size_t)l->nbig << l->big_order) +
	       ((size_t)(j - l->nbig) << l->small_order);
}

/* Bytes of ring @j */
static inline u32 ntbs_ring_bytes(const struct ntbs_layout *l, unsigned int j)
{
	return 1U << (j < l->nbig ? l->big_order : l->small_order);
}

/**
 * struct ntbs_wire_hello - S announces itself in R's buffer
 * @magic:		NTBS_MAGIC
 * @version:		NTBS_VERSION
 * @flags:		0
 * @writer_epoch:	S's epoch (S's NTBS_SPAD_EPOCH)
 * @writer_seq:		S's session number (S increments it on every reset)
 * @reader_epoch:	R's epoch as S read it from R's scratchpads
 * @reader_seq:		R's session number as S last saw it in S's buffer
 * @writer_port:	S's NTB port number
 * @reserved:		0
 *
 * S rewrites its hello every poll tick while the link is up.  R takes the
 * session up when the hello names S's current epoch, R's epoch and R's
 * current session number: S has then zeroed its own buffer for R (after
 * its last reset) and accepts R's writes.  While up, a change of
 * writer_epoch or writer_seq means S reset: R resets too.
 */
struct ntbs_wire_hello {
	__le32 magic;
	__le16 version;
	__le16 flags;
	__le32 writer_epoch;
	__le32 writer_seq;
	__le32 reader_epoch;
	__le32 reader_seq;
	__le32 writer_port;
	__le32 reserved[9];
};

static_assert(sizeof(struct ntbs_wire_hello) == 64);

/**
 * struct ntbs_wire_ctrl_idx - control ring indices written by S
 * @ctrl_prod:	number of control messages S has put into R's control ring
 * @ctrl_cons:	number of R's control messages S has consumed from S's ring
 * @reserved:	0
 */
struct ntbs_wire_ctrl_idx {
	__le32 ctrl_prod;
	__le32 ctrl_cons;
	__le32 reserved[14];
};

static_assert(sizeof(struct ntbs_wire_ctrl_idx) == 64);

/* Control message types */
enum ntbs_msg_type {
	NTBS_MSG_NONE,
	NTBS_MSG_CONNECT,	/* open: src_slot, sport, dport, addresses */
	NTBS_MSG_ACCEPT,	/* dst_slot accepted, src_slot is the answer's */
	NTBS_MSG_REFUSE,	/* dst_slot refused: no listener or backlog full */
	NTBS_MSG_FIN,		/* no more data after prod (half close) */
	NTBS_MSG_CLOSE,		/* FIN, and no more writes into dst_slot's ring */
	NTBS_MSG_RESET,		/* abort; no more writes into dst_slot's ring */
	NTBS_MSG_BYE,		/* S leaves: every connection with S is reset */
	NTBS_MSG_MAX
};

/**
 * struct ntbs_wire_msg - one control message (one entry of a control ring)
 * @seq:	index of this message in S's stream (low 32 bits), checked by R
 * @type:	enum ntbs_msg_type
 * @flags:	0
 * @reserved0:	0
 * @src_slot:	S's receive slot of the connection (CONNECT, ACCEPT)
 * @dst_slot:	R's receive slot of the connection (all but CONNECT, BYE)
 * @sport:	S's port (host value)
 * @dport:	R's port (host value)
 * @saddr:	S's IPv4 address (host value, so 10.1.0.1 is 0x0a010001)
 * @daddr:	R's IPv4 address as S addressed it (host value)
 * @ring_size:	bytes of the ring at src_slot (CONNECT, ACCEPT)
 * @reserved:	0
 */
struct ntbs_wire_msg {
	__le32 seq;
	u8 type;
	u8 flags;
	__le16 reserved0;
	__le32 src_slot;
	__le32 dst_slot;
	__le16 sport;
	__le16 dport;
	__le32 saddr;
	__le32 daddr;
	__le32 ring_size;
	__le32 reserved[8];
};

static_assert(sizeof(struct ntbs_wire_msg) == 64);
static_assert(NTBS_OFF_CONS + 4 * NTBS_MAX_SLOTS <= NTBS_OFF_PROD);
static_assert(NTBS_OFF_PROD + 4 * NTBS_MAX_SLOTS <= NTBS_OFF_QUIET);
static_assert(NTBS_OFF_QUIET + 4 * NTBS_MAX_SLOTS <= NTBS_OFF_CTRL);
static_assert(NTBS_OFF_CTRL + 64 * NTBS_CTRL_ENTRIES <= NTBS_OFF_RINGS);

#endif /* NTBS_WIRE_H */
