/*
 * ntblab: PEX8749 NT endpoint front end (virtual side of NT0).
 *
 * This is the QEMU half of one node's link to the ntblab switch process.
 * ARCHITECTURE.md decision 4: the front end is thin.  Config-space meaning,
 * register behaviour and timing belong to the SystemC model; this device
 * only provides the PCI Express shape a driver probes (IDs, BARs, INTx pin,
 * PCIe capability) and will forward BAR accesses over the link.
 *
 * STATUS (skeleton): the link is not connected yet.  The "chardev" property
 * is accepted and kept, but nothing is sent on it; every BAR read returns
 * all ones and every write is dropped (see the TODOs in the MMIO ops).
 *
 * Placement: put the device behind a pcie-root-port on q35.  Plugged
 * straight into pcie.0, QEMU turns the Endpoint into a Root Complex
 * Integrated Endpoint, for which Linux reports Link Status 0.
 *
 *   -device pcie-root-port,id=rp0,bus=pcie.0,chassis=1,slot=0
 *   -device pex8749-nt,bus=rp0,chardev=swlink0,bar2-size=16M,bar4-size=16M
 *
 * Layout follows hw/misc/edu.c: type, state, interrupts, MMIO ops,
 * realize, class_init.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qemu/log.h"
#include "qemu/module.h"
#include "qapi/error.h"
#include "hw/pci/pci.h"
#include "hw/pci/pcie.h"
#include "hw/qdev-properties.h"
#include "hw/qdev-properties-system.h"
#include "chardev/char-fe.h"
#include "qom/object.h"

/* ---- type ------------------------------------------------------------ */

#define TYPE_PEX8749_NT "pex8749-nt"
OBJECT_DECLARE_SIMPLE_TYPE(Pex8749NtState, PEX8749_NT)

#define PEX_VENDOR_ID           0x10b5  /* PLX Technology (Broadcom) */
#define PEX_DEVICE_ID_NT0_VIRT  0x87b0  /* PEX8749 NT0 virtual interface */
#define PEX_REVISION            0xaa    /* placeholder until the model owns config space */

#define PEX_BAR_REGS            0       /* whole 256 KB chip register map */
#define PEX_BAR_MW1             2       /* 64-bit prefetchable memory window */
#define PEX_BAR_MW2             4       /* 64-bit prefetchable memory window */

#define PEX_REGS_SIZE           (256 * KiB)
#define PEX_MW_MIN_SIZE         (1 * MiB)   /* chip minimum for BAR2..5 */
#define PEX_MW_DEFAULT_SIZE     (16 * MiB)

/* Offset of the PCI Express capability in config space. */
#define PEX_PCIE_CAP_OFFSET     0x68

/* ---- state ----------------------------------------------------------- */

struct Pex8749NtState {
    PCIDevice parent_obj;

    MemoryRegion regs;          /* BAR0 */
    MemoryRegion mw[2];         /* BAR2, BAR4 */

    /* properties */
    CharBackend link;           /* switch link; not used yet */
    uint64_t mw_size[2];        /* "bar2-size", "bar4-size" */
};

/* ---- interrupts ------------------------------------------------------ */

/*
 * INTx only (ARCHITECTURE.md decision 5).  The switch model will send the
 * INTx level over the link; pex_set_intx() is the one place that drives it.
 */
static void G_GNUC_UNUSED pex_set_intx(Pex8749NtState *s, bool level)
{
    pci_set_irq(PCI_DEVICE(s), level);
}

/* ---- MMIO ops -------------------------------------------------------- */

static uint64_t pex_bar_read(Pex8749NtState *s, int bar, hwaddr addr,
                             unsigned size)
{
    /*
     * TODO(link): forward as a non-posted read to the switch process and
     * wait for the completion.  Until then: all ones, like a read to a
     * device that does not answer.
     */
    qemu_log_mask(LOG_UNIMP, "%s: BAR%d read 0x%" HWADDR_PRIx " size %u: "
                  "no switch link yet, returning all ones\n",
                  TYPE_PEX8749_NT, bar, addr, size);
    return size == 8 ? UINT64_MAX : MAKE_64BIT_MASK(0, size * 8);
}

static void pex_bar_write(Pex8749NtState *s, int bar, hwaddr addr,
                          uint64_t val, unsigned size)
{
    /* TODO(link): forward as a posted write to the switch process. */
    qemu_log_mask(LOG_UNIMP, "%s: BAR%d write 0x%" HWADDR_PRIx " size %u "
                  "val 0x%" PRIx64 ": no switch link yet, dropped\n",
                  TYPE_PEX8749_NT, bar, addr, size, val);
}

static uint64_t pex_regs_read(void *opaque, hwaddr addr, unsigned size)
{
    return pex_bar_read(opaque, PEX_BAR_REGS, addr, size);
}

static void pex_regs_write(void *opaque, hwaddr addr, uint64_t val,
                           unsigned size)
{
    pex_bar_write(opaque, PEX_BAR_REGS, addr, val, size);
}

static uint64_t pex_mw1_read(void *opaque, hwaddr addr, unsigned size)
{
    return pex_bar_read(opaque, PEX_BAR_MW1, addr, size);
}

static void pex_mw1_write(void *opaque, hwaddr addr, uint64_t val,
                          unsigned size)
{
    pex_bar_write(opaque, PEX_BAR_MW1, addr, val, size);
}

