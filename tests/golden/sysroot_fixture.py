#!/usr/bin/env python3
"""sysroot_fixture.py: run a golden fixture on another Debian release's allocator library.

    sysroot_fixture.py --fetch-sysroot scripts/fetch-sysroot --suite bullseye
        --dest BUILDDIR/sysroot-bullseye --package libjemalloc2 [--package ...]
        [--own-libc] --fixture FIXTURE [run_fixture.py options...]

Fetches the packages into DEST with scripts/fetch-sysroot (once: it keeps a
marker per package set, so later runs cost nothing), then hands over to
run_fixture.py with the fixture running on DEST's libraries:

  - by default through LD_LIBRARY_PATH=DEST/usr/lib/x86_64-linux-gnu (the
    library has the same soname as the one the fixture was linked against);
  - with --own-libc, under DEST's own dynamic loader and C library (a
    library built for a newer glibc than the system's, e.g. trixie's on
    bookworm): a launcher script in DEST execs DEST's ld.so --library-path
    DEST's lib dirs FIXTURE, so the pid gcore sees is the fixture's.

With --patch-version LIB OLD NEW, the fixture runs on a copy of DEST's LIB
(a file name under usr/lib/x86_64-linux-gnu) whose version string OLD is
overwritten with NEW (same length) and whose build-id is altered: a real
build of a version heapscope has no row for, whose layout must be inferred.

Exit status: run_fixture.py's (0 pass, 1 fail, 77 skip); 77 also when the
download fails (fetch-sysroot exit 2: no network, unknown suite or
package), with the reason; any other fetch failure is a failure (1).
"""

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hstest import SKIP, log  # noqa: E402  (tests/lib/hstest.py)

FETCH_TIMEOUT = 300
FETCH_DOWNLOAD_FAILED = 2  # scripts/fetch-sysroot: download failure
LIBDIR = "usr/lib/x86_64-linux-gnu"


def fetch(args):
    cmd = [args.fetch_sysroot, args.suite, args.dest] + args.package
    log("$ " + " ".join(cmd))
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, timeout=FETCH_TIMEOUT)
    except subprocess.TimeoutExpired:
        log("SKIP: fetch-sysroot did not finish within %d s (network?)" % FETCH_TIMEOUT)
        return SKIP
    err = r.stderr.decode(errors="replace").strip()
    if r.returncode == FETCH_DOWNLOAD_FAILED:
        log("SKIP: cannot download %s from Debian %s (no network?): %s"
            % (" ".join(args.package), args.suite, err))
        return SKIP
    if r.returncode != 0:
        log("FAIL: fetch-sysroot exited with status %d: %s" % (r.returncode, err))
        return 1
    return 0


def launcher(args, first=None):
    """A shell script in DEST that runs the fixture under DEST's ld.so
    (libraries from `first` before DEST's own)."""
    dest = os.path.abspath(args.dest)
    ldso = os.path.join(dest, "usr/lib64/ld-linux-x86-64.so.2")
    if not os.path.exists(ldso):
        ldso = os.path.join(dest, LIBDIR, "ld-linux-x86-64.so.2")
    dirs = ([first] if first else []) + [os.path.join(dest, d)
                                         for d in (LIBDIR, "lib/x86_64-linux-gnu")]
    libpath = ":".join(dirs)
    path = os.path.join(dest, ".launch-%s%s" % ("patched-" if first else "",
                                                os.path.basename(args.fixture)))
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write("#!/bin/sh\nexec '%s' --library-path '%s' '%s' \"$@\"\n"
                % (ldso, libpath, os.path.abspath(args.fixture)))
    os.chmod(path + ".tmp", 0o755)
    os.replace(path + ".tmp", path)
    return path


def patch_version(args):
    """DEST/.patched-NEW/LIB: LIB with its version string and build-id
    changed; returns that directory."""
    lib, old, new = args.patch_version
    if len(old) != len(new):
        raise SystemExit("--patch-version: %r and %r differ in length" % (old, new))
    dest = os.path.abspath(args.dest)
    src = os.path.realpath(os.path.join(dest, LIBDIR, lib))
    data = bytearray(open(src, "rb").read())
    at = data.find(old.encode() + b"\0")
    if at < 0:
        raise SystemExit("--patch-version: %r not in %s" % (old, src))
    data[at:at + len(old)] = new.encode()
    # The GNU build-id note: name "GNU\0" after namesz 4, type 3.
    note = data.find(b"\x04\x00\x00\x00\x14\x00\x00\x00\x03\x00\x00\x00GNU\x00")
    if note < 0:
        raise SystemExit("--patch-version: no 20-byte build-id note in %s" % src)
    data[note + 16] ^= 0xff
    out = os.path.join(dest, ".patched-" + new)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, lib + ".tmp"), "wb") as f:
        f.write(data)
    os.chmod(os.path.join(out, lib + ".tmp"), 0o755)
    os.replace(os.path.join(out, lib + ".tmp"), os.path.join(out, lib))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fetch-sysroot", required=True, help="scripts/fetch-sysroot")
    ap.add_argument("--suite", required=True, help="Debian suite (bullseye, trixie)")
    ap.add_argument("--dest", required=True, help="the sysroot directory (a cache)")
    ap.add_argument("--package", action="append", required=True, help="a package to fetch")
    ap.add_argument("--own-libc", action="store_true",
                    help="run under DEST's ld.so and libc (fetch libc6 too)")
    ap.add_argument("--fixture", required=True, help="the fixture program")
    ap.add_argument("--patch-version", nargs=3, metavar=("LIB", "OLD", "NEW"),
                    help="run on a copy of LIB claiming version NEW")
    args, rest = ap.parse_known_args()

    rc = fetch(args)
    if rc != 0:
        return rc
    runner = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run_fixture.py")
    cmd = [sys.executable, runner]
    first = patch_version(args) if args.patch_version else None
    if args.own_libc:
        cmd += ["--fixture", launcher(args, first)]
    else:
        libpath = os.path.join(os.path.abspath(args.dest), LIBDIR)
        cmd += ["--fixture", args.fixture,
                "--env", "LD_LIBRARY_PATH=" + (first + ":" if first else "") + libpath]
    cmd += rest
    log("$ " + " ".join(cmd))
    sys.stdout.flush()
    return subprocess.run(cmd, stdin=subprocess.DEVNULL).returncode


if __name__ == "__main__":
    sys.exit(main())
