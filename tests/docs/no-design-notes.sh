#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Code and files outside docs/ cite the repository's own pages (docs/sources.md
# for chip facts and outside figures, docs/guest-and-qemu.md for the design
# decisions), never the design notes kept outside the repository.  Fails
# listing every line outside docs/ that names one of those notes.
#
# usage: no-design-notes.sh REPO_ROOT
set -euo pipefail
root=${1:?usage: no-design-notes.sh REPO_ROOT}
cd "$root"

# The notes' file names, written so that this script does not name them itself.
pattern='(FACTS|ARCHITECTURE)\.md'

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	list() { git ls-files -z --cached --others --exclude-standard; }
else
	list() { find . -path ./.git -prune -o -path './build*' -prune -o -type f -print0 | sed -z 's|^\./||'; }
fi

hits=$(list | grep -zv '^docs/' | xargs -0 -r grep -nIE "$pattern" -- 2>/dev/null || true)
if [ -n "$hits" ]; then
	echo "$hits"
	echo "no-design-notes: the lines above cite notes outside the repository;" \
	     "cite docs/sources.md or docs/guest-and-qemu.md instead" >&2
	exit 1
fi
echo "no-design-notes: no file outside docs/ cites the design notes"
