// SPDX-License-Identifier: GPL-2.0
/*
 * af_ntb: the NTB client.  One context per NTB device, one peer context per
 * NTB peer of it.
 *
 * Each node gives each peer an inbound buffer in its own memory, reached by
 * the peer through its outbound memory window, and publishes the buffer's
 * size and layout in its own scratchpads.  A node only ever *writes* across
 * the NTB (posted writes); everything it reads is in its own memory.  The
 * session with a peer comes up by a hello exchanged in the buffers (see
 * ntbs_wire.h), is checked on every poll tick, and is reset on link down,
 * on a peer that changed its epoch or session number, and on BYE.
 */
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/dmaengine.h>
#include <linux/io.h>
#include <linux/module.h>
#include <linux/random.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "ntbs.h"

#define NTBS_POLL_INTERVAL	(HZ / 10)
#define NTBS_SPAD_RECHECK	10	/* ticks between scratchpad reads when up */
#define NTBS_ALLOC_TRIES	8

static unsigned int ntbs_mw_size = 4 << 20;
module_param_named(mw_size, ntbs_mw_size, uint, 0444);
MODULE_PARM_DESC(mw_size, "Bytes of each per-peer inbound buffer (default 4 MiB, capped by the window)");

unsigned int ntbs_ring_size = 256 << 10;
module_param_named(ring_size, ntbs_ring_size, uint, 0444);
MODULE_PARM_DESC(ring_size, "Bytes of the big receive rings, a power of two (default 256 KiB); the others are an eighth");

static unsigned int ntbs_big_rings = 4;
module_param_named(big_rings, ntbs_big_rings, uint, 0444);
MODULE_PARM_DESC(big_rings, "Receive rings per peer of ring_size bytes, at most half the buffer (default 4)");

static unsigned int ntbs_max_slots = 64;
module_param_named(max_slots, ntbs_max_slots, uint, 0444);
MODULE_PARM_DESC(max_slots, "Receive rings per peer, at most 256 (default 64)");

static bool ntbs_use_dma = true;
module_param_named(use_dma, ntbs_use_dma, bool, 0444);
MODULE_PARM_DESC(use_dma, "Request a dmaengine memcpy channel at probe (default 1)");

static LIST_HEAD(ntbs_devs);
static DEFINE_MUTEX(ntbs_devs_lock);
static struct workqueue_struct *ntbs_wq;

static const char * const ntbs_state_names[] = {
	[NTBS_PEER_DOWN] = "down",
	[NTBS_PEER_HELLO] = "hello",
	[NTBS_PEER_UP] = "up",
	[NTBS_PEER_DEAD] = "dead",
};

/*=============================================================================
 * 1. Buffers and windows
 *
 * The inbound buffer must be aligned as the window's translation requires
 * (ntb_mw_get_align).  Coherent allocations of a power-of-two size are
 * naturally aligned without an IOMMU; when that is not enough a few more
 * allocations are tried before giving up.
 *=============================================================================
 */

/* Inbound: window 0 of each peer (multi-port hardware has one per peer) */
#define NTBS_IN_WIDX	0

static int ntbs_out_widx(struct ntbs_dev *nd, int pidx)
{
	/* Two ports: window 0; multi-port: one outbound window per peer */
	return nd->npeers == 1 ? 0 : pidx;
}

/*
 * Cut a buffer into rings: up to big_rings rings of ring_size bytes (for
 * streams: they take at most half the room), the rest of an eighth of that,
 * halved until at least 8 fit (or the minimum size); max_slots in all.
 */
static void ntbs_layout(size_t size, struct ntbs_layout *l)
{
	unsigned int ob = ilog2(max_t(unsigned int, ntbs_ring_size, 4096));
	unsigned int want = clamp_t(unsigned int, ntbs_max_slots, 1,
				    NTBS_MAX_SLOTS);
	size_t room = size - NTBS_OFF_RINGS;
	unsigned int os, nbig;

	ob = clamp_t(unsigned int, ob, NTBS_MIN_RING_ORDER, NTBS_MAX_RING_ORDER);
	os = max_t(unsigned int, ob - 3, NTBS_MIN_RING_ORDER);
	while (os > NTBS_MIN_RING_ORDER && (room >> os) < min(want, 8U))
		os--;
	nbig = min_t(size_t, min(ntbs_big_rings, want - 1), (room / 2) >> ob);
	nbig = min(nbig, 255U);
	if (ob <= os)
		nbig = 0;
	l->nbig = nbig;
	l->big_order = nbig ? ob : os;
	l->small_order = os;
	l->nsmall = min_t(size_t, (room - ((size_t)nbig << ob)) >> os,
			  want - nbig);
}

