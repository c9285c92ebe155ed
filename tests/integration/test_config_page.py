# SPDX-License-Identifier: MIT
"""The admin listener's /config shows the whole running configuration:
every key of the file, with its default filled in where the file leaves
it out, in the file's names (a duration as NAME_ms, a rate as
NAME_bytes_per_s, a percentage as NAME_percent, sizes in bytes), strings
JSON-escaped and never cut, and no key file named (nor a password: the
Redis password's file is named, and whether a password was read).

The key lists are read from the schema files src/conf*.c (the arrays the
loader checks every mapping against): a key added there and not set by
this test's configuration fails the test, and so does one that the
configuration sets but /config does not show. operations.md section 5
and sluice(8) rely on it (a 404 is compared with the routes' match in
/config).

A route's waf shows its rules as the files their patterns matched and
its exclude as the ModSecurity directives the items became; with a
sluice built without libmodsecurity (which refuses a route's waf) the
routes' waf is left out of what is started, and its keys are still
required of full_config."""

import glob
import json
import os
import re
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sltest import (TOP_SRCDIR, Pki, Skip, TLSClient, check,  # noqa: E402
                    eq, free_port, get, have_openssl, main, run_sluice,
                    start_sluice, test, tmpdir)

# ---------------------------------------------------------------------------
# What the loader accepts


def conf_key_lists():
    """{"top": [...], "listener": [...], ...}: the NAME_keys arrays of
    the schema files src/conf*.c (conf.c and the files it calls)."""
    srcdir = os.path.join(TOP_SRCDIR, "src", "conf")
    out = {}
    for name in sorted(os.listdir(srcdir)):
        if not re.match(r"conf\w*\.c$", name):
            continue
        with open(os.path.join(srcdir, name)) as f:
            src = f.read()
        for m in re.finditer(r"static const char \*const (\w+)_keys\[\]"
                             r"\s*=\s*\{(.*?)\};", src, re.S):
            check(m.group(1) not in out,
                  "%s_keys is defined twice in src/conf*.c" % m.group(1))
            out[m.group(1)] = re.findall(r'"([^"]*)"', m.group(2))
    check(len(out) >= 10, "key lists found in %s/conf*.c: %r" %
          (srcdir, sorted(out)))
    return out


# Where each kind of mapping sits: (kind, key) -> kind of its value (a
# mapping, or a list of mappings). The JSON of /config has the same key.
NESTED = {
    ("top", "admin"): "admin",
    ("admin", "auth"): "admin_auth",
    ("admin", "tls"): "tls_server",
    ("top", "log"): "log",
    ("top", "listeners"): "listener",
    ("top", "clusters"): "cluster",
    ("listener", "limits"): "limits",
    ("listener", "tls"): "tls_server",
    ("listener", "routes"): "route",
    ("listener", "request_headers"): "header_rules",
    ("listener", "response_headers"): "header_rules",
    ("route", "request_headers"): "header_rules",
    ("route", "response_headers"): "header_rules",
    ("listener", "proxy_protocol"): "proxy_protocol",
    ("listener", "http3"): "http3",
    ("tls_server", "certificates"): "tls_cert",
    ("route", "match"): "match",
    ("route", "split"): "split",
    ("route", "retry"): "retry",
    ("route", "mirror"): "mirror",
    ("cluster", "endpoints"): "endpoint",
    ("cluster", "pool"): "pool",
    ("cluster", "health_check"): "health",
    ("cluster", "outlier"): "outlier",
    ("cluster", "tls"): "tls_client",
    ("route", "rate_limit"): "rate_limit",
    ("top", "rate_limit_store"): "rate_limit_store",
    ("top", "resolver"): "resolver",
    ("cluster", "dns"): "dns",
    ("route", "guard"): "guard",
    ("route", "auth"): "auth",
    ("auth", "jwt"): "jwt",
    ("jwt", "keys"): "jwt_keys",  # a mapping, or a file's path
    ("auth", "external"): "external",
    ("external", "cache"): "external_cache",
    ("top", "tracing"): "tracing",
    ("route", "tracing"): "route_tracing",
    ("top", "waf"): "waf",
    ("route", "waf"): "route_waf",
    ("route_waf", "exclude"): "route_waf_exclude",  # an id, or a mapping
    ("route_waf", "limits"): "route_waf_limits",
    ("top", "compress"): "compress",
    ("route", "compress"): "route_compress",
    ("top", "idempotency"): "idem",
    ("route", "idempotency"): "route_idem",
    ("top", "acme"): "acme",
    ("acme", "eab"): "eab",
}
# a JSON Web Key set of one public P-256 key (doc/auth.md), made for the
# tests (its private half was never kept)
JWKS = ('{"keys": [{"kty": "EC", "crv": "P-256", '
        '"x": "n_P3yv83hrzbe4d1QK2hZl5h1eNSk28X4CTIC4D01u4", '
        '"y": "QQTp7yg7ohYabW9VLD7po-finBgtneIJUNCltqEQYQE", '
        '"kid": "cfg-key", "use": "sig"}, {"kty": "oct", "k": "AA"}]}\n')

