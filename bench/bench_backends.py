"""make bench, part 6: the same partitions through Dagster on each deployment, side by side.

(a) one run, SQLite Dagster instance + the embedded DuckDB warehouse file (the default);
(b) one run, PostgreSQL Dagster instance + the DuckLake warehouse (catalog in PostgreSQL);
(c) four runs at once (four OS processes, a quarter of the cities each) on (b)'s setup.
Each is permit_pulls + raw_permits + scored_leads for every partition (property records are
loaded before the clock starts). The bare pipeline (ingest + score, no Dagster) on the
DuckDB file is the base of the per-partition overhead. PostgreSQL: $LEADS_TEST_POSTGRES or
a throwaway local cluster (lead_assets_tests/postgres.py); without one, (b) and (c) are skipped.

    python bench/bench_backends.py [days]     # standalone: 20 cities x days (default 30 = 600 partitions)
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORKERS = 4

# One of the four parallel runs (c): its own process, the shared instance and lake.
CHILD = """
import sys
import dagster as dg
from datetime import date
from lead_assets.definitions import build_defs
from lead_assets.defs.runs import score_partitions
from lead_assets.config.settings import Settings
settings = Settings.load(sys.argv[1])
cities, first, last = sys.argv[2].split(","), date.fromisoformat(sys.argv[3]), date.fromisoformat(sys.argv[4])
instance = dg.DagsterInstance.get()
try:
    score_partitions(build_defs(settings), settings, instance, cities, first, last)   # raises if a run fails
finally:
    instance.dispose()
