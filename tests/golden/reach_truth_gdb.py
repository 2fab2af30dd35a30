#!/usr/bin/env python3
"""reach_truth_gdb.py: check fixture_reach's reachability claims on its core with gdb, without heapscope.

    reach_truth_gdb.py --fixture PATH --allocator {glibc,jemalloc,tcmalloc} [--keep]

The truth the reach_leaks tests hold heapscope to is only as good as the
fixture's claims, and a conservative scan sees every stale word. This test
checks the claims on the core itself: it runs the fixture with an object
log (every tagged allocation: type, verdict, address, accounted and usable
size), takes the core with gcore, asks gdb (tests/golden/reach_gdb.py) for
each thread's registers and the addresses of the TLS arrays and globals,
and scans every 8-byte-aligned word of every PT_LOAD segment of the core
and every register for values that point into a logged object (its usable
bytes). Each reference is placed: inside another logged object, a
register, a thread's live stack (at or above its stack pointer) or its dead
part (below it), one of the fixture's TLS arrays or globals, another part
of a mapped file (a module), or anonymous memory (the allocator's heap
outside the logged objects, its metadata, other mappings).

Then, per object:
- leaked (direct or indirect): referred to only from other leaked logged
  objects; direct ones by none (itself aside), indirect ones by at least
  one; no reference from the dead stack either (the scrub worked);
- reachable: reached from a root (any reference that is not from a logged
  object) through logged objects; and for the classes that claim one root
  kind, every reference is of that kind: StackHeld from one thread's live
  stack, RegisterHeld from one register (rbx, r12-r15) and nowhere in
  memory, DataHeld from g_data_held, BssHeld from g_bss_held, TlsHeld from
  the main thread's tl_held, ThreadTlsHeld from another thread's
  tl_thread_held, AnonHeld from the page g_anon_region points at (an
  anonymous mapping of the fixture's own), RegisterChild from a
  RegisterHeld, MapValue, UnorderedValue and VectorValue from a map node,
  an unordered node and a vector body, InteriorHeld from g_interior and
  MultiHeld from g_multi, both 16 bytes into the object. The fixture's
  reach_anchor lines (where the anchor chain of each such class starts)
  must say the same.

Two kinds of word are the allocator's own and are set aside (counted and
logged, neither roots nor references):
- glibc: a word equal to the address just past an object's chunk. It is the
  next chunk's header, which glibc's arena (top, bins, last_remainder)
  points at; it falls inside malloc_usable_size() of the object, whose
  last 8 bytes are the next chunk's prev_size field;
- jemalloc: an extent header's e_addr (edata_t, 64-byte aligned, e_addr at
  offset 8, in jemalloc's own metadata): it points at the first region of
  its slab.

Exit status: 0 pass, 1 fail, 77 skip (gcore or gdb is not installed).
"""

import argparse
import bisect
import json
import mmap
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from hstest import SKIP, Failure, log  # noqa: E402
import hstest  # noqa: E402

GDB_TIMEOUT = 240
PT_LOAD, PT_NOTE, NT_FILE = 1, 4, 0x46494C45
ZERO_PAGE = bytes(4096)
HELD_REGS = ("rbx", "r12", "r13", "r14", "r15")

# Classes that claim one kind of root: the categories (see place()) that may
# refer to them, and the offset of every reference, if it is fixed.
ONLY = {
    "reach::StackHeld": (("stack",), None),
    "reach::RegisterHeld": (("reg",), 0),
    "reach::RegisterChild": (("obj:reach::RegisterHeld",), 0),
    "reach::DataHeld": (("sym:g_data_held",), 0),
    "reach::BssHeld": (("sym:g_bss_held",), 0),
    "reach::TlsHeld": (("tls:tl_held",), 0),
    "reach::ThreadTlsHeld": (("tls:tl_thread_held",), 0),
    "reach::AnonHeld": (("mmap:g_anon_region",), 0),
    "reach::MapValue": (("obj:std::map/set node",), 0),
    "reach::UnorderedValue": (("obj:std::unordered_map/set node",), 0),
    "reach::VectorValue": (("obj:std::vector body",), 0),
    "reach::InteriorHeld": (("sym:g_interior",), 16),
    "reach::MultiHeld": (("sym:g_multi",), 16),
}


class Obj:
    __slots__ = ("type", "verdict", "addr", "acc", "usable", "refs")

    def __init__(self, type_, verdict, addr, acc, usable):
        self.type, self.verdict, self.addr, self.acc, self.usable = (
            type_, verdict, addr, acc, usable)
        self.refs = []   # (category, detail, where, offset)


