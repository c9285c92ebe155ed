# SPDX-License-Identifier: MIT
"""Every YAML example of the documentation passes `sluice -t`: the ```yaml
blocks of README.md and doc/*.md, the blocks of doc/sluice.yaml.5 marked
with the roff comment `.\\" yaml`, and etc/sluice.yaml.

The rule (doc/design-notes.md, "YAML examples in the documentation"):
- A block is a whole configuration file and must pass as it is written,
  unless its first line says otherwise:
    # fragment: KIND[, KIND...]
        part of a file, checked once for each place KIND names: top (keys
        of the top level), listener (keys of one listener), route (keys of
        one route), routes (items of a listener's routes), cluster (keys
        of one cluster), clusters (items of the clusters list). The test
        puts the block, shifted to that place's indentation, in the
        smallest file that holds it: a listener, a route and a cluster
        named doc-example where the block has none, and a cluster (one
        endpoint) for each cluster the block names without defining it,
        as sluice's own "unknown cluster" errors name them.
    # not sluice: WHAT
        YAML of another program (a Kubernetes manifest): not checked.
  In doc/sluice.yaml.5 the mark is a roff comment line right before .nf:
  `.\\" yaml` (a whole file) or `.\\" yaml fragment: KIND`.
- Files the examples name are made in a temporary directory that stands
  for / (and is the working directory, for relative names): for cert and
  key, a key pair (RSA when either file's name holds "rsa", else ECDSA
  P-256) and its certificate signed by a test CA, a cert and a key
  written one after the other being a pair; for ca and client_ca, that
  CA's certificate; for password_file, a one-line password, mode 0600;
  for key_file, 64 hexadecimal digits, mode 0600; for
  log.access and waf.log, its directory; for a route's auth.jwt keys, a key set of
  one public P-256 key; for a route's hosts_file, two names; for a
  route's lua file (NAME.lua), doc/lua/NAME.lua, or a script of
  on_request and on_response when there is none; for acme's storage, a
  directory (0700), its ca_file the test CA, its account_key a P-256 key
  and its eab's hmac_key_file a base64url key, mode 0600.
- The port of every "address:" value (listeners, the admin listener) is
  replaced by a free port, the same port by the same one within a block
  (and in acme's http_port and tls_port, which name a listener's port):
  -t fails on an address another process listens on, and the examples'
  ports (8080, 9901, 443) may be in use here (a quick start, say).
- The values of "nameservers:" are replaced by a server in this test that
  answers NXDOMAIN at once: -t looks names up, and the examples'
  nameservers do not exist here (a lookup would wait for its timeouts).
A failure names the block (FILE:LINE of its first line), each of sluice's
errors and warnings at the line of the documentation it is about (and the
column, unless the test rewrote that line), and shows the file checked."""

import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sltest import (TOP_SRCDIR, Pki, Skip, check, free_port,  # noqa: E402
                    have_openssl, main, persistent_tmpdir, sluice_path, test)

KINDS = ("top", "listener", "route", "routes", "cluster", "clusters")
# where a kind's keys or items go: their indentation in the file
INDENT = {None: 0, "top": 0, "listener": 4, "route": 8, "routes": 6,
          "cluster": 4, "clusters": 2}
SPARE = "127.0.0.1:9"       # the endpoint of the clusters the test adds
# a line that starts a section of a sluice file
YAML_KEY = r"^\s*(listeners|clusters|routes|rate_limit_store|resolver)\s*:"


class Block:
    """One YAML example: its source file, the line of its first line of
    text there (1-based), its lines, and what its mark says."""

    def __init__(self, src, line, lines, mark=None):
        self.src = src
        self.line = line
        self.lines = lines
        self.kinds = [None]     # None: a whole file
        self.skip = None        # a "# not sluice:" block: why
        self.bad_mark = None
        first = mark or next((x.strip() for x in lines if x.strip()), "")
        m = re.match(r"#\s*fragment:\s*([\w ,]+)", first)
        if m:
            self.kinds = [k.strip() for k in m.group(1).split(",")]
            bad = [k for k in self.kinds if k not in KINDS]
            if bad:
                self.bad_mark = ("unknown fragment kind %r (one of %s)"
                                 % (bad[0], ", ".join(KINDS)))
        elif re.match(r"#\s*not sluice:", first):
            self.skip = first

    def where(self):
        return "%s:%d" % (self.src, self.line)


