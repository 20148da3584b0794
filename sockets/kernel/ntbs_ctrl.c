// SPDX-License-Identifier: GPL-2.0
/*
 * af_ntb: control messages and the connection handshake.
 *
 * Each direction of a session has a control ring of NTBS_CTRL_ENTRIES
 * fixed-size messages in the receiver's buffer.  The sender writes a message,
 * then the producer count, then rings the doorbell; the receiver writes back
 * how many it consumed.  Messages that do not fit wait in a queue, so no
 * caller ever blocks on the peer.
 *
 *   connect:  CONNECT(src_slot) ->  <- ACCEPT(dst_slot, src_slot) | REFUSE
 *   close:    FIN (half close), CLOSE (no more writes into the peer's ring),
 *             RESET (abort).  Each side sends exactly one CLOSE or RESET per
 *             connection; the one that receives it first answers with CLOSE.
 *             A receive slot is free again when its socket is gone and the
 *             peer's CLOSE or RESET has arrived.
 */
#include <linux/io.h>
#include <linux/slab.h>

#include "ntbs.h"

struct ntbs_ctrl_pending {
	struct list_head list;
	struct ntbs_wire_msg msg;
};

#define NTBS_CTRL_BATCH	8

static __le32 ntbs_addr_le(__be32 a)
{
	return cpu_to_le32(be32_to_cpu(a));
}

static __be32 ntbs_addr_be(__le32 a)
{
	return cpu_to_be32(le32_to_cpu(a));
}

/**
 * ntbs_ctrl_flush() - write queued control messages into the peer's ring
 * @peer: the peer
 */
void ntbs_ctrl_flush(struct ntbs_peer *peer)
{
	struct ntbs_wire_ctrl_idx *idx;
	struct ntbs_ctrl_pending *p;
	bool sent = false;
	u32 cons;

	down_read(&peer->io_rwsem);
	spin_lock(&peer->lock);
	if (peer->state != NTBS_PEER_UP || !peer->out)
		goto out;
	idx = peer->in_buf + NTBS_OFF_CTRL_IDX;
	cons = le32_to_cpu(READ_ONCE(idx->ctrl_cons));
	while (!list_empty(&peer->ctrl_queue) &&
	       peer->ctrl_sent - cons < NTBS_CTRL_ENTRIES) {
		void __iomem *slot = peer->out + NTBS_OFF_CTRL +
			(peer->ctrl_sent % NTBS_CTRL_ENTRIES) *
			sizeof(struct ntbs_wire_msg);

		p = list_first_entry(&peer->ctrl_queue, struct ntbs_ctrl_pending,
				     list);
		list_del(&p->list);
		p->msg.seq = cpu_to_le32(peer->ctrl_sent);
		ntbs_copy_toio(slot, &p->msg, sizeof(p->msg));
		kfree(p);
		peer->ctrl_sent++;
		sent = true;
	}
	if (sent) {
		wmb(); /* messages before the producer count */
		iowrite32(peer->ctrl_sent, peer->out + NTBS_OFF_CTRL_IDX +
			  offsetof(struct ntbs_wire_ctrl_idx, ctrl_prod));
		ntbs_peer_ring(peer);
	}
out:
	spin_unlock(&peer->lock);
	up_read(&peer->io_rwsem);
}

/**
 * ntbs_ctrl_purge() - drop queued control messages (session reset)
 * @peer: the peer; io_rwsem held for writing
 */
void ntbs_ctrl_purge(struct ntbs_peer *peer)
{
	struct ntbs_ctrl_pending *p, *n;

	spin_lock(&peer->lock);
	list_for_each_entry_safe(p, n, &peer->ctrl_queue, list) {
		list_del(&p->list);
		kfree(p);
	}
	spin_unlock(&peer->lock);
}

/**
 * ntbs_ctrl_send() - queue a control message and try to send it
 * @peer:	the peer
 * @type:	enum ntbs_msg_type
 * @ns:		the connection (NULL for BYE)
 *
 * Return: 0, -EHOSTUNREACH when the session is not up, -ENOMEM.
 */