DURATION = re.compile(r"^(\d+)(ms|s|m|h)$")
SIZE = re.compile(r"^(\d+)(B|KiB|MiB|GiB)$")
PERCENT = re.compile(r"^(\d+)%$")
UNIT_MS = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000}
UNIT_B = {"B": 1, "KiB": 1024, "MiB": 1 << 20, "GiB": 1 << 30}


def shown_as(kind, key, value):
    """(the key in /config, the value it must have) for key: value of a
    mapping of kind in the file; (None, None) for what must not show."""
    if key == "key" and kind in ("tls_client", "tls_cert"):
        return None, None
    if (kind, key) == ("route_waf", "rules"):
        # the files, each pattern's matches sorted
        return key, [f for p in ([value] if isinstance(value, str)
                                 else value)
                     for f in sorted(glob.glob(p))]
    if (kind, key) == ("route_idem", "release"):
        # a whole class as the file says it ("5xx"; issue 61: it was
        # expanded into 100 statuses), a status outside the classes as
        # itself, in the order of the statuses
        classes = [str(v) for v in value if str(v).endswith("xx")]
        codes = set(int(v) for v in value if not str(v).endswith("xx")
                    and str(int(v) // 100) + "xx" not in classes)
        return key, sorted(classes + list(codes), key=lambda v: (
            int(v[0]) * 100 if isinstance(v, str) else v))
    if (kind, key) in (("route_compress", "window"),
                       ("route_compress", "min_length"),
                       ("compress", "memory"), ("idem", "memory")):
        # sizes named for what they are: bytes, under their names
        m = SIZE.match(value)
        return key, int(m.group(1)) * UNIT_B[m.group(2)]
    if (kind, key) == ("route_waf", "body_limit"):
        # a size that is no rate and not named *_bytes: bytes, its name
        m = SIZE.match(value)
        return key, int(m.group(1)) * UNIT_B[m.group(2)]
    if (kind, key) == ("tls_client", "cert"):
        return "client_cert", value
    if (kind, key) == ("acme", "contact"):
        return key, "mailto:" + value
    if (kind, key) == ("acme", "account_key"):
        return None, None   # a private key's file: never named
    if isinstance(value, str):
        m = DURATION.match(value)
        if m:
            return key + "_ms", int(m.group(1)) * UNIT_MS[m.group(2)]
        m = SIZE.match(value)
        if m:
            n = int(m.group(1)) * UNIT_B[m.group(2)]
            return (key if key.endswith("_bytes")
                    else key + "_bytes_per_s"), n
        m = PERCENT.match(value)
        if m:
            return (key if key.endswith("percent")
                    else key + "_percent"), int(m.group(1))
    if kind == "external" and key.endswith("headers"):
        return key, [x.lower() for x in value]
    if (kind, key) == ("match", "host"):
        return key, value.lower()
    if (kind, key) == ("match", "headers"):
        return key, {k.lower(): v for k, v in value.items()}
    if (key in ("sticky", "hash_key") or (kind, key) == ("rate_limit", "key")
            or (kind, key) == ("jwt", "token")) \
            and value.startswith("header:"):
        return key, "header:" + value[len("header:"):].lower()
    return key, value


def exclusion(item):
    """The directive /config shows for an item of a route's waf.exclude."""
    if isinstance(item, dict) and "field" in item:
        return 'SecRuleUpdateTargetById %d "!%s"' % (item["rule"],
                                                      item["field"])
    return "SecRuleRemoveById %d" % (item["rule"] if isinstance(item, dict)
                                     else item)


def walk(kind, f, j, where, out):
    """Appends (kind, file mapping, /config object, where) for f and the
    mappings under it."""
    if kind == "endpoint" and isinstance(f, str):
        f = {"address": f}
    if kind == "route_waf_exclude":
        eq(j, exclusion(f), "%s in /config" % where)
        return
    check(isinstance(j, dict), "%s: /config has %r for a mapping"
          % (where, j))
    out.append((kind, f, j, where))
    for k, v in f.items():
        sub = NESTED.get((kind, k))
        if sub is None or isinstance(v, str):
            continue
        check(k in j, "%s: %r missing from /config" % (where, k))
        if isinstance(v, list):
            check(isinstance(j[k], list) and len(j[k]) == len(v),
                  "%s.%s: /config has %r" % (where, k, j[k]))
            for i, x in enumerate(v):
                walk(sub, x, j[k][i], "%s.%s[%d]" % (where, k, i), out)
        else:
            walk(sub, v, j[k], "%s.%s" % (where, k), out)


def compare(cfg, shown):
    """Every key the file sets appears in /config with its value."""
    objs = []
    walk("top", cfg, shown, "config", objs)
    for kind, f, j, where in objs:
        for k, v in f.items():
            if (kind, k) in NESTED and not isinstance(v, str):
                continue
            jk, want = shown_as(kind, k, v)
            if jk is None:
                check(k not in j, "%s: %r shown in /config" % (where, k))
                continue
            check(jk in j, "%s: %r (%r in the file) missing from /config: "
                  "%s" % (where, jk, k, json.dumps(j)[:600]))
            eq(j[jk], want, "%s.%s in /config" % (where, jk))
    return objs


# ---------------------------------------------------------------------------
# Files

_pki = []


def pki():
    if not have_openssl():
        raise Skip("the openssl command is not installed")
    if not _pki:
        p = Pki()
        p.ca("ca", "/O=Sluice Test/CN=Sluice Test CA")
        p.leaf("srv", "/O=Example Corp/CN=pay.example.test", "ca",
               ["pay.example.test"])
        p.ca("cca", "/O=Example Corp/CN=Example Client CA")
        p.leaf("gw", "/O=Example Corp/CN=sluice-gw", "cca")
        _pki.append(p)
    return _pki[0]


def closed_port():
    return "127.0.0.1:%d" % free_port()


# A value with every kind of byte a JSON string must escape, non-ASCII
# text, and longer than any buffer a value might be cut to
ODD = 'a "quoted" \\ back\tslash caf\u00e9 \u2713 ' + "x" * 1200


REDIS_PW = "redis-pw-in-no-page-3e8a"
# acme.eab's MAC key (base64url), in no page either
EAB_KEY = "eab-mac-key-in-no-page-0123456789abcdef"
# admin.auth's token and user (doc/dashboard.md), in no page either
ADMIN_TOKEN = "admin-token-in-no-page-5c1d"
ADMIN_USER = "ops:admin-pw-in-no-page-77e0"


def full_config():
    """A configuration that sets every key, each to a value other than
    its default. Returns (config, admin port, key files)."""
    p = pki()
    d = tmpdir()
    aport = free_port()
    access = os.path.join(d, 'access "log" \u00e9.txt')
    # /config names the password file, never the password (REDIS_PW)
    hosts = os.path.join(d, "merchants.hosts")
    with open(hosts, "w") as f:
        f.write("# merchants\nshop1.example\n*.tenants.example\n")
    keyfile = os.path.join(d, "idempotency.key")
    fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, b"ab" * 32 + b"\n")
    os.close(fd)
    oldkey = os.path.join(d, "idempotency-old.key")
    fd = os.open(oldkey, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, b"cd" * 32)
    os.close(fd)
    pwfile = os.path.join(d, "redis-password")
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(REDIS_PW + "\n")
    jwks = os.path.join(d, "jwks.json")
    with open(jwks, "w") as f:
        f.write(JWKS)
    eabfile = os.path.join(d, "acme-eab.key")
    fd = os.open(eabfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(EAB_KEY + "\n")
    secure_port = free_port()
    tokfile, userfile = (os.path.join(d, "admin-token"),
                         os.path.join(d, "admin-user"))
    for path, secret in ((tokfile, ADMIN_TOKEN), (userfile, ADMIN_USER)):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secret + "\n")
    # a route's waf: a file, then a pattern of two (shown expanded)
    os.makedirs(os.path.join(d, "waf"))
    for name, rule in (("waf-first.conf", 'SecRule ARGS "@contains attack" '
                        '"id:10001,phase:2,deny,status:403"'),
                       ("waf/a.conf", 'SecRule ARGS "@contains probe" '
                        '"id:10002,phase:2,deny,status:403"'),
                       ("waf/b.conf", 'SecRule REQUEST_HEADERS "@contains x" '
                        '"id:10003,phase:1,pass,nolog"')):
        with open(os.path.join(d, name), "w") as f:
            f.write(rule + "\n")
    cfg = {
        "workers": 2,
        "admin": {"address": "127.0.0.1:%d" % aport,
                  "auth": {"token_file": tokfile, "basic_file": userfile},
                  "hosts": ["*", "gw.example"],
                  "route_metrics": "off",
                  "tls": {"certificates": [{"cert": p["srv"].cert,
                                            "key": p["srv"].key}],
                          "min_version": "TLSv1.3"}},
        "log": {"level": "warn", "access": access,
                "access_format": "combined", "query": "full",
                "mask_card_numbers": False},
        "drain_timeout": "7s",
        # a nameserver that never answers: the names below get no
        # address, and start-up waits its one short try
        "resolver": {"nameservers": [closed_port()],
                     "timeout": "100ms", "attempts": 1},
        "watch": True, "watch_debounce": "2s",
        "rate_limit_store": {"address": closed_port(), "timeout": "20ms",
                             "prefix": "test:", "username": "sluice-gw",
                             "password_file": pwfile},
        "tracing": {"cluster": "hashed", "path": "/otlp/v1/traces",
                    "service_name": "pay-edge", "sample": 0.25,
                    "batch": 100, "queue": 1000, "interval": "2s",
                    "timeout": "3s", "max_retries": 2},
        "waf": {"threads": 2, "queue": 64, "client_budget": "500ms",
                "client_burst": "5s", "client_key": "caller",
                "priority": "low", "guard": "20ms",
                "log": os.path.join(d, "waf.log")},
        "compress": {"memory": "64MiB"},
        "idempotency": {"memory": "32MiB", "key_file": keyfile,
                        "previous_key_files": [oldkey]},
        # acme (doc/tls.md section 8): a CA nobody listens at; the
        # names' orders fail (warn lines) while the page is read
        "acme": {"directory": "https://%s/directory" % closed_port(),
                 "storage": os.path.join(d, "acme"),
                 "contact": "ops@example.com", "ca_file": p["ca"].cert,
                 "account_key": p["srv"].key,
                 "eab": {"kid": "kid-7", "hmac_key_file": eabfile},
                 "key_type": "rsa", "challenge": "tls-alpn-01",
                 "http_port": 8080, "tls_port": secure_port,
                 "timeout": "5s", "retry": "2s", "retry_max": "30s",
                 "store": "redis", "key_file": keyfile},
        "listeners": [
            {"name": "plain", "address": "127.0.0.1:%d" % free_port(),
             "limits": {"header_timeout": "11s", "body_timeout": "31s",
                        "send_timeout": "32s", "idle_timeout": "61s",
                        "max_uri_bytes": "4KiB",
                        "max_header_bytes": "16KiB",
                        "max_headers": 50, "max_body_bytes": "2MiB",
                        "buffer_bytes": "32KiB", "max_requests": 1000,
                        "min_body_rate": "1KiB", "min_send_rate": "2KiB",
                        "max_connections": 500,
                        "max_connections_per_ip": 20,
                        "max_concurrent_streams": 50,
                        "max_header_list_bytes": "8KiB",
                        "tunnel_idle_timeout": "301s",
                        "tunnel_lifetime": "2h",
                        "tunnel_drain_timeout": "61s",
                        "tunnel_buffer_bytes": "8KiB",
                        "max_tunnels": 100, "max_tunnels_per_ip": 5},
             "protocols": ["h2", "http/1.1"],
             "allow": ["10.0.0.0/8", "2001:db8::/32"],
             "deny": ["10.66.0.0/16"],
             "request_headers": {"set": {"X-Client-IP": "${client_ip}",
                                         "X-Odd": ODD},
                                 "add": {"Via": "1.1 sluice"},
                                 "remove": ["X-Debug", "x-internal"]},
             "response_headers": {
                 "set": {"Strict-Transport-Security": "max-age=63072000"},
                 "add": {"X-Price": "$$5"},
                 "remove": ["Server", "X-Powered-By"]},
             # ranges as /config writes them back
             "proxy_protocol": {"from": ["10.0.0.0/8", "192.0.2.10/32"],
                                "versions": [2]},
             "trusted_proxies": ["10.0.0.0/8", "2001:db8::/32"],
             "client_address_header": "forwarded",
             "untrusted_forwarded": "strip",
             "trace_context": "always",
             "routes": [
                 {"name": "pay",
                  "match": {"host": "*.Example.COM", "path_prefix": "/v1/",
                            "methods": ["GET", "POST"],
                            "headers": {"X-Canary": ODD}},
                  "cluster": "pay",
                  "mirror": {"cluster": "shadow", "percent": 25},
                  "timeout": "12s",
                  "expose_cluster_header": "X-Served-By",
                  "allow": ["192.0.2.0/24"],
                  "deny": ["192.0.2.66/32", "::1/128"],
                  "request_headers": {"set": {"X-Route": "${route}"},
                                      "add": {"X-Id": "${request_id}"},
                                      "remove": ["Cookie"]},
                  "response_headers": {
                      "set": {"X-Cluster": "${cluster}"},
                      "add": {"X-Tls": "${tls_version}"},
                      "remove": ["X-Internal"]},
                  "max_body_bytes": "1MiB",
                  "upgrade": ["websocket", "x-chat"],
                  "auth": {"jwt": {
                      "keys": jwks, "algorithms": ["ES256", "EdDSA"],
                      "issuer": ["https://id.test"],
                      "audience": ["pay", "refunds"],
                      "clock_skew": "45s", "require_exp": False,
                      "token": "header:X-Token", "forward_token": False,
                      "require": {"scope": ["pay:write"], "tenant": []},
                      "claims_to_headers": {"sub": "X-Caller-Id"}}},
                  "retry": {"attempts": 3,
                            "on": ["connect-failure", "reset", "timeout",
                                   "502", "503", "504"],
                            "idempotency_key": True,
                            "per_try_timeout": "4s", "budget": "30%"},
                  # body_limit with the listener's max_header_bytes
                  # (16KiB) within its buffer_bytes (32KiB)
                  "waf": {"rules": [os.path.join(d, "waf-first.conf"),
                                    os.path.join(d, "waf", "*.conf")],
                          "mode": "detect", "body_limit": "8KiB",
                          "on_body_limit": "partial", "timeout": "250ms",
                          "on_failure": "allow", "failure_status": 403,
                          "audit": True,
                          "untyped_body": "application/json",
                          "limits": {"cookies": 50, "args": 500,
                                     "json_depth": 8,
                                     "args_bytes": "16KiB"},
                          "exclude": [10003,
                                      {"rule": 10001,
                                       "field": "ARGS:json.note"},
                                      {"rule": 10002}]},
                  "compress": {"algorithms": ["gzip", "zstd"],
                               "gzip_level": 7, "brotli_level": 6,
                               "zstd_level": 9, "window": "16KiB",
                               "min_length": "1KiB",
                               "types": ["application/json", "text/*"],
                               "credentials": "compress"},
                  "idempotency": {"store": "redis",
                                  "methods": ["POST", "PUT"],
                                  "required": True, "ttl": "2h",
                                  "caller": "header",
                                  "caller_header": "X-Client",
                                  "max_request_bytes": "8KiB",
                                  "max_response_bytes": "16KiB",
                                  "release": ["5xx", 409],
                                  "fail": "open", "wait": "2s"},
                  "rate_limit": [
                      {"name": "per-key", "key": "header:X-Api-Key",
                       "rate": "10/s", "burst": 20, "scope": "local",
                       "max_keys": 1000},
                      {"name": "per-ip", "key": "client_ip",
                       "rate": "100/m", "burst": 5, "scope": "fleet",
                       "max_keys": 100, "on_store_error": "deny"}]},
                 {"name": "migrate", "match": {"path": "/exact"},
                  "split": [{"cluster": "pay", "weight": 90},
                            {"cluster": "hashed", "weight": 10}],
                  "sticky": "header:X-User-Id", "split_failover": False,
                  "tracing": {"sample": 0.1},
                  "guard": {"stable": "hashed", "window": "30s",
                            "min_requests": 20, "margin": "2%",
                            "latency": "500ms", "percentile": 95}},
                 {"name": "merchants", "match": {"hosts_file": hosts},
                  "cluster": "pay"},
                 {"name": "checked", "match": {"path_prefix": "/c"},
                  "cluster": "pay",
                  "auth": {"external": {
                      "cluster": "hashed", "path": "/authz",
                      "timeout": "250ms",
                      "headers": ["Authorization", "X-Api-Key"],
                      "upstream_headers": ["X-Caller-Id"],
                      "client_headers": ["WWW-Authenticate"],
                      "on_failure": "allow", "failure_status": 403,
                      "failure_header": "X-Unchecked",
                      "body_bytes": "2KiB",
                      "cache": {"max_entries": 500, "ttl": "5s"}}}},
                 {"name": "grpc-checked", "match": {"path_prefix": "/g"},
                  "cluster": "pay",
                  "auth": {"external": {"cluster": "authz-grpc",
                                        "protocol": "grpc"}}},
                 {"name": "fetched", "match": {"path_prefix": "/f"},
                  "cluster": "pay",
                  "auth": {"jwt": {"keys": {
                      "url": "http://idp.test/.well-known/jwks.json",
                      "cluster": "hashed", "refresh": "10m",
                      "refetch_interval": "1m", "timeout": "2s"}}}},
             ]},
            {"name": "secure", "address": "127.0.0.1:%d" % secure_port,
             "tls": {"certificates": [{"cert": p["srv"].cert,
                                       "key": p["srv"].key}],
                     "acme": ["shop.example.test"],
                     "min_version": "TLSv1.3",
                     "ciphers": "ECDHE+AESGCM",
                     "ciphersuites": "TLS_AES_256_GCM_SHA384",
                     "session_tickets": False, "session_cache": 100,
                     "client_ca": p["cca"].cert,
                     "client_verify": "optional",
                     "client_subject_header": "X-Client-Subject"},
             "http3": {"alt_svc_max_age": "2h", "retry": "always",
                       "retry_threshold": 50, "max_connections": 500,
                       "max_handshakes_per_ip": 20},
             "routes": [{"name": "all", "cluster": "hashed"}]},
        ],
        "clusters": [
            {"name": "pay",
             "endpoints": [closed_port(),
                           {"address": closed_port(), "weight": 3}],
             "balance": "least_request",
             "connect_timeout": "2s",
             "pool": {"max_idle": 8, "idle_timeout": "9s",
                      "max_requests": 50},
             "max_connections": 40, "max_pending": 7,
             "queue_timeout": "3s",
             "health_check": {"path": "/healthz?full=1", "interval": "11s",
                              "timeout": "900ms", "healthy": 3,
                              "unhealthy": 4,
                              "expect_status": [204, "3xx"]},
             "outlier": {"consecutive_errors": 6, "ejection_time": "45s",
                         "max_ejected_percent": "40%"},
             "tls": {"sni": "pay.internal", "ca": p["ca"].cert,
                     "verify": False, "cert": p["gw"].cert,
                     "key": p["gw"].key, "min_version": "TLSv1.3"},
             "proxy_protocol": "v2"},
            {"name": "hashed", "endpoints": [closed_port()],
             "balance": "hash", "hash_key": "cookie:Session"},
            {"name": "authz-grpc", "endpoints": [closed_port()],
             "protocol": "h2c"},
            {"name": "shadow",
             "endpoints": [closed_port(), "shadow.test:8080",
                           {"address": "shadow-b.test:8080", "weight": 2},
                           {"srv": "_http._tcp.shadow.test"}],
             "dns": {"family": "ipv4", "min_ttl": "2s", "max_ttl": "1m",
                     "keep_stale": "30s"}},
        ],
    }
    if not quic_built():
        # a build without HTTP/3 refuses the key (-t says why)
        for lst in cfg["listeners"]:
            lst.pop("http3", None)
    return cfg, aport, [p["srv"].key, p["gw"].key]


def quic_built():
    """Whether this sluice serves HTTP/3 (sluice -V names libngtcp2)."""
    _, out, err = run_sluice(["-V"])
    return "libngtcp2 (not built" not in out + err


def minimal_config():
    """Every optional part left out, and the blocks whose keys all have
    defaults given empty."""
    p = pki()
    aport = free_port()
    cfg = {
        "admin": {"address": "127.0.0.1:%d" % aport},
        "listeners": [
            {"name": "main", "address": "127.0.0.1:%d" % free_port(),
             "routes": [{"cluster": "c"}]},
            {"name": "secure", "address": "127.0.0.1:%d" % free_port(),
             "tls": {"certificates": [{"cert": p["srv"].cert,
                                       "key": p["srv"].key}]},
             "routes": [{"cluster": "d"}]},
        ],
        "clusters": [
            {"name": "c", "endpoints": [closed_port()]},
            {"name": "d", "endpoints": [closed_port()],
             "health_check": {}, "outlier": {}, "tls": {},
             "balance": "hash"},
        ],
    }
    return cfg, aport


_modsecurity = []


def have_modsecurity():
    """Whether this sluice was built with libmodsecurity (-t refuses a
    route's waf otherwise)."""
    if not _modsecurity:
        d = tmpdir()
        rules = os.path.join(d, "probe.conf")
        with open(rules, "w") as f:
            f.write('SecRule ARGS "@contains x" "id:10009,phase:2,pass"\n')
        path = os.path.join(d, "probe.yaml")
        with open(path, "w") as f:
            f.write("listeners:\n  - name: l\n    address: 127.0.0.1:%d\n"
                    "    routes:\n      - cluster: c\n        waf: "
                    "{ rules: [%s] }\nclusters:\n  - { name: c, "
                    "endpoints: [\"127.0.0.1:9\"] }\n"
                    % (free_port(), rules))
        rc, _, err = run_sluice(["-t", "-c", path])
        check(rc == 0 or "built without libmodsecurity" in err,
              "-t on a route with a waf: %r" % err)
        _modsecurity.append(rc == 0)
    return _modsecurity[0]


def without_route_waf(cfg):
    """cfg for this sluice: its routes' waf left out when it was built
    without libmodsecurity."""
    if have_modsecurity():
        return cfg
    for lst in cfg["listeners"]:
        for r in lst["routes"]:
            r.pop("waf", None)
    return cfg


def config_of(aport, tls=False):
    """/config; tls: over TLS with the token (full_config's admin)."""
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c = TLSClient(aport, ctx=ctx, timeout=5.0)
        try:
            r = c.request("GET", "/config",
                          {"Authorization": "Bearer " + ADMIN_TOKEN})
        finally:
            c.close()
    else:
        r = get(aport, "/config", timeout=5.0)
    eq(r.status, 200, "status of /config")
    eq(r.header("content-type"), "application/json", "Content-Type")
    return r.body.decode("utf-8"), json.loads(r.body.decode("utf-8"))


# ---------------------------------------------------------------------------
# Tests


@test
def config_shows_every_key_of_the_file():
    lists = conf_key_lists()
    cfg, aport, keyfiles = full_config()
    kinds = set(k for k in NESTED.values()) | {"top"}
    # every key the loader accepts is set by the configuration above
    set_keys = {}
    for kind, f in _mappings("top", cfg):
        set_keys.setdefault(kind, set()).update(f)
    for name, keys in sorted(lists.items()):
        if name == "http3" and not quic_built():
            continue
        check(name in kinds, "src/conf*.c has %s_keys, a kind of mapping "
              "this test does not know: add it to NESTED and set its keys "
              "in full_config" % name)
        for k in keys:
            check(k in set_keys.get(name, ()),
                  "src/conf*.c's %s_keys has %r, which full_config does not "
                  "set: set it to a value other than its default, and "
                  "make /config show it" % (name, k))
    sl = start_sluice(without_route_waf(cfg))
    body, shown = config_of(aport, tls=True)
    objs = compare(cfg, shown)
    check(len(objs) > 20, "mappings compared: %d" % len(objs))
    # never a key file, anywhere, nor a password
    for k in keyfiles:
        check(k not in body, "the key file %s is named in /config" % k)
    check(REDIS_PW not in body, "the Redis password is in /config")
    check(ADMIN_TOKEN not in body and ADMIN_USER.split(":")[1] not in body,
          "admin.auth's credentials are in /config")
    check("ab" * 32 not in body and "abababab" not in body,
          "the idempotency key is in /config")
    check("cdcdcdcd" not in body, "a previous idempotency key is in /config")
    eq(shown["rate_limit_store"]["password_set"], True, "password_set")
    check(EAB_KEY not in body, "acme.eab's MAC key is in /config")
    eq(shown["acme"]["account_key_set"], True, "account_key_set")
    # strings whole and exact (the JSON parser undid the escapes)
    eq(shown["listeners"][0]["routes"][0]["match"]["headers"]["x-canary"],
       ODD, "the header value of the match")
    check("\t" not in body, "a tab is escaped")
    eq(shown["log"]["access"], cfg["log"]["access"], "log.access")
    # what runs
    eq(shown["workers"], 2, "workers")
    eq(shown["admin"]["address"], "127.0.0.1:%d" % aport, "admin.address")
    sl.stop()


def _mappings(kind, f):
    """(kind, mapping) of f and every mapping under it."""
    if kind == "endpoint" and isinstance(f, str):
        return [(kind, {"address": f})]
    if not isinstance(f, dict):
        return []               # an exclude item that is a rule id
    out = [(kind, f)]
    for k, v in f.items():
        sub = NESTED.get((kind, k))
        if sub is None or isinstance(v, str):
            continue
        for x in (v if isinstance(v, list) else [v]):
            out += _mappings(sub, x)
    return out


def _paths(j, prefix="", nulls=None):
    """The key paths of a JSON value, lists seen through (a[].b); those
    whose value is null go to nulls too."""
    out = set()
    if isinstance(j, dict):
        for k, v in j.items():
            out.add(prefix + k)
            if v is None and nulls is not None:
                nulls.add(prefix + k)
            out |= _paths(v, prefix + k + ".", nulls)
    elif isinstance(j, list):
        for x in j:
            out |= _paths(x, prefix[:-1] + "[].", nulls)
    return out


def _under_null(path, nulls):
    while "." in path:
        path = path.rsplit(".", 1)[0]
        if path in nulls or path[:-2] in nulls:
            return True
    return False


@test
def config_fills_in_every_default():
    cfg, aport = minimal_config()
    start_sluice(cfg)
    _, shown = config_of(aport)
    full, faport = full_config()[:2]
    sl = start_sluice(without_route_waf(full))
    _, fshown = config_of(faport, tls=True)
    sl.stop()
    # the same keys whether the file sets them or not (endpoint state
    # aside: it shows only with health_check or outlier)
    state = {"healthy", "checks_ok", "checks_failed", "last_check",
             "last_check.status", "last_check.result", "ejected",
             "ejected_ms_left", "ejections"}
    # a name's: what it resolves to, its lookups (doc/fleet.md)
    state |= {"srv", "dns", "dns.result", "dns.ttl_s", "dns.answer_age_ms",
              "dns.stale_ms", "dns.next_lookup_ms", "resolved",
              "resolved[].address", "resolved[].weight"}

    def keys(j, nulls=None):
        return set(p for p in _paths(j, "", nulls)
                   if p.split("endpoints[].", 1)[-1] not in state)
    nulls = set()
    mine = keys(shown, nulls)
    # what only a part that is set has (a mirror's cluster), and the
    # names of match.headers, are no keys the minimal file left out
    missing = set(p for p in keys(fshown) - mine
                  if not _under_null(p, nulls))
    eq(sorted(missing), [], "keys of /config that only a file setting them "
       "shows")
    lst, sec = shown["listeners"]
    eq(lst["limits"], {
        "header_timeout_ms": 10000, "body_timeout_ms": 30000,
        "send_timeout_ms": 30000, "idle_timeout_ms": 60000,
        "max_uri_bytes": 8192, "max_header_bytes": 32768,
        "max_headers": 100, "max_body_bytes": 16 << 20,
        "buffer_bytes": 65536, "splice_min_bytes": 131072,
        "max_requests": 0,
        "min_body_rate_bytes_per_s": 0, "min_send_rate_bytes_per_s": 0,
        "max_connections": 0, "max_connections_per_ip": 0,
        "max_concurrent_streams": 100, "max_header_list_bytes": 32768,
        "tunnel_idle_timeout_ms": 300000, "tunnel_lifetime_ms": 0,
        "tunnel_drain_timeout_ms": 60000, "tunnel_buffer_bytes": 16384,
        "max_tunnels": 0, "max_tunnels_per_ip": 0},
        "default limits")
    eq(lst["protocols"], ["http/1.1"], "default protocols")
    eq(lst["tls"], None, "tls of a plain listener")
    eq((lst["proxy_protocol"], lst["trusted_proxies"],
        lst["client_address_header"], lst["untrusted_forwarded"]),
       (None, [], "x-forwarded-for", "append"), "identity defaults")
    r = lst["routes"][0]
    eq(r["name"], "route-1", "default route name")
    eq(r["match"], {"host": None, "hosts_file": None, "hosts": None,
                    "path": None, "path_prefix": None,
                    "methods": None, "headers": None}, "match of all")
    eq((r["cluster"], r["split"], r["sticky"], r["mirror"],
        r["expose_cluster_header"], r["timeout_ms"], r["split_failover"]),
       ("c", None, None, None, None, 30000, True), "route defaults")
    # no policy; a route's body limit is its listener's
    for x in (lst, r):
        eq((x["allow"], x["deny"], x["request_headers"],
            x["response_headers"]), (None, None, None, None),
           "policy defaults")
    eq(r["max_body_bytes"], 16 << 20, "a route's max_body_bytes")
    eq(r["upgrade"], [], "a route allows no upgrade by default")
    eq(r["retry"], {"attempts": 2, "on": ["connect-failure", "reset"],
                    "idempotency_key": False, "per_try_timeout_ms": 30000,
                    "budget_percent": 20}, "retry defaults")
    eq(sec["tls"], {"certificates": [{"cert": pki()["srv"].cert}],
                    "min_version": "TLSv1.2", "ciphers": None,
                    "ciphersuites": None, "session_tickets": True,
                    "session_cache": 20000, "client_ca": None,
                    "client_verify": None, "client_subject_header": None,
        "acme": None},
       "listener tls defaults")
    c, d = shown["clusters"]
    eq({k: v for k, v in c.items() if k != "endpoints"}, {
        "name": "c", "balance": "round_robin", "hash_key": None,
        "connect_timeout_ms": 1000,
        "pool": {"max_idle": 64, "idle_timeout_ms": 30000,
                 "max_requests": 10000, "max_lifetime_ms": 0},
        "max_connections": 0, "max_pending": 100, "queue_timeout_ms": 1000,
        "health_check": None, "outlier": None, "tls": None,
        "proxy_protocol": "off", "protocol": "http1",
        "max_concurrent_streams": 0, "ping_interval_ms": 15000,
        "dns": None},
        "cluster defaults")
    eq((shown["resolver"], shown["watch"], shown["watch_debounce_ms"]),
       ({"nameservers": "/etc/resolv.conf", "timeout_ms": 2000,
         "attempts": 2}, False, 1000), "fleet defaults")
    eq(r["guard"], None, "no guard by default")
    eq(r["auth"], None, "no auth by default")
    eq(r["waf"], None, "no waf by default")
    eq(shown["waf"], {"threads": 2, "queue": 128, "client_budget_ms": 1000,
                      "client_burst_ms": 10000, "client_key": "address",
                      "priority": "idle", "guard_ms": 50, "log": "access"},
       "waf defaults")
    eq(r["compress"], None, "no compress by default")
    eq(shown["compress"], {"memory": 256 << 20}, "compress defaults")
    eq(r["idempotency"], None, "no idempotency by default")
    eq(shown["idempotency"], {"memory": 64 << 20, "key_file": None,
                              "previous_key_files": []},
       "idempotency defaults")
    eq(c["endpoints"][0]["weight"], 1, "endpoint weight")
    eq(d["hash_key"], "client_ip", "hash_key default")
    eq(d["health_check"], {"path": "/", "interval_ms": 5000,
                           "timeout_ms": 1000, "healthy": 2,
                           "unhealthy": 3, "expect_status": ["2xx"]},
       "health_check defaults")
    eq(d["outlier"], {"consecutive_errors": 5, "ejection_time_ms": 30000,
                      "max_ejected_percent": 10}, "outlier defaults")
    eq(d["tls"], {"sni": None, "ca": "system", "verify": True,
                  "client_cert": None, "min_version": "TLSv1.2"},
       "cluster tls defaults")
    eq(shown["log"], {"level": "info", "access": "stdout",
                      "access_format": "json", "query": "names",
                      "mask_card_numbers": True},
       "log defaults")
    eq(shown["drain_timeout_ms"], 30000, "drain_timeout default")
    check(shown["workers"] >= 1, "workers %r" % shown["workers"])


if __name__ == "__main__":
    main()
