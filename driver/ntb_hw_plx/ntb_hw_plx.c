// SPDX-License-Identifier: GPL-2.0
/*
 * NTB hardware driver for the NT ports of Broadcom (PLX) PEX87xx switches.
 *
 * The register interface follows what public PLX NTB drivers program (the
 * FreeBSD ntb_hw_plx driver in particular); see docs/driver-ntb_hw_plx.md
 * of ntblab for the modes, resources and address conventions.
 */

#include <linux/bits.h>
#include <linux/delay.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/ntb.h>

#include "ntb_hw_plx.h"

#define NTB_NAME	"ntb_hw_plx"
#define NTB_DESC	"Broadcom/PLX PEX87xx NTB driver"
#define NTB_VER		"0.1"

MODULE_DESCRIPTION(NTB_DESC);
MODULE_VERSION(NTB_VER);
MODULE_LICENSE("GPL v2");
MODULE_AUTHOR("ntblab");

static bool b2b = true;
module_param(b2b, bool, 0444);
MODULE_PARM_DESC(b2b, "Virtual interface: back-to-back (NTB-to-NTB) mode, else NTB-to-root-port (default 1)");

static unsigned int split;
module_param(split, uint, 0444);
MODULE_PARM_DESC(split, "Split BAR2 into 2^split memory windows with the A-LUT, 0..7 (default 0)");

static unsigned int peers;
module_param(peers, uint, 0444);
MODULE_PARM_DESC(peers, "Multi-peer mode: number of peers in the fabric, 0 = two-node back-to-back (default 0)");

static int ports[PLX_MP_SLOTS];
static int nr_ports;
module_param_array(ports, int, &nr_ports, 0444);
MODULE_PARM_DESC(ports, "Multi-peer mode: NT port numbers of all nodes, this one included (default 0..peers)");

/*=============================================================================
 *                           1. Register access
 *
 * The NT endpoint's BAR0 shows the whole 256 KB register space of the chip.
 * Each NT port has two 4 KB pages in it: the virtual interface's (the host
 * side) and, right after it, the link interface's.  The driver is bound to
 * one of them ("our" page) and programs the other one ("peer" page) as well:
 * the link side's BAR sizes and translations are set from the host.  In
 * back-to-back and multi-peer modes a part of a data BAR reaches the register
 * space of another chip; the same accessors serve it.  Offsets outside the
 * 256 KB space or not 32-bit aligned are driver bugs: they warn and go
 * nowhere (reads give all ones).
 *=============================================================================
 */

static u32 plx_ioread(void __iomem *base, u32 off)
{
	if (WARN_ON(!base || off >= PLX_CONF_SIZE || (off & 3)))
		return ~0U;
	return ioread32(base + off);
}

static void plx_iowrite(void __iomem *base, u32 off, u32 val)
{
	if (WARN_ON(!base || off >= PLX_CONF_SIZE || (off & 3)))
		return;
	iowrite32(val, base + off);
}

static inline u32 plx_rd(struct plx_ntb_dev *ndev, u32 off)
{
	return plx_ioread(ndev->cfg, off);
}

static inline void plx_wr(struct plx_ntb_dev *ndev, u32 off, u32 val)
{
	plx_iowrite(ndev->cfg, off, val);
}

static inline u32 plx_our_page(struct plx_ntb_dev *ndev)
{
	return ndev->nt_base + (ndev->link ? PLX_NT_LINK_OFF : 0);
}

static inline u32 plx_peer_page(struct plx_ntb_dev *ndev)
{
	return ndev->nt_base + (ndev->link ? 0 : PLX_NT_LINK_OFF);
}

static u32 plx_nt_rd(struct plx_ntb_dev *ndev, u32 reg)
{
	if (WARN_ON(reg >= PLX_NT_PAGE_SIZE))
		return ~0U;
	return plx_rd(ndev, plx_our_page(ndev) + reg);
}

static void plx_nt_wr(struct plx_ntb_dev *ndev, u32 reg, u32 val)
{
	if (WARN_ON(reg >= PLX_NT_PAGE_SIZE))
		return;
	plx_wr(ndev, plx_our_page(ndev) + reg, val);
}

static void plx_pnt_wr(struct plx_ntb_dev *ndev, u32 reg, u32 val)
{
	if (WARN_ON(reg >= PLX_NT_PAGE_SIZE))
		return;
	plx_wr(ndev, plx_peer_page(ndev) + reg, val);
}

static void plx_pnt_wr64(struct plx_ntb_dev *ndev, u32 reg, u64 val)
{
	plx_pnt_wr(ndev, reg, lower_32_bits(val));
	plx_pnt_wr(ndev, reg + 4, upper_32_bits(val));
}

static void plx_nt_wr64(struct plx_ntb_dev *ndev, u32 reg, u64 val)
{
	plx_nt_wr(ndev, reg, lower_32_bits(val));
	plx_nt_wr(ndev, reg + 4, upper_32_bits(val));
}

/*
 * A-LUT entry @i of the table translating hits on BAR2 of the virtual
 * (@virt) or link interface.  With 128 entries per interface each NT port
 * has its own pair of tables; with 256 only one NT port has an A-LUT.
 */
static u32 plx_alut_entry(struct plx_ntb_dev *ndev, bool virt, unsigned int i)
{
	u32 tbl = virt ? 0 : 1;

	if (ndev->alut == 1)
		tbl += 2 * ndev->ntx;
	return PLX_ALUT_BASE + tbl * PLX_ALUT_TBL_SIZE * ndev->alut + i * 4 +
	       (i >= PLX_ALUT_ENTRIES ? PLX_ALUT_HIGH_OFF : 0);
}

static inline unsigned int plx_alut_cnt(struct plx_ntb_dev *ndev)
{
	return PLX_ALUT_ENTRIES * ndev->alut;
}

static void plx_alut_set(struct plx_ntb_dev *ndev, bool virt, unsigned int i,
			 u64 addr, bool enable)
{
	u32 off = plx_alut_entry(ndev, virt, i);

	plx_wr(ndev, off, lower_32_bits(addr));
	plx_wr(ndev, off + PLX_ALUT_HI, upper_32_bits(addr));
	plx_wr(ndev, off + PLX_ALUT_PERM, enable ? PLX_ALUT_PERM_RW : 0);
}

/*=============================================================================
 *                        2. Modes and memory windows
 *
 * Hits on a data BAR (2..5; 64-bit BARs take two slots) of one interface are
 * translated into the other interface's address space: by the BAR's
 * translation register (one base for the whole BAR, aligned to the BAR size;
 * there are no limit registers), or for BAR2 by the A-LUT, which cuts the BAR
 * into 128 (or 256) equal parts with an address and a permission each.
 *
 * Back-to-back: two chips' NT ports are joined link side to link side and
 * each host owns a virtual interface.  Every host sets up its own chip's link
 * side: the link BARs sit at fixed link addresses (bar * 2^61 for 64-bit
 * BARs, bar * 2^29 for 32-bit ones) where the other chip's virtual-to-link
 * translation sends its hits, and the link-to-virtual translation of each
 * link BAR is the inbound window set by mw_set_trans().  The last data BAR
 * is shared: its first part (half of it from 2 MB on, else all of it) reaches
 * the other chip's register space through its link BAR0, for doorbells and
 * scratchpads; the rest of it, if any, is a memory window.  Both chips must
 * have the same BAR layout.
 *
 * NTB-to-root-port: one chip, one host on each interface; each host's
 * windows are its own BARs and the other side's translations.
 *
 * Multi-peer: see chapter 3.
 *=============================================================================
 */

static inline bool plx_is_b2b(struct plx_ntb_dev *ndev)
{
	return ndev->b2b_mw >= 0;
}

/* Size of the user part of data BAR @i */
static resource_size_t plx_mw_user_size(struct plx_ntb_dev *ndev, int i)
{
	struct plx_mw *mw = &ndev->mw[i];

	return mw->size - (i == ndev->b2b_mw ? ndev->b2b_off : 0);
}

