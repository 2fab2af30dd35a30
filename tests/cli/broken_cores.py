#!/usr/bin/env python3
"""broken_cores.py: cores that are cut, garbage, foreign, or with missing or wrong files.

    broken_cores.py --heapscope PATH --group GROUP [--fixture PATH]

Groups (one meson test each):
  garbage    no core at all: empty, zero bytes, random bytes, ELF files that
             are not cores, a FIFO, character devices
  truncated  a real core (gcore of a glibc fixture) cut at many points: in the
             ELF header, the program headers, the notes, the libc data, the
             heap, its last byte
  foreign    the same core patched to another architecture, class, byte
             order or ELF type
  modules    the same core with its executable or libc missing, replaced by a
             different binary (build-id mismatch), or replaced by a FIFO, a
             character device or a directory

The contract for every run: exit 2 with a one-line error on stderr, or exit 0
with a report; never a crash (signal, status >= 128, a sanitizer report),
never a hang (TIMEOUT), never a silent wrong total: a report from a cut core
must carry a diagnostic saying so, and a report whose module files are
missing or wrong must say which, and still count the same chunks when the
allocator's own module (libc) is intact.

Exit status: 0 pass, 1 fail, 77 skip (no gdb/gcore).
"""

import argparse
import os
import random
import re
import shutil
import struct
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hstest  # noqa: E402  (tests/lib/hstest.py)
from hstest import SKIP, Failure, log  # noqa: E402

TIMEOUT = 60
PT_LOAD, PT_NOTE = 1, 4
EM_AARCH64 = 183
TRUNC_RE = re.compile(r"trunc|not in the core|past the end|missing", re.I)


class Run:
    """One heapscope run that kept the contract; .report is the JSON or None."""

    def __init__(self, rc, err, report):
        self.rc, self.err, self.report = rc, err, report

    def diags(self):
        if not self.report:
            return []
        return [d.get("message", "") for d in self.report.get("diagnostics") or []
                if isinstance(d, dict)]

    def totals(self):
        t = (self.report or {}).get("totals") or {}
        return {k: (v.get("count"), v.get("bytes")) for k, v in t.items()
                if isinstance(v, dict)}


def analyze(hs, core, *opts, allow=(0, 2)):
    """Run `heapscope analyze --json - CORE OPTS` and check the contract."""
    r = hstest.run([hs, "analyze", "--json", "-", core] + list(opts), TIMEOUT)
    err = r.err
    if r.rc not in allow:
        raise Failure("exit status %d, expected one of %s" % (r.rc, allow))
    report = None
    if r.rc == 2:
        lines = err.splitlines()
        if len(lines) != 1 or not lines[0].startswith("heapscope: ") or \
                len(lines[0]) < len("heapscope: ") + 10:
            raise Failure("exit 2 without a one-line 'heapscope: ...' error: %r" % err)
    elif r.rc == 0:
        report = hstest.json_of(r)
        for m in Run(0, err, report).diags():
            log("diagnostic: " + m)
    return Run(r.rc, err, report)


def expect_error(run, pattern):
    if run.rc != 2:
        raise Failure("expected exit 2, got %d" % run.rc)
    if not re.search(pattern, run.err, re.I):
        raise Failure("error does not match /%s/: %r" % (pattern, run.err))


def expect_diag(run, pattern):
    if not any(re.search(pattern, m, re.I) for m in run.diags()):
        raise Failure("no diagnostic matches /%s/" % pattern)


# ------------------------------------------------------------------ the core

def take_core(fixture, tmp):
    """(core path, [heap] range, module paths) of a fresh gcore of the fixture."""
    env = dict(os.environ)
    env.pop("MALLOC_PERTURB_", None)  # set by meson test; the fixture's heap must be plain
    proc = hstest.start_fixture([fixture, os.path.join(tmp, "stats")], env)
    try:
        heap, modules = None, []
        with open("/proc/%d/maps" % proc.pid) as f:
            for line in f:
                parts = line.split()
                if line.rstrip().endswith("[heap]"):
                    lo, hi = parts[0].split("-")
                    heap = (int(lo, 16), int(hi, 16))
                elif len(parts) >= 6 and parts[5].startswith("/") and parts[5] not in modules:
                    modules.append(parts[5])
        if not heap:
            raise Failure("the fixture has no [heap] mapping")
        core = hstest.gcore(proc.pid, os.path.join(tmp, "core"))
    finally:
        hstest.stop(proc)
    return core, heap, modules


