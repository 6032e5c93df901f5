"""Dagster on PostgreSQL (dagster_home/postgres/dagster.yaml) with the DuckLake warehouse:
the deployment past one machine, end to end on a throwaway local server."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import psycopg2
import pytest

from lead_assets.config.settings import PROJECT_ROOT
from lead_assets.warehouse.connection import connect
from lead_assets_tests.conftest import DEMO_DAYS
from lead_assets_tests.test_automation import open_instance
from lead_assets_tests.test_pipeline_dagster import _build_graph, _materialized_partitions

pytestmark = pytest.mark.postgres


def _pg_rows(url: str, sql: str) -> list[tuple]:
    con = psycopg2.connect(url)
    try:
        with con.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        con.close()


@pytest.fixture
def pg_home(tmp_path, postgres, monkeypatch) -> tuple[Path, str]:
    """A DAGSTER_HOME holding the project's Postgres dagster.yaml; its storage database's URL."""
    home = tmp_path / "dagster_home_pg"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster_home" / "postgres" / "dagster.yaml", home / "dagster.yaml")
    url = postgres.database("dagster")
    parts = urlsplit(url)
    for var, value in (("HOST", parts.hostname), ("PORT", parts.port), ("DB", parts.path.lstrip("/")),
                       ("USER", parts.username)):
        monkeypatch.setenv(f"DAGSTER_PG_{var}", str(value))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home, url


def test_postgres_instance_runs_the_graph_on_the_lake_and_stores_runs_events_schedules(lake_project, pg_home):
    home, url = pg_home
    with open_instance(home) as instance:
        assert {type(s).__name__ for s in (instance.run_storage, instance.event_log_storage,
                                           instance.schedule_storage)} == \
            {"PostgresRunStorage", "PostgresEventLogStorage", "PostgresScheduleStorage"}
        _build_graph(lake_project, instance)
        scored = _materialized_partitions(instance, "scored_leads")
        runs = instance.get_runs()
    assert len(scored) == len(lake_project.cities) * DEMO_DAYS == len(set(scored))
    assert runs and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    # What Dagster read back is in PostgreSQL: the runs, and every partition's materialization.
    assert _pg_rows(url, "SELECT count(*) FROM runs")[0][0] == len(runs)
    [(events,)] = _pg_rows(url, "SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'"
                                " AND asset_key LIKE '%scored_leads%'")
    assert events == len(scored)
    with connect(lake_project.warehouse_path) as con:
        assert con.execute("SELECT count(DISTINCT (city, permit_day)) FROM scored_leads").fetchone()[0] == len(scored)

    # Schedule state: the daily schedule is on by default (leads.toml autostart); stopping it
    # with Dagster's CLI against the same instance stores its state, in PostgreSQL.
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    cli = Path(sys.executable).with_name("dagster")
    done = subprocess.run([str(cli), "schedule", "stop", "daily_schedule", "-m", "lead_assets.definitions"],
                          env=env, cwd=lake_project.config_path.parent, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    [(states,)] = _pg_rows(url, "SELECT count(*) FROM jobs WHERE job_type = 'SCHEDULE' AND status = 'STOPPED' "
                                "AND job_body LIKE '%daily_schedule%'")
    assert states == 1, done.stdout[-2000:]
