#!/usr/bin/env python3
"""Turns bench/results/<scale>.tsv into BENCHMARKS.md and bench/results/scaling.png.

Usage: write_report.py RESULTS_DIR OUTPUT_MD SCALE...
Medians over the repetitions of one run; ratios are taken between contenders of the same run.
"""
import csv
import os
import shutil
import statistics
import subprocess
import sys

results, output, scales = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3:]]


def load(scale):
    with open(os.path.join(results, f"{scale}.tsv")) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    by = {}
    for r in rows:
        by.setdefault(r["contender"], []).append(r)
    return by


def med(rows, field):
    values = [float(r[field]) for r in rows if r.get(field) not in (None, "")]
    return statistics.median(values) if values else None


def fmt_ms(v):
    return "" if v is None else (f"{v / 1000:.2f} s" if v >= 1000 else f"{v:.0f} ms")


data = {s: load(s) for s in scales}
lines = []
w = lines.append
w("# Benchmarks")
w("")
w("Side-by-side runs on one machine (2 cores, PostgreSQL 15 with default settings, fsync on),")
w("produced by `bench/run_bench.sh`; every figure below comes from the files in `bench/results/`.")
w("Each contender runs on a fresh copy of the same template database (`CREATE DATABASE … TEMPLATE`).")
w("Dataset per scale: N users and N pending rows, uuid primary keys, unique indexes on both email")
w("columns, half of the pending rows duplicate a user's email, interleaved in physical order.")
w("Times are medians over the repetitions (3 at 100k and 1M, 1 at 5M); the machine is shared and")
w("noisy, so read ratios between contenders of the same run rather than absolute times.")
w("")
w("Reproduce: `bench/run_bench.sh` (all scales, about 15 minutes) or `bench/run_bench.sh 1000000`.")
w("")
w("![time and memory against pending rows](bench/results/scaling.png)")
w("")
for s in scales:
    d = data[s]
    single = med(d["single"], "time_ms")
    w(f"## {s:,} pending rows ({s // 2:,} to delete)")
    w("")
    w("| contender | time | rows/s | × single DELETE | batch p50 | batch p99 | batches | peak RSS | note |")
    w("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in ["single", "batch_cleanup", "batch_cleanup_workers2", "batch_cleanup_batch_time", "batch_cleanup_key", "per_record", "count", "dry_run"]:
        if name not in d:
            continue
        rows = d[name]
        t = med(rows, "time_ms")
        n = med(rows, "rows") or 0
        rate = f"{n / (t / 1000):,.0f}" if t and name not in ("count", "dry_run") else ""
        ratio = f"{t / single:.2f}×" if t and single else ""
        rss = max((float(r["peak_rss_kb"]) for r in rows if r["peak_rss_kb"]), default=None)
        w(f"| {name} | {fmt_ms(t)} | {rate} | {ratio} | {fmt_ms(med(rows, 'batch_p50_ms'))} | "
          f"{fmt_ms(med(rows, 'batch_p99_ms'))} | {'' if med(rows, 'batches') is None else int(med(rows, 'batches'))} | "
          f"{'' if rss is None else f'{rss / 1024:.1f} MB'} | {rows[0]['note']} |")
    w("")
    if "count" in d and "dry_run" in d:
        w(f"Dry run against `count(*)` of the same join: {med(d['dry_run'], 'time_ms') / med(d['count'], 'time_ms'):.2f}×.")
    if "per_record" in d:
        w(f"batch_cleanup against the original's per-record deletion: "
          f"{med(d['per_record'], 'time_ms') / med(d['batch_cleanup'], 'time_ms'):.0f}× faster "
          f"({d['per_record'][0]['note']}).")
    w("")

# Goals, from the 1M scale when present (else the largest).
goal_scale = 1000000 if 1000000 in data else scales[-1]
d = data[goal_scale]
single = med(d["single"], "time_ms")
tool = med(d["batch_cleanup"], "time_ms")
w(f"## Goals ({goal_scale:,} pending rows)")
w("")
w("| goal | target | measured | met |")
w("| --- | --- | --- | --- |")
ratio = tool / single
w(f"| cycle time against the single set-based DELETE | ≤ 1.25× | {ratio:.2f}× | {'yes' if ratio <= 1.25 else 'no'} |")
if "per_record" in d:
    speedup = med(d["per_record"], "time_ms") / tool
    w(f"| faster than per-record deletion | ≥ 50× | {speedup:.0f}× | {'yes' if speedup >= 50 else 'no'} |")
p99 = med(d["batch_cleanup"], "batch_p99_ms")
w(f"| batch transaction p99 at the defaults | ≤ 100 ms | {p99:.0f} ms | {'yes' if p99 <= 100 else 'no'} |")
rss_all = [max(float(r["peak_rss_kb"]) for r in data[s]["batch_cleanup"]) / 1024 for s in scales]
w(f"| client peak RSS, flat across scales | ≤ 32 MB | {', '.join(f'{v:.1f}' for v in rss_all)} MB at {', '.join(f'{s:,}' for s in scales)} | {'yes' if max(rss_all) <= 32 else 'no'} |")
if "count" in d:
    dr = med(d["dry_run"], "time_ms") / med(d["count"], "time_ms")
    w(f"| dry run against count(*) of the join | ≤ 1.5× | {dr:.2f}× | {'yes' if dr <= 1.5 else 'no'} |")
w("")
for name in sorted(os.listdir(results)):
    if not (name.startswith("sqlite_") and name.endswith(".tsv")):
        continue
    rows_n = int(name[len("sqlite_"):-len(".tsv")])
    with open(os.path.join(results, name)) as f:
        sq = {}
        for r in csv.DictReader(f, delimiter="\t"):
            sq.setdefault(r["contender"], []).append(r)
    st, tt = med(sq["single"], "time_ms"), med(sq["batch_cleanup"], "time_ms")
    w(f"## SQLite, {rows_n:,} pending rows ({rows_n // 2:,} to delete)")
    w("")
    w("`bench/sqlite_bench.sh` on copies of one file (rollback journal, the default):")
    w("")
    w("| contender | time | × single DELETE | batch p50 | batch p99 | batches | peak RSS |")
    w("| --- | --- | --- | --- | --- | --- | --- |")
    for cname in ("single", "batch_cleanup"):
        rr = sq[cname]
        t = med(rr, "time_ms")
        rss = max((float(r["peak_rss_kb"]) for r in rr if r["peak_rss_kb"]), default=None)
        w(f"| {rr[0]['note'] if cname == 'single' else 'batch_cleanup, defaults'} | {fmt_ms(t)} | {t / st:.2f}× | "
          f"{fmt_ms(med(rr, 'batch_p50_ms'))} | {fmt_ms(med(rr, 'batch_p99_ms'))} | "
          f"{'' if med(rr, 'batches') is None else int(med(rr, 'batches'))} | {'' if rss is None else f'{rss / 1024:.1f} MB'} |")
    w("")

notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "NOTES.md")
if os.path.exists(notes):
    w(open(notes).read().rstrip())
    w("")
