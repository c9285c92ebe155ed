# SPDX-License-Identifier: MIT
"""Debian's test ACME server, pebble (2.4), for the ACME tests: started on
loopback only, with pebble-challtestsrv as its DNS server, so that every
name an order asks for (shop1.example.test, ...) resolves to 127.0.0.1 and
pebble's http-01 and tls-alpn-01 validations connect to 127.0.0.1 at the
ports the test gives, where sluice answers.

    pb = start_pebble(http_port, tls_port)   # started, directory answering
    pb.directory        # "https://127.0.0.1:PORT/dir"
    pb.ca_file          # the CA of pebble's API certificate (verify with it)
    pb.issuer_pem()     # the root of the certificates pebble issues (PEM)
    pb.count("POST /order-plz"), pb.log()
    pb.stop()           # also done at the end of the test, and at exit

Python 3 standard library and sltest only; the API certificate is made
with the openssl command (sltest.Pki). Pebble forgets everything when it
stops, and makes a new issuing root at every start.

The directory (pebble 2.4): keyChange, newAccount, newNonce, newOrder,
revokeCert and meta {termsOfService, externalAccountRequired (true with
eab)}; no renewalInfo (no ARI in 2.4), no caaIdentities, no website.

What pebble 2.4 logs (one line each, "Pebble DATE TIME " first), for
count():
  a new order              "POST /order-plz" (also "Added order")
  any request              "<METHOD> <path> -> calling handler()", the path
                           without its id ("POST /chalZ/", "HEAD /nonce-plz")
  a validation             "Starting 3 validations." then three
                           "Attempting to validate w/ HTTP: http://NAME:PORT/
                           .well-known/acme-challenge/TOKEN": pebble 2.4
                           fetches the token three times, concurrently
  a passed one             "set VALID by completed challenge"
  a failed one             "set INVALID by completed challenge" and
                           "set INVALID by invalid authz" (the order); why
                           (404, refused...) is only in the authorization's
                           challenge "error", not in the log
  an issued certificate    "Issued certificate serial"
  a badNonce rejection     nothing: pebble does not log it (only the POST's
                           "calling handler()" line); count it on the
                           client's side
"""

import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import sltest

PEBBLE = "/usr/bin/pebble"
CHALLTESTSRV = "/usr/bin/pebble-challtestsrv"


def have_pebble():
    """Whether pebble, pebble-challtestsrv and openssl are installed."""
    return (os.access(PEBBLE, os.X_OK) and os.access(CHALLTESTSRV, os.X_OK)
            and sltest.have_openssl())


def _dir():
    """A directory for one pebble: removed after the current test, or at
    exit when none runs."""
    if sltest._current is not None:
        return sltest.tmpdir()
    return sltest.persistent_tmpdir()


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


