// SPDX-License-Identifier: GPL-2.0
/*
 * af_ntb: a stream socket family over PCIe NTB.
 *
 * The family and its proto_ops.  Sockets must look like TCP sockets:
 * sockaddr_in addresses, the same states, errors, poll bits and options,
 * so that the preload library can hand them to unmodified programs.
 */
#include <linux/errno.h>
#include <linux/in.h>
#include <linux/init.h>
#include <linux/module.h>
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/random.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/sockios.h>
#include <linux/termios.h>
#include <linux/tcp.h>
#include <net/sock.h>
#include <net/tcp_states.h>

#include "ntbs.h"

int ntbs_family = 27;
module_param_named(family, ntbs_family, int, 0444);
MODULE_PARM_DESC(family, "Address family number (default 27, as SDP and SuperSockets)");

/*=============================================================================
 * 1. Bind table
 *=============================================================================
 */

#define NTBS_BIND_BITS	8
static struct hlist_head ntbs_bind_tab[1 << NTBS_BIND_BITS];
static DEFINE_SPINLOCK(ntbs_bind_lock);

static struct hlist_head *ntbs_bind_head(u16 port)
{
	return &ntbs_bind_tab[port & ((1 << NTBS_BIND_BITS) - 1)];
}

static bool ntbs_addr_overlap(__be32 a, __be32 b)
{
	return a == htonl(INADDR_ANY) || b == htonl(INADDR_ANY) || a == b;
}

/* Caller holds ntbs_bind_lock */
static bool ntbs_port_conflict(struct sock *sk, u16 port, __be32 addr,
			       bool listening)
{
	struct ntbs_sock *o;

	hlist_for_each_entry(o, ntbs_bind_head(port), bind_node) {
		struct sock *osk = &o->sk;

		if (osk == sk || osk->sk_num != port ||
		    !ntbs_addr_overlap(osk->sk_rcv_saddr, addr))
			continue;
		if (listening) {
			if (osk->sk_state == TCP_LISTEN)
				return true;
			continue;
		}
		if (!(ntbs_sk(sk)->reuse && o->reuse) ||
		    osk->sk_state == TCP_LISTEN)
			return true;
	}
	return false;
}

static int ntbs_bind_port(struct sock *sk, __be32 addr, u16 port)
{
	struct ntbs_sock *ns = ntbs_sk(sk);
	int low = 32768, high = 60999, i, ret = 0;

	ns->reuse = sk->sk_reuse != SK_NO_REUSE;
	spin_lock(&ntbs_bind_lock);
	if (port) {
		if (ntbs_port_conflict(sk, port, addr, false)) {
			ret = -EADDRINUSE;
			goto out;
		}
	} else {
		u32 start = get_random_u32_below(high - low + 1);

		for (i = 0; i <= high - low; i++) {
			u16 p = low + (start + i) % (high - low + 1);

			if (!ntbs_port_conflict(sk, p, addr, false)) {
				port = p;
				break;
			}
		}
		if (!port) {
			ret = -EADDRNOTAVAIL;
			goto out;
		}
	}
	sk->sk_rcv_saddr = addr;
	sk->sk_num = port;
	hlist_add_head(&ns->bind_node, ntbs_bind_head(port));
	ns->bound = true;
out:
	spin_unlock(&ntbs_bind_lock);
	return ret;
}

static void ntbs_unbind(struct sock *sk)
{
	struct ntbs_sock *ns = ntbs_sk(sk);

	spin_lock(&ntbs_bind_lock);
	if (ns->bound) {
		hlist_del(&ns->bind_node);
		ns->bound = false;
	}
	spin_unlock(&ntbs_bind_lock);
}

/**
 * ntbs_lookup_listener() - find the listening socket for a CONNECT
 * @addr:	the address the connector asked for
 * @port:	the port, network order
 *
 * Return: the socket with a reference held, or NULL.
 */
struct sock *ntbs_lookup_listener(__be32 addr, __be16 port)
{
	u16 p = ntohs(port);
	struct ntbs_sock *o;
	struct sock *found = NULL;

