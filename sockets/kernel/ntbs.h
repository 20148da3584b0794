/* SPDX-License-Identifier: GPL-2.0 */
/*
 * af_ntb: a stream socket family carried over PCIe NTB.
 *
 * ntbs_af.c    family, proto_ops ("must look like TCP")
 * ntbs_ctrl.c  connection handshake and control messages
 * ntbs_tx.c    send path: copies into the peer's rings (CPU or dmaengine)
 * ntbs_rx.c    receive path: local rings, credits
 * ntbs_ring.c  ring and credit primitives: indices, copies, doorbell
 * ntbs_dev.c   NTB client: devices, peers, sessions, doorbells
 * ntbs_proc.c  /proc/net/af_ntb: the address table
 */
#ifndef NTBS_H
#define NTBS_H

#include <linux/dmaengine.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/ntb.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <net/sock.h>

#include "ntbs_wire.h"

/* Module parameters used in more than one file */
extern int ntbs_family;			/* ntbs_af.c */
extern unsigned int ntbs_ring_size;	/* ntbs_dev.c */
extern unsigned int ntbs_poll_us;	/* ntbs_ring.c */

/* Session state of one peer */
enum ntbs_peer_state {
	NTBS_PEER_DOWN,		/* link down or peer not ready */
	NTBS_PEER_HELLO,	/* our buffer is ready, waiting for the peer */
	NTBS_PEER_UP,		/* both sides ready: connections allowed */
	NTBS_PEER_DEAD,		/* device removed */
};

struct ntbs_dev;
struct ntbs_sock;

/**
 * struct ntbs_peer - one NTB peer of one device, and the session with it
 * @kref:	sockets and the device hold references
 * @ndev:	device (valid while the state is not DEAD)
 * @pidx:	peer index on @ndev
 * @port:	peer's port number
 * @db_bit:	doorbell bit the peer rings for us (its port number)
 * @lock:	protects @state, @slots, @ctrl_queue and the counters below
 * @io_rwsem:	readers touch the buffers or windows; the writer tears down
 * @state:	enum ntbs_peer_state
 * @peer_epoch:	peer's epoch read from its scratchpads
 * @seq:	our session sequence number (incremented on every reset)
 * @peer_seq:	peer's session sequence recorded when the session came up
 * @in_buf:	inbound buffer (peer writes it)
 * @in_dma:	its bus address
 * @in_size:	its size
 * @alloc_buf:	allocation that holds @in_buf
 * @alloc_dma:	its bus address
 * @alloc_size:	its size
 * @lay:	our receive rings in @in_buf
 * @out:	outbound window (write-combining) to the peer's buffer
 * @out_phys:	its physical address
 * @out_dma:	its address for the DMA channel (0: none)
 * @out_size:	bytes mapped
 * @p_lay:	the peer's rings (in its buffer for us)
 * @slots:	owner of each of our receive slots
 * @slot_busy:	slot allocated (owner may be gone while the peer drains)
 * @ctrl_queue:	control messages waiting for room in the peer's ring
 * @ctrl_sent:	messages written into the peer's ring
 * @ctrl_rcvd:	messages consumed from our ring
 * @ctrl_rung:	@ctrl_rcvd when we last rang for control credit
 * @tx_bytes:	stream bytes written into the peer's rings (all sessions)
 * @rx_bytes:	stream bytes consumed from our rings (all sessions)
 * @work:	doorbell / poll processing
 * @list:	in ntbs_dev.peers
 * @name:	"device:pidx"
 */
struct ntbs_peer {
	struct kref kref;
	struct ntbs_dev *ndev;
	int pidx;
	int port;
	int db_bit;
	spinlock_t lock;		/* state, slots, control queue */
	struct rw_semaphore io_rwsem;
	enum ntbs_peer_state state;
	u32 peer_epoch;
	u32 seq;
	u32 peer_seq;

	void *in_buf;
	dma_addr_t in_dma;
	size_t in_size;
	void *alloc_buf;
	dma_addr_t alloc_dma;
	size_t alloc_size;
	struct ntbs_layout lay;