int ntbs_ctrl_send(struct ntbs_peer *peer, u8 type, struct ntbs_sock *ns)
{
	struct ntbs_ctrl_pending *p;
	struct ntbs_wire_msg *m;

	if (READ_ONCE(peer->state) != NTBS_PEER_UP)
		return -EHOSTUNREACH;
	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p)
		return -ENOMEM;
	m = &p->msg;
	m->type = type;
	if (ns) {
		m->src_slot = cpu_to_le32(ns->rx_slot);
		m->dst_slot = cpu_to_le32(ns->tx_slot);
		m->sport = cpu_to_le16(ns->sk.sk_num);
		m->dport = cpu_to_le16(ntohs(ns->sk.sk_dport));
		m->saddr = ntbs_addr_le(ns->sk.sk_rcv_saddr);
		m->daddr = ntbs_addr_le(ns->sk.sk_daddr);
		m->ring_size = cpu_to_le32(ns->rx_size);
	}
	spin_lock(&peer->lock);
	if (peer->state != NTBS_PEER_UP) {
		spin_unlock(&peer->lock);
		kfree(p);
		return -EHOSTUNREACH;
	}
	list_add_tail(&p->list, &peer->ctrl_queue);
	spin_unlock(&peer->lock);
	ntbs_ctrl_flush(peer);
	return 0;
}

/**
 * ntbs_send_term() - send CLOSE or RESET for a connection, once
 * @ns:		the socket (locked)
 * @reset:	RESET instead of CLOSE
 */
void ntbs_send_term(struct ntbs_sock *ns, bool reset)
{
	if (ns->term_sent || !ns->peer || ns->sk.sk_state == TCP_SYN_SENT)
		return;
	ntbs_tx_drain(ns);	/* its data before the CLOSE */
	ns->term_sent = true;
	ns->fin_sent = true;
	ntbs_ctrl_send(ns->peer, reset ? NTBS_MSG_RESET : NTBS_MSG_CLOSE, ns);
}

/**
 * ntbs_connect_start() - take a slot and send CONNECT
 * @ns:		the socket (locked, bound, addresses set)
 * @peer:	the peer its destination maps to
 *
 * Return: 0, or an error number with nothing left behind.
 */
int ntbs_connect_start(struct ntbs_sock *ns, struct ntbs_peer *peer)
{
	int ret;

	ret = ntbs_slot_alloc(peer, ns);
	if (ret)
		return ret == -EAGAIN ? -EAGAIN : ret;
	ns->tx_slot = -1;
	ns->sk.sk_state = TCP_SYN_SENT;
	ret = ntbs_ctrl_send(peer, NTBS_MSG_CONNECT, ns);
	if (ret) {
		ns->sk.sk_state = TCP_CLOSE;
		ntbs_slot_release(ns);
		ntbs_peer_put(ns->peer);
		ns->peer = NULL;
	}
	return ret;
}

/* Reply to a message for a slot that has no live connection any more */
static void ntbs_reply(struct ntbs_peer *peer, u8 type, u32 dst_slot)
{
	struct ntbs_ctrl_pending *p;

	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p)
		return;
	p->msg.type = type;
	p->msg.dst_slot = cpu_to_le32(dst_slot);
	p->msg.src_slot = cpu_to_le32(~0U);
	spin_lock(&peer->lock);
	if (peer->state == NTBS_PEER_UP) {
		list_add_tail(&p->list, &peer->ctrl_queue);
		p = NULL;
	}
	spin_unlock(&peer->lock);
	kfree(p);
}

