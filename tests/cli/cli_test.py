#!/usr/bin/env python3
"""cli_test.py: one heapscope command-line case per run: exit codes, one-line errors, bad cores.

    cli_test.py --heapscope PATH --case NAME [--fixture PATH]

Exit codes under test (heapscope --help): 0 report produced, 2 core unusable
or no allocator found, 64 usage error. An error is one line on stderr naming
the file. Whatever the input, heapscope must not crash (signal, status >= 128,
sanitizer report) or hang.

Exit status: 0 pass, 1 fail, 77 skip (a case that needs gcore without gdb).
"""

import argparse
import json
import os
import re
import shutil
import struct
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hstest  # noqa: E402  (tests/lib/hstest.py)
from hstest import SKIP, Failure, log  # noqa: E402

TIMEOUT = 60


class Skip(Exception):
    pass


def run(hs, args, timeout=TIMEOUT):
    return hstest.run([hs] + args, timeout)


def expect_rc(r, want):
    if r.rc != want:
        raise Failure("exit status %d, expected %d" % (r.rc, want))


def expect_one_line_error(r, path):
    """The error contract: exactly one line on stderr, naming the file."""
    lines = r.err.splitlines()
    if len(lines) != 1:
        raise Failure("expected a one-line error on stderr, got %d lines" % len(lines))
    if not lines[0].startswith("heapscope: "):
        raise Failure("error does not start with 'heapscope: ': %r" % lines[0])
    if path not in lines[0]:
        raise Failure("error does not name the file %s: %r" % (path, lines[0]))
    if len(lines[0].rstrip()) <= len("heapscope: ") + len(path) + 2:
        raise Failure("error names the file but gives no reason: %r" % lines[0])


def expect_exit_codes_documented(text):
    for code in ("0", "2", "64"):
        if not re.search(r"(?<![\w.-])%s(?![\w.-])" % code, text):
            raise Failure("help does not mention exit code %s" % code)
    if not re.search(r"exit", text, re.I):
        raise Failure("help does not mention the exit status")


# ------------------------------------------------------------------ cores

def heap_range(pid):
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            if line.rstrip().endswith("[heap]"):
                lo, hi = line.split()[0].split("-")
                return int(lo, 16), int(hi, 16)
    return None


def gcore(fixture, tmp):
    """A core of the fixture, and the address range of its [heap] (or None)."""
    env = dict(os.environ)
    env.pop("MALLOC_PERTURB_", None)  # set by meson test
    proc = hstest.start_fixture([fixture, os.path.join(tmp, "stats")], env)
    try:
        heap = heap_range(proc.pid)
        core = hstest.gcore(proc.pid, os.path.join(tmp, "core"))
    finally:
        hstest.stop(proc)
    return core, heap


def phdrs(path):
    """(p_type, p_offset, p_vaddr, p_filesz) of each program header of an ELF64 LE file."""
    with open(path, "rb") as f:
        eh = f.read(64)
        if eh[:4] != b"\x7fELF" or eh[4] != 2 or eh[5] != 1:
            raise Failure("%s: not an ELF64 little-endian file" % path)
        e_phoff, = struct.unpack_from("<Q", eh, 32)
        e_phentsize, e_phnum = struct.unpack_from("<HH", eh, 54)
        f.seek(e_phoff)
        table = f.read(e_phentsize * e_phnum)
    out = []
    for i in range(e_phnum):
        p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz = struct.unpack_from(
            "<IIQQQQ", table, i * e_phentsize)
        out.append((p_type, p_offset, p_vaddr, p_filesz))
    return out, e_phoff + e_phentsize * e_phnum


PT_LOAD, PT_NOTE = 1, 4


