#!/usr/bin/env python3
"""run_fixture.py: run a fixture, gcore it, and check heapscope's report against what it recorded.

A fixture is a real program on a real allocator. It is started as

    FIXTURE STATS-FILE [--fixture-arg ...]

does its allocations, writes STATS-FILE, prints "ready" on stdout and waits
to be killed. STATS-FILE is a list of lines (blank lines and '#' comments
are ignored):

    KEY VALUE              allocator.stats[KEY] == VALUE (KEY may contain dots:
                           "stats.allocated"); every recorded key must be there
    expect SIZE COUNT      a size_classes row {size: SIZE, count: COUNT}
    report PATH VALUE      the report field at dotted PATH ("allocator.arenas",
                           "size_classes.0.size") equals VALUE (int or string)
    report-min PATH VALUE  the report field at PATH is an integer >= VALUE
    report-max PATH VALUE  the report field at PATH is an integer <= VALUE
    type COUNT NAME        a types row named NAME (the rest of the line: C++
                           names may hold spaces) counts COUNT objects
    memory ROW BYTES       the memory table (memory.regions) row ROW, "kind"
                           or "kind/name", holds BYTES of address space
    memory-sum K+K BYTES   those kinds, all their rows, hold BYTES together

Besides those, every report must: be heapscope-report/1 with the fixture's
pid; have size_classes rows with bytes == size * count that sum to
totals.in_use minus totals.metadata; have a memory table whose rows sum
exactly to memory.mapped and memory.dumped, with the chunk rows equal to
the totals; and carry no diagnostic of severity "error".

With --kernel-core the core comes from the kernel instead: the fixture runs
under `ulimit -c unlimited` and is aborted; the test is skipped (with the
reason) when core_pattern hands cores to a program or none appears.

Exit status: 0 pass, 1 fail, 77 skip (gcore is not installed, or no kernel
core can be had).
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hstest import SKIP, Failure, log, stop  # noqa: E402,F401  (tests/lib/hstest.py)
import hstest  # noqa: E402

ANALYZE_TIMEOUT = 240


# ------------------------------------------------------------------ stats file

class Expectations:
    def __init__(self):
        self.stats = {}      # key -> int
        self.sizes = []      # (size, count)
        self.fields = []     # (op, path, value-string)
        self.types = []      # (name, count)
        self.memory = []     # (op, row or kinds, bytes)


def parse_stats(path):
    exp = Expectations()
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            where = "%s:%d" % (path, lineno)
            try:
                if parts[0] == "expect":
                    if len(parts) != 3:
                        raise ValueError("expect SIZE COUNT")
                    exp.sizes.append((int(parts[1], 0), int(parts[2], 0)))
                elif parts[0] == "type":
                    if len(parts) < 3:
                        raise ValueError("type COUNT NAME")
                    exp.types.append((line.split(None, 2)[2], int(parts[1], 0)))
                elif parts[0] in ("memory", "memory-sum"):
                    # A row's name may hold spaces ("other_anonymous/Go heap").
                    if len(parts) < 3:
                        raise ValueError("%s ROW BYTES" % parts[0])
                    exp.memory.append((parts[0], " ".join(parts[1:-1]), int(parts[-1], 0)))
                elif parts[0] in ("report", "report-min", "report-max"):
                    if len(parts) < 3:
                        raise ValueError("%s PATH VALUE" % parts[0])
                    value = " ".join(parts[2:])
                    if parts[0] != "report":
                        int(value, 0)
                    exp.fields.append((parts[0], parts[1], value))
                else:
                    if len(parts) != 2:
                        raise ValueError("KEY VALUE")
                    if parts[0] in exp.stats:
                        raise ValueError("statistic %s recorded twice" % parts[0])
                    exp.stats[parts[0]] = int(parts[1], 0)
            except ValueError as e:
                raise Failure("%s: bad line %r (%s)" % (where, line, e))
    return exp


# ------------------------------------------------------------------ processes

def start_fixture(args, stats_path, env, tmp=None):
    popen_args = {}
    if getattr(args, "kernel_core", False):
        popen_args = {"cwd": tmp, "preexec_fn": hstest.kernel_core_limits}
    # Absolute: with --kernel-core the fixture runs in tmp.
    return hstest.start_fixture([os.path.abspath(args.fixture), stats_path] +
                                args.fixture_arg, env, **popen_args)


def take_core(pid, tmp):
    return hstest.gcore(pid, os.path.join(tmp, "core"))


def analyze(args, core):
    # Options before CORE: the contract allows both orders, and the order
    # is the CLI tests' business (tests/cli), not the walkers'.
    cmd = [args.heapscope, "analyze", "--json", "-"]
    if args.no_debuginfo:
        cmd.append("--no-debuginfo")
    cmd += args.heapscope_arg + [core]
    return hstest.json_of(hstest.run_ok(cmd, ANALYZE_TIMEOUT))


# ------------------------------------------------------------------ checks

MISSING = object()

MEMORY_KINDS = ("in_use", "free", "cached", "allocator_metadata", "allocator_reserved",
                "modules", "data_files", "stacks", "other_anonymous", "inaccessible")


def memory_rows(report):
    """memory.regions, each row checked for shape; None if absent or malformed."""
    rows = report.get("memory", {}).get("regions") if isinstance(report, dict) else None
    if not isinstance(rows, list):
        return None
    for r in rows:
        if not (isinstance(r, dict) and r.get("kind") in MEMORY_KINDS
                and is_int(r.get("virtual")) and is_int(r.get("dumped"))
                and 0 <= r["dumped"] <= r["virtual"]):
            return None
    if [r["kind"] for r in rows if "name" not in r] != list(MEMORY_KINDS):
        return None
    return rows


def row_key(r):
    return r["kind"] + ("/" + r["name"] if "name" in r else "")



def lookup(report, path):
    node = report
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return MISSING
    return node


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def same(want, got):
    """want is the recorded string; got is a JSON value."""
    if is_int(got):
        try:
            return int(want, 0) == got
        except ValueError:
            return False
    if isinstance(got, bool):
        return want.lower() == str(got).lower()
    if isinstance(got, str):
        return want == got
    return False


class Checker:
    def __init__(self):
        self.failures = []

    def fail(self, msg):
        self.failures.append(msg)

    def stats(self, exp, report):
        got = lookup(report, "allocator.stats")
        if not isinstance(got, dict):
            self.fail("allocator.stats is missing or not an object")
            got = {}
        rows, bad = [], 0
        for key, want in exp.stats.items():
            g = got.get(key, MISSING)
            ok = is_int(g) and g == want
            bad += not ok
            rows.append((key, str(want), "(missing)" if g is MISSING else json.dumps(g),
                         "" if ok else ("" if not is_int(g) else "%+d" % (g - want)),
                         "ok" if ok else "DIFF"))
        extra = sorted(k for k in got if k not in exp.stats)
        if bad:
            self.fail("%d of %d allocator statistics differ" % (bad, len(exp.stats)))
        if exp.stats:
            w = max(len(r[0]) for r in rows)
            log("allocator.stats (recorded by the fixture vs report):")
            log("  %-*s %16s %16s %12s" % (w, "stat", "expected", "got", "got-exp"))
            for r in rows:
                log("  %-*s %16s %16s %12s  %s" % (w, r[0], r[1], r[2], r[3], r[4]))
        if extra:
            log("  (also reported: %s)" % ", ".join("%s=%s" % (k, got[k]) for k in extra))

    def sizes(self, exp, report):
        classes = lookup(report, "size_classes")
        if not isinstance(classes, list):
            self.fail("size_classes is missing or not a list")
            return
        by_size = {}
        for row in classes:
            if not isinstance(row, dict) or not all(is_int(row.get(k)) for k in
                                                    ("size", "count", "bytes")):
                self.fail("malformed size_classes row %r" % (row,))
                continue
            if row["size"] in by_size:
                self.fail("size_classes: size %d listed twice" % row["size"])
            by_size[row["size"]] = row
            if row["bytes"] != row["size"] * row["count"]:
                self.fail("size_classes: size %d count %d has bytes %d, not size*count"
                          % (row["size"], row["count"], row["bytes"]))
        if exp.sizes:
            log("size_classes (in-use chunks the fixture holds vs report):")
            log("  %12s %12s %12s" % ("size", "expected", "got"))
        for size, count in exp.sizes:
            row = by_size.get(size)
            got = row["count"] if row else 0
            ok = got == count
            log("  %12d %12d %12d  %s" % (size, count, got, "ok" if ok else "DIFF"))
            if not ok:
                self.fail("size_classes: %d chunks of size %d, expected %d"
                          % (got, size, count))
        # The rows are the in-use chunks minus allocator metadata.
        in_use = lookup(report, "totals.in_use")
        meta = lookup(report, "totals.metadata")
        if meta is MISSING:
            meta = {"count": 0, "bytes": 0}
        if not isinstance(in_use, dict):
            self.fail("totals.in_use is missing")
            return
        for k in ("count", "bytes"):
            total = sum(r[k] for r in by_size.values())
            want = in_use.get(k, 0) - meta.get(k, 0)
            if total != want:
                self.fail("size_classes %s sum to %d, but totals.in_use - totals.metadata "
                          "is %d" % (k, total, want))

    def types(self, exp, report):
        if not exp.types:
            return
        types = lookup(report, "types")
        if not isinstance(types, list):
            self.fail("types is missing or not a list")
            return
        counts = {}
        for row in types:
            if isinstance(row, dict) and isinstance(row.get("name"), str):
                counts[row["name"]] = counts.get(row["name"], 0) + (row.get("count") or 0)
        log("types (objects the fixture holds vs report):")
        for name, count in exp.types:
            got = counts.get(name, 0)
            ok = got == count
            log("  %-32s %10d %10d  %s" % (name, count, got, "ok" if ok else "DIFF"))
            if not ok:
                self.fail("types: %d objects of %s, expected %d" % (got, name, count))

    def totals(self, report):
        totals = lookup(report, "totals")
        if not isinstance(totals, dict):
            self.fail("totals is missing")
            return
        for state in ("in_use", "free", "cached"):
            t = totals.get(state)
            if not (isinstance(t, dict) and is_int(t.get("count")) and is_int(t.get("bytes"))
                    and t["count"] >= 0 and t["bytes"] >= 0):
                self.fail("totals.%s is not {count, bytes} of non-negative integers" % state)
        # The memory breakdown agrees with the totals and with itself.
        mem = lookup(report, "memory")
        if not isinstance(mem, dict):
            self.fail("memory is missing")
            return
        chunk_bytes = sum(totals[s]["bytes"] for s in ("in_use", "free", "cached")
                          if isinstance(totals.get(s), dict))
        if mem.get("allocator_chunks") != chunk_bytes:
            self.fail("memory.allocator_chunks %r != in_use + free + cached bytes %d"
                      % (mem.get("allocator_chunks"), chunk_bytes))
        if not (is_int(mem.get("dumped")) and is_int(mem.get("mapped"))
                and 0 < mem["dumped"] <= mem["mapped"]):
            self.fail("memory.dumped %r is not in (0, memory.mapped %r]"
                      % (mem.get("dumped"), mem.get("mapped")))
        elif chunk_bytes > mem["mapped"]:
            self.fail("allocator chunks (%d bytes) exceed the mapped memory (%d)"
                      % (chunk_bytes, mem["mapped"]))

    def memory(self, exp, report, writer):
        """The memory table adds up, agrees with the totals, and has the rows
        the fixture knows of (what it mapped itself, what the allocator
        reserved and holds, by the allocator's own account). The core's
        writer is told right, and a kernel core holds no inaccessible page."""
        rows = memory_rows(report)
        if rows is None:
            self.fail("memory.regions is missing or malformed")
            return
        mem = report["memory"]
        untouched = {"gcore": "dumped", "kernel": "omitted"}[writer]
        if mem.get("core_writer") != writer or mem.get("untouched_pages") != untouched:
            self.fail("memory.core_writer %r, untouched_pages %r: expected %s, %s"
                      % (mem.get("core_writer"), mem.get("untouched_pages"), writer, untouched))
        if writer == "kernel":
            for r in rows:
                if r["kind"] == "inaccessible" and r["dumped"]:
                    self.fail("a kernel core holds %d bytes of %s" % (r["dumped"], row_key(r)))
        log("memory table (%s core, untouched pages %s):"
            % (mem.get("core_writer"), mem.get("untouched_pages")))
        for r in rows:
            log("  %-40s %14d %14d" % (row_key(r), r["virtual"], r["dumped"]))
        for what, key in (("virtual", "mapped"), ("dumped", "dumped")):
            total = sum(r[what] for r in rows)
            log("  %-40s %14d (memory.%s %d)" % ("sum of " + what, total, key, mem.get(key)))
            if total != mem.get(key):
                self.fail("memory.regions %s sum to %d, memory.%s is %d"
                          % (what, total, key, mem.get(key)))
        by_row = {}
        for r in rows:
            by_row[row_key(r)] = by_row.get(row_key(r), 0) + r["virtual"]
        totals = report.get("totals", {})
        meta = totals.get("metadata", {"bytes": 0})["bytes"]
        for state in ("in_use", "free", "cached"):
            want = totals.get(state, {}).get("bytes", 0) - (meta if state == "in_use" else 0)
            if state == "free" and report.get("allocator", {}).get("name") == "tcmalloc":
                # tcmalloc's returned spans are free chunks in the totals and
                # allocator_reserved in the table.
                want -= report["allocator"]["stats"].get("tcmalloc.pageheap_unmapped_bytes", 0)
            if by_row.get(state) != want:
                self.fail("memory.regions %s is %r, the totals say %d"
                          % (state, by_row.get(state), want))
        for op, key, want in exp.memory:
            if op == "memory":
                got = by_row.get(key, 0)
            else:
                kinds = key.split("+")
                got = sum(r["virtual"] for r in rows if r["kind"] in kinds)
            ok = got == want
            log("  %-10s %-48s %14d got %14d  %s" % (op, key, want, got, "ok" if ok else "DIFF"))
            if not ok:
                self.fail("%s %s: %d bytes, expected %d (%+d)" % (op, key, got, want, got - want))

    def fields(self, exp, report):
        for op, path, want in exp.fields:
            got = lookup(report, path)
            if got is MISSING:
                self.fail("%s: report has no %s" % (op, path))
                continue
            if op == "report":
                ok = same(want, got)
            elif not is_int(got):
                ok = False
            elif op == "report-min":
                ok = got >= int(want, 0)
            else:
                ok = got <= int(want, 0)
            rel = {"report": "==", "report-min": ">=", "report-max": "<="}[op]
            log("  %-28s %s %-10s got %-10s %s" % (path, rel, want, json.dumps(got),
                                                   "ok" if ok else "DIFF"))
            if not ok:
                self.fail("%s %s %s, got %s" % (path, rel, want, json.dumps(got)))

    def header(self, report, pid):
        if lookup(report, "schema") != "heapscope-report/1":
            self.fail("schema is %r" % (lookup(report, "schema"),))
        if lookup(report, "core.pid") != pid:
            self.fail("core.pid is %r, the fixture was %d" % (lookup(report, "core.pid"), pid))

    def diagnostics(self, report):
        diags = lookup(report, "diagnostics")
        if diags is MISSING:
            return
        if not isinstance(diags, list):
            self.fail("diagnostics is not a list")
            return
        for d in diags:
            sev = d.get("severity") if isinstance(d, dict) else None
            msg = d.get("message") if isinstance(d, dict) else d
            addr = d.get("address") if isinstance(d, dict) else None
            line = "%s: %s%s" % (sev, msg, " at %s" % addr if addr else "")
            log("  diagnostic " + line)
            if sev == "error":
                self.fail("diagnostic " + line)


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heapscope", required=True, help="the heapscope executable")
    ap.add_argument("--fixture", required=True, help="the fixture program")
    ap.add_argument("--no-debuginfo", action="store_true",
                    help="pass --no-debuginfo to heapscope")
    ap.add_argument("--fixture-arg", action="append", default=[],
                    help="extra argument for the fixture (after the stats file)")
    ap.add_argument("--heapscope-arg", action="append", default=[],
                    help="extra argument for heapscope analyze")
    ap.add_argument("--env", action="append", default=[], metavar="K=V",
                    help="environment variable for the fixture (LD_PRELOAD, MALLOC_CONF)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory (core, stats, report)")
    ap.add_argument("--report", action="append", default=[], metavar="PATH=VALUE",
                    help="also require a report field (as a 'report' line would)")
    ap.add_argument("--diag", action="append", default=[], metavar="TEXT",
                    help="require a diagnostic whose message contains TEXT")
    ap.add_argument("--kernel-core", action="store_true",
                    help="take the core from the kernel (SIGABRT under ulimit -c unlimited) "
                         "rather than gcore; skip when core_pattern writes no file")
    args = ap.parse_args()

    if args.kernel_core:
        try:
            hstest.kernel_core_pattern()
        except hstest.NoKernelCore as e:
            log("SKIP: %s" % e)
            return SKIP
    elif not shutil.which("gcore"):
        log("SKIP: gcore (gdb) is not installed")
        return SKIP

    env = dict(os.environ)
    for kv in args.env:
        if "=" not in kv:
            ap.error("--env wants K=V, got %r" % kv)
        k, v = kv.split("=", 1)
        env[k] = v
    # The fixture runs on the real allocator: an LD_PRELOAD inherited from
    # the caller (a sanitizer runtime, say) must not reach it; one given
    # with --env (tcmalloc, say) does.
    # Likewise meson test's MALLOC_PERTURB_ and other malloc tuning: the
    # fixture runs on the allocator's defaults unless --env says otherwise.
    for k in ("LD_PRELOAD", "MALLOC_PERTURB_", "MALLOC_CHECK_", "MALLOC_ARENA_MAX",
              "MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES"):
        if not any(kv.startswith(k + "=") for kv in args.env):
            env.pop(k, None)

    # Cores can be large: TMPDIR chooses where they go; always clean up.
    tmp = tempfile.mkdtemp(prefix="heapscope-golden-")
    proc = outside = None
    checker = Checker()
    try:
        stats_path = os.path.join(tmp, "stats")
        proc = start_fixture(args, stats_path, env, tmp)
        pid = proc.pid
        try:
            if args.kernel_core:
                core = hstest.kernel_core(proc, tmp, os.path.basename(args.fixture))
            else:
                core = take_core(pid, tmp)
        except hstest.NoKernelCore as e:
            log("SKIP: %s" % e)
            return SKIP
        if not core.startswith(tmp + os.sep):
            outside = core  # a core_pattern with a directory of its own
        stop(proc)
        exp = parse_stats(stats_path)
        for kv in args.report:
            path, _, value = kv.partition("=")
            exp.fields.append(("report", path, value))
        report = analyze(args, core)
        if args.keep:
            with open(os.path.join(tmp, "report.json"), "w") as f:
                json.dump(report, f, indent=1)
        log("allocator: %s %s located by %s, %s arena(s), layout %s (row %s)" % (
            lookup(report, "allocator.name"), lookup(report, "allocator.version"),
            lookup(report, "allocator.located_by"), lookup(report, "allocator.arenas"),
            lookup(report, "allocator.layout"), lookup(report, "allocator.layout_row")))
        checker.header(report, pid)
        checker.stats(exp, report)
        checker.sizes(exp, report)
        checker.totals(report)
        checker.types(exp, report)
        checker.memory(exp, report, "kernel" if args.kernel_core else "gcore")
        if exp.fields:
            log("report fields:")
        checker.fields(exp, report)
        checker.diagnostics(report)
        for text in args.diag:
            if not any(text in (d.get("message") or "") for d in report.get("diagnostics", [])
                       if isinstance(d, dict)):
                checker.fail("no diagnostic says %r" % text)
    except Failure as e:
        checker.fail(str(e))
    finally:
        stop(proc)
        if args.keep:
            log("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
            if outside:
                os.unlink(outside)

    if checker.failures:
        log("FAIL: %s" % os.path.basename(args.fixture))
        for f in checker.failures:
            log("  - " + f)
        return 1
    log("PASS: %s" % os.path.basename(args.fixture))
    return 0


if __name__ == "__main__":
    sys.exit(main())