static void ntbs_on_connect(struct ntbs_peer *peer, struct ntbs_wire_msg *m)
{
	u32 src = le32_to_cpu(m->src_slot);
	struct ntbs_sock *child;
	struct sock *lsk, *csk;
	__be32 daddr = ntbs_addr_be(m->daddr);
	__be16 dport = htons(le16_to_cpu(m->dport));

	if (src >= ntbs_nslots(&peer->p_lay) ||
	    le32_to_cpu(m->ring_size) != ntbs_ring_bytes(&peer->p_lay, src))
		goto refuse;
	lsk = ntbs_lookup_listener(daddr, dport);
	if (!lsk)
		goto refuse;
	lock_sock(lsk);
	if (lsk->sk_state != TCP_LISTEN || sk_acceptq_is_full(lsk))
		goto refuse_unlock;
	csk = ntbs_sock_alloc(sock_net(lsk), NULL, GFP_KERNEL, 0);
	if (!csk)
		goto refuse_unlock;
	child = ntbs_sk(csk);
	csk->sk_num = ntohs(dport);
	csk->sk_rcv_saddr = daddr;
	csk->sk_daddr = ntbs_addr_be(m->saddr);
	csk->sk_dport = htons(le16_to_cpu(m->sport));
	child->tx_slot = src;
	child->tx_size = le32_to_cpu(m->ring_size);
	if (ntbs_slot_alloc(peer, child)) {
		sock_put(csk);
		goto refuse_unlock;
	}
	csk->sk_state = TCP_ESTABLISHED;
	if (ntbs_ctrl_send(peer, NTBS_MSG_ACCEPT, child)) {
		/* The session went down: the reset frees the slot */
		csk->sk_state = TCP_CLOSE;
		sock_set_flag(csk, SOCK_DEAD);
		sock_put(csk);
		goto out_unlock;
	}
	child->parent = lsk;
	list_add_tail(&child->accept_node, &ntbs_sk(lsk)->acceptq);
	sk_acceptq_added(lsk);
	lsk->sk_data_ready(lsk);
out_unlock:
	release_sock(lsk);
	sock_put(lsk);
	return;

refuse_unlock:
	release_sock(lsk);
	sock_put(lsk);
refuse:
	ntbs_reply(peer, NTBS_MSG_REFUSE, src);
}

static struct ntbs_sock *ntbs_slot_get(struct ntbs_peer *peer, u32 slot)
{
	struct ntbs_sock *ns = NULL;

	if (slot >= NTBS_MAX_SLOTS)
		return NULL;
	spin_lock(&peer->lock);
	ns = peer->slots[slot];
	if (ns)
		sock_hold(&ns->sk);
	spin_unlock(&peer->lock);
	return ns;
}

static void ntbs_on_conn_msg(struct ntbs_peer *peer, struct ntbs_wire_msg *m)
{
	struct ntbs_sock *ns = ntbs_slot_get(peer, le32_to_cpu(m->dst_slot));
	struct sock *sk;
	bool dead;

	if (!ns)
		return;
	sk = &ns->sk;
	lock_sock(sk);
	dead = sock_flag(sk, SOCK_DEAD);
	switch (m->type) {
	case NTBS_MSG_ACCEPT:
		if (sk->sk_state != TCP_SYN_SENT)
			break;
		ns->tx_slot = le32_to_cpu(m->src_slot);
		ns->tx_size = le32_to_cpu(m->ring_size);
		if (ns->tx_slot >= ntbs_nslots(&peer->p_lay) ||
		    ns->tx_size != ntbs_ring_bytes(&peer->p_lay, ns->tx_slot)) {
			sk->sk_state = TCP_CLOSE;
			sk->sk_err = ECONNREFUSED;
			ns->peer_gone = true;
			ns->term_sent = true;
			sk_error_report(sk);
			break;
		}
		sk->sk_state = TCP_ESTABLISHED;
		if (dead) {
			ntbs_send_term(ns, true);
			break;
		}
		sk->sk_state_change(sk);
		sk->sk_write_space(sk);
		break;
	case NTBS_MSG_REFUSE:
		if (sk->sk_state != TCP_SYN_SENT)
			break;
		sk->sk_state = TCP_CLOSE;
		sk->sk_err = ECONNREFUSED;
		ns->peer_gone = true;
		ns->term_sent = true;
		if (!dead)
			sk_error_report(sk);
		break;
	case NTBS_MSG_FIN:
		sk->sk_shutdown |= RCV_SHUTDOWN;
		sk->sk_state_change(sk);
		sk->sk_data_ready(sk);
		break;
	case NTBS_MSG_CLOSE:
	case NTBS_MSG_RESET:
		if (ns->peer_gone)
			break;
		ns->peer_gone = true;
		sk->sk_shutdown |= RCV_SHUTDOWN;
		if (m->type == NTBS_MSG_RESET && !dead &&
		    sk->sk_state != TCP_CLOSE) {
			sk->sk_err = ECONNRESET;
			sk->sk_shutdown = SHUTDOWN_MASK;
			sk->sk_state = TCP_CLOSE;
			sk_error_report(sk);
		}
		ntbs_send_term(ns, false);
		sk->sk_state_change(sk);
		sk->sk_data_ready(sk);
		sk->sk_write_space(sk);
		break;
	}
	/* The peer writes no more into our slot: free it if nobody reads */
	if (dead && ns->peer_gone)
		ntbs_slot_release(ns);
	release_sock(sk);
	sock_put(sk);
}

