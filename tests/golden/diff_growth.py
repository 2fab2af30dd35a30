#!/usr/bin/env python3
"""diff_growth.py: two cores of one process, a known leak between them: `heapscope diff` shows exactly it.

    diff_growth.py --heapscope PATH --fixture PATH --schema docs/report-schema.json

The fixture (testdata/fixtures/fixture_grow.cc) prints "ready1"; we gcore
it, send it a line on stdin; it leaks N objects of one C++ class, N sds
strings of one length and N records of one C struct, writes what it leaked
("grow KIND SIZE BASE GROWN": accounted size, count at the first core, count
leaked) and prints "ready2"; we gcore it again and kill it.

Then `heapscope diff` runs on the two sides as cores, as saved reports, and
mixed both ways, and for each:

- size classes: the three leak sizes are the top three rows, with exactly
  the leaked count and count*size bytes, marked common (the baseline was
  there already) with growth (BASE+GROWN)/BASE; every other row changes by
  exactly 0;
- totals.in_use grows by exactly the leaked bytes, and so does the memory
  view's in_use row while other_anonymous stays; the other states are the
  allocator's business and are only reported;
- types (once classification is in the reports): grow::Widget (vtable),
  sdshdr8 (sds) and the record's pattern cluster are the top three rows
  with exactly the leaked counts; every other type row changes by 0;
- no different-builds flag; the elapsed time is there, and with the
  reports' --captured-at one hour apart, bytes_per_hour equals the delta;
- the JSON validates against docs/report-schema.json, and the text shows
  the same figures.

Exit status: 0 pass, 1 fail, 77 skip (gcore is not installed).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cli"))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import validate_schema  # noqa: E402  (tests/cli/validate_schema.py)
import hstest  # noqa: E402  (tests/lib/hstest.py)
from hstest import SKIP, Failure, log  # noqa: E402

TIMEOUT = 240
T0 = 1704067200  # 2024-01-01T00:00:00Z: the first report's --captured-at


# ------------------------------------------------------------------ processes

def take_two_cores(fixture, tmp, env):
    stats = os.path.join(tmp, "stats")
    proc = hstest.spawn([fixture, stats], env, stdin=subprocess.PIPE)
    try:
        buf = hstest.wait_for(proc, b"ready1\n")
        core1 = hstest.gcore(proc.pid, os.path.join(tmp, "old"), TIMEOUT)
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        hstest.wait_for(proc, b"ready2\n", buf)
        core2 = hstest.gcore(proc.pid, os.path.join(tmp, "new"), TIMEOUT)
    finally:
        hstest.stop(proc)
    return stats, core1, core2


def heapscope(hs, args):
    return hstest.run_ok([hs] + args, TIMEOUT).out


# ------------------------------------------------------------------ checks

class Expect:
    def __init__(self, path):
        self.allocator = None
        self.kinds = {}  # kind -> (size, base, grown)
        with open(path, encoding="utf-8") as f:
            for line in f:
                p = line.split()
                if p and p[0] == "allocator":
                    self.allocator = p[1]
                elif p and p[0] == "grow":
                    self.kinds[p[1]] = tuple(int(x) for x in p[2:5])
        if set(self.kinds) != {"widget", "sds", "record"}:
            raise Failure("stats file lacks grow lines: %r" % self.kinds)

    def leak_bytes(self):
        return sum(s * g for s, _, g in self.kinds.values())


class Checker:
    def __init__(self):
        self.failures = []

    def fail(self, what, msg):
        self.failures.append("%s: %s" % (what, msg))

    def check(self, what, cond, msg):
        if not cond:
            self.fail(what, msg)
        return cond

    def size_classes(self, what, doc, exp):
        rows = doc["size_classes"]["rows"]
        by_size = {r["size"]: r for r in rows}
        log("  size classes: %d rows (%d in all)" % (len(rows), doc["size_classes"]["rows_total"]))
        log("    %-8s %8s %10s %12s  %s" % ("kind", "size", "delta#", "delta B", "status"))
        for kind, (size, base, grown) in sorted(exp.kinds.items()):
            r = by_size.get(size)
            got = (r["delta"]["count"], r["delta"]["bytes"], r["status"]) if r else None
            log("    %-8s %8d %10s %12s  %s   (expected +%d, +%d)"
                % (kind, size, got and got[0], got and got[1], got and got[2], grown,
                   grown * size))
            if not self.check(what, r is not None, "no size-class row for %s size %d"
                              % (kind, size)):
                continue
            self.check(what, r["delta"]["count"] == grown and r["delta"]["bytes"] == grown * size,
                       "size %d (%s): delta %r, expected count %d bytes %d"
                       % (size, kind, r["delta"], grown, grown * size))
            self.check(what, r["status"] == "common",
                       "size %d (%s) is %r, expected common" % (size, kind, r["status"]))
            self.check(what, r["old"]["count"] >= base,
                       "size %d (%s): old count %d < the baseline %d"
                       % (size, kind, r["old"]["count"], base))
        leak_sizes = {s for s, _, _ in exp.kinds.values()}
        top = {r["size"] for r in rows[:3]}
        self.check(what, top == leak_sizes, "top three size classes are %s, expected %s"
                   % (sorted(top), sorted(leak_sizes)))
        others = [r for r in rows if r["size"] not in leak_sizes and
                  (r["delta"]["count"] or r["delta"]["bytes"])]
        for r in others:
            log("    other size %d changed: %r" % (r["size"], r["delta"]))
        self.check(what, not others, "%d other size classes changed" % len(others))
        self.check(what, doc["size_classes"]["omitted"]["rows"] == 0,
                   "--top 0 --min-bytes 0 still omitted rows")

    def totals(self, what, doc, exp):
        t = doc["totals"]
        for state in ("in_use", "free", "cached", "metadata"):
            log("  totals.%-8s delta %r" % (state, t[state]["delta"]))
        self.check(what, t["in_use"]["delta"]["bytes"] == exp.leak_bytes(),
                   "totals.in_use grew by %d bytes, expected the leak's %d"
                   % (t["in_use"]["delta"]["bytes"], exp.leak_bytes()))
        leaked = sum(g for _, _, g in exp.kinds.values())
        self.check(what, t["in_use"]["delta"]["count"] == leaked,
                   "totals.in_use grew by %d chunks, expected %d"
                   % (t["in_use"]["delta"]["count"], leaked))
        self.check(what, t["metadata"]["delta"]["bytes"] == 0, "metadata changed")
        # The memory view says the same: the in_use row grew by the leak
        # (a heap leak), and the memory nobody else holds did not move.
        mem = {(r["kind"], r.get("name")): r for r in doc["memory"]["rows"]}
        in_use = mem.get(("in_use", None))
        self.check(what, in_use and in_use["delta"]["bytes"] == exp.leak_bytes(),
                   "memory in_use grew by %r, expected the leak's %d"
                   % (in_use and in_use["delta"]["bytes"], exp.leak_bytes()))
        other = mem.get(("other_anonymous", None))
        self.check(what, other and other["delta"]["bytes"] == 0,
                   "memory other_anonymous changed: %r" % (other and other["delta"],))

    def types(self, what, doc, exp):
        rows = doc["types"]["rows"]
        if not doc["types"]["rows_total"]:
            # Classification (issue 5) fills report.types; until it does, the
            # type view is empty on both sides and there is nothing to match.
            log("  types: none in either report (classification not in this build)")
            return False
        want = {
            "widget": lambda r: r["kind"] == "vtable" and r["name"].endswith("grow::Widget"),
            "sds": lambda r: r["kind"] == "sds" and r["name"] == "sdshdr8",
            "record": lambda r: (r["kind"] == "pattern" and
                                 r["name"].startswith("pattern %d " % exp.kinds["record"][0])),
        }
        log("  types: %d rows (%d in all)" % (len(rows), doc["types"]["rows_total"]))
        for r in rows[:6]:
            log("    %-8s %-40s delta %r %s" % (r["kind"], r["name"][:40], r["delta"],
                                                 r["status"]))
        matched = []
        for kind, pred in sorted(want.items()):
            size, base, grown = exp.kinds[kind]
            hits = [r for r in rows if pred(r)]
            if not self.check(what, len(hits) == 1, "%d type rows for the %s (expected one)"
                              % (len(hits), kind)):
                continue
            r = hits[0]
            matched.append(id(r))
            self.check(what, r["delta"]["count"] == grown and r["delta"]["bytes"] == grown * size,
                       "type %s: delta %r, expected count %d bytes %d"
                       % (r["name"], r["delta"], grown, grown * size))
        self.check(what, sorted(id(r) for r in rows[:3]) == sorted(matched),
                   "the three leaks are not the top three type rows")
        others = [r for r in rows if id(r) not in matched and
                  (r["delta"]["count"] or r["delta"]["bytes"])]
        for r in others:
            log("    other type changed: %s %s %r" % (r["kind"], r["name"], r["delta"]))
        self.check(what, not others, "%d other type rows changed" % len(others))
        pats = [p for p in doc["patterns"]["rows"] if p["size"] == exp.kinds["record"][0]
                and p["delta"]["count"] == exp.kinds["record"][2]]
        self.check(what, len(pats) == 1, "no pattern cluster of the records' size grew by %d"
                   % exp.kinds["record"][2])
        return True

    def header(self, what, doc, sides):
        self.check(what, doc["schema"] == "heapscope-diff/1", "schema %r" % doc["schema"])
        self.check(what, doc["different_builds"] is False and doc["build_differences"] == [],
                   "different_builds is set for two cores of one process")
        self.check(what, doc["different_allocators"] is False, "different_allocators is set")
        for key, kind in zip(("old", "new"), sides):
            self.check(what, doc[key]["input"] == kind, "%s.input is %r, expected %r"
                       % (key, doc[key]["input"], kind))
        self.check(what, "elapsed_seconds" in doc, "no elapsed_seconds")


def check_text(checker, text, exp):
    """The text shows the same rows: each leak size with its count delta."""
    what = "diff text"
    lines = text.splitlines()
    try:
        start = next(i for i, l in enumerate(lines) if l.startswith("size classes"))
    except StopIteration:
        checker.fail(what, "no size classes section")
        return
    body = lines[start + 2:start + 5]
    log("  text, top of size classes:\n    " + "\n    ".join(body))
    for _, (size, _, grown) in exp.kinds.items():
        if not any(l.split()[-1] == str(size) and ("+%d" % grown) in l.split() for l in body):
            checker.fail(what, "no line for size %d with +%d in the top three" % (size, grown))


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heapscope", required=True)
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--schema", required=True)
    ap.add_argument("--env", action="append", default=[], metavar="K=V")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if not shutil.which("gcore"):
        log("SKIP: gcore (gdb) is not installed")
        return SKIP

    env = dict(os.environ)
    for k in ("LD_PRELOAD", "MALLOC_PERTURB_", "MALLOC_CHECK_", "MALLOC_ARENA_MAX",
              "GLIBC_TUNABLES", "MALLOC_CONF", "TCMALLOC_SAMPLE_PARAMETER"):
        env.pop(k, None)
    for kv in args.env:
        k, _, v = kv.partition("=")
        env[k] = v

    hs = args.heapscope
    checker = Checker()
    tmp = tempfile.mkdtemp(prefix="heapscope-diff-")
    typed = False
    try:
        validator = validate_schema.load_validator(args.schema)
        stats, core1, core2 = take_two_cores(args.fixture, tmp, env)
        exp = Expect(stats)
        log("fixture on %s leaked: %s (%d bytes)" % (exp.allocator, exp.kinds, exp.leak_bytes()))

        r1, r2 = os.path.join(tmp, "old.json"), os.path.join(tmp, "new.json")
        # The capture times, one in each --captured-at form, an hour apart.
        heapscope(hs, ["analyze", "--json", r1, "--captured-at", "2024-01-01T00:00:00Z", core1])
        heapscope(hs, ["analyze", "--json", r2, "--captured-at", str(T0 + 3600), core2])
        for r in (r1, r2):
            with open(r, encoding="utf-8") as f:
                validate_schema.validate(validator, json.load(f), r)

        for sides, old, new in [(("core", "core"), core1, core2),
                                (("report", "report"), r1, r2),
                                (("core", "report"), core1, r2),
                                (("report", "core"), r1, core2)]:
            what = "diff %s %s" % sides
            log("== " + what)
            doc = json.loads(heapscope(hs, ["diff", "--json", "-", "--top", "0",
                                            "--min-bytes", "0", old, new]))
            validate_schema.validate(validator, doc, what)
            checker.header(what, doc, sides)
            checker.totals(what, doc, exp)
            checker.size_classes(what, doc, exp)
            typed = checker.types(what, doc, exp) or typed
            if sides == ("report", "report"):
                checker.check(what, doc["elapsed_seconds"] == 3600,
                              "elapsed_seconds %r, expected 3600" % doc.get("elapsed_seconds"))
                top = doc["size_classes"]["rows"][0]
                checker.check(what, top.get("bytes_per_hour") == top["delta"]["bytes"],
                              "bytes_per_hour %r over one hour, expected %d"
                              % (top.get("bytes_per_hour"), top["delta"]["bytes"]))
            elif sides == ("core", "core"):
                checker.check(what, doc["elapsed_seconds"] >= 0,
                              "the second core predates the first")

        log("== filters and text")
        doc = json.loads(heapscope(hs, ["diff", "--json", "-", "--min-bytes",
                                        str(min(s * g for s, _, g in exp.kinds.values())),
                                        core1, r2]))
        validate_schema.validate(validator, doc, "diff --min-bytes")
        sizes = sorted(r["size"] for r in doc["size_classes"]["rows"])
        checker.check("diff --min-bytes", sizes == sorted(s for s, _, _ in exp.kinds.values()),
                      "--min-bytes kept sizes %s, expected only the leaks" % sizes)
        doc = json.loads(heapscope(hs, ["diff", "--top", "1", "--json", "-", r1, r2]))
        checker.check("diff --top 1", len(doc["size_classes"]["rows"]) == 1 and
                      doc["size_classes"]["omitted"]["rows"] ==
                      doc["size_classes"]["rows_total"] - 1, "--top 1 did not keep one row")
        check_text(checker, heapscope(hs, ["diff", r1, core2]), exp)
        # Backwards, the leaks are the largest shrinkage: the last rows.
        doc = json.loads(heapscope(hs, ["diff", "--json", "-", "--top", "0", r2, r1]))
        last = {r["size"]: r["delta"]["count"] for r in doc["size_classes"]["rows"][-3:]}
        checker.check("diff NEW OLD", last == {s: -g for s, _, g in exp.kinds.values()},
                      "reversed, the last rows are %r" % last)
    except (Failure, validate_schema.Failure) as e:
        checker.fail("run", str(e))
    finally:
        if args.keep:
            log("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    if checker.failures:
        log("FAIL: %s" % os.path.basename(args.fixture))
        for f in checker.failures:
            log("  - " + f)
        return 1
    log("PASS: %s%s" % (os.path.basename(args.fixture),
                        "" if typed else " (size classes and totals; no types in the reports yet)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
