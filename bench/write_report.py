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
w("Reproduce: `bench/run_bench.sh` (all scales and SQLite, about 25 minutes here) or `bench/run_bench.sh 1000000`.")
w("")
w("![time and memory against pending rows](bench/results/scaling.png)")
w("")
CONTENDERS = ["single", "single_archive", "batch_cleanup", "batch_cleanup_physical",
              "batch_cleanup_workers2",
              "batch_cleanup_batch_time", "batch_cleanup_key", "batch_cleanup_archive", "per_record",
              "count", "dry_run"]


def ratio_of(d, name, base="single"):
    if name not in d or base not in d:
        return None
    return med(d[name], "time_ms") / med(d[base], "time_ms")


for s in scales:
    d = data[s]
    single = med(d["single"], "time_ms")
    w(f"## {s:,} pending rows ({s // 2:,} to delete)")
    w("")
    w("| contender | time | rows/s | × single DELETE | batch p50 | batch p99 | batches | peak RSS | note |")
    w("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in CONTENDERS:
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
        w(f"Dry run against `count(*)` of the same join: {ratio_of(d, 'dry_run', 'count'):.2f}×.")
    if "batch_cleanup_archive" in d and "single_archive" in d:
        w(f"`--archive-table` against the one archiving statement (`single_archive`): "
          f"{ratio_of(d, 'batch_cleanup_archive', 'single_archive'):.2f}×.")
    if "batch_cleanup_workers2" in d:
        w(f"`--workers 2` against one worker (the defaults): "
          f"{ratio_of(d, 'batch_cleanup_workers2', 'batch_cleanup'):.2f}×.")
    if "per_record" in d:
        w(f"batch_cleanup against the original's per-record deletion: "
          f"{med(d['per_record'], 'time_ms') / med(d['batch_cleanup'], 'time_ms'):.0f}× faster "
          f"({d['per_record'][0]['note']}).")
    w("")

sqlite = {}
for name in sorted(os.listdir(results)):
    if not (name.startswith("sqlite_") and name.endswith(".tsv")):
        continue
    rows_n = int(name[len("sqlite_"):-len(".tsv")])
    with open(os.path.join(results, name)) as f:
        sq = {}
        for r in csv.DictReader(f, delimiter="\t"):
            sq.setdefault(r["contender"], []).append(r)
    sqlite[rows_n] = sq

# Goals (issue 13): ratios against the baseline of the same run, at the scale each names.
goal_scale = 1000000 if 1000000 in data else scales[-1]
small_scale = min(scales)


def verdict(value, target, at_most=True):
    if value is None:
        return "not measured"
    if (value <= target) if at_most else (value >= target):
        return "yes"
    miss = value / target - 1 if at_most else target / value - 1
    return f"no, missed by {miss * 100:.0f}%"


goals = []


def goal(text, target_text, value, target, shown, at_most=True):
    goals.append((text, target_text, shown if value is not None else "", verdict(value, target, at_most)))


for scale in sorted({small_scale, goal_scale}):
    r = ratio_of(data[scale], "batch_cleanup")
    goal(f"defaults against the single DELETE, {scale:,} rows", "≤ 1.25×", r, 1.25,
         f"{r:.2f}×" if r else "")
r = ratio_of(data[goal_scale], "batch_cleanup_workers2")
goal(f"`--workers 2` against the single DELETE, {goal_scale:,} rows", "≤ 0.8×", r, 0.8,
     f"{r:.2f}×" if r else "")
r = ratio_of(data[goal_scale], "batch_cleanup_key")
goal(f"`--batch-strategy key` against the single DELETE, {goal_scale:,} rows", "≤ 3×", r, 3.0,
     f"{r:.2f}×" if r else "")
r = ratio_of(data[goal_scale], "batch_cleanup_archive", "single_archive")
goal(f"`--archive-table` against one archiving DELETE, {goal_scale:,} rows", "≤ 1.25×", r, 1.25,
     f"{r:.2f}×" if r else "")
for rows_n, sq in sorted(sqlite.items()):
    for suffix, mode, target in (("", "rollback journal", 1.5), ("_wal", "WAL", 1.25)):
        if "single" + suffix in sq and "batch_cleanup" + suffix in sq:
            r = med(sq["batch_cleanup" + suffix], "time_ms") / med(sq["single" + suffix], "time_ms")
            goal(f"SQLite defaults against one DELETE, {mode}, {rows_n:,} rows", f"≤ {target}×", r,
                 target, f"{r:.2f}×")
p99s = [med(data[s]["batch_cleanup"], "batch_p99_ms") for s in scales]
goal("batch transaction p99 at the defaults, every scale", "≤ 100 ms", max(p99s), 100,
     ", ".join(f"{v:.0f} ms" for v in p99s) + f" at {', '.join(f'{s:,}' for s in scales)}")
for rows_n, sq in sorted(sqlite.items()):
    vals = [med(sq[c], "batch_p99_ms") for c in ("batch_cleanup", "batch_cleanup_wal") if c in sq]
    goal(f"SQLite batch p99 at the defaults, {rows_n:,} rows", "≤ 100 ms", max(vals), 100,
         " / ".join(f"{v:.0f} ms" for v in vals) + " (rollback / WAL)")
rss_all = [max(float(r["peak_rss_kb"]) for r in data[s]["batch_cleanup"]) / 1024 for s in scales]
goal("client peak RSS, flat across scales", "≤ 32 MB", max(rss_all), 32,
     f"{', '.join(f'{v:.1f}' for v in rss_all)} MB at {', '.join(f'{s:,}' for s in scales)}")
drs = [ratio_of(data[s], "dry_run", "count") for s in scales if "count" in data[s]]
if drs:
    goal("dry run against count(*) of the join, every scale", "≤ 1.5×", max(drs), 1.5,
         ", ".join(f"{v:.2f}×" for v in drs))
if "per_record" in data[goal_scale]:
    speedup = med(data[goal_scale]["per_record"], "time_ms") / med(data[goal_scale]["batch_cleanup"], "time_ms")
    goal(f"faster than per-record deletion, {goal_scale:,} rows", "≥ 50×", speedup, 50,
         f"{speedup:.0f}×", at_most=False)

w("## Goals")
w("")
w("Each figure from this run's tables; why a goal is missed is in the notes below.")
w("")
w("| goal | target | measured | met |")
w("| --- | --- | --- | --- |")
for text, target_text, shown, met in goals:
    w(f"| {text} | {target_text} | {shown} | {met} |")
w("")
for rows_n, sq in sorted(sqlite.items()):
    w(f"## SQLite, {rows_n:,} pending rows ({rows_n // 2:,} to delete)")
    w("")
    w("`bench/sqlite_bench.sh` on copies of one file, with the rollback journal (the default) and in WAL mode:")
    w("")
    w("| contender | time | × single DELETE | batch p50 | batch p99 | batches | peak RSS |")
    w("| --- | --- | --- | --- | --- | --- | --- |")
    for suffix in ("", "_wal"):
        if "single" + suffix not in sq:
            continue
        st = med(sq["single" + suffix], "time_ms")
        for cname in ("single" + suffix, "batch_cleanup" + suffix):
            rr = sq.get(cname)
            if not rr:
                continue
            t = med(rr, "time_ms")
            rss = max((float(r["peak_rss_kb"]) for r in rr if r["peak_rss_kb"]), default=None)
            label = rr[0]["note"] if cname.startswith("single") else f"batch_cleanup, {rr[0]['note']}"
            w(f"| {label} | {fmt_ms(t)} | {t / st:.2f}× | "
              f"{fmt_ms(med(rr, 'batch_p50_ms'))} | {fmt_ms(med(rr, 'batch_p99_ms'))} | "
              f"{'' if med(rr, 'batches') is None else int(med(rr, 'batches'))} | {'' if rss is None else f'{rss / 1024:.1f} MB'} |")
    w("")

notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "NOTES.md")
if os.path.exists(notes):
    w(open(notes).read().rstrip())
    w("")
w("## Plans of the batch statements")
w("")
w(f"`batch_cleanup explain` on the {goal_scale:,}-row template (EXPLAIN only; nothing runs), for each shape:")
w("")
for suffix, title in ((".plan.txt", "the defaults (the shape `auto` chose)"),
                      (".physical.plan.txt", "`--batch-strategy physical`"),
                      (".key.plan.txt", "`--batch-strategy key`")):
    path = os.path.join(results, f"{goal_scale}{suffix}")
    if not os.path.exists(path):
        continue
    w(f"### {title}")
    w("")
    w("```")
    w(open(path).read().rstrip())
    w("```")
    w("")
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