static inline unsigned int plx_mw_split(struct plx_ntb_dev *ndev, int i)
{
	return ndev->mw[i].bar == 2 ? ndev->split : 0;
}

/* Map a user window index to a data BAR index and a split part */
static int plx_user_mw(struct plx_ntb_dev *ndev, int widx, unsigned int *part)
{
	int parts = 1 << ndev->split;
	int i;

	if (widx < 0)
		return -EINVAL;
	if (widx < parts) {
		*part = widx;
		i = 0;
	} else {
		*part = 0;
		i = widx - (parts - 1);
	}
	if (i >= ndev->mw_cnt || (i == ndev->b2b_mw && !ndev->b2b_off))
		return -EINVAL;
	return i;
}

static int plx_b2b_mw_count(struct plx_ntb_dev *ndev)
{
	int cnt = ndev->mw_cnt + (1 << ndev->split) - 1;

	if (plx_is_b2b(ndev) && !ndev->b2b_off)
		cnt--;
	return cnt;
}

/*
 * Program the link side BAR size and address (back-to-back mode) and the
 * inbound translation of data BAR @i from its xlat[] entries.  Called with
 * cfg_mutex held.
 */
static int plx_mw_program(struct plx_ntb_dev *ndev, int i)
{
	struct plx_mw *mw = &ndev->mw[i];
	resource_size_t off = i == ndev->b2b_mw ? ndev->b2b_off : 0;
	unsigned int sp = plx_mw_split(ndev, i);
	u64 bsize, addr, size, esize, eaddr, setup;
	unsigned int e, part, per_part;
	bool use_alut;

	/* With a split or without B2B the BAR size is fixed */
	if (sp || !plx_is_b2b(ndev)) {
		bsize = mw->size - off;
	} else {
		bsize = mw->xlat[0].size;
		if (bsize) {
			bsize = roundup_pow_of_two(bsize);
			bsize = max_t(u64, bsize, PLX_BAR_MIN_SIZE);
		}
	}
	/* The link BAR sits at @off of the link window: keep it aligned */
	if (bsize && (off & (bsize - 1)))
		return -EINVAL;

	addr = mw->xlat[0].addr;
	size = mw->xlat[0].size;
	use_alut = ndev->alut && mw->bar == 2 &&
		   (sp || (bsize && ((addr & (bsize - 1)) || size != bsize)));
	/* A BAR translation replaces the BAR base: it must be aligned to it */
	if (!use_alut && !sp && size && (addr & (bsize - 1)))
		return -EINVAL;

	if (plx_is_b2b(ndev)) {
		setup = bsize ? ~(bsize - 1) & ~PLX_NT_BAR_SETUP_RSVD : 0;
		if (mw->is64) {
			setup |= PLX_NT_BAR_SETUP_64;
			plx_pnt_wr64(ndev, PLX_NT_BAR_SETUP(mw->bar), setup);
			plx_pnt_wr64(ndev, PLX_NT_BAR(mw->bar),
				     PLX_B2B_ADDR64 * mw->bar + off);
		} else {
			plx_pnt_wr(ndev, PLX_NT_BAR_SETUP(mw->bar),
				   lower_32_bits(setup));
			plx_pnt_wr(ndev, PLX_NT_BAR(mw->bar),
				   PLX_B2B_ADDR32 * mw->bar + off);
		}
	}

	if (mw->is64)
		plx_pnt_wr64(ndev, PLX_NT_BAR_XLAT(mw->bar), use_alut ? 0 : addr);
	else
		plx_pnt_wr(ndev, PLX_NT_BAR_XLAT(mw->bar),
			   use_alut ? 0 : lower_32_bits(addr));

	if (!use_alut) {
		if (ndev->alut && mw->bar == 2)
			plx_nt_wr(ndev, PLX_NT_ALUT_CTL, 0);
		return 0;
	}

	/* The A-LUT of the other interface's BAR2 carries the split parts */
	esize = bsize / plx_alut_cnt(ndev);
	per_part = plx_alut_cnt(ndev) >> sp;
	for (e = 0; e < plx_alut_cnt(ndev); e++) {
		part = e / per_part;
		addr = mw->xlat[part].addr;
		size = mw->xlat[part].size;
		eaddr = addr + (u64)(e % per_part) * esize;
		plx_alut_set(ndev, ndev->link, e, eaddr, eaddr < addr + size);
	}
	plx_nt_wr(ndev, PLX_NT_ALUT_CTL, PLX_NT_ALUT_CTL_EN);
	return 0;
}

/*=============================================================================
 *                            3. Multi-peer mode
 *
 * For clusters of N nodes in which every node's NT link interface is an
 * endpoint of one transparent fabric.  Node p (p = its NT port number, read
 * from the chip) places its link BARs at fabric addresses that every node can
 * compute: link BAR0 (its chip registers) at PLX_MP_BASE + p * PLX_MP_STRIDE,
 * link BAR2 at that address + PLX_MP_BAR2.  All nodes must have the same
 * virtual BAR2 size B (64-bit, at least 16 MB) and an A-LUT.
 *
 * Outbound, the A-LUT cuts virtual BAR2 into 64 slots of B/64: slot q maps
 * the part of node q's link BAR2 reserved for us, slot 32 + q maps node q's
 * registers.  Inbound, link BAR2 is B/2 wide and its A-LUT cuts it into 32
 * slots of B/64: slot s belongs to the node with port s and maps the buffer
 * given to mw_set_trans() for that peer.  Doorbells written by peer_db_set()
 * go to every peer (clients pick bits by port number, as on IDT switches);
 * scratchpads are per peer, through its register slot.
 *=============================================================================
 */

static inline bool plx_is_mp(struct plx_ntb_dev *ndev)
{
	return ndev->npeers > 0;
}

static inline u64 plx_mp_bar0(unsigned int port)
{
	return PLX_MP_BASE + port * PLX_MP_STRIDE;
}

static inline u64 plx_mp_slot(struct plx_ntb_dev *ndev)
{
	return ndev->mw[0].size / (2 * PLX_MP_SLOTS);
}

/* Program outbound A-LUT slot @slot to reach @len bytes at fabric @target */
static void plx_mp_out_slot(struct plx_ntb_dev *ndev, unsigned int slot,
			    u64 target, u64 len)
{
	unsigned int per = plx_alut_cnt(ndev) / (2 * PLX_MP_SLOTS);
	u64 esize = ndev->mw[0].size / plx_alut_cnt(ndev);
	unsigned int j;

	for (j = 0; j < per; j++)
		plx_alut_set(ndev, true, slot * per + j, target + j * esize,
			     len && j * esize < len);
}

/* Program inbound A-LUT slot @slot from @xlat. Called with cfg_mutex held. */
static void plx_mp_in_slot(struct plx_ntb_dev *ndev, unsigned int slot,
			   const struct plx_xlat *xlat)
{
	unsigned int per = plx_alut_cnt(ndev) / PLX_MP_SLOTS;
	u64 esize = ndev->mw[0].size / 2 / plx_alut_cnt(ndev);
	u64 addr = xlat ? xlat->addr : 0;
	u64 size = xlat ? xlat->size : 0;
	unsigned int j;

	for (j = 0; j < per; j++)
		plx_alut_set(ndev, false, slot * per + j, addr + j * esize,
			     j * esize < size);
}

static struct plx_peer *plx_mp_find(struct plx_ntb_dev *ndev, unsigned int port)
{
	int i;

	for (i = 0; i < ndev->npeers; i++)
		if (ndev->peers[i].port == port)
			return &ndev->peers[i];
	return NULL;
}

