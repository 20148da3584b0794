# SPDX-License-Identifier: GPL-2.0-only
# ntblab: the devices compiled into qemu-system-x86_64 (QEMU Kconfig syntax).
# Copied by build-qemu.sh to configs/devices/x86_64-softmmu/ntblab.mak and
# selected with --with-devices-x86_64=ntblab on top of --without-default-devices.

# Machine: q35 brings the PCIe root complex (pcie.0, ECAM), ICH9 LPC, the
# ISA bus, PIC/APIC/PIT/RTC and fw_cfg.
CONFIG_Q35=y
# pcie-root-port: an NT endpoint must sit behind a root port to be a PCIe
# Endpoint rather than a Root Complex Integrated Endpoint.
CONFIG_PCIE_PORT=y
# Our device.
CONFIG_PEX8749_NT=y
# Guest console and control: isa-serial, virtio-serial-pci (virtconsole,
# virtserialport).
CONFIG_SERIAL_ISA=y
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_SERIAL=y
# Guest network between nodes (-netdev stream to the switch process's hub)
# and the host's root over 9p.
CONFIG_VIRTIO_NET=y
CONFIG_VIRTIO_9P=y
