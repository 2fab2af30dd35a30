#!/usr/bin/env python3
"""diff_cli.py: one case per run of `heapscope diff` input handling, and of analyze's --format/--captured-at.

    diff_cli.py --heapscope PATH --case NAME [--fixture PATH] [--schema PATH]

A saved report is input like a core: malformed, truncated, foreign or empty
JSON must give exit 2 and one line on stderr naming the file; unknown keys
are ignored; bad option values are usage errors (64) found before any I/O.
Reports here are written by hand (the smallest valid heapscope-report/1),
so most cases need no core.

Exit status: 0 pass, 1 fail, 77 skip (a case that needs gcore without gdb).
"""

import argparse
import copy
import json
import os
import re
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import validate_schema  # noqa: E402
import hstest  # noqa: E402  (tests/lib/hstest.py)
from hstest import SKIP, Failure, log  # noqa: E402


def run(hs, args, timeout=60):
    return hstest.run([hs] + args, timeout)


def expect_rc(r, want):
    if r.rc != want:
        raise Failure("exit status %d, expected %d" % (r.rc, want))


def expect_one_line_error(r, path, word=None):
    lines = r.err.splitlines()
    if len(lines) != 1:
        raise Failure("expected a one-line error on stderr, got %d lines" % len(lines))
    if not lines[0].startswith("heapscope: "):
        raise Failure("error does not start with 'heapscope: ': %r" % lines[0])
    if path not in lines[0]:
        raise Failure("error does not name the file %s: %r" % (path, lines[0]))
    if word and word not in lines[0]:
        raise Failure("error does not say %r: %r" % (word, lines[0]))
    if r.out:
        raise Failure("output on stdout despite the error")


def report(size_classes, types=None, extra=None):
    """A minimal valid heapscope-report/1, optionally with types and keys."""
    doc = {
        "schema": "heapscope-report/1",
        "tool": {"name": "heapscope", "version": "0.1.0"},
        "core": {"path": "core.1", "bytes": 4096, "pid": 1, "executable": "/usr/bin/svc",
                 "threads": 1, "captured_at": 1700000000},
        "modules": [{"path": "/usr/bin/svc", "base": "0x400000", "build_id": "abcd",
                     "symbols": "symtab"}],
        "allocator": {"name": "glibc", "version": "2.36", "located_by": "symbols",
                      "arenas": 1, "stats": {"uordblks": sum(s * c for s, c in size_classes)}},
        "totals": {"in_use": {"count": sum(c for _, c in size_classes),
                              "bytes": sum(s * c for s, c in size_classes)},
                   "free": {"count": 0, "bytes": 0}, "cached": {"count": 0, "bytes": 0}},
        "size_classes": [{"size": s, "count": c, "bytes": s * c} for s, c in size_classes],
        "diagnostics": [],
    }
    if types is not None:
        doc["types"] = [{"name": n, "kind": k, "count": c, "bytes": b, "examples": []}
                        for n, k, c, b in types]
        doc["patterns"] = []
    if extra:
        doc.update(extra)
    return doc


def write(tmp, name, content):
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(content if isinstance(content, bytes) else content.encode())
    return path


def good_pair(tmp):
    old = write(tmp, "old.json", json.dumps(report([(32, 10), (208, 5)])))
    new = write(tmp, "new.json", json.dumps(report([(32, 10), (208, 50)])))
    return old, new


# ------------------------------------------------------------------ cases

def bad_input_case(content, word=None):
    def case(hs, _args, tmp):
        _, new = good_pair(tmp)
        bad = write(tmp, "bad.json", content)
        for argv in (["diff", bad, new], ["diff", new, bad]):
            r = run(hs, argv)
            expect_rc(r, 2)
            expect_one_line_error(r, bad, word)
    return case


