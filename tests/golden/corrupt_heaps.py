#!/usr/bin/env python3
"""corrupt_heaps.py: real programs that damaged their own heap before the core.

    corrupt_heaps.py --heapscope PATH --fixture PATH [--no-debuginfo]

The fixture (testdata/fixtures/fixture_corrupt_*.c) damages its heap, writes
what heapscope must find (see fixture_corrupt_common.h) and prints "ready";
this takes its core with gcore and runs `heapscope analyze --json -` on it.
The analysis must end within 30 s with exit 0 (corruption is data, not an
error), with no crash or sanitizer report; for each `corrupt ADDR[,ADDR]
REGEX` line a diagnostic must match REGEX and name one of the addresses
(within 0x20, in its address field or its text); each `report-min PATH N`
says that what was still walkable was reported.

Exit status: 0 pass, 1 fail, 77 skip (no gdb/gcore).
"""

import argparse
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hstest  # noqa: E402  (tests/lib/hstest.py)
from hstest import SKIP, Failure, log  # noqa: E402

TIMEOUT = 30
NEAR = 0x20


def take_core(fixture, tmp):
    stats = os.path.join(tmp, "stats")
    env = dict(os.environ)
    env.pop("MALLOC_PERTURB_", None)  # meson sets it; the fixture's heap must be plain
    env.pop("MALLOC_CHECK_", None)
    proc = hstest.start_fixture([fixture, stats], env)
    try:
        core = hstest.gcore(proc.pid, os.path.join(tmp, "core"))
    finally:
        hstest.stop(proc)
    return core, stats


def parse_expectations(stats):
    corrupt, mins = [], []
    with open(stats) as f:
        for line in f:
            parts = line.split(None, 2)
            if not parts:
                continue
            if parts[0] == "corrupt" and len(parts) == 3:
                addrs = [int(a, 0) for a in parts[1].split(",")]
                corrupt.append((addrs, parts[2].strip()))
            elif parts[0] == "report-min" and len(parts) == 3:
                mins.append((parts[1], int(parts[2])))
            else:
                raise Failure("bad line in the fixture's stats file: %r" % line)
    if not corrupt:
        raise Failure("the fixture recorded no corruption")
    return corrupt, mins


def field(report, path):
    v = report
    for k in path.split("."):
        if not isinstance(v, dict) or k not in v:
            raise Failure("report has no field %s" % path)
        v = v[k]
    return v


def names_address(diag, addrs):
    """Whether the diagnostic's address, or a hex number in its text, is near one of addrs."""
    seen = []
    if isinstance(diag.get("address"), int):
        seen.append(diag["address"])
    elif isinstance(diag.get("address"), str):
        try:
            seen.append(int(diag["address"], 0))
        except ValueError:
            pass
    seen += [int(h, 16) for h in re.findall(r"0x([0-9a-fA-F]+)", diag.get("message", ""))]
    return any(abs(s - a) <= NEAR for s in seen for a in addrs)


def analyze(hs, core, extra):
    r = hstest.run([hs, "analyze", "--json", "-", core] + extra, TIMEOUT)
    if r.rc != 0:
        raise Failure("exit status %d: a corrupt heap is data, the analysis must go on" % r.rc)
    return hstest.json_of(r)


def check(report, corrupt, mins):
    diags = [d for d in report.get("diagnostics") or [] if isinstance(d, dict)]
    for d in diags:
        addr = d.get("address")
        log("diagnostic [%s]%s: %s" % (d.get("severity"),
                                       " 0x%x" % addr if isinstance(addr, int) else "",
                                       d.get("message")))
    for tot, v in (report.get("totals") or {}).items():
        log("totals.%s: %s" % (tot, v))
    problems = []
    for addrs, regex in corrupt:
        want = ", ".join("0x%x" % a for a in addrs)
        if not any(re.search(regex, d.get("message", ""), re.I) and names_address(d, addrs)
                   for d in diags):
            problems.append("no diagnostic matching /%s/ names %s" % (regex, want))
    for path, least in mins:
        v = field(report, path)
        if not isinstance(v, int) or v < least:
            problems.append("%s is %r, expected at least %d" % (path, v, least))
    if problems:
        raise Failure("; ".join(problems))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heapscope", required=True)
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--no-debuginfo", action="store_true")
    args = ap.parse_args()
    if not shutil.which("gcore"):
        log("SKIP: gcore (gdb) is not installed")
        return SKIP
    hs = os.path.abspath(args.heapscope)
    tmp = tempfile.mkdtemp(prefix="heapscope-corrupt-")
    name = os.path.basename(args.fixture)
    try:
        core, stats = take_core(args.fixture, tmp)
        corrupt, mins = parse_expectations(stats)
        report = analyze(hs, core, ["--no-debuginfo"] if args.no_debuginfo else [])
        check(report, corrupt, mins)
    except Failure as e:
        log("FAIL: %s: %s" % (name, e))
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log("PASS: %s" % name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
