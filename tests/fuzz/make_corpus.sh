#!/usr/bin/env bash
# make_corpus.sh: how the fuzz seeds were made: tiny programs, gcores, cut to < 64 KiB.
#
#   tests/fuzz/make_corpus.sh [BUILD_DIR]     (default: build)
#
# For each allocator (glibc malloc, jemalloc, tcmalloc_minimal) it builds
# tests/fuzz/seed_program.c, runs it until it prints "ready", reads the
# allocator's globals with gdb (glibc: from libc6-dbg) and takes a core with
# gcore. BUILD_DIR/tests/fuzz/trace_core then replays the analysis on that
# core and lists the pages it read; seedtool.py keeps those pages (and each
# module's first page, for its build-id) and writes:
#
#   corpus/core/<alloc>.bin           a valid core of at most 64 KiB
#   corpus/core/<alloc>-cut-*.bin      the same cut inside its notes and its data
#   corpus/<alloc>/<alloc>.synth       the fuzz_synth.h input for the walker target
#   corpus/classify/<alloc>.synth      the same memory with the first in-use chunks
#   corpus/report_json/<alloc>.json    heapscope's JSON report of the full core
#
# Needs gcc, gdb, libc6-dbg, libjemalloc-dev, libgoogle-perftools-dev and
# ptrace permission on our own children. Re-running it rewrites the seeds
# (addresses differ run to run: ASLR); crashes/ is never touched.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
heapscope=$build/heapscope
trace=$build/tests/fuzz/trace_core
seedtool=$here/seedtool.py
for f in "$heapscope" "$trace"; do
	[ -x "$f" ] || { echo "make_corpus: $f missing (meson compile -C $build)" >&2; exit 1; }
done

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	if [ -n "${KEEP:-}" ]; then echo "make_corpus: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# run_program NAME: start $work/NAME, wait for "ready", print its pid.
run_program() {
	local name=$1
	mkfifo "$work/$name.out"
	"$work/$name" > "$work/$name.out" &
	local pid=$!
	pids+=("$pid")
	local line
	read -r -t 20 line < "$work/$name.out" || true
	[ "$line" = ready ] || { echo "make_corpus: $name did not get ready" >&2; exit 1; }
	echo "$pid"
}

# gdb_eval PID EXPR...: the values of the expressions, one per line ($N = 0x...).
gdb_eval() {
	local pid=$1; shift
	local args=()
	for e in "$@"; do args+=(-ex "$e"); done
	gdb -q -batch -nx -p "$pid" "${args[@]}" 2>/dev/null |
		sed -n 's/^\$[0-9]* = .*\(0x[0-9a-f]*\).*$/\1/p'
}

cut_core() { # FILE OFFSET OUT
	head -c "$2" "$1" > "$3"
}

mkdir -p "$here"/corpus/{core,glibc,jemalloc,tcmalloc,report_json}
declare -A link=([glibc]="" [jemalloc]="-ljemalloc" [tcmalloc]="-ltcmalloc_minimal")
declare -A classify_flags=([glibc]=0 [jemalloc]=1 [tcmalloc]=2)
for alloc in glibc jemalloc tcmalloc; do
	prog=seed_$alloc
	# shellcheck disable=SC2086
	gcc -O1 -g -pthread "$here/seed_program.c" -o "$work/$prog" ${link[$alloc]}
	pid=$(run_program "$prog")
	params=()
	if [ "$alloc" = glibc ]; then
		# &main_arena, &mp_, then each thread's tcache (TLS), in thread order.
		mapfile -t params < <(gdb_eval "$pid" 'p/x &main_arena' 'p/x &mp_' \
			'thread apply all -q p/x (long)tcache')
	fi
	gdb -q -batch -nx -p "$pid" -ex "gcore $work/$alloc.bin" >/dev/null 2>&1
	kill "$pid"
	topts=(--chunks "$work/$alloc.chunks")
	[ "$alloc" != glibc ] && topts+=(--params "$work/$alloc.params")
	"$trace" "$work/$alloc.bin" "${topts[@]}" > "$work/$alloc.win" 2> "$work/$alloc.trace"
	cat "$work/$alloc.trace" >&2

	python3 "$seedtool" core "$work/$alloc.bin" "$here/corpus/core/$alloc.bin" \
		--windows "$work/$alloc.win"
	seed=$here/corpus/core/$alloc.bin
	# Cuts: inside the notes (they follow the program headers) and halfway.
	notes_off=$(python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(); \
print(struct.unpack_from("<Q", d, 64 + 8)[0] + 200)' "$seed")
	cut_core "$seed" "$notes_off" "$here/corpus/core/$alloc-cut-notes.bin"
	cut_core "$seed" $(( $(stat -c %s "$seed") / 2 )) "$here/corpus/core/$alloc-cut-half.bin"

	"$heapscope" analyze --json "$here/corpus/report_json/$alloc.json" "$work/$alloc.bin" \
		> /dev/null || true

	if [ "$alloc" = glibc ]; then
		# fuzz_glibc: flags = glibc minor version 36 | 0x100 (tcaches known).
		args=()
		for p in "${params[@]}"; do args+=(--param "$p"); done
		python3 "$seedtool" synth "$work/$alloc.bin" "$here/corpus/glibc/glibc.synth" \
			--windows "$work/$alloc.win" --flags $((36 | 0x100)) "${args[@]}"
	else
		# fuzz_jemalloc / fuzz_tcmalloc: the globals trace_core located.
		python3 "$seedtool" synth "$work/$alloc.bin" "$here/corpus/$alloc/$alloc.synth" \
			--windows "$work/$alloc.win" --params-file "$work/$alloc.params"
	fi
	# fuzz_classify: the first in-use chunks and the pages they are on.
	python3 "$seedtool" synth "$work/$alloc.bin" "$here/corpus/classify/$alloc.synth" \
		--windows "$work/$alloc.win" --chunk-params "$work/$alloc.chunks" \
		--params-file "$work/$alloc.chunks" --flags "${classify_flags[$alloc]}"
done
du -sh --apparent-size "$here/corpus"
