#!/usr/bin/env python3
"""redis_jemalloc4.py: Redis on its bundled jemalloc 4.x (3.2, 4.0): INFO's memory figures and exact sds/robj counts.

    redis_jemalloc4.py --heapscope H --redis-server BIN [--no-debuginfo] [--keep]

BIN is a redis-server built from source the way upstream builds it
(scripts/verify-build.d/redis-jemalloc4: jemalloc 4.0.3 linked statically
with je_ symbols and --with-lg-quantum=3), as built or stripped. Starts it on
a loopback port, takes a baseline core, loads a known set of keys over RESP
(commands Redis 3.2 has), among them 84-byte keys like the leaked ones of
seed 001 (sdshdr8, len = alloc = 84) through a connection of its own,
waits for INFO to settle, takes a second core, and analyses both. Each core
is taken with Redis's crons settled (frozen_core). Passes when, for the
second core:

  - the allocator is jemalloc 4.x and no diagnostic is an error (every
    disagreement of the walk with jemalloc's own counters is one);
  - where INFO has allocator figures (Redis 5 on; serverCron refreshes them
    every 100 ms), stats.allocated is within 0.5% of allocator_allocated and
    stats.active equals allocator_active. Redis 3.2 and 4.0 have none: their
    used_memory is the sum of malloc_usable_size over the allocations Redis
    holds (zmalloc.c, HAVE_MALLOC_SIZE), which is heapscope's in-use bytes
    less jemalloc's own metadata (the thread caches): within 0.5%;
  - each sds/robj type grew, between the cores, by exactly what was loaded
    (encodings asked of Redis: OBJECT ENCODING), robj values by DBSIZE's
    growth, and chunks called robj/sds beyond those are fewer than 0.1% of
    the in-use chunks that are neither.

Exit status: 0 pass, 1 fail, 77 skip (gcore missing).
"""

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redis_jemalloc as rj  # noqa: E402
from redis_jemalloc import resp, log, Failure, SKIP  # noqa: E402
from hstest import verdict  # noqa: E402

TOLERANCE = 0.005
# Keys per group, one group per encoding (command() below). About 12 MB in
# all: Redis's own buffers, which come and go between INFO and the core
# (some 40 KB), stay well under 0.5% of it.
N = {"a": 1000, "b": 1000, "c": 5000, "d": 5000, "h": 300, "l": 200, "s": 100, "g": 100,
     "k": 20000}


def key(group, i):
    if group == "k":
        # 84 characters: an sdshdr8 with len = alloc = 0x54 (seed 001)
        return ("t:k:%d:" % i).ljust(84, "k")
    return "t:%s:%d" % (group, i)


def command(group, i):
    k = key(group, i)
    if group == "a":
        return resp("SET", k, "a%09d" % i)                      # embstr
    if group == "b":
        return resp("SET", k, ("b%d-" % i).ljust(40, "b"))      # embstr
    if group == "c":
        return resp("SET", k, ("c%d-" % i).ljust(100, "c"))     # raw, sdshdr8
    if group == "d":
        return resp("SET", k, ("d%d-" % i).ljust(1000, "d"))    # raw, sdshdr16
    if group == "g":
        return resp("SET", k, ("g%d-" % i).ljust(20000, "g"))   # raw, a large run
    if group == "h":
        return resp("HMSET", k, "f1", "x%d" % i, "f2", "y", "f3", "z")
    if group == "l":
        return resp("RPUSH", k, "e1", "e2", "e3", "e4", "e5")
    if group == "s":
        return resp("SADD", k, "1", "2", "3", str(i + 10))
    return resp("SET", k, "v%d" % i)                             # embstr


BODY = {"c": "sdshdr8", "d": "sdshdr16", "g": "sdshdr16"}


def load(conn):
    cmds = [command(g, i) for g in N for i in range(N[g])]
    for k in range(0, len(cmds), 500):
        conn.pipeline(cmds[k:k + 500])
    return len(cmds)


def expected(conn):
    """Type name -> growth: each value's robj (its encoding asked of Redis),
    raw values' sds bodies, and every key's own sds in the keyspace dict."""
    want = {}

    def add(name, n):
        want[name] = want.get(name, 0) + n
    for g, n in N.items():
        k = key(g, 0)
        add("robj %s/%s" % (conn.call("TYPE", k).decode(),
                            conn.call("OBJECT", "ENCODING", k).decode()), n)
        if g in BODY:
            add(BODY[g], n)
        add("sdshdr5" if len(k) < 32 else "sdshdr8", n)
    return want


def counts(report):
    return {t["name"]: t["count"] for t in report.get("types", [])
            if t["kind"] in ("sds", "robj")}


def info(conn):
    """INFO memory once it has settled: allocator_* figures (Redis 5 on) are
    serverCron's, refreshed every 100 ms; used_memory is current."""
    prev = None
    for _ in range(50):
        time.sleep(0.25)
        fields = rj.info_memory_once(conn)
        now = (fields.get("allocator_allocated"), fields.get("used_memory"))
        if now == prev:
            return fields
        prev = now
    raise Failure("INFO memory never settled")


def frozen_core(server, tmp):
    """A core of redis-server with its crons settled: serverCron (every 100
    ms) and clientsCron change Redis's own objects for a while after a
    reply (an emptied sds becomes a one-byte sdshdr5 when resized), so let
    three crons pass, then stop the server until gcore has it."""
    time.sleep(0.35)
    os.kill(server.pid, signal.SIGSTOP)
    try:
        return rj.take_core(server.pid, tmp)
    finally:
        os.kill(server.pid, signal.SIGCONT)


