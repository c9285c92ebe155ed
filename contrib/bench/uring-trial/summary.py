#!/usr/bin/env python3
"""Medians (and min..max) per gateway of bench.sh's results.tsv, as Markdown."""
import csv, statistics, sys

args = [a for a in sys.argv[1:] if a != "--raw"]
path = args[0] if args else "results.tsv"
rows = list(csv.DictReader(open(path), delimiter="\t"))
if "--raw" in sys.argv:  # the per-round figures, one line per run
    keys = ["round", "gateway", "rps", "p50_ms", "p99_ms", "cpu_us_req", "cpu0_busy_us_req",
            "syscalls_req", "vol_cs_req", "perf_cs_req"]
    print("| round | gateway | req/s | p50 ms | p99 ms | CPU µs/req | CPU0 busy µs/req | syscalls/req | vol. ctx sw/req | ctx sw/req (perf) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(f"{float(r[k]):.0f}" if k == "rps" else r[k] for k in keys) + " |")
    sys.exit(0)
cols = [("rps", "req/s", 0), ("p50_ms", "p50 ms", 3), ("p99_ms", "p99 ms", 3),
        ("cpu_us_req", "CPU µs/req (utime+stime)", 2), ("sched_us_req", "on-CPU µs/req (schedstat)", 2),
        ("cpu0_busy_us_req", "CPU0 busy µs/req", 2), ("cpu0_softirq_us_req", "CPU0 softirq µs/req", 2),
        ("syscalls_req", "syscalls/req", 3), ("vol_cs_req", "vol. ctx sw/req", 4),
        ("invol_cs_req", "invol. ctx sw/req", 4), ("perf_cs_req", "ctx sw/req (perf)", 4)]
gws = []
for r in rows:
    if r["gateway"] not in gws:
        gws.append(r["gateway"])
print("| gateway | rounds | " + " | ".join(c[1] for c in cols) + " |")
print("|---|---|" + "---|" * len(cols))
for g in gws:
    rs = [r for r in rows if r["gateway"] == g]
    cells = []
    for key, _, d in cols:
        v = [float(r[key]) for r in rs]
        cells.append(f"{statistics.median(v):.{d}f} ({min(v):.{d}f}..{max(v):.{d}f})")
    print(f"| {g} | {len(rs)} | " + " | ".join(cells) + " |")

# paired differences against epoll, round by round (the machine's speed
# drifts between rounds more than the backends differ)
if "epoll" in gws:
    keys = [("cpu_us_req", "Δ CPU µs/req", 2), ("cpu0_busy_us_req", "Δ CPU0 busy µs/req", 2),
            ("syscalls_req", "Δ syscalls/req", 3), ("vol_cs_req", "Δ vol. ctx sw/req", 4),
            ("rps", "Δ req/s", 0)]
    base = {r["round"]: r for r in rows if r["gateway"] == "epoll"}
    print()
    print("| gateway − epoll, same round | pairs | " + " | ".join(k[1] for k in keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    for g in gws:
        if g == "epoll":
            continue
        rs = [r for r in rows if r["gateway"] == g and r["round"] in base]
        cells = []
        for key, _, d in keys:
            v = [float(r[key]) - float(base[r["round"]][key]) for r in rs]
            cells.append(f"{statistics.median(v):+.{d}f} ({min(v):+.{d}f}..{max(v):+.{d}f})")
        print(f"| {g} | {len(rs)} | " + " | ".join(cells) + " |")