def relayout_heap_last(core, heap):
    """Rewrite a gcore core so that a cut in its heap leaves everything else.

    gdb writes the notes (and section headers) after the segments, so any cut
    in a segment also loses the notes, and the core is rejected before the
    heap is ever read. This rewrites it in the kernel's layout (headers,
    notes, then the segments; no section headers) with the [heap] segment
    last: a cut in the heap then leaves a core whose threads, modules and
    libc data are all there and whose heap stops halfway.
    """
    table, phdr_end = phdrs(core)
    with open(core, "rb") as f:
        data = f.read()
    ehdr = bytearray(data[:64])
    e_phoff, = struct.unpack_from("<Q", ehdr, 32)
    e_phentsize, e_phnum = struct.unpack_from("<HH", ehdr, 54)
    struct.pack_into("<Q", ehdr, 40, 0)        # e_shoff
    struct.pack_into("<HH", ehdr, 60, 0, 0)    # e_shnum, e_shstrndx

    def is_heap(t, va, size):
        return t == PT_LOAD and size and va <= heap[0] < va + size

    order = [i for i, (t, _o, _v, _s) in enumerate(table) if t == PT_NOTE]
    loads = sorted((i for i, (t, _o, va, size) in enumerate(table)
                    if t == PT_LOAD and not is_heap(t, va, size)), key=lambda i: table[i][2])
    heaps = [i for i, (t, _o, va, size) in enumerate(table) if is_heap(t, va, size)]
    if len(heaps) != 1:
        raise Failure("expected one PT_LOAD holding [heap], found %d" % len(heaps))
    order += loads + heaps

    pos = phdr_end
    new_offset = {}
    for i in order:
        t, off, _va, size = table[i]
        pos = (pos + 7) & ~7 if t == PT_NOTE else (pos + 4095) & ~4095
        new_offset[i] = pos
        pos += size
    out = bytearray(pos)
    out[:64] = ehdr
    out[64:phdr_end] = data[64:phdr_end]
    for i, (t, off, _va, size) in enumerate(table):
        o = new_offset.get(i, 0)
        struct.pack_into("<Q", out, e_phoff + i * e_phentsize + 8, o)
        if i in new_offset:
            out[o:o + size] = data[off:off + size]
    with open(core, "wb") as f:
        f.write(out)
    return new_offset[heaps[0]] + table[heaps[0]][3] // 2


def cut_point(core, heap, where):
    table, phdr_end = phdrs(core)
    if where == "phdrs":
        return phdr_end - 20  # in the middle of the last program header
    if where == "notes":
        for t, off, _va, size in table:
            if t == PT_NOTE and size:
                return off + size // 2
        raise Failure("the core has no PT_NOTE")
    if where == "heap":
        if heap is None:
            raise Failure("the fixture has no [heap] mapping")
        return relayout_heap_last(core, heap)
    raise ValueError(where)


def truncated(hs, fixture, where):
    if not shutil.which("gcore"):
        log("SKIP: gcore (gdb) is not installed")
        return SKIP
    tmp = tempfile.mkdtemp(prefix="heapscope-cli-")
    try:
        core, heap = gcore(fixture, tmp)
        cut = cut_point(core, heap, where)
        size = os.path.getsize(core)
        log("core %s: %d bytes, cut to %d (%s)" % (core, size, cut, where))
        if not 0 < cut < size:
            raise Failure("cut point %d is not inside the core" % cut)
        with open(core, "r+b") as f:
            f.truncate(cut)
        # Text summary: either outcome, but no crash or hang, and a one-line error.
        r = run(hs, ["analyze", core], timeout=120)
        if r.rc == 2:
            expect_one_line_error(r, core)
        elif r.rc != 0:
            raise Failure("exit status %d, expected 2 (unusable) or 0 (with a diagnostic)"
                          % r.rc)
        # JSON: if a report is produced, it must say the core is truncated.
        r = run(hs, ["analyze", "--json", "-", core], timeout=120)
        if r.rc == 2:
            expect_one_line_error(r, core)
        elif r.rc == 0:
            try:
                report = json.loads(r.out)
            except ValueError as e:
                raise Failure("--json - output is not JSON: %s" % e)
            diags = report.get("diagnostics") or []
            msgs = [d.get("message", "") for d in diags if isinstance(d, dict)]
            for m in msgs:
                log("diagnostic: " + m)
            if not any(re.search(r"trunc|end of (the )?file|beyond|past the end|short", m, re.I)
                       for m in msgs):
                raise Failure("report produced from a truncated core without a diagnostic "
                              "saying so")
        else:
            raise Failure("exit status %d, expected 2 or 0" % r.rc)
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------ cases

