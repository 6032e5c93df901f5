"""The `leads` command, as a user types it."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from lead_assets.cli.main import main
from lead_assets.warehouse.connection import connect
from lead_assets_tests.conftest import DEMO_DAYS, TODAY


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()


def _scored_at(settings) -> dict[tuple[str, str], object]:
    with connect(settings.warehouse_path) as con:
        rows = con.execute("SELECT city, permit_day::VARCHAR, max(loaded_at) FROM raw_permits GROUP BY ALL").fetchall()
    return {(c, d): t for c, d, t in rows}


def test_score_selects_cities_and_days_and_nothing_else(project, home, capsys):
    first, last = TODAY - timedelta(days=DEMO_DAYS), TODAY - timedelta(days=1)
    assert main(["score", "--cities", *project.cities, "--since", str(first), "--until", str(last)]) == 0
    before = _scored_at(project)
    assert main(["score", "--cities", "plano", "frisco", "--since", str(last), "--until", str(last)]) == 0
    after = _scored_at(project)
    touched = {k for k in before if before[k] != after[k]}
    assert touched == {("plano", str(last)), ("frisco", str(last))}
    out = capsys.readouterr().out
    assert "leads scored" in out and "exports" in out and "make ui" in out


def test_limit_scores_at_most_n_permits(project, home):
    last = TODAY - timedelta(days=1)
    assert main(["score", "--cities", "plano", "--since", str(last), "--limit", "7"]) == 0
    with connect(project.warehouse_path) as con:
        assert con.execute("SELECT count(*) FROM scored_leads").fetchone()[0] == 7
        assert con.execute("SELECT count(*) FROM raw_permits").fetchone()[0] > 7


def test_dry_run_changes_neither_warehouse_nor_exports(built, home, capsys):
    def state():
        files = {p: p.read_bytes() for p in built.exports_dir.rglob("*.csv")}
        return built.warehouse_path.read_bytes(), files
    before = state()
    last = TODAY - timedelta(days=1)
    assert main(["score", "--cities", "plano", "--since", str(last), "--dry-run"]) == 0
    assert state() == before
    out = capsys.readouterr().out
    scratch = next(line.split()[1] for line in out.splitlines() if line.startswith("scratch"))
    from pathlib import Path
    assert (Path(scratch) / "exports" / "luxury_outdoor" / "pool" / "tier_a.csv").exists()


def test_list_filters_leads(built, capsys):
    assert main(["list", "--category", "pool", "--tier", "A", "--format", "json", "--limit", "500"]) == 0
    leads = json.loads(capsys.readouterr().out)
    assert leads and all(lead["category"] == "pool" and lead["tier"] == "A" for lead in leads)
    assert main(["list", "--category", "pool", "--tier", "a"]) == 0
    assert "lead(s)" in capsys.readouterr().out


def test_bad_selections_are_clear_errors(project, capsys):
    assert main(["score", "--cities", "gotham"]) == 2
    assert "unknown city 'gotham'" in capsys.readouterr().err
    assert main(["score", "--since", "2026-11-20", "--until", "2026-11-10"]) == 2
    assert "after --until" in capsys.readouterr().err
    assert main(["score", "--since", "2030-01-01"]) == 2
    assert "dates must be within" in capsys.readouterr().err


def test_demo_starts_the_partitions_on_its_first_day_so_none_is_missing(tmp_path, monkeypatch, home):
    """A fresh `leads demo` fills every day partition the UI shows (none "missing" before its data)."""
    import dagster as dg

    from lead_assets.definitions import build_defs
    from lead_assets.config.settings import Settings
    from lead_assets_tests.conftest import write_config
    for var in ("LEADS_TODAY", "LEADS_WAREHOUSE", "LEADS_LANDING", "LEADS_APPRAISAL", "LEADS_EXPORTS",
                "LEADS_SCORER"):
        monkeypatch.delenv(var, raising=False)      # the real clock: day partitions end yesterday
    config = write_config(tmp_path, start_date="2026-01-01")
    monkeypatch.setenv("LEADS_CONFIG", str(config))
    assert main(["demo", "--days", "2"]) == 0
    settings = Settings.load(config)
    yesterday = settings.today() - timedelta(days=1)
    assert settings.start_date == yesterday - timedelta(days=1)
    assert "# first day partition" in config.read_text(), "the rest of leads.toml is kept as it was"
    partitions_def = build_defs(settings).get_assets_def("scored_leads").partitions_def
    keys = partitions_def.get_partition_keys()
    assert len(keys) == 2 * len(settings.cities)
    instance = dg.DagsterInstance.from_config(str(tmp_path / "dagster_home"))
    try:
        status = instance.get_status_by_partition(dg.AssetKey("scored_leads"), keys, partitions_def)
    finally:
        instance.dispose()
    assert {k: v.value for k, v in status.items()} == {k: "MATERIALIZED" for k in keys}


def test_set_partition_start_edits_only_that_value(tmp_path):
    import tomllib
    from datetime import date

    from lead_assets.demo.feeds import set_partition_start
    path = tmp_path / "leads.toml"
    path.write_text('[paths]\nstart_date = "keep"\n\n[partitions]\nstart_date = "2026-10-01"  # first\n'
                    'timezone = "America/Chicago"\n')
    set_partition_start(path, date(2026, 11, 4))
    assert path.read_text() == ('[paths]\nstart_date = "keep"\n\n[partitions]\nstart_date = "2026-11-04"  # first\n'
                                'timezone = "America/Chicago"\n')
    path.write_text('[paths]\nwarehouse = "w.duckdb"\n')
    set_partition_start(path, date(2026, 11, 4))
    assert tomllib.loads(path.read_text()) == {"paths": {"warehouse": "w.duckdb"},
                                               "partitions": {"start_date": "2026-11-04"}}
