#!/usr/bin/env bash
# verify_build.sh: run scripts/verify-build on a source tree named in the environment, or skip.
#
#   verify_build.sh KIND VERIFY-BUILD HEAPSCOPE
#
# HEAPSCOPE_<KIND>_SRC (e.g. HEAPSCOPE_JEMALLOC_SRC) names the source tree
# and HEAPSCOPE_<KIND>_ARGS adds options (e.g. "--redis --version
# 5.1.0-0-g0"); without HEAPSCOPE_<KIND>_SRC the test is skipped (77).
# verify-build's exit 2 (the tree cannot be built here) is a failure: the
# tree was asked for.
set -uo pipefail
kind=$1 verify=$2 heapscope=$3
var=HEAPSCOPE_$(echo "$kind" | tr a-z- A-Z_)
src_var=${var}_SRC args_var=${var}_ARGS
src=${!src_var:-}
if [ -z "$src" ]; then
	echo "SKIP: $src_var is not set (a $kind source tree to verify)"
	exit 77
fi
# shellcheck disable=SC2086
HEAPSCOPE=$heapscope "$verify" "$kind" "$src" ${!args_var:-}