/**
 * ntbs_ctrl_process() - consume the control messages the peer sent us
 * @peer: the peer; called from its work item only
 */
void ntbs_ctrl_process(struct ntbs_peer *peer)
{
	struct ntbs_wire_msg batch[NTBS_CTRL_BATCH];
	struct ntbs_wire_ctrl_idx *idx;
	bool bye = false;
	int i, n;

	do {
		n = 0;
		down_read(&peer->io_rwsem);
		if (peer->state != NTBS_PEER_UP) {
			up_read(&peer->io_rwsem);
			return;
		}
		idx = peer->in_buf + NTBS_OFF_CTRL_IDX;
		while (n < NTBS_CTRL_BATCH &&
		       peer->ctrl_rcvd != le32_to_cpu(READ_ONCE(idx->ctrl_prod))) {
			struct ntbs_wire_msg *m = peer->in_buf + NTBS_OFF_CTRL +
				(peer->ctrl_rcvd % NTBS_CTRL_ENTRIES) * sizeof(*m);

			rmb(); /* producer count before the message */
			memcpy(&batch[n], m, sizeof(*m));
			if (le32_to_cpu(batch[n].seq) != peer->ctrl_rcvd)
				break;	/* not landed yet: next doorbell */
			peer->ctrl_rcvd++;
			n++;
		}
		if (n) {
			iowrite32(peer->ctrl_rcvd, peer->out + NTBS_OFF_CTRL_IDX +
				  offsetof(struct ntbs_wire_ctrl_idx, ctrl_cons));
			if (peer->ctrl_rcvd - peer->ctrl_rung >=
			    NTBS_CTRL_ENTRIES / 2) {
				peer->ctrl_rung = peer->ctrl_rcvd;
				ntbs_peer_ring(peer);
			}
		}
		up_read(&peer->io_rwsem);

		for (i = 0; i < n; i++) {
			switch (batch[i].type) {
			case NTBS_MSG_CONNECT:
				ntbs_on_connect(peer, &batch[i]);
				break;
			case NTBS_MSG_ACCEPT:
			case NTBS_MSG_REFUSE:
			case NTBS_MSG_FIN:
			case NTBS_MSG_CLOSE:
			case NTBS_MSG_RESET:
				ntbs_on_conn_msg(peer, &batch[i]);
				break;
			case NTBS_MSG_BYE:
				bye = true;
				break;
			default:
				break;
			}
		}
	} while (n == NTBS_CTRL_BATCH && !bye);

	if (bye) {
		ntbs_peer_reset(peer);
		return;
	}
	ntbs_ctrl_flush(peer);
}