	void __iomem *out;
	phys_addr_t out_phys;
	dma_addr_t out_dma;
	size_t out_size;
	struct ntbs_layout p_lay;

	struct ntbs_sock *slots[NTBS_MAX_SLOTS];
	unsigned long slot_busy[BITS_TO_LONGS(NTBS_MAX_SLOTS)];

	struct list_head ctrl_queue;
	u32 ctrl_sent;
	u32 ctrl_rcvd;
	u32 ctrl_rung;
	atomic64_t tx_bytes;
	atomic64_t rx_bytes;

	struct work_struct work;
	unsigned long flags;		/* NTBS_PEER_F_* */
	unsigned int ticks;		/* full checks so far */
	struct list_head list;
	char name[48];
};

/* ntbs_peer.flags: the next work run checks link and scratchpads */
#define NTBS_PEER_F_TICK	0

/**
 * struct ntbs_dev - our context on one NTB device
 * @ntb:	the device
 * @port:	our port number
 * @db_out:	doorbell bit we ring on peers (our port number)
 * @epoch:	our epoch (scratchpad NTBS_SPAD_EPOCH)
 * @npeers:	number of peers
 * @peers:	peer contexts
 * @dma:	memcpy channel, or NULL
 * @poll_work:	periodic link / session check
 * @stopping:	remove in progress
 * @list:	in the global device list
 */
struct ntbs_dev {
	struct ntb_dev *ntb;
	int port;
	int db_out;
	u32 epoch;
	int npeers;
	struct ntbs_peer **peers;
	struct dma_chan *dma;
	struct delayed_work poll_work;
	bool stopping;
	struct list_head list;
};

/**
 * struct ntbs_txdma - a send left to the DMA engine
 * @chan:	the channel it was submitted on
 * @cookie:	cookie of its last descriptor (the producer index)
 * @src:	bus address of the bounce buffer's data
 * @cell:	bus address of the producer index value
 * @off:	ring offset of the data
 * @len:	bytes
 * @end:	producer index once it has landed
 * @buf:	which bounce buffer holds the data
 * @busy:	submitted and not yet finished
 */
struct ntbs_txdma {
	struct dma_chan *chan;
	dma_cookie_t cookie;
	dma_addr_t src;
	dma_addr_t cell;
	u32 off;
	u32 len;
	u32 end;
	u8 buf;
	bool busy;
};

/**
 * struct ntbs_sock - an af_ntb socket
 * @sk:		must be first
 * @peer:	peer of the connection (a reference), or NULL
 * @rx_slot:	our receive slot, or -1
 * @tx_slot:	peer's receive slot
 * @rx_size:	bytes of our ring
 * @tx_size:	bytes of the peer's ring
 * @tx_prod:	bytes written into the peer's ring
 * @tx_pushed:	@tx_prod as last published to the peer
 * @rx_cons:	bytes consumed from our ring
 * @rx_credit:	@rx_cons as last written back to the peer
 * @rx_rung:	@rx_cons when we last rang for credit
 * @rx_final:	producer index frozen when the session went away
 * @rx_frozen:	@rx_final is valid
 * @peer_gone:	peer sent CLOSE or RESET: it writes no more into our ring
 * @term_sent:	we sent CLOSE or RESET: we write no more into its ring
 * @fin_sent:	we sent FIN (or CLOSE)
 * @bound:	in the bind table
 * @reuse:	SO_REUSEADDR at bind time
 * @nodelay:	TCP_NODELAY (accepted, no effect: there is no Nagle)
 * @cork:	TCP_CORK (doorbell deferred like MSG_MORE)
 * @bind_node:	in the bind table
 * @acceptq:	listener: children not yet accepted
 * @accept_node: child: in the parent's @acceptq
 * @parent:	child: the listener, while queued
 * @txbuf:	two bounce buffers for sends, NTBS_TXBUF bytes each
 * @txcell:	producer index values the DMA engine writes, one per buffer
 * @txq:	a send the DMA engine has not finished, see ntbs_tx.c
 */
