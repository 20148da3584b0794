/*
 * ntblab: a node's PCI functions of the modelled PEX87xx switch, as QEMU
 * devices. Each device is one function, a thin front end on a node link to
 * the switch process (ntblab-switch), which owns the function's config
 * space, registers, translation and timing (docs/guest-and-qemu.md, Decisions, 4):
 *
 *   pex8749-nt   the NT port's virtual interface (10b5:87b0)
 *   pex8749-dma  the switch's DMA function (10b5:87d0), for plx_dma
 *
 * The protocol is protocol/include/ntblab/node_link.h (the build copies it to
 * hw/misc/ntblab/node_link.h, so this file includes it by the name the switch
 * process does), described in docs/node-link-protocol.md. In short: HELLO
 * shares the guest's RAM (the machine's memory backend, memfd or file with
 * share=on) so the switch writes guest memory directly; config space from 0x40
 * and every BAR access go to the switch; BAR reads wait for their completion,
 * BAR writes are posted and contiguous ones are coalesced; INTx follows the
 * switch's IRQ messages. If the switch goes away, the link is dead: INTx is
 * lowered, Link Status reads 0 and BAR reads return all ones, so the guest
 * sees a surprise link-down instead of hanging.
 *
 * Put each function behind a pcie-root-port on q35 (on pcie.0 it would be a
 * root-complex integrated endpoint, for which Linux reports no link):
 *
 *   -device pcie-root-port,id=rp0,bus=pcie.0,chassis=1,slot=0
 *   -device pex8749-nt,bus=rp0,socket=/run/ntblab/node0.nt.sock,node=node0
 *
 * Layout after hw/misc/edu.c: type, state, interrupts, link, MMIO, config,
 * realize, class_init.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include "qemu/units.h"
#include "qemu/cutils.h"
#include "qemu/log.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/module.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "hw/boards.h"
#include "hw/i386/x86.h"
#include "hw/pci/pci.h"
#include "hw/pci/pcie.h"
#include "hw/qdev-properties.h"
#include "hw/core/cpu.h"
#include "sysemu/cpu-timers.h"
#include "sysemu/runstate.h"
#include "exec/memory.h"
#include "qom/object.h"
#include "ntblab/node_link.h"

/* ---- type ------------------------------------------------------------ */

#define TYPE_PEX87XX_FN "pex87xx-function"
#define TYPE_PEX8749_NT "pex8749-nt"
#define TYPE_PEX8749_DMA "pex8749-dma"
OBJECT_DECLARE_TYPE(Pex87xxState, Pex87xxClass, PEX87XX_FN)

#define PEX_STD_CONFIG 0x40          /* QEMU keeps the header below this */
#define PEX_READ_TIMEOUT_MS 10000    /* a switch that does not answer is dead */
#define PEX_RX_BUF (2 * (sizeof(struct nl_hdr) + NL_MAX_BODY))
/*
 * Posted writes wait at most this long (host time) to be coalesced. One timer
 * per burst, not a bottom half per store: each wake-up of the main loop costs a
 * context switch and a BQL hand-over, which on a small host dominated the cost
 * of every MMIO store.
 */
#define PEX_FLUSH_NS (20 * SCALE_US)

struct Pex87xxClass {
    PCIDeviceClass parent_class;
    uint32_t function;               /* NL_FN_* */
};

typedef struct Pex87xxBar {
    struct Pex87xxState *s;
    unsigned index;
    MemoryRegion mr;
} Pex87xxBar;

/*
 * Modelled time (WELCOME flag NL_WF_SYNC; docs/modelled-time.md). All the
 * functions of a node live in one QEMU, so the node's clock is shared: the NT
 * function owns it (NL_WF_CLOCK) and parks the guest at each grant; every
 * function numbers its messages in one sequence (node_seq), and every wait
 * (a park, a read, a register write) reads all of the node's links.
 */
typedef struct Pex87xxNode {
    struct Pex87xxState *fn[2];      /* by NL_FN_*, while synchronized */
    struct Pex87xxState *clock;      /* the function that parks the guest */
    bool started;                    /* the first PARK went out */
    uint32_t node_seq;
    bool granted;                    /* a GRANT arrived, not acted upon yet */
    struct nl_grant grant;
} Pex87xxNode;

static Pex87xxNode pex_node;

struct Pex87xxState {
    PCIDevice parent_obj;

    /* properties */
    char *socket_path;
    char *node;

