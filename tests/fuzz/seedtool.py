#!/usr/bin/env python3
"""seedtool.py: cut a real core down to a small fuzz seed (a core, or a synthetic-memory input).

Used by make_corpus.sh. `windows` files come from trace_core: one "ADDR LEN"
line per run of core pages the analysis read.

  seedtool.py core  CORE OUT --windows W [--budget N]
      A valid core that keeps the ELF header, the CORE notes (PRSTATUS,
      PRPSINFO, AUXV, FILE, ...; the LINUX register notes are dropped) and
      every PT_LOAD's address range, but backs with data only the pages the
      analysis read plus the first page of every module (its build-id).
      Each segment is split so that the pages not kept are mapped but not
      dumped (filesz 0), which the reader treats like gcore's own holes.
      Pages that are all zero are dropped first when over budget.

  seedtool.py synth CORE OUT --windows W... [--param V]... [--flags N]
                   [--params-file F]... [--chunk-params F] [--budget N]
      The fuzz_synth.h format: the windows as memory ranges, then params
      (from --param, and from F's "flags N" / "param V" lines). Pages that
      are all zero become HS_FUZZ_ZERO ranges, which cost no bytes.
"""
import argparse
import struct
import sys

PAGE = 4096
PT_LOAD, PT_NOTE = 1, 4
NT_FILE = 0x46494C45
MAX_RANGES = 255
ZERO_TOTAL = 16 << 20  # fuzz_synth.h HS_FUZZ_ZERO_TOTAL
BLOCK = 64
ZERO = 0x80000000


def parse_core(path):
    data = open(path, 'rb').read()
    if data[:4] != b'\x7fELF':
        sys.exit(f'{path}: not ELF')
    (e_phoff,) = struct.unpack_from('<Q', data, 0x20)
    e_phentsize, e_phnum = struct.unpack_from('<HH', data, 0x36)
    phdrs = []
    for i in range(e_phnum):
        phdrs.append(struct.unpack_from('<IIQQQQQQ', data, e_phoff + i * e_phentsize))
    return data, phdrs


def notes_of(data, phdrs):
    """Every note as (name, type, desc)."""
    out = []
    for (p_type, _, off, _, _, filesz, _, _) in phdrs:
        if p_type != PT_NOTE:
            continue
        pos = 0
        while pos + 12 <= filesz:
            namesz, descsz, ntype = struct.unpack_from('<III', data, off + pos)
            name = data[off + pos + 12: off + pos + 12 + namesz]
            dpos = pos + 12 + ((namesz + 3) & ~3)
            desc = data[off + dpos: off + dpos + descsz]
            out.append((name, ntype, desc))
            pos = dpos + ((descsz + 3) & ~3)
    return out


def module_first_pages(notes):
    pages = []
    for name, ntype, desc in notes:
        if name.rstrip(b'\0') != b'CORE' or ntype != NT_FILE or len(desc) < 16:
            continue
        count, pagesz = struct.unpack_from('<QQ', desc, 0)
        for i in range(count):
            start, _, pgoff = struct.unpack_from('<QQQ', desc, 16 + 24 * i)
            if pgoff == 0:
                pages.append((start, PAGE))
    return pages


def read_windows(path, tier=None):
    """(addr, len) of each "ADDR LEN [TIER]" line, only those of `tier` if given."""
    out = []
    for line in open(path):
        parts = line.split()
        if len(parts) >= 2 and (tier is None or int(parts[2:3][0] if parts[2:] else 0) == tier):
            out.append((int(parts[0], 0), int(parts[1], 0)))
    return out


def core_bytes(data, phdrs, addr, length):
    """Bytes at [addr, addr+length) if one PT_LOAD backs them all, else None."""
    for (p_type, _, off, vaddr, _, filesz, memsz, _) in phdrs:
        if p_type == PT_LOAD and vaddr <= addr and addr + length <= vaddr + filesz:
            return data[off + addr - vaddr: off + addr - vaddr + length]
    return None


def stack_segments(data, phdrs):
    """[start, end) of every PT_LOAD that holds a thread's stack pointer."""
    rsps = [struct.unpack_from('<Q', desc, 112 + 8 * 19)[0]
            for name, ntype, desc in notes_of(data, phdrs)
            if name.rstrip(b'\0') == b'CORE' and ntype == 1 and len(desc) >= 336]
    return [(v, v + m) for (t, _, _, v, _, _, m, _) in phdrs
            if t == PT_LOAD and any(v <= r < v + m for r in rsps)]


