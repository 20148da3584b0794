#!/usr/bin/env bash
# shellcheck disable=SC2054 # QEMU options are comma-separated by nature
# ntblab: boot one guest node.  The script ends by exec'ing QEMU, so the PID
# of `guest/boot-node.sh ... &` is QEMU's own: kill that PID to stop the node.
#
# Usage: guest/boot-node.sh --dir RUNDIR [options] [-- extra QEMU args]
#   --dir DIR          run directory: console.log (serial, \r stripped),
#                      qemu.log (QEMU's stderr), ctl.sock (control channel)
#   --name NAME        guest hostname                      (default node0)
#   --ip ADDR/PREFIX   guest address on the virtio-net link (default none)
#   --mac MAC          virtio-net MAC; must differ between nodes
#                      (default 52:54:00:4e:54:01)
#   --net MODE:H:P     -netdev socket peer: listen:127.0.0.1:PORT or
#                      connect:127.0.0.1:PORT (default: no NIC)
#   --link SPEC        chardev for the pex8749-nt switch link, as a QEMU
#                      -chardev option string without id (e.g.
#                      socket,path=/run/sw.sock); default: none
#   --mem SIZE         guest RAM (default 256M), memfd-backed, share=on
#   --qemu PATH        QEMU binary (default: build-qemu.sh's)
#   --image DIR        guest image (default: build-guest.sh's)
#   --append ARGS      extra kernel command-line arguments
#   --compressed       boot vmlinuz instead of the PVH vmlinux (slower)
#   --kvm              -accel kvm instead of TCG
# Environment: NTBLAB_CACHE (default /var/cache/ntblab).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=qemu-device/common.sh
. "$here/../qemu-device/common.sh"

dir='' name=node0 ip='' mac=52:54:00:4e:54:01 net='' link='' mem=256M append=''
qemu="$NTBLAB_CACHE/qemu/bin/qemu-system-x86_64"
image="$NTBLAB_CACHE/guest/image"
kernel=vmlinux accel=tcg
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) dir="$2"; shift 2 ;;
        --name) name="$2"; shift 2 ;;
        --ip) ip="$2"; shift 2 ;;
        --mac) mac="$2"; shift 2 ;;
        --net) net="$2"; shift 2 ;;
        --link) link="$2"; shift 2 ;;
        --mem) mem="$2"; shift 2 ;;
        --qemu) qemu="$2"; shift 2 ;;
        --image) image="$2"; shift 2 ;;
        --append) append="$2"; shift 2 ;;
        --compressed) kernel=vmlinuz; shift ;;
        --kvm) accel=kvm; shift ;;
        --) shift; extra=("$@"); break ;;
        *) die "unknown option $1 (see the header of $0)" ;;
    esac
done
[ -n "$dir" ] || die "--dir is required"
[ -x "$qemu" ] || die "no QEMU at $qemu: run qemu-device/build-qemu.sh"
[ -f "$image/$kernel" ] || die "no guest image at $image: run guest/build-guest.sh"
mkdir -p "$dir"
rm -f "$dir/ctl.sock"

cmdline="console=ttyS0 quiet panic=-1 ntblab.name=$name"
[ -n "$ip" ] && cmdline+=" ntblab.ip=$ip"
[ -n "$append" ] && cmdline+=" $append"

args=(
    -L /usr/share/seabios -L /usr/share/qemu
    -nodefaults -vga none -nographic -no-reboot
    -accel "$accel" -cpu max -smp 1 -m "$mem"
    -object "memory-backend-memfd,id=mem,size=$mem,share=on"
    -machine q35,memory-backend=mem
    -kernel "$image/$kernel" -initrd "$image/initramfs.cpio.gz"
    -append "$cmdline"
    # serial console (isa-serial) on QEMU's stdout, see the exec below
    -chardev stdio,id=con,signal=off -serial chardev:con
    # the host's / read-only over virtio-9p
    -fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap
    -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot
    # control channel: virtio-serial port <-> unix socket
    -chardev "socket,id=ctl,path=$dir/ctl.sock,server=on,wait=off"
    -device virtio-serial-pci,id=vser
    -device virtserialport,bus=vser.0,chardev=ctl,name=org.ntblab.ctl
    # the NT endpoint, behind a root port so it is a PCIe Endpoint
    -device pcie-root-port,id=ntb_rp,bus=pcie.0,chassis=1,slot=1
)
if [ -n "$link" ]; then
    args+=(-chardev "$link,id=swlink" -device pex8749-nt,bus=ntb_rp,chardev=swlink)
else
    args+=(-device pex8749-nt,bus=ntb_rp)
fi
if [ -n "$net" ]; then
    mode="${net%%:*}" addr="${net#*:}"
    case "$mode" in listen|connect) ;; *) die "--net: listen:HOST:PORT or connect:HOST:PORT" ;; esac
    args+=(-netdev "socket,id=net0,$mode=$addr"
           -device "virtio-net-pci,netdev=net0,mac=$mac,romfile=")
fi

printf '%q ' "$qemu" "${args[@]}" "${extra[@]}" > "$dir/qemu.cmdline"
echo >> "$dir/qemu.cmdline"
# QEMU's serial output ends lines with CRLF: strip the CR on the way to the log.
exec "$qemu" "${args[@]}" "${extra[@]}" < /dev/null 2> "$dir/qemu.log" \
    > >(tr -d '\r' > "$dir/console.log")
