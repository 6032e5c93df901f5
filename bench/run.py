"""make bench: throughput of the pipeline against a bare-DuckDB floor, Dagster overhead, rescore cost.

All figures are measured side by side in this one run on this machine; nothing is asserted.
"""
from __future__ import annotations

import csv
import os
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CITIES, DAYS = 20, 30
TARGET_ROWS = 100_000
END = date(2026, 11, 27)
TODAY = END + timedelta(days=1)


def build_data(root: Path) -> tuple[Path, int]:
    """100,000 permits over 20 cities x 30 days, from the demo generator's BLDS-style feeds."""
    from lead_assets.demo.feeds import generate_demo
    demo = root / "demo"
    generate_demo(demo, END, days=DAYS)
    templates: dict[str, list[list[str]]] = {}
    header = None
    for city in ("plano", "allen", "mckinney"):
        for path in sorted((demo / "landing" / city).glob("*.csv")):
            with path.open(newline="", encoding="utf-8") as fh:
                rows = list(csv.reader(fh))
            header = rows[0]
            templates.setdefault(path.stem[-10:], []).extend(rows[1:])
    per_file = TARGET_ROWS // (CITIES * DAYS)
    total = 0
    for n in range(1, CITIES + 1):
        city = f"city{n:02d}"
        out = root / "landing" / city
        out.mkdir(parents=True)
        for day, rows in templates.items():
            picked = [rows[(i * 7 + n) % len(rows)] for i in range(per_file)]
            with (out / f"{city}_{day}.csv").open("w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(header)
                for i, row in enumerate(picked):
                    row = list(row)
                    row[0] = f"{city.upper()}-{day}-{i:04d}"
                    w.writerow(row)
            total += len(picked)
    cad_rows = list(csv.reader((demo / "cad" / "collin_cad_properties.csv").open(newline="", encoding="utf-8")))
    (root / "cad").mkdir()
    with (root / "cad" / "cad.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(cad_rows[0])
        for n in range(1, CITIES + 1):
            for row in cad_rows[1:]:
                w.writerow([f"{n}-{row[0]}", row[1], f"CITY{n:02d}", *row[3:]])
    # a leads.toml with 20 cities, all in the BLDS layout
    base = (ROOT / "leads.toml").read_text()
    head = base.split("# ---- cities")[0].split("[paths]")[0]
    tail = "[appraisal]" + base.split("[appraisal]")[1]
    plano = base.split("[cities.plano]")[1].split("[cities.frisco]")[0]
    cities = "".join(f"[cities.city{n:02d}]" + plano.replace('name = "Plano"', f'name = "City{n:02d}"')
                     .replace("plano/", f"city{n:02d}/").replace("[cities.plano.", f"[cities.city{n:02d}.")
                     for n in range(1, CITIES + 1))
    config = root / "leads.toml"
    config.write_text(head + '[paths]\nwarehouse = "warehouse.duckdb"\nlanding = "landing"\nappraisal = "cad"\n'
                      'exports = "exports"\n\n[partitions]\nstart_date = "2026-10-01"\ntimezone = "America/Chicago"\n\n'
                      + base.split("[freshness_days]")[1].split("# ---- cities")[0].join(["[freshness_days]", ""])
                      + cities + tail)
    return config, total


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t, out


def floor(root: Path) -> float:
    """DuckDB alone: read every landing row and write it to CSV."""
    import duckdb
    t = time.perf_counter()
    with duckdb.connect() as con:
        con.execute(f"""COPY (SELECT * FROM read_csv('{root}/landing/*/*.csv', all_varchar=true, header=true))
                        TO '{root}/floor.csv' (HEADER)""")
    return time.perf_counter() - t


def main() -> None:
    os.environ["LEADS_TODAY"] = TODAY.isoformat()
    root = Path(tempfile.mkdtemp(prefix="leads-bench-"))
    print(f"bench data in {root}")
    t_data, (config, rows) = timed(build_data, root)
    os.environ["LEADS_CONFIG"] = str(config)
    from lead_assets.sources.appraisal import load_property_records
    from lead_assets.exports.files import write_buyer_files, write_queue_file
    from lead_assets.sources.ingest import ingest
    from lead_assets.leads.scoring import score
    from lead_assets.config.settings import Settings

    settings = Settings.load(config)
    parts = [(c, END - timedelta(days=d)) for c in settings.cities for d in range(DAYS)]
    print(f"{rows:,} permits, {len(settings.cities)} cities x {DAYS} days = {len(parts)} partitions "
          f"(generated in {t_data:.1f}s)\n")

    t_floor = min(floor(root) for _ in range(3))

    # One pass on an empty warehouse, step by step (a second pass would be a rescore: its
    # projects are kept, and it would time less than the first run does).
    steps = {}
    steps["property records"], _ = timed(load_property_records, settings)
    steps["ingest (parse, map, quarantine)"], _ = timed(ingest, settings, parts)
    steps["classify + score + tier"], _ = timed(score, settings, parts)
    steps["export files"], _ = timed(lambda: (write_buyer_files(settings), write_queue_file(settings, "review"),
                                              write_queue_file(settings, "retry")))
    t_pipe = sum(steps.values())
    print("1. raw rows -> export files, no orchestration")
    print(f"   floor (DuckDB read_csv -> COPY csv)   {t_floor:7.2f}s  {rows / t_floor:>10,.0f} rows/s")
    print(f"   lead pipeline                         {t_pipe:7.2f}s  {rows / t_pipe:>10,.0f} permits/s")
    print(f"   ratio to floor                        {t_pipe / t_floor:7.1f}x")
    for name, t in steps.items():
        print(f"     {name:<36}{t:6.2f}s")
    import bench_ingest  # 1b: the same in wall and CPU time, best of two (bench/bench_ingest.py)
    bench_ingest.rules_vs_floor(root, settings, parts, rows, floor)
    bench_ingest.json_pages(root, settings)

    # 2. The same 600 partitions through Dagster, as a backfill runs them.
    import dagster as dg
    from lead_assets.definitions import build_defs
    from lead_assets.defs.runs import RunSummary, load_properties, refresh_exports, score_partitions
    shutil.rmtree(root / "exports")
    settings.warehouse_path.unlink()
    home = root / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        defs = build_defs(settings)

        def through_dagster():
            summary = RunSummary()
            load_properties(defs, instance, summary)
            score_partitions(defs, settings, instance, list(settings.cities), END - timedelta(days=DAYS - 1), END)
            refresh_exports(defs, settings, instance, summary=summary)
        t_dag, _ = timed(through_dagster)
        # one run per partition, as a default multi-run backfill would do (sampled on 10 partitions)
        sample = parts[:10]
        t_many = 0.0
        for city, day in sample:
            dt, _ = timed(score_partitions, defs, settings, instance, [city], day, day)
            t_many += dt
    per_run = t_many / len(sample)
    print("\n2. the same 600 partitions through Dagster")
    print(f"   single-run backfill (1 run)           {t_dag:7.2f}s  overhead {(t_dag - t_pipe) / len(parts) * 1000:5.1f} ms/partition"
          f" ({t_dag / t_pipe:.1f}x the bare pipeline)")
    print(f"   one run per partition (sampled x10)   {per_run:7.2f}s per run -> ~{per_run * len(parts) / 60:.0f} min for 600")

    # 3. A rescore of one city-day against a full run.
    full = t_pipe
    t_one, rep = timed(lambda: (ingest(settings, parts[:1]), score(settings, parts[:1]))[1])
    from lead_assets.exports.files import stale_buyer_files
    t_stale, stale = timed(stale_buyer_files, settings)
    t_write, written = timed(write_buyer_files, settings, stale)
    print("\n3. rescore one city-day vs a full run")
    print(f"   rows rescored   {rep.scored:>7,} of {rows:,}   files rewritten {len(written.written)} of {len(written.rows) if stale else 0} stale"
          f" (55 in all)")
    print(f"   time            {t_one + t_stale + t_write:7.2f}s vs {full:.2f}s full ({full / (t_one + t_stale + t_write):.0f}x less)")

    print("\n4. lead quality on the hand-labelled Austin dev set (leads eval)")
    from lead_assets.leads.quality import compare, load_labels, predict
    austin = Settings.load(ROOT / "examples" / "austin.toml")
    t0 = time.perf_counter()
    predicted = predict(austin, "austin")
    t_eval = time.perf_counter() - t0
    for split in ("dev", "check"):
        rep = compare(load_labels(ROOT / "lead_assets_tests" / "fixtures" / "labels" / f"austin_{split}.csv"), predicted)
        f = rep.figures()
        print(f"   {split:<6} {rep.found:>4} permits  category {f['category']:6.1%}  discard P/R "
              f"{f['discard_precision']:.2f}/{f['discard_recall']:.2f}  commercial F1 {f['commercial_f1']:.2f}")
    print(f"   (the whole March 2015 feed, {len(predicted):,} permits, ingested and classified in {t_eval:.1f}s)")

    # 5. the same partitions on SQLite + DuckDB file, Postgres + DuckLake, and 4 runs at once.
    # LEADS_BENCH_BACKEND_DAYS: fewer days (x 20 cities) when the full 600 takes too long here.
    sys.path.insert(0, str(ROOT / "bench"))
    import bench_backends
    backend_days = int(os.environ.get("LEADS_BENCH_BACKEND_DAYS", DAYS))
    print("\n5. Dagster + warehouse deployments, side by side")
    bench_backends.run(root, config, END - timedelta(days=backend_days - 1), END,
                       t_bare=None if backend_days != DAYS else steps["ingest (parse, map, quarantine)"]
                       + steps["classify + score + tier"])

    bench_reasoner = ROOT / "bench" / "bench_reasoner.py"
    if bench_reasoner.exists():
        print("\n6. reasoner")
        sys.path.insert(0, str(bench_reasoner.parent))
        import bench_reasoner as br
        br.main()
    shutil.rmtree(root, ignore_errors=True)

    from bench_scale import main as bench_scale   # 7. 3,000 jurisdictions, both partition schemes
    bench_scale()


if __name__ == "__main__":
    main()
