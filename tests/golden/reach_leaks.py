#!/usr/bin/env python3
"""reach_leaks.py: run fixture_reach, gcore it, and check heapscope's leak verdicts and containers exactly.

    reach_leaks.py --heapscope PATH --fixture PATH [--no-debuginfo] [--keep]

The fixture (testdata/fixtures/fixture_reach.cc) records, besides its
allocator's statistics, the reachability truth of its heap
(fixture_common.h):

    reach_type KIND COUNT BYTES LEAKED LEAKED_BYTES DIRECT DIRECT_BYTES NAME
    reach_total VERDICT COUNT BYTES
    reach_root KIND
    reach_anchor NAME ROOT_KIND WHERE THROUGH   (read, for anchor-chain tests)

and heapscope's report must say exactly that (issue 16's contract):

- leaks.leaked, leaks.direct and leaks.indirect equal the reach_total lines
  ({count, bytes}, bytes as the report accounts chunks);
- leaks.roots has the five kinds as integers, and each reach_root KIND is
  non-zero;
- leaks.types: per reach_type line, the rows of that type (kind vtable:
  the class name; kind container: the name, or the name followed by a
  space and a suffix such as " <T*>"; several such rows are summed) have
  exactly LEAKED leaked and DIRECT direct chunks and bytes; no other row
  has leaked chunks;
- types: the same rows count COUNT chunks of BYTES (container internals
  named, not left as patterns);
- and what every golden test checks (allocator statistics, totals, no
  error diagnostic, core.threads).

A report without a `leaks` object fails.

Exit status: 0 pass, 1 fail, 77 skip (gcore is not installed).
"""

import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_fixture as rf  # noqa: E402
from hstest import verdict  # noqa: E402

VERDICTS = ("leaked", "direct", "indirect")
ROOT_KINDS = ("registers", "stacks", "modules", "tls", "other")


class Truth:
    def __init__(self):
        # dicts: kind, name, count, bytes, leaked, leaked_bytes, direct, direct_bytes
        self.types = []
        self.totals = {}   # verdict -> (count, bytes)
        self.roots = []    # root kinds that hold something
        # (class, root kind, where, [types passed through]): for `show` tests
        self.anchors = []


def split_truth(path, rest_path):
    """Take the reach_* lines out of the stats file; write the others for run_fixture."""
    truth = Truth()
    with open(path, encoding="utf-8") as f, open(rest_path, "w", encoding="utf-8") as rest:
        for lineno, line in enumerate(f, 1):
            parts = line.split()
            where = "%s:%d" % (path, lineno)
            try:
                if parts and parts[0] == "reach_type":
                    if len(parts) < 9:
                        raise ValueError("reach_type KIND 6*N NAME")
                    nums = [int(p) for p in parts[2:8]]
                    truth.types.append(dict(
                        kind=parts[1], name=line.split(None, 8)[8].strip(),
                        count=nums[0], bytes=nums[1], leaked=nums[2], leaked_bytes=nums[3],
                        direct=nums[4], direct_bytes=nums[5]))
                elif parts and parts[0] == "reach_total":
                    if len(parts) != 4 or parts[1] not in VERDICTS:
                        raise ValueError("reach_total VERDICT COUNT BYTES")
                    truth.totals[parts[1]] = (int(parts[2]), int(parts[3]))
                elif parts and parts[0] == "reach_root":
                    if len(parts) != 2 or parts[1] not in ROOT_KINDS:
                        raise ValueError("reach_root KIND")
                    truth.roots.append(parts[1])
                elif parts and parts[0] == "reach_anchor":
                    if len(parts) < 5 or parts[2] not in ROOT_KINDS:
                        raise ValueError("reach_anchor NAME ROOT_KIND WHERE THROUGH")
                    through = line.split(None, 4)[4].strip()
                    truth.anchors.append((parts[1], parts[2], parts[3],
                                          [] if through == "-" else through.split(",")))
                else:
                    rest.write(line)
            except ValueError as e:
                raise rf.Failure("%s: bad line %r (%s)" % (where, line.strip(), e))
    if set(truth.totals) != set(VERDICTS):
        raise rf.Failure("%s: reach_total lines for %s, expected %s"
                         % (path, sorted(truth.totals), list(VERDICTS)))
    return truth


def matches(t, row):
    """Whether a report row (types[] or leaks.types[]) is of the truth type t."""
    if not isinstance(row, dict) or row.get("kind") != t["kind"]:
        return False
    name = row.get("name")
    if not isinstance(name, str):
        return False
    if t["kind"] == "container":
        return name == t["name"] or name.startswith(t["name"] + " ")
    return name == t["name"]


def pair(obj):
    """(count, bytes) of a {count, bytes} object, or None if it is not one."""
    if (isinstance(obj, dict) and rf.is_int(obj.get("count"))
            and rf.is_int(obj.get("bytes"))):
        return (obj["count"], obj["bytes"])
    return None


