#!/usr/bin/env python3
"""redis_jemalloc.py: a real redis-server on jemalloc: its core's walk must agree with jemalloc's counters and INFO.

Starts Debian's redis-server (dynamically linked to the system libjemalloc)
on a loopback port, loads a known set of keys and values over a raw RESP
socket, reads `INFO memory`, takes a core with gcore and runs
`heapscope analyze --json -` on it. Passes when:

  - the allocator is jemalloc 5.3.0 and the walk raised no error diagnostic
    (the jemalloc walker reports every disagreement with the counters
    jemalloc keeps in the core -- bin curregs, large nmalloc-ndalloc,
    pa_shard nactive, tcache descriptors -- as an error);
  - stats.allocated is within 0.5% of INFO's allocator_allocated (Redis
    allocates a little between answering INFO and being stopped);
  - at least as many in-use chunks as keys were found.

Exit status: 0 pass, 1 fail, 77 skip (gcore or redis-server missing).
"""

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hstest  # noqa: E402  (tests/lib/hstest.py)
from hstest import SKIP, Failure, log  # noqa: E402

NKEYS = 20000
NBIG = 50          # values of 20 KiB: large extents (tcache-able class)
NHUGE = 2          # values of 1 MiB: large extents outside the tcache
TOLERANCE = 0.005


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Failure("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Failure("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"-":
            raise Failure("redis error: %s" % rest.decode(errors="replace"))
        if kind in (b"+", b":"):
            return rest
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise Failure("unexpected RESP reply %r" % line)

    def pipeline(self, cmds):
        self.sock.sendall(b"".join(cmds))
        return [self.reply() for _ in cmds]

    def call(self, *args):
        return self.pipeline([resp(*args)])[0]


def value(i):
    # Lengths 11..300: embstr (<= 44) and raw sds values of many size classes.
    n = 11 + (i * 37) % 290
    return ("v%d-" % i + "x" * n)[:n]


def load(conn):
    batch = []
    for i in range(NKEYS):
        batch.append(resp("SET", "key:%d" % i, value(i)))
        if len(batch) == 1000:
            conn.pipeline(batch)
            batch = []
    for i in range(NBIG):
        batch.append(resp("SET", "big:%d" % i, "b" * (20 * 1024)))
    for i in range(NHUGE):
        batch.append(resp("SET", "huge:%d" % i, "h" * (1024 * 1024)))
    for i in range(500):
        batch.append(resp("RPUSH", "list", "item-%d" % i))
        batch.append(resp("HSET", "hash", "f%d" % i, "value-%d" % i))
    conn.pipeline(batch)
    # Delete some, so slabs are partly free and tcaches hold regions.
    conn.pipeline([resp("DEL", "key:%d" % i) for i in range(0, NKEYS, 7)])
    dbsize = int(conn.call("DBSIZE"))
    log("redis: %d keys" % dbsize)
    return dbsize


def info_memory_once(conn):
    text = conn.call("INFO", "memory").decode()
    fields = {}
    for line in text.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            fields[k] = v.strip()
    return fields


def info_memory(conn):
    # allocator_allocated is jemalloc's stats.allocated as of serverCron's
    # last refresh (every 100 ms, cronUpdateMemoryStats in server.c), not
    # of the INFO call: wait until two refreshes agree.
    prev = None
    for _ in range(50):
        time.sleep(0.25)
        fields = info_memory_once(conn)
        if prev is not None and fields.get("allocator_allocated") == prev:
            return fields
        prev = fields.get("allocator_allocated")
    raise Failure("INFO allocator_allocated never settled")


def take_core(pid, tmp):
    return hstest.gcore(pid, os.path.join(tmp, "core"), 240)


def analyze(args, core):
    cmd = [args.heapscope, "analyze", "--json", "-"]
    if args.no_debuginfo:
        cmd.append("--no-debuginfo")
    cmd.append(core)
    return hstest.json_of(hstest.run_ok(cmd, 240))


def start_redis(redis_server, tmp, base_port):
    """redis-server on a random loopback port in [base_port, base_port + 2000),
    answering PING (10 tries): (the server process, a Conn to it)."""
    rng = random.SystemRandom()
    for attempt in range(10):
        port = base_port + rng.randrange(2000)
        cmd = [redis_server, "--port", str(port), "--bind", "127.0.0.1",
               "--save", "", "--appendonly", "no", "--daemonize", "no",
               "--dir", tmp, "--logfile", os.path.join(tmp, "redis.log")]
        log("$ " + " ".join(repr(c) if not c else c for c in cmd))
        env = dict(os.environ)
        env.pop("MALLOC_CONF", None)
        env.pop("LD_PRELOAD", None)
        server = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, env=env)
        try:
            conn = None
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and server.poll() is None:
                try:
                    conn = Conn(port)
                    if conn.call("PING") == b"PONG":
                        break
                except (OSError, Failure):
                    conn = None
                    time.sleep(0.1)
        except BaseException:
            hstest.stop(server)
            raise
        if conn is not None and server.poll() is None:
            return server, conn
        server.kill()
        server.wait()
    raise Failure("redis-server did not start")


def check(report, info, dbsize):
    alloc = report.get("allocator", {})
    if alloc.get("name") != "jemalloc":
        raise Failure("allocator is %r, expected jemalloc" % alloc.get("name"))
    log("allocator: jemalloc %s, located by %s, %s arenas"
        % (alloc.get("version"), alloc.get("located_by"), alloc.get("arenas")))
    errors = [d for d in report.get("diagnostics", []) if d.get("severity") == "error"]
    for d in errors:
        log("error diagnostic: %s" % d.get("message"))
    if errors:
        raise Failure("%d error diagnostics (walk disagrees with jemalloc's counters)"
                      % len(errors))
    stats = alloc.get("stats", {})
    walked = stats.get("stats.allocated")
    want = int(info["allocator_allocated"])
    if not isinstance(walked, int):
        raise Failure("no stats.allocated in the report")
    diff = abs(walked - want) / want
    log("stats.allocated %d, INFO allocator_allocated %d (%.3f%%); stats.active %s,"
        " allocator_active %s" % (walked, want, 100 * diff, stats.get("stats.active"),
                                  info.get("allocator_active")))
    if diff > TOLERANCE:
        raise Failure("stats.allocated differs from allocator_allocated by %.3f%% (> %.1f%%)"
                      % (100 * diff, 100 * TOLERANCE))
    in_use = report.get("totals", {}).get("in_use", {}).get("count", 0)
    if in_use < dbsize:
        raise Failure("only %d in-use chunks for %d keys" % (in_use, dbsize))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heapscope", required=True)
    ap.add_argument("--redis-server", default="/usr/bin/redis-server")
    ap.add_argument("--no-debuginfo", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the core and report")
    args = ap.parse_args()
    if not shutil.which("gcore") or not os.access(args.redis_server, os.X_OK):
        log("SKIP: gcore or redis-server missing")
        return SKIP
    tmp = tempfile.mkdtemp(prefix="hs-redis-")
    server = None
    try:
        server, conn = start_redis(args.redis_server, tmp, 6390)
        dbsize = load(conn)
        info = info_memory(conn)
        log("INFO: allocator_allocated %s, used_memory %s, mem_allocator %s"
            % (info.get("allocator_allocated"), info.get("used_memory"),
               info.get("mem_allocator")))
        core = take_core(server.pid, tmp)
        report = analyze(args, core)
        check(report, info, dbsize)
        log("PASS")
        return 0
    except Failure as e:
        log("FAIL: %s" % e)
        return 1
    finally:
        hstest.stop(server)
        if args.keep:
            log("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
