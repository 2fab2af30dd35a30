# bench/lib.sh: what the bench_<allocator>.sh scripts share; sourced, never run.
#
# A script sets `name` (glibc, jemalloc, tcmalloc: it runs bench_$name_fill)
# and calls, in order:
#   bench_setup [HINT]   tools, build (HINT: why building the fill program may fail)
#   bench_core           run the fill program to "ready", gcore it: $core
#   bench_measure        cat floor, the report once, best of $runs, one --stats run
#   bench_summary NOUN   print the figures; NOUN names what the walk counts
#                        (chunks, regions, objects); its standard input is Python
#                        run after the common lines, to judge `recorded` (the fill
#                        program's stats file) against `got` (the report's
#                        allocator.stats): `diff` lists the keys that differ,
#                        `errors` the diagnostics of severity error.
# HEAPSCOPE_BUILD chooses the build directory (default build/ in the repository);
# CHAP=PATH (a built vmware/chap) times chap on the same core in the same run;
# the core (~0.5 GB) goes to TMPDIR.
# shellcheck shell=bash

: "${name:?set name before sourcing bench/lib.sh}"

top=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
build=${HEAPSCOPE_BUILD:-$top/build}
runs=3

die() {
	echo "bench_$name: $*" >&2
	exit 1
}

bench_setup() {
	local hint=${1:-}
	for tool in gcore python3; do
		command -v "$tool" >/dev/null || die "$tool is needed (scripts/install-deps)"
	done
	if [ ! -x /usr/bin/time ]; then
		[ "$(id -u)" -eq 0 ] || die "GNU time (/usr/bin/time) is needed: apt-get install time"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null ||
			{ apt-get update -qq &&
			  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
	fi

	if [ ! -f "$build/build.ninja" ]; then
		meson setup "$build" "$top" >/dev/null
	fi
	meson compile -C "$build" heapscope "bench_${name}_fill" >/dev/null ||
		meson compile -C "$build" heapscope "bench_${name}_fill" ||
		die "cannot build bench_${name}_fill${hint:+ ($hint)}"
	heapscope=$build/heapscope
	fill=$build/bench/bench_${name}_fill

	tmp=$(mktemp -d "${TMPDIR:-/tmp}/heapscope-bench.XXXXXX")
	pid=
	trap bench_cleanup EXIT
}

# Kill the program and reap it. bash reports a job killed by a signal on its
# own stderr ("line N: PID Killed ..."); that report is noise here.
bench_stop_fill() {
	exec 3>&2 2>/dev/null
	kill -KILL "$pid" || true
	wait "$pid" || true
	exec 2>&3 3>&-
}

bench_cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		bench_stop_fill
	fi
	rm -rf "$tmp"
}

bench_core() {
	"$fill" "$tmp/stats" >"$tmp/fill.out" &
	pid=$!
	for _ in $(seq 3000); do
		grep -q '^ready$' "$tmp/fill.out" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || die "bench_${name}_fill exited before it was ready"
		sleep 0.1
	done
	grep -q '^ready$' "$tmp/fill.out" || die "bench_${name}_fill was not ready within 300 s"
	gcore -o "$tmp/core" "$pid" >"$tmp/gcore.log" 2>&1 ||
		{ cat "$tmp/gcore.log" >&2; die "gcore failed"; }
	core=$tmp/core.$pid
	[ -s "$core" ] || die "gcore wrote no core"
	bench_stop_fill
	pid=
}

