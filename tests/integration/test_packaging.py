# SPDX-License-Identifier: MIT
"""The operator files in contrib/: the systemd unit verifies (where
systemd-analyze exists), the logrotate snippet signals only the sluice
whose pid file it reads, the dashboard and alerting rules name only
metrics a running sluice exports (with the labels and values it exports),
and the alerting rules have the shape Prometheus reads."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import (TOP_SRCDIR, Skip, Sluice, Upstream, _register,  # noqa
                    check, eq, free_port, get, main, make_config,
                    read_json_lines, sluice_path, start_sluice, test, tmpdir,
                    wait_until)

CONTRIB = os.path.join(TOP_SRCDIR, "contrib")


@test
def systemd_unit_verifies():
    if shutil.which("systemd-analyze") is None:
        raise Skip("systemd-analyze is not installed")
    with open(os.path.join(CONTRIB, "systemd", "sluice.service")) as f:
        unit = f.read()
    check("ExecStartPre=/usr/sbin/sluice -t" in unit, "ExecStartPre runs -t")
    check("ExecReload=/bin/kill -HUP $MAINPID" in unit, "ExecReload HUPs")
    # the pid file the logrotate snippet reads, in a directory of its own
    check(re.search(r"^ExecStart=/usr/sbin/sluice .*-p /run/sluice/sluice"
                    r"\.pid$", unit, re.M), "ExecStart writes the pid file")
    check(re.search(r"^RuntimeDirectory=sluice$", unit, re.M),
          "RuntimeDirectory=sluice")
    path = os.path.join(tmpdir(), "sluice.service")
    with open(path, "w") as f:
        f.write(unit.replace("/usr/sbin/sluice",
                             os.path.abspath(sluice_path())))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", path],
                       capture_output=True, text=True, timeout=60)
    eq((r.returncode, r.stdout + r.stderr), (0, ""), "systemd-analyze verify")

    check(re.search(r"^Type=notify$", unit, re.M) and
          re.search(r"^NotifyAccess=main$", unit, re.M),
          "Type=notify with NotifyAccess=main (the upgrade's MAINPID=)")


@test
def systemd_socket_units_verify():
    """sluice.socket and the service's drop-in for it, verified together
    with the service as systemd would load them (the drop-in from
    sluice.service.d/); a drop-in systemd did not read would not show
    its own mistake, so a broken copy must."""
    if shutil.which("systemd-analyze") is None:
        raise Skip("systemd-analyze is not installed")
    with open(os.path.join(CONTRIB, "systemd", "sluice.service")) as f:
        unit = f.read()
    with open(os.path.join(CONTRIB, "systemd", "sluice.socket")) as f:
        sock = f.read()
    with open(os.path.join(CONTRIB, "systemd", "sluice-socket.conf")) as f:
        dropin = f.read()
    check(re.search(r"^Environment=SLUICE_SOCKET_ACTIVATION=1$", dropin,
                    re.M), "the drop-in tells -t about the sockets")
    check(re.search(r"^Requires=sluice.socket$", dropin, re.M),
          "the drop-in requires the socket unit")
    check(re.search(r"^BindIPv6Only=ipv6-only$", sock, re.M),
          "IPv6 sockets are IPv6-only, as sluice's own")
    check(re.search(r"^Service=sluice.service$", sock, re.M),
          "the socket names the service")
    d = tmpdir()
    with open(os.path.join(d, "sluice.service"), "w") as f:
        f.write(unit.replace("/usr/sbin/sluice",
                             os.path.abspath(sluice_path())))
    with open(os.path.join(d, "sluice.socket"), "w") as f:
        f.write(sock)
    os.mkdir(os.path.join(d, "sluice.service.d"))
    conf = os.path.join(d, "sluice.service.d", "socket.conf")

    def verify(text):
        with open(conf, "w") as f:
            f.write(text)
        return subprocess.run(
            ["systemd-analyze", "verify", "--man=no", "sluice.service",
             "sluice.socket"], capture_output=True, text=True, timeout=60,
            cwd=d, env=dict(os.environ, SYSTEMD_UNIT_PATH=d + ":"))
    r = verify(dropin)
    eq((r.returncode, r.stdout + r.stderr), (0, ""), "systemd-analyze verify")
    r = verify(dropin + "Environment=BROKEN=\"x\n")
    check("socket.conf" in r.stdout + r.stderr,
          "the drop-in was not read: %r" % (r.stdout + r.stderr))


def postrotate(text):
    """The shell script of the snippet's postrotate ... endscript."""
    m = re.search(r"^\s*postrotate\n(.*?)^\s*endscript", text, re.M | re.S)
    check(m, "no postrotate script in the logrotate snippet")
    return m.group(1)