static int ntbs_size_for(struct ntbs_dev *nd, int pidx, size_t *size,
			 resource_size_t *align)
{
	resource_size_t addr_align, size_align, size_max;
	int ret;

	ret = ntb_mw_get_align(nd->ntb, pidx, NTBS_IN_WIDX,
			       &addr_align, &size_align, &size_max);
	if (ret)
		return ret;
	*size = min_t(resource_size_t, ntbs_mw_size, size_max);
	if (size_align > 1)
		*size = round_down(*size, size_align);
	*align = max_t(resource_size_t, addr_align, 1);
	if (*size < NTBS_OFF_RINGS + (1 << NTBS_MIN_RING_ORDER))
		return -ENOSPC;
	return 0;
}

static int ntbs_alloc_inbound(struct ntbs_peer *peer, size_t size,
			      resource_size_t align)
{
	struct ntb_dev *ntb = peer->ndev->ntb;
	struct device *dma_dev = ntb_get_dma_dev(ntb);
	void *tries[NTBS_ALLOC_TRIES];
	dma_addr_t dmas[NTBS_ALLOC_TRIES];
	size_t asize = roundup_pow_of_two(size);
	int i, n = 0, ret;

	if (align > asize && align <= (PAGE_SIZE << (MAX_ORDER - 1)))
		asize = align;
	for (i = 0; i < NTBS_ALLOC_TRIES; i++) {
		dma_addr_t dma;
		void *buf = dma_alloc_coherent(dma_dev, asize, &dma, GFP_KERNEL);

		if (!buf)
			break;
		if (IS_ALIGNED(dma, align)) {
			peer->alloc_buf = buf;
			peer->alloc_dma = dma;
			peer->alloc_size = asize;
			break;
		}
		tries[n] = buf;
		dmas[n++] = dma;
	}
	while (n--)
		dma_free_coherent(dma_dev, asize, tries[n], dmas[n]);
	if (!peer->alloc_buf) {
		dev_err(&ntb->dev,
			"af_ntb: no %zu-byte buffer aligned to %pa for peer %d\n",
			size, &align, peer->pidx);
		return -ENOMEM;
	}
	peer->in_buf = peer->alloc_buf;
	peer->in_dma = peer->alloc_dma;
	peer->in_size = size;
	memset(peer->in_buf, 0, size);
	ntbs_layout(size, &peer->lay);

	ret = ntb_mw_set_trans(ntb, peer->pidx, NTBS_IN_WIDX,
			       peer->in_dma, size);
	if (ret) {
		dev_err(&ntb->dev, "af_ntb: mw_set_trans peer %d: %d\n",
			peer->pidx, ret);
		dma_free_coherent(dma_dev, peer->alloc_size, peer->alloc_buf,
				  peer->alloc_dma);
		peer->alloc_buf = NULL;
		peer->in_buf = NULL;
		return ret;
	}
	return 0;
}

static void ntbs_free_inbound(struct ntbs_peer *peer)
{
	struct ntb_dev *ntb = peer->ndev->ntb;

	if (!peer->alloc_buf)
		return;
	ntb_mw_clear_trans(ntb, peer->pidx, NTBS_IN_WIDX);
	dma_free_coherent(ntb_get_dma_dev(ntb), peer->alloc_size,
			  peer->alloc_buf, peer->alloc_dma);
	peer->alloc_buf = NULL;
	peer->in_buf = NULL;
}

static void ntbs_unmap_out(struct ntbs_peer *peer)
{
	struct ntbs_dev *nd = peer->ndev;

	if (peer->out_dma && nd->dma)
		dma_unmap_resource(nd->dma->device->dev, peer->out_dma,
				   peer->out_size, DMA_FROM_DEVICE, 0);
	peer->out_dma = 0;
	if (peer->out)
		iounmap(peer->out);
	peer->out = NULL;
	peer->out_size = 0;
}