	spin_lock(&ntbs_bind_lock);
	hlist_for_each_entry(o, ntbs_bind_head(p), bind_node) {
		struct sock *sk = &o->sk;

		if (sk->sk_num != p || sk->sk_state != TCP_LISTEN)
			continue;
		if (sk->sk_rcv_saddr != htonl(INADDR_ANY) &&
		    sk->sk_rcv_saddr != addr)
			continue;
		found = sk;
		sock_hold(found);
		break;
	}
	spin_unlock(&ntbs_bind_lock);
	return found;
}

/*=============================================================================
 * 2. Sockets
 *=============================================================================
 */

static struct proto ntbs_proto = {
	.name = "AF_NTB",
	.owner = THIS_MODULE,
	.obj_size = sizeof(struct ntbs_sock),
};

static const struct proto_ops ntbs_ops_template;
/* The template with the family number of this load */
static const struct proto_ops *ntbs_ops;

static void ntbs_destruct(struct sock *sk)
{
	struct ntbs_sock *ns = ntbs_sk(sk);

	ntbs_tx_free(ns);
	ntbs_peer_put(ns->peer);
	ns->peer = NULL;
}

/**
 * ntbs_sock_alloc() - allocate and initialise an af_ntb sock
 * @net:	network namespace
 * @sock:	socket to attach to, or NULL for an accepted child
 * @gfp:	allocation flags
 * @kern:	kernel socket
 *
 * Return: the sock or NULL.
 */
struct sock *ntbs_sock_alloc(struct net *net, struct socket *sock, gfp_t gfp,
			     int kern)
{
	struct ntbs_sock *ns;
	struct sock *sk;

	sk = sk_alloc(net, ntbs_family, gfp, &ntbs_proto, kern);
	if (!sk)
		return NULL;
	sock_init_data(sock, sk);
	sk->sk_destruct = ntbs_destruct;
	sk->sk_protocol = IPPROTO_TCP;
	sk->sk_state = TCP_CLOSE;
	ns = ntbs_sk(sk);
	ns->rx_slot = -1;
	ns->tx_slot = -1;
	INIT_LIST_HEAD(&ns->acceptq);
	INIT_LIST_HEAD(&ns->accept_node);
	INIT_HLIST_NODE(&ns->bind_node);
	return sk;
}

/**
 * ntbs_sock_reset() - the session under a socket went away
 * @sk:		the socket, locked
 * @err:	error for a connection that was still open
 *
 * What was received stays readable; the socket writes no more.
 */
void ntbs_sock_reset(struct sock *sk, int err)
{
	struct ntbs_sock *ns = ntbs_sk(sk);
	bool live = !ns->peer_gone;

	__ntbs_tx_drain(ns, false);
	if (ns->peer && ns->rx_slot >= 0 && !ns->rx_frozen) {
		down_read(&ns->peer->io_rwsem);
		if (ns->peer->in_buf)
			ns->rx_final = ntbs_ring_prod(ns);
		else
			ns->rx_final = ns->rx_cons;
		ns->rx_frozen = true;
		up_read(&ns->peer->io_rwsem);
	}
	ns->peer_gone = true;
	ns->term_sent = true;
	ns->fin_sent = true;
	if (live && sk->sk_state != TCP_CLOSE && sk->sk_state != TCP_LISTEN) {
		sk->sk_err = err;
		sk->sk_shutdown = SHUTDOWN_MASK;
		sk->sk_state = TCP_CLOSE;
		if (!sock_flag(sk, SOCK_DEAD))
			sk_error_report(sk);
	}
	sk->sk_state_change(sk);
	sk->sk_data_ready(sk);
	sk->sk_write_space(sk);
	if (sock_flag(sk, SOCK_DEAD))
		ntbs_slot_release(ns);
}

static int ntbs_create(struct net *net, struct socket *sock, int protocol,
		       int kern)
{
	struct sock *sk;

	if (sock->type != SOCK_STREAM)
		return -ESOCKTNOSUPPORT;
	if (protocol != 0 && protocol != IPPROTO_TCP)
		return -EPROTONOSUPPORT;
	if (!net_eq(net, &init_net))
		return -EAFNOSUPPORT;
	sock->state = SS_UNCONNECTED;
	sock->ops = ntbs_ops;
	sk = ntbs_sock_alloc(net, sock, GFP_KERNEL, kern);
	if (!sk)
		return -ENOMEM;
	return 0;
}