GOOD = json.dumps(report([(32, 10)]), indent=2)
CASES = {
    "malformed_json": bad_input_case('{"schema": "heapscope-report/1", "core": }', "invalid JSON"),
    "truncated_json": bad_input_case(GOOD[:len(GOOD) // 2], "truncated"),
    "wrong_schema": bad_input_case(json.dumps(dict(report([(32, 1)]),
                                                   schema="heapscope-report/2")),
                                   "heapscope-report/2"),
    "diff_as_input": bad_input_case('{"schema": "heapscope-diff/1", "old": {}}',
                                    "heapscope-diff/1"),
    "no_schema": bad_input_case('{"core": {}}', "schema"),
    "empty_file": bad_input_case(b"", "empty"),
    "whitespace_file": bad_input_case(b" \n\t\n", "empty"),
    "not_json": bad_input_case(b"hello, world\n", "neither"),
    "missing_totals": bad_input_case(json.dumps({k: v for k, v in report([(32, 1)]).items()
                                                 if k != "totals"}), "totals"),
    "mistyped_count": bad_input_case(GOOD.replace('"count": 10', '"count": "10"', 1), "count"),
    "nul_in_json": bad_input_case(GOOD[:40].encode() + b"\0" + GOOD[40:].encode()),
    "huge_array": bad_input_case(b'{"schema": "heapscope-report/1", "x": [' +
                                 b"0," * (5 << 20) + b"0]}", "too large"),
}


def case_missing_file(hs, _args, tmp):
    _, new = good_pair(tmp)
    path = os.path.join(tmp, "no-such-report.json")
    r = run(hs, ["diff", path, new])
    expect_rc(r, 2)
    expect_one_line_error(r, path)


def case_directory(hs, _args, tmp):
    _, new = good_pair(tmp)
    r = run(hs, ["diff", new, tmp])
    expect_rc(r, 2)
    expect_one_line_error(r, tmp)


def case_unknown_keys(hs, args, tmp):
    """Keys a reader does not know are ignored, at every level; types and
    patterns may be absent on one side."""
    old = report([(32, 10), (208, 5)], extra={"future_section": {"a": [1, 2, {"b": None}]}})
    old["core"]["future_field"] = "x"
    old["size_classes"][0]["future"] = 1.5
    new = report([(32, 10), (208, 50)], types=[("Widget", "vtable", 45, 9360)])
    new["types"][0]["future"] = True
    po, pn = write(tmp, "old.json", json.dumps(old)), write(tmp, "new.json", json.dumps(new))
    r = run(hs, ["diff", "--json", "-", po, pn])
    expect_rc(r, 0)
    doc = json.loads(r.out)
    rows = doc["size_classes"]["rows"]
    if [(x["size"], x["delta"]["count"]) for x in rows] != [(208, 45)]:
        raise Failure("size classes %r, expected one row 208 +45" % rows)
    t = doc["types"]["rows"]
    if len(t) != 1 or t[0]["status"] != "new" or t[0]["growth"] is not None:
        raise Failure("types %r, expected one new row" % t)
    if doc["elapsed_seconds"] != 0:
        raise Failure("elapsed_seconds %r" % doc["elapsed_seconds"])
    if args.schema:
        validate_schema.validate(validate_schema.load_validator(args.schema), doc, "diff")
    r = run(hs, ["diff", po, pn])
    expect_rc(r, 0)
    if "NEW" not in r.out or "Widget" not in r.out:
        raise Failure("the text does not mark the new type")


def case_different_builds(hs, _args, tmp):
    old = report([(32, 10)])
    new = copy.deepcopy(old)
    new["modules"][0]["build_id"] = "ef01"
    po, pn = write(tmp, "old.json", json.dumps(old)), write(tmp, "new.json", json.dumps(new))
    r = run(hs, ["diff", "--json", "-", po, pn])
    expect_rc(r, 0)
    doc = json.loads(r.out)
    if not doc["different_builds"] or doc["build_differences"] != [
            {"module": "/usr/bin/svc", "old_build_id": "abcd", "new_build_id": "ef01"}]:
        raise Failure("different builds not flagged: %r" % doc["build_differences"])
    r = run(hs, ["diff", po, pn])
    if "different builds" not in r.out:
        raise Failure("the text does not say the builds differ")


def usage_case(argv_tail):
    def case(hs, _args, tmp):
        old, new = good_pair(tmp)
        # Usage errors win over I/O: the files need not even exist.
        for files in ([old, new], [os.path.join(tmp, "nope1"), os.path.join(tmp, "nope2")]):
            argv = ["diff"] + argv_tail(files)
            r = run(hs, argv)
            expect_rc(r, 64)
            if len(r.err.splitlines()) != 1:
                raise Failure("expected a one-line usage error")
    return case


CASES.update({
    "bad_min_bytes": usage_case(lambda f: ["--min-bytes", "12abc"] + f),
    "negative_min_bytes": usage_case(lambda f: f + ["--min-bytes", "-1"]),
    "huge_min_bytes": usage_case(lambda f: ["--min-bytes", "99999999999999999999"] + f),
    "bad_top": usage_case(lambda f: ["--top", "x"] + f),
    "min_bytes_without_value": usage_case(lambda f: f + ["--min-bytes"]),
    "one_input": usage_case(lambda f: f[:1]),
    "three_inputs": usage_case(lambda f: f + f[:1]),
    "unknown_option": usage_case(lambda f: ["--frobnicate"] + f),
})


def case_diff_help(hs, _args, _tmp):
    r = run(hs, ["diff", "--help"])
    expect_rc(r, 0)
    for word in ("--top", "--min-bytes", "--json", "Exit status"):
        if word not in r.out:
            raise Failure("diff --help does not mention %s" % word)
    r = run(hs, ["--help"])
    if not re.search(r"^\s+diff\s", r.out, re.M):
        raise Failure("heapscope --help does not list diff")


def analyze_usage_case(argv):
    def case(hs, _args, _tmp):
        r = run(hs, ["analyze"] + argv + [hs])
        expect_rc(r, 64)
        if len(r.err.splitlines()) != 1:
            raise Failure("expected a one-line usage error")
    return case


CASES.update({
    "analyze_bad_format": analyze_usage_case(["--format", "yaml"]),
    "analyze_bad_captured_at": analyze_usage_case(["--captured-at", "2024-02-30T00:00:00Z"]),
    "analyze_captured_at_junk": analyze_usage_case(["--captured-at", "yesterday"]),
    "analyze_format_and_json_stdout": analyze_usage_case(["--format", "openmetrics",
                                                          "--json", "-"]),
})

# OpenMetrics text: a sample line and the descriptor lines, per the spec.
OM_SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*'
                       r'(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
                       r'(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*\})? -?[0-9]+$')
OM_DESCR = re.compile(r"^# (TYPE [a-zA-Z_:][a-zA-Z0-9_:]* gauge|UNIT [a-zA-Z_:][a-zA-Z0-9_:]* "
                      r"[a-z]+|HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+)$")


def case_openmetrics(hs, args, tmp):
    if not args.fixture:
        raise Failure("this case needs --fixture")
    if not shutil.which("gcore"):
        log("SKIP: gcore (gdb) is not installed")
        return SKIP
    core = validate_schema.gcore_fixture(args.fixture, tmp)
    r = run(hs, ["analyze", "--format", "openmetrics", "--captured-at", "1700000000", core],
            timeout=240)
    expect_rc(r, 0)
    lines = r.out.splitlines()
    if not lines or lines[-1] != "# EOF" or not r.out.endswith("# EOF\n"):
        raise Failure("the text does not end with '# EOF'")
    families, current, seen = {}, None, set()
    for n, line in enumerate(lines[:-1], 1):
        if line.startswith("#"):
            if not OM_DESCR.match(line):
                raise Failure("line %d is not a TYPE/UNIT/HELP line: %r" % (n, line))
            name = line.split()[2]
            if name != current and name in families:
                raise Failure("line %d: family %s is split" % (n, name))
            current = name
            families.setdefault(name, 0)
            continue
        if not OM_SAMPLE.match(line):
            raise Failure("line %d is not a sample: %r" % (n, line))
        name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
        if name != current:
            raise Failure("line %d: sample %s outside its family" % (n, name))
        key = line.rsplit(" ", 1)[0]
        if key in seen:
            raise Failure("line %d: duplicate series %s" % (n, key))
        seen.add(key)
        families[name] += 1
    rep = json.loads(run(hs, ["analyze", "--json", "-", core], timeout=240).out)
    want = {"heapscope_chunk_bytes": 3, "heapscope_chunks": 3,
            "heapscope_core_captured_timestamp_seconds": 1,
            "heapscope_allocator_stat": len(rep["allocator"]["stats"]),
            "heapscope_type_bytes": len(rep.get("types", [])),
            "heapscope_type_objects": len(rep.get("types", [])),
            "heapscope_memory_bytes": len(rep["memory"]["regions"]),
            "heapscope_memory_dumped_bytes": len(rep["memory"]["regions"])}
    for name, count in want.items():
        if families.get(name, 0) != count:
            raise Failure("%s has %d samples, expected %d" % (name, families.get(name, 0), count))
    in_use = rep["totals"]["in_use"]["bytes"]
    if not re.search(r'^heapscope_chunk_bytes\{[^}]*state="in_use"\} %d$' % in_use, r.out, re.M):
        raise Failure("heapscope_chunk_bytes{state=in_use} is not %d" % in_use)
    mapped = sum(int(v) for v in re.findall(r"^heapscope_memory_bytes\{[^}]*\} (\d+)$",
                                           r.out, re.M))
    if mapped != rep["memory"]["mapped"]:
        raise Failure("heapscope_memory_bytes sums to %d, memory.mapped is %d"
                      % (mapped, rep["memory"]["mapped"]))
    log("openmetrics: %d families, %d samples, all well-formed" % (len(families), len(seen)))


CASES["openmetrics"] = case_openmetrics
CASES["missing_file"] = case_missing_file
CASES["directory"] = case_directory
CASES["unknown_keys"] = case_unknown_keys
CASES["different_builds"] = case_different_builds
CASES["diff_help"] = case_diff_help


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heapscope", required=True)
    ap.add_argument("--case", required=True, choices=sorted(CASES))
    ap.add_argument("--fixture")
    ap.add_argument("--schema")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="heapscope-diffcli-")
    try:
        rc = CASES[args.case](args.heapscope, args, tmp)
    except (Failure, validate_schema.Failure) as e:
        log("FAIL: %s: %s" % (args.case, e))
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if rc == SKIP:
        return SKIP
    log("PASS: %s" % args.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
