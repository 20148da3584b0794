// SPDX-License-Identifier: GPL-2.0
/*
 * af_ntb: ring and credit primitives of the data path.
 *
 * Each connection has a receive ring in each node's inbound buffer.  The
 * producer index of our ring, the consumer index of the peer's ring (our send
 * credit) and the peer's "quiet" flag are all cells in our own buffer, which
 * the peer writes through its window; we read them here and never read
 * across the NTB.  Writes to the peer go through the outbound window
 * (ntbs_copy_toio(), ntbs_out_ring()) and its doorbell (ntbs_peer_ring()).
 * The cell offsets are in ntbs_wire.h.
 */
#include <linux/io.h>
#include <linux/module.h>

#include "ntbs.h"

unsigned int ntbs_poll_us = 1000;
module_param_named(poll_us, ntbs_poll_us, uint, 0644);
MODULE_PARM_DESC(poll_us, "Microseconds a reader polls its ring, or a writer its credit, before sleeping (default 1000, 0 = never)");

/**
 * ntbs_ring_prod() - bytes the peer has written into our ring so far
 * @ns: socket with a receive slot; caller holds peer->io_rwsem for reading
 *
 * Return: the producer index (free-running, modulo 2^32).
 */
u32 ntbs_ring_prod(struct ntbs_sock *ns)
{
	if (ns->rx_frozen)
		return ns->rx_final;
	return le32_to_cpu(READ_ONCE(*ntbs_in32(ns->peer,
				NTBS_OFF_PROD + 4 * ns->rx_slot)));
}

/**
 * ntbs_ring_cons() - bytes the peer has consumed from its ring for us
 * @ns: connected socket; caller holds peer->io_rwsem for reading
 *
 * Return: the consumer index the peer last wrote back (our send credit).
 */
u32 ntbs_ring_cons(struct ntbs_sock *ns)
{
	return le32_to_cpu(READ_ONCE(*ntbs_in32(ns->peer,
				NTBS_OFF_CONS + 4 * ns->tx_slot)));
}

/**
 * ntbs_copy_toio() - CPU copy through the window
 * @dst:	destination in the window
 * @src:	source
 * @n:		bytes
 *
 * Every store is a separate PCIe write (and, under emulation, a separate
 * exit to the device model), so the bulk goes eight bytes at a time, where
 * memcpy_toio() stores four.  The unaligned tail is written first: the lab's
 * QEMU device coalesces contiguous posted writes into 4 KiB messages and
 * (as of this writing) overruns its buffer when a store narrower than eight
 * bytes ends a full one, so a narrow store never follows a long contiguous
 * run here.  The order of stores within a copy does not matter: the reader
 * looks at the data only after the producer index, written after a barrier.
 */
void ntbs_copy_toio(void __iomem *dst, const void *src, size_t n)
{
	const u8 *s = src;
	size_t head = min_t(size_t, n, (8 - ((unsigned long)dst & 7)) & 7);
	size_t body = (n - head) & ~7UL;
	size_t i;

	for (i = head + body; i < n; i++)
		writeb(s[i], dst + i);
	for (i = 0; i < head; i++)
		writeb(s[i], dst + i);
	if (body)
		__iowrite64_copy(dst + head, s + head, body / 8);
}

/**
 * ntbs_ring_quiet() - is the peer's reader polling the ring we write?
 * @ns: connected socket; caller holds peer->io_rwsem for reading
 *
 * Return: true while the peer's reader polls its ring, so that data needs
 * no doorbell.
 */
bool ntbs_ring_quiet(struct ntbs_sock *ns)
{
	return READ_ONCE(*ntbs_in32(ns->peer,
				    NTBS_OFF_QUIET + 4 * ns->tx_slot)) != 0;
}

/**
 * ntbs_out_ring() - the peer's ring for this connection, in the window
 * @ns: connected socket; caller holds peer->io_rwsem for reading
 *
 * Return: the mapped address of the ring's first byte.
 */
void __iomem *ntbs_out_ring(struct ntbs_sock *ns)
{
	return ns->peer->out + ntbs_ring_off(&ns->peer->p_lay, ns->tx_slot);
}

/**
 * ntbs_peer_ring() - ring the peer's doorbell
 * @peer: peer; the caller holds io_rwsem for reading
 */
void ntbs_peer_ring(struct ntbs_peer *peer)
{
	struct ntbs_dev *nd = peer->ndev;

	ntb_peer_db_set(nd->ntb, BIT_ULL(nd->db_out));
}
