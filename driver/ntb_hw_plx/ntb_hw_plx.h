/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Broadcom (PLX) PEX87xx NT endpoint: register map used by ntb_hw_plx.
 *
 * All offsets are into the chip's 256 KB register space, which an NT
 * endpoint exposes through its BAR0.  Registers of one NT interface live in a
 * 4 KB page; "NT" offsets below are relative to that page.
 */
#ifndef NTB_HW_PLX_H
#define NTB_HW_PLX_H

#include <linux/bits.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/sizes.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/workqueue.h>
#include <linux/ntb.h>

/* PCI device IDs (vendor PCI_VENDOR_ID_PLX) */
#define PLX_DEVID_NT0_LINK		0x87a0
#define PLX_DEVID_NT1_LINK		0x87a1
#define PLX_DEVID_NT0_VIRT		0x87b0
#define PLX_DEVID_NT1_VIRT		0x87b1

/* Chip register space: BAR0 of an NT endpoint, 32-bit registers */
#define PLX_CONF_SIZE			SZ_256K

/* Pages of the two NT interfaces; the link page follows the virtual one */
#define PLX_NT0_BASE			0x3e000
#define PLX_NT1_BASE			0x3c000
#define PLX_NT_LINK_OFF			0x01000
#define PLX_NT_PAGE_SIZE		0x01000

/* Per-port pages: port p has its registers at p << 12 */
#define PLX_PORT_BASE(p)		((u32)(p) << 12)
/* Station port control: one per 8 ports, bit (port & 7) set = port disabled */
#define PLX_PORT_CTL(p)			(PLX_PORT_BASE((p) & ~7) + 0x208)
/* Physical layer user test pattern, 4 x 32 bits: used as extra scratchpads */
#define PLX_PORT_TESTPAT(p)		(PLX_PORT_BASE(p) + 0x20c)

/* Chip-wide: NT port numbers and A-LUT configuration */
#define PLX_NT_PORTS			0x360
#define PLX_NT_PORTS_NT0_SHIFT		8
#define PLX_NT_PORTS_NT1_SHIFT		16
#define PLX_NT_PORTS_PORT_MASK		0x1f
#define PLX_NT_PORTS_ALUT_SHIFT		30

/*
 * A-LUT: translation entries for BAR2 of one interface, 32-bit lower
 * address, upper address at + 0x400, permission at + 0x800.  Entries 128..255
 * (256-entry mode) sit 0xe00 further.  The table of the virtual interface
 * comes first, the link interface's one PLX_ALUT_TBL_SIZE later.
 */
#define PLX_ALUT_BASE			0x38000
#define PLX_ALUT_TBL_SIZE		0x1000
#define PLX_ALUT_HI			0x400
#define PLX_ALUT_PERM			0x800
#define PLX_ALUT_HIGH_OFF		0xe00
#define PLX_ALUT_PERM_RW		0x3
#define PLX_ALUT_ENTRIES		128

/* Which side am I: config space register, also at NT page + 0xc8c */
#define PLX_CFG_NT_ID			0xc8c
#define PLX_CFG_NT_ID_NT1		BIT(0)
#define PLX_CFG_NT_ID_LINK		BIT(31)

/* NT page registers: PCI header mirror */
#define PLX_NT_COMMAND			0x004
#define PLX_NT_BAR(n)			(0x010 + (n) * 4)
#define PLX_NT_BAR_MEM64		0x4

/* NT page registers: BAR setup (size mask and type of the BARs of this side) */
#define PLX_NT_BAR0_SETUP		0x0e4
#define PLX_NT_BAR0_SETUP_32		0x2
#define PLX_NT_BAR0_SETUP_64		0x3
#define PLX_NT_BAR_SETUP(bar)		(0x0e8 + ((bar) - 2) * 4)
#define PLX_NT_BAR_SETUP_64		0xc
#define PLX_NT_BAR_SETUP_RSVD		GENMASK_ULL(19, 0)	/* 1 MB minimum */
#define PLX_BAR_MIN_SIZE		SZ_1M