    /* the link */
    int fd;
    bool dead;
    uint32_t tx_seq, rx_seq, next_tag;
    uint8_t rx[PEX_RX_BUF];
    size_t rx_len;

    /* coalesced posted writes, flushed before any other request or by the timer */
    uint32_t wr_bar;
    uint64_t wr_off;
    uint32_t wr_len;
    uint32_t last_bar;               /* where the previous write ended */
    uint64_t last_end;
    uint8_t wr_data[NL_MAX_WRITE];
    uint64_t wr_time;                /* guest time of the first buffered write */
    QEMUTimer *flush_timer;

    /* modelled time */
    bool sync;                       /* the link is synchronized */
    QEMUTimer *park_timer;           /* clock owner: QEMU_CLOCK_VIRTUAL, at the grant */
    bool done;                       /* the COMPLETION waited for has arrived */
    uint64_t done_time;
    struct nl_completion done_c;

    Pex87xxBar bar[NL_NUM_BARS];
    uint8_t cfg_cache[NL_CFG_SPACE]; /* served after the link is dead */
    uint32_t pcie_cap;               /* offset of the PCIe capability, 0 if none */
};

/* ---- interrupts ---------------------------------------------------------- */

/* INTx level as the switch says; a function without an interrupt pin has none. */
static void pex_set_intx(Pex87xxState *s, bool level)
{
    PCIDevice *pdev = PCI_DEVICE(s);

    if (pdev->config[PCI_INTERRUPT_PIN]) {
        pci_set_irq(pdev, level);
    } else if (level) {
        qemu_log_mask(LOG_GUEST_ERROR, "%s %s: interrupt without a pin\n",
                      object_get_typename(OBJECT(s)), s->node);
    }
}

/* ---- link ------------------------------------------------------------ */

static void pex_link_dead(Pex87xxState *s, const char *why)
{
    if (s->dead) {
        return;
    }
    error_report("%s %s: switch link down: %s",
                 object_get_typename(OBJECT(s)), s->node, why);
    s->dead = true;
    if (s->fd >= 0) {
        qemu_set_fd_handler(s->fd, NULL, NULL, NULL);
        close(s->fd);
        s->fd = -1;
    }
    s->wr_len = 0;
    pex_set_intx(s, false);
    if (s->sync) {
        /* A node with a dead link cannot keep time with the others. */
        unsigned f;

        for (f = 0; f < ARRAY_SIZE(pex_node.fn); f++) {
            if (pex_node.fn[f]) {
                pex_node.fn[f]->sync = false;
            }
        }
        if (pex_node.clock && pex_node.clock->park_timer) {
            timer_del(pex_node.clock->park_timer);
        }
    }
    if (s->pcie_cap) {   /* Link Status: no width, no speed */
        memset(s->cfg_cache + s->pcie_cap + PCI_EXP_LNKSTA, 0, 2);
    }
}

static bool pex_send_at(Pex87xxState *s, uint16_t type, uint16_t flags,
                        uint64_t time, const void *body, uint32_t len,
                        const int *fds, unsigned nfds)
{
    struct nl_hdr h = {
        .type = type, .flags = flags, .len = len, .seq = s->tx_seq++,
        .time_ns = time,
        .node_seq = s->sync && pex_node.started ? ++pex_node.node_seq : 0,
    };
    struct iovec iov[2] = {
        { .iov_base = &h, .iov_len = sizeof(h) },
        { .iov_base = (void *)body, .iov_len = len },
    };
    union {
        char buf[CMSG_SPACE(sizeof(int) * NL_MAX_RAM_REGIONS)];
        struct cmsghdr align;
    } ctrl;
    struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
    size_t total = sizeof(h) + len, sent = 0;

    if (s->dead) {
        return false;
    }
    if (nfds) {
        struct cmsghdr *cm;

        mh.msg_control = ctrl.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
    }
    while (sent < total) {
        ssize_t r = sendmsg(s->fd, &mh, MSG_NOSIGNAL);

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            pex_link_dead(s, strerror(errno));
            return false;
        }
        sent += r;
        mh.msg_control = NULL;   /* fds go with the first byte only */
        mh.msg_controllen = 0;
        while (r > 0 && mh.msg_iovlen) {
            size_t n = MIN((size_t)r, mh.msg_iov[0].iov_len);

            mh.msg_iov[0].iov_base = (char *)mh.msg_iov[0].iov_base + n;
            mh.msg_iov[0].iov_len -= n;
            r -= n;
            if (!mh.msg_iov[0].iov_len) {
                mh.msg_iov++;
                mh.msg_iovlen--;
            }
        }
    }
    return true;
}

