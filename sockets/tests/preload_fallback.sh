#!/usr/bin/env bash
# Host-side check of the preload's TCP fallback (no VM; the host has no
# af_ntb): with 127.0.0.0/8 declared fabric (NTB_FABRIC), curl's connect to a
# local HTTP server cannot get an af_ntb socket. By default it falls back to
# TCP and succeeds; with NTB_FALLBACK=0 it must fail (docs/socket-family.md,
# "Preload").
# Usage: preload_fallback.sh LIBNTB_PRELOAD.SO
set -u
lib=$1
dir=$(mktemp -d)
trap 'kill $srv 2>/dev/null; rm -rf "$dir"' EXIT
echo hello >"$dir/index.html"
port=$((20000 + RANDOM % 20000))
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$dir" >/dev/null 2>&1 &
srv=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done
run() { env NTB_FABRIC=127.0.0.0/8 NTB_PRELOAD_DEBUG=1 LD_PRELOAD="$lib" "$@"; }
out=$(run curl -sS --max-time 10 "http://127.0.0.1:$port/" 2>&1)
echo "$out"
grep -qx hello <<<"$out" || { echo "FAIL: no TCP fallback"; exit 1; }
grep -q "no NTB socket.*TCP" <<<"$out" || { echo "FAIL: the fallback was not logged"; exit 1; }
out=$(run env NTB_FALLBACK=0 curl -sS --max-time 10 "http://127.0.0.1:$port/" 2>&1)
rc=$?
echo "$out"
[ $rc -ne 0 ] || { echo "FAIL: NTB_FALLBACK=0 connected anyway"; exit 1; }
grep -q "NTB_FALLBACK=0: failing" <<<"$out" || { echo "FAIL: no log of the refused fallback"; exit 1; }
echo "ok: TCP fallback by default, none with NTB_FALLBACK=0"
