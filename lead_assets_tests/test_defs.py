"""The Definitions load, and read like the asset graph; partitions come from the config;
`dg` finds them from the project root; owners, tags and scored_leads' freshness policy."""
import asyncio
import json
import os
import subprocess
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
from dagster._core.definitions.freshness import CronFreshnessPolicy, FreshnessState
from dagster._core.loader import LoadingContextForTest
from dagster._core.test_utils import freeze_time
from dagster._daemon.freshness import FreshnessDaemon

from lead_assets.definitions import build_defs, defs
from lead_assets.defs.runs import RunSummary, SCORED, load_properties, score_partitions
from lead_assets.config.settings import PROJECT_ROOT, Settings
from lead_assets.leads.taxonomy import export_keys
from lead_assets_tests.conftest import TODAY, write_config


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


# ---------------------------------------------------------------- dg, catalog, freshness

def _dg(args: list[str], tmp_path, **env) -> subprocess.CompletedProcess:
    """`dg ...` from the project root, as a person types it (pyproject's [tool.dg] finds the code)."""
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    full_env = {**os.environ, "DAGSTER_HOME": str(home), "NO_COLOR": "1", **env}
    return subprocess.run([str(Path(sys.executable).parent / "dg"), *args], cwd=PROJECT_ROOT,
                          env=full_env, capture_output=True, text=True, timeout=300)


def test_dg_lists_the_project_from_its_root_with_owners_and_tags(tmp_path):
    done = _dg(["list", "defs", "--json"], tmp_path, LEADS_CONFIG=str(write_config(tmp_path)))
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assets = {a["asset_key"]: a for a in listed["assets"]}
    assert {"permit_pulls", "property_records", "raw_permits", "scored_leads", "lead_exports",
            "needs_review", "retry_queue", "lead_sales"} == set(assets)
    for key, asset in assets.items():
        assert asset["owners"], key
        tags = {t["key"]: t["value"] for t in asset["tags"]}
        assert {"domain", "pii", "cadence"} <= set(tags), key
    scored = {t["key"]: t["value"] for t in assets["scored_leads"]["tags"]}
    assert scored == {"domain": "leads", "pii": "true", "cadence": "daily"}
    assert assets["lead_sales"]["owners"] == [{"team": "lead-sales"}]
    assert {s["name"] for s in listed["schedules"]} == {"daily_schedule"}


def test_dg_check_defs_fails_with_one_line_on_a_bad_config(tmp_path):
    bad = write_config(tmp_path)
    bad.write_text(bad.read_text().replace("late_after_minutes = 120", "late_after_minutes = 2000"))
    done = _dg(["check", "defs"], tmp_path, LEADS_CONFIG=str(bad))
    assert done.returncode != 0
    assert "late_after_minutes must be a whole number of minutes from 1 to 1439, not 2000" in done.stdout + done.stderr


def test_scored_leads_freshness_deadline_is_daily_time_plus_the_margin(tmp_path):
    config = write_config(tmp_path)
    config.write_text(config.read_text().replace('daily_time = "05:30"', 'daily_time = "23:15"')
                      .replace("late_after_minutes = 120", "late_after_minutes = 90"))
    policy = build_defs(Settings.load(config)).resolve_assets_def("scored_leads").specs_by_key[SCORED].freshness_policy
    assert isinstance(policy, CronFreshnessPolicy)
    # 23:15 + 90 min wraps to 00:45 the next morning, in the partitions' time zone.
    assert (policy.deadline_cron, policy.lower_bound_delta, policy.timezone) == \
        ("45 0 * * *", timedelta(minutes=90), "America/Chicago")
    assert build_defs(Settings.load(write_config(tmp_path))).resolve_assets_def("scored_leads") \
        .specs_by_key[SCORED].freshness_policy.deadline_cron == "30 7 * * *"     # leads.toml: 05:30 + 120


def test_scored_leads_shows_late_in_the_ui_when_the_daily_run_did_not_happen(project, tmp_path):
    """What the UI shows is the daemon's freshness state of scored_leads; evaluate it as the daemon
    does, at frozen times, after real runs of the daily scoring on a temporary instance."""
    defs = build_defs(project)
    node = defs.resolve_asset_graph().get(SCORED)
    zone = ZoneInfo(project.timezone)

    def at(day: date, hh_mm: str) -> datetime:
        return datetime.combine(day, time.fromisoformat(hh_mm), tzinfo=zone)

    def state_at(instance, when: datetime) -> FreshnessState:
        with freeze_time(when):
            asyncio.run(FreshnessDaemon()._evaluate_asset(LoadingContextForTest(instance), node))
        return instance.get_freshness_state_records([SCORED])[SCORED].freshness_state

    def daily_run(instance, day: date) -> None:   # what daily_schedule requests: yesterday, every city
        with freeze_time(at(day, "05:34")):
            score_partitions(defs, project, instance, list(project.cities), day - timedelta(days=1),
                             day - timedelta(days=1))

    (tmp_path / "dagster_home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster_home")) as instance:
        load_properties(defs, instance, RunSummary())
        day = TODAY
        daily_run(instance, day)
        assert state_at(instance, at(day, "07:31")) == FreshnessState.PASS   # scored at 05:34, due by 07:30
        assert state_at(instance, at(day + timedelta(days=1), "07:29")) == FreshnessState.PASS
        # The next morning the schedule does not run: late once 07:30 has passed.
        assert state_at(instance, at(day + timedelta(days=1), "07:31")) == FreshnessState.FAIL
        # A late run clears it for that day (Dagster's cron policy reads the latest
        # materialization of any partition); the morning after, without a run, is late again.
        with freeze_time(at(day + timedelta(days=1), "12:00")):
            score_partitions(defs, project, instance, ["plano"], day - timedelta(days=1), day - timedelta(days=1))
        assert state_at(instance, at(day + timedelta(days=1), "12:01")) == FreshnessState.PASS
        assert state_at(instance, at(day + timedelta(days=2), "07:31")) == FreshnessState.FAIL
        daily_run(instance, day + timedelta(days=2))
        assert state_at(instance, at(day + timedelta(days=2), "07:32")) == FreshnessState.PASS