static bool pex_send(Pex87xxState *s, uint16_t type, const void *body,
                     uint32_t len, const int *fds, unsigned nfds)
{
    return pex_send_at(s, type, 0, qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL),
                       body, len, fds, nfds);
}

static void pex_flush(Pex87xxState *s)
{
    struct {
        struct nl_mmio_write w;
        uint8_t data[NL_MAX_WRITE];
    } QEMU_PACKED m;

    if (!s->wr_len || s->dead) {
        s->wr_len = 0;
        return;
    }
    m.w.bar = s->wr_bar;
    m.w.size = s->wr_len;
    m.w.offset = s->wr_off;
    memcpy(m.data, s->wr_data, s->wr_len);
    s->wr_len = 0;
    pex_send_at(s, NL_MMIO_WRITE, 0, s->wr_time, &m, sizeof(m.w) + m.w.size,
                NULL, 0);
}

static void pex_flush_timer(void *opaque)
{
    pex_flush(opaque);
}

/* Read what the socket has; wait up to timeout_ms for the first byte. */
static bool pex_fill(Pex87xxState *s, int timeout_ms)
{
    struct pollfd p = { .fd = s->fd, .events = POLLIN };
    ssize_t r;

    if (s->dead) {
        return false;
    }
    if (timeout_ms && poll(&p, 1, timeout_ms) == 0) {
        pex_link_dead(s, "the switch did not answer in time");
        return false;
    }
    r = recv(s->fd, s->rx + s->rx_len, sizeof(s->rx) - s->rx_len,
             MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
        return true;
    }
    if (r <= 0) {
        pex_link_dead(s, r ? strerror(errno) : "the switch closed the link");
        return false;
    }
    s->rx_len += r;
    return true;
}

/* The body size each message from the switch must have. */
static bool pex_body_ok(uint16_t type, uint32_t len)
{
    switch (type) {
    case NL_WELCOME:
        return len == sizeof(struct nl_welcome);
    case NL_REJECT:
        return len == sizeof(struct nl_reject);
    case NL_COMPLETION:
        return len == sizeof(struct nl_completion);
    case NL_IRQ:
        return len == sizeof(struct nl_irq);
    case NL_GRANT:
        return len == sizeof(struct nl_grant);
    case NL_BYE:
        return len == 0;
    }
    return false;
}

/* Take one whole message out of the receive buffer, checked. */
static bool pex_take(Pex87xxState *s, struct nl_hdr *h, void *body)
{
    if (s->rx_len < sizeof(*h)) {
        return false;
    }
    memcpy(h, s->rx, sizeof(*h));
    if (h->len > NL_MAX_BODY || h->seq != s->rx_seq ||
        !pex_body_ok(h->type, h->len)) {
        char why[96];

        snprintf(why, sizeof(why), "malformed message (type %u, %u bytes, "
                 "seq %u, expected %u)", h->type, h->len, h->seq, s->rx_seq);
        pex_link_dead(s, why);
        return false;
    }
    if (s->rx_len < sizeof(*h) + h->len) {
        return false;
    }
    memcpy(body, s->rx + sizeof(*h), h->len);
    s->rx_len -= sizeof(*h) + h->len;
    memmove(s->rx, s->rx + sizeof(*h) + h->len, s->rx_len);
    s->rx_seq++;
    return true;
}

/* Apply a message that needs no waiter; false if it was not one. */
static bool pex_handle_async(Pex87xxState *s, const struct nl_hdr *h,
                             const void *body)
{
    if (h->type == NL_IRQ) {
        const struct nl_irq *irq = body;

        pex_set_intx(s, irq->level != 0);
        return true;
    }
    if (h->type == NL_BYE) {
        pex_link_dead(s, "the switch said goodbye");
        return true;
    }
    return false;
}

/* Main loop: interrupts arrive while no read is waiting. */
static void pex_link_readable(void *opaque)
{
    Pex87xxState *s = opaque;
    struct nl_hdr h;
    uint8_t body[NL_MAX_BODY];

    if (!pex_fill(s, 0)) {
        return;
    }
    while (!s->dead && pex_take(s, &h, body)) {
        if (!pex_handle_async(s, &h, body)) {
            pex_link_dead(s, "unexpected message from the switch");
        }
    }
}