/* Orphan a child that was never accepted (listener closing) */
static void ntbs_drop_child(struct sock *csk)
{
	struct ntbs_sock *c = ntbs_sk(csk);

	lock_sock(csk);
	c->parent = NULL;
	ntbs_send_term(c, true);
	sock_orphan(csk);
	if (c->peer_gone || c->rx_slot < 0)
		ntbs_slot_release(c);
	release_sock(csk);
	sock_put(csk);
}

static bool ntbs_linger_done(struct ntbs_sock *ns)
{
	bool done;

	if (!ns->peer)
		return true;
	down_read(&ns->peer->io_rwsem);
	done = ntbs_tx_unacked(ns) == 0 || ns->peer_gone ||
	       ns->peer->state != NTBS_PEER_UP;
	up_read(&ns->peer->io_rwsem);
	return done;
}

static int ntbs_release(struct socket *sock)
{
	struct sock *sk = sock->sk;
	struct ntbs_sock *ns;

	if (!sk)
		return 0;
	ns = ntbs_sk(sk);
	lock_sock(sk);
	if (sk->sk_state == TCP_LISTEN) {
		struct ntbs_sock *c, *n;
		LIST_HEAD(drop);

		sk->sk_state = TCP_CLOSE;
		ntbs_unbind(sk);
		list_splice_init(&ns->acceptq, &drop);
		release_sock(sk);
		list_for_each_entry_safe(c, n, &drop, accept_node) {
			list_del_init(&c->accept_node);
			sk_acceptq_removed(sk);
			ntbs_drop_child(&c->sk);
		}
		lock_sock(sk);
	} else if (sk->sk_state == TCP_ESTABLISHED) {
		bool abort = ntbs_rx_avail(ns) > 0 ||
			     (sock_flag(sk, SOCK_LINGER) && !sk->sk_lingertime);

		if (!abort && sock_flag(sk, SOCK_LINGER) &&
		    !(current->flags & PF_EXITING)) {
			DEFINE_WAIT_FUNC(wait, woken_wake_function);
			long timeo = sk->sk_lingertime;

			add_wait_queue(sk_sleep(sk), &wait);
			while (!ntbs_linger_done(ns) && timeo &&
			       !signal_pending(current))
				sk_wait_event(sk, &timeo, ntbs_linger_done(ns),
					      &wait);
			remove_wait_queue(sk_sleep(sk), &wait);
		}
		ntbs_send_term(ns, abort);
	}
	ntbs_tx_drain(ns);
	ntbs_unbind(sk);
	/* A connect in flight stays SYN_SENT: its ACCEPT is answered by RESET */
	if (sk->sk_state != TCP_SYN_SENT)
		sk->sk_state = TCP_CLOSE;
	sk->sk_shutdown = SHUTDOWN_MASK;
	sock_orphan(sk);
	/* Free the slot now if the peer writes no more into it */
	if (ns->peer_gone)
		ntbs_slot_release(ns);
	sock->sk = NULL;
	release_sock(sk);
	sock_put(sk);
	return 0;
}

static int ntbs_check_addr(struct sockaddr *uaddr, int len,
			   struct sockaddr_in **sin)
{
	if (len < sizeof(struct sockaddr_in))
		return -EINVAL;
	*sin = (struct sockaddr_in *)uaddr;
	if ((*sin)->sin_family != AF_INET && (*sin)->sin_family != ntbs_family)
		return -EAFNOSUPPORT;
	return 0;
}

static int ntbs_bind(struct socket *sock, struct sockaddr *uaddr, int len)
{
	struct sock *sk = sock->sk;
	struct sockaddr_in *sin;
	__be32 self;
	int ret;

	ret = ntbs_check_addr(uaddr, len, &sin);
	if (ret)
		return ret;
	self = ntbs_self_addr();
	if (sin->sin_addr.s_addr != htonl(INADDR_ANY) &&
	    sin->sin_addr.s_addr != self)
		return -EADDRNOTAVAIL;
	lock_sock(sk);
	if (sk->sk_state != TCP_CLOSE || ntbs_sk(sk)->bound || sk->sk_num) {
		ret = -EINVAL;
		goto out;
	}
	ret = ntbs_bind_port(sk, sin->sin_addr.s_addr, ntohs(sin->sin_port));
out:
	release_sock(sk);
	return ret;
}

