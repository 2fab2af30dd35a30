#!/usr/bin/env python3
"""reach_cli.py: the demo proxy's core: leaks, anchor chains, containers, threads, progress.

    reach_cli.py --heapscope PATH --demo PATH --case NAME

The demo (testdata/demo/closure_proxy.cc) leaks one common::Closure per bad
request (200000), keeps 3000 proxy::CacheEntry in a std::map and 2000
proxy::Session in a std::unordered_map, all owned by a Proxy on main's
stack. Each case takes the core once and checks what heapscope says about
it, exactly.

Exit status: 0 pass, 1 fail, 77 skip (no gcore).
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import hstest  # noqa: E402
from hstest import SKIP, Failure, log  # noqa: E402

LEAKED = 200000  # the bad-cluster requests: their closures never Run()


def run(hs, args, timeout=300):
    return hstest.run_ok([hs] + args, timeout)


def demo_core(args, tmp):
    stats = os.path.join(tmp, "stats")
    proc = hstest.start_fixture([args.demo, stats])
    try:
        return hstest.gcore(proc.pid, os.path.join(tmp, "core"))
    finally:
        hstest.stop(proc)


def types_of(report):
    return {t["name"]: t for t in report.get("types", [])}


def expect(what, got, want):
    if got != want:
        raise Failure("%s: %r, expected %r" % (what, got, want))


def case_leaks(hs, args, core):
    """leaks totals, per type, and the container names, from analyze --json."""
    r = hstest.json_of(run(hs, ["analyze", core, "--format", "json"]))
    leaks = r.get("leaks")
    if not leaks:
        raise Failure("the report has no leaks section")
    expect("leaks.leaked.count", leaks["leaked"]["count"], LEAKED)
    expect("leaks.direct.count", leaks["direct"]["count"], LEAKED)
    expect("leaks.indirect.count", leaks["indirect"]["count"], 0)
    expect("leaks.leaked.bytes", leaks["leaked"]["bytes"], 64 * LEAKED)
    expect("leaked types", [(t["name"], t["leaked"]["count"], t["direct"]["count"])
                            for t in leaks["types"]], [("common::Closure", LEAKED, LEAKED)])
    if leaks["roots"]["stacks"] < 1 or leaks["roots"]["modules"] < 1:
        raise Failure("roots %r: the Proxy on main's stack and libstdc++'s data "
                      "refer to chunks" % leaks["roots"])
    t = types_of(r)
    for name, kind, count in [("common::Closure", "vtable", LEAKED),
                              ("proxy::CacheEntry", "vtable", 3000),
                              ("proxy::Session", "vtable", 2000),
                              ("std::map/set node <proxy::CacheEntry*>", "container", 3000),
                              ("std::unordered_map/set node <proxy::Session*>", "container",
                               2000),
                              ("std::unordered_map/set buckets", "container", 1)]:
        if name not in t:
            raise Failure("no type %r in %s" % (name, sorted(t)))
        expect(name + " count", t[name]["count"], count)
        expect(name + " kind", t[name]["kind"], kind)
        expect(name + " leaked", t[name]["leaked"]["count"], LEAKED if kind == "vtable" and
               name == "common::Closure" else 0)
    if any(x["kind"] == "cstring" for x in r["types"]):
        raise Failure("a 'C string' type: container nodes read as text (%r)"
                      % [x for x in r["types"] if x["kind"] == "cstring"])
    # Retained: a CacheEntry keeps its key's body alive (96 + 48 bytes).
    expect("proxy::CacheEntry retained", t["proxy::CacheEntry"].get("retained"), 3000 * 144)
    expect("common::Closure retained", t["common::Closure"].get("retained"), 0)
    if not leaks.get("retainers"):
        raise Failure("no top retainers")
    return 0


def case_threads(hs, args, core):
    """The report does not depend on the number of threads: with retained sizes (the marking
    records the references, the tree is searched through them in an order the threads' timing
    decides) and without."""
    for extra in ([], ["--no-retained"]):
        docs = []
        for n in ("1", "2", "3"):
            docs.append(hstest.json_of(run(hs, ["analyze", core, "--format", "json",
                                                "--threads", n] + extra)))
        for d in docs[1:]:
            if d != docs[0]:
                diff = [k for k in d if d[k] != docs[0].get(k)]
                raise Failure("--threads changes the report%s: keys %s differ"
                              % (" " + " ".join(extra) if extra else "", diff))
    return 0


def case_show(hs, args, core):
    """show: the anchor chain of a CacheEntry, and a leaked Closure."""
    addr = run(hs, ["list", core, "--type", "proxy::CacheEntry"]).out.split()[0]
    r = run(hs, ["show", core, addr, "--bytes", "16"]).out
    want = ["verdict  reachable: a chain of 2 references from a root",
            "  root  thread 1 (tid ",
            "std::map/set node <proxy::CacheEntry*> (container): +0x40 holds " + addr,
            "  -> %s  proxy::CacheEntry (vtable): this chunk" % addr,
            "retained 144 B"]
    for w in want:
        if w not in r:
            raise Failure("show %s does not say %r:\n%s" % (addr, w, r))
    if ") stack at 0x" not in r:
        raise Failure("the chain's root is not main's stack:\n%s" % r)
    leaked = run(hs, ["list", core, "--leaked", "--type", "common::Closure"]).out.split()
    expect("list --leaked --type common::Closure lines", len(leaked), LEAKED)
    expect("list --leaked lines", len(run(hs, ["list", core, "--leaked"]).out.split()), LEAKED)
    r = run(hs, ["show", core, leaked[0], "--redact"]).out
    if "verdict  leaked, direct: no root reaches it" not in r:
        raise Failure("show of a leaked closure:\n%s" % r)
    return 0


def case_options(hs, args, core):
    """--no-leaks, --no-retained, --retained-limit, --progress."""
    r = hstest.json_of(run(hs, ["analyze", core, "--format", "json", "--no-leaks"]))
    if "leaks" in r or any("leaked" in t for t in r["types"]):
        raise Failure("--no-leaks still reports leaks")
    r = hstest.json_of(run(hs, ["analyze", core, "--format", "json", "--no-retained"]))
    if "retainers" in r["leaks"] or any("retained" in t for t in r["types"]):
        raise Failure("--no-retained still reports retained sizes")
    expect("--no-retained leaked", r["leaks"]["leaked"]["count"], LEAKED)
    r = hstest.json_of(run(hs, ["analyze", core, "--format", "json", "--retained-limit", "1"]))
    if any("retained" in t for t in r["types"]):
        raise Failure("--retained-limit 1 still reports retained sizes")
    if not any("retained sizes left out" in d["message"] for d in r["diagnostics"]):
        raise Failure("--retained-limit 1: no diagnostic says retained sizes were left out")
    # stderr is a pipe here: no progress unless asked for.
    quiet = run(hs, ["analyze", core])
    if quiet.err:
        raise Failure("progress on a pipe without --progress: %r" % quiet.err[:200])
    loud = run(hs, ["analyze", core, "--progress"])
    if "heapscope: " not in loud.err or "classify" not in loud.err:
        raise Failure("--progress printed no progress line: %r" % loud.err[:300])
    if run(hs, ["analyze", core, "--progress", "--no-progress"]).err:
        raise Failure("--no-progress after --progress still printed")
    r = hstest.run([hs, "analyze", core, "--threads", "x"], 60)
    expect("--threads x exit status", r.rc, 64)
    return 0


CASES = {"leaks": case_leaks, "threads": case_threads, "show": case_show,
         "options": case_options}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heapscope", required=True)
    ap.add_argument("--demo", required=True)
    ap.add_argument("--case", required=True, choices=sorted(CASES))
    args = ap.parse_args()
    if not shutil.which("gcore"):
        log("SKIP: gcore (gdb) is not installed")
        return SKIP
    tmp = tempfile.mkdtemp(prefix="heapscope-reach-")
    try:
        core = demo_core(args, tmp)
        CASES[args.case](args.heapscope, args, core)
    except Failure as e:
        log("FAIL: %s: %s" % (args.case, e))
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log("PASS: %s" % args.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
