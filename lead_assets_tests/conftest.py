"""Shared fixtures: a real project (leads.toml, landing files, CAD, warehouse) in a temp folder."""
from __future__ import annotations

import re
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest

from lead_assets.config.settings import PROJECT_ROOT, Settings

TODAY = date(2026, 11, 28)        # tests pin "today"; the demo's last day is the day before
DEMO_DAYS = 3

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def no_stale_defs_state_storage():
    """Dagster 1.13: `with DagsterInstance...` sets a context variable (the defs-state storage)
    that __exit__ never resets; once that instance is collected, the next definitions load
    in the process fails ("undefined DagsterInstance weakref"). Start every test without it."""
    from dagster._core.storage.defs_state.base import _current_storage
    token = _current_storage.set(None)
    yield
    _current_storage.reset(token)


def write_config(root: Path, extra: str = "", start_date: str = "2026-10-01") -> Path:
    """The project's leads.toml with its paths pointed into `root` (and optional extra entries)."""
    text = (PROJECT_ROOT / "leads.toml").read_text()
    text = re.sub(r"\[paths\].*?(?=\n\[partitions\])", (
        "[paths]\n"
        f'warehouse = "{root / "warehouse.duckdb"}"\n'
        f'landing = "{root / "data" / "landing"}"\n'
        f'appraisal = "{root / "data" / "cad"}"\n'
        f'exports = "{root / "exports"}"\n'), text, flags=re.S)
    text = re.sub(r'start_date = "[0-9-]+"', f'start_date = "{start_date}"', text)
    path = root / "leads.toml"
    path.write_text(text + "\n" + extra)
    return path


def demo_project(tmp_path: Path, monkeypatch, extra: str = "") -> Settings:
    from lead_assets.demo.feeds import generate_demo
    monkeypatch.setenv("LEADS_TODAY", TODAY.isoformat())
    for var in ("LEADS_WAREHOUSE", "LEADS_LANDING", "LEADS_APPRAISAL", "LEADS_EXPORTS", "LEADS_SCORER"):
        monkeypatch.delenv(var, raising=False)
    config = write_config(tmp_path, extra)
    monkeypatch.setenv("LEADS_CONFIG", str(config))
    generate_demo(tmp_path / "data", TODAY - timedelta(days=1), days=DEMO_DAYS)
    return Settings.load(config)


@pytest.fixture
def project(tmp_path, monkeypatch) -> Settings:
    """Demo data for DEMO_DAYS days ending yesterday, an empty warehouse."""
    return demo_project(tmp_path, monkeypatch)


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server for this test session (xdist: one per worker), or a skip."""
    from lead_assets_tests.postgres import ENV, server
    try:
        pg = server()
    except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:   # binaries there, cluster not
        pytest.skip(f"needs PostgreSQL: a throwaway cluster did not start ({exc}); set ${ENV} instead")
    if pg is None:
        pytest.skip(f"needs PostgreSQL: set ${ENV} or install Debian's postgresql (initdb, pg_ctl)")
    yield pg
    pg.stop()


def lake_config(root: Path) -> str:
    """The [warehouse] entry that puts a project's warehouse in DuckLake (catalog DSN from the env)."""
    return f'[warehouse]\nbackend = "ducklake"\ndata_path = "{root / "lake"}"\n'


@pytest.fixture
def lake_catalog(postgres, monkeypatch) -> str:
    """A fresh DuckLake catalog database, in $LEADS_LAKE_CATALOG for this test."""
    from lead_assets.warehouse import lake
    url = postgres.database("lake")
    monkeypatch.setenv("LEADS_LAKE_CATALOG", url)
    yield url
    lake.detach_all()


@pytest.fixture
def lake_project(tmp_path, monkeypatch, lake_catalog) -> Settings:
    """`project`, with its warehouse in DuckLake (PostgreSQL catalog, data files in tmp)."""
    return demo_project(tmp_path, monkeypatch, lake_config(tmp_path))


@pytest.fixture(params=["duckdb", pytest.param("ducklake", marks=pytest.mark.postgres)])
def any_project(request) -> Settings:
    """`project` on each warehouse backend: the embedded DuckDB file, and DuckLake on PostgreSQL."""
    return request.getfixturevalue("project" if request.param == "duckdb" else "lake_project")


def all_partitions(settings: Settings, days: int = DEMO_DAYS) -> list[tuple[str, date]]:
    return [(c, TODAY - timedelta(days=d)) for c in settings.cities for d in range(1, days + 1)]


def build_all(settings: Settings):
    """The whole pipeline without Dagster: properties, permits, scores, files."""
    from lead_assets.sources.appraisal import load_property_records
    from lead_assets.exports.files import write_buyer_files, write_queue_file
    from lead_assets.sources.ingest import ingest
    from lead_assets.leads.scoring import score
    load_property_records(settings)
    parts = all_partitions(settings)
    ingested = ingest(settings, parts)
    scored = score(settings, parts)
    files = write_buyer_files(settings)
    write_queue_file(settings, "review")
    write_queue_file(settings, "retry")
    return ingested, scored, files


@pytest.fixture
def built(project):
    build_all(project)
    return project


def turn_into_pool_permit(settings: Settings, city: str, day: date, permit_id: str) -> None:
    """Edit a landing file the way a feed correction would: the permit becomes a pool job."""
    import csv
    import io
    landing = next(p for p in (settings.landing_dir / city).glob("*.csv") if day.isoformat() in p.name)
    lines = landing.read_text().splitlines(keepends=True)
    i = next(n for n, line in enumerate(lines) if line.startswith(permit_id + ","))
    fields = next(csv.reader([lines[i]]))
    fields[1], fields[3] = "Residential Pool", "New in-ground gunite swimming pool"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(fields)
    lines[i] = buf.getvalue()
    landing.write_text("".join(lines))


def a_roof_lead(settings: Settings, city: str, day: date) -> tuple[str, str]:
    """(permit_id, export key) of a roof lead that is in a buyer file."""
    from lead_assets.warehouse.connection import connect
    with connect(settings.warehouse_path) as con:
        return con.execute(f"""
            SELECT permit_id, trade_group || '/' || category || '/tier_' || lower(tier) FROM scored_leads
            WHERE city = '{city}' AND permit_day = DATE '{day}' AND category = 'roof'
              AND NOT needs_review AND NOT discarded AND tier IN ('A', 'B', 'C')
            ORDER BY permit_id LIMIT 1""").fetchone()


def export_key_of(settings: Settings, city: str, permit_id: str) -> str:
    from lead_assets.warehouse.connection import connect
    with connect(settings.warehouse_path) as con:
        return con.execute("""SELECT trade_group || '/' || category || '/tier_' || lower(tier)
                              FROM scored_leads WHERE city = ? AND permit_id = ?""", [city, permit_id]).fetchone()[0]
