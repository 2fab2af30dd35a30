#!/usr/bin/env python3
"""validate_schema.py: every JSON document heapscope writes validates against docs/report-schema.json.

    validate_schema.py --schema docs/report-schema.json --heapscope PATH --fixture PATH
    validate_schema.py --schema docs/report-schema.json FILE...

The first form gcores a fixture (one that prints "ready" and parks, given a
stats file as argv[1]) and validates what heapscope writes about it: the
analyze report (--json FILE, --json -, --format json) and diff documents
(core/report in every mix, filtered and not). It also checks that the
validator is a real one: documents that break the contract are rejected.
The second form validates files.

The validator is python3-jsonschema (Debian), draft-07. diff_growth.py
imports validate() from here.

Exit status: 0 pass, 1 fail, 77 skip (gcore is not installed).
"""

import argparse
import copy
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hstest  # noqa: E402  (tests/lib/hstest.py)
from hstest import SKIP, Failure, log  # noqa: E402

TIMEOUT = 240


def load_validator(schema_path):
    try:
        import jsonschema
    except ImportError:
        raise Failure("python3-jsonschema is not installed (scripts/install-deps installs it)")
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def errors_of(validator, doc):
    """The schema violations of doc, as short strings (empty: valid)."""
    out = []
    for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in e.absolute_path) or "(top)"
        out.append("%s: %s" % (where, e.message[:300]))
    return out


def validate(validator, doc, what):
    """Raise Failure unless doc validates; log what was checked."""
    errs = errors_of(validator, doc)
    if errs:
        raise Failure("%s does not validate against the schema:\n  %s"
                      % (what, "\n  ".join(errs[:20])))
    log("valid: %s (%s)" % (what, doc.get("schema") if isinstance(doc, dict) else "?"))


def run(cmd, timeout=TIMEOUT):
    return hstest.run_ok(cmd, timeout).out


def load_json(text, what):
    try:
        return json.loads(text)
    except ValueError as e:
        raise Failure("%s is not JSON: %s" % (what, e))


def gcore_fixture(fixture, tmp):
    """Run a fixture to "ready", gcore it, kill it: the core's path."""
    env = dict(os.environ)
    for k in ("LD_PRELOAD", "MALLOC_PERTURB_", "MALLOC_CHECK_", "GLIBC_TUNABLES"):
        env.pop(k, None)
    proc = hstest.start_fixture([fixture, os.path.join(tmp, "stats")], env)
    try:
        return hstest.gcore(proc.pid, os.path.join(tmp, "core"), TIMEOUT)
    finally:
        hstest.stop(proc)


def negative_controls(validator, report, diff):
    """The validator must reject documents that break the contract; if it
    accepted these, a passing run would prove nothing."""
    bad = []
    r = copy.deepcopy(report)
    del r["totals"]
    bad.append(("report without totals", r))
    r = copy.deepcopy(report)
    r["size_classes"] = [{"size": -1, "count": 1, "bytes": 1}]
    bad.append(("report with a negative size", r))
    r = copy.deepcopy(report)
    r["schema"] = "heapscope-report/2"
    bad.append(("report of another schema", r))
    d = copy.deepcopy(diff)
    del d["size_classes"]
    bad.append(("diff without size_classes", d))
    d = copy.deepcopy(diff)
    d["totals"]["in_use"]["growth"] = "big"
    bad.append(("diff with a string growth", d))
    d = copy.deepcopy(diff)
    d["types"]["rows"] = [{"status": "grew"}]
    bad.append(("diff with a malformed row", d))
    for what, doc in bad:
        if not errors_of(validator, doc):
            raise Failure("the schema accepted a %s" % what)
        log("rejected, as it should be: %s" % what)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--schema", required=True)
    ap.add_argument("--heapscope")
    ap.add_argument("--fixture")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    try:
        validator = load_validator(args.schema)
        if args.files:
            for path in args.files:
                with open(path, encoding="utf-8") as f:
                    validate(validator, load_json(f.read(), path), path)
            return 0
        if not (args.heapscope and args.fixture):
            ap.error("give FILEs, or --heapscope and --fixture")
        if not shutil.which("gcore"):
            log("SKIP: gcore (gdb) is not installed")
            return SKIP
        return check_tool(args, validator)
    except Failure as e:
        log("FAIL: %s" % e)
        return 1


def check_tool(args, validator):
    hs = args.heapscope
    tmp = tempfile.mkdtemp(prefix="heapscope-schema-")
    try:
        core = gcore_fixture(args.fixture, tmp)
        rfile = os.path.join(tmp, "report.json")
        run([hs, "analyze", "--json", rfile, core])
        with open(rfile, encoding="utf-8") as f:
            report = load_json(f.read(), rfile)
        validate(validator, report, "analyze --json FILE")
        validate(validator, load_json(run([hs, "analyze", "--json", "-", core]), "stdout"),
                 "analyze --json -")
        validate(validator, load_json(run([hs, "analyze", "--format", "json",
                                           "--captured-at", "2024-05-01T12:00:00Z", core]),
                                      "stdout"), "analyze --format json --captured-at")

        docs = {}
        for name, old, new, extra in [
                ("core/core", core, core, []),
                ("report/core", rfile, core, []),
                ("core/report", core, rfile, ["--top", "1"]),
                ("report/report", rfile, rfile, ["--min-bytes", "0", "--top", "0"])]:
            docs[name] = load_json(run([hs, "diff", "--json", "-"] + extra + [old, new]),
                                   "diff " + name)
            validate(validator, docs[name], "diff --json - (%s %s)" % (name, " ".join(extra)))
        dfile = os.path.join(tmp, "diff.json")
        run([hs, "diff", rfile, core, "--json", dfile])
        with open(dfile, encoding="utf-8") as f:
            validate(validator, load_json(f.read(), dfile), "diff --json FILE")

        negative_controls(validator, report, docs["report/report"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
