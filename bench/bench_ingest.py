"""make bench, 1b: the rules path against the bare-DuckDB floor, in wall and CPU seconds.

The machine may be shared: wall time then counts the waits for a core, CPU time (all the
process's threads, DuckDB's included) does not. Each side runs `repeats` times, interleaved
and from an empty warehouse; the best run of each is shown.
"""
from __future__ import annotations

import shutil
import time
from dataclasses import replace


def _clock(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def _best_total(runs: list[dict], skip: str | None = None) -> tuple[float, float]:
    """The least wall and the least CPU seconds of the runs' steps summed (without `skip`)."""
    totals = [[t for name, t in r.items() if name != skip] for r in runs]
    return min(sum(w for w, _ in t) for t in totals), min(sum(c for _, c in t) for t in totals)


def rules_vs_floor(root, settings, parts, rows: int, floor, *, repeats: int = 2) -> None:
    from lead_assets.sources.appraisal import load_property_records
    from lead_assets.exports.files import write_buyer_files, write_queue_file
    from lead_assets.sources.ingest import ingest
    from lead_assets.leads.scoring import score
    from lead_assets.warehouse.connection import use_warehouse

    steps = {
        "property records": lambda: load_property_records(settings),
        "ingest (parse, map, quarantine)": lambda: ingest(settings, parts),
        "projects, classify, score, tier": lambda: score(settings, parts),
        "export files": lambda: (write_buyer_files(settings), write_queue_file(settings, "review"),
                                 write_queue_file(settings, "retry")),
    }
    def fresh_run() -> dict:
        shutil.rmtree(settings.exports_dir, ignore_errors=True)
        settings.warehouse_path.unlink(missing_ok=True)
        return {name: _clock(fn) for name, fn in steps.items()}

    floors, runs, auto_runs = [], [], []
    for _ in range(repeats):
        floors.append(_clock(lambda: floor(root)))
        # The same with DuckDB on all cores ([warehouse] threads = "auto", the floor's setting).
        use_warehouse(settings.warehouse_path, replace(settings.warehouse, threads="auto"))
        auto_runs.append(fresh_run())
        use_warehouse(settings.warehouse_path, settings.warehouse)
        runs.append(fresh_run())
    # A rescore (a retry, a rules change) of the same permits: their projects are not regrouped.
    rescore = min((_clock(steps["projects, classify, score, tier"]) for _ in range(repeats)), key=lambda t: t[1])
    f_wall, f_cpu = min(f[0] for f in floors), min(f[1] for f in floors)
    p_wall, p_cpu = _best_total(runs)
    best = min(runs, key=lambda r: sum(c for _, c in r.values()))
    print(f"\n1b. rules path vs floor, best of {repeats} (wall / CPU seconds, CPU = all threads)")
    print(f"   floor (DuckDB read_csv -> COPY csv)   {f_wall:7.2f}s / {f_cpu:6.2f}s")
    print(f"   rules path                            {p_wall:7.2f}s / {p_cpu:6.2f}s"
          f"  {rows / p_wall:>8,.0f} permits/s")
    print(f"   ratio to floor                        {p_wall / f_wall:7.1f}x  / {p_cpu / f_cpu:5.1f}x")
    for name, (wall, cpu) in best.items():
        print(f"     {name:<36}{wall:6.2f}s / {cpu:5.2f}s")
    a_wall, a_cpu = _best_total(auto_runs)
    print(f"   rules path, threads = \"auto\"        {a_wall:7.2f}s / {a_cpu:6.2f}s"
          f"  {a_wall / p_wall:5.2f}x / {a_cpu / p_cpu:4.2f}x the time of threads = {settings.warehouse.threads}")
    first_cpu = min(r["projects, classify, score, tier"][1] for r in runs)
    print(f"   rescore, permits unchanged            {rescore[0]:7.2f}s / {rescore[1]:6.2f}s"
          f"  {rescore[1] / first_cpu:5.2f}x the first score's CPU")
    # A day's run does not reload the appraisal export (property_records is on demand).
    d_wall, d_cpu = _best_total(runs, skip="property records")
    print(f"   without the appraisal load            {d_wall:7.2f}s / {d_cpu:6.2f}s"
          f"  {d_wall / f_wall:5.1f}x / {d_cpu / f_cpu:4.1f}x the floor")


def json_pages(root, settings, *, page_size: int = 1000, repeats: int = 3) -> None:
    """1c. Portal pages (JSON arrays of `page_size` records, as a Socrata pull saves them) staged
    by DuckDB's JSON reader and by Python's json, side by side on the same files."""
    import csv
    import dataclasses
    import json
    from unittest import mock

    import duckdb

    from lead_assets.sources import landing

    folder = root / "json_landing" / "pages"
    folder.mkdir(parents=True)
    records = []
    for path in sorted((root / "landing").glob("*/*.csv")):
        with path.open(newline="", encoding="utf-8") as fh:
            records.extend({k: v for k, v in row.items() if v != ""} for row in csv.DictReader(fh))
    for n in range(0, len(records), page_size):
        (folder / f"p{n // page_size:05d}.json").write_text(json.dumps(records[n:n + page_size]))
    city = dataclasses.replace(settings.city(next(iter(settings.cities))), landing="pages/*.json", format="json")

    def stage() -> int:
        with duckdb.connect() as con:
            return landing.stage(con, [landing.read_city(root / "json_landing", city)])

    def python_json() -> int:
        with mock.patch.object(landing, "json_kind", lambda path, data: None):
            return stage()

    sides = {"DuckDB read_json_objects": [], "Python json": []}
    for _ in range(repeats):
        for name, fn in (("DuckDB read_json_objects", stage), ("Python json", python_json)):
            sides[name].append(_clock(fn))
    assert stage() == python_json() == len(records)
    best = {name: (min(w for w, _ in runs), min(c for _, c in runs)) for name, runs in sides.items()}
    (d_wall, d_cpu), (p_wall, p_cpu) = best.values()
    print(f"\n1c. {len(records):,} records in {len(records) // page_size + 1} JSON pages -> staged rows, "
          f"best of {repeats} (wall / CPU)")
    for name, (wall, cpu) in best.items():
        print(f"   {name:<36}{wall:7.2f}s / {cpu:6.2f}s")
    print(f"   Python json / DuckDB                  {p_wall / d_wall:7.1f}x  / {p_cpu / d_cpu:5.1f}x")