def phdrs(data):
    e_phoff, = struct.unpack_from("<Q", data, 32)
    e_phentsize, e_phnum = struct.unpack_from("<HH", data, 54)
    out = []
    for i in range(e_phnum):
        p_type, _f, p_offset, p_vaddr, _pa, p_filesz, p_memsz = struct.unpack_from(
            "<IIQQQQQ", data, e_phoff + i * e_phentsize)
        out.append((p_type, p_offset, p_vaddr, p_filesz, p_memsz))
    return out, e_phoff, e_phentsize


def kernel_layout(data, heap):
    """The core rewritten the way the kernel writes one (headers, notes, then
    segments; no section headers), with the [heap] segment last, so that a cut
    in the heap leaves the notes and libc intact. Returns (bytes, offsets of
    the interesting places)."""
    table, e_phoff, e_phentsize = phdrs(data)
    ehdr = bytearray(data[:64])
    struct.pack_into("<Q", ehdr, 40, 0)
    struct.pack_into("<HH", ehdr, 60, 0, 0)
    is_heap = [t == PT_LOAD and fs and va <= heap[0] < va + ms
               for (t, _o, va, fs, ms) in table]
    if is_heap.count(True) != 1:
        raise Failure("expected one PT_LOAD holding [heap], found %d" % is_heap.count(True))
    order = [i for i, p in enumerate(table) if p[0] == PT_NOTE]
    order += sorted((i for i, p in enumerate(table) if p[0] == PT_LOAD and not is_heap[i]),
                    key=lambda i: table[i][2])
    order += [is_heap.index(True)]
    pos = e_phoff + e_phentsize * len(table)
    where = {"phdrs_end": pos}
    new = {}
    for i in order:
        t, _o, _va, fs, _ms = table[i]
        pos = (pos + 7) & ~7 if t == PT_NOTE else (pos + 4095) & ~4095
        new[i] = pos
        pos += fs
    out = bytearray(pos)
    out[:64] = ehdr
    out[64:where["phdrs_end"]] = data[64:where["phdrs_end"]]
    for i, (t, off, _va, fs, _ms) in enumerate(table):
        struct.pack_into("<Q", out, e_phoff + i * e_phentsize + 8, new.get(i, 0))
        if i in new:
            out[new[i]:new[i] + fs] = data[off:off + fs]
    notes = [i for i in order if table[i][0] == PT_NOTE]
    where["notes"] = new[notes[0]]
    where["notes_end"] = new[notes[-1]] + table[notes[-1]][3]
    where["first_load"] = new[order[len(notes)]]
    h = is_heap.index(True)
    where["heap"] = new[h]
    where["heap_end"] = new[h] + table[h][3]
    return bytes(out), where


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


# ------------------------------------------------------------------ groups

def group_garbage(hs, tmp, _fixture):
    rnd = random.Random(7)
    cases = {
        "empty": b"",
        "zeros-1": b"\0",
        "zeros-4k": bytes(4096),
        "zeros-1m": bytes(1 << 20),
        "random-100": bytes(rnd.getrandbits(8) for _ in range(100)),
        "random-64k": rnd.randbytes(65536),
        "random-1m": rnd.randbytes(1 << 20),
        "elf-magic-then-random": b"\x7fELF" + rnd.randbytes(4092),
        "elf64-core-magic-then-random": b"\x7fELF\x02\x01\x01" + bytes(9) +
            struct.pack("<HH", 4, 62) + rnd.randbytes(8172),
    }
    for name, data in cases.items():
        path = write(os.path.join(tmp, name), data)
        run = analyze(hs, path)
        expect_error(run, re.escape(path))
    # Not regular files: opening them must neither block nor read forever.
    fifo = os.path.join(tmp, "fifo.core")
    os.mkfifo(fifo)
    for path in (fifo, "/dev/zero", "/dev/null"):
        expect_error(analyze(hs, path), re.escape(path))
    for name in ("/usr/lib/x86_64-linux-gnu/libc.so.6", "/bin/true", hs):
        if os.path.exists(name):
            expect_error(analyze(hs, name), r"not a core")