static int ntbs_connect(struct socket *sock, struct sockaddr *uaddr, int len,
			int flags)
{
	struct sock *sk = sock->sk;
	struct ntbs_sock *ns = ntbs_sk(sk);
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	struct ntbs_peer *peer = NULL;
	struct sockaddr_in *sin;
	long timeo;
	int ret;

	if (len >= sizeof(sa_family_t) && uaddr->sa_family == AF_UNSPEC)
		return -EOPNOTSUPP;
	ret = ntbs_check_addr(uaddr, len, &sin);
	if (ret)
		return ret;
	lock_sock(sk);
	switch (sk->sk_state) {
	case TCP_ESTABLISHED:
		ret = sock->state == SS_CONNECTING ? 0 : -EISCONN;
		sock->state = SS_CONNECTED;
		goto out;
	case TCP_SYN_SENT:
		ret = -EALREADY;
		if (flags & O_NONBLOCK)
			goto out;
		goto wait;
	case TCP_LISTEN:
		ret = -EINVAL;
		goto out;
	}
	if (ns->peer) {
		/* An earlier attempt failed: report it once, like TCP */
		if (sock->state == SS_CONNECTING) {
			sock->state = SS_UNCONNECTED;
			ret = sock_error(sk) ? : -ECONNREFUSED;
			goto out;
		}
		if (ns->rx_slot >= 0 || sock->state == SS_CONNECTED) {
			ret = -EISCONN;
			goto out;
		}
		/* Its slot is free again: start afresh */
		ntbs_peer_put(ns->peer);
		ns->peer = NULL;
		ns->peer_gone = false;
		ns->term_sent = false;
		ns->fin_sent = false;
		ns->rx_frozen = false;
		ns->tx_prod = 0;
		ns->tx_pushed = 0;
		sk->sk_shutdown = 0;
	}
	ret = ntbs_route(sin->sin_addr.s_addr, &peer);
	if (ret)
		goto out;
	if (!ns->bound) {
		ret = ntbs_bind_port(sk, htonl(INADDR_ANY), 0);
		if (ret)
			goto out_peer;
	}
	if (sk->sk_rcv_saddr == htonl(INADDR_ANY))
		sk->sk_rcv_saddr = ntbs_self_addr();
	sk->sk_daddr = sin->sin_addr.s_addr;
	sk->sk_dport = sin->sin_port;
	sk->sk_err = 0;
	ret = ntbs_connect_start(ns, peer);
	if (ret) {
		if (ret == -EAGAIN)
			ret = -EAGAIN;
		goto out_peer;
	}
	ntbs_peer_put(peer);
	peer = NULL;
	sock->state = SS_CONNECTING;
	ret = -EINPROGRESS;
	if (flags & O_NONBLOCK)
		goto out;
wait:
	timeo = sock_sndtimeo(sk, flags & O_NONBLOCK);
	add_wait_queue(sk_sleep(sk), &wait);
	while (sk->sk_state == TCP_SYN_SENT) {
		if (!timeo) {
			ret = -ETIMEDOUT;
			break;
		}
		if (signal_pending(current)) {
			ret = sock_intr_errno(timeo);
			break;
		}
		sk_wait_event(sk, &timeo, sk->sk_state != TCP_SYN_SENT, &wait);
	}
	remove_wait_queue(sk_sleep(sk), &wait);
	if (sk->sk_state == TCP_SYN_SENT)
		goto out;	/* -ETIMEDOUT or interrupted: still connecting */
	if (sk->sk_state == TCP_ESTABLISHED) {
		sock->state = SS_CONNECTED;
		ret = 0;
	} else {
		sock->state = SS_UNCONNECTED;
		ret = sock_error(sk) ? : -ECONNREFUSED;
	}
	goto out;
out_peer:
	ntbs_peer_put(peer);
out:
	release_sock(sk);
	return ret;
}

