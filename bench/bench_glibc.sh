#!/usr/bin/env bash
# bench_glibc.sh: time heapscope analyze on a gcore of a 2.5 M-chunk glibc heap; print the figures.
#
#   bench/bench_glibc.sh
#
# Builds what it needs (HEAPSCOPE_BUILD, default build/ in the repository),
# runs bench_glibc_fill, takes its core with gcore into TMPDIR (~0.5 GB), and
# prints: the core's size, the chunk count from the report, analyze's wall
# time (best of 3) and peak RSS, and the time `cat core > /dev/null` takes
# with the core in the page cache (the floor for reading the file at all),
# whether the walk's statistics equal mallinfo2(), and what one
# `analyze --stats` run says of its phases and of its own (anonymous) memory
# apart from the core's file-backed pages. With CHAP=PATH (a built
# vmware/chap), chap runs on the same core in the same run (CHAP_COMMANDS,
# default "count used\ncount free\ncount leaked"), timed the same way.
# Never run by the test suite.
set -euo pipefail

name=glibc
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib.sh"

bench_setup
bench_core
bench_measure
bench_summary chunks <<'PY'
print("mallinfo2:     %s" % ("all %d statistics match the report" % len(recorded) if not diff
                             else "MISMATCH in " + ", ".join(diff)))
PY