def case_help(hs, _fx, _tmp):
    r = run(hs, ["--help"])
    expect_rc(r, 0)
    expect_exit_codes_documented(r.out + r.err)


def case_analyze_help(hs, _fx, _tmp):
    r = run(hs, ["analyze", "--help"])
    expect_rc(r, 0)
    expect_exit_codes_documented(r.out + r.err)
    for opt in ("--json", "--top", "--exe", "--sysroot", "--no-debuginfo", "--allocator"):
        if opt not in r.out:
            raise Failure("analyze --help does not document %s" % opt)


def case_version(hs, _fx, _tmp):
    r = run(hs, ["--version"])
    expect_rc(r, 0)
    if not re.search(r"\d+\.\d+", r.out):
        raise Failure("--version prints no version: %r" % r.out)


def case_no_command(hs, _fx, _tmp):
    expect_rc(run(hs, []), 64)


def case_unknown_command(hs, _fx, _tmp):
    expect_rc(run(hs, ["frobnicate"]), 64)


def case_unknown_option(hs, _fx, _tmp):
    expect_rc(run(hs, ["analyze", "--no-such-option", hs]), 64)


def case_missing_core(hs, _fx, _tmp):
    expect_rc(run(hs, ["analyze"]), 64)


def case_two_cores(hs, _fx, _tmp):
    expect_rc(run(hs, ["analyze", hs, hs]), 64)


def case_options_after_core(hs, _fx, tmp):
    # The synopsis is `heapscope analyze CORE [options]`: options after CORE
    # are options, so a missing core is a missing core (2), not a usage error.
    path = os.path.join(tmp, "no-such-core")
    r = run(hs, ["analyze", path, "--json", "-", "--top", "5", "--no-debuginfo"])
    expect_rc(r, 2)
    expect_one_line_error(r, path)


def case_bad_top(hs, _fx, _tmp):
    # A real file as CORE: a usage error must win over reading it.
    expect_rc(run(hs, ["analyze", "--top", "abc", hs]), 64)


def case_negative_top(hs, _fx, _tmp):
    expect_rc(run(hs, ["analyze", "--top", "-5", hs]), 64)


def case_top_without_value(hs, _fx, _tmp):
    expect_rc(run(hs, ["analyze", hs, "--top"]), 64)


def case_bad_allocator(hs, _fx, _tmp):
    expect_rc(run(hs, ["analyze", "--allocator", "hoard", hs]), 64)


def case_missing_file(hs, _fx, tmp):
    path = os.path.join(tmp, "no-such-core")
    r = run(hs, ["analyze", path])
    expect_rc(r, 2)
    expect_one_line_error(r, path)


def case_empty_file(hs, _fx, tmp):
    path = os.path.join(tmp, "empty.core")
    open(path, "wb").close()
    r = run(hs, ["analyze", path])
    expect_rc(r, 2)
    expect_one_line_error(r, path)


def case_not_elf(hs, _fx, tmp):
    path = os.path.join(tmp, "notes.txt")
    with open(path, "w") as f:
        f.write("this is a text file, not a core dump\n" * 100)
    r = run(hs, ["analyze", path])
    expect_rc(r, 2)
    expect_one_line_error(r, path)


def case_directory(hs, _fx, tmp):
    r = run(hs, ["analyze", tmp])
    expect_rc(r, 2)
    expect_one_line_error(r, tmp)


def case_not_core(hs, _fx, _tmp):
    # An ELF executable, not an ET_CORE: heapscope itself.
    r = run(hs, ["analyze", hs])
    expect_rc(r, 2)
    expect_one_line_error(r, hs)


