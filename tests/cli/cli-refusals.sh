#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# `ntblab-cli run` on bad scenario files: exit status 2 and one line
# FILE:LINE: FIELD: reason on stderr (docs/scenario-format.md, "Errors");
# `--quiet` still prints errors. Nothing here boots a VM: every file is
# refused while loading, and the quiet run names a QEMU that does not exist.
# Usage: cli-refusals.sh NTBLAB_CLI
set -u
cli=$1
dir=$(mktemp -d /tmp/ntblab-refusals-XXXXXX)
trap 'rm -rf "$dir"' EXIT
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
fails=0

# expect FILE STATUS PATTERN: run FILE, check the status and that stderr matches PATTERN (grep -E).
expect() {
  timeout 20 "$cli" run "$1" --out "$dir/out" >"$dir/stdout" 2>"$dir/stderr"
  rc=$?
  if [ "$rc" -ne "$2" ] || ! grep -Eq "$3" "$dir/stderr"; then
    echo "FAIL: $1: status $rc (want $2), stderr:"; cat "$dir/stderr"; echo "  (want /$3/)"
    fails=$((fails + 1))
  else
    echo "ok: $1: $(head -n 1 "$dir/stderr")"
  fi
}

pair='nodes:
  - name: a
  - name: b'
printf 'name: x\n~: 1\n%s\n' "$pair" >"$dir/null-key.yaml"
expect "$dir/null-key.yaml" 2 "^$dir/null-key.yaml:2: \(top level\): a key must be a name, not null$"
printf 'name: x\n? [p, q]\n: 1\n%s\n' "$pair" >"$dir/list-key.yaml"
expect "$dir/list-key.yaml" 2 "^$dir/list-key.yaml:2: \(top level\): a key must be a name, not a list$"
printf 'name: x\nname: y\n%s\n' "$pair" >"$dir/dup.yaml"
expect "$dir/dup.yaml" 2 "^$dir/dup.yaml:2: name: given twice \(first on line 1\)$"
expect "$dir/missing.yaml" 2 "^$dir/missing.yaml:0: \(file\): cannot be read: No such file or directory$"
mkdir "$dir/dir.yaml"
expect "$dir/dir.yaml" 2 "^$dir/dir.yaml:0: \(file\): is a directory, not a scenario file$"
mkfifo "$dir/fifo.yaml"
expect "$dir/fifo.yaml" 2 "^$dir/fifo.yaml:0: \(file\): is a FIFO, not a regular file$"
expect /dev/zero 2 "^/dev/zero:0: \(file\): is a character device, not a regular file$"
head -c 10485760 /dev/zero | tr '\0' '#' >"$dir/big.yaml"
expect "$dir/big.yaml" 2 "^$dir/big.yaml:0: \(file\): is 10485760 bytes; a scenario file may be at most 1MiB"
{ printf 'name: x\nnodes: '; head -c 100000 /dev/zero | tr '\0' '['; echo; } >"$dir/deep.yaml"
expect "$dir/deep.yaml" 2 "^$dir/deep.yaml:2: \(nesting\): lists and mappings nested deeper than 64 levels$"

# --quiet: progress is silent, the error is not.
printf 'name: x\n%s\n' "$pair" >"$dir/good.yaml"
NTBLAB_QEMU="$dir/no-such-qemu" timeout 20 "$cli" run --quiet "$dir/good.yaml" --out "$dir/out" \
  >"$dir/stdout" 2>"$dir/stderr"
rc=$?
if [ "$rc" -ne 1 ] || ! grep -q "error: missing $dir/no-such-qemu" "$dir/stderr" || grep -q "tearing down" "$dir/stderr"; then
  echo "FAIL: run --quiet: status $rc (want 1), stderr:"; cat "$dir/stderr"
  fails=$((fails + 1))
else
  echo "ok: run --quiet: $(head -n 1 "$dir/stderr")"
fi

[ "$fails" -eq 0 ]
