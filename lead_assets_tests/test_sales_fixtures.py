"""Shared fixtures and helpers for the sales and store tests (no tests here).

One small demo warehouse (2 days x 5 cities, the plain pipeline functions, no Dagster) is
built once per session and copied into each test's tmp_path, so every test starts from the
same real DuckDB warehouse and export tree.
"""
from __future__ import annotations

import csv
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

from lead_assets.config.settings import Settings
from lead_assets.warehouse.connection import connect
from lead_assets_tests.conftest import write_config

TODAY = date(2026, 11, 28)
DAYS = 2
SALES_TABLES = ("buyers", "deliveries", "sales", "lead_reviews", "lead_status")
ENV = ("LEADS_WAREHOUSE", "LEADS_LANDING", "LEADS_APPRAISAL", "LEADS_EXPORTS", "LEADS_SCORER", "LEADS_CONFIG")


def partitions(settings: Settings) -> list[tuple[str, date]]:
    return [(c, TODAY - timedelta(days=d)) for c in settings.cities for d in range(1, DAYS + 1)]


def build(settings: Settings) -> None:
    from lead_assets.sources.appraisal import load_property_records
    from lead_assets.exports.files import write_buyer_files, write_queue_file
    from lead_assets.sources.ingest import ingest
    from lead_assets.leads.scoring import score
    load_property_records(settings)
    parts = partitions(settings)
    ingest(settings, parts)
    score(settings, parts)
    write_buyer_files(settings)
    write_queue_file(settings, "review")
    write_queue_file(settings, "retry")


_TEMPLATE: list[Path] = []      # built once per test process, shared by every module importing the fixture


@pytest.fixture(scope="session")
def sales_template(tmp_path_factory) -> Path:
    from lead_assets.demo.feeds import generate_demo
    if _TEMPLATE and _TEMPLATE[0].exists():
        return _TEMPLATE[0]
    root = tmp_path_factory.mktemp("sales_template")
    with pytest.MonkeyPatch.context() as mp:
        for var in ENV:
            mp.delenv(var, raising=False)
        mp.setenv("LEADS_TODAY", TODAY.isoformat())
        generate_demo(root / "data", TODAY - timedelta(days=1), days=DAYS)
        build(Settings.load(write_config(root)))
    (root / "leads.toml").unlink()
    _TEMPLATE[:] = [root]
    return root


@pytest.fixture
def shop(sales_template, tmp_path, monkeypatch) -> Settings:
    """A private copy of the built demo project; LEADS_CONFIG points at it, today is pinned."""
    root = tmp_path / "shop"
    shutil.copytree(sales_template, root)
    for var in ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LEADS_TODAY", TODAY.isoformat())
    monkeypatch.setenv("LEADS_DAGSTER_EVENTS", "0")
    config = write_config(root)
    monkeypatch.setenv("LEADS_CONFIG", str(config))
    return Settings.load(config)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """`leads ARGV...` in process: (exit code, stdout, stderr)."""
    from lead_assets.cli.main import main
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:           # argparse usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(settings: Settings) -> dict[str, list[tuple]]:
    """Every row of the sales-side tables, in a stable order."""
    with connect(settings.warehouse_path) as con:
        return {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in SALES_TABLES}


def query(settings: Settings, sql: str, params=None) -> list[tuple]:
    with connect(settings.warehouse_path) as con:
        return con.execute(sql, params or []).fetchall()


def file_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def main_file_ids(settings: Settings, key: str) -> set[tuple[str, str]]:
    """(city name, permit_id) of the rows in a main buyer file."""
    return {(r["city"], r["permit_id"]) for r in file_rows(settings.exports_dir / f"{key}.csv")}


def all_main_ids(settings: Settings) -> set[str]:
    from lead_assets.leads.taxonomy import export_keys
    return {pid for k in export_keys() for _, pid in main_file_ids(settings, k)}


def top_lead(settings: Settings, category: str, tier: str = "A", *, offset: int = 0) -> tuple[str, str]:
    """(city, permit_id) of a lead that is in the main buyer files."""
    rows = query(settings, """SELECT city, permit_id FROM scored_leads
                              WHERE category = ? AND tier = ? AND NOT discarded AND NOT needs_review
                              ORDER BY score DESC, city, permit_id""", [category, tier])
    return rows[offset]


def review_leads(settings: Settings) -> list[tuple[str, str]]:
    return query(settings, """SELECT city, permit_id FROM scored_leads
                              WHERE needs_review AND NOT discarded AND tier <> 'RETRY'
                              ORDER BY score DESC, city, permit_id""")
