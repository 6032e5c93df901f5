"""The Definitions load, and read like the asset graph; partitions come from the config."""
import dagster as dg

from lead_assets.definitions import build_defs, defs
from lead_assets.settings import Settings
from lead_assets.taxonomy import export_keys
from lead_assets_tests.conftest import write_config


def test_project_definitions_load():
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"property_records", "raw_permits", "scored_leads", "lead_exports", "needs_review",
            "retry_queue"} <= keys
    for job in ("score_job", "export_job", "property_job"):
        assert defs.resolve_job_def(job)


def test_partitions_are_city_by_day_and_one_per_export_file(tmp_path):
    d = build_defs(Settings.load(write_config(tmp_path)))
    scored = d.resolve_assets_def("scored_leads")
    assert isinstance(scored.partitions_def, dg.MultiPartitionsDefinition)
    assert {dim.name for dim in scored.partitions_def.partitions_defs} == {"city", "date"}
    assert scored.partitions_def.get_partitions_def_for_dimension("city").get_partition_keys() == \
        ["plano", "frisco", "mckinney", "allen", "prosper"]
    assert d.resolve_assets_def("lead_exports").partitions_def.get_partition_keys() == export_keys()
    assert d.resolve_assets_def("raw_permits").partitions_def == scored.partitions_def


def test_a_new_city_is_a_config_entry_not_code(tmp_path):
    extra = """
[cities.denton]
name = "Denton"
landing = "denton/*.csv"
[cities.denton.columns]
permit_num = "No"
description = "Work"
issued_date = "Issued"
original_address = "Address"
"""
    d = build_defs(Settings.load(write_config(tmp_path, extra)))
    cities = d.resolve_assets_def("raw_permits").partitions_def.get_partitions_def_for_dimension("city")
    assert "denton" in cities.get_partition_keys()
