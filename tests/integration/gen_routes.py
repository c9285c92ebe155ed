#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
A configuration of many host routes, one host each, all to one cluster
(issue 78): the file a payments platform with one host per merchant
writes. Used by test_scale.py and by hand to measure start, reload and
-t at size:

    gen_routes.py N LISTEN_PORT UPSTREAM_PORT [FIRST] > FILE
    sluice -t -c FILE

Route i (FIRST <= i < FIRST + N) is named "mNNNNN" and matches the host
host_of(i), "mNNNNN.pay.example". Text is written directly, not through
sltest.to_yaml: 100,000 routes are 100,000 lines.
"""

import sys


def host_of(i):
    """The host of route i."""
    return "m%05d.pay.example" % i


def routes_yaml(n, port, upstream_port, first=0, skip=(), extra=(),
                workers=1, admin_port=None):
    """The YAML text of a file with routes first .. first+n-1 (less those
    in skip, plus those in extra), each matching its own host, all to the
    cluster "pay" of one endpoint on 127.0.0.1:upstream_port."""
    skip = set(skip)
    out = ["workers: %d" % workers, "drain_timeout: 5s",
           "log: {level: info, access: off}"]
    if admin_port:
        out.append("admin: {address: 127.0.0.1:%d}" % admin_port)
    out += ["listeners:", "  - name: main",
            "    address: 127.0.0.1:%d" % port, "    routes:"]
    ids = [i for i in range(first, first + n) if i not in skip]
    ids += [i for i in extra if i not in ids]
    for i in ids:
        out.append("      - {name: m%05d, match: {host: %s}, cluster: pay}"
                   % (i, host_of(i)))
    out += ["clusters:", "  - name: pay",
            "    endpoints: [127.0.0.1:%d]" % upstream_port, ""]
    return "\n".join(out)


def main(argv):
    if len(argv) not in (4, 5):
        sys.stderr.write("usage: gen_routes.py N LISTEN_PORT UPSTREAM_PORT"
                         " [FIRST]\n")
        return 2
    first = int(argv[4]) if len(argv) == 5 else 0
    sys.stdout.write(routes_yaml(int(argv[1]), int(argv[2]), int(argv[3]),
                                 first=first))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
