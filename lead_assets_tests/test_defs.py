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


def test_partitions_start_on_the_configured_day(tmp_path):
    d = build_defs(Settings.load(write_config(tmp_path, start_date="2026-11-04")))
    days = d.resolve_assets_def("scored_leads").partitions_def.get_partitions_def_for_dimension("date")
    assert days.get_first_partition_key() == "2026-11-04"


def test_asset_descriptions_render_as_written():
    """The UI renders descriptions as markdown: an HTML-looking <word> would vanish from them."""
    import re
    for key in defs.resolve_asset_graph().get_all_asset_keys():
        text = defs.resolve_assets_def(key).specs_by_key[key].description or ""
        assert text, f"{key.to_user_string()} has no description"
        assert not re.search(r"<[A-Za-z/!]", text), f"{key.to_user_string()}: {text}"


def _config_fields(config_type, path=""):
    for name, field in (getattr(config_type, "fields", None) or {}).items():
        yield f"{path}/{name}", field
        yield from _config_fields(field.config_type, f"{path}/{name}")
        inner = getattr(field.config_type, "inner_type", None)     # Noneable(Shape)
        if inner is not None:
            yield from _config_fields(inner, f"{path}/{name}")


def test_launchpad_config_fields_are_described_and_the_scorer_is_a_choice():
    for job in ("score_job", "export_job", "property_job"):
        schema = defs.resolve_job_def(job).run_config_schema.config_type
        ours = [(p, f) for p, f in _config_fields(schema)
                if p.startswith(("/ops/", "/resources/leads/", "/resources/reasoner/")) and p.count("/") == 4]
        undescribed = [p for p, f in ours if not f.description]
        assert ours and not undescribed, f"{job}: {undescribed}"
    fields = dict(_config_fields(defs.resolve_job_def("score_job").run_config_schema.config_type))
    scorer = fields["/ops/scored_leads/config/scorer"].config_type
    scorer = getattr(scorer, "inner_type", scorer)
    assert sorted(v.config_value for v in scorer.enum_values) == ["reasoner", "rules"]