static int ntbs_listen(struct socket *sock, int backlog)
{
	struct sock *sk = sock->sk;
	int ret = -EINVAL;

	lock_sock(sk);
	if (sock->state != SS_UNCONNECTED || sock->type != SOCK_STREAM)
		goto out;
	if (sk->sk_state == TCP_LISTEN) {
		WRITE_ONCE(sk->sk_max_ack_backlog, backlog);
		ret = 0;
		goto out;
	}
	if (sk->sk_state != TCP_CLOSE || ntbs_sk(sk)->peer)
		goto out;
	if (!ntbs_sk(sk)->bound) {
		ret = ntbs_bind_port(sk, htonl(INADDR_ANY), 0);
		if (ret)
			goto out;
	}
	spin_lock(&ntbs_bind_lock);
	if (ntbs_port_conflict(sk, sk->sk_num, sk->sk_rcv_saddr, true)) {
		spin_unlock(&ntbs_bind_lock);
		ret = -EADDRINUSE;
		goto out;
	}
	WRITE_ONCE(sk->sk_max_ack_backlog, backlog);
	sk->sk_ack_backlog = 0;
	sk->sk_state = TCP_LISTEN;
	spin_unlock(&ntbs_bind_lock);
	ret = 0;
out:
	release_sock(sk);
	return ret;
}

static int ntbs_accept(struct socket *sock, struct socket *newsock, int flags,
		       bool kern)
{
	struct sock *sk = sock->sk;
	struct ntbs_sock *ns = ntbs_sk(sk);
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	struct ntbs_sock *c = NULL;
	long timeo;
	int ret = 0;

	lock_sock(sk);
	if (sk->sk_state != TCP_LISTEN) {
		ret = -EINVAL;
		goto out;
	}
	timeo = sock_rcvtimeo(sk, flags & O_NONBLOCK);
	add_wait_queue(sk_sleep(sk), &wait);
	while (list_empty(&ns->acceptq)) {
		if (!timeo) {
			ret = -EAGAIN;
			break;
		}
		if (signal_pending(current)) {
			ret = sock_intr_errno(timeo);
			break;
		}
		sk_wait_event(sk, &timeo, !list_empty(&ns->acceptq) ||
			      sk->sk_state != TCP_LISTEN, &wait);
		if (sk->sk_state != TCP_LISTEN) {
			ret = -EINVAL;
			break;
		}
	}
	remove_wait_queue(sk_sleep(sk), &wait);
	if (ret)
		goto out;
	c = list_first_entry(&ns->acceptq, struct ntbs_sock, accept_node);
	list_del_init(&c->accept_node);
	sk_acceptq_removed(sk);
	lock_sock(&c->sk);
	c->parent = NULL;
	sock_graft(&c->sk, newsock);
	newsock->state = c->sk.sk_state == TCP_ESTABLISHED ? SS_CONNECTED :
			 SS_UNCONNECTED;
	c->sk.sk_rcvtimeo = sk->sk_rcvtimeo;
	c->sk.sk_sndtimeo = sk->sk_sndtimeo;
	c->nodelay = ns->nodelay;
	release_sock(&c->sk);
	/* The accept queue's reference becomes the new socket's */
out:
	release_sock(sk);
	return ret;
}

static int ntbs_getname(struct socket *sock, struct sockaddr *uaddr, int peer)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)uaddr;
	struct sock *sk = sock->sk;

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;	/* the addresses are IPv4 ones */
	lock_sock(sk);
	if (peer) {
		if (sk->sk_state != TCP_ESTABLISHED) {
			release_sock(sk);
			return -ENOTCONN;
		}
		sin->sin_addr.s_addr = sk->sk_daddr;
		sin->sin_port = sk->sk_dport;
	} else {
		sin->sin_addr.s_addr = sk->sk_rcv_saddr;
		sin->sin_port = htons(sk->sk_num);
	}
	release_sock(sk);
	return sizeof(*sin);
}