bench_measure() {
	# Warm the page cache, then the floor: reading the file and nothing else.
	cat "$core" >/dev/null
	best_cat=
	for _ in $(seq $runs); do
		t0=$(date +%s.%N)
		cat "$core" >/dev/null
		t1=$(date +%s.%N)
		best_cat=$(python3 -c "t=$t1-$t0; b='$best_cat'; print(min(t, float(b)) if b else t)")
	done

	# The report once, for the count and to check the statistics.
	local rc=0
	"$heapscope" analyze --json "$tmp/report.json" "$core" >/dev/null 2>"$tmp/analyze.err" || rc=$?
	[ $rc -eq 0 ] || { cat "$tmp/analyze.err" >&2; die "heapscope analyze exited with status $rc"; }

	# Wall time and peak RSS of the default analysis (text summary), best of $runs.
	for i in $(seq $runs); do
		/usr/bin/time -v -o "$tmp/time.$i" "$heapscope" analyze "$core" >/dev/null 2>&1 ||
			die "heapscope analyze failed on run $i"
	done

	# chap (CHAP=PATH, a built vmware/chap) on the same core in the same run,
	# best of $runs: the peer issue 16 compares against. It reads its
	# commands on stdin; its counts go to the summary.
	if [ -n "${CHAP:-}" ]; then
		[ -x "$CHAP" ] || die "CHAP=$CHAP is not an executable"
		printf '%b\n' "${CHAP_COMMANDS:-count used\ncount free\ncount leaked}" >"$tmp/chap.in"
		for i in $(seq $runs); do
			/usr/bin/time -v -o "$tmp/chap-time.$i" "$CHAP" "$core" <"$tmp/chap.in" \
				>"$tmp/chap.out" 2>&1 || die "chap failed on run $i (see $tmp/chap.out)"
		done
	fi

	# Once more with --stats: heapscope's own phase timings and memory, its
	# anonymous memory apart from the core's file-backed (mmapped) pages.
	"$heapscope" analyze --stats "$core" >/dev/null 2>"$tmp/stats.err" ||
		{ cat "$tmp/stats.err" >&2; die "heapscope analyze --stats failed"; }
}

bench_summary() {
	python3 -c '
import json, os, re, sys
core, tmp, runs, best_cat, noun = (sys.argv[1], sys.argv[2], int(sys.argv[3]),
                                   float(sys.argv[4]), sys.argv[5])

def wall(text):
    m = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", text)
    secs = 0.0
    for part in m.group(1).split(":"):
        secs = secs * 60 + float(part)
    return secs

def rss_kb(text):
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))

times = [open(os.path.join(tmp, "time.%d" % i)).read() for i in range(1, runs + 1)]
walls = [wall(t) for t in times]
rss = max(rss_kb(t) for t in times)
report = json.load(open(os.path.join(tmp, "report.json")))
totals = report.get("totals", {})
counts = {k: totals.get(k, {}).get("count", 0) for k in ("in_use", "free", "cached")}
size = os.path.getsize(core)

recorded = {}
for line in open(os.path.join(tmp, "stats")):
    k, v = line.split()
    recorded[k] = int(v)
got = report.get("allocator", {}).get("stats", {})
diff = [k for k in recorded if got.get(k) != recorded[k]]
errors = [d for d in report.get("diagnostics", []) if d.get("severity") == "error"]

print("core:          %.1f MiB (%d bytes)" % (size / 2**20, size))
print("%-14s %d (in use %d, free %d, cached %d)"
      % (noun + ":", sum(counts.values()), counts["in_use"], counts["free"], counts["cached"]))
print("analyze:       %.2f s wall, best of %d (%s)"
      % (min(walls), runs, ", ".join("%.2f" % w for w in walls)))
print("peak RSS:      %.1f MiB" % (rss / 1024))
print("cat core:      %.2f s (page cache warm), %.0f MiB/s"
      % (best_cat, size / 2**20 / best_cat if best_cat else 0))
print("analyze / cat: %.1fx" % (min(walls) / best_cat if best_cat else 0))
leaks = report.get("leaks", {}).get("leaked", {})
if "leaked" in report.get("leaks", {}):
    print("leaked:        %d chunks, %d bytes" % (leaks.get("count", 0), leaks.get("bytes", 0)))
if os.path.exists(os.path.join(tmp, "chap-time.1")):
    ct = [open(os.path.join(tmp, "chap-time.%d" % i)).read() for i in range(1, runs + 1)]
    cw = [wall(t) for t in ct]
    print("chap:          %.2f s wall, best of %d (%s), peak RSS %.1f MiB; heapscope %.1fx faster"
          % (min(cw), runs, ", ".join("%.2f" % w for w in cw), max(rss_kb(t) for t in ct) / 1024,
             min(cw) / min(walls)))
    for line in open(os.path.join(tmp, "chap.out")):
        if line.strip() and "allocations" in line:
            print("  chap says:   " + line.strip())
exec(sys.stdin.read())
for line in open(os.path.join(tmp, "stats.err")):
    if line.startswith("heapscope: "):
        print("--stats:       " + line[len("heapscope: "):].rstrip())
' "$core" "$tmp" "$runs" "$best_cat" "$1"
}