static void plx_mp_setup(struct plx_ntb_dev *ndev)
{
	u64 bar2 = ndev->mw[0].size / 2;
	u64 slot = plx_mp_slot(ndev);
	unsigned int q;
	struct plx_peer *peer;
	int i;

	/* Link BAR0 and BAR2 at the fabric addresses of our port */
	plx_pnt_wr(ndev, PLX_NT_BAR0_SETUP, PLX_NT_BAR0_SETUP_64);
	plx_pnt_wr64(ndev, PLX_NT_BAR(0), plx_mp_bar0(ndev->port) | PLX_NT_BAR_MEM64);
	plx_pnt_wr64(ndev, PLX_NT_BAR_SETUP(2),
		     (~(bar2 - 1) & ~PLX_NT_BAR_SETUP_RSVD) | PLX_NT_BAR_SETUP_64);
	plx_pnt_wr64(ndev, PLX_NT_BAR(2), plx_mp_bar0(ndev->port) + PLX_MP_BAR2);
	plx_pnt_wr64(ndev, PLX_NT_BAR_XLAT(2), 0);
	for (i = 1; i < ndev->mw_cnt; i++)
		plx_pnt_wr(ndev, PLX_NT_BAR_SETUP(ndev->mw[i].bar), 0);

	/* Inbound: one slot per port; only peers' slots may open */
	for (q = 0; q < PLX_MP_SLOTS; q++) {
		peer = plx_mp_find(ndev, q);
		plx_mp_in_slot(ndev, q, peer ? &peer->xlat : NULL);
	}
	plx_nt_wr(ndev, PLX_NT_ALUT_CTL, PLX_NT_ALUT_CTL_EN);

	/* Outbound: memory and register slot of each peer */
	plx_nt_wr64(ndev, PLX_NT_BAR_XLAT(2), 0);
	for (q = 0; q < PLX_MP_SLOTS; q++) {
		peer = plx_mp_find(ndev, q);
		plx_mp_out_slot(ndev, q, plx_mp_bar0(q) + PLX_MP_BAR2 +
				ndev->port * slot, peer ? slot : 0);
		plx_mp_out_slot(ndev, PLX_MP_SLOTS + q, plx_mp_bar0(q),
				peer ? PLX_CONF_SIZE : 0);
	}
	plx_pnt_wr(ndev, PLX_NT_ALUT_CTL, PLX_NT_ALUT_CTL_EN);
}

/*=============================================================================
 *                              4. Chip set-up
 *
 * The link side's registers are set from the host at probe time and again
 * after the link went down (DL_Down resets them).  Requester-ID LUTs decide
 * whose requests an interface forwards: the virtual one admits the root
 * complex (00:00.x) and the requester ID the chip reports for our host; the
 * link one, in back-to-back and multi-peer modes, admits the requester IDs
 * that the other chip's translated requests carry (bus 0, slot = LUT index).
 *=============================================================================
 */