def window_pages(windows):
    """Page addresses of the windows, short windows first, without repeats:
    globals and headers matter more than the n-th page of a heap or a stack
    scanned for mmapped chunks."""
    pages = []
    for addr, length in sorted(windows, key=lambda w: w[1]):
        a = addr & ~(PAGE - 1)
        while a < addr + length:
            if a not in pages:
                pages.append(a)
            a += PAGE
    return pages


def choose_pages(data, phdrs, windows, budget, extra=(), later=(), skip_zero=False,
                 first=(), ordered=False, quiet=False):
    """Pages to keep within budget, in tiers: non-zero pages of `windows`
    (stacks excepted), then `extra` pages (module headers), then `later`
    windows (read only by the report and the classifier), then non-zero
    stack pages (only scanned for mmapped chunk headers), then zero pages."""
    have = lambda p: core_bytes(data, phdrs, p, PAGE) is not None
    nonzero = lambda p: any(core_bytes(data, phdrs, p, PAGE))
    stacks = stack_segments(data, phdrs)
    in_stack = lambda p: any(lo <= p < hi for lo, hi in stacks)
    read = [p for p in window_pages(windows) if have(p)]
    extra = [p for p in window_pages(extra) if have(p)]
    later = [p for p in window_pages(later) if have(p)]
    first = [p for p in window_pages(first) if have(p)]
    tiers = [[p for p in first if nonzero(p)],
             [p for p in read if nonzero(p) and not in_stack(p)],
             [p for p in extra if nonzero(p)],
             [p for p in later if nonzero(p) and not in_stack(p)],
             [p for p in read + later if nonzero(p) and in_stack(p)],
             [] if skip_zero else [p for p in read + extra + later if not nonzero(p)]]
    kept = []
    for p in (p for tier in tiers for p in tier):
        if p in kept:
            continue
        if (len(kept) + 1) * PAGE > budget:
            break
        kept.append(p)
    dropped = [hex(p) for p in tiers[0] + tiers[1] + tiers[2] if p not in kept]
    if dropped and not quiet:
        print(f'over budget: non-zero pages dropped: {" ".join(dropped)}', file=sys.stderr)
    return kept if ordered else set(kept)


def note_bytes(name, ntype, desc):
    b = struct.pack('<III', len(name), len(desc), ntype) + name
    b += b'\0' * (-len(b) % 4) + desc
    return b + b'\0' * (-len(b) % 4)


def cmd_core(args):
    data, phdrs = parse_core(args.core)
    notes = [n for n in notes_of(data, phdrs) if n[0].rstrip(b'\0') == b'CORE']
    note_blob = b''.join(note_bytes(*n) for n in notes)
    windows = read_windows(args.windows, 0)
    later = read_windows(args.windows, 1)
    modules = module_first_pages(notes)
    # Header, program headers and notes come off the budget first.
    loads = [p for p in phdrs if p[0] == PT_LOAD]
    est_phdrs = 64 + 56 * (1 + 3 * len(loads) + len(windows) + len(modules))
    kept = choose_pages(data, phdrs, windows, args.budget - est_phdrs - len(note_blob),
                        modules, later)

    pieces = []  # (vaddr, memsz, bytes, flags)
    for (_, flags, off, vaddr, _, filesz, memsz, _) in loads:
        end = vaddr + memsz
        a = vaddr
        while a < end:
            page = a & ~(PAGE - 1)
            keep = page in kept and a < vaddr + filesz
            b = a
            while b < end and (((b & ~(PAGE - 1)) in kept and b < vaddr + filesz) == keep):
                b = (b & ~(PAGE - 1)) + PAGE
            b = min(b, end)
            if keep:
                hi = min(b, vaddr + filesz)
                pieces.append((a, b - a, data[off + a - vaddr: off + hi - vaddr], flags))
            else:
                pieces.append((a, b - a, b'', flags))
            a = b
    # Merge neighbouring holes of the same segment flags to save headers.
    merged = []
    for p in pieces:
        if merged and not p[2] and not merged[-1][2] and merged[-1][0] + merged[-1][1] == p[0] \
                and merged[-1][3] == p[3]:
            q = merged[-1]
            merged[-1] = (q[0], q[1] + p[1], b'', q[3])
        else:
            merged.append(p)
    phnum = 1 + len(merged)
    off = 64 + 56 * phnum
    out_ph = [struct.pack('<IIQQQQQQ', PT_NOTE, 4, off, 0, 0, len(note_blob), 0, 1)]
    body = note_blob
    off += len(note_blob)
    for vaddr, memsz, blob, flags in merged:
        out_ph.append(struct.pack('<IIQQQQQQ', PT_LOAD, flags, off if blob else 0,
                                  vaddr, 0, len(blob), memsz, 1))
        body += blob
        off += len(blob)
    eh = bytearray(data[:64])
    struct.pack_into('<Q', eh, 0x20, 64)      # e_phoff
    struct.pack_into('<Q', eh, 0x28, 0)       # e_shoff
    struct.pack_into('<HHHHHH', eh, 0x34, 64, 56, phnum, 0, 0, 0)
    out = bytes(eh) + b''.join(out_ph) + body
    open(args.out, 'wb').write(out)
    print(f'{args.out}: {len(out)} bytes, {len(kept)} pages kept, {len(merged)} segments')


