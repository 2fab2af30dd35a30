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
# reading the file at all), and whether the report's tcmalloc properties
# equal the ones the program recorded. Never run by the test suite.
set -euo pipefail

top=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
build=${HEAPSCOPE_BUILD:-$top/build}
runs=3

die() {
	echo "bench_tcmalloc: $*" >&2
	exit 1
}

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
meson compile -C "$build" heapscope bench_tcmalloc_fill >/dev/null ||
	meson compile -C "$build" heapscope bench_tcmalloc_fill ||
	die "cannot build bench_tcmalloc_fill (is libgoogle-perftools-dev installed?)"
heapscope=$build/heapscope
fill=$build/bench/bench_tcmalloc_fill

tmp=$(mktemp -d "${TMPDIR:-/tmp}/heapscope-bench.XXXXXX")
pid=
# Kill the program and reap it, without bash's "Killed" job report.
stop_fill() {
	exec 3>&2 2>/dev/null
	kill -KILL "$pid" || true
	wait "$pid" || true
	exec 2>&3 3>&-
}
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		stop_fill
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

"$fill" "$tmp/stats" >"$tmp/fill.out" &
pid=$!
for _ in $(seq 3000); do
	grep -q '^ready$' "$tmp/fill.out" 2>/dev/null && break
	kill -0 "$pid" 2>/dev/null || die "bench_tcmalloc_fill exited before it was ready"
	sleep 0.1
done
grep -q '^ready$' "$tmp/fill.out" || die "bench_tcmalloc_fill was not ready within 300 s"
gcore -o "$tmp/core" "$pid" >"$tmp/gcore.log" 2>&1 ||
	{ cat "$tmp/gcore.log" >&2; die "gcore failed"; }
core=$tmp/core.$pid
[ -s "$core" ] || die "gcore wrote no core"
stop_fill
pid=

# Warm the page cache, then the floor: reading the file and nothing else.
cat "$core" >/dev/null
best_cat=
for _ in $(seq $runs); do
	t0=$(date +%s.%N)
	cat "$core" >/dev/null
	t1=$(date +%s.%N)
	best_cat=$(python3 -c "t=$t1-$t0; b='$best_cat'; print(min(t, float(b)) if b else t)")
done

# The report once, for the object count and to check the properties.
rc=0
"$heapscope" analyze --json "$tmp/report.json" "$core" >/dev/null 2>"$tmp/analyze.err" || rc=$?
[ $rc -eq 0 ] || { cat "$tmp/analyze.err" >&2; die "heapscope analyze exited with status $rc"; }

# Wall time and peak RSS of the default analysis (text summary), best of $runs.
for i in $(seq $runs); do
	/usr/bin/time -v -o "$tmp/time.$i" "$heapscope" analyze "$core" >/dev/null 2>&1 ||
		die "heapscope analyze failed on run $i"
done

python3 - "$core" "$tmp" "$runs" "$best_cat" <<'PY'
import json, os, re, sys
core, tmp, runs, best_cat = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])

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
print("objects:       %d (in use %d, free %d, cached %d)"
      % (sum(counts.values()), counts["in_use"], counts["free"], counts["cached"]))
print("analyze:       %.2f s wall, best of %d (%s)"
      % (min(walls), runs, ", ".join("%.2f" % w for w in walls)))
print("peak RSS:      %.1f MiB" % (rss / 1024))
print("cat core:      %.2f s (page cache warm), %.0f MiB/s"
      % (best_cat, size / 2**20 / best_cat if best_cat else 0))
print("analyze / cat: %.1fx" % (min(walls) / best_cat if best_cat else 0))
print("properties:    %s" % ("all %d tcmalloc properties match the report" % len(recorded)
                             if not diff else "MISMATCH in " + ", ".join(diff)))
print("diagnostics:   %d of severity error" % len(errors))
PY
