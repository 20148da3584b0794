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
 */
#include <linux/dma-mapping.h>
#include <linux/dmaengine.h>
#include <linux/io.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "ntbs.h"

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

static void ntbs_dma_done(void *arg, const struct dmaengine_result *res)
{
	struct completion *done = arg;

	if (res && res->result != DMA_TRANS_NOERROR)
		return;	/* the waiter times out and copies by CPU */
	complete(done);
}

/* Copy by DMA; false: not done, copy by CPU instead */
static bool ntbs_tx_dma(struct ntbs_sock *ns, u32 off, void *buf, size_t n)
{
	struct ntbs_peer *peer = ns->peer;
	struct dma_chan *chan = peer->ndev->dma;
	struct dma_async_tx_descriptor *tx;
	DECLARE_COMPLETION_ONSTACK(done);
	struct device *dev;
	dma_addr_t src, dst;
	bool ok = false;

	if (!chan || !peer->out_dma)
		return false;
	dev = chan->device->dev;
	src = dma_map_single(dev, buf, n, DMA_TO_DEVICE);
	if (dma_mapping_error(dev, src))
		return false;
	dst = peer->out_dma + NTBS_OFF_RINGS +
	      ((dma_addr_t)ns->tx_slot << peer->p_ring_order) + off;
	tx = dmaengine_prep_dma_memcpy(chan, dst, src, n, DMA_PREP_INTERRUPT);
	if (!tx)
		goto out;
	tx->callback_result = ntbs_dma_done;
	tx->callback_param = &done;
	if (dma_submit_error(dmaengine_submit(tx)))
		goto out;
	dma_async_issue_pending(chan);
	if (wait_for_completion_timeout(&done, HZ))
		ok = true;
	else
		dmaengine_terminate_sync(chan);
out:
	dma_unmap_single(dev, src, n, DMA_TO_DEVICE);
	return ok;
}

static void ntbs_tx_copy(struct ntbs_sock *ns, u32 off, void *buf, size_t n)
{
	if (ntbs_dma_threshold && n >= ntbs_dma_threshold &&
	    ntbs_tx_dma(ns, off, buf, n))
		return;
	ntbs_copy_toio(ntbs_out_ring(ns) + off, buf, n);
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
		ns->txbuf = kmalloc(NTBS_TXBUF, GFP_KERNEL);
		if (!ns->txbuf) {
			err = -ENOBUFS;
			goto out_err;
		}
	}

	while (copied < len) {
		u32 space, chunk, off, first;

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
			ntbs_tx_push(ns, true);
			up_read(&ns->peer->io_rwsem);
			if (!timeo) {
				err = -EAGAIN;
				goto out_err;
			}
			err = ntbs_tx_wait(sk, &timeo);
			if (err)
				goto out_err;
			continue;
		}
		chunk = min_t(size_t, min_t(size_t, space, len - copied),
			      NTBS_TXBUF);
		if (copy_from_iter(ns->txbuf, chunk, &msg->msg_iter) != chunk) {
			up_read(&ns->peer->io_rwsem);
			err = -EFAULT;
			goto out_err;
		}
		off = ns->tx_prod & (ns->tx_size - 1);
		first = min(chunk, ns->tx_size - off);
		ntbs_tx_copy(ns, off, ns->txbuf, first);
		if (chunk > first)
			ntbs_tx_copy(ns, 0, ns->txbuf + first, chunk - first);
		ns->tx_prod += chunk;
		atomic64_add(chunk, &ns->peer->tx_bytes);
		copied += chunk;
		ntbs_tx_push(ns, !(more && copied == len));
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