def group_truncated(hs, tmp, fixture):
    core, heap, _ = take_core(fixture, tmp)
    with open(core, "rb") as f:
        gdb_layout = f.read()
    full = analyze(hs, core, allow=(0,))
    if not full.totals().get("in_use", (0,))[0]:
        raise Failure("the whole core reports no chunk in use")
    data, where = kernel_layout(gdb_layout, heap)
    whole = analyze(hs, write(os.path.join(tmp, "relaid.core"), data), allow=(0,))
    if whole.totals() != full.totals():
        raise Failure("rewriting the core's layout changed its totals: %s vs %s"
                      % (whole.totals(), full.totals()))

    # (name, cut offset, what must happen: "error", "report", or "either")
    cuts = [
        ("in-elf-header", 40, "error"),
        ("in-program-headers", where["phdrs_end"] - 20, "error"),
        ("at-notes", where["notes"], "error"),
        ("in-first-note-header", where["notes"] + 6, "error"),
        ("mid-notes", (where["notes"] + where["notes_end"]) // 2, "error"),
        ("last-byte-of-notes", where["notes_end"] - 1, "error"),
        ("at-first-segment", where["first_load"], "either"),
        ("mid-segments", (where["first_load"] + where["heap"]) // 2, "either"),
        ("at-heap", where["heap"], "either"),
        ("heap-plus-one", where["heap"] + 1, "either"),
        ("mid-heap", (where["heap"] + where["heap_end"]) // 2, "report"),
        ("heap-last-byte", where["heap_end"] - 1, "report"),
    ]
    # One file cut shorter and shorter: writing a copy per cut of a core of
    # hundreds of MiB would cost more than the analyses.
    path = os.path.join(tmp, "relaid.core")
    for name, cut, want in sorted(cuts, key=lambda c: -c[1]):
        log("-- cut %s at %d of %d" % (name, cut, len(data)))
        os.truncate(path, cut)
        run = analyze(hs, path)
        if want == "error" and run.rc != 2:
            raise Failure("%s: a core cut before its notes end must be refused" % name)
        if want == "report" and run.rc != 0:
            raise Failure("%s: a heap cut short must still give a report" % name)
        if run.rc == 0:
            expect_diag(run, TRUNC_RE.pattern)
            if name == "mid-heap" and not run.totals().get("in_use", (0,))[0]:
                raise Failure("mid-heap: no chunk reported from the intact half")
    # gdb's own layout ends with the section header table, which the reader
    # does not need: without its last byte the analysis is the same one.
    run = analyze(hs, write(os.path.join(tmp, "gdb-last-byte.core"), gdb_layout[:-1]))
    if run.rc == 0 and not any(TRUNC_RE.search(m) for m in run.diags()) and \
            run.totals() != full.totals():
        raise Failure("gdb-last-byte: other totals and no diagnostic saying why")


def patched(data, **fields):
    out = bytearray(data)
    offs = {"ei_class": (4, "<B"), "ei_data": (5, "<B"), "e_type": (16, "<H"),
            "e_machine": (18, "<H")}
    for k, v in fields.items():
        off, fmt = offs[k]
        struct.pack_into(fmt, out, off, v)
    return bytes(out)


def group_foreign(hs, tmp, fixture):
    core, _heap, _ = take_core(fixture, tmp)
    with open(core, "rb") as f:
        data = f.read(64)
    cases = [
        ("aarch64", dict(e_machine=EM_AARCH64), r"unsupported architecture.*aarch64"),
        ("i386", dict(e_machine=3), r"unsupported architecture"),
        ("unknown-machine", dict(e_machine=0xbeef), r"unsupported architecture"),
        ("elfclass32", dict(ei_class=1), r"unsupported|not"),
        ("big-endian", dict(ei_data=2), r"unsupported|byte order"),
        ("et-exec", dict(e_type=2), r"not a core"),
        ("et-dyn", dict(e_type=3), r"not a core"),
    ]
    # Only the ELF header changes: patch it in place, case after case.
    for name, fields, pattern in cases:
        with open(core, "r+b") as f:
            f.write(patched(data[:64], **fields))
        log("-- %s" % name)
        expect_error(analyze(hs, core), pattern)


def group_modules(hs, tmp, fixture):
    core, _heap, modules = take_core(fixture, tmp)
    base = analyze(hs, core, allow=(0,))
    report_mods = [m.get("path") for m in base.report.get("modules") or []]
    exe = (base.report.get("core") or {}).get("executable") or fixture
    libc = next((m for m in report_mods if m and re.search(r"/libc\.so", m)), None)
    if not libc:
        raise Failure("no libc among the modules: %s" % report_mods)
    log("executable %s, libc %s" % (exe, libc))

    def same_totals(run, why):
        if run.totals() != base.totals():
            raise Failure("%s: totals changed: %s vs %s" % (why, run.totals(), base.totals()))

    # The executable is missing: its symbols go, glibc's heap does not.
    run = analyze(hs, core, "--exe", "/nonexistent/fixture", allow=(0,))
    expect_diag(run, r"/nonexistent/fixture")
    same_totals(run, "--exe /nonexistent")

    # A different binary as the executable: build-id mismatch.
    run = analyze(hs, core, "--exe", hs, allow=(0,))
    expect_diag(run, r"build-id")
    same_totals(run, "--exe another binary")

    # The executable is a FIFO: opening it must not block.
    fifo = os.path.join(tmp, "fifo")
    os.mkfifo(fifo)
    run = analyze(hs, core, "--exe", fifo, allow=(0,))
    expect_diag(run, re.escape(fifo))
    same_totals(run, "--exe FIFO")

    # A sysroot with nothing in it: libc cannot be read either.
    empty = os.path.join(tmp, "empty-sysroot")
    os.mkdir(empty)
    run = analyze(hs, core, "--sysroot", empty)
    if run.rc == 0:
        expect_diag(run, re.escape(empty))

    def sysroot(name, replace):
        """A sysroot with every module linked in, except `replace`d ones."""
        root = os.path.join(tmp, name)
        for m in set(modules + report_mods):
            if not m or not m.startswith("/"):
                continue
            dst = root + m
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            if m in replace:
                replace[m](dst)
            elif os.path.exists(m):
                os.symlink(m, dst)
        return root

    # Everything but the executable: the heap is whole, the exe is reported missing.
    root = sysroot("no-exe", {exe: lambda dst: None})
    run = analyze(hs, core, "--sysroot", root, allow=(0,))
    expect_diag(run, re.escape(os.path.basename(exe)))
    same_totals(run, "sysroot without the executable")

    # libc replaced: by another library (build-id mismatch), a FIFO, a
    # character device, a directory. The walker may give up on libc (exit 2)
    # or fall back, but must say why and must not block or crash.
    other = "/usr/lib/x86_64-linux-gnu/libm.so.6"
    for name, make in [
        ("libc-is-libm", lambda dst: os.symlink(other, dst)),
        ("libc-is-fifo", lambda dst: os.mkfifo(dst)),
        ("libc-is-dev-zero", lambda dst: os.symlink("/dev/zero", dst)),
        ("libc-is-dir", lambda dst: os.mkdir(dst)),
        ("libc-is-empty", lambda dst: open(dst, "wb").close()),
    ]:
        root = sysroot(name, {libc: make})
        run = analyze(hs, core, "--sysroot", root, "--no-debuginfo")
        if run.rc == 0:
            expect_diag(run, r"libc")
            if name == "libc-is-libm":
                expect_diag(run, r"build-id")


GROUPS = {"garbage": group_garbage, "truncated": group_truncated,
          "foreign": group_foreign, "modules": group_modules}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heapscope", required=True)
    ap.add_argument("--group", required=True, choices=sorted(GROUPS))
    ap.add_argument("--fixture", help="a glibc fixture program (needed but for 'garbage')")
    args = ap.parse_args()
    hs = os.path.abspath(args.heapscope)
    if args.group != "garbage":
        if not args.fixture:
            ap.error("--group %s needs --fixture" % args.group)
        if not shutil.which("gcore"):
            log("SKIP: gcore (gdb) is not installed")
            return SKIP
    tmp = tempfile.mkdtemp(prefix="heapscope-broken-")
    try:
        GROUPS[args.group](hs, tmp, args.fixture)
    except Failure as e:
        log("FAIL: %s: %s" % (args.group, e))
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log("PASS: %s" % args.group)
    return 0


if __name__ == "__main__":
    sys.exit(main())
