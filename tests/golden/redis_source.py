#!/usr/bin/env python3
"""redis_source.py: upstream Redis built from source: exact allocator totals and exact sds/robj counts.

    redis_source.py --heapscope H --build-redis scripts/build-redis --suite trixie
        [--malloc jemalloc|libc] [--stripped] [--no-debuginfo]

Builds Debian SUITE's upstream Redis tarball the way upstream does
(scripts/build-redis: `make MALLOC=...`, its bundled jemalloc linked
statically with je_ symbols and --with-lg-quantum=3; cached per machine),
starts redis-server on a loopback port, takes a baseline core, loads a
known set of keys over RESP, waits until INFO's allocator figures have
refreshed (serverCron, every 100 ms), reads `INFO memory`, takes a second
core, and analyses both. With --stripped the same binary, stripped.

Passes when, for the second core:
  - jemalloc: stats.allocated is within 0.5% of INFO's allocator_allocated
    (Redis allocates a little between INFO and the core), stats.active
    equals allocator_active, and no diagnostic is an error (every walk
    disagreement with jemalloc's own counters is one); libc: no error
    diagnostic (glibc's cross-checks against mp_ and the arenas);
  - each sds/robj type grew, between the cores, by exactly what was loaded
    (the encodings are asked of Redis: OBJECT ENCODING), and robj values
    grew by DBSIZE's growth;
  - chunks called robj/sds beyond those are fewer than 0.1% of the in-use
    chunks that are neither.

Exit status: 0 pass, 1 fail, 77 skip (no network for the source, gcore missing).
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redis_jemalloc as rj  # noqa: E402
from redis_jemalloc import resp, log, Failure, SKIP  # noqa: E402
from hstest import verdict  # noqa: E402

BUILD_TIMEOUT = 1500
TOLERANCE = 0.005
N10, N40, N100, N1000, NHASH, NLIST, NSET, NBIG = 1000, 1000, 500, 200, 300, 200, 100, 40


def build(args):
    cmd = [args.build_redis, args.suite, args.malloc]
    log("$ " + " ".join(cmd))
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, timeout=BUILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise Failure("build-redis did not finish within %d s" % BUILD_TIMEOUT)
    err = r.stderr.decode(errors="replace").strip()
    if r.returncode == 2:
        log("SKIP: cannot download Debian %s's redis source (no network?): %s"
            % (args.suite, err))
        return None
    if r.returncode != 0:
        raise Failure("build-redis failed (status %d): %s" % (r.returncode, err))
    path = r.stdout.decode().strip()
    return path + ".stripped" if args.stripped else path


def load(conn):
    cmds = []
    for i in range(N10):
        cmds.append(resp("SET", "t:a:%d" % i, "a%09d" % i))
    for i in range(N40):
        cmds.append(resp("SET", "t:b:%d" % i, ("b%d-" % i).ljust(40, "b")))
    for i in range(N100):
        cmds.append(resp("SET", "t:c:%d" % i, ("c%d-" % i).ljust(100, "c")))
    for i in range(N1000):
        cmds.append(resp("SET", "t:d:%d" % i, ("d%d-" % i).ljust(1000, "d")))
    for i in range(NHASH):
        cmds.append(resp("HSET", "t:h:%d" % i, "f1", "x%d" % i, "f2", "y", "f3", "z"))
    for i in range(NLIST):
        cmds.append(resp("RPUSH", "t:l:%d" % i, "e1", "e2", "e3", "e4", "e5"))
    for i in range(NSET):
        cmds.append(resp("SADD", "t:s:%d" % i, "1", "2", "3", str(i + 10)))
    for i in range(NBIG):
        # 20 KiB values: large extents (jemalloc), big raw sds (sdshdr16)
        cmds.append(resp("SET", "t:g:%d" % i, ("g%d-" % i).ljust(20000, "g")))
    for k in range(0, len(cmds), 500):
        conn.pipeline(cmds[k:k + 500])
    return len(cmds)


# (key of the group, sds type of its value body, how many keys)
GROUPS = [("t:a:0", None, N10), ("t:b:0", None, N40), ("t:c:0", "sdshdr8", N100),
          ("t:d:0", "sdshdr16", N1000), ("t:h:0", None, NHASH), ("t:l:0", None, NLIST),
          ("t:s:0", None, NSET), ("t:g:0", "sdshdr16", NBIG)]


def settle(args, conn):
    """INFO memory as the last command before a core: on jemalloc until its
    allocator figures agree twice (serverCron refreshes them every 100 ms);
    on libc, whose figures are Redis's own count, once, after 0.3 s."""
    if args.malloc == "jemalloc":
        return rj.info_memory(conn)
    rj.time.sleep(0.3)
    return rj.info_memory_once(conn)


def frozen_core(server, tmp):
    """The core of redis-server as INFO's snapshot saw it. serverCron takes
    that snapshot every 100 ms with our client idle, after clientsCron has
    shrunk its query buffer (Redis 6.0 shrinks one over 32 KiB at every
    cron; later ones when idle for 2 s); a command read grows the buffer
    again. So: let two crons pass after the last reply, then stop the
    server (SIGSTOP) so nothing runs until gcore has it, and let it go on."""
    rj.time.sleep(0.35)
    os.kill(server.pid, signal.SIGSTOP)
    try:
        return rj.take_core(server.pid, tmp)
    finally:
        os.kill(server.pid, signal.SIGCONT)


