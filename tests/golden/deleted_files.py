#!/usr/bin/env python3
"""deleted_files.py: files a service mapped from its working directory, deleted before the analysis.

    deleted_files.py --heapscope PATH --fixture PATH --library PATH

Varnish maps shared-memory files from its working directory and dlopens its
compiled VCL (vgc.so) from there; when it exits the directory goes, and a
core analysed afterwards names files that no longer exist. The fixture
(testdata/fixtures/memmap_files.c) does the same in a directory of its own,
with a copy of LIBRARY as vgc.so. The core is taken, the fixture killed,
and the core analysed twice: with the files there, then with the directory
deleted. Both times:

- the data files are data_files in the memory table, exactly the bytes the
  fixture mapped, none of them in the core, and never modules;
- the memory table adds up, and its modules row is the same both times;
- no diagnostic names a data file;
- vgc.so stays a module (its ELF header is in the core); once deleted, one
  diagnostic says its file is missing, naming its path once.

Exit status: 0 pass, 1 fail, 77 skip (gcore is not installed).
"""

import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hstest  # noqa: E402  (tests/lib/hstest.py)
from hstest import SKIP, Failure, log  # noqa: E402
from run_fixture import Checker, memory_rows, parse_stats, row_key  # noqa: E402

TIMEOUT = 240
DATA = ("fx_vsm_shared.bin", "fx_vsm_private.dat")


def analyze(heapscope, core):
    return hstest.json_of(hstest.run_ok([heapscope, "analyze", "--json", "-", core], TIMEOUT))


def check(checker, report, exp, work, library, deleted):
    what = "after deletion" if deleted else "with the files"
    checker.memory(exp, report, "gcore")
    rows = memory_rows(report) or []
    data = [r for r in rows if r["kind"] == "data_files"]
    if any(r["dumped"] for r in data):
        checker.fail("%s: data_files has bytes in the core: %r" % (what, data))
    paths = [os.path.join(work, d) for d in DATA]
    for m in report.get("modules", []):
        if any(p in (m.get("path") or "") for p in paths):
            checker.fail("%s: %s is a module" % (what, m.get("path")))
    vgc = [m for m in report.get("modules", []) if m.get("path") == library]
    if len(vgc) != 1:
        checker.fail("%s: %d modules named %s, expected 1" % (what, len(vgc), library))
    diags = [d.get("message", "") for d in report.get("diagnostics", [])]
    for d in diags:
        log("  diagnostic: %s" % d)
        if any(os.path.basename(p) in d for p in paths):
            checker.fail("%s: a diagnostic names a data file: %s" % (what, d))
    named = [d for d in diags if library in d]
    if not deleted and named:
        checker.fail("with the files: diagnostics name %s: %r" % (library, named))
    if deleted:
        if len(named) != 1 or named[0].count(library) != 1:
            checker.fail("after deletion: expected one diagnostic naming %s once, got %r"
                         % (library, named))
    return {row_key(r): r["virtual"] for r in rows}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heapscope", required=True)
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--library", required=True, help="an ELF library to dlopen as vgc.so")
    args = ap.parse_args()
    if not shutil.which("gcore"):
        log("SKIP: gcore (gdb) is not installed")
        return SKIP

    tmp = tempfile.mkdtemp(prefix="heapscope-deleted-")
    work = os.path.join(tmp, "varnish-workdir")
    os.mkdir(work)
    library = os.path.join(work, "vgc.so")
    shutil.copy(args.library, library)
    env = dict(os.environ)
    for k in ("LD_PRELOAD", "MALLOC_PERTURB_", "MALLOC_CHECK_", "GLIBC_TUNABLES"):
        env.pop(k, None)
    checker = Checker()
    proc = None
    try:
        stats = os.path.join(tmp, "stats")
        proc = hstest.start_fixture([os.path.abspath(args.fixture), stats, library], env,
                                    cwd=work)
        core = hstest.gcore(proc.pid, os.path.join(tmp, "core"))
        hstest.stop(proc)
        exp = parse_stats(stats)
        before = check(checker, analyze(args.heapscope, core), exp, work, library, False)
        shutil.rmtree(work)
        after = check(checker, analyze(args.heapscope, core), exp, work, library, True)
        for key in ("modules", "data_files"):
            log("  %-12s %12d with the files, %12d after deletion"
                % (key, before.get(key, 0), after.get(key, 0)))
            if before.get(key) != after.get(key):
                checker.fail("%s: %r bytes with the files, %r after deletion"
                             % (key, before.get(key), after.get(key)))
    except Failure as e:
        checker.fail(str(e))
    finally:
        hstest.stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)
    if checker.failures:
        log("FAIL")
        for f in checker.failures:
            log("  - " + f)
        return 1
    log("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
