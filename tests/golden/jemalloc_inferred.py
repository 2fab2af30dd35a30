#!/usr/bin/env python3
"""jemalloc_inferred.py: a jemalloc release with no layout row is walked with a neighbour's, exactly.

    jemalloc_inferred.py --heapscope H --fixture FIXTURE --library LIBJEMALLOC
        --from 5.3.0 --to 5.3.9 --row 5.3.0 [--no-debuginfo]

Copies LIBJEMALLOC (the system's libjemalloc.so.2, a 5.3.0) and rewrites
its JEMALLOC_VERSION string, same length, from FROM to TO: a release
heapscope has no row for, whose structs are FROM's. The fixture runs on the
copy (LD_LIBRARY_PATH) through run_fixture.py, so every statistic must
still be exact and no diagnostic an error; and the report must say
allocator.version TO, allocator.layout "inferred", allocator.layout_row
ROW (the rows nearer to TO were tried first and must have failed to
reconcile), with a warning naming TO and ROW.

Exit status: run_fixture.py's (0 pass, 1 fail, 77 skip); 77 also when the
library has no such version string.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import shutil

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hstest import SKIP, log  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--library", required=True)
    ap.add_argument("--from", dest="old", required=True)
    ap.add_argument("--to", dest="new", required=True)
    ap.add_argument("--row", required=True)
    args, rest = ap.parse_known_args()
    if len(args.old) != len(args.new):
        ap.error("--from and --to must have the same length")
    data = open(args.library, "rb").read()
    old = ("\0" + args.old + "-").encode()
    if data.count(old) == 0:
        log("SKIP: %s holds no version string %s-..." % (args.library, args.old))
        return SKIP
    tmp = tempfile.mkdtemp(prefix="hs-je-inferred-")
    try:
        lib = os.path.join(tmp, os.path.basename(args.library))
        with open(lib, "wb") as f:
            f.write(data.replace(old, ("\0" + args.new + "-").encode()))
        runner = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run_fixture.py")
        cmd = [sys.executable, runner, "--fixture", args.fixture,
               "--env", "LD_LIBRARY_PATH=" + tmp,
               "--report", "allocator.version=" + args.new,
               "--report", "allocator.layout=inferred",
               "--report", "allocator.layout_row=" + args.row,
               "--diag", "jemalloc %s-" % args.new,
               "--diag", "the %s row reconciles" % args.row] + rest
        log("$ " + " ".join(cmd))
        sys.stdout.flush()
        return subprocess.run(cmd, stdin=subprocess.DEVNULL).returncode
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