static int ntbs_map_out(struct ntbs_peer *peer, size_t size)
{
	struct ntbs_dev *nd = peer->ndev;
	resource_size_t wsize;
	phys_addr_t base;
	int ret;

	if (peer->out && peer->out_size == size)
		return 0;
	ntbs_unmap_out(peer);
	ret = ntb_peer_mw_get_addr(nd->ntb, ntbs_out_widx(nd, peer->pidx),
				   &base, &wsize);
	if (ret)
		return ret;
	if (size > wsize)
		return -ENOSPC;
	peer->out = ioremap_wc(base, size);
	if (!peer->out)
		return -ENOMEM;
	peer->out_phys = base;
	peer->out_size = size;
	if (nd->dma) {
		dma_addr_t d = dma_map_resource(nd->dma->device->dev, base, size,
						DMA_FROM_DEVICE, 0);

		if (!dma_mapping_error(nd->dma->device->dev, d))
			peer->out_dma = d;
	}
	return 0;
}

/*=============================================================================
 * 2. Slots
 *=============================================================================
 */

/**
 * ntbs_slot_alloc() - give a socket one of our receive slots of a peer
 * @peer:	the peer (session up)
 * @ns:		the socket; it gets a reference to @peer and the slot holds
 *		a reference to the socket until ntbs_slot_release()
 *
 * Our producer index for the slot is zeroed locally and the peer's copy of
 * our consumer index (its send credit) through the window, before the slot
 * number is sent to the peer.
 *
 * Return: 0, -EHOSTUNREACH when the session is not up, -EAGAIN when all
 * slots are taken.
 */
int ntbs_slot_alloc(struct ntbs_peer *peer, struct ntbs_sock *ns)
{
	int j, ret = 0;

	down_read(&peer->io_rwsem);
	spin_lock(&peer->lock);
	if (peer->state != NTBS_PEER_UP) {
		ret = -EHOSTUNREACH;
		goto out;
	}
	j = find_first_zero_bit(peer->slot_busy, ntbs_nslots(&peer->lay));
	if (j >= ntbs_nslots(&peer->lay)) {
		ret = -EAGAIN;
		goto out;
	}
	__set_bit(j, peer->slot_busy);
	peer->slots[j] = ns;
	sock_hold(&ns->sk);
	kref_get(&peer->kref);
	ns->peer = peer;
	ns->rx_slot = j;
	ns->rx_size = ntbs_ring_bytes(&peer->lay, j);
	ns->rx_cons = 0;
	ns->rx_credit = 0;
	ns->rx_rung = 0;
	ns->rx_frozen = false;
	ns->quiet = 0;
	WRITE_ONCE(*ntbs_in32(peer, NTBS_OFF_PROD + 4 * j), 0);
	iowrite32(0, peer->out + NTBS_OFF_CONS + 4 * j);
	iowrite32(0, peer->out + NTBS_OFF_QUIET + 4 * j);
out:
	spin_unlock(&peer->lock);
	up_read(&peer->io_rwsem);
	return ret;
}

/**
 * ntbs_slot_release() - give a socket's receive slot back
 * @ns: socket whose peer writes no more into the slot (it sent CLOSE or
 *	RESET, or the session was reset)
 *
 * Drops the slot's socket reference; the socket keeps its peer reference
 * until it is destroyed.
 */
void ntbs_slot_release(struct ntbs_sock *ns)
{
	struct ntbs_peer *peer = ns->peer;
	int j = ns->rx_slot;

	if (!peer || j < 0)
		return;
	spin_lock(&peer->lock);
	if (peer->slots[j] == ns) {
		peer->slots[j] = NULL;
		__clear_bit(j, peer->slot_busy);
	} else {
		j = -1;
	}
	spin_unlock(&peer->lock);
	ns->rx_slot = -1;
	if (j >= 0)
		sock_put(&ns->sk);
}

static void ntbs_peer_free(struct kref *kref)
{
	kfree(container_of(kref, struct ntbs_peer, kref));
}

/**
 * ntbs_peer_put() - drop a peer reference
 * @peer: peer or NULL
 */
void ntbs_peer_put(struct ntbs_peer *peer)
{
	if (peer)
		kref_put(&peer->kref, ntbs_peer_free);
}

/*=============================================================================
 * 3. Sessions
 *=============================================================================
 */

