#!/usr/bin/env bash
# bench_tcmalloc.sh: time heapscope analyze on a 2.5 M-object tcmalloc core; print the figures.
#
#   bench/bench_tcmalloc.sh
#
# Builds what it needs (HEAPSCOPE_BUILD, default build/ in the repository),
# runs bench_tcmalloc_fill (linked with libtcmalloc), takes its core with
# gcore into TMPDIR (~0.5 GB), and prints: the core's size, the object count
# from the report, analyze's wall time (best of 3) and peak RSS, the time
# `cat core > /dev/null` takes with the core in the page cache (the floor for
# reading the file at all), whether the report's tcmalloc properties equal
# the ones the program recorded, and what one `analyze --stats` run says of
# its phases and of its own (anonymous) memory apart from the core's
# file-backed pages. Never run by the test suite.
set -euo pipefail

name=tcmalloc
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib.sh"

bench_setup "is libgoogle-perftools-dev installed?"
bench_core
bench_measure
bench_summary objects <<'PY'
print("properties:    %s" % ("all %d tcmalloc properties match the report" % len(recorded)
                             if not diff else "MISMATCH in " + ", ".join(diff)))
print("diagnostics:   %d of severity error" % len(errors))
PY