@test
def logrotate_signals_only_the_sluice_of_the_pid_file():
    # the fallback used to be "pkill -USR1 -x sluice": every sluice on
    # the host. The README's reload said "kill -HUP $(pidof sluice)".
    with open(os.path.join(CONTRIB, "logrotate", "sluice")) as f:
        text = f.read()
    for word in ("pkill", "pidof", "killall"):
        check(word not in text, "the logrotate snippet uses %s" % word)
    with open(os.path.join(TOP_SRCDIR, "README.md")) as f:
        readme = f.read()
    check("pidof" not in readme, "README.md signals by process name")
    script = postrotate(text)
    check("systemctl kill --kill-who=main -s USR1 sluice.service" in script,
          "the snippet does not ask systemd first")
    check("/run/sluice/sluice.pid" in script,
          "the snippet does not read the pid file")
    # run it without that unit: the pid file of a sluice started with -p
    d = tmpdir()
    pf = os.path.join(d, "sluice.pid")
    logp = os.path.join(d, "access.log")
    script = (script.replace("/run/sluice/sluice.pid", pf)
              .replace("sluice.service",
                       "sluice-test-%d.service" % os.getpid()))
    up = Upstream("up")
    cfg, port = make_config({"c": [up]}, access_log=logp)
    sl = Sluice(cfg)
    _register("sluices", sl)
    popen = subprocess.Popen
    sltest.subprocess.Popen = (lambda cmd, *a, **kw:
                               popen(list(cmd) + ["-p", pf], *a, **kw))
    try:
        sl.start()
    finally:
        sltest.subprocess.Popen = popen
    check(wait_until(lambda: os.path.exists(pf), 5.0), "no pid file")
    eq(get(port, "/", headers=[("X-Request-Id", "before")]).status, 200,
       "status")
    check(read_json_lines(logp, lambda o: o.get("request_id") == "before"),
          "first line not logged")
    os.rename(logp, logp + ".1")
    r = subprocess.run(["sh", "-c", script], capture_output=True, text=True,
                       timeout=30)
    eq((r.returncode, r.stderr), (0, ""), "postrotate script")
    check(wait_until(lambda: "SIGUSR1: access log reopened" in sl.stderr(),
                     5.0), "sluice did not reopen its log:\n%s"
          % sl.stderr())
    eq(get(port, "/", headers=[("X-Request-Id", "after")]).status, 200,
       "status")
    check(read_json_lines(logp, lambda o: o.get("request_id") == "after"),
          "line after the rotation not in the new file")
    sl.stop()
    # a pid file left behind whose number now belongs to another program:
    # that program is not signalled (SIGUSR1 would end it)
    other = subprocess.Popen(["sleep", "60"])
    try:
        with open(pf, "w") as f:
            f.write("%d\n" % other.pid)
        r = subprocess.run(["sh", "-c", script], capture_output=True,
                           text=True, timeout=30)
        eq(r.returncode, 0, "postrotate script with a stale pid file")
    finally:
        # a SIGUSR1 sent before would be delivered first: the process
        # ends by SIGTERM only if the script did not signal it
        other.terminate()
        other.wait()
    eq(other.returncode, -signal.SIGTERM, "how the stale pid's process "
       "ended (-%d: the script signalled it)" % signal.SIGUSR1)


# a Prometheus sample: NAME{LABEL="VALUE",...} VALUE
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*'
                      r'"((?:[^"\\]|\\.)*)"')
# labels every series has from the scrape (instance, job) or from being a
# histogram's bucket (le)
SCRAPE_LABELS = {"instance", "job", "le"}


def exported(aport):
    """The /metrics page as {name: {label: {values}}}: only names with a
    sample, so a family that prints its HELP and TYPE and nothing else
    (a rate limit family without a limit) is not exported. A histogram's
    own name (TYPE) has the labels of its _bucket, _sum and _count."""
    text = get(aport, "/metrics", timeout=3.0).body.decode()
    out = {}
    hist = set()
    for line in text.splitlines():
        if line.startswith("# TYPE ") and line.endswith(" histogram"):
            hist.add(line.split(" ")[2])
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        check(m, "not a sample: %r" % line)
        for name in {m.group(1), family(m.group(1), hist)}:
            labels = out.setdefault(name, {})
            for k, _, v in LABEL_RE.findall(m.group(2) or ""):
                labels.setdefault(k, set()).add(v)
    return out


