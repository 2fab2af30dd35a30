#!/usr/bin/env python3
"""html_page.py: the HTML pages in a real browser, and the pprof profile in `go tool pprof`.

    html_page.py --heapscope PATH --case NAME [--fixture PATH] [--screenshot PNG]

Cases:
  analyze  the demo proxy (testdata/demo), gcored: `analyze --html` loads in headless
           Chromium with no console error and no request but the page itself; the
           DOM holds the types the proxy recorded, with their exact counts, first
           the one the JSON report puts first; every type in the treemap links to
           its row or examples; the examples carry `show`'s text; a header click
           sorts; a screenshot is not blank. `--redact` leaves no hexdump.
  diff     fixture_grow, gcored before and after its known leak: `diff --html`
           of the two reports (one hour apart) and of the two cores: the leaked
           class leads the growth chart, the types table and the per-hour chart
           with exactly the leaked count; both captures are side by side.
  pprof    the demo proxy: `analyze --format pprof` read by `go tool pprof -top`
           shows every type with its exact count and bytes, totals equal to
           totals.in_use, and the stack [allocator; kind; type].
  bounds   two reports of 100 000 types, 20 000 size classes: the diff page is
           bounded (under 2 MB, tables capped) and still loads without errors.
  usage    option errors (64) before any I/O: two outputs on stdout, pprof to a
           terminal; an unwritable --html path (1); --help documents the options.

--screenshot keeps the page's screenshot (the docs' pictures come from here).
Exit status: 0 pass, 1 fail, 77 skip (gcore, chromium or go is not installed).
"""

import argparse
import copy
import gzip
import json
import os
import pty
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "golden"))
import diff_growth  # noqa: E402  (tests/golden/diff_growth.py: two cores around a leak)
import browser  # noqa: E402  (tests/lib/browser.py)
import hstest  # noqa: E402  (tests/lib/hstest.py)
from hstest import SKIP, Failure, log  # noqa: E402

TIMEOUT = 240
T0 = 1704067200  # 2024-01-01T00:00:00Z
MAX_PAGE = 2 * 1024 * 1024
SHOT_W, SHOT_H = 1280, 1000


def heapscope(args, hs, rc=0):
    r = hstest.run([hs] + args, TIMEOUT)
    if rc is not None and r.rc != rc:
        raise Failure("heapscope %s: exit %d, expected %d" % (args[0], r.rc, rc))
    return r


def demo_core(fixture, tmp):
    """Run the demo proxy, gcore it: (core, {type name: count} it recorded)."""
    stats = os.path.join(tmp, "stats")
    proc = hstest.start_fixture([fixture, stats])
    try:
        core = hstest.gcore(proc.pid, os.path.join(tmp, "core"), TIMEOUT)
    finally:
        hstest.stop(proc)
    types = {}
    with open(stats) as f:
        for line in f:
            p = line.split(None, 2)
            if len(p) == 3 and p[0] == "type":
                types[p[2].strip()] = int(p[1])
    if not types:
        raise Failure("the fixture recorded no 'type' lines")
    return core, types


def check_self_contained(path):
    """Nothing on the page can fetch: no external src/href, no url() but #ids."""
    text = open(path, encoding="utf-8").read()
    bad = re.findall(r'(?:src|href|action|xlink:href)\s*=\s*"(?!#)[^"]*"', text)
    bad += re.findall(r"url\((?!#)[^)]*\)", text)
    bad += re.findall(r"<(?:link|img|iframe|object|embed)\b", text)
    bad += re.findall(r"@import", text)
    if bad:
        raise Failure("%s is not self-contained: %r" % (path, bad[:5]))
    if "Content-Security-Policy" not in text:
        raise Failure("%s has no Content-Security-Policy" % path)
    return text


