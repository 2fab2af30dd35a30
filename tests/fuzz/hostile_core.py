#!/usr/bin/env python3
"""hostile_core.py: big hostile cores built from real ones, for bench/hostile.

  hostile_core.py random CORE OUT --size N
      CORE's ELF header and notes, then one PT_LOAD per original segment
      (same addresses) and one extra PT_LOAD, all filled with random bytes,
      N bytes in all. Nothing in it is what the notes say: the modules'
      headers, libc's data and the heap are noise.

  hostile_core.py glibc-chunks CORE OUT --size N --main-arena A
      A real glibc core whose [heap] (the PT_LOAD holding main_arena.top)
      grows to N bytes of valid 32-byte in-use chunks, with main_arena.top
      and system_mem patched to match: the densest heap a core of that size
      can describe (one chunk record per 32 bytes).

  hostile_core.py glibc-garbage CORE OUT --size N --main-arena A
      The same, but the grown heap is random bytes: every chunk size is
      garbage and the walker must resynchronise (bounded) or give up.

  hostile_core.py jemalloc-slabs CORE OUT --size N --emap E
      A real jemalloc 5.3 core (48-bit rtree) with new rtree leaves whose every
      element points at its own edata_t: an active slab of one page, size
      class 8 bytes, all 512 regions allocated. 136 bytes of core per 512
      regions: the cheapest way to make a walker emit records.

  hostile_core.py many-modules CORE OUT --count N --path P
      CORE with an NT_FILE that lists N modules of file P (distinct
      addresses, file offset 0): the module loader's bounds.

  hostile_core.py glibc-tcache-threads CORE OUT --threads N
      A real glibc core whose main thread is repeated N times (same fs_base,
      so the same tcache) and whose tcache's first bin holds a chain of
      65535 valid entries: one walk's records, times N.

  hostile_core.py glibc-shared-fastbins CORE OUT --arenas N --entries M --main-arena A
      N arenas on main_arena's ring, whose fastbin 0 all point at one chain
      of M valid chunks: list walks times the arenas that share them.

Sizes take K/M/G suffixes (powers of 1024).
"""
import argparse
import os
import struct
import sys

PAGE = 4096
PT_LOAD, PT_NOTE = 1, 4
RNG_BLOCK = 1 << 20


