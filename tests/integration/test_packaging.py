# SPDX-License-Identifier: MIT
"""The operator files in contrib/: the systemd unit verifies (where
systemd-analyze exists), the logrotate snippet signals only the sluice
whose pid file it reads, and the dashboard and alerting rules name only
metrics a running sluice exports."""

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


def exported_names(aport):
    text = get(aport, "/metrics", timeout=3.0).body.decode()
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split(" ")[2:4]
            names.add(name)
            if kind == "histogram":
                names.update(name + s for s in ("_bucket", "_sum", "_count"))
    return names


@test
def dashboard_and_rules_use_exported_metrics():
    # a configuration with every family: TLS listener metrics need a TLS
    # listener, so those are checked against the names sluice(8) lists
    up = Upstream("up")
    aport = free_port()
    cfg, port = make_config(
        {"c": [up]}, extra={"admin": {"address": "127.0.0.1:%d" % aport}},
        cluster_opts={"c": {"health_check": {"path": "/"},
                            "outlier": {"consecutive_errors": 5}}})
    start_sluice(cfg)
    names = exported_names(aport)
    with open(os.path.join(TOP_SRCDIR, "doc", "sluice.8")) as f:
        documented = set(re.findall(r"(sluice_[a-z_]+)", f.read()))
    used = set()
    with open(os.path.join(CONTRIB, "grafana",
                           "sluice-dashboard.json")) as f:
        dash = json.load(f)
    used |= set(re.findall(r"(sluice_[a-z_]+)", json.dumps(dash)))
    for rules in ("sluice-rules.yml", "sluice.yml"):
        with open(os.path.join(CONTRIB, "prometheus", rules)) as f:
            used |= set(re.findall(r"(sluice_[a-z_]+)", f.read()))
    check(used, "the files name sluice metrics")
    for n in sorted(used):
        # exported by TLS and proxy_protocol listeners only
        if n.startswith(("sluice_tls_", "sluice_proxy_protocol_")):
            check(n in documented, "%s is not in sluice(8)" % n)
        else:
            check(n in names, "%s is not exported by sluice" % n)


if __name__ == "__main__":
    main()