static void ntbs_write_hello(struct ntbs_peer *peer)
{
	struct ntbs_wire_hello *mine = peer->in_buf;
	void __iomem *o = peer->out + NTBS_OFF_HELLO;
	u32 rseq = 0;

	if (le32_to_cpu(READ_ONCE(mine->writer_epoch)) == peer->peer_epoch)
		rseq = le32_to_cpu(READ_ONCE(mine->writer_seq));
	iowrite32(peer->ndev->epoch,
		  o + offsetof(struct ntbs_wire_hello, writer_epoch));
	iowrite32(peer->seq, o + offsetof(struct ntbs_wire_hello, writer_seq));
	iowrite32(peer->peer_epoch,
		  o + offsetof(struct ntbs_wire_hello, reader_epoch));
	iowrite32(rseq, o + offsetof(struct ntbs_wire_hello, reader_seq));
	iowrite32(peer->ndev->port,
		  o + offsetof(struct ntbs_wire_hello, writer_port));
	iowrite32(NTBS_VERSION, o + offsetof(struct ntbs_wire_hello, version));
	wmb(); /* the fields before the magic */
	iowrite32(NTBS_MAGIC, o + offsetof(struct ntbs_wire_hello, magic));
}

/* Reset every socket of the peer; the session is no longer up */
static void ntbs_reset_socks(struct ntbs_peer *peer)
{
	struct ntbs_sock *batch[32];
	int j, n, start = 0;

	do {
		n = 0;
		spin_lock(&peer->lock);
		for (j = start; j < NTBS_MAX_SLOTS && n < ARRAY_SIZE(batch); j++) {
			struct ntbs_sock *ns = peer->slots[j];

			if (ns) {
				sock_hold(&ns->sk);
				batch[n++] = ns;
			}
		}
		spin_unlock(&peer->lock);
		start = j;
		for (j = 0; j < n; j++) {
			struct sock *sk = &batch[j]->sk;

			lock_sock(sk);
			ntbs_sock_reset(sk, sk->sk_state == TCP_SYN_SENT ?
					EHOSTUNREACH : ECONNRESET);
			release_sock(sk);
			sock_put(sk);
		}
	} while (start < NTBS_MAX_SLOTS);
}

/**
 * ntbs_peer_reset() - end the session with a peer and start a new one
 * @peer: the peer; called from its work item (or at removal)
 *
 * Sockets get ECONNRESET (their data already received stays readable), our
 * buffer's control area is zeroed and our session number moves on, which
 * makes the peer reset too when it sees our next hello.
 */
void ntbs_peer_reset(struct ntbs_peer *peer)
{
	enum ntbs_peer_state old;

	spin_lock(&peer->lock);
	old = peer->state;
	if (old == NTBS_PEER_UP || old == NTBS_PEER_HELLO)
		peer->state = NTBS_PEER_DOWN;
	spin_unlock(&peer->lock);
	if (old == NTBS_PEER_DEAD)
		return;

	/* Wait for senders that saw the session up */
	down_write(&peer->io_rwsem);
	up_write(&peer->io_rwsem);

	ntbs_reset_socks(peer);

	down_write(&peer->io_rwsem);
	if (peer->in_buf)
		memset(peer->in_buf, 0, NTBS_OFF_RINGS);
	ntbs_ctrl_purge(peer);
	peer->ctrl_sent = 0;
	peer->ctrl_rcvd = 0;
	peer->ctrl_rung = 0;
	peer->peer_seq = 0;
	peer->seq++;
	up_write(&peer->io_rwsem);
	if (old == NTBS_PEER_UP)
		dev_info(&peer->ndev->ntb->dev, "af_ntb: peer %s session reset\n",
			 peer->name);
}

static bool ntbs_peer_layout_ok(struct ntbs_peer *peer, u32 size, u32 layout)
{
	struct ntbs_layout l = ntbs_layout_decode(layout);
	unsigned int n = ntbs_nslots(&l);

	if (l.big_order < NTBS_MIN_RING_ORDER ||
	    l.big_order > NTBS_MAX_RING_ORDER ||
	    l.small_order < NTBS_MIN_RING_ORDER ||
	    l.small_order > NTBS_MAX_RING_ORDER || !n || n > NTBS_MAX_SLOTS ||
	    size < NTBS_OFF_RINGS)
		return false;
	return ntbs_ring_off(&l, n) <= size;
}

