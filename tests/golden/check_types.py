#!/usr/bin/env python3
"""check_types.py: run a classification fixture, gcore it, and check heapscope's types and patterns.

The fixture is started like any golden fixture (run_fixture.py: FIXTURE
STATS-FILE, "ready" on stdout, then it waits). Besides the lines
run_fixture.py knows (allocator statistics, expect, report...), its stats
file may hold:

    expect_type KIND COUNT NAME      report.types has NAME of KIND with COUNT
                                     (NAME is the rest of the line)
    expect_pattern SIG... COUNT      exactly one pattern has signature SIG
                                     ("H M 0 i t ?") and it has COUNT chunks
    expect_sds_max_permille N        types of kind sds hold fewer than N per
                                     mille of the in-use chunks (precision)

It also checks `heapscope list CORE --type NAME` against the first
expect_type line, `heapscope show` on one of those addresses, and that
`analyze --redact` leaves no hexdump in the report.

Exit status: 0 pass, 1 fail, 77 skip (gcore is not installed).
"""

import argparse
import re
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_fixture as rf  # noqa: E402
from hstest import verdict  # noqa: E402

OWN = ("expect_type", "expect_pattern", "expect_sds_max_permille")


def split_stats(path, rest_path):
    """Take our lines out of the stats file; write the others for run_fixture."""
    mine = []
    with open(path, encoding="utf-8") as f, open(rest_path, "w", encoding="utf-8") as rest:
        for line in f:
            parts = line.split()
            if parts and parts[0] in OWN:
                mine.append(parts)
            else:
                rest.write(line)
    return mine


def run(cmd):
    return rf.hstest.run_ok(cmd, rf.ANALYZE_TIMEOUT, "heapscope " + cmd[1]).out


def check(args, core, mine, report, checker):
    types = report.get("types", [])
    by_name = {}
    for t in types:
        by_name.setdefault(t["name"], []).append(t)
    in_use = report["totals"]["in_use"]["count"] - report["totals"].get(
        "metadata", {"count": 0})["count"]
    first = None
    rf.log("types (expected by the fixture vs report):")
    for parts in mine:
        if parts[0] == "expect_type":
            kind, want, name = parts[1], int(parts[2]), " ".join(parts[3:])
            rows = [t for t in by_name.get(name, []) if t["kind"] == kind]
            got = rows[0]["count"] if rows else 0
            ok = got == want
            rf.log("  %-8s %-34s %8d %8d  %s" % (kind, name, want, got, "ok" if ok else "DIFF"))
            if not ok:
                checker.fail("type %s (%s): %d, expected %d" % (name, kind, got, want))
            if first is None and rows:
                first = (name, want, rows[0])
        elif parts[0] == "expect_pattern":
            sig, want = " ".join(parts[1:-1]), int(parts[-1])
            rows = [p for p in report.get("patterns", []) if p["signature"] == sig]
            got = [p["count"] for p in rows]
            ok = got == [want]
            rf.log("  pattern  [%s]: expected one cluster of %d, got %s  %s"
                   % (sig, want, got, "ok" if ok else "DIFF"))
            if ok:
                rf.log("  runs of adjacent members: %d; sample:\n%s"
                       % (rows[0]["runs"], rows[0]["samples"][0]["hex"] or "(redacted)"))
            else:
                checker.fail("pattern [%s]: clusters %s, expected one of %d" % (sig, got, want))
        elif parts[0] == "expect_sds_max_permille":
            limit = int(parts[1])
            sds = sum(t["count"] for t in types if t["kind"] == "sds")
            share = 1000.0 * sds / in_use if in_use else 0.0
            ok = sds == 0 or sds * 1000 < limit * in_use
            rf.log("  precision: %d of %d in-use chunks called sds (%.3f per mille, limit %d)  %s"
                   % (sds, in_use, share, limit, "ok" if ok else "DIFF"))
            if not ok:
                checker.fail("%d of %d in-use chunks called sds" % (sds, in_use))
    rf.log("top types in the report:")
    for t in types[:15]:
        rf.log("  %8d %10d  %-8s %s" % (t["count"], t["bytes"], t["kind"], t["name"]))

    opts = ["--no-debuginfo"] if args.no_debuginfo else []
    if first:
        name, want, row = first
        out = run([args.heapscope, "list", core, "--type", name] + opts)
        addrs = out.split()
        if len(addrs) != want or any(not a.startswith("0x") for a in addrs):
            checker.fail("list --type %s: %d lines, expected %d" % (name, len(addrs), want))
        else:
            rf.log("list --type %s: %d addresses  ok" % (name, len(addrs)))
        if addrs:
            out = run([args.heapscope, "show", core, addrs[0]] + opts)
            rf.log(out.rstrip())
            if "type     %s (%s)" % (name, row["kind"]) not in out or "00000000  " not in out:
                checker.fail("show %s does not give type %s and a hexdump" % (addrs[0], name))
            check_show_usable(checker, out)
            red = run([args.heapscope, "show", core, addrs[0], "--redact"] + opts)
            if "00000000  " in red or "(redacted)" not in red:
                checker.fail("show --redact printed heap content")
    red = rf.json.loads(run([args.heapscope, "analyze", "--json", "-", "--redact"] + opts + [core]))
    leaked = [s for p in red.get("patterns", []) for s in p["samples"] if s["hex"] is not None]
    if leaked:
        checker.fail("analyze --redact kept %d hexdump samples" % len(leaked))
    else:
        rf.log("analyze --redact: no hexdump in %d patterns  ok" % len(red.get("patterns", [])))


