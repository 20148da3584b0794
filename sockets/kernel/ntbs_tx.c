// SPDX-License-Identifier: GPL-2.0
/*
 * af_ntb: the send path.
 *
 * A sender copies into the peer's receive ring through the outbound window,
 * then publishes its producer index (posted write after a write barrier) and
 * rings the peer's doorbell.  Its credit is the consumer index the peer
 * writes back into the sender's own buffer, so a sender never reads across
 * the NTB.  Small chunks go by CPU (ntbs_copy_toio()), chunks of
 * at least dma_threshold bytes by the dmaengine channel when there is one.
 *
 * A DMA send is asynchronous: the engine copies the chunk and then, with a
 * second descriptor on the same channel (descriptors complete in order),
 * writes the new producer index from a cell in our memory, so the peer sees
 * the index only after the data.  sendmsg() returns while the engine works
 * and copies the next chunk from the user into the other bounce buffer
 * meanwhile; before anything else is written into the peer's ring or
 * control ring for this socket, or the buffers are reused or freed, the send
 * is drained (ntbs_tx_drain()): its completion is awaited by looking at the
 * status the engine writes back into our memory, not by interrupt, and a
 * send the engine failed is done again by CPU.  A doorbell, when the peer's
 * reader is not polling, is rung only after the data landed, so such a send
 * is drained at once.
 */
#include <linux/dma-mapping.h>
#include <linux/dmaengine.h>
#include <linux/io.h>
#include <linux/moduleparam.h>
#include <linux/sched/signal.h>
#include <linux/sched/clock.h>
#include <linux/slab.h>

#include "ntbs.h"

static unsigned int ntbs_dma_threshold = 8192;
module_param_named(dma_threshold, ntbs_dma_threshold, uint, 0644);
MODULE_PARM_DESC(dma_threshold, "Chunks of at least this many bytes are copied by DMA (default 8192, 0 = never)");

/* A DMA transfer is awaited spinning this long, then sleeping */
#define NTBS_DMA_SPIN_NS	(2 * NSEC_PER_MSEC)

/**
 * ntbs_tx_unacked() - bytes sent that the peer has not consumed yet
 * @ns: the socket; caller holds peer->io_rwsem for reading
 *
 * Return: the byte count (SIOCOUTQ).
 */
u32 ntbs_tx_unacked(struct ntbs_sock *ns)
{
	if (!ns->peer || ns->tx_slot < 0 || ns->sk.sk_state != TCP_ESTABLISHED ||
	    ns->peer_gone || ns->peer->state == NTBS_PEER_DEAD)
		return 0;
	return ns->tx_prod - ntbs_ring_cons(ns);
}

/**
 * ntbs_tx_space() - room in the peer's ring
 * @ns: the socket; caller holds peer->io_rwsem for reading
 *
 * Return: bytes that can be written now.
 */
u32 ntbs_tx_space(struct ntbs_sock *ns)
{
	u32 used;

	if (!ns->peer || ns->tx_slot < 0 || ns->peer->state != NTBS_PEER_UP)
		return 0;
	used = ns->tx_prod - ntbs_ring_cons(ns);
	return used >= ns->tx_size ? 0 : ns->tx_size - used;
}

/*
 * Wait for a DMA transfer by looking at its status, which the engine writes
 * back into our memory: no interrupt, whose handler would read the engine's
 * registers across PCIe.  Spin briefly, then sleep between looks.  Bottom
 * halves are off while looking, as the driver's completion tasklet takes
 * the same lock.
 */
static bool ntbs_dma_wait(struct dma_chan *chan, dma_cookie_t cookie)
{
	unsigned long end = jiffies + HZ;
	u64 spin_end = local_clock() + NTBS_DMA_SPIN_NS;
	enum dma_status st;

	for (;;) {
		local_bh_disable();
		st = dma_async_is_tx_complete(chan, cookie, NULL, NULL);
		local_bh_enable();
		if (st == DMA_COMPLETE)
			return true;
		if (st == DMA_ERROR || time_after(jiffies, end))
			return false;
		if (local_clock() < spin_end && !need_resched())
			cpu_relax();
		else
			usleep_range(20, 50);
	}
}