/* Wait for the message of `type` (and `tag` for completions). */
static bool pex_wait(Pex87xxState *s, uint16_t type, uint32_t tag, void *out)
{
    struct nl_hdr h;
    uint8_t body[NL_MAX_BODY];

    while (!s->dead) {
        while (!s->dead && pex_take(s, &h, body)) {
            if (pex_handle_async(s, &h, body)) {
                continue;
            }
            if (h.type == type && (type != NL_COMPLETION ||
                ((struct nl_completion *)body)->tag == tag)) {
                memcpy(out, body, h.len);
                return true;
            }
            if (h.type == NL_REJECT) {
                ((struct nl_reject *)body)->reason[127] = 0;
                pex_link_dead(s, ((struct nl_reject *)body)->reason);
                return false;
            }
            pex_link_dead(s, "out-of-order message from the switch");
            return false;
        }
        if (!pex_fill(s, PEX_READ_TIMEOUT_MS)) {
            return false;
        }
    }
    return false;
}

/* ---- modelled time ------------------------------------------------------ */

/*
 * Take every whole message the switch has sent on any of the node's links and
 * apply it: interrupts at once (the node is stopped at a time no earlier than
 * theirs), completions and grants kept for their waiter. With `block`, first
 * wait until some link has data. False if a link died.
 */
static bool pex_sync_pump(bool block)
{
    struct pollfd p[ARRAY_SIZE(pex_node.fn)];
    Pex87xxState *who[ARRAY_SIZE(pex_node.fn)];
    unsigned n = 0, f, i;

    for (f = 0; f < ARRAY_SIZE(pex_node.fn); f++) {
        Pex87xxState *s = pex_node.fn[f];

        if (s && s->sync && !s->dead) {
            p[n] = (struct pollfd) { .fd = s->fd, .events = POLLIN };
            who[n++] = s;
        }
    }
    if (!n || (block && poll(p, n, -1) < 0 && errno != EINTR)) {
        return false;
    }
    for (i = 0; i < n; i++) {
        Pex87xxState *s = who[i];
        struct nl_hdr h;
        uint8_t body[NL_MAX_BODY];

        if (!block || (p[i].revents & (POLLIN | POLLHUP | POLLERR))) {
            if (!pex_fill(s, 0)) {
                return false;
            }
        }
        while (!s->dead && pex_take(s, &h, body)) {
            if (pex_handle_async(s, &h, body)) {
                continue;
            }
            if (h.type == NL_COMPLETION && !s->done) {
                memcpy(&s->done_c, body, sizeof(s->done_c));
                s->done_time = h.time_ns;
                s->done = true;
            } else if (h.type == NL_GRANT && s == pex_node.clock &&
                       !pex_node.granted) {
                memcpy(&pex_node.grant, body, sizeof(pex_node.grant));
                pex_node.granted = true;
            } else {
                pex_link_dead(s, "unexpected message on a synchronized link");
            }
        }
        if (s->dead) {
            return false;
        }
    }
    return true;
}

/*
 * Wait for the switch's next GRANT and for every message it sent before it on
 * the node's other links, then let the guest run up to the grant.
 */
static bool pex_sync_wait_grant(void)
{
    Pex87xxState *c = pex_node.clock;
    unsigned f;

    for (;;) {
        bool all = pex_node.granted;

        for (f = 0; all && f < ARRAY_SIZE(pex_node.fn); f++) {
            Pex87xxState *s = pex_node.fn[f];

            if (s && s->rx_seq < pex_node.grant.sent[f]) {
                all = false;
            }
        }
        if (all) {
            break;
        }
        if (!pex_sync_pump(true)) {
            return false;
        }
    }
    pex_node.granted = false;
    timer_mod(c->park_timer, pex_node.grant.until);
    return true;
}

/*
 * The guest reached its grant (or stopped at the start): flush what it wrote,
 * tell the switch where it is and whether it sleeps, wait for the next grant.
 * Runs in the thread that runs virtual timers, with the BQL held: the guest
 * does not run meanwhile, so the switch may write its RAM.
 */
