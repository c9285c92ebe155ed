# SPDX-License-Identifier: MIT
"""A version of a service for the tests of splits (test_guard.py,
test_dashboard.py): a Node HTTP server that fails a share of its requests,
or answers late, as the test tells it, and says what it answered."""

import json
import os
import shutil
import subprocess
import urllib.request

import sltest
from sltest import check, free_port, tmpdir

NODE = shutil.which("node") or shutil.which("nodejs")

# A version of the service: GET /__ctl?fail=R&delay=MS sets the share of
# requests answered 500 and a delay; GET /__stats says what it answered.
# Every other request is answered 200 (or 500 by the share) with its name.
NODE_SERVER = r"""
const http = require('http');
const port = +process.argv[2], name = process.argv[3];
let fail = 0, delay = 0, acc = 0;
const st = {ok: 0, failed: 0};
http.createServer((req, res) => {
  if (req.url.startsWith('/__ctl')) {
    const q = new URL(req.url, 'http://x').searchParams;
    if (q.has('fail')) fail = +q.get('fail');
    if (q.has('delay')) delay = +q.get('delay');
    acc = 0;
    res.end('ok');
    return;
  }
  if (req.url === '/__stats') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(st));
    return;
  }
  // exact shares, in turn: the counts do not depend on chance
  acc += fail;
  const bad = acc >= 1;
  if (bad) acc -= 1;
  const answer = () => {
    if (bad) st.failed++; else st.ok++;
    res.statusCode = bad ? 500 : 200;
    res.setHeader('x-version', name);
    res.end(name + '\n');
  };
  if (delay > 0) setTimeout(answer, delay); else answer();
}).listen(port, '127.0.0.1', () => console.log('ready'));
"""


class Version:
    """One Node server."""

    def __init__(self, name):
        if NODE is None:
            raise sltest.Skip("no node")
        self.name = name
        self.port = free_port()
        path = os.path.join(tmpdir(), "version.js")
        with open(path, "w") as f:
            f.write(NODE_SERVER)
        self.proc = subprocess.Popen([NODE, path, str(self.port), name],
                                     stdout=subprocess.PIPE)
        sltest._all_procs.append(self.proc)
        check(self.proc.stdout.readline().strip() == b"ready",
              "the Node server %s started" % name)
        sltest._register("upstreams", self)

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    def ctl(self, **kw):
        q = "&".join("%s=%s" % kv for kv in kw.items())
        urllib.request.urlopen("http://%s/__ctl?%s" % (self.addr, q),
                               timeout=5).read()

    def stats(self):
        return json.loads(urllib.request.urlopen(
            "http://%s/__stats" % self.addr, timeout=5).read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