def markdown_blocks(rel):
    """The ```yaml blocks of a Markdown file (a fence may be indented, as
    in a list item: that indentation is not the block's)."""
    with open(os.path.join(TOP_SRCDIR, rel)) as f:
        lines = f.read().split("\n")
    out = []
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)```yaml\s*$", lines[i])
        if not m:
            i += 1
            continue
        pad = len(m.group(1))
        j = i + 1
        while j < len(lines) and not re.match(r"^\s*```\s*$", lines[j]):
            j += 1
        check(j < len(lines), "%s:%d: ```yaml block never closed"
              % (rel, i + 1))
        body = [x[pad:] if x[:pad].strip() == "" else x
                for x in lines[i + 1:j]]
        out.append(Block(rel, i + 2, body))
        i = j + 1
    return out


ROFF_ESCAPES = [("\\-", "-"), ("\\e", "\\"), ("\\(lq", '"'),
                ("\\(rq", '"'), ("\\(dq", '"'), ("\\&", "")]


def roff_blocks(rel):
    """The .nf ... .fi blocks of a man page right after a line
    `.\\" yaml` (or `.\\" yaml fragment: KIND`), unescaped."""
    with open(os.path.join(TOP_SRCDIR, rel)) as f:
        lines = f.read().split("\n")
    out = []
    for i, x in enumerate(lines):
        m = re.match(r'^\.\\"\s*yaml\b\s*(.*)$', x)
        if not m:
            continue
        check(i + 1 < len(lines) and lines[i + 1] == ".nf",
              '%s:%d: `.\\" yaml` is not right before a .nf line'
              % (rel, i + 1))
        j = i + 2
        while j < len(lines) and lines[j] != ".fi":
            j += 1
        check(j < len(lines), "%s:%d: .nf never closed by .fi"
              % (rel, i + 2))
        body = []
        for k in range(i + 2, j):
            t = lines[k]
            for a, b in ROFF_ESCAPES:
                t = t.replace(a, b)
            check("\\" not in t.replace("\\\\", ""),
                  "%s:%d: a roff escape this test does not know: %r"
                  % (rel, k + 1, lines[k]))
            body.append(t)
        mark = m.group(1).strip()
        b = Block(rel, i + 3, body, "# " + mark if mark else None)
        check(not mark or b.kinds != [None],
              '%s:%d: `.\\" yaml %s`: expected `.\\" yaml fragment: KIND`'
              % (rel, i + 1, mark))
        out.append(b)
    return out


# ---- the files examples name ---------------------------------------------

PATH_KEYS = ("cert", "key", "ca", "client_ca", "password_file", "access",
             "keys", "log", "key_file", "token_file", "basic_file",
             "hosts_file", "file", "storage", "ca_file", "account_key",
             "hmac_key_file")
# a route's auth.jwt keys: a JSON Web Key set of one public P-256 key,
# made for these examples (its private half was never kept)
DOC_JWKS = ('{"keys": [{"kty": "EC", "crv": "P-256", '
            '"x": "n_P3yv83hrzbe4d1QK2hZl5h1eNSk28X4CTIC4D01u4", '
            '"y": "QQTp7yg7ohYabW9VLD7po-finBgtneIJUNCltqEQYQE", '
            '"kid": "doc-example", "use": "sig", "alg": "ES256"}]}\n')
PATH_RE = re.compile(r"(?<![\w-])(%s)\s*:[ \t]*([\"']?)([^\s,{}\[\]\"'#]+)\2"
                     % "|".join(PATH_KEYS))


def is_path(key, value):
    if key in ("access", "log", "storage"):   # log.access, waf.log,
        return value.startswith("/")            # acme.storage
    if key == "keys":
        return value.startswith("/") or value.endswith(".json")
    return (value.startswith("/") or "/" in value or
            value.endswith((".pem", ".key", ".crt")))