static void plx_setup_chip(struct plx_ntb_dev *ndev)
{
	struct plx_mw *mw;
	u32 rid;
	int i;

	lockdep_assert_held(&ndev->cfg_mutex);

	if (plx_is_b2b(ndev)) {
		/* Link BAR0 of this chip: where the peer reaches our registers */
		mw = &ndev->mw[ndev->b2b_mw];
		if (mw->is64) {
			plx_pnt_wr(ndev, PLX_NT_BAR0_SETUP, PLX_NT_BAR0_SETUP_64);
			plx_pnt_wr64(ndev, PLX_NT_BAR(0),
				     PLX_B2B_ADDR64 * mw->bar | PLX_NT_BAR_MEM64);
		} else {
			plx_pnt_wr(ndev, PLX_NT_BAR0_SETUP, PLX_NT_BAR0_SETUP_32);
			plx_pnt_wr(ndev, PLX_NT_BAR(0), PLX_B2B_ADDR32 * mw->bar);
		}

		/* Virtual to link translation: fixed link addresses */
		for (i = 0; i < ndev->mw_cnt; i++) {
			mw = &ndev->mw[i];
			if (mw->is64)
				plx_nt_wr64(ndev, PLX_NT_BAR_XLAT(mw->bar),
					    PLX_B2B_ADDR64 * mw->bar);
			else
				plx_nt_wr(ndev, PLX_NT_BAR_XLAT(mw->bar),
					  PLX_B2B_ADDR32 * mw->bar);
		}

		/* No A-LUT on the virtual side's BAR2 */
		if (ndev->alut)
			plx_pnt_wr(ndev, PLX_NT_ALUT_CTL, 0);
	}

	if (plx_is_b2b(ndev) || plx_is_mp(ndev)) {
		for (i = 0; i < PLX_NT_LRID_LUT_REGS; i++)
			plx_pnt_wr(ndev, PLX_NT_LRID_LUT(i), PLX_RID_LUT_EN |
				   ((2 * i + 1) << 19) | ((2 * i) << 3));
	}

	rid = plx_nt_rd(ndev, PLX_NT_RID) & 0xffff;
	if (ndev->link)
		plx_nt_wr(ndev, PLX_NT_LRID_LUT(0), (rid << 16) | PLX_RID_LUT_EN);
	else
		plx_nt_wr(ndev, PLX_NT_VRID_LUT(0), (rid << 16) | PLX_RID_LUT_EN);

	if (plx_is_mp(ndev)) {
		plx_mp_setup(ndev);
	} else {
		for (i = 0; i < ndev->mw_cnt; i++)
			plx_mw_program(ndev, i);
	}

	if (plx_is_b2b(ndev) || plx_is_mp(ndev))
		plx_pnt_wr(ndev, PLX_NT_COMMAND,
			   PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

/*=============================================================================
 *                                 5. Link
 *
 * The link is up when the PCIe Link Status of our function shows a width.
 * A host enables or disables its NT port through the station's port control
 * register.  The chip interrupts only when the link goes down (DL_Down in the
 * link error status), so a poll reports link changes, and a link enable that
 * finds the port enabled reports an event at once.
 *=============================================================================
 */

static u64 plx_link_state(struct plx_ntb_dev *ndev, enum ntb_speed *speed,
			  enum ntb_width *width)
{
	u16 sta = 0;
	u32 w = 0;

	if (pcie_capability_read_word(ndev->ntb.pdev, PCI_EXP_LNKSTA, &sta) ||
	    sta == 0xffff)
		sta = 0;
	w = (sta & PCI_EXP_LNKSTA_NLW) >> PCI_EXP_LNKSTA_NLW_SHIFT;
	if (speed)
		*speed = w ? (enum ntb_speed)(sta & PCI_EXP_LNKSTA_CLS) : NTB_SPEED_NONE;
	if (width)
		*width = w ? (enum ntb_width)w : NTB_WIDTH_NONE;
	if (!w)
		return 0;
	return plx_is_mp(ndev) ? GENMASK_ULL(ndev->npeers - 1, 0) : BIT_ULL(0);
}

static void plx_link_work(struct work_struct *work)
{
	struct plx_ntb_dev *ndev = container_of(to_delayed_work(work),
						struct plx_ntb_dev, link_work);
	bool event = false;
	bool up;

	mutex_lock(&ndev->cfg_mutex);
	if (READ_ONCE(ndev->reinit)) {
		WRITE_ONCE(ndev->reinit, false);
		plx_setup_chip(ndev);
		event = true;
	}
	mutex_unlock(&ndev->cfg_mutex);

	up = plx_link_state(ndev, NULL, NULL) != 0;
	if (up != ndev->link_up) {
		ndev->link_up = up;
		event = true;
	}
	if (event)
		ntb_link_event(&ndev->ntb);

	if (!READ_ONCE(ndev->stopping))
		schedule_delayed_work(&ndev->link_work,
				      msecs_to_jiffies(PLX_LINK_POLL_MS));
}

static void plx_link_kick(struct plx_ntb_dev *ndev)
{
	if (!READ_ONCE(ndev->stopping))
		mod_delayed_work(system_wq, &ndev->link_work, 0);
}

/*=============================================================================
 *                    6. Doorbells and interrupts
 *
 * Sixteen doorbell bits per interface.  Status latches whether a bit is
 * masked or not; writing 1 to the clear register clears it.  The interrupt
 * is INTx (the chip's MSI fires only when the doorbell register leaves zero,
 * which loses events), level-triggered, shared, and also raised by unmasked
 * link errors.  So that a client that looks at a doorbell without clearing
 * it does not keep the line asserted, the handler masks the bits it reports
 * and unmasks them when the client clears them (db_clear); the mask that
 * clients see is theirs alone.
 *=============================================================================
 */

static inline u32 plx_db_reg(struct plx_ntb_dev *ndev, u32 virt, u32 link)
{
	return ndev->link ? link : virt;
}

static irqreturn_t plx_isr(int irq, void *data)
{
	struct plx_ntb_dev *ndev = data;
	irqreturn_t ret = IRQ_NONE;
	unsigned long flags;
	u32 db, sts;
	u64 pending;

	db = plx_nt_rd(ndev, plx_db_reg(ndev, PLX_NT_DB_SET, PLX_NT_LDB_SET));
	if (!(db & ~(u32)PLX_DB_MASK)) {	/* all ones: device gone */
		spin_lock_irqsave(&ndev->lock, flags);
		pending = db & ~(ndev->db_mask | ndev->db_held);
		if (pending) {
			ndev->db_held |= pending;
			plx_nt_wr(ndev, plx_db_reg(ndev, PLX_NT_DB_MASK_SET,
						   PLX_NT_LDB_MASK_SET), pending);
		}
		spin_unlock_irqrestore(&ndev->lock, flags);
		if (pending) {
			ntb_db_event(&ndev->ntb, 0);
			ret = IRQ_HANDLED;
		}
	}

	/* Only the virtual interface has the link error registers */
	if (ndev->link)
		return ret;
	sts = plx_nt_rd(ndev, PLX_NT_LERR_STS);
	if (sts & ~PLX_LERR_ALL)
		return ret;
	sts &= ~plx_nt_rd(ndev, PLX_NT_LERR_MASK);
	if (!sts)
		return ret;
	plx_nt_wr(ndev, PLX_NT_LERR_STS, sts);
	if (sts & PLX_LERR_CORR)
		dev_info_ratelimited(&ndev->ntb.pdev->dev, "correctable link error\n");
	if (sts & PLX_LERR_UNCORR)
		dev_warn_ratelimited(&ndev->ntb.pdev->dev, "uncorrectable link error\n");
	if (sts & PLX_LERR_UR_DROP)
		dev_warn_ratelimited(&ndev->ntb.pdev->dev, "uncorrectable error message dropped\n");
	if (sts & PLX_LERR_DL_DOWN) {
		dev_info(&ndev->ntb.pdev->dev, "link down\n");
		WRITE_ONCE(ndev->reinit, true);
		plx_link_kick(ndev);
	}
	return IRQ_HANDLED;
}

static void plx_mask_all(struct plx_ntb_dev *ndev)
{
	plx_nt_wr(ndev, plx_db_reg(ndev, PLX_NT_DB_MASK_SET, PLX_NT_LDB_MASK_SET),
		  PLX_DB_MASK);
	if (!ndev->link)
		plx_nt_wr(ndev, PLX_NT_LERR_MASK, PLX_LERR_ALL);
}

static int plx_setup_irq(struct plx_ntb_dev *ndev)
{
	struct pci_dev *pdev = ndev->ntb.pdev;
	int ret;

	ndev->db_mask = PLX_DB_MASK;
	ndev->db_held = 0;
	plx_mask_all(ndev);

	ret = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_LEGACY);
	if (ret < 0)
		return ret;
	ret = request_irq(pci_irq_vector(pdev, 0), plx_isr, IRQF_SHARED,
			  NTB_NAME, ndev);
	if (ret) {
		pci_free_irq_vectors(pdev);
		return ret;
	}
	if (!ndev->link) {
		plx_nt_wr(ndev, PLX_NT_LERR_STS, PLX_LERR_ALL);
		plx_nt_wr(ndev, PLX_NT_LERR_MASK, 0);
	}
	return 0;
}

static void plx_teardown_irq(struct plx_ntb_dev *ndev)
{
	struct pci_dev *pdev = ndev->ntb.pdev;

	plx_mask_all(ndev);
	free_irq(pci_irq_vector(pdev, 0), ndev);
	pci_free_irq_vectors(pdev);
}

/*=============================================================================
 *                              7. Scratchpads
 *
 * Eight scratchpad registers per NT port, plus four borrowed from the
 * physical layer user test pattern registers, which turn read-only for about
 * 100 us after the link went down: a write to them is retried until it reads
 * back.  In back-to-back and multi-peer modes each chip keeps its own set and
 * the peers' sets are reached through the register windows; with one chip
 * both hosts share one set, half each.
 *=============================================================================
 */

#define PLX_TESTPAT_PROBE	0x12345678
#define PLX_TESTPAT_TRIES	1000

static void plx_setup_spads(struct plx_ntb_dev *ndev)
{
	bool own = plx_is_b2b(ndev) || plx_is_mp(ndev);
	int div = own ? 1 : 2;

	ndev->spad_off = plx_our_page(ndev) + PLX_NT_SPAD(0);
	ndev->tpat_off = PLX_PORT_TESTPAT(ndev->ntx * 8);
	ndev->pspad_off = ndev->spad_off;
	ndev->ptpat_off = ndev->tpat_off;
	if (!own) {
		/* The link side host uses the upper halves */
		if (ndev->link) {
			ndev->spad_off += PLX_SPAD_COUNT / 2 * 4;
			ndev->tpat_off += PLX_SPAD_TESTPAT_COUNT / 2 * 4;
		} else {
			ndev->pspad_off += PLX_SPAD_COUNT / 2 * 4;
			ndev->ptpat_off += PLX_SPAD_TESTPAT_COUNT / 2 * 4;
		}
	}
	ndev->spad_cnt = PLX_SPAD_COUNT / div;
	ndev->tpat_cnt = 0;
	plx_wr(ndev, ndev->tpat_off, PLX_TESTPAT_PROBE);
	if (plx_rd(ndev, ndev->tpat_off) == PLX_TESTPAT_PROBE)
		ndev->tpat_cnt = PLX_SPAD_TESTPAT_COUNT / div;
	plx_wr(ndev, ndev->tpat_off, 0);
}

static int plx_spad_off(struct plx_ntb_dev *ndev, int sidx, bool peer, u32 *off)
{
	if (sidx < 0 || sidx >= ndev->spad_cnt + ndev->tpat_cnt)
		return -EINVAL;
	if (sidx < ndev->spad_cnt)
		*off = (peer ? ndev->pspad_off : ndev->spad_off) + sidx * 4;
	else
		*off = (peer ? ndev->ptpat_off : ndev->tpat_off) +
		       (sidx - ndev->spad_cnt) * 4;
	return 0;
}

/* Register space holding peer @pidx's scratchpads and doorbells */
static void __iomem *plx_peer_regs(struct plx_ntb_dev *ndev, int pidx)
{
	if (plx_is_mp(ndev))
		return pidx >= 0 && pidx < ndev->npeers ?
		       ndev->peers[pidx].regs : NULL;
	if (pidx != 0)
		return NULL;
	return plx_is_b2b(ndev) ? ndev->rmt : ndev->cfg;
}

/*=============================================================================
 *                       8. NTB operations: ports, link
 *=============================================================================
 */

static int plx_ntb_port_number(struct ntb_dev *ntb)
{
	struct plx_ntb_dev *ndev = to_plx(ntb);

	if (plx_is_mp(ndev))
		return ndev->port;
	/*
	 * Back-to-back: both hosts see the same kind of interface, so both are
	 * port 0 with peer port 0 (two-port hardware may repeat port numbers,
	 * and clients pick doorbell bits from them).  With one chip the
	 * virtual interface is 0 and the link interface 1.
	 */
	return ndev->link ? 1 : 0;
}

static int plx_ntb_peer_port_count(struct ntb_dev *ntb)
{
	struct plx_ntb_dev *ndev = to_plx(ntb);

	return plx_is_mp(ndev) ? ndev->npeers : 1;
}

static int plx_ntb_peer_port_number(struct ntb_dev *ntb, int pidx)
{
	struct plx_ntb_dev *ndev = to_plx(ntb);

	if (plx_is_mp(ndev))
		return pidx >= 0 && pidx < ndev->npeers ?
		       ndev->peers[pidx].port : -EINVAL;
	if (pidx != 0)
		return -EINVAL;
	if (plx_is_b2b(ndev))
		return 0;
	return ndev->link ? 0 : 1;
}

static int plx_ntb_peer_port_idx(struct ntb_dev *ntb, int port)
{
	struct plx_ntb_dev *ndev = to_plx(ntb);
	int pidx;

	for (pidx = 0; pidx < plx_ntb_peer_port_count(ntb); pidx++)
		if (plx_ntb_peer_port_number(ntb, pidx) == port)
			return pidx;
	dev_dbg(&ndev->ntb.dev, "no peer with port %d\n", port);
	return -EINVAL;
}

static u64 plx_ntb_link_is_up(struct ntb_dev *ntb, enum ntb_speed *speed,
			      enum ntb_width *width)
{
	return plx_link_state(to_plx(ntb), speed, width);
}

static int plx_ntb_link_enable(struct ntb_dev *ntb, enum ntb_speed max_speed,
			       enum ntb_width max_width)
{
	struct plx_ntb_dev *ndev = to_plx(ntb);
	u32 reg = PLX_PORT_CTL(ndev->port);
	u32 bit = BIT(ndev->port & 7);
	bool was_enabled;
	unsigned long flags;
	u32 val;

	/* Whoever sees the link interface has the link enabled */
	if (ndev->link) {
		ntb_link_event(ntb);
		return 0;
	}

	spin_lock_irqsave(&ndev->lock, flags);
	val = plx_rd(ndev, reg);
	if (val == ~0U) {
		spin_unlock_irqrestore(&ndev->lock, flags);
		return -EIO;
	}
	was_enabled = !(val & bit);
	if (!was_enabled)
		plx_wr(ndev, reg, val & ~bit);
	spin_unlock_irqrestore(&ndev->lock, flags);

	if (was_enabled)
		ntb_link_event(ntb);
	else
		plx_link_kick(ndev);
	return 0;
}

static int plx_ntb_link_disable(struct ntb_dev *ntb)
{
	struct plx_ntb_dev *ndev = to_plx(ntb);
	u32 reg = PLX_PORT_CTL(ndev->port);
	unsigned long flags;
	u32 val;

	/* Disabling the port from its link side would cut us off */
	if (ndev->link)
		return 0;

	spin_lock_irqsave(&ndev->lock, flags);
	val = plx_rd(ndev, reg);
	if (val != ~0U)
		plx_wr(ndev, reg, val | BIT(ndev->port & 7));
	spin_unlock_irqrestore(&ndev->lock, flags);
	if (val == ~0U)
		return -EIO;

	plx_link_kick(ndev);
	return 0;
}

/*=============================================================================
 *                     9. NTB operations: memory windows
 *=============================================================================
 */

static int plx_ntb_mw_count(struct ntb_dev *ntb, int pidx)
{
	struct plx_ntb_dev *ndev = to_plx(ntb);

	if (pidx < 0 || pidx >= plx_ntb_peer_port_count(ntb))
		return -EINVAL;
	return plx_is_mp(ndev) ? 1 : plx_b2b_mw_count(ndev);
}

static int plx_ntb_mw_get_align(struct ntb_dev *ntb, int pidx, int widx,
				resource_size_t *addr_align,
				resource_size_t *size_align,
				resource_size_t *size_max)
{
	struct plx_ntb_dev *ndev = to_plx(ntb);
	resource_size_t usize, align, salign;
	unsigned int part;
	int i;

	if (pidx < 0 || pidx >= plx_ntb_peer_port_count(ntb))
		return -EINVAL;

	if (plx_is_mp(ndev)) {
		if (widx != 0)
			return -EINVAL;
		align = ndev->mw[0].size / 2 / plx_alut_cnt(ndev);
		if (addr_align)
			*addr_align = align;
		if (size_align)
			*size_align = align;
		if (size_max)
			*size_max = plx_mp_slot(ndev);
		return 0;
	}

	i = plx_user_mw(ndev, widx, &part);
	if (i < 0)
		return i;
	usize = plx_mw_user_size(ndev, i);

	/*
	 * A translation must be aligned to the BAR size; A-LUT entries only to
	 * 1/128 (1/256) of it.  Without A-LUT in back-to-back mode the link BAR
	 * is resized to the translated size rounded up to a power of two (1 MB
	 * at least), so the translation has to be aligned to that: 1 MB is
	 * reported, and mw_set_trans() refuses an address that is not aligned
	 * to the rounded size (a dma_alloc_coherent() buffer always is: the
	 * page allocator aligns blocks to their order).  The rounding slack
	 * past the buffer is reachable by the peer, as on FreeBSD.  With one
	 * chip the BAR size is fixed.
	 */
	if (ndev->alut && ndev->mw[i].bar == 2) {
		align = usize / plx_alut_cnt(ndev);
		salign = align;
	} else if (plx_is_b2b(ndev) && !plx_mw_split(ndev, i)) {
		align = PLX_BAR_MIN_SIZE;
		salign = PLX_BAR_MIN_SIZE;
	} else {
		align = usize;
		salign = usize;
	}
	if (addr_align)
		*addr_align = align;
	if (size_align)
		*size_align = salign;
	if (size_max)
		*size_max = usize >> plx_mw_split(ndev, i);
	return 0;
}

static int plx_ntb_mw_set_trans(struct ntb_dev *ntb, int pidx, int widx,
				dma_addr_t addr, resource_size_t size)
{
	struct plx_ntb_dev *ndev = to_plx(ntb);
	resource_size_t align, smax;
	struct plx_xlat old;
	struct plx_mw *mw;
	unsigned int part;
	int i, ret;

	ret = plx_ntb_mw_get_align(ntb, pidx, widx, &align, NULL, &smax);
	if (ret)
		return ret;
	if (size > smax || (size && !IS_ALIGNED(addr, align)))
		return -EINVAL;

	mutex_lock(&ndev->cfg_mutex);
	if (plx_is_mp(ndev)) {
		struct plx_peer *peer = &ndev->peers[pidx];

		peer->xlat.addr = size ? addr : 0;
		peer->xlat.size = size;
		plx_mp_in_slot(ndev, peer->port, &peer->xlat);
		mutex_unlock(&ndev->cfg_mutex);
		return 0;
	}

	i = plx_user_mw(ndev, widx, &part);
	mw = &ndev->mw[i];
	if (!mw->is64 && size &&
	    (upper_32_bits(addr) || upper_32_bits(addr + size - 1))) {
		mutex_unlock(&ndev->cfg_mutex);
		return -ERANGE;
	}
	old = mw->xlat[part];
	mw->xlat[part].addr = size ? addr : 0;
	mw->xlat[part].size = size;
	ret = plx_mw_program(ndev, i);
	if (ret) {
		mw->xlat[part] = old;
		plx_mw_program(ndev, i);
	}
	mutex_unlock(&ndev->cfg_mutex);
	return ret;
}

static int plx_ntb_mw_clear_trans(struct ntb_dev *ntb, int pidx, int widx)
{
	return plx_ntb_mw_set_trans(ntb, pidx, widx, 0, 0);
}

static int plx_ntb_peer_mw_count(struct ntb_dev *ntb)
{
	struct plx_ntb_dev *ndev = to_plx(ntb);

	return plx_is_mp(ndev) ? ndev->npeers : plx_b2b_mw_count(ndev);
}

static int plx_ntb_peer_mw_get_addr(struct ntb_dev *ntb, int widx,
				    phys_addr_t *base, resource_size_t *size)
{
	struct plx_ntb_dev *ndev = to_plx(ntb);
	resource_size_t off, psize;
	unsigned int part;
	int i;

	if (plx_is_mp(ndev)) {
		if (widx < 0 || widx >= ndev->npeers)
			return -EINVAL;
		psize = plx_mp_slot(ndev);
		if (base)
			*base = ndev->mw[0].phys + ndev->peers[widx].port * psize;
		if (size)
			*size = psize;
		return 0;
	}

	i = plx_user_mw(ndev, widx, &part);
	if (i < 0)
		return i;
	off = i == ndev->b2b_mw ? ndev->b2b_off : 0;
	psize = plx_mw_user_size(ndev, i) >> plx_mw_split(ndev, i);
	if (base)
		*base = ndev->mw[i].phys + off + psize * part;
	if (size)
		*size = psize;
	return 0;
}

/*=============================================================================
 *                       10. NTB operations: doorbells
 *=============================================================================
 */

static u64 plx_ntb_db_valid_mask(struct ntb_dev *ntb)
{
	return PLX_DB_MASK;
}

static int plx_ntb_db_vector_count(struct ntb_dev *ntb)
{
	return 1;
}

static u64 plx_ntb_db_vector_mask(struct ntb_dev *ntb, int db_vector)
{
	return db_vector == 0 ? PLX_DB_MASK : 0;
}

static u64 plx_ntb_db_read(struct ntb_dev *ntb)
{
	struct plx_ntb_dev *ndev = to_plx(ntb);
	u32 db;

	db = plx_nt_rd(ndev, plx_db_reg(ndev, PLX_NT_DB_SET, PLX_NT_LDB_SET));
	if (db & ~(u32)PLX_DB_MASK)
		return 0;
	return db;
}

static int plx_ntb_db_set(struct ntb_dev *ntb, u64 db_bits)
{
	struct plx_ntb_dev *ndev = to_plx(ntb);

	if (db_bits & ~PLX_DB_MASK)
		return -EINVAL;
	plx_nt_wr(ndev, plx_db_reg(ndev, PLX_NT_DB_SET, PLX_NT_LDB_SET), db_bits);
	return 0;
}

static int plx_ntb_db_clear(struct ntb_dev *ntb, u64 db_bits)
{
	struct plx_ntb_dev *ndev = to_plx(ntb);
	unsigned long flags;
	u64 unmask;

	if (db_bits & ~PLX_DB_MASK)
		return -EINVAL;
	plx_nt_wr(ndev, plx_db_reg(ndev, PLX_NT_DB_CLEAR, PLX_NT_LDB_CLEAR),
		  db_bits);

	spin_lock_irqsave(&ndev->lock, flags);
	unmask = ndev->db_held & db_bits & ~ndev->db_mask;
	ndev->db_held &= ~db_bits;
	if (unmask)
		plx_nt_wr(ndev, plx_db_reg(ndev, PLX_NT_DB_MASK_CLEAR,
					   PLX_NT_LDB_MASK_CLEAR), unmask);
	spin_unlock_irqrestore(&ndev->lock, flags);
	return 0;
}

static u64 plx_ntb_db_read_mask(struct ntb_dev *ntb)
{
	return READ_ONCE(to_plx(ntb)->db_mask);
}

static int plx_ntb_db_set_mask(struct ntb_dev *ntb, u64 db_bits)
{
	struct plx_ntb_dev *ndev = to_plx(ntb);
	unsigned long flags;

	if (db_bits & ~PLX_DB_MASK)
		return -EINVAL;
	spin_lock_irqsave(&ndev->lock, flags);
	ndev->db_mask |= db_bits;
	plx_nt_wr(ndev, plx_db_reg(ndev, PLX_NT_DB_MASK_SET, PLX_NT_LDB_MASK_SET),
		  db_bits);
	spin_unlock_irqrestore(&ndev->lock, flags);
	return 0;
}

static int plx_ntb_db_clear_mask(struct ntb_dev *ntb, u64 db_bits)
{
	struct plx_ntb_dev *ndev = to_plx(ntb);
	unsigned long flags;
	u64 unmask;

	if (db_bits & ~PLX_DB_MASK)
		return -EINVAL;
	spin_lock_irqsave(&ndev->lock, flags);
	ndev->db_mask &= ~db_bits;
	unmask = db_bits & ~ndev->db_held;
	if (unmask)
		plx_nt_wr(ndev, plx_db_reg(ndev, PLX_NT_DB_MASK_CLEAR,
					   PLX_NT_LDB_MASK_CLEAR), unmask);
	spin_unlock_irqrestore(&ndev->lock, flags);
	return 0;
}

/* Offset, in the register space of plx_peer_regs(), of the peer's DB set */
static u32 plx_peer_db_off(struct plx_ntb_dev *ndev)
{
	if (plx_is_b2b(ndev) || plx_is_mp(ndev))
		return ndev->nt_base + PLX_NT_DB_SET;
	/* One chip: ring the other interface of our own NT port */
	return plx_our_page(ndev) + (ndev->link ? PLX_NT_DB_SET : PLX_NT_LDB_SET);
}

static int plx_ntb_peer_db_addr(struct ntb_dev *ntb, phys_addr_t *db_addr,
				resource_size_t *db_size, u64 *db_data,
				int db_bit)
{
	struct plx_ntb_dev *ndev = to_plx(ntb);
	struct pci_dev *pdev = ntb->pdev;
	phys_addr_t base;

	if (db_bit < 0 || db_bit >= PLX_DB_COUNT)
		return -EINVAL;

	if (plx_is_mp(ndev))
		base = ndev->mw[0].phys +
		       (PLX_MP_SLOTS + ndev->peers[0].port) * plx_mp_slot(ndev);
	else if (plx_is_b2b(ndev))
		base = ndev->mw[ndev->b2b_mw].phys;
	else
		base = pci_resource_start(pdev, 0);

	if (db_addr)
		*db_addr = base + plx_peer_db_off(ndev);
	if (db_size)
		*db_size = sizeof(u32);
	if (db_data)
		*db_data = BIT_ULL(db_bit);
	return 0;
}

static int plx_ntb_peer_db_set(struct ntb_dev *ntb, u64 db_bits)
{
	struct plx_ntb_dev *ndev = to_plx(ntb);
	int pidx;

	if (db_bits & ~PLX_DB_MASK)
		return -EINVAL;
	for (pidx = 0; pidx < plx_ntb_peer_port_count(ntb); pidx++)
		plx_iowrite(plx_peer_regs(ndev, pidx), plx_peer_db_off(ndev),
			    db_bits);
	return 0;
}

/*=============================================================================
 *                      11. NTB operations: scratchpads
 *=============================================================================
 */

static int plx_ntb_spad_count(struct ntb_dev *ntb)
{
	struct plx_ntb_dev *ndev = to_plx(ntb);

	return ndev->spad_cnt + ndev->tpat_cnt;
}

static u32 plx_ntb_spad_read(struct ntb_dev *ntb, int sidx)
{
	struct plx_ntb_dev *ndev = to_plx(ntb);
	u32 off;

	if (plx_spad_off(ndev, sidx, false, &off))
		return ~0U;
	return plx_rd(ndev, off);
}

static int plx_ntb_spad_write(struct ntb_dev *ntb, int sidx, u32 val)
{
	struct plx_ntb_dev *ndev = to_plx(ntb);
	int ret, t;
	u32 off;

	ret = plx_spad_off(ndev, sidx, false, &off);
	if (ret)
		return ret;
	if (sidx < ndev->spad_cnt) {
		plx_wr(ndev, off, val);
		return 0;
	}
	for (t = 0; t < PLX_TESTPAT_TRIES; t++) {
		plx_wr(ndev, off, val);
		if (plx_rd(ndev, off) == val)
			return 0;
		udelay(1);
	}
	dev_err_ratelimited(&ntb->dev, "scratchpad %d stays read-only\n", sidx);
	return -EIO;
}

static u32 plx_ntb_peer_spad_read(struct ntb_dev *ntb, int pidx, int sidx)
{
	struct plx_ntb_dev *ndev = to_plx(ntb);
	void __iomem *regs = plx_peer_regs(ndev, pidx);
	u32 off;

	if (!regs || plx_spad_off(ndev, sidx, true, &off))
		return ~0U;
	return plx_ioread(regs, off);
}

static int plx_ntb_peer_spad_write(struct ntb_dev *ntb, int pidx, int sidx,
				   u32 val)
{
	struct plx_ntb_dev *ndev = to_plx(ntb);
	void __iomem *regs = plx_peer_regs(ndev, pidx);
	u32 off;
	int ret;

	if (!regs)
		return -EINVAL;
	ret = plx_spad_off(ndev, sidx, true, &off);
	if (ret)
		return ret;
	plx_iowrite(regs, off, val);
	return 0;
}

static const struct ntb_dev_ops plx_ntb_ops = {
	.port_number		= plx_ntb_port_number,
	.peer_port_count	= plx_ntb_peer_port_count,
	.peer_port_number	= plx_ntb_peer_port_number,
	.peer_port_idx		= plx_ntb_peer_port_idx,
	.link_is_up		= plx_ntb_link_is_up,
	.link_enable		= plx_ntb_link_enable,
	.link_disable		= plx_ntb_link_disable,
	.mw_count		= plx_ntb_mw_count,
	.mw_get_align		= plx_ntb_mw_get_align,
	.mw_set_trans		= plx_ntb_mw_set_trans,
	.mw_clear_trans		= plx_ntb_mw_clear_trans,
	.peer_mw_count		= plx_ntb_peer_mw_count,
	.peer_mw_get_addr	= plx_ntb_peer_mw_get_addr,
	.db_valid_mask		= plx_ntb_db_valid_mask,
	.db_vector_count	= plx_ntb_db_vector_count,
	.db_vector_mask		= plx_ntb_db_vector_mask,
	.db_read		= plx_ntb_db_read,
	.db_set			= plx_ntb_db_set,
	.db_clear		= plx_ntb_db_clear,
	.db_read_mask		= plx_ntb_db_read_mask,
	.db_set_mask		= plx_ntb_db_set_mask,
	.db_clear_mask		= plx_ntb_db_clear_mask,
	.peer_db_addr		= plx_ntb_peer_db_addr,
	.peer_db_set		= plx_ntb_peer_db_set,
	.spad_count		= plx_ntb_spad_count,
	.spad_read		= plx_ntb_spad_read,
	.spad_write		= plx_ntb_spad_write,
	.peer_spad_read		= plx_ntb_peer_spad_read,
	.peer_spad_write	= plx_ntb_peer_spad_write,
};

/*=============================================================================
 *                           12. Probe and remove
 *
 * Probe finds out which interface of which NT port it is bound to, maps the
 * chip registers, collects the data BARs, picks the mode, sets the chip up,
 * takes the interrupt and registers with the NTB core; every step is undone
 * in reverse order when a later one fails, and at remove.
 *=============================================================================
 */

static void plx_find_mws(struct plx_ntb_dev *ndev)
{
	struct pci_dev *pdev = ndev->ntb.pdev;
	struct plx_mw *mw;
	unsigned long flags;
	int bar;

	ndev->mw_cnt = 0;
	for (bar = 2; bar <= 5; bar++) {
		flags = pci_resource_flags(pdev, bar);
		if (!(flags & IORESOURCE_MEM) || !pci_resource_len(pdev, bar))
			continue;
		mw = &ndev->mw[ndev->mw_cnt++];
		mw->bar = bar;
		mw->is64 = !!(flags & IORESOURCE_MEM_64);
		mw->phys = pci_resource_start(pdev, bar);
		mw->size = pci_resource_len(pdev, bar);
		if (mw->is64)
			bar++;
	}
}

/* Multi-peer mode: check the BAR layout, list the peers, map their registers */
static int plx_mp_init(struct plx_ntb_dev *ndev)
{
	struct device *dev = &ndev->ntb.pdev->dev;
	struct plx_mw *mw = &ndev->mw[0];
	unsigned int n = 0, i, q;
	bool self = false;

	if (ndev->link || !ndev->alut || !ndev->mw_cnt || mw->bar != 2 ||
	    !mw->is64 || mw->size < SZ_16M || !is_power_of_2(mw->size)) {
		dev_err(dev, "multi-peer mode needs a 64-bit BAR2 of at least 16 MB and an A-LUT\n");
		return -EINVAL;
	}
	if (peers > PLX_MAX_PEERS || (nr_ports && nr_ports != peers + 1)) {
		dev_err(dev, "peers=%u and %d ports do not match\n", peers, nr_ports);
		return -EINVAL;
	}

	for (i = 0; i <= peers; i++) {
		q = nr_ports ? ports[i] : i;
		if (q >= PLX_MP_SLOTS) {
			dev_err(dev, "port %u out of range\n", q);
			return -EINVAL;
		}
		if (q == ndev->port) {
			self = true;
			continue;
		}
		if (n == peers) {
			dev_err(dev, "own port %u is not in the port list\n",
				ndev->port);
			ndev->npeers = 0;
			return -EINVAL;
		}
		if (plx_mp_find(ndev, q)) {
			dev_err(dev, "port %u listed twice\n", q);
			ndev->npeers = 0;
			return -EINVAL;
		}
		ndev->peers[n++].port = q;
		ndev->npeers = n;
	}
	if (!self) {
		dev_err(dev, "own port %u is not in the port list\n", ndev->port);
		ndev->npeers = 0;
		return -EINVAL;
	}

	for (i = 0; i < ndev->npeers; i++) {
		ndev->peers[i].regs =
			ioremap(mw->phys + (PLX_MP_SLOTS + ndev->peers[i].port) *
				plx_mp_slot(ndev), PLX_CONF_SIZE);
		if (!ndev->peers[i].regs)
			goto err_unmap;
	}
	return 0;

err_unmap:
	while (i--)
		iounmap(ndev->peers[i].regs);
	ndev->npeers = 0;
	return -ENOMEM;
}

static void plx_mp_deinit(struct plx_ntb_dev *ndev)
{
	int i;

	for (i = 0; i < ndev->npeers; i++)
		iounmap(ndev->peers[i].regs);
}

static int plx_init_mode(struct plx_ntb_dev *ndev)
{
	struct device *dev = &ndev->ntb.pdev->dev;
	struct plx_mw *mw;

	ndev->b2b_mw = -1;
	ndev->b2b_off = 0;
	ndev->split = 0;

	if (ndev->link) {
		dev_info(dev, "NTB-to-root-port mode (link interface)\n");
	} else if (peers) {
		dev_info(dev, "multi-peer mode, %u peers\n", peers);
		return plx_mp_init(ndev);
	} else if (!b2b) {
		dev_info(dev, "NTB-to-root-port mode (virtual interface)\n");
	} else {
		if (!ndev->mw_cnt) {
			dev_err(dev, "back-to-back mode needs a data BAR\n");
			return -ENODEV;
		}
		ndev->b2b_mw = ndev->mw_cnt - 1;
		mw = &ndev->mw[ndev->b2b_mw];
		if (mw->size >= 2 * SZ_1M)
			ndev->b2b_off = mw->size / 2;
		ndev->rmt = ioremap(mw->phys, PLX_CONF_SIZE);
		if (!ndev->rmt)
			return -ENOMEM;
		dev_info(dev, "back-to-back mode, peer registers through BAR%d\n",
			 mw->bar);
	}

	if (split > 7)
		dev_warn(dev, "split=%u too large, not splitting\n", split);
	else if (split && !ndev->alut)
		dev_warn(dev, "no A-LUT, not splitting\n");
	else if (split && (!ndev->mw_cnt || ndev->mw[0].bar != 2))
		dev_warn(dev, "BAR2 disabled, not splitting\n");
	else if (split && ndev->b2b_mw == 0 && !ndev->b2b_off)
		dev_warn(dev, "BAR2 taken by back-to-back mode, not splitting\n");
	else if (split)
		ndev->split = split;
	if (ndev->split)
		dev_info(dev, "BAR2 split into %u windows\n", 1U << ndev->split);
	return 0;
}

static void plx_deinit_mode(struct plx_ntb_dev *ndev)
{
	if (plx_is_mp(ndev))
		plx_mp_deinit(ndev);
	if (ndev->rmt)
		iounmap(ndev->rmt);
	ndev->rmt = NULL;
	ndev->npeers = 0;
}

/* Close every inbound window (at remove: clients have gone) */
static void plx_close_windows(struct plx_ntb_dev *ndev)
{
	int i;

	mutex_lock(&ndev->cfg_mutex);
	for (i = 0; i < ndev->npeers; i++) {
		ndev->peers[i].xlat.addr = 0;
		ndev->peers[i].xlat.size = 0;
		plx_mp_in_slot(ndev, ndev->peers[i].port, NULL);
	}
	if (!plx_is_mp(ndev)) {
		for (i = 0; i < ndev->mw_cnt; i++) {
			memset(ndev->mw[i].xlat, 0, sizeof(ndev->mw[i].xlat));
			plx_mw_program(ndev, i);
		}
	}
	mutex_unlock(&ndev->cfg_mutex);
}

static int plx_identify(struct plx_ntb_dev *ndev)
{
	struct pci_dev *pdev = ndev->ntb.pdev;
	u32 id, val;

	/* Needs extended config space; the device ID tells the same */
	if (pci_read_config_dword(pdev, PLX_CFG_NT_ID, &id) || id == ~0U) {
		dev_warn(&pdev->dev, "no config register 0x%x, using the device ID\n",
			 PLX_CFG_NT_ID);
		id = 0;
		if (pdev->device == PLX_DEVID_NT1_VIRT ||
		    pdev->device == PLX_DEVID_NT1_LINK)
			id |= PLX_CFG_NT_ID_NT1;
		if (pdev->device == PLX_DEVID_NT0_LINK ||
		    pdev->device == PLX_DEVID_NT1_LINK)
			id |= PLX_CFG_NT_ID_LINK;
	}
	ndev->ntx = id & PLX_CFG_NT_ID_NT1 ? 1 : 0;
	ndev->link = !!(id & PLX_CFG_NT_ID_LINK);
	ndev->nt_base = ndev->ntx ? PLX_NT1_BASE : PLX_NT0_BASE;

	val = plx_rd(ndev, PLX_NT_PORTS);
	if (val == ~0U)
		return -EIO;
	ndev->port = (val >> (ndev->ntx ? PLX_NT_PORTS_NT1_SHIFT :
			      PLX_NT_PORTS_NT0_SHIFT)) & PLX_NT_PORTS_PORT_MASK;
	val >>= PLX_NT_PORTS_ALUT_SHIFT;
	if (val == 3)
		ndev->alut = 1;
	else if (val & BIT(ndev->ntx))
		ndev->alut = 2;
	else
		ndev->alut = 0;

	dev_info(&pdev->dev, "NT%u %s interface, port %u, %u A-LUT entries\n",
		 ndev->ntx, ndev->link ? "link" : "virtual", ndev->port,
		 plx_alut_cnt(ndev));
	return 0;
}

static int plx_ntb_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct plx_ntb_dev *ndev;
	int ret;

	ndev = kzalloc(sizeof(*ndev), GFP_KERNEL);
	if (!ndev)
		return -ENOMEM;
	ndev->ntb.pdev = pdev;
	ndev->ntb.ops = &plx_ntb_ops;
	mutex_init(&ndev->cfg_mutex);
	spin_lock_init(&ndev->lock);
	INIT_DELAYED_WORK(&ndev->link_work, plx_link_work);
	/* No link work until the NTB device is registered */
	ndev->stopping = true;
	pci_set_drvdata(pdev, ndev);

	ret = pci_enable_device(pdev);
	if (ret)
		goto err_free;
	ret = pci_request_regions(pdev, NTB_NAME);
	if (ret)
		goto err_disable;
	pci_set_master(pdev);
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (ret)
		ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(32));
	if (ret)
		goto err_release;

	if (!(pci_resource_flags(pdev, 0) & IORESOURCE_MEM) ||
	    pci_resource_len(pdev, 0) < PLX_CONF_SIZE) {
		dev_err(&pdev->dev, "BAR0 is not the 256 KB register space\n");
		ret = -ENODEV;
		goto err_release;
	}
	ndev->cfg = pci_iomap(pdev, 0, PLX_CONF_SIZE);
	if (!ndev->cfg) {
		ret = -ENOMEM;
		goto err_release;
	}

	ret = plx_identify(ndev);
	if (ret)
		goto err_unmap;
	plx_find_mws(ndev);
	ret = plx_init_mode(ndev);
	if (ret)
		goto err_unmap;
	plx_setup_spads(ndev);

	mutex_lock(&ndev->cfg_mutex);
	plx_setup_chip(ndev);
	mutex_unlock(&ndev->cfg_mutex);

	ret = plx_setup_irq(ndev);
	if (ret)
		goto err_mode;

	if (plx_is_mp(ndev))
		ndev->ntb.topo = NTB_TOPO_SWITCH;
	else if (plx_is_b2b(ndev))
		ndev->ntb.topo = NTB_TOPO_CROSSLINK;
	else
		ndev->ntb.topo = ndev->link ? NTB_TOPO_SEC : NTB_TOPO_PRI;

	ndev->link_up = plx_link_state(ndev, NULL, NULL) != 0;
	ret = ntb_register_device(&ndev->ntb);
	if (ret)
		goto err_irq;
	WRITE_ONCE(ndev->stopping, false);
	/* At once if a link error came in meanwhile */
	schedule_delayed_work(&ndev->link_work, READ_ONCE(ndev->reinit) ? 0 :
			      msecs_to_jiffies(PLX_LINK_POLL_MS));

	dev_info(&pdev->dev, "%d memory windows, %d scratchpads, %d doorbells\n",
		 plx_ntb_peer_mw_count(&ndev->ntb),
		 plx_ntb_spad_count(&ndev->ntb), PLX_DB_COUNT);
	return 0;