/* One poll tick of the session state machine (the peer's work item) */
static void ntbs_peer_tick(struct ntbs_peer *peer, unsigned int tick)
{
	struct ntbs_dev *nd = peer->ndev;
	struct ntb_dev *ntb = nd->ntb;
	struct ntbs_wire_hello *h = peer->in_buf;
	u32 magic, ver, epoch, size, layout;
	bool link;

	if (peer->state == NTBS_PEER_DEAD || nd->stopping)
		return;
	link = ntb_link_is_up(ntb, NULL, NULL) & BIT_ULL(peer->pidx);
	if (!link) {
		if (peer->state != NTBS_PEER_DOWN) {
			ntbs_peer_reset(peer);
			peer->peer_epoch = 0;
		}
		return;
	}

	if (peer->state != NTBS_PEER_UP || tick % NTBS_SPAD_RECHECK == 0) {
		magic = ntb_peer_spad_read(ntb, peer->pidx, NTBS_SPAD_MAGIC);
		ver = ntb_peer_spad_read(ntb, peer->pidx, NTBS_SPAD_VERSION);
		epoch = ntb_peer_spad_read(ntb, peer->pidx, NTBS_SPAD_EPOCH);
		if (magic != NTBS_MAGIC || ver != NTBS_VERSION || !epoch) {
			if (peer->state != NTBS_PEER_DOWN)
				ntbs_peer_reset(peer);
			peer->peer_epoch = 0;
			return;
		}
		if (epoch != peer->peer_epoch) {
			if (peer->state != NTBS_PEER_DOWN)
				ntbs_peer_reset(peer);
			size = ntb_peer_spad_read(ntb, peer->pidx, NTBS_SPAD_SIZE);
			layout = ntb_peer_spad_read(ntb, peer->pidx,
						    NTBS_SPAD_LAYOUT);
			if (!ntbs_peer_layout_ok(peer, size, layout))
				return;
			down_write(&peer->io_rwsem);
			if (ntbs_map_out(peer, size)) {
				up_write(&peer->io_rwsem);
				dev_warn_ratelimited(&ntb->dev,
						     "af_ntb: peer %s: cannot map %u bytes\n",
						     peer->name, size);
				return;
			}
			peer->p_lay = ntbs_layout_decode(layout);
			peer->peer_epoch = epoch;
			up_write(&peer->io_rwsem);
		}
	}

	if (peer->state == NTBS_PEER_UP &&
	    (le32_to_cpu(READ_ONCE(h->writer_epoch)) != peer->peer_epoch ||
	     le32_to_cpu(READ_ONCE(h->writer_seq)) != peer->peer_seq)) {
		ntbs_peer_reset(peer);
		return;	/* next tick says hello again */
	}

	if (peer->state == NTBS_PEER_DOWN) {
		spin_lock(&peer->lock);
		peer->state = NTBS_PEER_HELLO;
		spin_unlock(&peer->lock);
	}

	down_read(&peer->io_rwsem);
	if (peer->state == NTBS_PEER_HELLO &&
	    le32_to_cpu(READ_ONCE(h->magic)) == NTBS_MAGIC &&
	    le32_to_cpu(READ_ONCE(h->writer_epoch)) == peer->peer_epoch &&
	    le32_to_cpu(READ_ONCE(h->reader_epoch)) == nd->epoch &&
	    le32_to_cpu(READ_ONCE(h->reader_seq)) == peer->seq) {
		spin_lock(&peer->lock);
		peer->peer_seq = le32_to_cpu(READ_ONCE(h->writer_seq));
		peer->state = NTBS_PEER_UP;
		spin_unlock(&peer->lock);
		dev_info(&ntb->dev, "af_ntb: peer %s (port %d) up\n",
			 peer->name, peer->port);
	}
	ntbs_write_hello(peer);
	up_read(&peer->io_rwsem);
}

/* Wake the sockets of a peer after a doorbell or a poll */
static void ntbs_peer_wake(struct ntbs_peer *peer)
{
	int j;

	spin_lock(&peer->lock);
	for_each_set_bit(j, peer->slot_busy, NTBS_MAX_SLOTS) {
		struct ntbs_sock *ns = peer->slots[j];

		if (!ns)
			continue;
		ns->sk.sk_data_ready(&ns->sk);
		ns->sk.sk_write_space(&ns->sk);
	}
	spin_unlock(&peer->lock);
}

/*
 * A doorbell only means "look at your own memory": the fast path touches no
 * register but the doorbell clear (posted writes).  The link state and the
 * peer's scratchpads (reads across PCIe, tens of microseconds each under
 * TCG) are checked by the 100 ms poll, on link events, and while the session
 * is not up.
 */