class Files:
    """The files the examples name, made once per path under root (which
    stands for /), with their certificates from one test CA."""

    def __init__(self):
        self.root = persistent_tmpdir()
        self.pki = None
        self.made = {}          # path as written -> kind made

    def _pki(self):
        if self.pki is None:
            if not have_openssl():
                raise Skip("no openssl command to make the examples' "
                           "certificates")
            self.pki = Pki()
            self.pki.ca("doc-ca", "/CN=sluice doc examples CA")
        return self.pki

    def local(self, path):
        """Where path, as written in an example, is in this test."""
        if path.startswith("/"):
            return self.root + path
        return os.path.join(self.root, path)

    def _put(self, src, path, mode=0o644):
        dst = self.local(path)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(src, dst)
        os.chmod(dst, mode)

    def _pair(self, cert, key):
        if self.made.get(cert) == "cert" and self.made.get(key) == "key":
            return
        pki = self._pki()
        name = "pair%d" % len(pki.certs)
        rsa = "rsa" in os.path.basename(cert or "") + \
            os.path.basename(key or "")
        c = pki.leaf(name, "/CN=doc-example", "doc-ca",
                     dns=["doc-example.test"], kind="rsa" if rsa else "ec")
        if cert:
            self._put(c.cert, cert)
            self.made[cert] = "cert"
        if key:
            self._put(c.key, key, 0o600)
            self.made[key] = "key"

    def make(self, text):
        """Makes the files text names; returns text with the absolute
        ones rewritten to where they are."""
        found = [(m.group(1), m.group(3)) for m in PATH_RE.finditer(text)
                 if is_path(m.group(1), m.group(3))]
        i = 0
        while i < len(found):
            k, p = found[i]
            nk, np = found[i + 1] if i + 1 < len(found) else (None, None)
            if k in ("cert", "key") and {k, nk} == {"cert", "key"}:
                self._pair(p if k == "cert" else np,
                           np if k == "cert" else p)
                i += 2
                continue
            if k == "cert":
                self._pair(p, None)
            elif k == "key":
                self._pair(None, p)
            elif k == "storage" and p not in self.made:
                os.makedirs(self.local(p), mode=0o700, exist_ok=True)
                os.chmod(self.local(p), 0o700)
                self.made[p] = "storage"
            elif k == "account_key" and p not in self.made:
                # a P-256 key: a leaf's, its certificate unused
                pki = self._pki()
                c = pki.leaf("acct%d" % len(pki.certs), "/CN=doc-account",
                             "doc-ca")
                self._put(c.key, p, 0o600)
                self.made[p] = "account key"
            elif k == "hmac_key_file" and p not in self.made:
                dst = self.local(p)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                with open(dst, "w") as f:
                    f.write("zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG4\n")
                os.chmod(dst, 0o600)
                self.made[p] = "eab key"
            elif k in ("ca", "client_ca", "ca_file") and p not in self.made:
                self._put(self._pki()["doc-ca"].cert, p)
                self.made[p] = "ca"
            elif (k in ("password_file", "token_file", "basic_file") and
                  p not in self.made):
                # one line: a password, admin.auth's token, its user
                dst = self.local(p)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                with open(dst, "w") as f:
                    f.write("doc-example:password\n" if k == "basic_file"
                            else "doc-example-password\n")
                os.chmod(dst, 0o600)
                self.made[p] = "password"
            elif k == "key_file" and p not in self.made:
                dst = self.local(p)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                with open(dst, "w") as f:
                    f.write("5e" * 32 + "\n")
                os.chmod(dst, 0o600)
                self.made[p] = "seal key"
            elif k in ("access", "log"):
                os.makedirs(os.path.dirname(self.local(p)), exist_ok=True)
            elif k == "hosts_file" and p not in self.made:
                dst = self.local(p)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                with open(dst, "w") as f:
                    f.write("# merchants\nshop1.example\n*.shops.example\n")
                self.made[p] = "hosts"
            elif k == "file" and p.endswith(".lua") and p not in self.made:
                # a route's lua: the documentation's script of that name
                # (doc/lua/), else one of the functions examples name
                dst = self.local(p)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                src = os.path.join(TOP_SRCDIR, "doc", "lua",
                                   os.path.basename(p))
                if os.path.exists(src):
                    shutil.copyfile(src, dst)
                else:
                    with open(dst, "w") as f:
                        f.write("function on_request(r) end\n"
                                "function on_response(resp) end\n"
                                "function on_log(r) end\n")
                self.made[p] = "lua"
            elif k == "keys" and p not in self.made:
                dst = self.local(p)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                with open(dst, "w") as f:
                    f.write(DOC_JWKS)
                self.made[p] = "jwks"
            i += 1
        paths = sorted({p for _, p in found if p.startswith("/")},
                       key=len, reverse=True)
        for p in paths:
            text = re.sub(r"(?<![\w/.-])%s(?![\w/.-])" % re.escape(p),
                          self.local(p), text)
        return text