def check_types(truth, report, checker):
    """types[]: every truth type has its count and bytes."""
    rows = report.get("types", [])
    rf.log("types (truth vs report; containers summed over their suffixes):")
    rf.log("  %-10s %-34s %8s %10s %8s %10s" % ("kind", "name", "count", "bytes", "got",
                                               "got bytes"))
    for t in truth.types:
        mine = [r for r in rows if matches(t, r)]
        got = (sum(r.get("count", 0) for r in mine), sum(r.get("bytes", 0) for r in mine))
        ok = got == (t["count"], t["bytes"])
        rf.log("  %-10s %-34s %8d %10d %8d %10d  %s" % (t["kind"], t["name"], t["count"],
                                                       t["bytes"], got[0], got[1],
                                                       "ok" if ok else "DIFF"))
        if not ok:
            checker.fail("types: %s (%s) has %d chunks, %d bytes; expected %d, %d"
                         % (t["name"], t["kind"], got[0], got[1], t["count"], t["bytes"]))


def check_leaks(truth, leaks, checker):
    """The leaks object against the truth, exactly."""
    if not isinstance(leaks, dict):
        checker.fail("leaks is not an object")
        return
    rf.log("leaks totals (truth vs report):")
    for v in VERDICTS:
        want, got = truth.totals[v], pair(leaks.get(v))
        ok = got == want
        rf.log("  %-9s %8d %10d   got %s  %s" % (v, want[0], want[1],
                                                 "%d %d" % got if got else repr(leaks.get(v)),
                                                 "ok" if ok else "DIFF"))
        if not ok:
            checker.fail("leaks.%s is %r, expected {count: %d, bytes: %d}"
                         % (v, leaks.get(v), want[0], want[1]))

    roots = leaks.get("roots")
    rf.log("leaks.roots: %r" % (roots,))
    if not isinstance(roots, dict):
        checker.fail("leaks.roots is not an object")
    else:
        for k in ROOT_KINDS:
            if not (rf.is_int(roots.get(k)) and roots[k] >= 0):
                checker.fail("leaks.roots.%s is %r, expected a non-negative integer"
                             % (k, roots.get(k)))
        for k in truth.roots:
            if rf.is_int(roots.get(k)) and roots[k] == 0:
                checker.fail("leaks.roots.%s is 0, but the fixture holds objects from it" % k)

    rows = leaks.get("types")
    if not isinstance(rows, list):
        checker.fail("leaks.types is not a list")
        return
    rf.log("leaks.types (truth vs report):")
    rf.log("  %-34s %8s %10s %8s %10s    %8s %10s %8s %10s" % (
        "name", "leaked", "bytes", "direct", "bytes", "got", "bytes", "got", "bytes"))
    claimed = set()
    for t in truth.types:
        mine = [r for r in rows if matches(t, r)]
        claimed.update(id(r) for r in mine)
        leaked = [pair(r.get("leaked")) for r in mine]
        direct = [pair(r.get("direct")) for r in mine]
        if None in leaked or None in direct:
            checker.fail("leaks.types: a row of %s lacks leaked or direct {count, bytes}"
                         % t["name"])
            continue
        got = (sum(p[0] for p in leaked), sum(p[1] for p in leaked),
               sum(p[0] for p in direct), sum(p[1] for p in direct))
        want = (t["leaked"], t["leaked_bytes"], t["direct"], t["direct_bytes"])
        ok = got == want
        rf.log("  %-34s %8d %10d %8d %10d    %8d %10d %8d %10d  %s"
               % ((t["name"],) + want + got + ("ok" if ok else "DIFF",)))
        if not ok:
            checker.fail("leaks.types: %s leaked %d (%d bytes) direct %d (%d bytes); "
                         "expected leaked %d (%d bytes) direct %d (%d bytes)"
                         % ((t["name"],) + got + want))
    for r in rows:
        if id(r) in claimed or not isinstance(r, dict):
            continue
        p = pair(r.get("leaked"))
        if p is None or p[0] != 0:
            checker.fail("leaks.types: %s (%s) has leaked %r; the fixture leaks nothing "
                         "of that type" % (r.get("name"), r.get("kind"), r.get("leaked")))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heapscope", required=True)
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--no-debuginfo", action="store_true")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory (core, stats, report)")
    args = ap.parse_args()
    args.fixture_arg = []
    args.heapscope_arg = []

    if not shutil.which("gcore"):
        rf.log("SKIP: gcore (gdb) is not installed")
        return rf.SKIP
    env = rf.hstest.fixture_env()

    tmp = tempfile.mkdtemp(prefix="heapscope-reach-")
    proc = None
    checker = rf.Checker()
    try:
        stats_path = os.path.join(tmp, "stats")
        proc = rf.start_fixture(args, stats_path, env)
        pid = proc.pid
        core = rf.take_core(pid, tmp)
        rf.stop(proc)
        rest = os.path.join(tmp, "stats.rest")
        truth = split_truth(stats_path, rest)
        exp = rf.parse_stats(rest)
        report = rf.analyze(args, core)
        if args.keep:
            with open(os.path.join(tmp, "report.json"), "w") as f:
                rf.json.dump(report, f, indent=1)
        checker.header(report, pid)
        checker.stats(exp, report)
        checker.totals(report)
        checker.fields(exp, report)
        checker.diagnostics(report)
        check_types(truth, report, checker)
        if "leaks" in report:
            check_leaks(truth, report["leaks"], checker)
        else:
            checker.fail("the report has no leaks object")
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
