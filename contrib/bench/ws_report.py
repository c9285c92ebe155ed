#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The report of contrib/bench/ws.sh.

Usage: ws_report.py CSV META MD

CSV is ws.sh's per-run file (one line per scenario, round and gateway),
META a file of key=value lines (what ran, where, with what). Prints the
Markdown report to stdout and writes it to MD:

  - the summary: per gateway the median over the rounds of the idle
    tunnel's RSS (bytes per tunnel, ws-idle), the gateway's CPU time per
    echoed message (µs, ws-echo) and the message rate, each ratio taken to
    the best peer (the lower of nginx's and HAProxy's medians), and whether
    the issue's targets hold: idle memory <= the best peer's, CPU per
    message <= 0.9 x the best peer's;
  - with ws-sys rows: the system calls per echoed message (counted with
    perf, not timed), the medians per gateway of all of them (with the ratio
    to the best peer) and of each group: reads, writes, epoll_wait,
    epoll_ctl, clock_gettime, the other ones;
  - every run, with the checks behind the figures (tunnels set up, still
    open, still echoing; errors, mismatched echoes, tunnels closed by the
    gateway); the ws-sys runs in a table of their own.

Either part is left out when the CSV has no rows for it.
"""
import csv
import statistics
import sys

GATEWAYS = ["sluice", "nginx", "haproxy"]
PEERS = ["nginx", "haproxy"]
# ws-sys: (CSV column, heading), all system calls first
SYS = [("sys_total_per_msg", "all"), ("sys_reads_per_msg", "reads"), ("sys_writes_per_msg", "writes"),
       ("sys_epoll_wait_per_msg", "epoll_wait"), ("sys_epoll_ctl_per_msg", "epoll_ctl"),
       ("sys_clock_per_msg", "clock_gettime"), ("sys_other_per_msg", "other")]


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def median(rows, key):
    vals = [num(r.get(key)) for r in rows]
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def fmt(v, digits=0):
    if v is None:
        return "–"
    return f"{v:,.{digits}f}"


def pct(v):
    v = num(v)
    return "–" if v is None else f"{v * 100:.0f} %"


def ratio(v, best):
    if v is None or not best:
        return "–"
    return f"{v / best:.2f}"


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    csv_path, meta_path, md_path = sys.argv[1:]
    rows = list(csv.DictReader(open(csv_path)))
    meta = {}
    for line in open(meta_path):
        k, _, v = line.rstrip("\n").partition("=")
        meta.setdefault(k, v)

    sysrows = [r for r in rows if r["scenario"] == "ws-sys"]
    rows = [r for r in rows if r["scenario"] != "ws-sys"]
    sysgws = [g for g in GATEWAYS if any(r["gateway"] == g for r in sysrows)]
    gws = [g for g in GATEWAYS if any(r["gateway"] == g for r in rows)]
    idle = {g: [r for r in rows if r["gateway"] == g and r["scenario"] == "ws-idle"] for g in gws}
    echo = {g: [r for r in rows if r["gateway"] == g and r["scenario"] == "ws-echo"] for g in gws}
    med = {}
    for g in gws:
        med[g] = {
            "idle": median(idle[g], "idle_bytes_per_tunnel"),
            "kern": median(idle[g], "kern_bytes_per_tunnel"),
            "cpu": median(echo[g], "cpu_us_per_msg"),
            "user": median(echo[g], "cpu_user_us_per_msg"),
            "sys": median(echo[g], "cpu_sys_us_per_msg"),
            "rate": median(echo[g], "msgs_per_s"),
            "util": median(echo[g], "gw_util"),
        }

    def best(key):
        vals = [med[g][key] for g in PEERS if g in med and med[g][key] is not None]
        return min(vals) if vals else None

    b_idle, b_cpu, b_kern = best("idle"), best("cpu"), best("kern")

    # ws-sys: system calls per echoed message, counted
    smed = {g: {k: median([r for r in sysrows if r["gateway"] == g], k) for k, _ in SYS} for g in sysgws}
    b_sys = [smed[g]["sys_total_per_msg"] for g in PEERS if g in smed and smed[g]["sys_total_per_msg"] is not None]
    b_sys = min(b_sys) if b_sys else None

    def sys_summary():
        if not rows:
            w(f"{meta.get('date', '')}; `{meta.get('command', '')}`; medians of {meta.get('rounds', '?')} "
              f"round(s).")
            w("")
        w("System calls per echoed message (counted):")
        w("")
        w(f"ws-sys: the load of ws-echo ({meta.get('echo_conns', '?')} tunnels, one "
          f"{meta.get('msg_bytes', '?')}-byte text message in flight on each) through a fresh gateway; "
          f"perf stat counts the gateway's system calls (tracepoints raw_syscalls:sys_enter and "
          f"syscalls:sys_enter_*, all its processes) for {meta.get('duration', '?')} s after 1 s of "
          f"warm-up; messages = the client's rate x that window. Counted, not timed: the tracing slows "
          f"the gateway, so these are runs of their own, and their rate is no throughput figure. "
          f"reads = recvfrom + read + readv, writes = sendto + write + writev, epoll_wait with "
          f"epoll_pwait(2), other = all - those; each column's median on its own. Ratio: to the best "
          f"peer, the lower of nginx's and HAProxy's medians.")
        w("")
        w("| gateway | all | × best peer | " + " | ".join(h for _, h in SYS[1:]) + " |")
        w("|---|--:|--:|" + "--:|" * (len(SYS) - 1))
        for g in sysgws:
            m = smed[g]
            w(f"| {g} | {fmt(m['sys_total_per_msg'], 2)} | {ratio(m['sys_total_per_msg'], b_sys)} | "
              + " | ".join(fmt(m[k], 2) for k, _ in SYS[1:]) + " |")
        w("")

    def sys_runs():
        w("Every ws-sys run (system calls per message):")
        w("")
        w("| round | gateway | tunnels | open | messages counted | s counted | msgs/s (traced) | "
          + " | ".join(h for _, h in SYS) + " | errors / bad / closed |")
        w("|--:|---|--:|--:|--:|--:|--:|" + "--:|" * len(SYS) + "--:|")
        for r in sysrows:
            w(f"| {r['round']} | {r['gateway']} | {r['conns']} | {r['echo_ok']} | {r['msgs']} | {r['secs']} "
              f"| {r['msgs_per_s']} | " + " | ".join(r.get(k) or "–" for k, _ in SYS)
              + f" | {r['errors']} / {r['bad']} / {r['closed']} |")
        w("")

    out = []
    w = out.append
    w("## WebSocket tunnels: sluice, nginx and HAProxy, one worker each")
    w("")
    if rows:
        w(f"{meta.get('date', '')}; `{meta.get('command', '')}`; medians of {meta.get('rounds', '?')} "
          f"round(s). ws-idle: {meta.get('idle_tunnels', '?')} idle tunnels (each has echoed one "
          f"{meta.get('msg_bytes', '?')}-byte message), RSS growth over a baseline taken after "
          f"{meta.get('warmup_tunnels', '?')} warm-up tunnels were closed. ws-echo: "
          f"{meta.get('echo_conns', '?')} tunnels, one {meta.get('msg_bytes', '?')}-byte text message in "
          f"flight on each, {meta.get('duration', '?')} s measured after 1 s of warm-up; CPU = the gateway "
          f"process's utime + stime over the window / echoes received (each echo is one frame in and one "
          f"out, both ways through the gateway). Ratios: to the best peer, the lower of nginx's and "
          f"HAProxy's medians.")
        w("")
        w("| gateway | idle bytes/tunnel | × best peer | µs CPU/message | × best peer | messages/s "
          "| µs user / sys | gateway's CPU use | kernel bytes/tunnel (machine-wide) |")
        w("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
        for g in gws:
            m = med[g]
            us = "–" if m["user"] is None else f"{m['user']:.2f} / {m['sys']:.2f}"
            busy = "–" if m["util"] is None else f"{m['util'] * 100:.0f} %"
            w(f"| {g} | {fmt(m['idle'])} | {ratio(m['idle'], b_idle)} | {fmt(m['cpu'], 2)} "
              f"| {ratio(m['cpu'], b_cpu)} | {fmt(m['rate'])} | {us} | {busy} | {fmt(m['kern'])} |")
        w("")
        if "sluice" in med:
            s = med["sluice"]
            lines = []
            if s["idle"] is not None and b_idle:
                ok = s["idle"] <= b_idle
                lines.append(f"- idle tunnel memory ≤ the best peer's: **{'met' if ok else 'not met'}** "
                             f"({fmt(s['idle'])} vs {fmt(b_idle)} bytes, {s['idle'] / b_idle:.2f}x)")
            if s["cpu"] is not None and b_cpu:
                ok = s["cpu"] <= 0.9 * b_cpu
                lines.append(f"- CPU per message ≤ 0.9x the best peer's: **{'met' if ok else 'not met'}** "
                             f"({s['cpu']:.2f} vs {b_cpu:.2f} µs, {s['cpu'] / b_cpu:.2f}x)")
            if lines:
                w("Targets (the issue's):")
                w("")
                out.extend(lines)
                w("")
    if sysrows:
        sys_summary()
    if rows:
        w("Every run:")
        w("")
        w("| scenario | round | gateway | tunnels | set up | open / alive at the end | RSS base → with, KiB "
          "| bytes/tunnel | messages | msgs/s | µs CPU/msg | CPU use: gateway / all of GW_CPU | RSS in echo, KiB "
          "| errors / bad / closed |")
        w("|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        for r in rows:
            if r["scenario"] == "ws-idle":
                w(f"| ws-idle | {r['round']} | {r['gateway']} | {r['conns']} | {r['idle_ok']} "
                  f"| {r['idle_open']} / {r['idle_alive']} | {r['rss_base_kib']} → {r['rss_with_kib']} "
                  f"| {r['idle_bytes_per_tunnel']} | | | | | | {r['errors']} / – / {r['idle_closed']} |")
            else:
                w(f"| ws-echo | {r['round']} | {r['gateway']} | {r['conns']} | {r['echo_ok']} | | "
                  f"| | {r['msgs']} | {r['msgs_per_s']} | {r['cpu_us_per_msg']} "
                  f"| {pct(r.get('gw_util'))} / {pct(r.get('gw_cpu_busy'))} | {r['rss_echo_kib']} "
                  f"| {r['errors']} / {r['bad']} / {r['closed']} |")
        w("")
    if sysrows:
        sys_runs()
    if not rows and not sysrows:
        w("No runs to report.")
        w("")
    w("Setup:")
    w("")
    for k in ("sluice", "sluice_commit", "sluice_binary", "nginx", "haproxy", "node", "node_ws", "cpu", "ncpu",
              "kernel", "virt", "irq_time", "gw_cpu", "load_cpu", "load", "perf", "sys_events", "elapsed"):
        if k in meta:
            w(f"- {k}: {meta[k]}")
    w("")
    if rows:
        w("Notes: the gateway runs alone on GW_CPU; the echo client and the upstream (Node, node-ws) "
          "share LOAD_CPU, so the message rate is mostly theirs and alike for all gateways: compare the "
          "CPU per message, not the rate; a gateway that uses much less than all of GW_CPU "
          "wakes up for fewer messages at a time. \"All of GW_CPU\" well above the gateway's own use "
          "means another process ran there. Buffers as each gateway ships them: sluice "
          "tunnel_buffer_bytes 16 KiB per direction, given back when empty; nginx proxy_buffer_size "
          "(4 KiB) per direction for the tunnel's life; HAProxy tune.bufsize 16 KiB, given back "
          "when empty. The kernel column is the machine-wide growth of Slab + Percpu + the TCP buffer "
          "pages per tunnel: it holds all four sockets of a tunnel (client, gateway ×2, upstream) and "
          "whatever else ran meanwhile, so only its differences between gateways mean something.")
    text = "\n".join(out) + "\n"
    open(md_path, "w").write(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