static void ntbs_peer_work(struct work_struct *work)
{
	struct ntbs_peer *peer = container_of(work, struct ntbs_peer, work);
	struct ntbs_dev *nd = peer->ndev;

	if (peer->state == NTBS_PEER_DEAD)
		return;
	/* Clear first: a doorbell rung while we work runs us again */
	ntb_db_clear(nd->ntb, BIT_ULL(peer->db_bit));
	if (test_and_clear_bit(NTBS_PEER_F_TICK, &peer->flags) ||
	    peer->state != NTBS_PEER_UP)
		ntbs_peer_tick(peer, ++peer->ticks);
	if (peer->state != NTBS_PEER_UP)
		return;
	ntbs_ctrl_process(peer);
	ntbs_peer_wake(peer);
}

/*=============================================================================
 * 4. NTB context operations
 *=============================================================================
 */

/*
 * Hard interrupt context.  The hardware driver has masked the bits it
 * reports until they are cleared; reading them again would cost a PCIe
 * read, so every peer's work runs and clears its own bit (in multi-peer
 * mode doorbells are broadcast anyway).
 */
static void ntbs_db_event(void *ctx, int vector)
{
	struct ntbs_dev *nd = ctx;
	int i;

	for (i = 0; i < nd->npeers; i++)
		queue_work(ntbs_wq, &nd->peers[i]->work);
}

static void ntbs_link_event(void *ctx)
{
	struct ntbs_dev *nd = ctx;

	if (!nd->stopping)
		mod_delayed_work(ntbs_wq, &nd->poll_work, 0);
}

static const struct ntb_ctx_ops ntbs_ctx_ops = {
	.link_event = ntbs_link_event,
	.db_event = ntbs_db_event,
};

static void ntbs_poll_work(struct work_struct *work)
{
	struct ntbs_dev *nd = container_of(to_delayed_work(work),
					   struct ntbs_dev, poll_work);
	int i;

	if (nd->stopping)
		return;
	for (i = 0; i < nd->npeers; i++) {
		set_bit(NTBS_PEER_F_TICK, &nd->peers[i]->flags);
		queue_work(ntbs_wq, &nd->peers[i]->work);
	}
	queue_delayed_work(ntbs_wq, &nd->poll_work, NTBS_POLL_INTERVAL);
}

/*=============================================================================
 * 5. Client probe and remove
 *=============================================================================
 */

static bool ntbs_dma_filter(struct dma_chan *chan, void *node)
{
	return true;
}

static void ntbs_dev_teardown(struct ntbs_dev *nd)
{
	int i;

	for (i = 0; i < nd->npeers; i++) {
		struct ntbs_peer *peer = nd->peers[i];

		if (!peer)
			continue;
		if (peer->state == NTBS_PEER_UP && peer->out) {
			ntbs_ctrl_send(peer, NTBS_MSG_BYE, NULL);
			ntbs_ctrl_flush(peer);
		}
		cancel_work_sync(&peer->work);
		ntbs_peer_reset(peer);
		down_write(&peer->io_rwsem);
		spin_lock(&peer->lock);
		peer->state = NTBS_PEER_DEAD;
		spin_unlock(&peer->lock);
		ntbs_unmap_out(peer);
		ntbs_free_inbound(peer);
		up_write(&peer->io_rwsem);
		ntbs_peer_put(peer);
		nd->peers[i] = NULL;
	}
	if (nd->dma)
		dma_release_channel(nd->dma);
	kfree(nd->peers);
	kfree(nd);
}