def check_show_usable(checker, out):
    """show dumps the chunk's usable bytes and no more (glibc: size - 8 in use,
    size - 16 mmapped; the next chunk's size word is not the object's)."""
    m = re.search(r"chunk +0x[0-9a-f]+, (\d+) bytes as (\w+) accounts it "
                  r"\((\d+) usable\), in_use(.*)", out)
    ends = re.findall(r"^([0-9a-f]{8})$", out, re.M)
    if not m or not ends:
        checker.fail("show: no chunk line with its usable size, or no hexdump end")
        return
    size, alloc, usable = int(m.group(1)), m.group(2), int(m.group(3))
    want = size
    if alloc == "glibc":
        want = size - 16 if "mmapped" in m.group(4) else size - 8
    dumped = int(ends[-1], 16)
    ok = usable == want and dumped == min(usable, 256)
    rf.log("show: %s chunk of %d bytes, %d usable (expected %d), %d dumped  %s"
           % (alloc, size, usable, want, dumped, "ok" if ok else "DIFF"))
    if not ok:
        checker.fail("show: %d usable bytes of a %d-byte %s chunk, %d dumped; expected %d"
                     % (usable, size, alloc, dumped, want))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heapscope", required=True)
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--no-debuginfo", action="store_true")
    ap.add_argument("--env", action="append", default=[], metavar="K=V")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--expect-top", metavar="NAME",
                    help="the first row of types must be NAME (the demo: common::Closure)")
    args = ap.parse_args()
    args.fixture_arg = []
    args.heapscope_arg = []

    if not shutil.which("gcore"):
        rf.log("SKIP: gcore (gdb) is not installed")
        return rf.SKIP
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    for kv in args.env:
        k, v = kv.split("=", 1)
        env[k] = v

    tmp = tempfile.mkdtemp(prefix="heapscope-types-")
    proc = None
    checker = rf.Checker()
    try:
        stats_path = os.path.join(tmp, "stats")
        proc = rf.start_fixture(args, stats_path, env)
        pid = proc.pid
        core = rf.take_core(pid, tmp)
        rf.stop(proc)
        rest = os.path.join(tmp, "stats.rest")
        mine = split_stats(stats_path, rest)
        exp = rf.parse_stats(rest)
        report = rf.analyze(args, core)
        checker.header(report, pid)
        checker.stats(exp, report)
        checker.sizes(exp, report)
        checker.totals(report)
        checker.fields(exp, report)
        checker.diagnostics(report)
        check(args, core, mine, report, checker)
        if args.expect_top:
            top = report.get("types", [{}])[0].get("name") if report.get("types") else None
            rf.log("top type: %r (expected %r)  %s"
                   % (top, args.expect_top, "ok" if top == args.expect_top else "DIFF"))
            if top != args.expect_top:
                checker.fail("the top type is %r, expected %r" % (top, args.expect_top))
    except rf.Failure as e:
        checker.fail(str(e))
    finally:
        rf.stop(proc)
        if args.keep:
            rf.log("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return verdict(checker.failures)


if __name__ == "__main__":
    sys.exit(main())