"""


def _lake_config(config: Path, name: str) -> Path:
    text = config.read_text().replace('warehouse = "warehouse.duckdb"', f'warehouse = "{name}.duckdb"')
    out = config.with_name(f"{name}.toml")
    out.write_text(text + f'\n[warehouse]\nbackend = "ducklake"\ndata_path = "{name}_data"\n')
    return out


def _pg_home(root: Path, url: str) -> Path:
    home = root / "dagster_home_pg"
    home.mkdir(exist_ok=True)
    shutil.copy(ROOT / "dagster_home" / "postgres" / "dagster.yaml", home / "dagster.yaml")
    parts = urlsplit(url)
    os.environ.update(DAGSTER_PG_HOST=parts.hostname, DAGSTER_PG_PORT=str(parts.port),
                      DAGSTER_PG_DB=parts.path.lstrip("/"), DAGSTER_PG_USER=parts.username or "")
    return home


def _one_run(settings, instance, first: date, last: date) -> float:
    from lead_assets.definitions import build_defs
    from lead_assets.defs.runs import RunSummary, load_properties, score_partitions
    defs = build_defs(settings)
    load_properties(defs, instance, RunSummary())
    t = time.perf_counter()
    score_partitions(defs, settings, instance, list(settings.cities), first, last)   # raises if a run fails
    return time.perf_counter() - t


def _parallel_runs(settings, config: Path, home: Path, first: date, last: date) -> float:
    from lead_assets.definitions import build_defs
    from lead_assets.defs.runs import RunSummary, load_properties
    with _instance(home) as instance:
        load_properties(build_defs(settings), instance, RunSummary())
    cities = list(settings.cities)
    quarters = [cities[i::WORKERS] for i in range(WORKERS)]
    env = {**os.environ, "DAGSTER_HOME": str(home), "LEADS_CONFIG": str(config), "PYTHONWARNINGS": "ignore"}
    t = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(config), ",".join(q), str(first), str(last)],
                              env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for q in quarters]
    outs = [p.communicate()[0] for p in procs]
    elapsed = time.perf_counter() - t
    for p, out in zip(procs, outs):
        if p.returncode:
            raise SystemExit(f"a parallel run failed:\n{out[-3000:]}")
    return elapsed


def _instance(home: Path):
    import dagster as dg
    from contextlib import contextmanager

    @contextmanager
    def opened():
        instance = dg.DagsterInstance.from_config(str(home))
        try:
            yield instance
        finally:
            instance.dispose()
    return opened()


def _check_lake(settings, parts: int) -> int:
    from lead_assets.warehouse.connection import connect
    with connect(settings.warehouse_path) as con:
        n, dupes = con.execute("SELECT count(DISTINCT (city, permit_day)), count(*) - count(DISTINCT (city, permit_id))"
                               " FROM scored_leads").fetchone()
    assert dupes == 0 and n <= parts, (n, dupes)
    return n


def run(root: Path, config: Path, first: date, last: date, t_bare: float | None = None) -> None:
    """Print (a), (b), (c) for the partitions of `config` between first and last."""
    import dagster as dg
    from lead_assets.sources.ingest import ingest
    from lead_assets.leads.scoring import score
    from lead_assets.config.settings import Settings
    from lead_assets_tests.postgres import server

    settings = Settings.load(config)
    days = (last - first).days + 1
    parts = [(c, first + timedelta(days=d)) for c in settings.cities for d in range(days)]
    n = len(parts)
    if t_bare is None:
        t = time.perf_counter()
        ingest(settings, parts)
        score(settings, parts)
        t_bare = time.perf_counter() - t
    results: list[tuple[str, float]] = []
    home = root / "dagster_home_sqlite"
    home.mkdir(exist_ok=True)
    file_settings = Settings.load(config)
    if file_settings.warehouse_path.exists():
        file_settings.warehouse_path.unlink()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        results.append(("(a) 1 run, SQLite + DuckDB file", _one_run(file_settings, instance, first, last)))

    pg = server()
    if pg is None:
        print("   (b), (c) skipped: no PostgreSQL ($LEADS_TEST_POSTGRES or Debian's postgresql binaries)")
    else:
        try:
            os.environ["LEADS_LAKE_CATALOG"] = pg.database("bench_lake_b")
            lake_b = Settings.load(_lake_config(config, "lake_b"))
            pg_home = _pg_home(root, pg.database("bench_dagster_b"))
            with _instance(pg_home) as instance:
                results.append(("(b) 1 run, Postgres + DuckLake", _one_run(lake_b, instance, first, last)))
            assert _check_lake(lake_b, n) == n
            os.environ["LEADS_LAKE_CATALOG"] = pg.database("bench_lake_c")
            config_c = _lake_config(config, "lake_c")
            lake_c = Settings.load(config_c)
            pg_home = _pg_home(root, pg.database("bench_dagster_c"))
            results.append((f"(c) {WORKERS} runs at once, Postgres + DuckLake",
                            _parallel_runs(lake_c, config_c, pg_home, first, last)))
            assert _check_lake(lake_c, n) == n
        finally:
            from lead_assets.warehouse import lake
            lake.detach_all()
            pg.stop()
    print(f"   {n} partitions ({len(settings.cities)} cities x {days} days); bare pipeline on the DuckDB file "
          f"(ingest + score, no Dagster) {t_bare:.2f}s")
    print(f"   {'':<44}{'wall':>8}  {'per partition':>13}  {'overhead/partition':>18}")
    for name, t in results:
        print(f"   {name:<44}{t:7.2f}s  {t / n * 1000:10.1f} ms  {(t - t_bare) / n * 1000:15.1f} ms")


def main() -> None:
    import tempfile
    sys.path.insert(0, str(ROOT / "bench"))
    import run as bench_run
    if len(sys.argv) > 1:
        bench_run.DAYS = int(sys.argv[1])
    os.environ["LEADS_TODAY"] = bench_run.TODAY.isoformat()
    root = Path(tempfile.mkdtemp(prefix="leads-bench-backends-"))
    try:
        config, _ = bench_run.build_data(root)
        os.environ["LEADS_CONFIG"] = str(config)
        from lead_assets.sources.appraisal import load_property_records
        from lead_assets.config.settings import Settings
        load_property_records(Settings.load(config))
        print("5. Dagster + warehouse deployments, side by side")
        run(root, config, bench_run.END - timedelta(days=bench_run.DAYS - 1), bench_run.END)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