static int ntbs_probe(struct ntb_client *client, struct ntb_dev *ntb)
{
	struct ntbs_dev *nd;
	resource_size_t align = 1;
	size_t size = SIZE_MAX;
	int i, ret;

	if (ntb_spad_count(ntb) < NTBS_SPAD_COUNT) {
		dev_err(&ntb->dev, "af_ntb: needs %d scratchpads, has %d\n",
			NTBS_SPAD_COUNT, ntb_spad_count(ntb));
		return -EINVAL;
	}
	if (ntb_peer_port_count(ntb) < 1)
		return -EINVAL;
	nd = kzalloc(sizeof(*nd), GFP_KERNEL);
	if (!nd)
		return -ENOMEM;
	nd->ntb = ntb;
	nd->port = ntb_port_number(ntb);
	nd->epoch = get_random_u32() | 1;
	nd->db_out = nd->port % 64;
	if (!(BIT_ULL(nd->db_out) & ntb_db_valid_mask(ntb)))
		nd->db_out = 0;
	nd->npeers = ntb_peer_port_count(ntb);
	INIT_DELAYED_WORK(&nd->poll_work, ntbs_poll_work);
	nd->peers = kcalloc(nd->npeers, sizeof(*nd->peers), GFP_KERNEL);
	if (!nd->peers) {
		kfree(nd);
		return -ENOMEM;
	}
	if (nd->npeers > 1 && ntb_peer_mw_count(ntb) < nd->npeers) {
		dev_err(&ntb->dev, "af_ntb: %d peers but %d outbound windows\n",
			nd->npeers, ntb_peer_mw_count(ntb));
		ret = -EINVAL;
		goto err;
	}

	if (ntbs_use_dma) {
		dma_cap_mask_t mask;

		dma_cap_zero(mask);
		dma_cap_set(DMA_MEMCPY, mask);
		nd->dma = dma_request_channel(mask, ntbs_dma_filter, NULL);
	}

	/* One buffer size for all peers: the smallest any window allows */
	for (i = 0; i < nd->npeers; i++) {
		resource_size_t a;
		size_t s;

		ret = ntbs_size_for(nd, i, &s, &a);
		if (ret) {
			dev_err(&ntb->dev, "af_ntb: peer %d window: %d\n", i, ret);
			goto err;
		}
		size = min(size, s);
		align = max(align, a);
	}

	for (i = 0; i < nd->npeers; i++) {
		struct ntbs_peer *peer = kzalloc(sizeof(*peer), GFP_KERNEL);

		if (!peer) {
			ret = -ENOMEM;
			goto err;
		}
		kref_init(&peer->kref);
		peer->ndev = nd;
		peer->pidx = i;
		peer->port = ntb_peer_port_number(ntb, i);
		peer->db_bit = peer->port % 64;
		if (!(BIT_ULL(peer->db_bit) & ntb_db_valid_mask(ntb)))
			peer->db_bit = 0;
		spin_lock_init(&peer->lock);
		init_rwsem(&peer->io_rwsem);
		INIT_LIST_HEAD(&peer->ctrl_queue);
		INIT_WORK(&peer->work, ntbs_peer_work);
		peer->seq = get_random_u32() | 1;
		snprintf(peer->name, sizeof(peer->name), "%s:%d",
			 dev_name(&ntb->dev), i);
		nd->peers[i] = peer;
		ret = ntbs_alloc_inbound(peer, size, align);
		if (ret)
			goto err;
	}

	ntb_spad_write(ntb, NTBS_SPAD_VERSION, NTBS_VERSION);
	ntb_spad_write(ntb, NTBS_SPAD_EPOCH, nd->epoch);
	ntb_spad_write(ntb, NTBS_SPAD_SIZE, size);
	ntb_spad_write(ntb, NTBS_SPAD_LAYOUT, ntbs_layout_encode(&nd->peers[0]->lay));
	ntb_spad_write(ntb, NTBS_SPAD_MAGIC, NTBS_MAGIC);

	ret = ntb_set_ctx(ntb, nd, &ntbs_ctx_ops);
	if (ret)
		goto err_spad;
	ntb_db_clear(ntb, ntb_db_valid_mask(ntb));
	ntb_db_clear_mask(ntb, ntb_db_valid_mask(ntb));
	ntb_link_enable(ntb, NTB_SPEED_AUTO, NTB_WIDTH_AUTO);

	mutex_lock(&ntbs_devs_lock);
	list_add_tail(&nd->list, &ntbs_devs);
	mutex_unlock(&ntbs_devs_lock);
	queue_delayed_work(ntbs_wq, &nd->poll_work, 0);
	dev_info(&ntb->dev,
		 "af_ntb: port %d, %d peer(s), %zu-byte buffers, rings %u x %u + %u x %u bytes, dma %s\n",
		 nd->port, nd->npeers, size, nd->peers[0]->lay.nbig,
		 1U << nd->peers[0]->lay.big_order, nd->peers[0]->lay.nsmall,
		 1U << nd->peers[0]->lay.small_order,
		 nd->dma ? dma_chan_name(nd->dma) : "none");
	return 0;

err_spad:
	ntb_spad_write(ntb, NTBS_SPAD_MAGIC, 0);
err:
	nd->stopping = true;
	ntbs_dev_teardown(nd);
	return ret;
}

