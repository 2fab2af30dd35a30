"""benchlib.py: what bench/scale and bench/aliased_core share: the build, run-shaped cores, reading
a core's ELF, the anonymous-memory sampler and the exactness check.

Standard library only. Fixture processes and the exactness check come from the test suite's own
helpers (tests/lib/hstest.py, tests/golden/run_fixture.py), so a bench judges a report exactly as
the golden tests do.
"""

import json
import mmap
import os
import tempfile
import signal
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "tests", "golden"))
import hstest  # noqa: E402  (tests/lib/hstest.py)
import run_fixture  # noqa: E402  (tests/golden/run_fixture.py)

MiB = 1 << 20
GiB = 1 << 30
FILLS = ("glibc", "jemalloc", "tcmalloc")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# Progress goes to stderr: stdout is for the figures.
hstest.log = log


class BenchError(Exception):
    """The bench cannot go on; the message says why."""


def default_out():
    """Where cores go: $OUT, else bench/out in the repository (git-ignored)."""
    return os.environ.get("OUT") or os.path.join(HERE, "out")


# ------------------------------------------------------------------ build

def build_dir():
    return os.environ.get("HEAPSCOPE_BUILD") or os.path.join(TOP, "build")


def build(fills=FILLS):
    """Build heapscope and the fill programs that this machine can link; returns
    {"heapscope": path, "glibc": fill path or None, ...}."""
    b = build_dir()
    if not os.path.isfile(os.path.join(b, "build.ninja")):
        subprocess.run(["meson", "setup", b, TOP], check=True, stdout=subprocess.DEVNULL)
    targets = ["heapscope"] + ["bench_%s_fill" % f for f in fills]
    # meson.build skips the jemalloc and tcmalloc fills when their library is
    # missing: build what exists, then say which are there.
    r = subprocess.run(["meson", "compile", "-C", b] + targets, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    if r.returncode != 0:
        subprocess.run(["meson", "compile", "-C", b, "heapscope", "bench_glibc_fill"],
                       check=True, stdout=subprocess.DEVNULL)
    paths = {"heapscope": os.path.join(b, "heapscope")}
    for f in fills:
        p = os.path.join(b, "bench", "bench_%s_fill" % f)
        paths[f] = p if os.access(p, os.X_OK) else None
    return paths


def allow_ptrace():
    """gcore (gdb) attaches to a fill program it did not start."""
    p = "/proc/sys/kernel/yama/ptrace_scope"
    try:
        if open(p).read().strip() != "0":
            with open(p, "w") as f:
                f.write("0")
    except OSError:
        pass


# ------------------------------------------------------------------ run cores

def run_core_path(out, alloc, n, size):
    return os.path.join(out, "%s-run-%dx%d.core" % (alloc, n, size))


def fill_env():
    """The fill runs on the allocator's defaults, like a golden fixture."""
    env = dict(os.environ)
    for k in ("LD_PRELOAD", "MALLOC_PERTURB_", "MALLOC_CHECK_", "MALLOC_ARENA_MAX",
              "MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES", "MALLOC_CONF"):
        env.pop(k, None)
    return env


def run_core(fill, out, alloc, n, size):
    """The core of `bench_<alloc>_fill STATS N SIZE` (N objects of SIZE bytes in one run), with
    its statistics at CORE.stats; taken once and reused while both files exist."""
    core = run_core_path(out, alloc, n, size)
    stats = core + ".stats"
    if os.path.isfile(core) and os.path.isfile(stats):
        log("reusing %s" % core)
        return core
    if not fill:
        raise BenchError("bench_%s_fill was not built (is the allocator's library installed? "
                         "scripts/install-deps)" % alloc)
    os.makedirs(out, exist_ok=True)
    tmp = core + ".tmp"
    proc = None
    try:
        # A run of 10^8 objects takes a few seconds to fill and a minute to dump.
        proc = hstest.spawn([fill, tmp + ".stats", str(n), str(size)], fill_env())
        hstest.wait_for(proc, timeout=120 + n // 1000000)
        taken = hstest.gcore(proc.pid, tmp, timeout=300 + n // 100000)
        hstest.stop(proc)
        os.rename(tmp + ".stats", stats)
        os.rename(taken, core)
    except hstest.Failure as e:
        raise BenchError("making %s: %s" % (core, e))
    finally:
        hstest.stop(proc)
        for leftover in (tmp + ".stats", "%s.%d" % (tmp, proc.pid) if proc else None):
            if leftover and os.path.exists(leftover):
                os.unlink(leftover)
    return core


# ------------------------------------------------------------------ ELF cores

PT_LOAD, PT_NOTE = 1, 4
PN_XNUM = 0xFFFF
NT_FILE, NT_AUXV = 0x46494C45, 6
EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
PHDR = struct.Struct("<IIQQQQQQ")
SHDR = struct.Struct("<IIQQQQIIQQ")


class Segment:
    __slots__ = ("type", "flags", "offset", "vaddr", "filesz", "memsz", "align")

    def __init__(self, type_, flags, offset, vaddr, filesz, memsz, align):
        self.type, self.flags, self.offset = type_, flags, offset
        self.vaddr, self.filesz, self.memsz, self.align = vaddr, filesz, memsz, align

    @property
    def end(self):
        return self.vaddr + self.memsz

    def pack(self):
        return PHDR.pack(self.type, self.flags, self.offset, self.vaddr, 0, self.filesz,
                         self.memsz, self.align)


class Core:
    """An x86_64 ELF core, mmapped read-only: its segments, NT_FILE mappings and auxv."""

    def __init__(self, path):
        self.path = path
        self.file = open(path, "rb")
        self.map = mmap.mmap(self.file.fileno(), 0, prot=mmap.PROT_READ)
        self.size = len(self.map)
        if self.size < EHDR.size or self.map[:4] != b"\x7fELF" or self.map[4] != 2:
            raise BenchError("%s: not a 64-bit ELF file" % path)
        self.ehdr = list(EHDR.unpack_from(self.map, 0))
        e_type, e_machine, phoff, shoff = self.ehdr[1], self.ehdr[2], self.ehdr[5], self.ehdr[6]
        if e_type != 4 or e_machine != 62:
            raise BenchError("%s: not an x86_64 core" % path)
        phnum = self.ehdr[10]
        if phnum == PN_XNUM:
            phnum = SHDR.unpack_from(self.map, shoff)[7]
        self.segments = []
        for i in range(phnum):
            t = PHDR.unpack_from(self.map, phoff + i * PHDR.size)
            self.segments.append(Segment(t[0], t[1], t[2], t[3], t[5], t[6], t[7]))
        self.loads = sorted((s for s in self.segments if s.type == PT_LOAD),
                            key=lambda s: s.vaddr)
        self.files = []   # (start, end, file offset in pages, path)
        self.auxv = {}
        for s in self.segments:
            if s.type == PT_NOTE:
                self._notes(s.offset, s.filesz)

    def close(self):
        self.map.close()
        self.file.close()

    def _notes(self, off, size):
        end = off + size
        while off + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", self.map, off)
            desc = off + 12 + ((namesz + 3) & ~3)
            if ntype == NT_FILE:
                self._nt_file(desc, descsz)
            elif ntype == NT_AUXV:
                for i in range(0, descsz - 15, 16):
                    k, v = struct.unpack_from("<QQ", self.map, desc + i)
                    self.auxv.setdefault(k, v)
            off = desc + ((descsz + 3) & ~3)

    def _nt_file(self, desc, size):
        count, page = struct.unpack_from("<QQ", self.map, desc)
        names = self.map[desc + 16 + 24 * count: desc + size].split(b"\0")
        for i in range(count):
            start, end, pgoff = struct.unpack_from("<QQQ", self.map, desc + 16 + 24 * i)
            self.files.append((start, end, pgoff, names[i].decode(errors="replace")))

    def segment_at(self, addr):
        for s in self.loads:
            if s.vaddr <= addr < s.vaddr + s.filesz:
                return s
        return None

    def offset_of(self, addr, n=8):
        s = self.segment_at(addr)
        if not s or addr + n > s.vaddr + s.filesz:
            raise BenchError("%s: 0x%x is not in the core" % (self.path, addr))
        return s.offset + (addr - s.vaddr)

    def u64(self, addr):
        return struct.unpack_from("<Q", self.map, self.offset_of(addr))[0]

    def executable(self):
        """The main program's path: the NT_FILE mapping holding AT_PHDR."""
        phdr = self.auxv.get(3)
        for start, end, _, path in self.files:
            if phdr is not None and start <= phdr < end:
                return path
        return None

    def mappings_of(self, predicate):
        return [(s, e, p) for s, e, _, p in self.files if predicate(os.path.basename(p))]


def write_phdrs(path, ehdr, segments):
    """Give the core at PATH a new program header table (appended to the file) holding SEGMENTS,
    and drop its section headers, which described the old table's segments. Past 65534 headers
    the count goes to section header 0 (PN_XNUM), the only section header then."""
    with open(path, "r+b") as f:
        f.seek(0, os.SEEK_END)
        pos = (f.tell() + 7) & ~7
        f.write(b"\0" * (pos - f.tell()))
        f.write(b"".join(s.pack() for s in segments))
        e = list(ehdr)
        e[5], e[10] = pos, len(segments)   # e_phoff, e_phnum
        e[6], e[12], e[13] = 0, 0, 0       # e_shoff, e_shnum, e_shstrndx
        if len(segments) >= PN_XNUM:
            e[6] = f.tell()
            e[10], e[12] = PN_XNUM, 1
            f.write(SHDR.pack(0, 0, 0, 0, 0, 0, 0, len(segments), 0, 0))
        f.seek(0)
        f.write(EHDR.pack(*e))


# ------------------------------------------------------------------ measuring

def loadavg():
    """The 1-minute load average, as uptime prints it."""
    try:
        return float(open("/proc/loadavg").read().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")


def drop_caches():
    """Empty the page cache (echo 3 > /proc/sys/vm/drop_caches); False when not allowed."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def _anon_kb(fd):
    """RssAnon + VmSwap of /proc/PID/status, in kB; None once the process has no memory."""
    try:
        text = os.pread(fd, 8192, 0).decode(errors="replace")
    except OSError:
        return None
    anon = swap = None
    for line in text.splitlines():
        if line.startswith("RssAnon:"):
            anon = int(line.split()[1])
        elif line.startswith("VmSwap:"):
            swap = int(line.split()[1])
    return None if anon is None else anon + (swap or 0)


class Measured:
    """One measured run: wall and CPU seconds, peak anonymous and peak resident memory (bytes),
    exit status, whether the anonymous cap killed it, and its captured output."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def measure(argv, stdin_bytes=None, stdout_path=None, interval=0.005, cap=None):
    """Run argv and sample its anonymous memory every `interval` s.

    Peak anonymous memory is the largest RssAnon (+ VmSwap) of /proc/PID/status seen: the
    process's own memory, without the pages of the core it mmaps, which are file-backed and count
    in RssFile. (Peak RSS, VmHWM, counts those too: for heapscope it is about the core's size.)
    A sample is a pread of the status file, ~20 us, so a 5 ms interval costs the run ~0.4% of a
    core; memory that lives shorter than the interval can be missed. The wall time is taken when
    wait4 returns, in a thread of its own, not at the next sample. Above `cap` bytes the
    process is killed (the machine is shared)."""
    out = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL
    err = tempfile.TemporaryFile()
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin_bytes is not None
                            else subprocess.DEVNULL, stdout=out, stderr=err)
    if stdin_bytes is not None:
        proc.stdin.write(stdin_bytes)
        proc.stdin.close()
    done = threading.Event()
    res = {}

    def reap():
        _, status, ru = os.wait4(proc.pid, 0)
        res.update(t1=time.monotonic(), status=status, ru=ru)
        done.set()

    waiter = threading.Thread(target=reap, daemon=True)
    waiter.start()
    fd = os.open("/proc/%d/status" % proc.pid, os.O_RDONLY)
    peak, killed = 0, False
    try:
        while not done.is_set():
            kb = _anon_kb(fd)
            if kb is not None:
                peak = max(peak, kb)
                if cap and kb * 1024 > cap and not killed:
                    os.kill(proc.pid, signal.SIGKILL)
                    killed = True
            done.wait(interval)
    finally:
        os.close(fd)
        waiter.join()
        if out is not subprocess.DEVNULL:
            out.close()
    proc.returncode = os.waitstatus_to_exitcode(res["status"])
    ru = res["ru"]
    err.seek(0)
    stderr = err.read().decode(errors="replace")
    err.close()
    return Measured(wall=res["t1"] - t0, user=ru.ru_utime, sys=ru.ru_stime,
                    peak_anon=peak * 1024, peak_rss=ru.ru_maxrss * 1024, rc=proc.returncode,
                    killed=killed, stderr=stderr)


def time_cat(path):
    """Seconds `cat PATH > /dev/null` takes."""
    t0 = time.monotonic()
    subprocess.run(["cat", path], stdout=subprocess.DEVNULL, check=True)
    return time.monotonic() - t0


# ------------------------------------------------------------------ exactness

def check_report(expect_path, report):
    """Judge REPORT against EXPECT_PATH (the golden fixtures' stats format: a fill program's
    recorded statistics, or aliased_core's .expected) as the golden tests do. Returns the list
    of failures (empty: exact) and the check's log lines."""
    import contextlib
    import io
    exp = run_fixture.parse_stats(expect_path)
    checker = run_fixture.Checker()
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        checker.stats(exp, report)
        checker.sizes(exp, report)
        checker.totals(report)
        checker.types(exp, report)
        checker.fields(exp, report)
        checker.diagnostics(report)
    return checker.failures, text.getvalue()


def report_chunks(report):
    t = report.get("totals", {})
    return sum(t.get(k, {}).get("count", 0) for k in ("in_use", "free", "cached"))


def heap_bytes(report):
    """The address space of the allocator's heap: the bytes of every chunk (in use, free, cached;
    glibc mmapped chunks count their mapping) plus the allocator's regions outside chunks
    (glibc heap headers, jemalloc retained extents, tcmalloc returned spans)."""
    mem = report.get("memory", {})
    # The memory table gives each byte of the address space one owner, so its allocator rows
    # add up to the heap exactly. The walkers' declared ranges (allocator_regions) may overlap:
    # "heap" ranges hold the chunks, and a tcmalloc "metadata" range spans the heap's whole
    # mapping; summing them doubled the heap of a jemalloc or tcmalloc core.
    rows = ("in_use", "free", "cached", "allocator_metadata", "allocator_reserved")
    table = [r for r in mem.get("regions", []) if r.get("kind") in rows]
    if table:
        return sum(r.get("virtual", 0) for r in table)
    outside = ("reserved", "retained", "unmapped")
    return mem.get("allocator_chunks", 0) + sum(r.get("bytes", 0)
                                                for r in mem.get("allocator_regions", [])
                                                if r.get("kind") in outside)


def load_json(path):
    with open(path) as f:
        return json.load(f)

