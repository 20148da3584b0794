#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# `ntblab validate FILE...` (ntblab-validate): one line per file, "FILE: ok
# (...)" on stdout or the loader's "FILE:LINE: FIELD: reason" on stderr; exit
# status 0 when all are valid, 2 when one is not, 1 on a usage error
# (docs/scenario-format.md, "Checking a scenario"). Builds and boots nothing.
# Usage: validate.sh NTBLAB_VALIDATE REPOSITORY
set -u
exe=$1 root=$2
dir=$(mktemp -d /tmp/ntblab-validate-XXXXXX)
trap 'rm -rf "$dir"' EXIT
fails=0
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

# check WANT_STATUS WANT_OUT_LINES WANT_ERR_LINES ARG... (a count "-": any)
check() {
  want=$1 nout=$2 nerr=$3
  shift 3
  timeout 20 "$exe" "$@" >"$dir/out" 2>"$dir/err"
  rc=$?
  lines() { [ "$2" = - ] || [ "$(wc -l <"$1")" -eq "$2" ]; }
  if [ "$rc" -ne "$want" ] || ! lines "$dir/out" "$nout" || ! lines "$dir/err" "$nerr"; then
    bad "validate $*: status $rc (want $want), $(wc -l <"$dir/out") stdout lines (want $nout), $(wc -l <"$dir/err") stderr lines (want $nerr)"
    cat "$dir/out" "$dir/err"
    return 1
  fi
  echo "ok: validate $* -> $rc"
}

# Every example: valid, one ok line each.
n=$(ls "$root"/scenarios/*.yaml | wc -l)
check 0 "$n" 0 "$root"/scenarios/*.yaml && ! grep -qv ': ok (' "$dir/out" && echo "ok: every line says ok" \
  || bad "an example's line does not say ok"
grep -q "^$root/scenarios/two-node.yaml: ok (two-node: back-to-back, 2 nodes, 2 steps, timing free)$" "$dir/out" \
  || bad "two-node.yaml's line: $(grep two-node "$dir/out")"

# A bad file among good ones: status 2, its error on stderr, the others still checked.
printf 'name: x\nnodes:\n  - name: a\n    memory: 256MB\n  - name: b\n' >"$dir/bad.yaml"
check 2 1 1 "$dir/bad.yaml" "$root/scenarios/two-node.yaml"
grep -qx "$dir/bad.yaml:4: nodes\[0\].memory: '256MB' is not a size (write e.g. 256MiB, 1GiB)" "$dir/err" \
  || bad "bad.yaml's message: $(cat "$dir/err")"

# A missing file and a syntax error: one line each, also when the parser's message would span lines.
printf 'name: x\nnodes: [a, b\n' >"$dir/syntax.yaml"
check 2 0 2 "$dir/missing.yaml" "$dir/syntax.yaml"
grep -q "^$dir/missing.yaml:0: (file): cannot be read: No such file or directory$" "$dir/err" || bad "missing: $(cat "$dir/err")"
grep -q "^$dir/syntax.yaml:[0-9]*: (syntax): " "$dir/err" || bad "syntax: $(cat "$dir/err")"

# Usage errors.
check 1 0 - && grep -q "no scenario file given" "$dir/err" || bad "no file: $(cat "$dir/err")"
check 1 0 - --bogus "$root/scenarios/two-node.yaml" && grep -q "unknown option --bogus" "$dir/err" || bad "option"
# "--" ends the options: a file named like one is a file.
check 2 0 1 -- --bogus && grep -q "^--bogus:0: (file): cannot be read" "$dir/err" || bad "--: $(cat "$dir/err")"

[ "$fails" -eq 0 ]
