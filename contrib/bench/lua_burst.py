#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The burst client of contrib/bench/lua_burst.sh: bursts of concurrent
requests to a route whose Lua script never ends on its own.

Usage: lua_burst.py --port P --duration SECS [--interval SECS] [--size N]
           [--paths /bad/loop,/bad/alloc,/bad/pattern] [--timeout SECS]
           [--expect STATUS]

Every --interval seconds (0.5) from its start, for --duration seconds, a
burst of --size (50) requests to 127.0.0.1:P, the paths taken in turn,
one path a burst (loop, alloc, pattern, loop, ...). A burst opens its
connections first, then writes every request at once (HTTP/1.1, GET,
Connection: close), so that the gateway has them all in one turn of its
loop; a request's answer time runs from its write to the answer's last
byte (the connection's end). A burst starts on time whether or not the
one before it was answered: when the gateway is slower than the
interval, bursts overlap, and "late" says how many began while another
was still out. A request without its whole answer --timeout (5) seconds
after its write is given up and counted as "timeout" (an answer time of
infinity, so that a p99 is never made good by what got no answer).

Prints, on stdout, lines of "key value..." that lua_burst.sh reads:
  requests N              requests sent
  status S N              answers by status ("timeout", "error" too)
  unexpected N            answers whose status is not --expect (503)
  answer_ms P50 P99 MAX   the answer times, in milliseconds
  path PATH P50 P99 MAX N the same, per path
  span_ms P50 MAX         a burst's first write to its last answer
  bursts N late N
Exits 0 whatever the statuses: the verdict is the caller's.
"""

import argparse
import asyncio
import collections
import math
import sys
import time


def pct(xs, p):
    """The p-th percentile (nearest rank) of xs; nan when empty."""
    if not xs:
        return math.nan
    s = sorted(xs)
    k = max(0, min(len(s) - 1, math.ceil(p / 100.0 * len(s)) - 1))
    return s[k]


async def one(port, path, timeout):
    """(status, seconds): one request on a connection of its own; its
    connection opened before the returned coroutine's write."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port), timeout)
    except Exception:
        return None

    async def go():
        req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
               "Connection: close\r\n\r\n" % (path, port)).encode()
        t0 = time.monotonic()
        try:
            writer.write(req)
            data = await asyncio.wait_for(reader.read(-1), timeout)
            t1 = time.monotonic()
        except asyncio.TimeoutError:
            return "timeout", math.inf
        except Exception:
            return "error", time.monotonic() - t0
        finally:
            writer.close()
        line = data.split(b"\r\n", 1)[0].split()
        status = line[1].decode() if len(line) > 1 else "error"
        return status, t1 - t0

    return go


async def burst(port, path, size, timeout):
    """(results, span): size requests, connected first, written at once."""
    conns = await asyncio.gather(*(one(port, path, timeout) for _ in range(size)))
    gos = [c for c in conns if c is not None]
    res = [("connect", math.inf)] * (size - len(gos))
    t0 = time.monotonic()
    res += await asyncio.gather(*(g() for g in gos))
    return res, time.monotonic() - t0


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--duration", type=float, required=True)
    ap.add_argument("--interval", type=float, default=0.5)
    ap.add_argument("--size", type=int, default=50)
    ap.add_argument("--paths", default="/bad/loop,/bad/alloc,/bad/pattern")
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--expect", default="503")
    a = ap.parse_args()
    paths = a.paths.split(",")

    out = []
    running = [0]
    late = [0]

    async def fire(path):
        if running[0]:
            late[0] += 1
        running[0] += 1
        try:
            res, span = await burst(a.port, path, a.size, a.timeout)
        finally:
            running[0] -= 1
        out.append((path, res, span))

    start = time.monotonic()
    tasks = []
    k = 0
    while True:
        due = start + k * a.interval
        if due - start >= a.duration:
            break
        now = time.monotonic()
        if due > now:
            await asyncio.sleep(due - now)
        tasks.append(asyncio.ensure_future(fire(paths[k % len(paths)])))
        k += 1
    await asyncio.gather(*tasks)

    status = collections.Counter()
    times = []
    by_path = collections.defaultdict(list)
    spans = []
    for path, res, span in out:
        spans.append(span)
        for st, dt in res:
            status[st] += 1
            times.append(dt * 1000.0)
            by_path[path].append(dt * 1000.0)
    print("requests", len(times))
    for st, n in sorted(status.items()):
        print("status", st, n)
    print("unexpected", sum(n for st, n in status.items() if st != a.expect))
    print("answer_ms %.2f %.2f %.2f" % (pct(times, 50), pct(times, 99), max(times, default=math.nan)))
    for path in paths:
        t = by_path.get(path, [])
        print("path %s %.2f %.2f %.2f %d" % (path, pct(t, 50), pct(t, 99), max(t, default=math.nan), len(t)))
    spans = [s * 1000.0 for s in spans]
    print("span_ms %.2f %.2f" % (pct(spans, 50), max(spans, default=math.nan)))
    print("bursts", len(out), "late", late[0])


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
