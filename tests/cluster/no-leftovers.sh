#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# No QEMU or switch process of the lab may outlive the run that started it.
# Usage: no-leftovers.sh [DIR]  — only processes whose command line names DIR
# (the runs' results directory, in their log paths) count; without DIR, all.
scope=${1:-}
left=$(pgrep -a -f 'qemu-system-x86_64.*pex8749|ntblab-switch --scenario' | grep -F -- "$scope" || true)
if [ -n "$left" ]; then
    echo "FAIL: processes left behind:"
    echo "$left"
    exit 1
fi
echo "ok: no QEMU or switch process left${scope:+ (of runs in $scope)}"