def case_elf_header_only(hs, _fx, tmp):
    # The first 64 bytes of a real ELF file: a header whose tables are missing.
    path = os.path.join(tmp, "header-only.core")
    with open(hs, "rb") as src, open(path, "wb") as dst:
        dst.write(src.read(64))
    r = run(hs, ["analyze", path])
    expect_rc(r, 2)
    expect_one_line_error(r, path)


def case_json_file(hs, fixture, tmp):
    # --json FILE writes the report there; the text summary still goes to stdout.
    if not fixture:
        raise Failure("--case json_file needs --fixture")
    if not shutil.which("gcore"):
        raise Skip()
    core, _heap = gcore(fixture, tmp)
    out = os.path.join(tmp, "report.json")
    r = run(hs, ["analyze", "--json", out, core])
    expect_rc(r, 0)
    try:
        with open(out) as f:
            report = json.load(f)
    except (OSError, ValueError) as e:
        raise Failure("--json %s: no JSON report there: %s" % (out, e))
    if report.get("schema") != "heapscope-report/1":
        raise Failure("--json file has schema %r" % report.get("schema"))
    if not r.out.strip() or r.out.lstrip().startswith("{"):
        raise Failure("stdout should carry the text summary when --json names a file")
    # The text shows the memory table the JSON holds, row by row, and its verdict.
    mem = report.get("memory", {})
    lines = r.out.splitlines()
    for row in mem.get("regions", []):
        label = ("  %s (%s)" % (row["kind"], row["name"])) if "name" in row else row["kind"]
        if (row["virtual"] or "name" not in row) and not any(
                l.startswith(label + " ") for l in lines):
            raise Failure("the text summary has no memory row %r" % label)
    if not mem.get("verdict") or "verdict     " + mem["verdict"] not in lines:
        raise Failure("the text summary does not state the memory verdict %r"
                      % mem.get("verdict"))
    leftovers = [n for n in os.listdir(tmp) if n.startswith("report.json") and n != "report.json"]
    if leftovers:
        raise Failure("temporary files left beside the report: %s" % leftovers)


def case_json_symlink(hs, fixture, tmp):
    # --json through a symlink (or to a device such as /dev/null) writes
    # through it: the atomic rename is only for regular files, so the link
    # (or the device node) itself must survive.
    if not fixture:
        raise Failure("--case json_symlink needs --fixture")
    if not shutil.which("gcore"):
        raise Skip()
    core, _heap = gcore(fixture, tmp)
    target = os.path.join(tmp, "target.json")
    link = os.path.join(tmp, "link.json")
    open(target, "w").close()
    os.symlink(target, link)
    r = run(hs, ["analyze", "--json", link, core])
    expect_rc(r, 0)
    if not os.path.islink(link):
        raise Failure("--json replaced the symlink %s with a file" % link)
    with open(target) as f:
        if json.load(f).get("schema") != "heapscope-report/1":
            raise Failure("the report did not go through the symlink")


CASES = {name[len("case_"):]: fn for name, fn in globals().items()
         if name.startswith("case_")}
TRUNCATED = {"truncated_phdrs": "phdrs", "truncated_notes": "notes",
             "truncated_heap": "heap"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heapscope", required=True)
    ap.add_argument("--case", required=True, choices=sorted(list(CASES) + list(TRUNCATED)))
    ap.add_argument("--fixture", help="fixture program for the truncated-core cases")
    args = ap.parse_args()
    hs = os.path.abspath(args.heapscope)
    try:
        if args.case in TRUNCATED:
            if not args.fixture:
                ap.error("--case %s needs --fixture" % args.case)
            rc = truncated(hs, args.fixture, TRUNCATED[args.case])
        else:
            tmp = tempfile.mkdtemp(prefix="heapscope-cli-")
            try:
                CASES[args.case](hs, args.fixture, tmp)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            rc = 0
    except Failure as e:
        log("FAIL: %s: %s" % (args.case, e))
        return 1
    except Skip:
        log("SKIP: gcore (gdb) is not installed")
        return SKIP
    if rc == 0:
        log("PASS: %s" % args.case)
    return rc


if __name__ == "__main__":
    sys.exit(main())
