#!/usr/bin/env python3
"""redis_types.py: a real redis-server: the sds and robj counts in its core must match the keys loaded.

Starts Debian's redis-server on a loopback port (no persistence), takes a
baseline core, loads a known set of keys over a raw RESP socket, takes a
second core, and compares `heapscope analyze` types between the two. Redis
keeps its own shared objects (10000 shared integers, shared reply strings,
the command table's sds) in both cores, so the test checks the growth:

  strings of 10 and 40 bytes  -> robj string/embstr (<= 44 bytes inline)
  strings of 100 bytes        -> robj string/raw + an sdshdr8 body
  strings of 1000 bytes       -> robj string/raw + an sdshdr16 body
  small hashes                -> robj hash/listpack
  lists                       -> robj list/quicklist (Redis 7.0)
  every key                   -> an sdshdr5 in the keyspace dict (< 32 chars)

and that the robj values added equal the growth of DBSIZE.

Exit status: 0 pass, 1 fail, 77 skip (gcore or redis-server missing).
"""

import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redis_jemalloc as rj  # noqa: E402
from hstest import verdict  # noqa: E402

N10, N40, N100, N1000, NHASH, NLIST = 1000, 1000, 500, 200, 300, 200


def load(conn):
    cmds = []
    for i in range(N10):
        cmds.append(rj.resp("SET", "t:a:%d" % i, "a%09d" % i))
    for i in range(N40):
        cmds.append(rj.resp("SET", "t:b:%d" % i, ("b%d-" % i).ljust(40, "b")))
    for i in range(N100):
        cmds.append(rj.resp("SET", "t:c:%d" % i, ("c%d-" % i).ljust(100, "c")))
    for i in range(N1000):
        cmds.append(rj.resp("SET", "t:d:%d" % i, ("d%d-" % i).ljust(1000, "d")))
    for i in range(NHASH):
        cmds.append(rj.resp("HSET", "t:h:%d" % i, "f1", "x%d" % i, "f2", "y", "f3", "z"))
    for i in range(NLIST):
        cmds.append(rj.resp("RPUSH", "t:l:%d" % i, "e1", "e2", "e3", "e4", "e5"))
    for k in range(0, len(cmds), 500):
        conn.pipeline(cmds[k:k + 500])
    return N10 + N40 + N100 + N1000 + NHASH + NLIST


def counts(report):
    return {t["name"]: t["count"] for t in report.get("types", [])
            if t["kind"] in ("sds", "robj")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heapscope", required=True)
    ap.add_argument("--redis-server", default="/usr/bin/redis-server")
    ap.add_argument("--no-debuginfo", action="store_true")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if not shutil.which("gcore") or not os.access(args.redis_server, os.X_OK):
        rj.log("SKIP: gcore or redis-server missing")
        return rj.SKIP
    tmp = tempfile.mkdtemp(prefix="hs-redis-types-")
    server = None
    try:
        server, conn = rj.start_redis(args.redis_server, tmp, 8390)

        size0 = int(conn.call("DBSIZE"))
        conn.call("PING")
        before = counts(rj.analyze(args, rj.take_core(server.pid, tmp)))
        os.unlink(os.path.join(tmp, "core.%d" % server.pid))
        loaded = load(conn)
        size1 = int(conn.call("DBSIZE"))
        conn.call("PING")
        report = rj.analyze(args, rj.take_core(server.pid, tmp))
        after = counts(report)

        want = {
            "robj string/embstr": N10 + N40,
            "robj string/raw": N100 + N1000,
            "robj hash/listpack": NHASH,
            "robj list/quicklist": NLIST,
            "sdshdr5": size1 - size0,
            "sdshdr8": N100,
            "sdshdr16": N1000,
        }
        failures = []
        rj.log("DBSIZE %d -> %d (loaded %d keys)" % (size0, size1, loaded))
        if size1 - size0 != loaded:
            failures.append("DBSIZE grew by %d, loaded %d" % (size1 - size0, loaded))
        rj.log("%-22s %8s %8s %8s %8s" % ("type", "before", "after", "growth", "expected"))
        for name in sorted(set(before) | set(after) | set(want)):
            b, a = before.get(name, 0), after.get(name, 0)
            w = want.get(name)
            ok = w is None or a - b == w
            rj.log("%-22s %8d %8d %8d %8s  %s" % (name, b, a, a - b,
                                                 "-" if w is None else w,
                                                 "" if w is None else ("ok" if ok else "DIFF")))
            if not ok:
                failures.append("%s grew by %d, expected %d" % (name, a - b, w))
        values = sum(after.get(n, 0) - before.get(n, 0) for n in after
                     if n.startswith("robj ") and n != "robj string/int")
        if values != size1 - size0:
            failures.append("robj values grew by %d, DBSIZE by %d" % (values, size1 - size0))
        return verdict(failures)
    except rj.Failure as e:
        rj.log("FAIL: %s" % e)
        return 1
    finally:
        rj.hstest.stop(server)
        if args.keep:
            rj.log("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
