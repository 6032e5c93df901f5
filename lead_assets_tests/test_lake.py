"""The DuckLake warehouse backend (catalog in PostgreSQL, data files in a folder).

Skipped without PostgreSQL ($LEADS_TEST_POSTGRES, or Debian's binaries for a throwaway
cluster; see conftest.postgres).
"""
from __future__ import annotations

import multiprocessing as mp
import os

import duckdb
import psycopg2
import pytest

from lead_assets.warehouse import lake
from lead_assets.config.errors import ConfigError
from lead_assets.config.settings import Settings
from lead_assets.warehouse.connection import connect
from lead_assets_tests.conftest import all_partitions, build_all, demo_project, lake_config, write_config

ROW_KEYS = "SELECT city, permit_id, permit_day, score, tier, category, trade_group, discarded, needs_review " \
           "FROM scored_leads ORDER BY city, permit_id"


def _catalog_tables(url: str) -> set[str]:
    con = psycopg2.connect(url)
    try:
        with con.cursor() as cur:
            cur.execute("SELECT table_name FROM ducklake_table WHERE end_snapshot IS NULL")
            return {r[0] for r in cur.fetchall()}
    finally:
        con.close()


@pytest.mark.postgres
def test_lake_holds_the_same_leads_as_the_duckdb_file(lake_project, tmp_path_factory, monkeypatch):
    build_all(lake_project)
    file_project = demo_project(tmp_path_factory.mktemp("file"), monkeypatch)   # same demo data, embedded file
    build_all(file_project)
    with connect(lake_project.warehouse_path) as con:
        lake_rows = con.execute(ROW_KEYS).fetchall()
        lake_counts = [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                       for t in ("raw_permits", "quarantine", "property_records", "permit_projects")]
    with connect(file_project.warehouse_path) as con:
        file_rows = con.execute(ROW_KEYS).fetchall()
        file_counts = [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                       for t in ("raw_permits", "quarantine", "property_records", "permit_projects")]
    assert len(lake_rows) > 100 and lake_rows == file_rows
    assert lake_counts == file_counts
    # The tables live in the PostgreSQL catalog and the Parquet files; there is no DuckDB file or lock.
    assert {"raw_permits", "scored_leads", "buyers"} <= _catalog_tables(os.environ["LEADS_LAKE_CATALOG"])
    assert not lake_project.warehouse_path.exists() and not lake_project.lock_path.exists()
    assert list((lake_project.config_path.parent / "lake").rglob("*.parquet"))
    # Same buyer files (the exports read the warehouse the same way on both backends).
    lake_files = sorted(p.relative_to(lake_project.exports_dir) for p in lake_project.exports_dir.rglob("*.csv"))
    assert lake_files == sorted(p.relative_to(file_project.exports_dir) for p in file_project.exports_dir.rglob("*.csv"))


@pytest.mark.postgres
def test_rescoring_a_partition_on_the_lake_replaces_its_rows(lake_project):
    build_all(lake_project)
    from lead_assets.sources.ingest import ingest
    from lead_assets.leads.scoring import score
    part = all_partitions(lake_project)[:1]
    with connect(lake_project.warehouse_path) as con:
        before = con.execute(ROW_KEYS).fetchall()
    ingest(lake_project, part)
    score(lake_project, part)
    with connect(lake_project.warehouse_path) as con:
        assert con.execute(ROW_KEYS).fetchall() == before
        assert con.execute("SELECT count(*) - count(DISTINCT (city, permit_num)) FROM raw_permits").fetchone()[0] == 0


@pytest.mark.postgres
def test_buyer_names_stay_unique_without_a_primary_key(lake_project):
    """DuckLake has no PRIMARY KEY; add_buyer's own check is what keeps a name unique."""
    from lead_assets.sales.buyers import add_buyer, list_buyers
    from lead_assets.sales.errors import SalesError
    add_buyer(lake_project, "Lone Star Roofing", categories=["roof"], price_a=40, price_b=25, price_c=10)
    with pytest.raises(SalesError, match="already exists"):
        add_buyer(lake_project, "lone star roofing", categories=["roof"], price_a=40, price_b=25, price_c=10)
    assert [b.name for b in list_buyers(lake_project)] == ["Lone Star Roofing"]


