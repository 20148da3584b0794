// SPDX-License-Identifier: GPL-2.0
/*
 * af_ntb: the receive path.
 *
 * The receive ring of a connection is in our own memory: the peer writes
 * data and then its producer index.  We copy out to the user, advance our
 * consumer index and write it back into the peer's buffer as credit; the
 * doorbell is rung for credit only after half a ring has been consumed since
 * the last time, which is enough for a sender that waits on a full ring.
 * Credit itself is written back lazily: after a quarter of a ring, or when
 * the reader is about to sleep (a sender never sees less than three
 * quarters of a ring free while the reader is idle, so it cannot wait on
 * credit that is not written).
 *
 * A reader about to sleep first polls the producer index for poll_us.
 * While it polls it tells the sender, through a flag in the sender's memory
 * (NTBS_OFF_QUIET), that data needs no doorbell: the doorbell's interrupt
 * costs the receiver several PCIe reads in the hardware driver, more than a
 * whole message.  The flag is cleared before the reader sleeps, or waits in
 * poll(); a sender that still saw it set at that moment is caught by a short
 * first sleep.
 */
#include <linux/io.h>
#include <linux/ktime.h>
#include <linux/sched/signal.h>
#include <linux/uio.h>

#include "ntbs.h"

/* First sleep after the quiet flag was cleared (see above) */
#define NTBS_QUIET_RECHECK	1	/* jiffies */

static bool ntbs_rx_usable(struct ntbs_sock *ns)
{
	return ns->peer && ns->rx_slot >= 0 && ns->peer->in_buf &&
	       ns->peer->state != NTBS_PEER_DEAD;
}

/* Bytes readable; caller holds io_rwsem for reading */
static u32 __ntbs_rx_avail(struct ntbs_sock *ns)
{
	u32 n;

	if (!ntbs_rx_usable(ns) || ns->sk.sk_state == TCP_SYN_SENT)
		return 0;
	n = ntbs_ring_prod(ns) - ns->rx_cons;
	return n > ns->rx_size ? 0 : n;	/* a bogus index reads as empty */
}

/**
 * ntbs_rx_avail() - bytes that can be read now
 * @ns: the socket
 *
 * Return: the byte count (FIONREAD).
 */
u32 ntbs_rx_avail(struct ntbs_sock *ns)
{
	u32 n;

	if (!ns->peer)
		return 0;
	down_read(&ns->peer->io_rwsem);
	n = __ntbs_rx_avail(ns);
	up_read(&ns->peer->io_rwsem);
	return n;
}

/**
 * ntbs_rx_credit() - write our consumer index back to the sender
 * @ns:		the socket; caller holds io_rwsem for reading
 * @flush:	write it however little was consumed since the last time
 *
 * The doorbell is rung when half a ring was consumed since the last time.
 */
void ntbs_rx_credit(struct ntbs_sock *ns, bool flush)
{
	struct ntbs_peer *peer = ns->peer;

	if (ns->rx_credit == ns->rx_cons || ns->peer_gone ||
	    peer->state != NTBS_PEER_UP || !peer->out)
		return;
	if (!flush && ns->rx_cons - ns->rx_credit < ns->rx_size / 4)
		return;
	iowrite32(ns->rx_cons, peer->out + NTBS_OFF_CONS + 4 * ns->rx_slot);
	ns->rx_credit = ns->rx_cons;
	if (ns->rx_cons - ns->rx_rung >= ns->rx_size / 2) {
		ns->rx_rung = ns->rx_cons;
		ntbs_peer_ring(peer);
	}
}

/**
 * ntbs_rx_quiet() - tell the sender whether data needs a doorbell
 * @ns:	the socket
 * @on:	true while this reader polls its ring
 *
 * One posted write through the window, only when the state changes.  When
 * the flag goes off, it is read back (the read completes after the write
 * reached the sender's memory), so that a sender that still saw it set has
 * its producer index there by the time the reader checks the ring once
 * more before sleeping; only a write of the sender's still in flight then
 * can be missed, and the short first sleep catches that.
 */
void ntbs_rx_quiet(struct ntbs_sock *ns, bool on)
{
	struct ntbs_peer *peer = ns->peer;

	if (!peer || ns->rx_slot < 0 || !!READ_ONCE(ns->quiet) == on)
		return;
	down_read(&peer->io_rwsem);
	if (xchg(&ns->quiet, on) != on && peer->state == NTBS_PEER_UP &&
	    peer->out) {
		iowrite32(on, peer->out + NTBS_OFF_QUIET + 4 * ns->rx_slot);
		if (!on)
			ioread32(peer->out + NTBS_OFF_QUIET + 4 * ns->rx_slot);
	}
	up_read(&peer->io_rwsem);
}

/*
 * Poll our own memory; local_clock() is cheap where the clocksource (under
 * emulation, the ACPI PM timer) is not.
 */