def expected(conn, size_growth):
    want = {}
    for key, body, n in GROUPS:
        kind = conn.call("TYPE", key).decode()
        enc = conn.call("OBJECT", "ENCODING", key).decode()
        name = "robj %s/%s" % (kind, enc)
        want[name] = want.get(name, 0) + n
        if body:
            want[body] = want.get(body, 0) + n
    # Every key is an sds of its own in the keyspace dict; names under 32
    # characters take the one-byte sdshdr5 header.
    want["sdshdr5"] = want.get("sdshdr5", 0) + size_growth
    return want


def counts(report):
    return {t["name"]: t["count"] for t in report.get("types", [])
            if t["kind"] in ("sds", "robj")}


def check_alloc(args, report, info, failures):
    alloc = report.get("allocator", {})
    log("allocator: %s %s, located by %s, layout %s (row %s), %s arenas"
        % (alloc.get("name"), alloc.get("version"), alloc.get("located_by"),
           alloc.get("layout"), alloc.get("layout_row"), alloc.get("arenas")))
    for d in report.get("diagnostics", []):
        if d.get("severity") in ("error", "warning"):
            log("  %s: %s" % (d.get("severity"), d.get("message")))
        if d.get("severity") == "error":
            failures.append("error diagnostic: %s" % d.get("message"))
    want_alloc = "jemalloc" if args.malloc == "jemalloc" else "glibc"
    if alloc.get("name") != want_alloc:
        failures.append("allocator is %r, expected %s" % (alloc.get("name"), want_alloc))
        return
    if args.malloc != "jemalloc":
        return
    stats = alloc.get("stats", {})
    walked, active = stats.get("stats.allocated"), stats.get("stats.active")
    want, want_active = int(info["allocator_allocated"]), int(info["allocator_active"])
    diff = abs(walked - want) / want if isinstance(walked, int) else 1
    log("stats.allocated %s vs INFO allocator_allocated %d (%.3f%%); stats.active %s vs"
        " allocator_active %d" % (walked, want, 100 * diff, active, want_active))
    if diff > TOLERANCE:
        failures.append("stats.allocated %s differs from allocator_allocated %d by more"
                        " than 0.5%%" % (walked, want))
    if active != want_active:
        failures.append("stats.active %s != allocator_active %d" % (active, want_active))


def check_types(before, after, report, want, size_growth, failures):
    log("%-24s %8s %8s %8s %8s" % ("type", "before", "after", "growth", "expected"))
    extra = 0
    for name in sorted(set(before) | set(after) | set(want)):
        b, a = before.get(name, 0), after.get(name, 0)
        w = want.get(name, 0)
        growth = a - b
        ok = growth == w
        log("%-24s %8d %8d %8d %8d  %s" % (name, b, a, growth, w, "ok" if ok else "DIFF"))
        if name == "robj string/int":
            continue  # shared integers 0..9999: no growth expected, not counted
        if not ok:
            failures.append("%s grew by %d, expected %d" % (name, growth, w))
        extra += max(0, growth - w)
    values = sum(after.get(n, 0) - before.get(n, 0) for n in after
                 if n.startswith("robj ") and n != "robj string/int")
    if values != size_growth:
        failures.append("robj values grew by %d, DBSIZE by %d" % (values, size_growth))
    in_use = report.get("totals", {}).get("in_use", {}).get("count", 0)
    named = sum(after.values())
    others = in_use - named
    log("in-use chunks %d, robj/sds %d, others %d; robj/sds beyond what was loaded: %d"
        % (in_use, named, others, extra))
    if others > 0 and extra >= 0.001 * others:
        failures.append("%d chunks beyond the loaded keys called robj/sds (>= 0.1%% of %d)"
                        % (extra, others))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heapscope", required=True)
    ap.add_argument("--build-redis", required=True, help="scripts/build-redis")
    ap.add_argument("--suite", required=True, help="Debian suite of the redis source")
    ap.add_argument("--malloc", default="jemalloc", choices=["jemalloc", "libc"])
    ap.add_argument("--stripped", action="store_true")
    ap.add_argument("--no-debuginfo", action="store_true")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if not shutil.which("gcore"):
        log("SKIP: gcore is missing")
        return SKIP
    tmp = None
    server = None
    try:
        exe = build(args)
        if exe is None:
            return SKIP
        import tempfile
        tmp = tempfile.mkdtemp(prefix="hs-redis-src-")
        server, conn = rj.start_redis(exe, tmp, 10390)
        log("redis: %s" % conn.call("INFO", "server").decode().split("redis_version:")[1]
            .split()[0])
        size0 = int(conn.call("DBSIZE"))
        # Both cores right after the same last command (INFO memory, until
        # its figures settle), so the connection's own sds (query buffer,
        # reply) are alike in both.
        settle(args, conn)
        before = counts(rj.analyze(args, frozen_core(server, tmp)))
        os.unlink(os.path.join(tmp, "core.%d" % server.pid))
        loaded = load(conn)
        size1 = int(conn.call("DBSIZE"))
        want = expected(conn, size1 - size0)
        info = settle(args, conn)
        report = rj.analyze(args, frozen_core(server, tmp))
        failures = []
        if size1 - size0 != loaded:
            failures.append("DBSIZE grew by %d, loaded %d" % (size1 - size0, loaded))
        check_alloc(args, report, info, failures)
        check_types(before, counts(report), report, want, size1 - size0, failures)
        return verdict(failures)
    except Failure as e:
        log("FAIL: %s" % e)
        return 1
    finally:
        rj.hstest.stop(server)
        if tmp and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp:
            log("kept %s" % tmp)


if __name__ == "__main__":
    sys.exit(main())
