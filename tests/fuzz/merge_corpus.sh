#!/usr/bin/env bash
# merge_corpus.sh: keep the fuzzer's own finds: a coverage-minimal, size-capped subset.
#
#   tests/fuzz/merge_corpus.sh [BUILD_FUZZ_DIR] [TARGET...]   (default build-fuzz, all)
#
# For each target, libFuzzer's -merge=1 picks from the working corpus that
# bench/fuzz grew (BUILD_FUZZ_DIR/fuzz-corpus/<target>) the inputs that add
# coverage to the seeds already in tests/fuzz/corpus/<seeds>/; the smallest
# of them are copied there as min-<sha1>, at most 512 KiB per target, so
# the whole corpus stays well under 5 MiB. fuzz-regress then replays them in
# every build. Old min-* files are replaced.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$top/build-fuzz}" && pwd)
shift || true
budget=$((512 * 1024))
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(core glibc jemalloc tcmalloc classify report_json)
for t in "${targets[@]}"; do
	bin=$build/tests/fuzz/fuzz_$t
	work=$build/fuzz-corpus/$t
	seeds=$here/corpus/${t%_walk}
	[ -x "$bin" ] && [ -d "$work" ] || { echo "merge_corpus: skip $t" >&2; continue; }
	tmp=$(mktemp -d)
	mkdir "$tmp/seeds" "$tmp/new"
	find "$seeds" -maxdepth 1 -type f ! -name '.*' ! -name 'min-*' -exec cp {} "$tmp/seeds/" \;
	# Seeds first: -merge keeps what the first directory already covers.
	"$bin" -merge=1 -rss_limit_mb=2048 -timeout=10 "$tmp/seeds" "$work" \
		> "$tmp/log" 2>&1 || { tail -5 "$tmp/log" >&2; rm -rf "$tmp"; exit 1; }
	comm -13 <(cd "$seeds" && ls | sort) <(cd "$tmp/seeds" && ls | sort) |
		while read -r f; do echo "$(stat -c %s "$tmp/seeds/$f") $f"; done |
		sort -n > "$tmp/added"
	rm -f "$seeds"/min-*
	total=0 n=0
	while read -r size f; do
		[ $((total + size)) -gt $budget ] && break
		cp "$tmp/seeds/$f" "$seeds/min-$f"
		total=$((total + size)) n=$((n + 1))
	done < "$tmp/added"
	echo "$t: $(wc -l < "$tmp/added") inputs add coverage; kept the $n smallest ($total bytes)"
	rm -rf "$tmp"
done
du -sh --apparent-size "$here/corpus"