err_irq:
	plx_teardown_irq(ndev);
err_mode:
	plx_deinit_mode(ndev);
err_unmap:
	pci_iounmap(pdev, ndev->cfg);
err_release:
	pci_clear_master(pdev);
	pci_release_regions(pdev);
err_disable:
	pci_disable_device(pdev);
err_free:
	pci_set_drvdata(pdev, NULL);
	kfree(ndev);
	return ret;
}

static void plx_ntb_remove(struct pci_dev *pdev)
{
	struct plx_ntb_dev *ndev = pci_get_drvdata(pdev);

	/* Unbinds the clients; ops keep working until it returns */
	ntb_unregister_device(&ndev->ntb);

	/* No new link work, then no handler that could queue it, then none */
	WRITE_ONCE(ndev->stopping, true);
	plx_teardown_irq(ndev);
	cancel_delayed_work_sync(&ndev->link_work);
	plx_close_windows(ndev);
	plx_deinit_mode(ndev);
	pci_iounmap(pdev, ndev->cfg);
	pci_clear_master(pdev);
	pci_release_regions(pdev);
	pci_disable_device(pdev);
	pci_set_drvdata(pdev, NULL);
	kfree(ndev);
}

static const struct pci_device_id plx_ntb_pci_tbl[] = {
	{ PCI_VDEVICE(PLX, PLX_DEVID_NT0_LINK) },
	{ PCI_VDEVICE(PLX, PLX_DEVID_NT1_LINK) },
	{ PCI_VDEVICE(PLX, PLX_DEVID_NT0_VIRT) },
	{ PCI_VDEVICE(PLX, PLX_DEVID_NT1_VIRT) },
	{ 0 }
};
MODULE_DEVICE_TABLE(pci, plx_ntb_pci_tbl);

static struct pci_driver plx_ntb_pci_driver = {
	.name		= KBUILD_MODNAME,
	.id_table	= plx_ntb_pci_tbl,
	.probe		= plx_ntb_probe,
	.remove		= plx_ntb_remove,
};
module_pci_driver(plx_ntb_pci_driver);
