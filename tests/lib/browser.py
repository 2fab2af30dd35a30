"""browser.py: headless Chromium over the DevTools protocol, for the HTML page tests; and a PNG reader.

    with Browser() as b:                  # SkipTest if chromium or python3-websocket is missing
        page = b.load("file:///tmp/x.html")
        page.errors      # console errors, uncaught exceptions, CSP and load errors
        page.requests    # every URL the page asked for
        page.eval("document.title")
        png = page.screenshot(1280, 1000)

Chromium runs with a fresh profile and every background service off: the
machine has no network, and without those flags Chromium floods refused
connections. The protocol client is Debian's python3-websocket.
"""

import base64
import json
import os
import shutil
import struct
import subprocess
import tempfile
import time
import zlib

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-default-apps", "--disable-extensions",
                  "--hide-scrollbars", "--mute-audio", "--remote-allow-origins=*",
                  "--remote-debugging-port=0"]
START_TIMEOUT = 60
LOAD_TIMEOUT = 60


class SkipTest(Exception):
    """The browser or the protocol client is not installed."""


class BrowserError(Exception):
    """Chromium did not start, or a protocol command failed."""


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Page:
    """One tab: what it logged and asked for, and commands on it."""

    def __init__(self, browser, session):
        self.b, self.session = browser, session
        self.errors, self.requests, self.messages = [], [], []
        self.loaded = False

    def event(self, msg):
        m, p = msg.get("method"), msg.get("params", {})
        if m == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"])
            self.messages.append((p["type"], text))
            if p["type"] in ("error", "assert", "warning"):
                self.errors.append("console.%s: %s" % (p["type"], text))
        elif m == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            self.errors.append("exception: %s %s" % (
                d.get("text", ""), d.get("exception", {}).get("description", "")))
        elif m == "Log.entryAdded":
            e = p["entry"]
            self.messages.append((e["level"], e["text"]))
            if e["level"] in ("error", "warning"):
                self.errors.append("log %s (%s): %s %s" % (e["level"], e["source"], e["text"],
                                                           e.get("url", "")))
        elif m == "Network.requestWillBeSent":
            self.requests.append(p["request"]["url"])
        elif m == "Page.loadEventFired":
            self.loaded = True

    def cmd(self, method, **params):
        return self.b.cmd(method, params, self.session)

    def eval(self, expr):
        r = self.cmd("Runtime.evaluate", expression=expr, returnByValue=True,
                     awaitPromise=True)
        if "exceptionDetails" in r:
            raise BrowserError("evaluate %r: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")

    def screenshot(self, width, height):
        """A PNG (bytes) of the page's top width x height CSS pixels, at scale 1."""
        self.cmd("Emulation.setDeviceMetricsOverride", width=width, height=height,
                 deviceScaleFactor=1, mobile=False)
        r = self.cmd("Page.captureScreenshot", format="png",
                     clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1})
        return base64.b64decode(r["data"])


class Browser:
    def __init__(self):
        self.proc = self.ws = None
        self.next_id = 0
        self.pages = {}

    def __enter__(self):
        chromium = find_chromium()
        if not chromium:
            raise SkipTest("chromium is not installed (scripts/install-deps installs it)")
        try:
            import websocket  # noqa: F401  (Debian's python3-websocket)
        except ImportError:
            raise SkipTest("python3-websocket is not installed (scripts/install-deps)")
        self.profile = tempfile.mkdtemp(prefix="heapscope-chromium-")
        self.proc = subprocess.Popen(
            [chromium] + CHROMIUM_FLAGS + ["--user-data-dir=" + self.profile, "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self._connect()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _connect(self):
        import websocket
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise BrowserError("chromium exited with status %d at start" % self.proc.returncode)
            try:
                with open(port_file) as f:
                    lines = f.read().split()
                if len(lines) >= 2:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise BrowserError("chromium wrote no DevToolsActivePort within %d s"
                                   % START_TIMEOUT)
            time.sleep(0.1)
        url = "ws://127.0.0.1:%s%s" % (lines[0], lines[1])
        self.ws = websocket.create_connection(url, timeout=LOAD_TIMEOUT, suppress_origin=True)

    def __exit__(self, *exc):
        if self.ws:
            try:
                self.ws.close()
            except Exception:
                pass
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        if self.proc:
            self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)
        return False

    def _dispatch(self, msg):
        page = self.pages.get(msg.get("sessionId"))
        if page:
            page.event(msg)

    def cmd(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        while True:
            r = json.loads(self.ws.recv())
            if r.get("id") == self.next_id:
                if "error" in r:
                    raise BrowserError("%s: %s" % (method, r["error"]))
                return r.get("result", {})
            self._dispatch(r)

    def load(self, url):
        """Open url in a new tab and wait for its load event. Returns a Page
        with its load time in page.load_ms (navigation start to load end)."""
        target = self.cmd("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.cmd("Target.attachToTarget",
                           {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        self.pages[session] = page
        for domain in ("Runtime", "Log", "Network", "Page"):
            page.cmd(domain + ".enable")
        page.cmd("Page.navigate", url=url)
        deadline = time.monotonic() + LOAD_TIMEOUT
        while not page.loaded:
            if time.monotonic() > deadline:
                raise BrowserError("%s: no load event within %d s" % (url, LOAD_TIMEOUT))
            self._dispatch(json.loads(self.ws.recv()))
        page.load_ms = page.eval(
            "(function(){var t=performance.getEntriesByType('navigation')[0];"
            "return t?t.loadEventEnd-t.startTime:-1;})()")
        return page


# ------------------------------------------------------------------ PNG

def png_pixels(data):
    """Decode an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes):
    (width, height, channels, rows), rows a list of bytes objects."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, ihdr = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = ihdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        raise ValueError("unsupported PNG: depth %d colour type %d interlace %d"
                         % (depth, ctype, interlace))
    ch = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = w * ch
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(ch, stride):
                line[i] = (line[i] + line[i - ch]) & 255
        elif f == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                left = line[i - ch] if i >= ch else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - ch] if i >= ch else 0
                b, c = prev[i], prev[i - ch] if i >= ch else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, ch, rows


def png_summary(data):
    """(distinct colours, share of pixels unlike the most common colour)."""
    w, h, ch, rows = png_pixels(data)
    counts = {}
    for row in rows:
        for x in range(0, w * ch, ch):
            px = row[x:x + 3]
            counts[px] = counts.get(px, 0) + 1
    top = max(counts.values())
    return len(counts), 1.0 - top / float(w * h)
