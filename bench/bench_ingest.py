"""make bench, 1b: the rules path against the bare-DuckDB floor, in wall and CPU seconds.

The machine may be shared: wall time then counts the waits for a core, CPU time (all the
process's threads, DuckDB's included) does not. Each side runs `repeats` times, interleaved
and from an empty warehouse; the best run of each is shown.
"""
from __future__ import annotations

import shutil
import time


def _clock(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def rules_vs_floor(root, settings, parts, rows: int, floor, *, repeats: int = 2) -> None:
    from lead_assets.sources.appraisal import load_property_records
    from lead_assets.exports.files import write_buyer_files, write_queue_file
    from lead_assets.sources.ingest import ingest
    from lead_assets.leads.scoring import score

    steps = {
        "property records": lambda: load_property_records(settings),
        "ingest (parse, map, quarantine)": lambda: ingest(settings, parts),
        "projects, classify, score, tier": lambda: score(settings, parts),
        "export files": lambda: (write_buyer_files(settings), write_queue_file(settings, "review"),
                                 write_queue_file(settings, "retry")),
    }
    floors, runs = [], []
    for _ in range(repeats):
        floors.append(_clock(lambda: floor(root)))
        shutil.rmtree(settings.exports_dir, ignore_errors=True)
        settings.warehouse_path.unlink(missing_ok=True)
        runs.append({name: _clock(fn) for name, fn in steps.items()})
    f_wall, f_cpu = min(f[0] for f in floors), min(f[1] for f in floors)
    totals = [(sum(w for w, _ in r.values()), sum(c for _, c in r.values())) for r in runs]
    p_wall, p_cpu = min(t[0] for t in totals), min(t[1] for t in totals)
    best = min(runs, key=lambda r: sum(c for _, c in r.values()))
    print(f"\n1b. rules path vs floor, best of {repeats} (wall / CPU seconds, CPU = all threads)")
    print(f"   floor (DuckDB read_csv -> COPY csv)   {f_wall:7.2f}s / {f_cpu:6.2f}s")
    print(f"   rules path                            {p_wall:7.2f}s / {p_cpu:6.2f}s"
          f"  {rows / p_wall:>8,.0f} permits/s")
    print(f"   ratio to floor                        {p_wall / f_wall:7.1f}x  / {p_cpu / f_cpu:5.1f}x")
    for name, (wall, cpu) in best.items():
        print(f"     {name:<36}{wall:6.2f}s / {cpu:5.2f}s")
