# SPDX-License-Identifier: MIT
"""A headless Debian chromium driven over its DevTools protocol on a pipe
(--remote-debugging-pipe: JSON messages ended by NUL on fds 3 and 4), so
the tests need no driver library: open a page, evaluate in it, collect
what its console and its log said, take a screenshot."""

import base64
import json
import os
import select
import shutil
import signal
import subprocess
import time

import sltest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    def __init__(self, args=()):
        """args: more of chromium's switches (--host-resolver-rules=...)."""
        if CHROMIUM is None:
            raise sltest.Skip("no chromium")
        self.profile = sltest.tmpdir()
        r_in, self.w = os.pipe()   # we write, chromium reads (its fd 3)
        self.r, w_out = os.pipe()  # chromium writes (its fd 4), we read
        args = [CHROMIUM, "--headless=new", "--remote-debugging-pipe",
                "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-sync",
                "--disable-component-update", "--mute-audio",
                "--disable-dev-shm-usage", "--hide-scrollbars",
                "--window-size=1400,1000",
                "--user-data-dir=" + self.profile] + list(args) + [
                "about:blank"]

        def fds():
            # the pipe's ends as the child's 3 and 4 (copies first: an
            # end may be 3 or 4 already); dup2's copies are inherited,
            # Python's own descriptors are closed at exec
            a, b = os.dup(r_in), os.dup(w_out)
            os.dup2(a, 3)
            os.dup2(b, 4)
        # a session of its own: chromium's helpers die with it (killpg)
        self.proc = subprocess.Popen(args, close_fds=False, preexec_fn=fds,
                                     start_new_session=True,
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(r_in)
        os.close(w_out)
        sltest._all_procs.append(self.proc)
        sltest.on_watchdog(self.kill)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def kill(self):
        """chromium and every process it started."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.kill()
        self.proc.wait()
        for fd in (self.w, self.r):
            try:
                os.close(fd)
            except OSError:
                pass

    def _read(self, timeout):
        while b"\0" not in self.buf:
            ready, _, _ = select.select([self.r], [], [], timeout)
            if not ready:
                raise AssertionError("chromium said nothing for %.0f s"
                                     % timeout)
            d = os.read(self.r, 1 << 20)
            if not d:
                raise AssertionError("chromium closed its pipe")
            self.buf += d
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=True, timeout=30):
        self.next_id += 1
        m = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            m["sessionId"] = self.session
        os.write(self.w, json.dumps(m).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            r = self._read(max(0.1, deadline - time.monotonic()))
            if r.get("id") == self.next_id:
                if "error" in r:
                    raise AssertionError("%s: %r" % (method, r["error"]))
                return r.get("result", {})
            if "method" in r:
                self.events.append(r)

    def open(self, url):
        """A new tab on url, with its console and log watched."""
        t = self.call("Target.createTarget", {"url": "about:blank"},
                      session=False)
        a = self.call("Target.attachToTarget",
                      {"targetId": t["targetId"], "flatten": True},
                      session=False)
        self.session = a["sessionId"]
        for m in ("Runtime.enable", "Log.enable", "Page.enable"):
            self.call(m)
        self.call("Page.navigate", {"url": url})

    def eval(self, expr, wait=None):
        """The value of expr in the page; wait: seconds to wait for the
        promise it is."""
        p = {"expression": expr, "returnByValue": True}
        if wait is not None:
            p["awaitPromise"] = True
        r = self.call("Runtime.evaluate", p,
                      timeout=30 if wait is None else wait + 10)
        if "exceptionDetails" in r:
            raise AssertionError("%s: %r" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")

    def pump(self):
        """Reads the events chromium has sent since (a no-op call)."""
        self.eval("1")

    def errors(self):
        """What the page's console and log said at level error, and the
        exceptions it threw."""
        self.pump()
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                out.append("exception: %r" % p.get("exceptionDetails"))
            elif (e["method"] == "Runtime.consoleAPICalled" and
                  p.get("type") in ("error", "assert")):
                out.append("console.%s: %r" % (p["type"], p.get("args")))
            elif (e["method"] == "Log.entryAdded" and
                  p.get("entry", {}).get("level") == "error"):
                out.append("log: %s (%s)" % (p["entry"].get("text"),
                                             p["entry"].get("url")))
        return out

    def screenshot(self, path):
        r = self.call("Page.captureScreenshot",
                      {"format": "png", "captureBeyondViewport": True})
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))
