# SPDX-License-Identifier: MIT
"""A platform's configuration at its size (issue 78): 100,000 host routes,
one host each, made at test time by gen_routes.py.

sluice -t accepts the file; sluice starts on it and serves its first and
its last host; a reload with one route added and one removed serves the
added host, answers 404 for the removed one, and still serves the others;
the process stops cleanly. No timing is asserted: before the registry
and the load's checks were linear this took minutes (65 s to start, more
to reload); it must simply finish within the harness's watchdog."""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import (Sluice, Upstream, check, eq, free_port, get,  # noqa: E402
                    main, run_sluice, test, wait_until)
import gen_routes  # noqa: E402

N = 100000
REMOVED = N // 2  # the route the reload takes out


def status(port, host):
    try:
        return get(port, host=host, timeout=5.0).status
    except (OSError, sltest.Closed):
        return None


@test
def hundred_thousand_host_routes():
    if sltest.over_tls():
        raise sltest.Skip("plain HTTP: the routes are the subject")
    up = Upstream("pay")
    port = free_port()
    text = gen_routes.routes_yaml(N, port, up.port, workers=2)
    sl = Sluice(text, wait_ports=[port])
    sltest._register("sluices", sl)

    rc, out, err = run_sluice(["-t", "-c", sl.conf_path], timeout=50.0)
    eq(rc, 0, "sluice -t on %d routes: %s" % (N, err))
    check("configuration OK" in out, "-t says: %r" % out)

    sl.start(timeout=50.0)
    first, last = gen_routes.host_of(0), gen_routes.host_of(N - 1)
    eq(status(port, first), 200, "the first host")
    eq(status(port, last), 200, "the last host")
    eq(status(port, "nowhere.pay.example"), 404, "a host no route has")

    # one added (route N), one removed (route REMOVED)
    with open(sl.conf_path, "w") as f:
        f.write(gen_routes.routes_yaml(N, port, up.port, workers=2,
                                       skip=[REMOVED], extra=[N]))
    sl.proc.send_signal(signal.SIGHUP)
    added = gen_routes.host_of(N)
    check(wait_until(lambda: status(port, added) == 200, 50.0, 0.05),
          "the added host was not served within 50 s of SIGHUP:\n%s"
          % sl.stderr()[-2000:])
    eq(status(port, gen_routes.host_of(REMOVED)), 404, "the removed host")
    eq(status(port, first), 200, "the first host after the reload")
    eq(status(port, last), 200, "the last host after the reload")
    check("generation 2" in sl.stderr(), "the reload is logged")
    sl.stop(timeout=30.0)


if __name__ == "__main__":
    main()