/* NT page registers: translation of the hits on this side's data BARs */
#define PLX_NT_BAR_XLAT(bar)		(0xc3c + ((bar) - 2) * 4)

/*
 * NT page registers: doorbells.  The virtual page holds both sets: the
 * virtual interface's (to its host) and the link interface's.
 */
#define PLX_NT_DB_SET			0xc4c	/* virtual side IRQ set */
#define PLX_NT_DB_CLEAR			0xc50	/* write 1 to clear */
#define PLX_NT_DB_MASK_SET		0xc54
#define PLX_NT_DB_MASK_CLEAR		0xc58
#define PLX_NT_LDB_SET			0xc5c	/* link side IRQ set */
#define PLX_NT_LDB_CLEAR		0xc60
#define PLX_NT_LDB_MASK_SET		0xc64
#define PLX_NT_LDB_MASK_CLEAR		0xc68
#define PLX_DB_COUNT			16
#define PLX_DB_MASK			GENMASK_ULL(PLX_DB_COUNT - 1, 0)

/* NT page registers: scratchpads */
#define PLX_NT_SPAD(i)			(0xc6c + (i) * 4)
#define PLX_SPAD_COUNT			8
#define PLX_SPAD_TESTPAT_COUNT		4
#define PLX_SPAD_MAX			(PLX_SPAD_COUNT + PLX_SPAD_TESTPAT_COUNT)

/* NT page registers: requester ID read-back, A-LUT control */
#define PLX_NT_RID			0xc90
#define PLX_NT_ALUT_CTL			0xc94
#define PLX_NT_ALUT_CTL_EN		BIT(28)

/*
 * NT page registers: requester ID LUT, two 16-bit entries per register:
 * bit 0 enable, bits 15:1 the requester ID bits they match.
 */
#define PLX_NT_VRID_LUT(i)		(0xd94 + (i) * 4)
#define PLX_NT_LRID_LUT(i)		(0xdb4 + (i) * 4)
#define PLX_NT_LRID_LUT_REGS		16
#define PLX_RID_LUT_EN			0x00010001

/* Virtual page: link error status (write 1 to clear) and mask */
#define PLX_NT_LERR_STS			0xfe0
#define PLX_NT_LERR_MASK		0xfe4
#define PLX_LERR_CORR			BIT(0)
#define PLX_LERR_UNCORR			BIT(1)
#define PLX_LERR_DL_DOWN		BIT(2)
#define PLX_LERR_UR_DROP		BIT(3)
#define PLX_LERR_ALL			GENMASK(3, 0)

/*
 * Link addresses in back-to-back mode: the virtual->link translation of data
 * BAR n sends its hits to n * PLX_B2B_ADDR64 (64-bit BARs) or
 * n * PLX_B2B_ADDR32 (32-bit BARs) in the link space between the two chips;
 * the peer's link BARs are placed there.
 */
#define PLX_B2B_ADDR64			0x2000000000000000ULL
#define PLX_B2B_ADDR32			0x20000000U

/*
 * Multi-peer mode: fabric address of the link BARs of the node whose NT port
 * number is p (see docs/driver-ntb_hw_plx.md):
 *   link BAR0 (chip registers)  PLX_MP_BASE + p * PLX_MP_STRIDE
 *   link BAR2 (inbound window)  PLX_MP_BASE + p * PLX_MP_STRIDE + PLX_MP_BAR2
 * Virtual BAR2 and the inbound link BAR2 are cut into PLX_MP_SLOTS slots,
 * one per possible port number.
 */
#define PLX_MP_BASE			0x2000000000000000ULL
#define PLX_MP_STRIDE			BIT_ULL(36)
#define PLX_MP_BAR2			BIT_ULL(35)
#define PLX_MP_SLOTS			32
#define PLX_MAX_PEERS			(PLX_MP_SLOTS - 1)

#define PLX_MAX_BARS			4	/* data BARs 2..5 */
#define PLX_MAX_SPLIT			128
#define PLX_LINK_POLL_MS		1000