static void pex_park_timer(void *opaque)
{
    Pex87xxState *c = opaque;
    uint64_t now = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
    struct nl_park park = { .idle_until = now };
    CPUState *cpu = first_cpu;
    unsigned f;

    if (!c->sync || (pex_node.started && !runstate_is_running())) {
        return;   /* not synchronized, or the VM is stopping: it leaves */
    }
    if (pex_node.started && now != pex_node.grant.until) {
        error_report("%s: parked at %" PRIu64 " ns, not at its grant %" PRIu64
                     " ns (halted %d)", c->node, now, pex_node.grant.until,
                     cpu ? cpu->halted : -1);
    }
    for (f = 0; f < ARRAY_SIZE(pex_node.fn); f++) {
        if (pex_node.fn[f]) {
            pex_flush(pex_node.fn[f]);
        }
    }
    if (cpu && cpu->halted && !cpu_has_work(cpu)) {
        int64_t d = qemu_clock_deadline_ns_all(QEMU_CLOCK_VIRTUAL,
                                               QEMU_TIMER_ATTR_ALL);

        park.idle_until = d < 0 ? UINT64_MAX : now + d;
    }
    /*
     * While we wait, this timer stays armed at `now`: a vCPU budget or an
     * idle warp computed meanwhile (another thread may run them) cannot take
     * the guest past this point.
     */
    timer_mod(c->park_timer, now);
    pex_node.started = true;
    if (!pex_send_at(c, NL_PARK, 0, now, &park, sizeof(park), NULL, 0) ||
        !pex_sync_wait_grant()) {
        timer_del(c->park_timer);
    }
}

/*
 * A non-posted request on a synchronized link: the guest stops at its time t
 * until the switch completes it at modelled time c >= t; the guest's clock then
 * reads c. Interrupts that fall in between are applied on the way.
 */
static bool pex_sync_request(Pex87xxState *s, uint16_t type, uint16_t flags,
                             void *req, uint32_t len, uint32_t tag,
                             struct nl_completion *out)
{
    uint64_t t = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
    uint64_t c;

    s->done = false;
    if (!pex_send_at(s, type, flags, t, req, len, NULL, 0)) {
        return false;
    }
    while (!s->done) {
        if (!pex_sync_pump(true)) {
            return false;
        }
    }
    c = s->done_time;
    *out = s->done_c;
    if (out->tag != tag) {
        pex_link_dead(s, "completion for another request");
        return false;
    }
    if (!pex_sync_wait_grant()) {
        return false;
    }
    if (c > pex_node.grant.until) {
        error_report("%s: completion at %" PRIu64 " ns beyond the grant %"
                     PRIu64 " ns", s->node, c, pex_node.grant.until);
    }
    if (c > t) {
        icount_advance_ns(c - t);
    }
    /*
     * The vCPU's instruction budget was set for the grant it had; the new
     * grant may end sooner. Leave the execution loop after this instruction
     * (an I/O instruction ends its translation block under icount), so the
     * budget is taken afresh from the park timer.
     */
    if (current_cpu) {
        cpu_exit(current_cpu);
    }
    return true;
}

/* A non-posted request: flush posted writes, send, wait for the completion. */
static bool pex_request(Pex87xxState *s, uint16_t type, void *req,
                        uint32_t len, uint32_t *tag, uint64_t *data)
{
    struct nl_completion c;

    pex_flush(s);
    *tag = s->next_tag++;
    if (s->sync && pex_node.started) {
        if (!pex_sync_request(s, type, 0, req, len, *tag, &c)) {
            return false;
        }
    } else if (!pex_send(s, type, req, len, NULL, 0) ||
               !pex_wait(s, NL_COMPLETION, *tag, &c)) {
        return false;
    }
    *data = c.data;
    return c.status == NL_STATUS_OK;
}

/*
 * A write that the switch must apply before the guest goes on (registers,
 * config space) on a synchronized link: it may act on this node at once, e.g.
 * lower its interrupt.
 */
static void pex_sync_write(Pex87xxState *s, uint16_t type, void *req,
                           uint32_t len)
{
    struct nl_completion c;

    pex_sync_request(s, type, NL_HF_NONPOSTED, req, len, NL_WRITE_TAG, &c);
}

/* ---- MMIO -------------------------------------------------------------- */

static uint64_t pex_bar_read(void *opaque, hwaddr addr, unsigned size)
{
    Pex87xxBar *b = opaque;
    Pex87xxState *s = b->s;
    struct nl_mmio_read r = { .bar = b->index, .offset = addr, .size = size };
    uint64_t data = UINT64_MAX;

    if (!pex_request(s, NL_MMIO_READ, &r, sizeof(r), &r.tag, &data)) {
        data = UINT64_MAX;   /* unsupported request or link down */
    }
    return size == 8 ? data : data & MAKE_64BIT_MASK(0, size * 8);
}