def check_page(page, path):
    """No console error, no request but the page itself."""
    log("page %s: %d bytes, load %.1f ms, %d messages" % (
        path, os.path.getsize(path), page.load_ms, len(page.messages)))
    for level, text in page.messages:
        log("  console %s: %s" % (level, text))
    if page.errors:
        raise Failure("console errors on %s:\n  %s" % (path, "\n  ".join(page.errors)))
    others = [u for u in page.requests if u != "file://" + path]
    if others:
        raise Failure("the page asked for other resources: %r" % others[:5])


def check_screenshot(page, keep):
    png = page.screenshot(SHOT_W, SHOT_H)
    if keep:
        with open(keep, "wb") as f:
            f.write(png)
        log("screenshot kept in %s" % keep)
    colours, share = browser.png_summary(png)
    log("screenshot %dx%d: %d distinct colours, %.1f%% of pixels unlike the background"
        % (SHOT_W, SHOT_H, colours, 100 * share))
    if colours < 16 or share < 0.2:
        raise Failure("the screenshot is (nearly) blank: %d colours, %.1f%% drawn"
                      % (colours, 100 * share))


def table_rows(page, table, cols):
    """The text of columns `cols` of every body row of #table."""
    return page.eval(
        "Array.prototype.map.call(document.querySelectorAll('#%s tbody tr'),"
        "function(r){return %s.map(function(i){return r.cells[i].textContent;});})"
        % (table, json.dumps(cols)))


# ------------------------------------------------------------------ cases

def case_analyze(args, tmp):
    core, expected = demo_core(args.fixture, tmp)
    rjson, page_path = os.path.join(tmp, "r.json"), os.path.join(tmp, "page.html")
    heapscope(["analyze", core, "--json", rjson, "--html", page_path], args.heapscope)
    report = json.load(open(rjson))
    text = check_self_contained(page_path)
    if os.path.getsize(page_path) > MAX_PAGE:
        raise Failure("the page is %d bytes" % os.path.getsize(page_path))
    if not re.search(r"^0{8}  [0-9a-f]{2} ", text, re.M):
        raise Failure("the page (not redacted) holds no hexdump")

    with browser.Browser() as b:
        page = b.load("file://" + page_path)
        check_page(page, page_path)
        rows = table_rows(page, "types", [0, 1, 2])
        log("types on the page: %d rows; first %r" % (len(rows), rows[:4]))
        if len(rows) != min(len(report["types"]), 400):
            raise Failure("%d type rows, the report has %d" % (len(rows), len(report["types"])))
        if rows[0][0] != report["types"][0]["name"]:
            raise Failure("first row %r, the report's first type is %r"
                          % (rows[0][0], report["types"][0]["name"]))
        counts = {}
        for name, kind, count in rows:
            counts[name.strip()] = int(count)
        for name, n in sorted(expected.items()):
            log("  %-24s page %-8s recorded %d" % (name, counts.get(name), n))
            if counts.get(name) != n:
                raise Failure("type %s: %r on the page, the proxy allocated %d"
                              % (name, counts.get(name), n))
        # Treemap: one cell per type with bytes (bounded), each a link that resolves.
        links = page.eval("Array.prototype.map.call(document.querySelectorAll('#treemap a'),"
                          "function(a){return [a.getAttribute('href'),"
                          "!!document.getElementById(a.getAttribute('href').slice(1))];})")
        ncells = len([t for t in report["types"] if t["bytes"]])
        if len(links) != min(ncells, 120) or not all(ok for _, ok in links):
            raise Failure("treemap links %r (expected %d, all resolving)" % (links[:5], ncells))
        # The first type's examples carry show's text.
        first = report["types"][0]
        shows = page.eval("Array.prototype.map.call("
                          "document.querySelectorAll('#type-0 pre'),"
                          "function(p){return p.textContent;})")
        if len(shows) != min(3, len(first["examples"])):
            raise Failure("%d show texts for %s" % (len(shows), first["name"]))
        for addr, show in zip(first["examples"], shows):
            if not show.startswith("address  %s" % addr) or \
                    ("type     %s (%s)" % (first["name"], first["kind"])) not in show:
                raise Failure("show text for %s: %r" % (addr, show[:300]))
        # The leaked part of each type: hatched bands in the treemap, and
        # the demo's 200000 closures on the leaked card.
        leaked_types = [t for t in report["types"] if t.get("leaked", {}).get("count")]
        bands = page.eval("document.querySelectorAll('#treemap rect.leaked').length")
        if not leaked_types or bands < 1:
            raise Failure("no leaked band in the treemap (%d leaked types)" % len(leaked_types))
        cards = page.eval("document.body.textContent")
        if "leaked" not in cards:
            raise Failure("the page does not say what leaked")
        check_screenshot(page, args.screenshot)
        # Sorting: Count ascending on the second click, the smallest first.
        page.eval("var h=document.querySelector('#types thead th:nth-child(3)');"
                  "h.click();h.click();0")
        asc = [int(c) for _, _, c in table_rows(page, "types", [0, 1, 2])]
        if asc != sorted(asc):
            raise Failure("Count did not sort ascending: %r" % asc[:10])

    # --redact: no hexdump, no sample bytes, show says redacted.
    red = os.path.join(tmp, "redacted.html")
    heapscope(["analyze", core, "--redact", "--html", red], args.heapscope)
    rtext = check_self_contained(red)
    if re.search(r"^[0-9a-f]{8}  [0-9a-f]{2} ", rtext, re.M):
        raise Failure("--redact page holds a hexdump line")
    if "hexdump  (redacted)" not in rtext:
        raise Failure("--redact page: show text does not say the hexdump is redacted")
    log("--redact page: %d bytes, no hexdump" % len(rtext))