def check_alloc(report, fields, failures):
    alloc = report.get("allocator", {})
    log("allocator: %s %s, located by %s, layout %s (row %s), %s arenas; INFO %s"
        % (alloc.get("name"), alloc.get("version"), alloc.get("located_by"),
           alloc.get("layout"), alloc.get("layout_row"), alloc.get("arenas"),
           fields.get("mem_allocator")))
    for d in report.get("diagnostics", []):
        if d.get("severity") in ("error", "warning"):
            log("  %s: %s" % (d.get("severity"), d.get("message")))
        if d.get("severity") == "error":
            failures.append("error diagnostic: %s" % d.get("message"))
    if alloc.get("name") != "jemalloc" or not str(alloc.get("version", "")).startswith("4."):
        failures.append("allocator is %s %s, expected jemalloc 4.x"
                        % (alloc.get("name"), alloc.get("version")))
        return
    stats = alloc.get("stats", {})
    totals = report.get("totals", {})
    if "allocator_allocated" in fields:
        pairs = [("stats.allocated", stats.get("stats.allocated"),
                  "allocator_allocated", int(fields["allocator_allocated"]), TOLERANCE),
                 ("stats.active", stats.get("stats.active"),
                  "allocator_active", int(fields["allocator_active"]), 0)]
    else:
        held = totals["in_use"]["bytes"] - totals.get("metadata", {}).get("bytes", 0)
        pairs = [("in-use bytes less metadata", held,
                  "used_memory", int(fields["used_memory"]), TOLERANCE)]
        log("stats.allocated %s (in use %d, cached %d, metadata %d)"
            % (stats.get("stats.allocated"), totals["in_use"]["bytes"],
               totals["cached"]["bytes"], totals.get("metadata", {}).get("bytes", 0)))
    for name, got, info_name, want, tol in pairs:
        diff = abs(got - want) / want if isinstance(got, int) and want else 1
        log("%s %s vs INFO %s %d (%.3f%%)" % (name, got, info_name, want, 100 * diff))
        if diff > tol:
            failures.append("%s %s differs from %s %d by more than %.1f%%"
                            % (name, got, info_name, want, 100 * tol))


def check_types(before, after, report, want, size_growth, failures):
    log("%-24s %8s %8s %8s %8s" % ("type", "before", "after", "growth", "expected"))
    extra = 0
    for name in sorted(set(before) | set(after) | set(want)):
        b, a, w = before.get(name, 0), after.get(name, 0), want.get(name, 0)
        ok = a - b == w
        log("%-24s %8d %8d %8d %8d  %s" % (name, b, a, a - b, w, "ok" if ok else "DIFF"))
        if not ok:
            failures.append("%s grew by %d, expected %d" % (name, a - b, w))
        extra += max(0, a - b - w)
    values = sum(after.get(n, 0) - before.get(n, 0) for n in after
                 if n.startswith("robj ") and n != "robj string/int")
    if values != size_growth:
        failures.append("robj values grew by %d, DBSIZE by %d" % (values, size_growth))
    in_use = report.get("totals", {}).get("in_use", {}).get("count", 0)
    others = in_use - sum(after.values())
    log("in-use chunks %d, robj/sds %d, others %d; robj/sds beyond what was loaded: %d"
        % (in_use, in_use - others, others, extra))
    if others > 0 and extra >= 0.001 * others:
        failures.append("%d chunks beyond the loaded keys called robj/sds (>= 0.1%% of %d)"
                        % (extra, others))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heapscope", required=True)
    ap.add_argument("--redis-server", required=True)
    ap.add_argument("--no-debuginfo", action="store_true")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if not shutil.which("gcore"):
        log("SKIP: gcore is missing")
        return SKIP
    tmp = tempfile.mkdtemp(prefix="hs-redis-je4-")
    server = None
    try:
        server, conn = rj.start_redis(args.redis_server, tmp, 12390)
        log("redis %s" % conn.call("INFO", "server").decode().split("redis_version:")[1]
            .split()[0])
        size0 = int(conn.call("DBSIZE"))
        # Both cores with Redis's own objects alike: the same last commands
        # on the same connection, whose query buffer never grows past what
        # one small command needs (clientsCron shrinks a bigger one, to a
        # one-byte sdshdr5 when empty, on its own schedule); the keys go
        # through a connection of their own, closed before the second core.
        conn.call("OBJECT", "ENCODING", "none")
        info(conn)
        before = counts(rj.analyze(args, frozen_core(server, tmp)))
        os.unlink(os.path.join(tmp, "core.%d" % server.pid))
        loader = rj.Conn(conn.sock.getpeername()[1])
        loaded = load(loader)
        loader.sock.close()
        size1 = int(conn.call("DBSIZE"))
        want = expected(conn)
        fields = info(conn)
        report = rj.analyze(args, frozen_core(server, tmp))
        failures = []
        if size1 - size0 != loaded:
            failures.append("DBSIZE grew by %d, loaded %d" % (size1 - size0, loaded))
        check_alloc(report, fields, failures)
        check_types(before, counts(report), report, want, size1 - size0, failures)
        return verdict(failures)
    except Failure as e:
        log("FAIL: %s" % e)
        return 1
    finally:
        rj.hstest.stop(server)
        if args.keep:
            log("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