static bool ntbs_rx_poll(struct ntbs_sock *ns)
{
	unsigned int budget = READ_ONCE(ntbs_poll_us);
	u64 end;

	if (!budget)
		return false;
	ntbs_rx_quiet(ns, true);
	end = local_clock() + (u64)budget * NSEC_PER_USEC;
	do {
		if (ntbs_rx_avail(ns))
			return true;
		if (need_resched() || signal_pending(current))
			break;
		cpu_relax();
	} while (local_clock() < end);
	return false;
}

static int ntbs_rx_copy(struct ntbs_sock *ns, u32 off, u32 n,
			struct msghdr *msg)
{
	struct ntbs_peer *peer = ns->peer;
	u8 *ring = (u8 *)peer->in_buf + ntbs_ring_off(&peer->lay, ns->rx_slot);
	u32 first = min(n, ns->rx_size - off);

	rmb(); /* producer index before the data */
	if (copy_to_iter(ring + off, first, &msg->msg_iter) != first)
		return -EFAULT;
	if (n > first && copy_to_iter(ring, n - first, &msg->msg_iter) !=
	    n - first)
		return -EFAULT;
	return 0;
}

/**
 * ntbs_rx_recvmsg() - read from the connection's ring
 * @sk:		the socket, locked
 * @msg:	destination
 * @len:	bytes wanted
 * @flags:	MSG_DONTWAIT, MSG_PEEK, MSG_WAITALL
 *
 * Data received before a FIN, CLOSE or RESET is read first; then 0 (end of
 * stream) or the error.
 *
 * Return: bytes read, 0 at end of stream, or an error number.
 */
int ntbs_rx_recvmsg(struct sock *sk, struct msghdr *msg, size_t len,
		    int flags)
{
	struct ntbs_sock *ns = ntbs_sk(sk);
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	long timeo = sock_rcvtimeo(sk, flags & MSG_DONTWAIT);
	int target = sock_rcvlowat(sk, flags & MSG_WAITALL, len);
	size_t copied = 0;
	long t, slept;
	u32 peek = 0;
	int err = 0;

	if (sk->sk_state == TCP_LISTEN)
		return -ENOTCONN;
	if (!len)
		return 0;

	for (;;) {
		u32 avail = 0, n;

		if (ns->peer) {
			down_read(&ns->peer->io_rwsem);
			avail = __ntbs_rx_avail(ns);
			avail = avail > peek ? avail - peek : 0;
			if (avail) {
				n = min_t(size_t, avail, len - copied);
				err = ntbs_rx_copy(ns, (ns->rx_cons + peek) &
						   (ns->rx_size - 1), n, msg);
				if (!err) {
					if (flags & MSG_PEEK) {
						peek += n;
					} else {
						ns->rx_cons += n;
						atomic64_add(n, &ns->peer->rx_bytes);
					}
					copied += n;
					ntbs_rx_credit(ns, false);
				}
			}
			up_read(&ns->peer->io_rwsem);
			if (err)
				break;
		}
		if (copied >= target || copied == len)
			break;
		if (avail)
			continue;
		/* Nothing (more) to read now */
		if (copied && (flags & MSG_PEEK))
			break;
		if (sk->sk_err) {
			if (!copied)
				err = sock_error(sk);
			break;
		}
		if (sk->sk_shutdown & RCV_SHUTDOWN)
			break;
		if (sk->sk_state == TCP_CLOSE) {
			if (!ns->peer && !copied)
				err = -ENOTCONN;
			break;
		}
		if (!timeo) {
			if (!copied)
				err = -EAGAIN;
			break;
		}
		if (signal_pending(current)) {
			if (!copied)
				err = sock_intr_errno(timeo);
			break;
		}
		if (sk->sk_state == TCP_ESTABLISHED && !peek &&
		    ntbs_rx_poll(ns))
			continue;
		/*
		 * Sleeping: doorbells again, and the credit we owe.  A sender
		 * may have looked at the quiet flag before its clearing
		 * arrived, so the first sleep after clearing it is short.
		 */
		t = timeo;
		if (READ_ONCE(ns->quiet)) {
			ntbs_rx_quiet(ns, false);
			t = min_t(long, t, NTBS_QUIET_RECHECK);
		}
		if (ns->peer) {
			down_read(&ns->peer->io_rwsem);
			ntbs_rx_credit(ns, true);
			up_read(&ns->peer->io_rwsem);
		}
		slept = t;
		add_wait_queue(sk_sleep(sk), &wait);
		sk_wait_event(sk, &t,
			      ntbs_rx_avail(ns) > peek || sk->sk_err ||
			      (sk->sk_shutdown & RCV_SHUTDOWN) ||
			      (sk->sk_state != TCP_ESTABLISHED &&
			       sk->sk_state != TCP_SYN_SENT), &wait);
		remove_wait_queue(sk_sleep(sk), &wait);
		if (timeo != MAX_SCHEDULE_TIMEOUT)
			timeo -= slept - t;
	}
	return copied ? copied : err;
}
