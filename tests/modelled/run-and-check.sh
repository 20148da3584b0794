#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# run-and-check.sh CLI SCENARIO OUT CHECK: run a modelled-time scenario, then
# check its results.json with check_results.py CHECK.
set -euo pipefail
cli=$1 scenario=$2 out=$3 check=$4
rm -rf "$out"
"$cli" run "$scenario" --out "$out" || true   # the checker reports a failed run
exec python3 "$(dirname "$0")/check_results.py" "$out/results.json" "$check"