def documented_labels():
    """{name: {labels}} of every metric sluice(8) names, with the labels
    it gives them (NAME{LABEL,...}; none where it shows none)."""
    with open(os.path.join(TOP_SRCDIR, "doc", "sluice.8")) as f:
        text = f.read()
    out = {}
    for name, labels in re.findall(r"(sluice_[a-z_]+)(?:\{([a-z_,]+)\})?",
                                   text):
        out.setdefault(name, set()).update(filter(None, labels.split(",")))
    return out


def family(name, known):
    """The family a series name belongs to: NAME_bucket -> NAME for a
    histogram."""
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[:-len(suffix)]
        if name.endswith(suffix) and base in known:
            return base
    return name


def contrib_texts():
    """[(where, text)] naming metrics: the dashboard's panels (targets and
    descriptions) and the Prometheus files whole (YAML's escaped quotes
    undone)."""
    with open(os.path.join(CONTRIB, "grafana",
                           "sluice-dashboard.json")) as f:
        dash = json.load(f)
    out = []
    for p in dash["panels"]:
        out.append(("dashboard: %s" % p["title"], p.get("description", "")))
        for t in p.get("targets", []):
            out.append(("dashboard: %s" % p["title"], t["expr"]))
    for name in ("sluice-rules.yml", "sluice.yml"):
        with open(os.path.join(CONTRIB, "prometheus", name)) as f:
            out.append((name, f.read().replace('\\"', '"')))
    return out


def check_selectors(where, expr, names, doc):
    """Every sluice_* selector's matchers name a label of that metric, and
    an exact value (or each word of an alternation) is one that sluice
    exports: a typo in reason="..." would select nothing, silently."""
    for name, body in re.findall(r"(sluice_[a-z_]+)\{([^}]*)\}", expr):
        fam = family(name, names)
        for label, op, value in LABEL_RE.findall(body):
            if label in SCRAPE_LABELS:
                continue
            check(label in doc.get(fam, set()),
                  "%s: %s has no label %s in sluice(8)" % (where, name, label))
            if name not in names:
                continue  # a TLS family: no values to compare with
            values = names[name].get(label, set())
            check(label in names[name], "%s: %s is exported without a "
                  "label %s" % (where, name, label))
            if op == "=":
                words = [value]
            elif op == "=~" and re.fullmatch(r"[\w+.]+(\|[\w+.]+)*", value):
                words = value.split("|")
            else:
                continue
            for w in words:
                check(w in values, "%s: %s{%s} matches no exported series "
                      "(values: %s)" % (where, name, label, sorted(values)))


def check_grouping(where, expr, doc, extra_refs=()):
    """The labels an expression groups or matches by (by, without, on,
    ignoring, group_left/right) and those its legend or annotations show
    are labels of a sluice metric it names (sluice(8)), or the scrape's."""
    known = set(SCRAPE_LABELS)
    for name in set(re.findall(r"(sluice_[a-z_]+)", expr)):
        known |= doc.get(family(name, doc), set())
    used = set(extra_refs)
    for clause in re.findall(r"\b(?:by|without|on|ignoring|group_left|"
                             r"group_right)\s*\(([^)]*)\)", expr):
        used |= {x.strip() for x in clause.split(",") if x.strip()}
    for label in sorted(used - known):
        check(False, "%s: label %s is none of its metrics' (%s)"
              % (where, label, sorted(known)))