static void ntbs_tx_cpu(struct ntbs_sock *ns, u32 off, const u8 *buf, u32 n)
{
	u32 first = min(n, ns->tx_size - off);

	ntbs_copy_toio(ntbs_out_ring(ns) + off, buf, first);
	if (n > first)
		ntbs_copy_toio(ntbs_out_ring(ns), buf + first, n - first);
}

static bool ntbs_tx_prep(struct dma_chan *chan, dma_addr_t dst,
			 dma_addr_t src, size_t n, dma_cookie_t *cookie)
{
	struct dma_async_tx_descriptor *tx;

	tx = dmaengine_prep_dma_memcpy(chan, dst, src, n, 0);
	if (!tx)
		return false;
	*cookie = dmaengine_submit(tx);
	return !dma_submit_error(*cookie);
}

/*
 * Publish the producer index; ring unless more data follows at once or the
 * peer's reader is polling the ring (it said so in our own memory).
 */
static void ntbs_tx_push(struct ntbs_sock *ns, bool ring)
{
	struct ntbs_peer *peer = ns->peer;

	if (ns->tx_pushed != ns->tx_prod) {
		wmb(); /* ring data before the producer index */
		iowrite32(ns->tx_prod,
			  peer->out + NTBS_OFF_PROD + 4 * ns->tx_slot);
		ns->tx_pushed = ns->tx_prod;
	}
	if (ring && !ntbs_ring_quiet(ns))
		ntbs_peer_ring(peer);
}

static void ntbs_tx_unmap(struct device *dev, dma_addr_t src, u32 n,
			  dma_addr_t cell)
{
	dma_unmap_single(dev, src, n, DMA_TO_DEVICE);
	dma_unmap_single(dev, cell, sizeof(__le32), DMA_TO_DEVICE);
}

/**
 * __ntbs_tx_drain() - finish the send the DMA engine has
 * @ns:		the socket, locked; with @publish, the caller holds
 *		peer->io_rwsem for reading
 * @publish:	if the engine failed, copy and publish by CPU (else only
 *		wait: the session is gone)
 */
void __ntbs_tx_drain(struct ntbs_sock *ns, bool publish)
{
	struct ntbs_txdma *q = &ns->txq;
	struct device *dev;
	bool ok;

	if (!q->busy)
		return;
	dev = q->chan->device->dev;
	ok = ntbs_dma_wait(q->chan, q->cookie);
	if (!ok)
		dmaengine_terminate_sync(q->chan);
	ntbs_tx_unmap(dev, q->src, q->len, q->cell);
	q->busy = false;
	if (ok) {
		ns->tx_pushed = q->end;
		return;
	}
	if (!publish || !ns->peer || ns->peer->state != NTBS_PEER_UP ||
	    !ns->peer->out)
		return;
	/* tx_prod is q->end: it only moves on after a drain */
	ntbs_tx_cpu(ns, q->off, ns->txbuf + q->buf * NTBS_TXBUF, q->len);
	ntbs_tx_push(ns, false);
}

/**
 * ntbs_tx_drain() - __ntbs_tx_drain() for a caller without io_rwsem
 * @ns: the socket, locked
 */
void ntbs_tx_drain(struct ntbs_sock *ns)
{
	if (!ns->txq.busy)
		return;
	down_read(&ns->peer->io_rwsem);
	__ntbs_tx_drain(ns, true);
	up_read(&ns->peer->io_rwsem);
}

/**
 * ntbs_tx_free() - free the send buffers (nothing may be in flight)
 * @ns: the socket
 */
void ntbs_tx_free(struct ntbs_sock *ns)
{
	kfree(ns->txbuf);
	ns->txbuf = NULL;
	kfree(ns->txcell);
	ns->txcell = NULL;
}

/*
 * Hand a chunk in bounce buffer @b to the DMA engine: the data (two
 * descriptors if it wraps), then the producer index.  False: nothing is in
 * flight, copy by CPU instead.
 */