static void pex_bar_write(void *opaque, hwaddr addr, uint64_t val,
                          unsigned size)
{
    Pex87xxBar *b = opaque;
    Pex87xxState *s = b->s;

    if (s->dead) {
        return;
    }
    bool continues = s->last_bar == b->index && s->last_end == addr;

    s->last_bar = b->index;
    s->last_end = addr + size;
    if (s->wr_len && (!continues || s->wr_len + size > NL_MAX_WRITE)) {
        pex_flush(s);
    }
    if (s->sync && pex_node.started && b->index == 0) {
        struct {
            struct nl_mmio_write w;
            uint64_t data;
        } QEMU_PACKED m = {
            .w = { .bar = 0, .size = size, .offset = addr },
        };

        pex_flush(s);
        stn_le_p(&m.data, size, val);
        pex_sync_write(s, NL_MMIO_WRITE, &m, sizeof(m.w) + size);
        return;
    }
    if (!s->wr_len) {
        s->wr_bar = b->index;
        s->wr_off = addr;
        s->wr_time = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
    }
    stn_le_p(s->wr_data + s->wr_len, size, val);   /* exactly `size` bytes */
    s->wr_len += size;
    if (b->index == 0 || s->wr_len == NL_MAX_WRITE || (size <= 4 && !continues)) {
        /*
         * At once: registers, full buffers, and a lone small write (a doorbell
         * or a flag reached through a window) that continues nothing.
         */
        pex_flush(s);
    } else if (s->sync) {
        /* flushed at the next park, read or non-contiguous write */
    } else if (!timer_pending(s->flush_timer)) {
        timer_mod(s->flush_timer,
                  qemu_clock_get_ns(QEMU_CLOCK_REALTIME) + PEX_FLUSH_NS);
    }
}

static const MemoryRegionOps pex_bar_ops = {
    .read = pex_bar_read,
    .write = pex_bar_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 8 },
    .impl = { .min_access_size = 1, .max_access_size = 8 },
};

/* ---- config space ------------------------------------------------------- */

static uint32_t pex_config_read(PCIDevice *pdev, uint32_t addr, int len)
{
    Pex87xxState *s = PEX87XX_FN(pdev);
    struct nl_cfg_read r = { .offset = addr, .size = len };
    uint64_t data;

    if (addr < PEX_STD_CONFIG) {
        return pci_default_read_config(pdev, addr, len);
    }
    if (!s->dead && pex_request(s, NL_CFG_READ, &r, sizeof(r), &r.tag,
                                &data)) {
        return (uint32_t)data;
    }
    data = 0;
    memcpy(&data, s->cfg_cache + addr, MIN(len, 4));
    return le32_to_cpu((uint32_t)data);
}

static void pex_config_write(PCIDevice *pdev, uint32_t addr, uint32_t val,
                             int len)
{
    Pex87xxState *s = PEX87XX_FN(pdev);
    struct nl_cfg_write w = { .offset = addr, .size = len, .value = val };

    pci_default_write_config(pdev, addr, val, len);
    pex_flush(s);
    if (s->sync && pex_node.started) {
        pex_sync_write(s, NL_CFG_WRITE, &w, sizeof(w));
        return;
    }
    pex_send(s, NL_CFG_WRITE, &w, sizeof(w), NULL, 0);
}

/* ---- realize ------------------------------------------------------------ */

static bool pex_connect(Pex87xxState *s, Error **errp)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    if (!s->socket_path || !s->node) {
        error_setg(errp, "properties 'socket' and 'node' are required");
        return false;
    }
    if (strlen(s->socket_path) >= sizeof(sa.sun_path) ||
        strlen(s->node) >= NL_NAME_LEN) {
        error_setg(errp, "'socket' or 'node' is too long");
        return false;
    }
    strcpy(sa.sun_path, s->socket_path);
    s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->fd < 0 || connect(s->fd, (struct sockaddr *)&sa, sizeof(sa))) {
        error_setg_errno(errp, errno, "cannot reach the switch at %s",
                         s->socket_path);
        return false;
    }
    return true;
}

/* HELLO with the guest's RAM, then the WELCOME that describes the function. */
static bool pex_handshake(Pex87xxState *s, uint32_t function,
                          struct nl_welcome *w, Error **errp)
{
    MachineState *ms = MACHINE(qdev_get_machine());
    X86MachineState *x86ms = X86_MACHINE(ms);
    struct nl_hello h = {
        .magic = NL_MAGIC, .version = NL_VERSION, .function = function,
    };
    int fd = ms->ram ? memory_region_get_fd(ms->ram) : -1;