static __poll_t ntbs_poll(struct file *file, struct socket *sock,
			  poll_table *wait)
{
	struct sock *sk = sock->sk;
	struct ntbs_sock *ns = ntbs_sk(sk);
	__poll_t mask = 0;
	int state;

	sock_poll_wait(file, sock, wait);
	/* A waiter in poll() needs doorbells (see ntbs_rx.c) */
	if (READ_ONCE(ns->quiet))
		ntbs_rx_quiet(ns, false);
	state = READ_ONCE(sk->sk_state);
	if (state == TCP_LISTEN)
		return list_empty_careful(&ns->acceptq) ? 0 :
		       EPOLLIN | EPOLLRDNORM;

	if (sk->sk_shutdown == SHUTDOWN_MASK || state == TCP_CLOSE)
		mask |= EPOLLHUP;
	if (sk->sk_shutdown & RCV_SHUTDOWN)
		mask |= EPOLLIN | EPOLLRDNORM | EPOLLRDHUP;
	/* As tcp_poll: everything but a connect in flight can be written */
	if (state != TCP_SYN_SENT) {
		if (ntbs_rx_avail(ns))
			mask |= EPOLLIN | EPOLLRDNORM;
		if (state != TCP_ESTABLISHED || ns->peer_gone ||
		    (sk->sk_shutdown & SEND_SHUTDOWN)) {
			mask |= EPOLLOUT | EPOLLWRNORM;
		} else {
			u32 space;

			down_read(&ns->peer->io_rwsem);
			space = ntbs_tx_space(ns);
			if (ns->peer->state != NTBS_PEER_UP)
				space = 1;	/* a write fails at once */
			up_read(&ns->peer->io_rwsem);
			if (space)
				mask |= EPOLLOUT | EPOLLWRNORM;
		}
	}
	if (sk->sk_err)
		mask |= EPOLLERR;
	return mask;
}

static int ntbs_ioctl(struct socket *sock, unsigned int cmd, unsigned long arg)
{
	struct sock *sk = sock->sk;
	struct ntbs_sock *ns = ntbs_sk(sk);
	int v;

	switch (cmd) {
	case SIOCINQ:
		if (sk->sk_state == TCP_LISTEN)
			return -EINVAL;
		lock_sock(sk);
		v = ntbs_rx_avail(ns);
		release_sock(sk);
		break;
	case SIOCOUTQ:
	case SIOCOUTQNSD:
		if (sk->sk_state == TCP_LISTEN)
			return -EINVAL;
		lock_sock(sk);
		v = 0;
		if (ns->peer) {
			down_read(&ns->peer->io_rwsem);
			v = ntbs_tx_unacked(ns);
			up_read(&ns->peer->io_rwsem);
		}
		release_sock(sk);
		break;
	default:
		return -ENOIOCTLCMD;
	}
	return put_user(v, (int __user *)arg);
}

static int ntbs_shutdown(struct socket *sock, int how)
{
	struct sock *sk = sock->sk;
	struct ntbs_sock *ns = ntbs_sk(sk);
	int ret = 0;

	how++;	/* SHUT_RD 0 -> RCV_SHUTDOWN 1, ... */
	if ((how & ~SHUTDOWN_MASK) || !how)
		return -EINVAL;
	lock_sock(sk);
	switch (sk->sk_state) {
	case TCP_LISTEN:
		if (how & RCV_SHUTDOWN) {
			/* as TCP: stop listening, wake accept() */
			sk->sk_shutdown |= how;
			sk->sk_state_change(sk);
		}
		break;
	case TCP_ESTABLISHED:
	case TCP_SYN_SENT:
		sk->sk_shutdown |= how;
		if ((how & SEND_SHUTDOWN) && !ns->fin_sent &&
		    sk->sk_state == TCP_ESTABLISHED && ns->peer) {
			ns->fin_sent = true;
			ntbs_tx_drain(ns);
			ntbs_ctrl_send(ns->peer, NTBS_MSG_FIN, ns);
		}
		sk->sk_state_change(sk);
		sk->sk_data_ready(sk);
		break;
	default:
		ret = -ENOTCONN;
		if (ns->peer)
			sk->sk_shutdown |= how;
		break;
	}
	release_sock(sk);
	return ret;
}

static int ntbs_setsockopt(struct socket *sock, int level, int optname,
			   sockptr_t optval, unsigned int optlen)
{
	struct ntbs_sock *ns = ntbs_sk(sock->sk);
	int val;

	if (level != SOL_TCP && level != SOL_IP)
		return -ENOPROTOOPT;
	if (optlen < sizeof(int))
		return -EINVAL;
	if (copy_from_sockptr(&val, optval, sizeof(val)))
		return -EFAULT;
	if (level == SOL_IP)
		return optname == IP_TOS ? 0 : -ENOPROTOOPT;
	switch (optname) {
	case TCP_NODELAY:
		ns->nodelay = !!val;
		return 0;
	case TCP_CORK:
		lock_sock(sock->sk);
		ns->cork = !!val;
		if (!val && ns->peer && ns->tx_slot >= 0) {
			down_read(&ns->peer->io_rwsem);
			if (ns->peer->state == NTBS_PEER_UP)
				ntbs_peer_ring(ns->peer);
			up_read(&ns->peer->io_rwsem);
		}
		release_sock(sock->sk);
		return 0;
	case TCP_QUICKACK:
	case TCP_KEEPIDLE:
	case TCP_KEEPINTVL:
	case TCP_KEEPCNT:
	case TCP_USER_TIMEOUT:
	case TCP_DEFER_ACCEPT:
		return 0;	/* accepted; nothing to do on an NTB link */
	default:
		return -ENOPROTOOPT;
	}
}