class Pebble:
    """A pebble and its pebble-challtestsrv. Use start_pebble()."""

    def __init__(self, http_port, tls_port, validity_s=None, eab=None,
                 nonce_reject=0, authz_reuse=0, env=None):
        self.http_port = http_port
        self.tls_port = tls_port
        self.dir = _dir()
        self.procs = []
        # the ports of pebble's own servers and of challtestsrv's
        self.port = sltest.free_port()          # the ACME API
        self.mgmt_port = sltest.free_port()     # pebble's management API
        self.dns_port = sltest.free_port()      # challtestsrv DNS, UDP+TCP
        self.cts_port = sltest.free_port()      # challtestsrv management
        self.directory = "https://127.0.0.1:%d/dir" % self.port
        self.mgmt = "https://127.0.0.1:%d" % self.mgmt_port
        self.challtestsrv = "http://127.0.0.1:%d" % self.cts_port
        self.log_path = os.path.join(self.dir, "pebble.log")
        self.cts_log_path = os.path.join(self.dir, "challtestsrv.log")

        # pebble's API certificate: localhost and 127.0.0.1, signed by a
        # throwaway CA
        pki = sltest.Pki(self.dir)
        pki.ca("ca", "/O=Sluice Test/CN=pebble API CA")
        pki.leaf("api", "/O=Sluice Test/CN=localhost", "ca", ["localhost"],
                 ips=["127.0.0.1"], days=2)
        self.ca_file = pki["ca"].cert

        conf = {
            "listenAddress": "127.0.0.1:%d" % self.port,
            "managementListenAddress": "127.0.0.1:%d" % self.mgmt_port,
            "certificate": pki["api"].cert,
            "privateKey": pki["api"].key,
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": bool(eab),
        }
        if eab:
            conf["externalAccountMACKeys"] = dict(eab)
        if validity_s is not None:
            conf["certificateValidityPeriod"] = int(validity_s)
        self.conf_path = os.path.join(self.dir, "pebble-config.json")
        with open(self.conf_path, "w") as f:
            json.dump({"pebble": conf}, f, indent=2)

        self._start_challtestsrv()
        penv = dict(os.environ)
        penv.update({"PEBBLE_VA_NOSLEEP": "1",
                     "PEBBLE_WFE_NONCEREJECT": str(int(nonce_reject)),
                     "PEBBLE_AUTHZREUSE": str(int(authz_reuse))})
        penv.update(env or {})
        self.proc = self._spawn(
            [PEBBLE, "-config", self.conf_path,
             "-dnsserver", "127.0.0.1:%d" % self.dns_port],
            self.log_path, penv)
        self._wait_directory()

    # -- start-up ---------------------------------------------------------

    def _spawn(self, args, log_path, env=None):
        out = open(log_path, "wb")
        try:
            p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, env=env,
                                 cwd=self.dir)
        finally:
            out.close()
        self.procs.append(p)
        sltest._all_procs.append(p)
        if len(self.procs) == 1:
            sltest._register("upstreams", self)     # stop() after the test
            sltest.on_watchdog(self.kill)
        return p

    def _start_challtestsrv(self):
        # DNS only: every A query answers 127.0.0.1, AAAA none (sluice
        # listens on 127.0.0.1); its challenge servers are off, so that
        # none takes http_port or tls_port; its management API (which
        # cannot be off: "" would mean port 80) on a free loopback port
        self.cts_args = [
            CHALLTESTSRV,
            "-dns01", "127.0.0.1:%d" % self.dns_port,
            "-http01", "", "-https01", "", "-tlsalpn01", "",
            "-management", "127.0.0.1:%d" % self.cts_port,
            "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""]
        self.cts = self._spawn(self.cts_args, self.cts_log_path)
        deadline = time.monotonic() + 10
        while True:
            if self.cts.poll() is not None:
                self.stop()
                raise AssertionError(
                    "pebble-challtestsrv exited with %s:\n%s"
                    % (self.cts.returncode, _read(self.cts_log_path)))
            if _listening(self.dns_port) and _listening(self.cts_port):
                return
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(
                    "pebble-challtestsrv did not listen on %d and %d:\n%s"
                    % (self.dns_port, self.cts_port,
                       _read(self.cts_log_path)))
            time.sleep(0.02)

    def _wait_directory(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        last = None
        while True:
            if self.proc.poll() is not None:
                out = self.log()
                self.stop()
                raise AssertionError("pebble exited with %s at start-up:\n%s"
                                     % (self.proc.returncode, out))
            try:
                d = json.loads(self.get(self.directory, timeout=2))
                if "newNonce" in d:
                    self.dir_json = d
                    return
                last = "no newNonce in %r" % d
            except (OSError, ValueError, urllib.error.URLError) as e:
                last = e
            if time.monotonic() > deadline:
                out = self.log()
                self.stop()
                raise AssertionError(
                    "pebble's directory %s did not answer within %.0fs "
                    "(%s):\n%s" % (self.directory, timeout, last, out))
            time.sleep(0.05)

    # -- use --------------------------------------------------------------

    def context(self):
        """An SSLContext that verifies pebble's API (and management API)
        certificate: chain against ca_file, name 127.0.0.1 or localhost."""
        return ssl.create_default_context(cafile=self.ca_file)

    def get(self, url, timeout=5.0):
        """GET an https URL of pebble (API or management), verified
        against ca_file; returns the body (text). A status >= 400
        raises urllib.error.HTTPError."""
        with urllib.request.urlopen(url, timeout=timeout,
                                    context=self.context()) as r:
            return r.read().decode("utf-8", "replace")

    def issuer_pem(self, intermediates=False):
        """The PEM of the root certificate that pebble's issued
        certificates chain to (management API /roots/0), made anew at
        each start: the trust anchor to verify a certificate sluice
        serves. With intermediates, /intermediates/0 follows it (pebble
        sends the intermediate with every certificate it issues, so a
        complete served chain needs only the root)."""
        pem = self.get(self.mgmt + "/roots/0")
        if intermediates:
            pem = pem.rstrip("\n") + "\n" + self.get(
                self.mgmt + "/intermediates/0")
        return pem

    def log(self):
        """pebble's stdout and stderr so far (text)."""
        return _read(self.log_path)

    def challtestsrv_log(self):
        """pebble-challtestsrv's output so far (text)."""
        return _read(self.cts_log_path)

    def count(self, pattern):
        """How many lines of pebble's log contain pattern (a substring)."""
        return sum(1 for line in self.log().splitlines() if pattern in line)

    def kill(self):
        """SIGKILL to both processes (the watchdog's hook)."""
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.kill()
                except OSError:
                    pass

    def stop(self):
        """Stops both processes (SIGTERM, SIGKILL after 5 s). Idempotent;
        done after the current test and at exit anyway."""
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGTERM)
                except OSError:
                    pass
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
        return True
    except OSError:
        return False


def start_pebble(http_port, tls_port, validity_s=None, eab=None,
                 nonce_reject=0, authz_reuse=0, env=None):
    """Starts pebble-challtestsrv and pebble on 127.0.0.1 and waits until
    pebble's directory answers (raises AssertionError with their output
    otherwise). Returns the Pebble.

    http_port, tls_port: where pebble's http-01 and tls-alpn-01
        validations connect, on 127.0.0.1 whatever the name validated
        (challtestsrv answers every A query with 127.0.0.1, AAAA with
        nothing).
    validity_s: the lifetime of the certificates pebble issues, seconds
        (certificateValidityPeriod, seconds in pebble 2.4): notBefore is
        the issuance time (not backdated), notAfter notBefore + validity_s
        - 1 s; None: pebble's default, 157766400 s (5 years).
    eab: {"kid": "key"}: external account binding required, with these
        HMAC keys (the key as pebble reads it: base64url, no padding).
    nonce_reject: percentage of good nonces pebble rejects with badNonce
        (PEBBLE_WFE_NONCEREJECT; pebble's own default is 5, ours 0).
    authz_reuse: percentage of orders that reuse a valid authorization
        (PEBBLE_AUTHZREUSE; pebble's default 50, ours 0).
    env: more environment for pebble (e.g. {"PEBBLE_VA_ALWAYS_VALID":
        "1"}, {"PEBBLE_CHAIN_LENGTH": "2"}), over the above.
    """
    if not have_pebble():
        raise sltest.Skip("pebble, pebble-challtestsrv or openssl missing")
    return Pebble(http_port, tls_port, validity_s=validity_s, eab=eab,
                  nonce_reject=nonce_reject, authz_reuse=authz_reuse,
                  env=env)