def size_arg(s):
    mult = {'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30}
    if s[-1:].upper() in mult:
        return int(float(s[:-1]) * mult[s[-1].upper()])
    return int(s, 0)


def parse_core(path):
    data = open(path, 'rb').read()
    (e_phoff,) = struct.unpack_from('<Q', data, 0x20)
    e_phentsize, e_phnum = struct.unpack_from('<HH', data, 0x36)
    ph = [list(struct.unpack_from('<IIQQQQQQ', data, e_phoff + i * e_phentsize))
          for i in range(e_phnum)]
    return data, ph


class Writer:
    """A core written the kernel's way: header, program headers, notes, then
    segments, each segment's bytes produced by a callback in pieces."""

    def __init__(self, data, phdrs):
        self.ehdr = bytearray(data[:64])
        self.notes = [data[p[2]:p[2] + p[5]] for p in phdrs if p[0] == PT_NOTE]
        self.loads = []  # [flags, vaddr, size, producer(f, size)]

    def add(self, flags, vaddr, size, producer):
        self.loads.append((flags, vaddr, size, producer))

    def write(self, out):
        self.loads.sort(key=lambda l: l[1])
        phnum = len(self.notes) + len(self.loads)
        off = 64 + 56 * phnum
        table = []
        for n in self.notes:
            table.append(struct.pack('<IIQQQQQQ', PT_NOTE, 4, off, 0, 0, len(n), 0, 1))
            off += len(n)
        off = (off + PAGE - 1) & ~(PAGE - 1)
        starts = []
        for flags, vaddr, size, _ in self.loads:
            table.append(struct.pack('<IIQQQQQQ', PT_LOAD, flags, off, vaddr, 0, size, size,
                                     PAGE))
            starts.append(off)
            off += (size + PAGE - 1) & ~(PAGE - 1)
        struct.pack_into('<Q', self.ehdr, 0x20, 64)
        struct.pack_into('<Q', self.ehdr, 0x28, 0)
        struct.pack_into('<HHHHHH', self.ehdr, 0x34, 64, 56, phnum, 0, 0, 0)
        with open(out, 'wb') as f:
            f.write(self.ehdr + b''.join(table) + b''.join(self.notes))
            for (flags, vaddr, size, producer), start in zip(self.loads, starts):
                f.seek(start)
                producer(f, size)
            f.truncate(off)
        return off


def copy_from(data, off):
    return lambda f, size: f.write(data[off:off + size])


def random_fill(f, size):
    while size > 0:
        n = min(size, RNG_BLOCK)
        f.write(os.urandom(n))
        size -= n


def find_load(phdrs, addr):
    for p in phdrs:
        if p[0] == PT_LOAD and p[3] <= addr < p[3] + p[6]:
            return p
    sys.exit('0x%x is in no PT_LOAD' % addr)


def load_bytes(data, phdrs, addr, n):
    p = find_load(phdrs, addr)
    return data[p[2] + addr - p[3]: p[2] + addr - p[3] + n]


def patched_copy(data, p, patches):
    """Producer for PT_LOAD p's bytes with {vaddr: bytes} patches applied."""
    seg = bytearray(data[p[2]:p[2] + p[5]])
    for addr, b in patches.items():
        if p[3] <= addr < p[3] + p[5]:
            seg[addr - p[3]:addr - p[3] + len(b)] = b
    return lambda f, size: f.write(seg[:size])


def loads_except(w, data, phdrs, skip=(), patches=None):
    for p in phdrs:
        if p[0] != PT_LOAD or p in skip or p[5] == 0:
            continue
        if patches and any(p[3] <= a < p[3] + p[5] for a in patches):
            w.add(p[1], p[3], p[5], patched_copy(data, p, patches))
        else:
            w.add(p[1], p[3], p[5], copy_from(data, p[2]))


def cmd_random(args, data, phdrs):
    w = Writer(data, phdrs)
    loads = [p for p in phdrs if p[0] == PT_LOAD and p[5]]
    used = sum(p[5] for p in loads)
    for p in loads:
        w.add(p[1], p[3], p[5], random_fill)
    extra = max(args.size - used, PAGE) & ~(PAGE - 1)
    w.add(6, 0x100000000000, extra, random_fill)  # RW, far from everything
    return w.write(args.out)


def grown_heap(args, data, phdrs, fill):
    # struct malloc_state (2.36): top at +0x60, system_mem at +0x888.
    arena = args.main_arena
    top, = struct.unpack('<Q', load_bytes(data, phdrs, arena + 0x60, 8))
    heap = find_load(phdrs, top)
    start = heap[3]
    size = args.size & ~(PAGE - 1)
    keep = top - start  # the real chunks up to the old top stay
    new_top = start + size - 0x1000
    patches = {arena + 0x60: struct.pack('<Q', new_top),
               arena + 0x888: struct.pack('<Q', size),
               arena + 0x890: struct.pack('<Q', size)}
    w = Writer(data, phdrs)
    loads_except(w, data, phdrs, skip=[heap], patches=patches)
    real = data[heap[2]:heap[2] + keep]

    def produce(f, n):
        f.write(real)
        fill(f, new_top - top)
        # top: prev_size, size 0x1000 | PREV_INUSE, then zeros.
        f.write(struct.pack('<QQ', 0, 0x1001) + bytes(0x1000 - 16))
    w.add(heap[1], start, size, produce)
    return w.write(args.out)


def chunks_fill(f, n):
    # In-use 0x20 chunks: prev_size (user data of the one before), size|PREV_INUSE;
    # one 0x30 chunk first when n is an odd number of 16-byte units.
    if n % 32:
        f.write(struct.pack('<QQ', 0, 0x31) + b'\x5a' * 32)
        n -= 48
    junk = 0x5a5a5a5a5a5a5a5a
    block = struct.pack('<QQQQ', 0, 0x21, junk, junk) * (RNG_BLOCK // 32)
    while n >= len(block):
        f.write(block)
        n -= len(block)
    f.write(block[:n])


def cmd_glibc_chunks(args, data, phdrs):
    return grown_heap(args, data, phdrs, chunks_fill)


def cmd_glibc_garbage(args, data, phdrs):
    return grown_heap(args, data, phdrs, random_fill)


def cmd_jemalloc_slabs(args, data, phdrs):
    # jemalloc 5.3, LG_VADDR 48: root at emap+0x78, 2^18 slots; leaves of
    # 2^18 compact elements: bits 0 slab, 2-4 state, 48-63 szind, the edata
    # pointer in bits 0-47 (low 7 bits masked off).
    root = args.emap + 0x78
    per_leaf = 1 << 18
    leaf_bytes = per_leaf * 8
    edata_bytes = per_leaf * 128
    nleaves = max(1, args.size // (leaf_bytes + edata_bytes))
    keys0 = 0x100000000000        # keys: pages never mapped by the process
    leaves0 = 0x200000000000
    edata0 = 0x300000000000
    patches = {}
    for k in range(nleaves):
        slot = ((keys0 >> 30) + k) & 0x3ffff
        patches[root + 8 * slot] = struct.pack('<Q', leaves0 + k * leaf_bytes)
    w = Writer(data, phdrs)
    loads_except(w, data, phdrs, patches=patches)

    def leaves(f, n):
        for k in range(nleaves):
            base = edata0 + k * edata_bytes
            f.write(b''.join(struct.pack('<Q', (base + 128 * i) | 1) for i in range(per_leaf)))

    def edatas(f, n):
        for k in range(nleaves):
            key = keys0 + (k << 30)
            # e_bits: arena 0, slab (bit 12), committed (13), state active,
            # szind 0 (8 bytes), nfree 0; e_addr; e_size_esn; bitmap all 0.
            bits = (1 << 12) | (1 << 13)
            f.write(b''.join(struct.pack('<QQQ', bits, key + i * PAGE, PAGE) + bytes(104)
                             for i in range(per_leaf)))
    w.add(6, leaves0, nleaves * leaf_bytes, leaves)
    w.add(6, edata0, nleaves * edata_bytes, edatas)
    return w.write(args.out)


def cmd_many_modules(args, data, phdrs):
    """NT_FILE replaced by one that lists --count modules (distinct
    addresses, file offset 0) of --path: the module loader's own bounds."""
    w = Writer(data, phdrs)
    notes = []
    for blob in w.notes:
        pos, out = 0, b''
        while pos + 12 <= len(blob):
            namesz, descsz, ntype = struct.unpack_from('<III', blob, pos)
            dpos = pos + 12 + ((namesz + 3) & ~3)
            end = dpos + ((descsz + 3) & ~3)
            if ntype == 0x46494c45:  # NT_FILE
                path = args.path.encode() + b'\0'
                desc = struct.pack('<QQ', args.count, PAGE)
                desc += b''.join(struct.pack('<QQQ', 0x100000000000 + i * 0x10000,
                                             0x100000000000 + i * 0x10000 + PAGE, 0)
                                 for i in range(args.count))
                desc += path * args.count
                name = blob[pos + 12:pos + 12 + namesz]
                b = struct.pack('<III', namesz, len(desc), ntype) + blob[pos + 12:dpos] + desc
                out += b + b'\0' * (-len(b) % 4)
            else:
                out += blob[pos:end]
            pos = end
        notes.append(out)
    w.notes = notes
    loads_except(w, data, phdrs)
    return w.write(args.out)


def cmd_glibc_tcache_threads(args, data, phdrs):
    """The main thread repeated --threads times (one NT_PRSTATUS each, same
    fs_base: the same tcache), and that tcache's first bin a chain of 65535
    valid entries in a new segment: what one tcache walk records, times the
    threads that point at it."""
    w = Writer(data, phdrs)
    prstatus = None
    for blob in w.notes:
        pos = 0
        while pos + 12 <= len(blob):
            namesz, descsz, ntype = struct.unpack_from('<III', blob, pos)
            end = pos + 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3)
            if ntype == 1 and prstatus is None:
                prstatus = blob[pos:end]
            pos = end
    dpos = 12 + 8  # "CORE\0" padded to 8
    fs_base, = struct.unpack_from('<Q', prstatus, dpos + 112 + 8 * 21)
    tcache, = struct.unpack('<Q', load_bytes(data, phdrs, fs_base - 0x48, 8))
    w.notes[0] = w.notes[0] + prstatus * args.threads
    n, seg = 65535, 0x100000000000
    patches = {tcache: struct.pack('<H', n), tcache + 0x80: struct.pack('<Q', seg + 16)}
    loads_except(w, data, phdrs, patches=patches)

    def chain(f, size):
        out = []
        for k in range(n):
            user = seg + 32 * k + 16
            nxt = seg + 32 * (k + 1) + 16 if k + 1 < n else 0
            out.append(struct.pack('<QQQQ', 0, 0x21, (user >> 12) ^ nxt, 0))
        f.write(b''.join(out))
    w.add(6, seg, 32 * n, chain)
    return w.write(args.out)


def cmd_glibc_shared_fastbins(args, data, phdrs):
    """--arenas arenas on main_arena's ring, each a copy of main_arena with a
    huge system_mem and fastbin 0 pointing at the same chain of --entries
    valid 0x20 chunks: every list walk, times the arenas that share it."""
    arena = args.main_arena
    ms = bytearray(load_bytes(data, phdrs, arena, 0x898))
    heap_max = 64 << 20
    base = 0x200000000000            # heaps: 64 MiB aligned, one page each
    chain = 0x300000000000
    n, m = args.arenas, args.entries
    arenas = [base + i * heap_max + 0x30 for i in range(n)]
    ring = arenas + [arena]
    patches = {arena + 0x870: struct.pack('<Q', arenas[0])}  # main_arena.next
    w = Writer(data, phdrs)
    loads_except(w, data, phdrs, patches=patches)
    for i, a in enumerate(arenas):
        h = a - 0x30
        st = bytearray(ms)
        top = (a + 0x898 + 15) & ~15
        struct.pack_into('<Q', st, 0x10, chain)             # fastbinsY[0]
        struct.pack_into('<Q', st, 0x60, top)               # top
        struct.pack_into('<Q', st, 0x870, ring[i + 1])      # next
        struct.pack_into('<QQ', st, 0x888, 1 << 40, 1 << 40)  # system_mem, max
        page = bytearray(PAGE)
        struct.pack_into('<QQQQ', page, 0, a, 0, PAGE, PAGE)  # heap_info
        page[0x30:0x30 + 0x898] = st
        struct.pack_into('<QQ', page, top - h, 0, (h + PAGE - top) | 1)
        w.add(6, h, PAGE, lambda f, size, b=bytes(page): f.write(b))

    def entries(f, size):
        out = []
        for k in range(m):
            c = chain + 32 * k
            nxt = chain + 32 * (k + 1) if k + 1 < m else 0
            out.append(struct.pack('<QQQQ', 0, 0x25, ((c + 16) >> 12) ^ nxt, 0))
        f.write(b''.join(out))
    w.add(6, chain, 32 * m, entries)
    return w.write(args.out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    for name in ('random', 'glibc-chunks', 'glibc-garbage', 'jemalloc-slabs',
                 'many-modules', 'glibc-tcache-threads', 'glibc-shared-fastbins'):
        p = sub.add_parser(name)
        p.add_argument('core')
        p.add_argument('out')
        if name == 'many-modules':
            p.add_argument('--count', type=int, required=True)
            p.add_argument('--path', required=True)
        elif name == 'glibc-tcache-threads':
            p.add_argument('--threads', type=int, required=True)
        elif name == 'glibc-shared-fastbins':
            p.add_argument('--arenas', type=int, required=True)
            p.add_argument('--entries', type=int, required=True)
            p.add_argument('--main-arena', type=lambda s: int(s, 0), required=True)
        else:
            p.add_argument('--size', type=size_arg, required=True)
        if name in ('glibc-chunks', 'glibc-garbage'):
            p.add_argument('--main-arena', type=lambda s: int(s, 0), required=True)
        if name.startswith('jemalloc'):
            p.add_argument('--emap', type=lambda s: int(s, 0), required=True)
    args = ap.parse_args()
    data, phdrs = parse_core(args.core)
    fn = {'random': cmd_random, 'glibc-chunks': cmd_glibc_chunks,
          'glibc-garbage': cmd_glibc_garbage, 'jemalloc-slabs': cmd_jemalloc_slabs,
          'many-modules': cmd_many_modules,
          'glibc-tcache-threads': cmd_glibc_tcache_threads,
          'glibc-shared-fastbins': cmd_glibc_shared_fastbins}[args.cmd]
    n = fn(args, data, phdrs)
    print('%s: %d bytes (%s)' % (args.out, n, args.cmd))


if __name__ == '__main__':
    main()