_files = None


def files():
    global _files
    if _files is None:
        _files = Files()
    return _files


# ---- nameservers ---------------------------------------------------------

class Nxdomain:
    """A DNS server on 127.0.0.1 (UDP) that answers every query NXDOMAIN."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        t = threading.Thread(target=self._serve, daemon=True)
        t.start()

    def _serve(self):
        while True:
            try:
                q, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            if len(q) < 12:
                continue
            # the question: labels up to the root, then type and class
            i = 12
            while i < len(q) and q[i] != 0:
                i += 1 + q[i]
            i += 5
            if i > len(q):
                continue
            # QR, the query's opcode and RD, RA, NXDOMAIN; one question
            flags = bytes([0x80 | (q[2] & 0x79), 0x83])
            self.sock.sendto(q[:2] + flags + b"\x00\x01" + b"\x00" * 6 +
                             q[12:i], peer)


_nxdomain = None


def nameservers(text):
    """text with the values of "nameservers:" replaced by the local
    NXDOMAIN server."""
    def repl(m):
        global _nxdomain
        if _nxdomain is None:
            _nxdomain = Nxdomain()
        return "%s[127.0.0.1:%d]" % (m.group(1), _nxdomain.port)
    return re.sub(r"(nameservers:\s*)\[[^\]\n]*\]", repl, text)


# ---- ports ---------------------------------------------------------------

ADDR_RE = re.compile(r"(\baddress:\s*[\"']?)((?:\[[0-9A-Fa-f:.]*\]|"
                     r"[A-Za-z0-9.-]+)):(\d{1,5})\b")


def ports(text):
    """text with the port of every address: value replaced by a free port
    (the same port by the same one). Returns (text, {new: old})."""
    given = {}

    def repl(m):
        old = m.group(3)
        if old not in given:
            given[old] = str(free_port())
        return "%s%s:%s" % (m.group(1), m.group(2), given[old])
    text = ADDR_RE.sub(repl, text)
    # acme's http_port and tls_port name a listener's port: the same
    # free port as that listener's
    text = re.sub(r"(\b(?:http_port|tls_port):\s*)(\d{1,5})\b",
                  lambda m: m.group(1) + given.get(m.group(2), m.group(2)),
                  text)
    return text, {v: k for k, v in given.items()}


# ---- wrapping ------------------------------------------------------------

def base_indent(lines):
    ind = [len(x) - len(x.lstrip(" ")) for x in lines
           if x.strip() and not x.lstrip().startswith("#")]
    return min(ind) if ind else 0


def keys_at(lines, indent):
    """The keys of the mapping whose keys are at indent."""
    out = set()
    for x in lines:
        m = re.match(r"^ {%d}([A-Za-z_][\w-]*)\s*:" % indent, x)
        if m:
            out.add(m.group(1))
    return out


def reindent(lines, delta):
    out = []
    for x in lines:
        n = len(x) - len(x.lstrip(" "))
        out.append(" " * max(0, n + delta) + x.lstrip(" ") if x.strip()
                   else "")
    return out


def first_cluster(lines):
    """The name of the first cluster of a block's top-level clusters."""
    seen = False
    for x in lines:
        if re.match(r"^clusters\s*:", x):
            seen = True
        if seen:
            m = re.search(r"\bname:\s*[\"']?([\w.-]+)", x)
            if m:
                return m.group(1)
    return None


