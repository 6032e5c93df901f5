"""Shared fixtures: a real project (leads.toml, landing files, CAD, warehouse) in a temp folder."""
from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from lead_assets.settings import PROJECT_ROOT, Settings

TODAY = date(2026, 11, 28)        # tests pin "today"; the demo's last day is the day before
DEMO_DAYS = 3

FIXTURES = Path(__file__).parent / "fixtures"


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


@pytest.fixture
def project(tmp_path, monkeypatch) -> Settings:
    """Demo data for DEMO_DAYS days ending yesterday, an empty warehouse."""
    from lead_assets.demo_data import generate_demo
    monkeypatch.setenv("LEADS_TODAY", TODAY.isoformat())
    for var in ("LEADS_WAREHOUSE", "LEADS_LANDING", "LEADS_APPRAISAL", "LEADS_EXPORTS", "LEADS_SCORER"):
        monkeypatch.delenv(var, raising=False)
    config = write_config(tmp_path)
    monkeypatch.setenv("LEADS_CONFIG", str(config))
    generate_demo(tmp_path / "data", TODAY - timedelta(days=1), days=DEMO_DAYS)
    return Settings.load(config)


def all_partitions(settings: Settings, days: int = DEMO_DAYS) -> list[tuple[str, date]]:
    return [(c, TODAY - timedelta(days=d)) for c in settings.cities for d in range(1, days + 1)]


def build_all(settings: Settings):
    """The whole pipeline without Dagster: properties, permits, scores, files."""
    from lead_assets.appraisal import load_property_records
    from lead_assets.exports import write_buyer_files, write_queue_file
    from lead_assets.ingest import ingest
    from lead_assets.scoring import score
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