def take_two_cores(fixture, tmp):
    """fixture_grow's two cores (diff_growth.py's harness) and its widget leak:
    (core1, core2, (size, count leaked))."""
    stats, core1, core2 = diff_growth.take_two_cores(fixture, tmp, None)
    grown = None
    with open(stats) as f:
        for line in f:
            p = line.split()
            if p[:2] == ["grow", "widget"]:
                grown = (int(p[2]), int(p[4]))  # size, count leaked
    if not grown:
        raise Failure("fixture recorded no 'grow widget' line")
    return core1, core2, grown


def case_diff(args, tmp):
    core1, core2, (size, grown) = take_two_cores(args.fixture, tmp)
    old, new = os.path.join(tmp, "old.json"), os.path.join(tmp, "new.json")
    heapscope(["analyze", core1, "--json", old, "--captured-at", str(T0)], args.heapscope)
    heapscope(["analyze", core2, "--json", new, "--captured-at", str(T0 + 3600)],
              args.heapscope)
    pages = [(os.path.join(tmp, "reports.html"), [old, new], True),
             (os.path.join(tmp, "cores.html"), [core1, core2], False)]
    with browser.Browser() as b:
        for path, inputs, hourly in pages:
            heapscope(["diff"] + inputs + ["--html", path], args.heapscope)
            check_self_contained(path)
            page = b.load("file://" + path)
            check_page(page, path)
            rows = table_rows(page, "types", [0, 4, 7])
            log("types: %r" % rows[:4])
            widget = [r for r in rows if r[0].strip() == "grow::Widget"]
            if not widget or widget[0][1] != "+%d" % grown:
                raise Failure("grow::Widget row %r, expected a change of +%d" % (widget, grown))
            # The rows are sorted by byte growth; the chart's bars follow them.
            bars = page.eval("Array.prototype.map.call(document.querySelectorAll("
                             "'#growth-section svg text'),function(t){return t.textContent;})")
            labels = bars[0::2]
            log("growth chart: %r" % bars[:6])
            if [r[0].strip() for r in rows[:3]] != labels[:3] or "grow::Widget" not in labels:
                raise Failure("growth chart %r does not follow the types table %r"
                              % (labels[:3], rows[:3]))
            sides = table_rows(page, "captures", [0, 1])
            src = [r for r in page.eval(
                "Array.prototype.map.call(document.querySelectorAll('#captures tr'),"
                "function(r){return r.textContent;})") if r.startswith("source")]
            if not sides or not src or inputs[0] not in src[0] or inputs[1] not in src[0]:
                raise Failure("the captures table does not name both inputs: %r" % src)
            rate = page.eval("Array.prototype.map.call(document.querySelectorAll("
                             "'#rate-section svg text'),function(t){return t.textContent;})")
            if hourly:
                # One hour apart: bytes per hour equal the change.
                want = [l for l, v in zip(rate[0::2], rate[1::2]) if l == "grow::Widget"]
                got = [v for l, v in zip(rate[0::2], rate[1::2]) if l == "grow::Widget"]
                if not want or got[0] != widget[0][2] + "/h":
                    raise Failure("per-hour chart %r, expected grow::Widget %s/h"
                                  % (rate[:6], widget[0][2]))
            if path == pages[0][0]:
                check_screenshot(page, args.screenshot)