/**
 * struct plx_xlat - inbound translation of one (part of a) memory window
 * @addr:	local DMA address peers' writes land at
 * @size:	bytes that may be reached, 0 = closed
 */
struct plx_xlat {
	dma_addr_t addr;
	resource_size_t size;
};

/**
 * struct plx_mw - one data BAR of the virtual (or link) interface
 * @bar:	BAR number, 2..5
 * @is64:	64-bit BAR (takes @bar and @bar + 1)
 * @phys:	bus address of the BAR as seen by this host
 * @size:	BAR size
 * @xlat:	inbound translations: one per split part of the BAR
 */
struct plx_mw {
	int bar;
	bool is64;
	phys_addr_t phys;
	resource_size_t size;
	struct plx_xlat xlat[PLX_MAX_SPLIT];
};

/**
 * struct plx_peer - a peer in multi-peer mode
 * @port:	its NT port number
 * @regs:	its chip registers, through our virtual BAR2
 * @xlat:	our inbound window for it
 */
struct plx_peer {
	int port;
	void __iomem *regs;
	struct plx_xlat xlat;
};

/**
 * struct plx_ntb_dev - driver state of one NT endpoint
 * @ntb:	NTB device registered with the NTB core
 * @cfg:	BAR0: the chip's register space
 * @rmt:	back-to-back mode: the peer chip's register space
 * @ntx:	NT0 or NT1
 * @link:	bound to the link interface (NTB-to-root-port mode)
 * @port:	chip port number of this NT port
 * @nt_base:	page of this NT port's virtual interface
 * @alut:	A-LUT entries per interface / 128 (0 = no A-LUT)
 * @split:	BAR2 is split into 2^@split windows
 * @mw:		data BARs found
 * @mw_cnt:	number of entries in @mw
 * @b2b_mw:	back-to-back mode: index in @mw reaching the peer registers,
 *		-1 otherwise
 * @b2b_off:	offset of the user part of that BAR (0: all taken)
 * @spad_cnt:	scratchpads in the NT page
 * @tpat_cnt:	scratchpads in the test pattern registers
 * @spad_off:	our NT page scratchpads
 * @tpat_off:	our test pattern scratchpads
 * @pspad_off:	the peer's NT page scratchpads (in @rmt or @cfg)
 * @ptpat_off:	the peer's test pattern scratchpads
 * @npeers:	multi-peer mode: number of peers, 0 otherwise
 * @peers:	multi-peer mode: the peers, by peer index
 * @cfg_mutex:	serialises window and chip set-up (process context)
 * @lock:	protects @db_mask, @db_held and port control updates
 * @db_mask:	doorbell bits masked by the client
 * @db_held:	doorbell bits masked by the ISR until the client clears them
 * @link_up:	link state last reported
 * @link_work:	link state poll
 * @reinit:	the link went down: the link side must be set up again
 * @stopping:	no link work: before registration and from teardown on
 */
struct plx_ntb_dev {
	struct ntb_dev ntb;
	void __iomem *cfg;
	void __iomem *rmt;

	unsigned int ntx;
	bool link;
	unsigned int port;
	u32 nt_base;
	unsigned int alut;
	unsigned int split;

	struct plx_mw mw[PLX_MAX_BARS];
	int mw_cnt;
	int b2b_mw;
	resource_size_t b2b_off;

	int spad_cnt;
	int tpat_cnt;
	u32 spad_off;
	u32 tpat_off;
	u32 pspad_off;
	u32 ptpat_off;

	int npeers;
	struct plx_peer peers[PLX_MAX_PEERS];

	struct mutex cfg_mutex;	/* window and chip set-up */
	spinlock_t lock;	/* doorbell state, port control */
	u64 db_mask;
	u64 db_held;
	bool link_up;
	struct delayed_work link_work;
	bool reinit;
	bool stopping;
};

#define to_plx(__ntb) container_of(__ntb, struct plx_ntb_dev, ntb)

#endif /* NTB_HW_PLX_H */