    if (fd < 0) {
        error_setg(errp, "guest RAM must be shareable: use -machine "
                   "memory-backend=ID with a memory-backend-memfd (or -file) "
                   "object with share=on");
        return false;
    }
    pstrcpy(h.node, sizeof(h.node), s->node);
    h.ram[h.n_ram++] = (struct nl_ram_region) {
        .gpa = 0, .size = x86ms->below_4g_mem_size, .fd_offset = 0,
    };
    if (x86ms->above_4g_mem_size) {
        h.ram[h.n_ram++] = (struct nl_ram_region) {
            .gpa = 4 * GiB, .size = x86ms->above_4g_mem_size,
            .fd_offset = x86ms->below_4g_mem_size,
        };
    }
    h.n_fds = 1;
    if (!pex_send(s, NL_HELLO, &h, sizeof(h), &fd, 1) ||
        !pex_wait(s, NL_WELCOME, 0, w)) {
        error_setg(errp, "the switch at %s refused node '%s' (see above)",
                   s->socket_path, s->node);
        return false;
    }
    if (w->magic != NL_MAGIC || w->version != NL_VERSION) {
        error_setg(errp, "the switch speaks another protocol version");
        return false;
    }
    return true;
}

static void pex_realize(PCIDevice *pdev, Error **errp)
{
    Pex87xxState *s = PEX87XX_FN(pdev);
    Pex87xxClass *k = PEX87XX_FN_GET_CLASS(s);
    struct nl_welcome w;
    uint8_t *c = pdev->config;
    uint32_t off;
    unsigned i;

    s->fd = -1;
    if (!pex_connect(s, errp) || !pex_handshake(s, k->function, &w, errp)) {
        if (s->fd >= 0) {
            close(s->fd);
        }
        return;
    }

    /* The header QEMU keeps, filled from the switch's config space. */
    pci_config_set_vendor_id(c, w.vendor_id);
    pci_config_set_device_id(c, w.device_id);
    pci_config_set_prog_interface(c, w.class_code & 0xff);
    pci_config_set_class(c, w.class_code >> 8);
    for (off = 0; off < NL_CFG_SPACE; off += 4) {   /* the switch's view */
        struct nl_cfg_read r = { .offset = off, .size = 4 };
        uint64_t data = 0;

        if (!pex_request(s, NL_CFG_READ, &r, sizeof(r), &r.tag, &data)) {
            error_setg(errp, "the switch did not answer config reads");
            return;
        }
        stl_le_p(s->cfg_cache + off, (uint32_t)data);
    }
    c[PCI_REVISION_ID] = s->cfg_cache[PCI_REVISION_ID];
    memcpy(c + PCI_SUBSYSTEM_VENDOR_ID, s->cfg_cache + PCI_SUBSYSTEM_VENDOR_ID, 4);
    c[PCI_INTERRUPT_PIN] = s->cfg_cache[PCI_INTERRUPT_PIN];
    c[PCI_CAPABILITY_LIST] = s->cfg_cache[PCI_CAPABILITY_LIST];
    if (c[PCI_CAPABILITY_LIST]) {
        pci_set_word(c + PCI_STATUS,
                     pci_get_word(c + PCI_STATUS) | PCI_STATUS_CAP_LIST);
    }
    /* Find the PCIe capability, to report the link down if the switch dies. */
    for (off = s->cfg_cache[PCI_CAPABILITY_LIST], i = 0;
         off >= PEX_STD_CONFIG && off < 0x100 && i < 48;
         off = s->cfg_cache[off + 1], i++) {
        if (s->cfg_cache[off] == PCI_CAP_ID_EXP) {
            s->pcie_cap = off;
            break;
        }
    }

    for (i = 0; i < NL_NUM_BARS; i++) {
        uint8_t type = PCI_BASE_ADDRESS_SPACE_MEMORY;
        char name[32];

        if (!w.bar[i].size) {
            continue;
        }
        if (!is_power_of_2(w.bar[i].size) || w.bar[i].size < 4 * KiB ||
            ((w.bar[i].flags & NL_BAR_MEM64) && i == NL_NUM_BARS - 1)) {
            error_setg(errp, "the switch described an impossible BAR%u", i);
            pex_link_dead(s, "bad WELCOME");
            return;
        }
        if (w.bar[i].flags & NL_BAR_MEM64) {
            type |= PCI_BASE_ADDRESS_MEM_TYPE_64;
        }
        if (w.bar[i].flags & NL_BAR_PREFETCH) {
            type |= PCI_BASE_ADDRESS_MEM_PREFETCH;
        }
        snprintf(name, sizeof(name), "%s-bar%u", s->node, i);
        s->bar[i].s = s;
        s->bar[i].index = i;
        memory_region_init_io(&s->bar[i].mr, OBJECT(s), &pex_bar_ops,
                              &s->bar[i], name, w.bar[i].size);
        pci_register_bar(pdev, i, type, &s->bar[i].mr);
        if (w.bar[i].flags & NL_BAR_MEM64) {
            i++;
        }
    }

    s->flush_timer = timer_new_ns(QEMU_CLOCK_REALTIME, pex_flush_timer, s);
    if (w.flags & NL_WF_SYNC) {
        if (!icount_enabled() || k->function >= ARRAY_SIZE(pex_node.fn) ||
            pex_node.fn[k->function] ||
            ((w.flags & NL_WF_CLOCK) && pex_node.clock)) {
            error_setg(errp, "the switch runs in modelled time: start QEMU "
                       "with -icount and one function of each kind");
            pex_link_dead(s, "cannot synchronize");
            return;
        }
        s->sync = true;
        pex_node.fn[k->function] = s;
        if (w.flags & NL_WF_CLOCK) {
            /* parks at virtual time 0, before the first instruction */
            pex_node.clock = s;
            s->park_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, pex_park_timer, s);
            timer_mod(s->park_timer, 0);
        }
        return;   /* no fd handler: messages are read at park and wait points */
    }
    qemu_set_fd_handler(s->fd, pex_link_readable, NULL, s);
}