w("## Plans of the batch statements")
w("")
w(f"`batch_cleanup explain` on the {goal_scale:,}-row template (EXPLAIN only; nothing runs):")
w("")
w("```")
w(open(os.path.join(results, f"{goal_scale}.plan.txt")).read().rstrip())
w("```")
with open(output, "w") as f:
    f.write("\n".join(lines) + "\n")

# The plot: time per contender and the tool's peak RSS against pending rows.
if shutil.which("gnuplot"):
    dat = os.path.join(results, "scaling.dat")
    with open(dat, "w") as f:
        f.write("# rows single batch_cleanup batch_time rss_mb\n")
        for s in scales:
            dd = data[s]
            f.write(f"{s} {med(dd['single'], 'time_ms') / 1000} {med(dd['batch_cleanup'], 'time_ms') / 1000} "
                    f"{med(dd['batch_cleanup_batch_time'], 'time_ms') / 1000} "
                    f"{max(float(r['peak_rss_kb']) for r in dd['batch_cleanup']) / 1024}\n")
    script = f"""
set terminal pngcairo size 1000,600 font ",11" noenhanced
set output '{os.path.join(results, 'scaling.png')}'
set title 'PostgreSQL 15, half of the pending rows duplicate a user'
set xlabel 'pending rows'
set ylabel 'seconds'
set y2label 'batch_cleanup peak RSS (MB)'
set logscale x
set format x '%.0s%c'
set ytics nomirror
set y2tics
set y2range [0:40]
set key left top
set grid
plot '{dat}' using 1:2 with linespoints lw 2 title 'single DELETE … USING', \\
     '{dat}' using 1:3 with linespoints lw 2 title 'batch_cleanup (defaults)', \\
     '{dat}' using 1:4 with linespoints lw 2 title 'batch_cleanup --batch-time 50ms', \\
     '{dat}' using 1:5 axes x1y2 with linespoints lw 2 dt 2 title 'batch_cleanup peak RSS (MB)'
"""
    subprocess.run(["gnuplot"], input=script.encode(), check=True)
print(f"wrote {output}")