def wrap(kind, text_lines, listen_port, extra_clusters):
    """The whole file a block of kind is checked as: (lines, index of the
    block's first line in them, added indentation, whether clusters may be
    added at the end)."""
    delta = INDENT[kind] - base_indent(text_lines)
    body = reindent(text_lines, delta)
    keys = keys_at(body, INDENT[kind])
    addr = "127.0.0.1:%d" % listen_port
    spare = ['  - { name: %s, endpoints: ["%s"] }' % (c, SPARE)
             for c in ["doc-example"] + extra_clusters]
    pre, post = [], []
    open_end = True             # the file ends in the clusters list
    if kind is None:
        return body, 0, delta, False
    if kind == "top":
        cluster = "doc-example"
        if "clusters" in keys:
            cluster = first_cluster(body) or "doc-example"
            open_end = False
        if "listeners" not in keys:
            post += ["listeners:", "  - name: doc-example",
                     "    address: %s" % addr,
                     "    routes: [{ cluster: %s }]" % cluster]
        if "clusters" not in keys:
            post += ["clusters:"] + spare
    elif kind in ("listener", "route", "routes"):
        pre = ["listeners:", "  -"]
        if kind != "listener" or "name" not in keys:
            pre.append("    name: doc-example")
        if kind != "listener" or "address" not in keys:
            pre.append("    address: %s" % addr)
        if kind == "route":
            pre += ["    routes:", "      -"]
            if not keys & {"cluster", "split"}:
                post.append("        cluster: doc-example")
        elif kind == "routes":
            pre.append("    routes:")
        elif "routes" not in keys:
            post.append("    routes: [{ cluster: doc-example }]")
        post += ["clusters:"] + spare
    else:                       # cluster, clusters
        pre = ["listeners:",
               "  - { name: doc-example, address: %s," % addr,
               "      routes: [{ cluster: doc-example }] }",
               "clusters:"] + spare
        if kind == "cluster":
            pre.append("  -")
            if "name" not in keys:
                pre.append("    name: doc-fragment")
            if "endpoints" not in keys:
                pre.append('    endpoints: ["%s"]' % SPARE)
    return pre + body + post, len(pre), delta, open_end


ERR_RE = re.compile(r"^(.*?):(\d+):(\d+): (error|warning): (.*)$")


def run_check(path, cwd):
    p = subprocess.run([os.path.abspath(sluice_path()), "-t", "-c", path],
                       cwd=cwd,
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=30)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def check_block(block, work):
    """Checks one block as each kind its mark names; returns a list of
    failures, each (where, lines of text); empty when it passed."""
    if block.bad_mark:
        return [(block.where(), ["%s: %s" % (block.where(),
                                             block.bad_mark)])]
    out = []
    for kind in block.kinds:
        f = check_as(block, kind, work)
        if f:
            out.append(("%s (%s)" % (block.where(), kind or "whole file"),
                        f))
    return out


def check_as(block, kind, work):
    """Checks block as kind (None: a whole file): returns the lines that
    say why it failed, or [] (and prints what sluice said)."""
    fs = files()
    text = "\n".join(block.lines)
    text = fs.make(text)
    text = nameservers(text)
    text, port_back = ports(text)
    lines = text.split("\n")
    # a line the test rewrote (a path, a port) keeps its line number in
    # sluice's errors, not its columns
    same = [a == b for a, b in zip(block.lines, lines)]
    extra = []
    path = os.path.join(work, "block-%s-%d-%s.yaml"
                        % (re.sub(r"\W", "_", block.src), block.line, kind))
    listen_port = free_port()
    for _ in range(2):
        whole, at, delta, open_end = wrap(kind, lines, listen_port, extra)
        with open(path, "w") as f:
            f.write("\n".join(whole) + "\n")
        rc, out, err = run_check(path, fs.root)
        unknown = re.findall(r'unknown cluster "([^"]+)"', err)
        if rc == 0 or not open_end or not unknown or extra:
            break
        extra = sorted(set(unknown))

    def doc_place(m):
        n, col = int(m.group(2)), int(m.group(3))
        if m.group(1) == path and at < n <= at + len(block.lines):
            i = n - at - 1
            if not same[i]:
                return "%s:%d" % (block.src, block.line + i)
            return "%s:%d:%d" % (block.src, block.line + i,
                                 max(1, col - delta))
        return "%s:%d:%d (added by the test: line %d of %s)" % (
            block.src, block.line, 1, n, path)

    msgs = []
    for x in err.splitlines():
        m = ERR_RE.match(x)
        if m:
            x = "%s: %s: %s" % (doc_place(m), m.group(4), m.group(5))
        for new, old in port_back.items():
            x = x.replace(":" + new, ":" + old)
        x = x.replace(fs.root + "/", "/")
        msgs.append(x)
    what = "a whole file" if kind is None else "fragment: %s" % kind
    if rc == 0 and out.strip() == "configuration OK":
        print("# %s (%s): configuration OK%s" % (
            block.where(), what,
            "; clusters added: " + ", ".join(extra) if extra else ""))
        for x in msgs:
            print("#     " + x)
        return []
    out_lines = ["%s (%s): sluice -t exited %d%s" % (
        block.where(), what, rc,
        "" if kind else " (if it is part of a file, say where it "
        "goes: a first line \"# fragment: KIND\", KIND one of "
        + ", ".join(KINDS) + ")")]
    out_lines += ["    " + x for x in msgs]
    if out.strip() and out.strip() != "configuration OK":
        out_lines.append("    stdout: " + out.strip())
    out_lines.append("    checked as %s:" % path)
    out_lines += ["    %4d  %s" % (i + 1, x) for i, x in enumerate(whole)]
    return out_lines


