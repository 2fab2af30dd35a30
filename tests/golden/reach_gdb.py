"""reach_gdb.py: run inside gdb on a fixture_reach core: registers, TLS and global addresses as JSON.

    gdb -batch -nx -ex "python REACH_OUT='facts.json'" -x reach_gdb.py FIXTURE CORE

For tests/golden/reach_truth_gdb.py, which checks the fixture's claims
against the core without heapscope: what only a debugger knows, written
to REACH_OUT:

    {"threads": [{"num": N, "lwp": L, "regs": {"rax": V, ...},
                  "tls": {"tl_held": [ADDR, SIZE], ...}}],
     "symbols": {"g_data_held": [ADDR, SIZE], ...},
     "regions": {"g_anon_region": [ADDR, SIZE]}}

Register values are those of each thread's innermost frame (the values at
the moment of the dump); TLS addresses go through libthread_db, per thread.
"""

import json

import gdb  # noqa: F401  (only inside gdb)

REGS = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11",
        "r12", "r13", "r14", "r15", "rip", "fs_base", "gs_base"]
TLS = ["tl_held", "tl_thread_held"]
SYMBOLS = ["g_data_held", "g_bss_held", "g_interior", "g_multi", "g_map", "g_set",
           "g_map_inline", "g_umap", "g_uset", "g_umap_inline", "g_list", "g_vec",
           "g_vec_values", "g_deque_storage", "g_shared", "g_shared_inline"]
# Pointers to a page of the fixture's own: the page they point at.
REGIONS = ["g_anon_region"]
MASK = (1 << 64) - 1


def where(name):
    """[address, size] of the object NAME (in the selected thread's context)."""
    value = gdb.parse_and_eval("&" + name)
    return [int(value.cast(gdb.lookup_type("unsigned long"))) & MASK,
            value.dereference().type.sizeof]


def main():
    out = {"threads": [], "symbols": {}, "regions": {}}
    inferior = gdb.selected_inferior()
    for thread in sorted(inferior.threads(), key=lambda t: t.num):
        thread.switch()
        gdb.execute("frame 0", to_string=True)
        regs = {}
        for r in REGS:
            try:
                regs[r] = int(gdb.parse_and_eval("$" + r)) & MASK
            except gdb.error:
                pass
        tls = {}
        for name in TLS:
            try:
                tls[name] = where(name)
            except gdb.error as e:
                tls[name] = str(e)
        out["threads"].append({"num": thread.num, "lwp": thread.ptid[1], "regs": regs,
                               "tls": tls})
    for name in SYMBOLS:
        out["symbols"][name] = where(name)
    page = 4096  # x86_64; the fixture maps one page with sysconf(_SC_PAGESIZE)
    for name in REGIONS:
        value = gdb.parse_and_eval(name).cast(gdb.lookup_type("unsigned long"))
        out["regions"][name] = [int(value) & MASK, page]
    with open(REACH_OUT, "w") as f:  # noqa: F821  (set by the caller with -ex)
        json.dump(out, f, indent=1)


main()