static bool ntbs_tx_dma(struct ntbs_sock *ns, u8 b, u32 off, u32 n)
{
	struct ntbs_peer *peer = ns->peer;
	struct dma_chan *chan = peer->ndev->dma;
	struct ntbs_txdma *q = &ns->txq;
	u32 first = min(n, ns->tx_size - off);
	dma_addr_t ring, src, cell;
	dma_cookie_t cookie = 0;
	struct device *dev;
	bool ok, queued;

	if (!chan || !peer->out_dma)
		return false;
	dev = chan->device->dev;
	ns->txcell[b] = cpu_to_le32(ns->tx_prod + n);
	src = dma_map_single(dev, ns->txbuf + b * NTBS_TXBUF, n, DMA_TO_DEVICE);
	if (dma_mapping_error(dev, src))
		return false;
	cell = dma_map_single(dev, &ns->txcell[b], sizeof(__le32),
			      DMA_TO_DEVICE);
	if (dma_mapping_error(dev, cell)) {
		dma_unmap_single(dev, src, n, DMA_TO_DEVICE);
		return false;
	}
	ring = peer->out_dma + ntbs_ring_off(&peer->p_lay, ns->tx_slot);
	queued = ntbs_tx_prep(chan, ring + off, src, first, &cookie);
	ok = queued;
	if (ok && n > first)
		ok = ntbs_tx_prep(chan, ring, src + first, n - first, &cookie);
	if (ok)
		ok = ntbs_tx_prep(chan, peer->out_dma + NTBS_OFF_PROD +
				  4 * ns->tx_slot, cell, sizeof(__le32),
				  &cookie);
	if (queued)
		dma_async_issue_pending(chan);
	if (ok) {
		*q = (struct ntbs_txdma){ .chan = chan, .cookie = cookie,
					  .src = src, .cell = cell, .off = off,
					  .len = n, .end = ns->tx_prod + n,
					  .buf = b, .busy = true };
		return true;
	}
	/* Part of it may be queued: let that finish, then copy it all by CPU */
	if (queued && !ntbs_dma_wait(chan, cookie))
		dmaengine_terminate_sync(chan);
	ntbs_tx_unmap(dev, src, n, cell);
	return false;
}

static int ntbs_tx_wait(struct sock *sk, long *timeo)
{
	struct ntbs_sock *ns = ntbs_sk(sk);
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	bool room;

	add_wait_queue(sk_sleep(sk), &wait);
	sk_wait_event(sk, timeo,
		      ({ down_read(&ns->peer->io_rwsem);
			 room = ntbs_tx_space(ns) > 0;
			 up_read(&ns->peer->io_rwsem);
			 room || sk->sk_err || ns->peer_gone ||
			 (sk->sk_shutdown & SEND_SHUTDOWN) ||
			 sk->sk_state != TCP_ESTABLISHED; }), &wait);
	remove_wait_queue(sk_sleep(sk), &wait);
	if (signal_pending(current))
		return sock_intr_errno(*timeo);
	return 0;
}

/*
 * The ring is full: look at the credit in our own memory for poll_us before
 * sleeping, as a reader polls its ring.
 */
static bool ntbs_tx_poll(struct ntbs_sock *ns)
{
	unsigned int budget = READ_ONCE(ntbs_poll_us);
	bool room;
	u64 end;

	if (!budget)
		return false;
	end = local_clock() + (u64)budget * NSEC_PER_USEC;
	do {
		down_read(&ns->peer->io_rwsem);
		room = ntbs_tx_space(ns) > 0;
		up_read(&ns->peer->io_rwsem);
		if (room)
			return true;
		if (need_resched() || signal_pending(current))
			break;
		cpu_relax();
	} while (local_clock() < end);
	return false;
}

static int ntbs_wait_connected(struct sock *sk, long *timeo)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);

	while (sk->sk_state == TCP_SYN_SENT) {
		if (!*timeo)
			return -EAGAIN;
		if (signal_pending(current))
			return sock_intr_errno(*timeo);
		add_wait_queue(sk_sleep(sk), &wait);
		sk_wait_event(sk, timeo, sk->sk_state != TCP_SYN_SENT, &wait);
		remove_wait_queue(sk_sleep(sk), &wait);
	}
	return 0;
}

