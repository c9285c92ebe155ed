# SPDX-License-Identifier: MIT
"""The operator files in contrib/: the systemd unit verifies (where
systemd-analyze exists), and the dashboard and alerting rules name only
metrics a running sluice exports."""

import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sltest import (TOP_SRCDIR, Skip, Upstream, check, eq, free_port,  # noqa
                    get, main, make_config, sluice_path, start_sluice, test,
                    tmpdir)

CONTRIB = os.path.join(TOP_SRCDIR, "contrib")


@test
def systemd_unit_verifies():
    if shutil.which("systemd-analyze") is None:
        raise Skip("systemd-analyze is not installed")
    with open(os.path.join(CONTRIB, "systemd", "sluice.service")) as f:
        unit = f.read()
    check("ExecStartPre=/usr/sbin/sluice -t" in unit, "ExecStartPre runs -t")
    check("ExecReload=/bin/kill -HUP $MAINPID" in unit, "ExecReload HUPs")
    path = os.path.join(tmpdir(), "sluice.service")
    with open(path, "w") as f:
        f.write(unit.replace("/usr/sbin/sluice",
                             os.path.abspath(sluice_path())))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", path],
                       capture_output=True, text=True, timeout=60)
    eq((r.returncode, r.stdout + r.stderr), (0, ""), "systemd-analyze verify")


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
        if n.startswith("sluice_tls_"):
            check(n in documented, "%s is not in sluice(8)" % n)
        else:
            check(n in names, "%s is not exported by sluice" % n)


if __name__ == "__main__":
    main()