def read_objects(path):
    objs = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            try:
                t, v, a, acc, usable = line.rstrip("\n").split("\t")
                objs.append(Obj(t, v, int(a, 16), int(acc), int(usable)))
            except ValueError:
                raise Failure("%s:%d: bad line %r" % (path, lineno, line))
    objs.sort(key=lambda o: o.addr)
    for a, b in zip(objs, objs[1:]):
        if a.addr + a.usable > b.addr:
            raise Failure("logged objects overlap: %#x and %#x" % (a.addr, b.addr))
    return objs


class Core:
    """The PT_LOAD segments (vaddr, memsz, file offset, filesz) and NT_FILE ranges."""

    def __init__(self, path):
        self.f = open(path, "rb")
        self.m = mmap.mmap(self.f.fileno(), 0, access=mmap.ACCESS_READ)
        m = self.m
        if m[:4] != b"\x7fELF" or m[4] != 2:
            raise Failure("%s: not a 64-bit ELF core" % path)
        phoff, = struct.unpack_from("<Q", m, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", m, 0x36)
        self.loads, self.files = [], []
        for i in range(phnum):
            p_type, _, p_offset, p_vaddr, _, p_filesz, p_memsz, _ = struct.unpack_from(
                "<IIQQQQQQ", m, phoff + i * phentsize)
            if p_type == PT_LOAD:
                self.loads.append((p_vaddr, p_memsz, p_offset, p_filesz))
            elif p_type == PT_NOTE:
                self._notes(p_offset, p_filesz)
        self.loads.sort()
        self.files.sort()

    def _notes(self, off, size):
        m, end = self.m, off + size
        while off + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", m, off)
            desc = off + 12 + ((namesz + 3) & ~3)
            if ntype == NT_FILE:
                count, _ = struct.unpack_from("<QQ", m, desc)
                for k in range(count):
                    start, stop, _ = struct.unpack_from("<QQQ", m, desc + 16 + 24 * k)
                    self.files.append((start, stop))
            off = desc + ((descsz + 3) & ~3)

    def segment(self, addr):
        i = bisect.bisect_right(self.loads, (addr, float("inf"))) - 1
        if i >= 0 and self.loads[i][0] <= addr < self.loads[i][0] + self.loads[i][1]:
            return self.loads[i]
        return None

    def in_file(self, addr):
        i = bisect.bisect_right(self.files, (addr, float("inf"))) - 1
        return i >= 0 and self.files[i][0] <= addr < self.files[i][1]


def gdb_facts(fixture, core, tmp):
    out = os.path.join(tmp, "facts.json")
    cmd = ["gdb", "-batch", "-nx", "-ex", "python REACH_OUT=%r" % out,
           "-x", os.path.join(HERE, "reach_gdb.py"), fixture, core]
    log("$ " + " ".join(cmd))
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=GDB_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise Failure("gdb did not finish within %d s" % GDB_TIMEOUT)
    if r.returncode != 0 or not os.path.exists(out):
        raise Failure("gdb failed (status %d):\n%s" % (r.returncode,
                                                       r.stdout.decode(errors="replace")))
    with open(out) as f:
        return json.load(f)


class Placer:
    """Names the place of a word at an address: see the module docstring."""

    def __init__(self, core, facts, objs):
        self.core, self.objs = core, objs
        self.starts = [o.addr for o in objs]
        self.named = []   # (start, end, category)
        for name, (addr, size) in facts["symbols"].items():
            self.named.append((addr, addr + size, "sym:" + name))
        for name, (addr, size) in facts.get("regions", {}).items():
            self.named.append((addr, addr + size, "mmap:" + name))
        self.stacks = []  # (sp, end of its segment, thread, dead start)
        for t in facts["threads"]:
            for name, where in t["tls"].items():
                if isinstance(where, list):
                    self.named.append((where[0], where[0] + where[1],
                                       "tls:%s" % name, t["num"]))
            sp = t["regs"]["rsp"]
            seg = core.segment(sp)
            if seg is None:
                raise Failure("thread %d: its stack pointer %#x is in no segment"
                              % (t["num"], sp))
            self.stacks.append((sp, seg[0] + seg[1], t["num"], seg[0]))

    def obj_at(self, addr):
        i = bisect.bisect_right(self.starts, addr) - 1
        if i >= 0 and addr < self.objs[i].addr + self.objs[i].usable:
            return self.objs[i]
        return None

    def place(self, addr):
        """(category, detail) of the memory word at addr."""
        o = self.obj_at(addr)
        if o is not None:
            return "obj:" + o.type, o
        for entry in self.named:
            if entry[0] <= addr < entry[1]:
                return entry[2], (entry[3] if len(entry) > 3 else None)
        for sp, end, num, seg_start in self.stacks:
            if sp <= addr < end:
                return "stack", num
            if seg_start <= addr < sp:
                return "deadstack", num
        if self.core.in_file(addr):
            return "module", None
        return "anon", None


def allocator_word(allocator, o, value, where, cat):
    """Whether the word value at where is the allocator's (module docstring)."""
    if allocator == "glibc":
        return value == o.addr + o.acc - 16
    if allocator == "jemalloc":
        return (cat == "anon" and value == o.addr and value % 4096 == 0
                and where % 64 == 8)
    return False


def scan(core, objs, placer, facts, allocator, ignored):
    """Fill each object's refs from the registers and every word of the core;
    count the allocator's own words in ignored."""
    pages = set()
    for o in objs:
        for p in range(o.addr >> 12, ((o.addr + o.usable - 1) >> 12) + 1):
            pages.add(p)
    words = 0
    for t in facts["threads"]:
        for reg, v in t["regs"].items():
            if (v >> 12) in pages:
                o = placer.obj_at(v)
                if o is not None and not allocator_word(allocator, o, v, None, "reg"):
                    o.refs.append(("reg", (t["num"], reg), None, v - o.addr))
    m = core.m
    for vaddr, memsz, off, filesz in core.loads:
        for page_off in range(0, filesz, 4096):
            page = m[off + page_off:off + min(page_off + 4096, filesz)]
            if page == ZERO_PAGE:
                continue
            n = len(page) // 8
            for k, w in enumerate(struct.unpack_from("<%dQ" % n, page)):
                if (w >> 12) not in pages:
                    continue
                o = placer.obj_at(w)
                if o is None:
                    continue
                where = vaddr + page_off + 8 * k
                cat, detail = placer.place(where)
                if allocator_word(allocator, o, w, where, cat):
                    ignored[cat] = ignored.get(cat, 0) + 1
                    continue
                o.refs.append((cat, detail, where, w - o.addr))
            words += n
    return words


def check(objs, failures):
    """The claims; returns per-type summaries for the log."""
    leaked = {"direct", "indirect"}
    summary = {}
    # Reachability over the logged objects: roots are references that do not
    # come from a logged object (dead stack slots are no root).
    reached = set()
    work = [o for o in objs if any(not r[0].startswith("obj:") and r[0] != "deadstack"
                                   for r in o.refs)]
    referrers = {}
    for o in objs:
        for r in o.refs:
            if r[0].startswith("obj:"):
                referrers.setdefault(id(r[1]), []).append(o)
    reached.update(id(o) for o in work)
    while work:
        o = work.pop()
        for target in referrers.get(id(o), []):
            if id(target) not in reached:
                reached.add(id(target))
                work.append(target)

    for o in objs:
        s = summary.setdefault(o.type, {"n": 0, "verdicts": {}, "cats": {}, "bad": 0})
        s["n"] += 1
        s["verdicts"][o.verdict] = s["verdicts"].get(o.verdict, 0) + 1
        for r in o.refs:
            s["cats"][r[0]] = s["cats"].get(r[0], 0) + 1
        problems = []
        others = [r for r in o.refs if not (r[0].startswith("obj:") and r[1] is o)]
        if o.verdict in leaked:
            for r in others:
                if r[0].startswith("obj:") and r[1].verdict in leaked:
                    continue
                problems.append("referred to from %s at %s" % (
                    r[0] + ("" if not r[0].startswith("obj:") else " %#x (%s)"
                            % (r[1].addr, r[1].verdict)),
                    "%#x" % r[2] if r[2] is not None else "register %s" % (r[1],)))
            from_leaked = [r for r in others if r[0].startswith("obj:")]
            if o.verdict == "direct" and from_leaked:
                problems.append("direct, but %d leaked objects refer to it" % len(from_leaked))
            if o.verdict == "indirect" and not from_leaked:
                problems.append("indirect, but no other leaked object refers to it")
            if id(o) in reached:
                problems.append("claimed leaked, but reachable from a root")
        else:
            if id(o) not in reached:
                problems.append("claimed reachable, but no root reaches it")
            if o.type in ONLY:
                cats, offset = ONLY[o.type]
                if not o.refs:
                    problems.append("no reference at all")
                for r in o.refs:
                    if r[0] not in cats:
                        problems.append("referred to from %s (%s) at %s; only %s may"
                                        % (r[0], r[1] if not r[0].startswith("obj:")
                                           else "%#x" % r[1].addr,
                                           "%#x" % r[2] if r[2] is not None else "-",
                                           "/".join(cats)))
                    elif offset is not None and r[3] != offset:
                        problems.append("referred to at offset %d, expected %d"
                                        % (r[3], offset))
                if o.type == "reach::RegisterHeld":
                    regs = [r[1][1] for r in o.refs if r[0] == "reg"]
                    if len(regs) != 1 or regs[0] not in HELD_REGS:
                        problems.append("held by registers %s, expected one of %s"
                                        % (regs, "/".join(HELD_REGS)))
                tls = [r[1] for r in o.refs if r[0].startswith("tls:")]
                if o.type == "reach::TlsHeld" and any(t != 1 for t in tls):
                    problems.append("held from another thread's tl_held than main's")
                if o.type == "reach::ThreadTlsHeld" and any(t == 1 for t in tls):
                    problems.append("held from the main thread's tl_thread_held")
        if problems:
            s["bad"] += 1
            for p in problems:
                failures.append("%s %s at %#x: %s" % (o.verdict, o.type, o.addr, p))
    # Each thread-held class in one thread.
    for typ, cat in (("reach::StackHeld", "stack"), ("reach::RegisterHeld", "reg")):
        threads = {(r[1] if cat == "stack" else r[1][0]) for o in objs if o.type == typ
                   for r in o.refs if r[0] == cat}
        if len(threads) > 1:
            failures.append("%s is held by more than one thread: %s" % (typ, sorted(threads)))
    return summary


def check_anchors(stats, failures):
    """The fixture's reach_anchor lines agree with the ONLY table checked here."""
    kinds = {"stacks": "stack", "registers": "reg", "modules": "sym:", "tls": "tls:",
             "other": "mmap:g_anon_region"}
    seen = 0
    with open(stats, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if not parts or parts[0] != "reach_anchor":
                continue
            seen += 1
            name, kind, where = parts[1:4]
            through = line.split(None, 4)[4].strip()
            if through != "-":
                want = "obj:" + through.split(",")[-1]
            else:
                want = kinds.get(kind, "?")
                if want.endswith(":"):
                    want += where
            if name not in ONLY or ONLY[name][0] != (want,):
                failures.append("reach_anchor %s %s %s %s: the references checked here are %s"
                                % (name, kind, where, through,
                                   ONLY[name][0] if name in ONLY else "none"))
    if seen != len(ONLY):
        failures.append("%d reach_anchor lines for %d classes held from one root kind"
                        % (seen, len(ONLY)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--allocator", required=True, choices=("glibc", "jemalloc", "tcmalloc"))
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    for tool in ("gcore", "gdb"):
        if not shutil.which(tool):
            log("SKIP: %s is not installed" % tool)
            return SKIP
    env = hstest.fixture_env()

    tmp = tempfile.mkdtemp(prefix="heapscope-reach-gdb-")
    proc = None
    failures = []
    try:
        stats = os.path.join(tmp, "stats")
        objects = os.path.join(tmp, "objects")
        proc = hstest.start_fixture([args.fixture, stats, objects], env)
        core_path = hstest.gcore(proc.pid, os.path.join(tmp, "core"))
        hstest.stop(proc)
        check_anchors(stats, failures)
        objs = read_objects(objects)
        facts = gdb_facts(args.fixture, core_path, tmp)
        core = Core(core_path)
        placer = Placer(core, facts, objs)
        ignored = {}
        words = scan(core, objs, placer, facts, args.allocator, ignored)
        log("scanned %d non-zero words of %d segments and the registers of %d threads; "
            "%d logged objects" % (words, len(core.loads), len(facts["threads"]), len(objs)))
        for t in facts["threads"]:
            log("  thread %d (LWP %d): %s" % (t["num"], t["lwp"], " ".join(
                "%s=%#x" % (r, t["regs"][r]) for r in ("rsp",) + HELD_REGS)))
        log("the allocator's own words, set aside: %s" % (
            ", ".join("%d in %s" % (n, c) for c, n in sorted(ignored.items())) or "none"))
        summary = check(objs, failures)
        log("%-34s %6s  %-32s %s" % ("type", "count", "verdicts", "references by place"))
        for typ, s in summary.items():
            log("%-34s %6d  %-32s %s%s" % (
                typ, s["n"], ", ".join("%s %d" % kv for kv in sorted(s["verdicts"].items())),
                ", ".join("%s %d" % kv for kv in sorted(s["cats"].items())),
                "   <- %d WRONG" % s["bad"] if s["bad"] else ""))
    except Failure as e:
        failures.append(str(e))
    finally:
        hstest.stop(proc)
        if args.keep:
            log("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        for f in failures[:60]:
            log("FAIL: " + f)
        if len(failures) > 60:
            log("FAIL: ... and %d more" % (len(failures) - 60))
        return 1
    log("PASS: every claim of %s holds on its core" % os.path.basename(args.fixture))
    return 0


if __name__ == "__main__":
    sys.exit(main())