def read_params(path):
    """(flags, params) from "flags N" / "param V" lines (trace_core --params/--chunks)."""
    flags, params = None, []
    for line in open(path):
        parts = line.split()
        if len(parts) == 2 and parts[0] == 'flags':
            flags = int(parts[1], 0)
        elif len(parts) == 2 and parts[0] == 'param':
            params.append(parts[1])
    return flags, params


def chunk_windows(params):
    """Windows over the first page of each chunk in (addr, info) param pairs."""
    vals = [int(v, 0) for v in params]
    return [(a, min(max(info >> 8, 1), PAGE)) for a, info in zip(vals[0::2], vals[1::2])]


def cmd_synth(args):
    data, phdrs = parse_core(args.core)
    windows, later = [], []
    for w in args.windows:
        windows += read_windows(w, 0)
        later += read_windows(w, 1)
    for pf in args.params_file:
        flags, params = read_params(pf)
        if flags is not None:
            args.flags = flags
        args.param += params
    args.params_file = []  # read once, should this run again (see below)
    if args.chunk_params:
        # Pages holding the chunks first: they are what the classifier reads.
        # then what the classifier read, then the walk's pages.
        windows, later = chunk_windows(read_params(args.chunk_params)[1]) + later, windows
    # Zero bytes cost nothing (HS_FUZZ_ZERO ranges): every page read is
    # kept, as zeros, and the non-zero 64-byte blocks of the most important
    # pages as data, within the budget (each data run costs its bytes and
    # two range headers).
    first = []
    for v in args.param:
        a = int(v, 0) & (2**64 - 1)
        if 0x1000 <= a < 2**47:
            first.append((a & ~(PAGE - 1), 2 * PAGE))  # a struct may cross a page
    order = choose_pages(data, phdrs, windows, 2**62, later=later, skip_zero=True,
                         first=first, ordered=True, quiet=True)
    budget = args.budget - 8 * len(args.param) - 4 - 16 - getattr(args, 'shrink', 0)
    spent, nruns = 0, 0
    data_runs = []  # (start, length)
    dropped = []
    # The params' pages, then the cheapest pages first: more of the walk's
    # structures fit, and a few dense pages (tcache stacks) wait.
    nfirst = len([p for p in window_pages(first) if p in order])
    density = lambda p: sum(1 for i in range(0, PAGE, BLOCK)
                            if any(core_bytes(data, phdrs, p + i, BLOCK)))
    order = order[:nfirst] + sorted(order[nfirst:], key=density)
    for p in order:
        b = core_bytes(data, phdrs, p, PAGE)
        runs, i = [], 0
        while i < PAGE:
            if not any(b[i:i + BLOCK]):
                i += BLOCK
                continue
            j = i + BLOCK
            # Bridge gaps of up to two zero blocks: cheaper than headers.
            while j < PAGE and (any(b[j:j + BLOCK]) or any(b[j + BLOCK:j + 3 * BLOCK])):
                j += BLOCK
            runs.append((p + i, j - i))
            i = j
        cost = sum(n for _, n in runs) + 32 * len(runs)
        if spent + cost > budget or 2 * (nruns + len(runs)) + 1 > MAX_RANGES:
            dropped.append(hex(p))
            continue
        spent += cost
        nruns += len(runs)
        data_runs += runs
    if dropped:
        print(f'over budget: non-zero pages dropped: {" ".join(dropped)}', file=sys.stderr)
    # Everything else read becomes zeros (dropped pages included: a walk
    # then reads zeros where the process had data, which it must survive).
    # ... up to fuzz_synth.h's HS_FUZZ_ZERO_TOTAL of zeros, the walk's first.
    pages = set(p & ~(PAGE - 1) for p, _ in data_runs)
    zero_left = ZERO_TOTAL
    for p in window_pages(windows) + window_pages(later):
        if p in pages or core_bytes(data, phdrs, p, PAGE) is None:
            continue
        if zero_left < PAGE:
            break
        pages.add(p)
        zero_left -= PAGE
    points = {}  # byte address -> 'd' (data) for each 64-byte block kept
    for start, n in data_runs:
        for a in range(start, start + n, BLOCK):
            points[a] = True
    ranges = []  # [start, length, is_zero]
    for p in sorted(pages):
        for a in range(p, p + PAGE, BLOCK):
            z = a not in points
            if ranges and ranges[-1][0] + ranges[-1][1] == a and ranges[-1][2] == z:
                ranges[-1][1] += BLOCK
            else:
                ranges.append([a, BLOCK, z])
    while len(ranges) > MAX_RANGES:
        # Too many ranges: the shortest zero gap between two data ranges
        # becomes data (zero bytes in the input); the size check below
        # then shrinks the budget if that cost too much.
        gaps = [i for i in range(1, len(ranges) - 1)
                if ranges[i][2] and not ranges[i - 1][2] and not ranges[i + 1][2]
                and ranges[i - 1][0] + ranges[i - 1][1] == ranges[i][0]
                and ranges[i][0] + ranges[i][1] == ranges[i + 1][0]]
        if not gaps:
            zeros = [i for i, r in enumerate(ranges) if r[2]]
            del ranges[min(zeros, key=lambda i: ranges[i][1])]
            continue
        i = min(gaps, key=lambda i: ranges[i][1])
        ranges[i - 1][1] += ranges[i][1] + ranges[i + 1][1]
        del ranges[i:i + 2]
    params = [int(v, 0) for v in args.param]
    head = struct.pack('<BBH', len(ranges), len(params), args.flags)
    blobs = b''
    for start, length, z in ranges:
        head += struct.pack('<QII', start, length, ZERO if z else length)
        if not z:
            # (bridged gaps read as zeros whatever the core held there)
            blobs += b''.join(core_bytes(data, phdrs, a, BLOCK)
                              if a in points else bytes(BLOCK)
                              for a in range(start, start + length, BLOCK))
    for v in params:
        head += struct.pack('<Q', v & (2**64 - 1))
    out = head + blobs
    if len(out) > args.budget:
        # The zero ranges' headers were not budgeted: try again with less.
        args.shrink = getattr(args, 'shrink', 0) + len(out) - args.budget
        return cmd_synth(args)
    open(args.out, 'wb').write(out)
    print(f'{args.out}: {len(out)} bytes, {len(ranges)} ranges, {len(params)} params')


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    for name in ('core', 'synth'):
        p = sub.add_parser(name)
        p.add_argument('core')
        p.add_argument('out')
        p.add_argument('--windows', required=True, action='append' if name == 'synth' else 'store')
        p.add_argument('--budget', type=lambda s: int(s, 0), default=64 * 1024 - 1)
        if name == 'synth':
            p.add_argument('--param', action='append', default=[])
            p.add_argument('--flags', type=lambda s: int(s, 0), default=0)
            p.add_argument('--params-file', action='append', default=[],
                           help='"flags N" / "param V" lines, appended to --param')
            p.add_argument('--chunk-params', help='chunk (addr, info) params whose '
                           'pages come first (fuzz_classify)')
    args = ap.parse_args()
    {'core': cmd_core, 'synth': cmd_synth}[args.cmd](args)


if __name__ == '__main__':
    main()
