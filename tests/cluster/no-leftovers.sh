#!/usr/bin/env bash
# No QEMU or switch process of the lab may outlive the run that started it.
left=$(pgrep -a -f 'qemu-system-x86_64.*pex8749|ntblab-switch --scenario' || true)
if [ -n "$left" ]; then
    echo "FAIL: processes left behind:"
    echo "$left"
    exit 1
fi
echo "ok: no QEMU or switch process left"