def go_top(go, profile, index, env):
    cmd = [go, "tool", "pprof", "-top", "-nodecount=100000", "-nodefraction=0",
           "-unit=byte" if index.endswith("space") else "-unit=count",
           "-sample_index=" + index, profile]
    r = hstest.run(cmd, TIMEOUT, "go tool pprof")
    if r.rc != 0:
        raise Failure("go tool pprof exited %d" % r.rc)
    total, flat = None, {}
    for line in r.out.splitlines():
        m = re.match(r"Showing nodes accounting for (\S+), [\d.]+% of (\S+) total", line)
        if m:
            total = m.group(2)
        m = re.match(r"\s*(\S+)\s+[\d.]+%\s+[\d.]+%\s+(\S+)\s+[\d.]+%\s+(.+)$", line)
        if m and m.group(1) != "flat":
            flat[m.group(3)] = m.group(1)
    return total, flat, r.out


def pprof_number(s):
    m = re.match(r"^(\d+)(B)?$", s)
    if not m:
        raise Failure("pprof printed %r, expected a plain number" % s)
    return int(m.group(1))


def pprof_name(name):
    """A type's name as the profile holds it: pprof drops <...> and (...)
    from C++ names when it shows them, so heapscope writes [ ] instead."""
    return name.translate(str.maketrans("<>()", "[][]"))