/**
 * ntbs_tx_sendmsg() - write a message into the peer's ring
 * @sk:		the socket, locked
 * @msg:	data and flags (MSG_DONTWAIT, MSG_NOSIGNAL, MSG_MORE)
 * @len:	bytes
 *
 * Blocks (up to SO_SNDTIMEO) while the ring is full.  Like TCP, returns the
 * bytes written if any, else the error; EPIPE raises SIGPIPE unless
 * MSG_NOSIGNAL.
 *
 * Return: bytes written or an error number.
 */
int ntbs_tx_sendmsg(struct sock *sk, struct msghdr *msg, size_t len)
{
	struct ntbs_sock *ns = ntbs_sk(sk);
	int flags = msg->msg_flags;
	long timeo = sock_sndtimeo(sk, flags & MSG_DONTWAIT);
	bool more = (flags & MSG_MORE) || ns->cork;
	size_t copied = 0;
	int err = 0;

	if (sk->sk_state == TCP_SYN_SENT) {
		err = ntbs_wait_connected(sk, &timeo);
		if (err)
			goto out_err;
	}
	if (!ns->txbuf) {
		ns->txbuf = kmalloc(2 * NTBS_TXBUF, GFP_KERNEL);
		ns->txcell = kcalloc(2, sizeof(__le32), GFP_KERNEL);
		if (!ns->txbuf || !ns->txcell) {
			ntbs_tx_free(ns);
			err = -ENOBUFS;
			goto out_err;
		}
	}

	while (copied < len) {
		u32 space, chunk, off;
		bool ring;
		void *buf;
		u8 b;

		if (sk->sk_err) {
			err = sock_error(sk);
			goto out_err;
		}
		if (sk->sk_state != TCP_ESTABLISHED) {
			err = sk->sk_state == TCP_CLOSE && !ns->peer ?
			      -ENOTCONN : -EPIPE;
			goto out_err;
		}
		if ((sk->sk_shutdown & SEND_SHUTDOWN) || ns->peer_gone ||
		    ns->term_sent) {
			err = -EPIPE;
			goto out_err;
		}
		down_read(&ns->peer->io_rwsem);
		if (ns->peer->state != NTBS_PEER_UP) {
			up_read(&ns->peer->io_rwsem);
			err = -EPIPE;
			goto out_err;
		}
		space = ntbs_tx_space(ns);
		if (!space) {
			__ntbs_tx_drain(ns, true);
			ntbs_tx_push(ns, true);
			up_read(&ns->peer->io_rwsem);
			if (!timeo) {
				err = -EAGAIN;
				goto out_err;
			}
			if (ntbs_tx_poll(ns))
				continue;
			err = ntbs_tx_wait(sk, &timeo);
			if (err)
				goto out_err;
			continue;
		}
		chunk = min_t(size_t, min_t(size_t, space, len - copied),
			      NTBS_TXBUF);
		/* The engine may still read the other buffer meanwhile */
		b = ns->txq.busy ? ns->txq.buf ^ 1 : 0;
		buf = ns->txbuf + b * NTBS_TXBUF;
		if (copy_from_iter(buf, chunk, &msg->msg_iter) != chunk) {
			up_read(&ns->peer->io_rwsem);
			err = -EFAULT;
			goto out_err;
		}
		__ntbs_tx_drain(ns, true);
		ring = !(more && copied + chunk == len);
		off = ns->tx_prod & (ns->tx_size - 1);
		if (ntbs_dma_threshold && chunk >= ntbs_dma_threshold &&
		    ntbs_tx_dma(ns, b, off, chunk)) {
			ns->tx_prod += chunk;
			/* A doorbell must follow the data: wait for it */
			if (ring && !ntbs_ring_quiet(ns)) {
				__ntbs_tx_drain(ns, true);
				ntbs_peer_ring(ns->peer);
			}
		} else {
			ntbs_tx_cpu(ns, off, buf, chunk);
			ns->tx_prod += chunk;
			ntbs_tx_push(ns, ring);
		}
		atomic64_add(chunk, &ns->peer->tx_bytes);
		copied += chunk;
		up_read(&ns->peer->io_rwsem);
	}
	return copied;

out_err:
	if (copied)
		return copied;
	if (err == -EPIPE && !(flags & MSG_NOSIGNAL))
		send_sig(SIGPIPE, current, 0);
	return err;
}