static uint64_t pex_mw2_read(void *opaque, hwaddr addr, unsigned size)
{
    return pex_bar_read(opaque, PEX_BAR_MW2, addr, size);
}

static void pex_mw2_write(void *opaque, hwaddr addr, uint64_t val,
                          unsigned size)
{
    pex_bar_write(opaque, PEX_BAR_MW2, addr, val, size);
}

/* Chip registers are 32-bit; byte and word access is legal PCIe. */
static const MemoryRegionOps pex_regs_ops = {
    .read = pex_regs_read,
    .write = pex_regs_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 4 },
    .impl = { .min_access_size = 1, .max_access_size = 4 },
};

/* Memory windows: memcpy_toio()/memcpy_fromio() use up to 8 bytes. */
static const MemoryRegionOps pex_mw_ops[2] = {
    {
        .read = pex_mw1_read,
        .write = pex_mw1_write,
        .endianness = DEVICE_LITTLE_ENDIAN,
        .valid = { .min_access_size = 1, .max_access_size = 8 },
        .impl = { .min_access_size = 1, .max_access_size = 8 },
    },
    {
        .read = pex_mw2_read,
        .write = pex_mw2_write,
        .endianness = DEVICE_LITTLE_ENDIAN,
        .valid = { .min_access_size = 1, .max_access_size = 8 },
        .impl = { .min_access_size = 1, .max_access_size = 8 },
    },
};

/* ---- realize --------------------------------------------------------- */

static void pex_realize(PCIDevice *pdev, Error **errp)
{
    Pex8749NtState *s = PEX8749_NT(pdev);
    static const int mw_bar[2] = { PEX_BAR_MW1, PEX_BAR_MW2 };
    static const char *const mw_name[2] = { "pex8749-nt-bar2",
                                            "pex8749-nt-bar4" };
    int i;

    for (i = 0; i < 2; i++) {
        if (s->mw_size[i] < PEX_MW_MIN_SIZE || !is_power_of_2(s->mw_size[i])) {
            error_setg(errp, "%s: bar%d-size must be a power of two "
                       ">= 1 MiB (got 0x%" PRIx64 ")",
                       TYPE_PEX8749_NT, mw_bar[i], s->mw_size[i]);
            return;
        }
    }

    pci_config_set_interrupt_pin(pdev->config, 1);     /* INTA# */

    if (pcie_endpoint_cap_init(pdev, PEX_PCIE_CAP_OFFSET) < 0) {
        error_setg(errp, "%s: cannot add the PCIe capability",
                   TYPE_PEX8749_NT);
        return;
    }

    memory_region_init_io(&s->regs, OBJECT(s), &pex_regs_ops, s,
                          "pex8749-nt-bar0", PEX_REGS_SIZE);
    pci_register_bar(pdev, PEX_BAR_REGS, PCI_BASE_ADDRESS_SPACE_MEMORY,
                     &s->regs);

    for (i = 0; i < 2; i++) {
        memory_region_init_io(&s->mw[i], OBJECT(s), &pex_mw_ops[i], s,
                              mw_name[i], s->mw_size[i]);
        pci_register_bar(pdev, mw_bar[i],
                         PCI_BASE_ADDRESS_SPACE_MEMORY |
                         PCI_BASE_ADDRESS_MEM_TYPE_64 |
                         PCI_BASE_ADDRESS_MEM_PREFETCH,
                         &s->mw[i]);
    }

    /*
     * TODO(link): when "chardev" is set, connect to the switch process
     * here (hello/version exchange, guest RAM fd hand-over) and install the
     * receive handlers for completions and INTx.  The protocol is the
     * integrator's; until it exists the chardev is held but unused.
     */
}

static void pex_exit(PCIDevice *pdev)
{
    Pex8749NtState *s = PEX8749_NT(pdev);

    qemu_chr_fe_deinit(&s->link, false);
    pcie_cap_exit(pdev);
}

/* ---- class_init ------------------------------------------------------ */

static Property pex_properties[] = {
    DEFINE_PROP_CHR("chardev", Pex8749NtState, link),
    DEFINE_PROP_SIZE("bar2-size", Pex8749NtState, mw_size[0],
                     PEX_MW_DEFAULT_SIZE),
    DEFINE_PROP_SIZE("bar4-size", Pex8749NtState, mw_size[1],
                     PEX_MW_DEFAULT_SIZE),
    DEFINE_PROP_END_OF_LIST(),
};

static void pex_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);

    k->realize = pex_realize;
    k->exit = pex_exit;
    k->vendor_id = PEX_VENDOR_ID;
    k->device_id = PEX_DEVICE_ID_NT0_VIRT;
    k->revision = PEX_REVISION;
    k->class_id = PCI_CLASS_BRIDGE_OTHER;
    dc->desc = "PLX PEX8749 NT endpoint (ntblab switch model front end)";
    device_class_set_props(dc, pex_properties);
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
}

static void pex_register_types(void)
{
    static InterfaceInfo interfaces[] = {
        { INTERFACE_PCIE_DEVICE },
        { },
    };
    static const TypeInfo pex_info = {
        .name          = TYPE_PEX8749_NT,
        .parent        = TYPE_PCI_DEVICE,
        .instance_size = sizeof(Pex8749NtState),
        .class_init    = pex_class_init,
        .interfaces    = interfaces,
    };

    type_register_static(&pex_info);
}

type_init(pex_register_types)