struct ntbs_sock {
	struct sock sk;
	struct ntbs_peer *peer;
	int rx_slot;
	int tx_slot;
	u32 rx_size;
	u32 tx_size;
	u32 tx_prod;
	u32 tx_pushed;
	u32 rx_cons;
	u32 rx_credit;
	u32 rx_rung;
	u32 rx_final;
	bool rx_frozen;
	bool peer_gone;
	bool term_sent;
	bool fin_sent;
	bool bound;
	bool reuse;
	bool nodelay;
	bool cork;
	int quiet;
	struct hlist_node bind_node;
	struct list_head acceptq;
	struct list_head accept_node;
	struct sock *parent;
	void *txbuf;
	__le32 *txcell;
	struct ntbs_txdma txq;
};

static inline struct ntbs_sock *ntbs_sk(const struct sock *sk)
{
	return (struct ntbs_sock *)sk;
}

/* A 32-bit cell at @off in our inbound buffer (the peer writes it) */
static inline __le32 *ntbs_in32(struct ntbs_peer *peer, size_t off)
{
	return (__le32 *)((u8 *)peer->in_buf + off);
}

#define NTBS_TXBUF	(64 * 1024)

/* ntbs_af.c */
struct sock *ntbs_sock_alloc(struct net *net, struct socket *sock, gfp_t gfp,
			     int kern);
void ntbs_sock_reset(struct sock *sk, int err);
struct sock *ntbs_lookup_listener(__be32 addr, __be16 port);

/* ntbs_dev.c */
int ntbs_dev_init(void);
void ntbs_dev_exit(void);
struct ntbs_peer *ntbs_peer_find(const char *dev, int port);
void ntbs_peer_put(struct ntbs_peer *peer);
int ntbs_slot_alloc(struct ntbs_peer *peer, struct ntbs_sock *ns);
void ntbs_slot_release(struct ntbs_sock *ns);
void ntbs_peer_reset(struct ntbs_peer *peer);
void ntbs_dev_show(struct seq_file *m);

/* ntbs_ring.c */
u32 ntbs_ring_prod(struct ntbs_sock *ns);
u32 ntbs_ring_cons(struct ntbs_sock *ns);
bool ntbs_ring_quiet(struct ntbs_sock *ns);
void ntbs_copy_toio(void __iomem *dst, const void *src, size_t n);
void __iomem *ntbs_out_ring(struct ntbs_sock *ns);
void ntbs_peer_ring(struct ntbs_peer *peer);

/* ntbs_ctrl.c */
int ntbs_ctrl_send(struct ntbs_peer *peer, u8 type, struct ntbs_sock *ns);
void ntbs_ctrl_flush(struct ntbs_peer *peer);
void ntbs_ctrl_process(struct ntbs_peer *peer);
void ntbs_ctrl_purge(struct ntbs_peer *peer);
int ntbs_connect_start(struct ntbs_sock *ns, struct ntbs_peer *peer);
void ntbs_send_term(struct ntbs_sock *ns, bool reset);

/* ntbs_tx.c */
int ntbs_tx_sendmsg(struct sock *sk, struct msghdr *msg, size_t len);
u32 ntbs_tx_space(struct ntbs_sock *ns);
u32 ntbs_tx_unacked(struct ntbs_sock *ns);
void __ntbs_tx_drain(struct ntbs_sock *ns, bool publish);
void ntbs_tx_drain(struct ntbs_sock *ns);
void ntbs_tx_free(struct ntbs_sock *ns);

/* ntbs_rx.c */
int ntbs_rx_recvmsg(struct sock *sk, struct msghdr *msg, size_t len,
		    int flags);
u32 ntbs_rx_avail(struct ntbs_sock *ns);
void ntbs_rx_quiet(struct ntbs_sock *ns, bool on);
void ntbs_rx_credit(struct ntbs_sock *ns, bool flush);

/* ntbs_proc.c */
int ntbs_proc_init(void);
void ntbs_proc_exit(void);
int ntbs_route(__be32 addr, struct ntbs_peer **peer);
__be32 ntbs_self_addr(void);

#endif /* NTBS_H */