/*
 * TCP_INFO, for programs that report it (iperf3): the state, the ring sizes
 * as MSS, one ring as the congestion window (the sender may have one ring
 * of bytes unconsumed), no retransmissions (there are none).
 */
static int ntbs_get_tcp_info(struct ntbs_sock *ns, char __user *optval,
			     int __user *optlen, int len)
{
	struct tcp_info info = {};

	info.tcpi_state = READ_ONCE(ns->sk.sk_state);
	info.tcpi_snd_mss = READ_ONCE(ns->tx_size) ? : ntbs_ring_size;
	info.tcpi_rcv_mss = READ_ONCE(ns->rx_size) ? : ntbs_ring_size;
	info.tcpi_advmss = info.tcpi_rcv_mss;
	info.tcpi_snd_cwnd = 1;
	info.tcpi_rcv_ssthresh = info.tcpi_rcv_mss;
	info.tcpi_rcv_space = info.tcpi_rcv_mss;
	len = min_t(int, len, sizeof(info));
	if (put_user(len, optlen) || copy_to_user(optval, &info, len))
		return -EFAULT;
	return 0;
}

static int ntbs_getsockopt(struct socket *sock, int level, int optname,
			   char __user *optval, int __user *optlen)
{
	struct ntbs_sock *ns = ntbs_sk(sock->sk);
	int len, val;

	if (level != SOL_TCP)
		return -ENOPROTOOPT;
	if (get_user(len, optlen))
		return -EFAULT;
	if (len < 0)
		return -EINVAL;
	switch (optname) {
	case TCP_INFO:
		return ntbs_get_tcp_info(ns, optval, optlen, len);
	case TCP_NODELAY:
		val = ns->nodelay;
		break;
	case TCP_CORK:
		val = ns->cork;
		break;
	case TCP_MAXSEG:
		val = ns->tx_size ? ns->tx_size : ntbs_ring_size;
		break;
	default:
		return -ENOPROTOOPT;
	}
	len = min_t(int, len, sizeof(val));
	if (put_user(len, optlen) || copy_to_user(optval, &val, len))
		return -EFAULT;
	return 0;
}

static int ntbs_sendmsg(struct socket *sock, struct msghdr *msg, size_t len)
{
	struct sock *sk = sock->sk;
	int ret;

	if (msg->msg_flags & ~(MSG_DONTWAIT | MSG_NOSIGNAL | MSG_MORE |
			       MSG_EOR | MSG_CMSG_COMPAT | MSG_WAITALL))
		return -EOPNOTSUPP;
	lock_sock(sk);
	ret = ntbs_tx_sendmsg(sk, msg, len);
	release_sock(sk);
	return ret;
}

static int ntbs_recvmsg(struct socket *sock, struct msghdr *msg, size_t len,
			int flags)
{
	struct sock *sk = sock->sk;
	int ret;

	if (flags & ~(MSG_DONTWAIT | MSG_PEEK | MSG_WAITALL | MSG_TRUNC |
		      MSG_NOSIGNAL | MSG_CMSG_COMPAT | MSG_ERRQUEUE))
		return -EOPNOTSUPP;
	if (flags & MSG_ERRQUEUE)
		return -EAGAIN;
	lock_sock(sk);
	ret = ntbs_rx_recvmsg(sk, msg, len, flags);
	release_sock(sk);
	if (ret >= 0 && msg->msg_name) {
		DECLARE_SOCKADDR(struct sockaddr_in *, sin, msg->msg_name);

		memset(sin, 0, sizeof(*sin));
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = sk->sk_daddr;
		sin->sin_port = sk->sk_dport;
		msg->msg_namelen = sizeof(*sin);
	}
	return ret;
}