def check_blocks(blocks):
    work = persistent_tmpdir()
    failures = []
    checked = 0
    for b in blocks:
        if b.skip:
            print("# %s: not checked: %s" % (b.where(), b.skip))
            continue
        failures += check_block(b, work)
        checked += 1
    check(not failures, "%d of %d blocks do not pass sluice -t:\n%s\n"
          "blocks that do not pass: %s"
          % (len(failures), checked,
             "\n".join(x for _, f in failures for x in f),
             ", ".join(w for w, _ in failures)))


def markdown_sources():
    docs = sorted(os.path.relpath(p, TOP_SRCDIR) for p in
                  glob.glob(os.path.join(TOP_SRCDIR, "doc", "*.md")))
    return ["README.md"] + docs


def _register_markdown(rel):
    def fn():
        check_blocks(markdown_blocks(rel))
    fn.__name__ = "yaml_blocks_of_" + re.sub(r"\W", "_", rel)
    test(fn)


for _rel in markdown_sources():
    with open(os.path.join(TOP_SRCDIR, _rel)) as _f:
        if re.search(r"^\s*```yaml\s*$", _f.read(), re.M):
            _register_markdown(_rel)


@test
def yaml_blocks_of_doc_sluice_yaml_5():
    blocks = roff_blocks("doc/sluice.yaml.5")
    check(blocks, 'doc/sluice.yaml.5 has no block marked `.\\" yaml`')
    check_blocks(blocks)


@test
def etc_sluice_yaml():
    with open(os.path.join(TOP_SRCDIR, "etc", "sluice.yaml")) as f:
        lines = f.read().split("\n")
    check_blocks([Block("etc/sluice.yaml", 1, lines)])


@test
def the_rule_finds_the_examples():
    # the extraction itself: an example it does not see is not checked
    n = {rel: len(markdown_blocks(rel)) for rel in markdown_sources()}
    check(n["README.md"] >= 3, "README.md: %d yaml blocks found, expected "
          "the worked example and the two TLS examples" % n["README.md"])
    check(sum(n.values()) >= 30, "only %d yaml blocks in README.md and "
          "doc/*.md: %r" % (sum(n.values()), n))
    unseen = []
    for rel in markdown_sources():
        with open(os.path.join(TOP_SRCDIR, rel)) as f:
            lines = f.read().split("\n")
        fence = None
        for i, x in enumerate(lines):
            m = re.match(r"^\s*```\s*(\S*)(.*)$", x)
            if m and fence is None:
                fence = m.group(1) + m.group(2)
                if fence not in ("", "yaml") and \
                        re.match(r"\s*ya?ml\b", fence, re.I):
                    unseen.append("%s:%d: ```%s (write ```yaml)"
                                  % (rel, i + 1, fence))
            elif m:
                fence = None
            elif fence == "" and re.match(YAML_KEY, x):
                unseen.append("%s:%d: YAML in a fence without yaml"
                              % (rel, i + 1))
    with open(os.path.join(TOP_SRCDIR, "doc", "sluice.yaml.5")) as f:
        lines = f.read().split("\n")
    for i, x in enumerate(lines):
        if x == ".nf" and not lines[i - 1].startswith('.\\" yaml'):
            body = lines[i + 1:lines.index(".fi", i)]
            if any(re.match(YAML_KEY, y) for y in body):
                unseen.append('doc/sluice.yaml.5:%d: YAML in a .nf block '
                              'without `.\\" yaml` before it' % (i + 1))
    check(not unseen, "examples this test does not check:\n"
          + "\n".join(unseen))


if __name__ == "__main__":
    main()