static void pex_exit(PCIDevice *pdev)
{
    Pex87xxState *s = PEX87XX_FN(pdev);

    pex_flush(s);
    if (!s->dead) {
        pex_send(s, NL_BYE, NULL, 0, NULL, 0);
        qemu_set_fd_handler(s->fd, NULL, NULL, NULL);
        close(s->fd);
        s->fd = -1;
        s->dead = true;
    }
    if (s->flush_timer) {
        timer_free(s->flush_timer);
        s->flush_timer = NULL;
    }
    if (s->park_timer) {
        timer_free(s->park_timer);
        s->park_timer = NULL;
    }
    if (pex_node.clock == s) {
        pex_node.clock = NULL;
    }
    for (unsigned f = 0; f < ARRAY_SIZE(pex_node.fn); f++) {
        if (pex_node.fn[f] == s) {
            pex_node.fn[f] = NULL;
        }
    }
}

/* ---- class_init ---------------------------------------------------------- */

static Property pex_properties[] = {
    DEFINE_PROP_STRING("socket", Pex87xxState, socket_path),
    DEFINE_PROP_STRING("node", Pex87xxState, node),
    DEFINE_PROP_END_OF_LIST(),
};

static void pex_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *pc = PCI_DEVICE_CLASS(klass);

    pc->realize = pex_realize;
    pc->exit = pex_exit;
    pc->config_read = pex_config_read;
    pc->config_write = pex_config_write;
    pc->vendor_id = 0x10b5;    /* replaced by the switch's WELCOME */
    pc->class_id = PCI_CLASS_BRIDGE_OTHER;
    device_class_set_props(dc, pex_properties);
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    dc->user_creatable = false;
}

static void pex_nt_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);

    PEX87XX_FN_CLASS(klass)->function = NL_FN_NT;
    PCI_DEVICE_CLASS(klass)->device_id = 0x87b0;
    dc->desc = "PEX8749 NT port, virtual interface (ntblab switch link)";
    dc->user_creatable = true;
}

static void pex_dma_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);

    PEX87XX_FN_CLASS(klass)->function = NL_FN_DMA;
    PCI_DEVICE_CLASS(klass)->device_id = 0x87d0;
    dc->desc = "PEX8749 DMA function (ntblab switch link)";
    dc->user_creatable = true;
}

static const TypeInfo pex_types[] = {
    {
        .name = TYPE_PEX87XX_FN,
        .parent = TYPE_PCI_DEVICE,
        .instance_size = sizeof(Pex87xxState),
        .class_size = sizeof(Pex87xxClass),
        .class_init = pex_class_init,
        .abstract = true,
        .interfaces = (InterfaceInfo[]) {
            { INTERFACE_PCIE_DEVICE },
            { }
        },
    },
    {
        .name = TYPE_PEX8749_NT,
        .parent = TYPE_PEX87XX_FN,
        .class_init = pex_nt_class_init,
    },
    {
        .name = TYPE_PEX8749_DMA,
        .parent = TYPE_PEX87XX_FN,
        .class_init = pex_dma_class_init,
    },
};

DEFINE_TYPES(pex_types)