static ssize_t ntbs_sendpage(struct socket *sock, struct page *page,
			     int offset, size_t size, int flags)
{
	struct msghdr msg = { .msg_flags = flags };
	struct bio_vec bvec = {
		.bv_page = page, .bv_offset = offset, .bv_len = size,
	};
	struct sock *sk = sock->sk;
	int ret;

	if (flags & MSG_SENDPAGE_NOTLAST)
		msg.msg_flags |= MSG_MORE;
	msg.msg_flags &= MSG_DONTWAIT | MSG_NOSIGNAL | MSG_MORE;
	iov_iter_bvec(&msg.msg_iter, ITER_SOURCE, &bvec, 1, size);
	lock_sock(sk);
	ret = ntbs_tx_sendmsg(sk, &msg, size);
	release_sock(sk);
	return ret;
}

static const struct proto_ops ntbs_ops_template = {
	.family = 0,	/* the copy gets the family parameter */
	.owner = THIS_MODULE,
	.release = ntbs_release,
	.bind = ntbs_bind,
	.connect = ntbs_connect,
	.socketpair = sock_no_socketpair,
	.accept = ntbs_accept,
	.getname = ntbs_getname,
	.poll = ntbs_poll,
	.ioctl = ntbs_ioctl,
	.gettstamp = sock_gettstamp,
	.listen = ntbs_listen,
	.shutdown = ntbs_shutdown,
	.setsockopt = ntbs_setsockopt,
	.getsockopt = ntbs_getsockopt,
	.sendmsg = ntbs_sendmsg,
	.recvmsg = ntbs_recvmsg,
	.mmap = sock_no_mmap,
	.sendpage = ntbs_sendpage,
};

static struct net_proto_family ntbs_family_ops = {
	.create = ntbs_create,
	.owner = THIS_MODULE,
};

/*=============================================================================
 * 3. Module
 *=============================================================================
 */

static int __init ntbs_init(void)
{
	void *ops;
	int ret;

	if (ntbs_family <= 0 || ntbs_family >= NPROTO) {
		pr_err("af_ntb: family %d out of range 1..%d\n", ntbs_family,
		       NPROTO - 1);
		return -EINVAL;
	}
	if (!is_power_of_2(ntbs_ring_size)) {
		pr_err("af_ntb: ring_size %u is not a power of two\n",
		       ntbs_ring_size);
		return -EINVAL;
	}
	ops = kmemdup(&ntbs_ops_template, sizeof(ntbs_ops_template), GFP_KERNEL);
	if (!ops)
		return -ENOMEM;
	/* The family is the one field that differs from the template */
	BUILD_BUG_ON(sizeof(ntbs_ops_template.family) != sizeof(ntbs_family));
	memcpy(ops + offsetof(typeof(ntbs_ops_template), family), &ntbs_family,
	       sizeof(ntbs_family));
	ntbs_ops = ops;
	ntbs_family_ops.family = ntbs_family;

	ret = proto_register(&ntbs_proto, 0);
	if (ret)
		goto err_ops;
	ret = ntbs_proc_init();
	if (ret)
		goto err_proto;
	ret = sock_register(&ntbs_family_ops);
	if (ret) {
		pr_err("af_ntb: family %d is taken (%d)\n", ntbs_family, ret);
		goto err_proc;
	}
	ret = ntbs_dev_init();
	if (ret)
		goto err_sock;
	pr_info("af_ntb: family %d registered\n", ntbs_family);
	return 0;

err_sock:
	sock_unregister(ntbs_family);
err_proc:
	ntbs_proc_exit();
err_proto:
	proto_unregister(&ntbs_proto);
err_ops:
	kfree(ntbs_ops);
	return ret;
}

static void __exit ntbs_exit(void)
{
	/* No socket is left: each holds a module reference */
	sock_unregister(ntbs_family);
	ntbs_dev_exit();
	ntbs_proc_exit();
	proto_unregister(&ntbs_proto);
	kfree(ntbs_ops);
}

module_init(ntbs_init);
module_exit(ntbs_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Stream sockets over PCIe NTB (ntblab)");
MODULE_AUTHOR("ntblab");
