"""Real Dagster materializations on a temporary instance: metadata, checks, selective exports."""
from __future__ import annotations

from datetime import timedelta

import dagster as dg
import pytest

from lead_assets.definitions import build_defs
from lead_assets.defs.runs import load_properties, refresh_exports, RunSummary, score_partitions
from lead_assets.leads.taxonomy import export_keys
from lead_assets.warehouse.connection import connect
from lead_assets_tests.conftest import DEMO_DAYS, TODAY, a_roof_lead, export_key_of, turn_into_pool_permit


@pytest.fixture
def instance(tmp_path):
    (tmp_path / "dagster_home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster_home")) as inst:
        yield inst


def _materialized_partitions(instance, asset: str) -> list[str]:
    records = instance.fetch_materializations(dg.AssetKey(asset), limit=10_000).records
    return [r.partition_key for r in records]


def _build_graph(project, instance):
    """Properties, every demo partition in one run, then the exports."""
    defs = build_defs(project)
    load_properties(defs, instance, RunSummary())
    first, last = TODAY - timedelta(days=DEMO_DAYS), TODAY - timedelta(days=1)
    score_partitions(defs, project, instance, list(project.cities), first, last)
    refresh_exports(defs, project, instance)
    return defs, last


def test_whole_graph_materializes_with_metadata_and_passing_checks(any_project, instance):
    """On both warehouse backends: the DuckDB file, and DuckLake on PostgreSQL (marker postgres)."""
    project = any_project
    _build_graph(project, instance)

    # One run per contiguous block of cities: all five are one block -> one run, 15 partitions.
    scored = _materialized_partitions(instance, "scored_leads")
    assert len(scored) == len(project.cities) * DEMO_DAYS == len(set(scored))
    runs = {r.run_id for r in instance.fetch_materializations(dg.AssetKey("scored_leads"), limit=100).records}
    assert len(runs) == 1
    assert sorted(_materialized_partitions(instance, "lead_exports")) == sorted(export_keys())

    # Each partition carries its own counts, even though one run scored them all.
    def metadata(asset):
        records = instance.fetch_materializations(dg.AssetKey(asset), limit=10_000).records
        return [{k: v.value for k, v in r.asset_materialization.metadata.items()} for r in records]
    scored_md = metadata("scored_leads")
    with connect(project.warehouse_path) as con:
        tiers = dict(con.execute("SELECT tier, count(*) FROM scored_leads GROUP BY 1").fetchall())
        total = con.execute("SELECT count(*) FROM raw_permits").fetchone()[0]
        per_part = dict(con.execute("SELECT city || '|' || permit_day, count(*) FROM scored_leads GROUP BY 1").fetchall())
        quarantined = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
        members, projects = con.execute("SELECT count(*), count(DISTINCT project_id) FROM permit_projects").fetchone()
    # One scored row per project; every raw permit is in exactly one project.
    assert sum(m["rows"] for m in scored_md) == projects == sum(tiers.values())
    assert members == total and projects < total           # the demo has multi-permit projects
    assert sum(m["tier_a"] for m in scored_md) == tiers.get("A", 0)
    records = instance.fetch_materializations(dg.AssetKey("scored_leads"), limit=10_000).records
    assert {r.partition_key: r.asset_materialization.metadata["rows"].value for r in records} == per_part
    assert sum("preview" in m for m in scored_md) == 1
    raw = metadata("raw_permits")[0]   # raw_permits records its run's totals
    assert raw["rows"] == total and raw["quarantined"] == quarantined >= 1

    checks = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey("scored_leads"), "every_permit_scored_once"), limit=10)
    assert checks and all(c.status.value == "SUCCEEDED" for c in checks)


def test_rescore_of_one_city_day_touches_only_its_partition_and_changed_files(project, instance):
    defs, last = _build_graph(project, instance)
    before_count = len(_materialized_partitions(instance, "lead_exports"))

    # Same inputs: the rescore changes no export file, so no export partition is materialized.
    score_partitions(defs, project, instance, ["allen"], last, last)
    refresh_exports(defs, project, instance)
    assert len(_materialized_partitions(instance, "lead_exports")) == before_count
    assert _materialized_partitions(instance, "scored_leads").count(f"allen|{last}") == 2
    assert _materialized_partitions(instance, "scored_leads").count(f"plano|{last}") == 1

    # A corrected source row moves one lead from a roof file to a pool file: exactly those two
    # export partitions are materialized again; the other files keep bytes and mtime.
    permit_id, old_key = a_roof_lead(project, "allen", last)
    turn_into_pool_permit(project, "allen", last, permit_id)
    files = {k: project.exports_dir / f"{k}.csv" for k in export_keys()}
    before = {k: (p.read_bytes(), p.stat().st_mtime_ns) for k, p in files.items()}
    score_partitions(defs, project, instance, ["allen"], last, last)
    refresh_exports(defs, project, instance)
    new_key = export_key_of(project, "allen", permit_id)
    exports = _materialized_partitions(instance, "lead_exports")
    assert len(exports) == before_count + 2 and set(exports[:2]) == {old_key, new_key}
    changed = {k for k, p in files.items() if (p.read_bytes(), p.stat().st_mtime_ns) != before[k]}
    assert changed == {old_key, new_key}
