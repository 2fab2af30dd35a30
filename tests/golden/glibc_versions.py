#!/usr/bin/env python3
"""glibc_versions.py: a glibc golden fixture on another Debian release's glibc, built and run in a sysroot.

    glibc_versions.py --fetch-sysroot scripts/fetch-sysroot --suite bullseye
        --dest BUILDDIR/sysroot-glibc-bullseye --version 2.31 --cc CC [--cc ARG...]
        --fixture-src testdata/fixtures/glibc_threads.c --heapscope HEAPSCOPE
        [--no-debuginfo]

1. Fetches libc6, libc6-dbg, libc6-dev and linux-libc-dev of SUITE into DEST
   with scripts/fetch-sysroot (once: it keeps a marker per package set).
2. Compiles the fixture against DEST (headers, crt files, libc.so and
   libpthread of that release), so that it only references symbol versions
   that release has: a fixture linked on this system wants GLIBC_2.34
   (__libc_start_main, pthread_create), which 2.31 lacks, and mallinfo2,
   which only exists from 2.33 (fixture_common.h records mallinfo() below).
3. Runs run_fixture.py with a launcher in DEST that execs DEST's ld.so
   --library-path DEST's lib dirs FIXTURE (exec: gcore sees the fixture's
   pid). The core's NT_FILE then names DEST's files, which heapscope opens.
   With debug info, heapscope also gets --sysroot=DEST (DEST holds a link
   DEST/<DEST> -> DEST, so the core's paths still resolve) and finds
   libc6-dbg's DEST/usr/lib/debug/.build-id files; without, --no-debuginfo.
4. Besides run_fixture.py's exact checks, the report must name glibc
   VERSION and be located by debuginfo (resp. disassembly); with
   --expect-layout, allocator.layout must be that (and with --expect-row,
   allocator.layout_row that row: an inferred layout names the row it
   used). A suite whose libc6 is no longer VERSION (experimental moves on)
   is a skip that says so.

Exit status: 0 pass, 1 fail, 77 skip (gcore missing, or the download
failed: no network, unknown suite or package; the reason is printed).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from hstest import SKIP, log  # noqa: E402  (tests/lib/hstest.py)

PACKAGES = ["libc6", "libc6-dbg", "libc6-dev", "linux-libc-dev"]
FETCH_TIMEOUT = 300
FETCH_DOWNLOAD_FAILED = 2  # scripts/fetch-sysroot: download failure
COMPILE_TIMEOUT = 120
LIBDIRS = ["lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu"]


class Skip(Exception):
    pass


class Fail(Exception):
    pass


def fetch(args):
    cmd = [args.fetch_sysroot, args.suite, args.dest] + PACKAGES
    log("$ " + " ".join(cmd))
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=FETCH_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise Skip("fetch-sysroot did not finish within %d s (slow or no network)"
                   % FETCH_TIMEOUT)
    out = r.stdout.decode(errors="replace").strip()
    if r.returncode == FETCH_DOWNLOAD_FAILED:
        raise Skip("cannot download glibc of %s: %s" % (args.suite, out))
    if r.returncode != 0:
        raise Fail("fetch-sysroot failed (status %d): %s" % (r.returncode, out))
    debs = os.listdir(os.path.join(args.dest, ".apt", "debs"))
    libc6 = [d for d in debs if d.startswith("libc6_")]
    if libc6 and not libc6[0].startswith("libc6_%s-" % args.version):
        raise Skip("%s's libc6 is now %s, not glibc %s"
                   % (args.suite, libc6[0], args.version))


def compile_fixture(args):
    """The fixture built against DEST, in DEST/heapscope-fixtures/."""
    d = args.dest
    outdir = os.path.join(d, "heapscope-fixtures")
    os.makedirs(outdir, exist_ok=True)
    name = os.path.splitext(os.path.basename(args.fixture_src))[0]
    exe = os.path.join(outdir, name)
    libdir = os.path.join(d, "usr/lib/x86_64-linux-gnu")
    # -B: crt1.o/crti.o from DEST; -L before the compiler's own dirs so
    # that libc.so (a linker script, resolved inside --sysroot) and
    # libpthread are DEST's.
    cmd = args.cc + ["--sysroot=" + d, "-B" + libdir + "/"]
    cmd += ["-L" + os.path.join(d, x) for x in reversed(LIBDIRS)]
    cmd += ["-O1", "-g", "-Wall", "-Wextra", "-pthread", "-fno-sanitize=all",
            "-o", exe + ".tmp", args.fixture_src]
    log("$ " + " ".join(cmd))
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=COMPILE_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise Fail("compiling the fixture took over %d s" % COMPILE_TIMEOUT)
    if r.returncode != 0:
        raise Fail("compiling the fixture against %s failed:\n%s"
                   % (d, r.stdout.decode(errors="replace")))
    os.replace(exe + ".tmp", exe)
    return exe


def launcher(args, exe):
    """DEST/run-NAME: exec DEST's loader on the fixture with DEST's libraries."""
    d = args.dest
    ld = os.path.join(d, "lib64", "ld-linux-x86-64.so.2")
    if not os.path.exists(ld):
        raise Fail("no dynamic loader at %s after the fetch" % ld)
    path = os.path.join(d, "run-" + os.path.basename(exe))
    libpath = ":".join(os.path.join(d, x) for x in LIBDIRS)
    with open(path + ".tmp", "w") as f:
        f.write('#!/bin/sh\nexec "%s" --library-path "%s" "%s" "$@"\n' % (ld, libpath, exe))
    os.chmod(path + ".tmp", 0o755)
    os.replace(path + ".tmp", path)
    return path


def self_link(dest):
    """DEST/<DEST> -> DEST, so that --sysroot=DEST resolves the core's
    absolute DEST/... paths too."""
    link = os.path.join(dest, dest.lstrip("/"))
    if os.path.islink(link):
        return
    os.makedirs(os.path.dirname(link), exist_ok=True)
    os.symlink(os.path.relpath(dest, os.path.dirname(link)), link)


def run(args, fixture):
    cmd = [sys.executable, os.path.join(HERE, "run_fixture.py"),
           "--heapscope", args.heapscope, "--fixture", fixture, "--keep"]
    if args.no_debuginfo:
        cmd.append("--no-debuginfo")
    else:
        self_link(args.dest)
        cmd.append("--heapscope-arg=--sysroot=" + args.dest)
    # --keep, in a directory of ours: the report is read, then all removed.
    tmp = tempfile.mkdtemp(prefix="heapscope-glibc-%s-" % args.version)
    try:
        env = dict(os.environ, TMPDIR=tmp)
        log("$ " + " ".join(cmd))
        rc = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL).returncode
        if rc != 0:
            return rc
        kept = [os.path.join(tmp, x) for x in os.listdir(tmp)]
        if len(kept) != 1:
            raise Fail("run_fixture.py --keep left %r" % kept)
        with open(os.path.join(kept[0], "report.json"), encoding="utf-8") as f:
            report = json.load(f)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    alloc = report.get("allocator", {})
    want_by = "disassembly" if args.no_debuginfo else "debuginfo"
    bad = []
    if alloc.get("version") != args.version:
        bad.append("allocator.version is %r, the sysroot's glibc is %s"
                   % (alloc.get("version"), args.version))
    if alloc.get("located_by") != want_by:
        bad.append("allocator.located_by is %r, expected %s"
                   % (alloc.get("located_by"), want_by))
    if args.expect_layout and alloc.get("layout") != args.expect_layout:
        bad.append("allocator.layout is %r, expected %s"
                   % (alloc.get("layout"), args.expect_layout))
    if args.expect_row and alloc.get("layout_row") != args.expect_row:
        bad.append("allocator.layout_row is %r, expected %s"
                   % (alloc.get("layout_row"), args.expect_row))
    for b in bad:
        log("FAIL: " + b)
    if not bad:
        log("glibc %s located by %s, layout %s (row %s): ok"
            % (args.version, want_by, alloc.get("layout"), alloc.get("layout_row")))
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fetch-sysroot", required=True)
    ap.add_argument("--suite", required=True)
    ap.add_argument("--dest", required=True)
    ap.add_argument("--version", required=True, help="the suite's glibc, e.g. 2.31")
    ap.add_argument("--cc", action="append", required=True,
                    help="the C compiler command, one word per --cc")
    ap.add_argument("--fixture-src", required=True)
    ap.add_argument("--heapscope", required=True)
    ap.add_argument("--no-debuginfo", action="store_true")
    ap.add_argument("--expect-layout", choices=["verified", "from_source", "inferred"])
    ap.add_argument("--expect-row", help="the layout row the report must name")
    args = ap.parse_args()
    args.dest = os.path.abspath(args.dest)
    if not shutil.which("gcore"):
        log("SKIP: gcore (gdb) is not installed")
        return SKIP
    try:
        fetch(args)
        fixture = launcher(args, compile_fixture(args))
        return run(args, fixture)
    except Skip as e:
        log("SKIP: %s" % e)
        return SKIP
    except Fail as e:
        log("FAIL: %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