static void ntbs_remove(struct ntb_client *client, struct ntb_dev *ntb)
{
	struct ntbs_dev *nd = ntb->ctx;

	mutex_lock(&ntbs_devs_lock);
	list_del(&nd->list);
	mutex_unlock(&ntbs_devs_lock);

	nd->stopping = true;
	cancel_delayed_work_sync(&nd->poll_work);
	ntb_spad_write(ntb, NTBS_SPAD_MAGIC, 0);
	ntb_db_set_mask(ntb, ntb_db_valid_mask(ntb));
	ntb_clear_ctx(ntb);
	ntbs_dev_teardown(nd);
}

static struct ntb_client ntbs_client = {
	.ops = {
		.probe = ntbs_probe,
		.remove = ntbs_remove,
	},
};

/**
 * ntbs_peer_find() - find a peer by device name and peer port
 * @dev:	NTB device name (as in /sys/bus/ntb/devices), or "-" for any
 * @port:	the peer's port number, or -1 for the first peer
 *
 * Return: the peer with a reference held, or NULL.
 */
struct ntbs_peer *ntbs_peer_find(const char *dev, int port)
{
	struct ntbs_peer *found = NULL;
	struct ntbs_dev *nd;
	int i;

	mutex_lock(&ntbs_devs_lock);
	list_for_each_entry(nd, &ntbs_devs, list) {
		if (strcmp(dev, "-") && strcmp(dev, dev_name(&nd->ntb->dev)))
			continue;
		for (i = 0; i < nd->npeers; i++) {
			if (port >= 0 && nd->peers[i]->port != port)
				continue;
			found = nd->peers[i];
			kref_get(&found->kref);
			goto out;
		}
	}
out:
	mutex_unlock(&ntbs_devs_lock);
	return found;
}

/**
 * ntbs_dev_show() - print devices and sessions (for /proc)
 * @m: the seq_file
 */
void ntbs_dev_show(struct seq_file *m)
{
	struct ntbs_dev *nd;
	int i;

	mutex_lock(&ntbs_devs_lock);
	list_for_each_entry(nd, &ntbs_devs, list) {
		seq_printf(m, "device %s port %d epoch %08x peers %d dma %s\n",
			   dev_name(&nd->ntb->dev), nd->port, nd->epoch,
			   nd->npeers, nd->dma ? dma_chan_name(nd->dma) : "none");
		for (i = 0; i < nd->npeers; i++) {
			struct ntbs_peer *p = nd->peers[i];

			seq_printf(m,
				   "  peer %d port %d state %s slots %u/%u rings %ux%u+%ux%u peer_rings %ux%u+%ux%u ctrl_sent %u ctrl_rcvd %u tx_bytes %lld rx_bytes %lld\n",
				   p->pidx, p->port, ntbs_state_names[p->state],
				   bitmap_weight(p->slot_busy, NTBS_MAX_SLOTS),
				   ntbs_nslots(&p->lay), p->lay.nbig,
				   1U << p->lay.big_order, p->lay.nsmall,
				   1U << p->lay.small_order, p->p_lay.nbig,
				   1U << p->p_lay.big_order, p->p_lay.nsmall,
				   1U << p->p_lay.small_order,
				   p->ctrl_sent, p->ctrl_rcvd,
				   (long long)atomic64_read(&p->tx_bytes),
				   (long long)atomic64_read(&p->rx_bytes));
		}
	}
	mutex_unlock(&ntbs_devs_lock);
}

/**
 * ntbs_dev_init() - register the NTB client
 *
 * Return: 0 or an error number.
 */
int ntbs_dev_init(void)
{
	int ret;

	ntbs_wq = alloc_workqueue("af_ntb", WQ_HIGHPRI | WQ_MEM_RECLAIM, 0);
	if (!ntbs_wq)
		return -ENOMEM;
	ret = ntb_register_client(&ntbs_client);
	if (ret)
		destroy_workqueue(ntbs_wq);
	return ret;
}

/**
 * ntbs_dev_exit() - unregister the NTB client (removes every device)
 */
void ntbs_dev_exit(void)
{
	ntb_unregister_client(&ntbs_client);
	destroy_workqueue(ntbs_wq);
}