@test
def dashboard_and_rules_use_exported_metrics():
    # a configuration with every family: a route with a hosts_file, one
    # with a local and a fleet rate limit, a rate_limit_store (its families are exported whenever
    # it is set, connected or not: the address is a free port nobody
    # listens on, and no request here needs it, so no redis-server), and a
    # listener with proxy_protocol. TLS listener metrics need a TLS
    # listener (certificates), so those are checked against the names
    # sluice(8) lists.
    up = Upstream("up")
    aport = free_port()
    hosts = os.path.join(tmpdir(), "merchants.hosts")
    with open(hosts, "w") as f:
        f.write("shop1.example\n")
    routes = [{"name": "merchants", "match": {"hosts_file": hosts},
               "cluster": "c"},
              {"name": "authorize",
               "match": {"path_prefix": "/v1/authorizations"},
               "cluster": "c",
               "rate_limit": [{"name": "per-key", "key": "header:X-Api-Key",
                               "rate": "5/s", "burst": 10,
                               "scope": "fleet"},
                              {"name": "breaker", "key": "route",
                               "rate": "500/s", "burst": 1000}]},
              {"name": "rest", "cluster": "c"}]
    cfg, _ = make_config(
        {"c": [up]}, routes=routes, workers=2,
        extra={"admin": {"address": "127.0.0.1:%d" % aport},
               "rate_limit_store": {
                   "address": "127.0.0.1:%d" % free_port()}},
        cluster_opts={"c": {"health_check": {"path": "/"},
                            "outlier": {"consecutive_errors": 5}}})
    cfg["listeners"].append({
        "name": "edge", "address": "127.0.0.1:%d" % free_port(),
        "proxy_protocol": {"from": ["127.0.0.1"]},
        "routes": [{"name": "all", "cluster": "c"}]})
    start_sluice(cfg)
    names = exported(aport)
    doc = documented_labels()
    texts = contrib_texts()
    used = set()
    for _, e in texts:
        used |= {family(n, names) for n in re.findall(r"(sluice_[a-z_]+)", e)}
    check(used, "the files name sluice metrics")
    for n in sorted(used):
        check(n in doc, "%s is not in sluice(8)" % n)
        # exported by TLS listeners only; ACME's by listeners with
        # tls.acme names (test_acme.py reads them, labels and all)
        if n.startswith(("sluice_tls_", "sluice_acme_")):
            continue
        check(n in names, "%s is not exported by sluice" % n)
        # sluice(8) gives the labels the metric has
        eq(set(names[n]) - {"le"}, doc[n], "labels of %s, exported and in "
           "sluice(8)" % n)
    for where, e in texts:
        check_selectors(where, e, names, doc)
    with open(os.path.join(CONTRIB, "grafana",
                           "sluice-dashboard.json")) as f:
        dash = json.load(f)
    for p in dash["panels"]:
        for t in p.get("targets", []):
            check_grouping("dashboard: %s" % p["title"], t["expr"], doc,
                           re.findall(r"\{\{\s*(\w+)\s*\}\}",
                                      t.get("legendFormat", "")))


def balanced(expr):
    """Whether (), [] and {} nest in expr outside its string literals."""
    stack = []
    pairs = {")": "(", "]": "[", "}": "{"}
    for tok in re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr):
        if tok in "([{":
            stack.append(tok)
        elif tok in pairs and (not stack or stack.pop() != pairs[tok]):
            return False
    return not stack


@test
def alert_rules_are_well_formed():
    # promtool would check the rules; it is not a dependency. PyYAML
    # reads them as Prometheus would (rule groups, each rule's keys), and
    # the expressions are checked for what a reader can get wrong without
    # promtool: brackets, and labels that none of their metrics have.
    try:
        import yaml
    except ImportError:
        raise Skip("PyYAML is not installed (python3-yaml)")
    with open(os.path.join(CONTRIB, "prometheus", "sluice-rules.yml")) as f:
        rules = yaml.safe_load(f)
    with open(os.path.join(CONTRIB, "prometheus", "sluice.yml")) as f:
        scrape = yaml.safe_load(f)
    check("sluice-rules.yml" in scrape["rule_files"],
          "sluice.yml does not load the rules")
    eq(set(rules), {"groups"}, "top-level keys")
    doc = documented_labels()
    seen = set()
    for g in rules["groups"]:
        check(set(g) <= {"name", "interval", "rules"} and "name" in g
              and g.get("rules"), "group %r" % g)
        for r in g["rules"]:
            name = r.get("alert")
            check(re.fullmatch(r"Sluice[A-Za-z0-9]+", str(name)),
                  "a rule without an alert name Sluice...: %r" % r)
            check(name not in seen, "%s twice" % name)
            seen.add(name)
            eq(set(r) - {"for"}, {"alert", "expr", "labels", "annotations"},
               "%s: keys" % name)
            check(isinstance(r["expr"], str) and balanced(r["expr"]),
                  "%s: expr %r" % (name, r["expr"]))
            if "for" in r:
                check(re.fullmatch(r"[0-9]+[smh]", str(r["for"])),
                      "%s: for: %r" % (name, r["for"]))
            check(r["labels"].get("severity") in ("page", "warning"),
                  "%s: severity %r" % (name, r["labels"]))
            eq(set(r["annotations"]), {"summary", "description"},
               "%s: annotations" % name)
            refs = re.findall(r"\$labels\.(\w+)",
                              " ".join(r["annotations"].values()))
            check_grouping(name, r["expr"], doc, refs)


if __name__ == "__main__":
    main()
