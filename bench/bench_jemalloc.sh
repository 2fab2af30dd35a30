#!/usr/bin/env bash
# bench_jemalloc.sh: time heapscope analyze on a gcore of a 2.5 M-region jemalloc heap; print the figures.
#
#   bench/bench_jemalloc.sh
#
# Builds what it needs (HEAPSCOPE_BUILD, default build/ in the repository),
# runs bench_jemalloc_fill (Debian's libjemalloc), takes its core with gcore
# into TMPDIR (~0.5 GB) and prints: the core's size, the region count from
# the report, analyze's wall time (best of 3) and peak RSS, the time
# `cat core > /dev/null` takes with the core in the page cache (the floor
# for reading the file at all), whether the walk's stats.allocated and
# stats.active equal what jemalloc reported, and what one `analyze --stats`
# run says of its phases and of its own (anonymous) memory apart from the
# core's file-backed pages. Never run by the test suite.
set -euo pipefail

name=jemalloc
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib.sh"

bench_setup
bench_core
bench_measure
bench_summary regions <<'PY'
print("stats:         %s; %d error diagnostics"
      % ("stats.allocated %d and stats.active %d match jemalloc" %
         (recorded["stats.allocated"], recorded["stats.active"]) if not diff
         else "MISMATCH in " + ", ".join(diff), len(errors)))
PY