def case_pprof(args, tmp):
    go = shutil.which("go")
    if not go:
        raise browser.SkipTest("go is not installed (Debian's golang-go; scripts/install-deps)")
    core, expected = demo_core(args.fixture, tmp)
    rjson, prof = os.path.join(tmp, "r.json"), os.path.join(tmp, "heap.pb.gz")
    heapscope(["analyze", core, "--json", rjson], args.heapscope)
    report = json.load(open(rjson))
    r = subprocess.run([args.heapscope, "analyze", core, "--format", "pprof"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT)
    hstest.judge(r.returncode, r.stderr.decode(errors="replace"))
    if r.returncode != 0:
        raise Failure("analyze --format pprof exited %d" % r.returncode)
    with open(prof, "wb") as f:
        f.write(r.stdout)
    gzip.decompress(r.stdout)  # a gzip stream, whole
    env = dict(os.environ, HOME=tmp, GOCACHE=os.path.join(tmp, "gocache"),
               PPROF_TMPDIR=tmp)
    os.environ.update(env)
    totals = report["totals"]["in_use"]
    for index, field, total_want in (("inuse_objects", "count", totals["count"]),
                                     ("inuse_space", "bytes", totals["bytes"])):
        total, flat, out = go_top(go, prof, index, env)
        log(out[:1500])
        if total is None or pprof_number(total) != total_want:
            raise Failure("%s total %r, the report's in_use %s is %d"
                          % (index, total, field, total_want))
        for t in report["types"]:
            got = flat.get(pprof_name(t["name"]))
            if got is None or pprof_number(got) != t[field]:
                raise Failure("%s of %s: pprof %r, report %d" % (index, t["name"], got, t[field]))
        for name, n in expected.items():
            if index == "inuse_objects" and pprof_number(flat.get(name, "-1")) != n:
                raise Failure("%s: pprof %r objects, the proxy allocated %d"
                              % (name, flat.get(name), n))
        top = max(flat.items(), key=lambda kv: pprof_number(kv[1]))[0]
        if top != report["types"][0]["name"]:
            raise Failure("pprof's top %s is %s, the report's is %s"
                          % (index, top, report["types"][0]["name"]))
    # The demo's 200000 leaked closures, as leaked_objects.
    leaked = {t["name"]: t["leaked"]["count"] for t in report["types"] if t.get("leaked")}
    if leaked:
        total, flat, out = go_top(go, prof, "leaked_objects", env)
        log(out[:800])
        if total is None or pprof_number(total) != report["leaks"]["leaked"]["count"]:
            raise Failure("leaked_objects total %r, the report's leaks.leaked is %d"
                          % (total, report["leaks"]["leaked"]["count"]))
        for name, n in leaked.items():
            if n and pprof_number(flat.get(pprof_name(name), "-1")) != n:
                raise Failure("leaked_objects of %s: pprof %r, report %d"
                              % (name, flat.get(pprof_name(name)), n))
    r = hstest.run([go, "tool", "pprof", "-traces", prof], TIMEOUT, "go tool pprof")
    first = report["types"][0]
    stack = "%s\n\\s+%s\n\\s+%s\n" % (re.escape(pprof_name(first["name"])), re.escape(first["kind"]),
                                    re.escape(report["allocator"]["name"]))
    if not re.search(stack, r.out):
        raise Failure("no trace [%s; %s; %s] in:\n%s" % (report["allocator"]["name"],
                                                       first["kind"], first["name"],
                                                       r.out[:2000]))
    log("pprof: every type's count and bytes match the report; the stack is "
        "[allocator; kind; type]")


def synthetic_report(ntypes, nsizes, grow):
    types = [{"name": "ns::Type%06d<std::vector<int>>" % i, "kind": "vtable",
              "count": 10 + i + (grow if i % 3 == 0 else 0),
              "bytes": 64 * (10 + i + (grow if i % 3 == 0 else 0)), "examples": []}
             for i in range(ntypes)]
    sizes = [{"size": 16 * (i + 1), "count": 5 + grow * (i % 2),
              "bytes": 16 * (i + 1) * (5 + grow * (i % 2))} for i in range(nsizes)]
    patterns = [{"signature": "H M 0 i t ? 0 0", "size": 16 * (i + 1), "count": 100 + grow,
                 "bytes": 16 * (i + 1) * (100 + grow), "runs": 3,
                 "samples": [{"address": "0x1000", "hex": "00000000  41 41\n"}]}
                for i in range(100)]
    inuse = sum(t["bytes"] for t in types)
    return {
        "schema": "heapscope-report/1",
        "tool": {"name": "heapscope", "version": "0.1.0"},
        "core": {"path": "core.1", "bytes": 1 << 30, "pid": 1, "executable": "/usr/bin/svc",
                 "threads": 8, "captured_at": T0 + 3600 * grow},
        "modules": [{"path": "/usr/bin/svc", "base": "0x400000", "build_id": "abcd",
                     "symbols": "symtab"}],
        "allocator": {"name": "glibc", "version": "2.36", "located_by": "symbols",
                      "arenas": 1, "stats": {"uordblks": inuse}},
        "totals": {"in_use": {"count": sum(t["count"] for t in types), "bytes": inuse},
                   "free": {"count": 0, "bytes": 0}, "cached": {"count": 0, "bytes": 0}},
        "size_classes": sizes, "types": types, "patterns": patterns,
        "diagnostics": [{"severity": "warning", "message": "x" * 100}] * 2000,
    }


def case_bounds(args, tmp):
    old, new = os.path.join(tmp, "old.json"), os.path.join(tmp, "new.json")
    json.dump(synthetic_report(100000, 20000, 0), open(old, "w"))
    json.dump(synthetic_report(100000, 20000, 1), open(new, "w"))
    path = os.path.join(tmp, "big.html")
    heapscope(["diff", old, new, "--html", path, "--min-bytes", "0"], args.heapscope)
    size = os.path.getsize(path)
    log("diff page of 100 000 types, 20 000 size classes: %d bytes" % size)
    if size > MAX_PAGE:
        raise Failure("the page is %d bytes, over %d" % (size, MAX_PAGE))
    check_self_contained(path)
    with browser.Browser() as b:
        page = b.load("file://" + path)
        check_page(page, path)
        n = page.eval("document.querySelectorAll('#types tbody tr').length")
        if n != 400:
            raise Failure("%d rows in the types table, expected the bound 400" % n)
        if "are not shown here" not in page.eval("document.body.textContent"):
            raise Failure("the page does not say rows were left out")


def case_usage(args, tmp):
    hs = args.heapscope
    core = os.path.join(tmp, "no-such-core")
    for argv, word in ((["analyze", core, "--html", "-", "--json", "-"], "standard output"),
                       (["analyze", core, "--html", "-", "--format", "json"], "standard output"),
                       (["analyze", core, "--format", "pprof", "--json", "-"], "standard output"),
                       (["analyze", core, "--format", "svg"], "pprof"),
                       (["analyze", core, "--html"], "html"),
                       (["diff", core, core, "--html", "-", "--json", "-"], "standard output")):
        r = heapscope(argv, hs, 64)
        if len(r.err.splitlines()) != 1 or word not in r.err:
            raise Failure("%s: expected one line naming %r, got %r" % (argv, word, r.err))
    # pprof is binary: not onto a terminal (checked before the core is opened).
    master, slave = pty.openpty()
    try:
        p = subprocess.run([hs, "analyze", core, "--format", "pprof"], stdout=slave,
                           stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    err = p.stderr.decode()
    log("pprof to a terminal: exit %d: %s" % (p.returncode, err.strip()))
    if p.returncode != 64 or "redirect" not in err:
        raise Failure("pprof to a terminal: exit %d, %r" % (p.returncode, err))
    for cmd, words in ((["analyze", "--help"], ["--html", "pprof", "Exit status"]),
                       (["diff", "--help"], ["--html", "Exit status"])):
        out = heapscope(cmd, hs).out
        for w in words:
            if w not in out:
                raise Failure("%s does not mention %s" % (" ".join(cmd), w))
    # An unwritable page is an output failure (1), named in one line.
    rep = os.path.join(tmp, "r.json")
    json.dump(synthetic_report(3, 3, 0), open(rep, "w"))
    bad = os.path.join(tmp, "no-such-dir", "page.html")
    r = heapscope(["diff", rep, rep, "--html", bad], hs, 1)
    if len(r.err.splitlines()) != 1 or bad not in r.err:
        raise Failure("unwritable --html: %r" % r.err)
    # "-" writes the page to stdout, and no text.
    r = heapscope(["diff", rep, rep, "--html", "-"], hs)
    if not r.out.startswith("<!doctype html>") or "old       report" in r.out:
        raise Failure("diff --html - printed %r" % r.out[:100])


CASES = {"analyze": case_analyze, "diff": case_diff, "pprof": case_pprof,
         "bounds": case_bounds, "usage": case_usage}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--heapscope", required=True)
    ap.add_argument("--case", required=True, choices=sorted(CASES))
    ap.add_argument("--fixture")
    ap.add_argument("--screenshot")
    args = ap.parse_args()
    if args.case in ("analyze", "diff", "pprof") and not shutil.which("gcore"):
        log("SKIP: gcore is not installed")
        return SKIP
    tmp = tempfile.mkdtemp(prefix="heapscope-html-")
    try:
        CASES[args.case](args, tmp)
    except browser.SkipTest as e:
        log("SKIP: %s" % e)
        return SKIP
    except (Failure, browser.BrowserError) as e:
        log("FAIL: %s" % e)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