@pytest.mark.postgres
def test_reasoner_cache_replaces_an_answer_on_the_lake(lake_project):
    from lead_assets.reasoner import cache
    from lead_assets.reasoner.schema import Usage, Verdict
    verdict = Verdict(score=71, category="roof", reasoning="Reroof of a homestead; owner lives there.")
    with connect(lake_project.warehouse_path) as con:
        cache.ensure_tables(con)
        cache.store(con, [("h1", verdict, Usage(), "test")], "m", "p1", "s1")
        cache.store(con, [("h1", verdict, Usage(input_tokens=7), "test")], "m", "p1", "s1")
        assert con.execute("SELECT count(*), max(input_tokens) FROM reasoner_cache").fetchone() == (1, 7)
        assert set(cache.lookup(con, ["h1"], "m", "p1", "s1")) == {"h1"}


def test_missing_catalog_dsn_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("LEADS_LAKE_CATALOG", raising=False)
    settings = Settings.load(write_config(tmp_path, lake_config(tmp_path)))
    with pytest.raises(lake.LakeError, match=r"needs the catalog's PostgreSQL DSN in \$LEADS_LAKE_CATALOG"):
        with connect(settings.warehouse_path):
            pass


@pytest.mark.postgres
def test_catalog_errors_never_show_the_password(tmp_path, monkeypatch, postgres):
    # A port nobody listens on: the attach fails, and the error names the env var, not the secret.
    monkeypatch.setenv("LEADS_LAKE_CATALOG", "postgresql://leads:s3cret-pw@127.0.0.1:1/nowhere")
    settings = Settings.load(write_config(tmp_path, lake_config(tmp_path)))
    with pytest.raises(lake.LakeError) as info:
        with connect(settings.warehouse_path):
            pass
    assert "s3cret-pw" not in str(info.value) and "$LEADS_LAKE_CATALOG" in str(info.value)
    assert "s3cret" not in lake.redact("host=x password=s3cret user=y", "dsn")


def test_lake_schema_drops_keys_the_duckdb_file_keeps(tmp_path):
    from lead_assets.warehouse.connection import SCHEMA
    assert "PRIMARY KEY" in SCHEMA and "PRIMARY KEY" not in lake.ddl(SCHEMA)
    settings = Settings.load(write_config(tmp_path))
    from lead_assets.sales.buyers import add_buyer
    add_buyer(settings, "Lone Star Roofing", categories=["roof"], price_a=40, price_b=25, price_c=10)
    with connect(settings.warehouse_path) as con:   # the embedded file still enforces the key
        with pytest.raises(duckdb.ConstraintException):
            con.execute("INSERT INTO buyers (name) VALUES ('Lone Star Roofing')")


def test_bad_warehouse_section_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="warehouse.backend: must be .duckdb. or .ducklake., not .sqlite."):
        Settings.load(write_config(tmp_path, '[warehouse]\nbackend = "sqlite"\n'))
    with pytest.raises(ConfigError, match=r"warehouse.catalog: unknown key"):
        Settings.load(write_config(tmp_path, '[warehouse]\nbackend = "ducklake"\ncatalog = "postgresql://x"\n'))


@pytest.mark.postgres
def test_a_dry_run_copy_of_lake_settings_stays_a_local_file(lake_project, tmp_path):
    """replace(settings, warehouse_path=scratch) -- dry runs, the quality eval -- never writes to the lake."""
    from dataclasses import replace
    scratch = replace(lake_project, warehouse_path=tmp_path / "scratch.duckdb")
    with connect(scratch.warehouse_path) as con:
        con.execute("INSERT INTO lead_status VALUES ('plano', 'X-1', 'new', NULL, now()::TIMESTAMP)")
    assert scratch.warehouse_path.exists()
    with connect(lake_project.warehouse_path) as con:
        assert con.execute("SELECT count(*) FROM lead_status").fetchone()[0] == 0


# ---- four OS processes writing different partitions into one lake at the same time ----------

def _writer(config: str, catalog: str, parts: list[tuple[str, str]], barrier, out) -> None:
    os.environ["LEADS_LAKE_CATALOG"] = catalog
    from datetime import date
    from lead_assets.sources.ingest import ingest
    from lead_assets.leads.scoring import score
    settings = Settings.load(config)
    mine = [(c, date.fromisoformat(d)) for c, d in parts]
    with connect(settings.warehouse_path):   # attach (and create the schema) before the race
        pass
    barrier.wait(timeout=120)
    try:
        loaded = ingest(settings, mine)
        scored = score(settings, mine)
        out.put(("ok", {f"{c}|{d}": n for (c, d), n in loaded.loaded.items()}, scored.scored))
    except BaseException as exc:   # reported to the test, which fails with it
        out.put(("error", repr(exc), 0))


@pytest.mark.postgres
def test_four_processes_write_different_partitions_at_once(lake_project, tmp_path_factory, monkeypatch):
    from lead_assets.sources.appraisal import load_property_records
    load_property_records(lake_project)
    parts = all_partitions(lake_project)            # 5 cities x 3 days
    groups = [parts[i::4] for i in range(4)]        # every process has days of several cities
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(str(lake_project.config_path), os.environ["LEADS_LAKE_CATALOG"],
                                               [(c, d.isoformat()) for c, d in g], barrier, out))
             for g in groups]
    for p in procs:
        p.start()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert [r[0] for r in results] == ["ok"] * 4, [r[1] for r in results if r[0] != "ok"]
    assert all(p.exitcode == 0 for p in procs)

    # Every row: the same partitions built by one process into an embedded file is the reference.
    reference = demo_project(tmp_path_factory.mktemp("reference"), monkeypatch)
    build_all(reference)
    count_sql = {
        "raw_permits": "SELECT city, permit_day, count(*) FROM raw_permits GROUP BY ALL ORDER BY ALL",
        "scored_leads": "SELECT city, permit_day, tier, count(*) FROM scored_leads GROUP BY ALL ORDER BY ALL",
        "quarantine": "SELECT city, permit_day, count(*) FROM quarantine GROUP BY ALL ORDER BY ALL",
    }
    with connect(lake_project.warehouse_path) as con:
        got = {t: con.execute(q).fetchall() for t, q in count_sql.items()}
        dupes = con.execute("""SELECT (SELECT count(*) - count(DISTINCT (city, permit_num)) FROM raw_permits),
                                      (SELECT count(*) - count(DISTINCT (city, permit_id)) FROM scored_leads),
                                      (SELECT count(*) - count(DISTINCT (city, permit_num)) FROM permit_projects)
                            """).fetchone()
        lake_rows = con.execute(ROW_KEYS).fetchall()
        members = con.execute("SELECT count(*) FROM permit_projects").fetchone()[0]
        raw = con.execute("SELECT count(*) FROM raw_permits").fetchone()[0]
    with connect(reference.warehouse_path) as con:
        want = {t: con.execute(q).fetchall() for t, q in count_sql.items()}
        file_rows = con.execute(ROW_KEYS).fetchall()
    assert dupes == (0, 0, 0)
    assert got == want and len(got["raw_permits"]) == len(parts)
    reported = {k: v for r in results for k, v in r[1].items()}
    assert reported == {f"{c}|{d}": n for c, d, n in got["raw_permits"]}
    assert members == raw, "every raw permit is in exactly one project"
    assert lake_rows == file_rows
