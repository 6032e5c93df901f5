"""`[partitions] scheme = "group_day"`: a partition is a group of cities x day (docs/scale.md).

Real Dagster runs on a temporary instance against a real warehouse built from the demo data:
a group partition loads and scores every city of its group, a RETRY row in one city fails the
group's partition, and the retry sensor's run of that partition clears it.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from lead_assets.sources.appraisal import load_property_records
from lead_assets.definitions import build_defs
from lead_assets.defs import automation
from lead_assets.defs.runs import SCORED, failed_partitions, partition_ranges, retry_rows
from lead_assets.config.errors import ConfigError
from lead_assets.config.settings import Settings
from lead_assets.warehouse.connection import connect
from lead_assets_tests.conftest import TODAY, write_config
from lead_assets_tests.test_portals import portal  # noqa: F401  (the loopback portal fixture)
from lead_assets_tests.failures import inject_failures

DAY = TODAY - timedelta(days=1)
WEST, EAST = ["plano", "frisco"], ["mckinney", "allen", "prosper"]


def configure(path, partitions: str, groups: dict[str, str] | None = None):
    """Add `partitions` lines to [partitions] and a `group` to the given cities of a leads.toml."""
    text = path.read_text().replace("[partitions]\n", f"[partitions]\n{partitions}\n", 1)
    for city, group in (groups or {}).items():
        text = text.replace(f"[cities.{city}]\n", f'[cities.{city}]\ngroup = "{group}"\n', 1)
    path.write_text(text)
    return path


@pytest.fixture
def grouped(project) -> Settings:
    """The demo project with plano + frisco in group "west", the other three in "east"."""
    configure(project.config_path, 'scheme = "group_day"', {**{c: "west" for c in WEST}, **{c: "east" for c in EAST}})
    settings = Settings.load(project.config_path)
    load_property_records(settings)
    return settings


@pytest.fixture
def instance(tmp_path):
    (tmp_path / "dagster_home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster_home")) as inst:
        yield inst


def run_partition(settings: Settings, instance, key: str, **kwargs) -> dg.ExecuteInProcessResult:
    return build_defs(settings).resolve_job_def("score_job").execute_in_process(
        instance=instance, partition_key=key, raise_on_error=False, **kwargs)


def scored_per_city(settings: Settings) -> dict[str, int]:
    with connect(settings.warehouse_path) as con:
        return dict(con.execute("SELECT city, count(*) FROM scored_leads WHERE permit_day = ? GROUP BY city",
                                [DAY]).fetchall())


def status(settings: Settings, instance) -> dict[str, str | None]:
    """scored_leads' status per group partition of DAY, from the partition status API the UI uses."""
    pdef = build_defs(settings).get_assets_def("scored_leads").partitions_def
    found = instance.get_status_by_partition(SCORED, [f"east|{DAY}", f"west|{DAY}"], pdef)
    return {k.split("|")[0]: v.value if v else None for k, v in found.items()}


def test_a_group_partition_loads_and_scores_every_city_of_its_group(grouped, instance):
    assert run_partition(grouped, instance, f"west|{DAY}").success
    per_city = scored_per_city(grouped)
    assert set(per_city) == set(WEST) and all(per_city.values()), "both west cities, no east city"
    for asset in ("permit_pulls", "raw_permits", "scored_leads"):
        records = instance.fetch_materializations(dg.AssetKey(asset), limit=10).records
        assert [r.partition_key for r in records] == [f"west|{DAY}"]
    metadata = instance.fetch_materializations(SCORED, limit=1).records[0].asset_materialization.metadata
    by_city = metadata["by_city"].value
    assert metadata["cities"].value == 2 and set(by_city) == set(WEST)
    assert {c: by_city[c]["rows"] for c in WEST} == per_city
    assert metadata["rows"].value == sum(per_city.values()) and metadata["retry"].value == 0
    assert status(grouped, instance) == {"east": None, "west": "MATERIALIZED"}


def test_a_retry_row_fails_the_group_partition_and_the_retry_run_clears_it(grouped, instance, monkeypatch):
    assert run_partition(grouped, instance, f"west|{DAY}").success
    with connect(grouped.warehouse_path) as con:
        (frisco_lead,), = con.execute("SELECT permit_id FROM scored_leads WHERE city = 'frisco' AND permit_day = ? "
                                      "AND NOT discarded ORDER BY permit_id LIMIT 1", [DAY]).fetchall()
    with monkeypatch.context() as patch:   # the model call for one frisco lead fails
        inject_failures(patch, [frisco_lead])
        assert not run_partition(grouped, instance, f"west|{DAY}").success

    assert status(grouped, instance) == {"east": None, "west": "FAILED"}
    observed = instance.fetch_observations(SCORED, limit=1).records[0].asset_observation
    assert observed.partition == f"west|{DAY}"
    assert observed.metadata["retry"].value == 1 and observed.metadata["cities_with_retry"].value == 1
    assert observed.metadata["by_city"].value["frisco"]["retry"] == 1
    assert observed.metadata["by_city"].value["plano"]["retry"] == 0
    # The warehouse keeps the per-city status; the retry path asks for the city's group partition.
    assert failed_partitions(grouped) == [("frisco", DAY)]
    assert partition_ranges(grouped, failed_partitions(grouped)) == [(f"west|{DAY}", f"west|{DAY}")]

    defs = build_defs(grouped)
    monkeypatch.setattr(automation, "local_now", lambda settings: datetime.combine(
        TODAY, datetime.min.time(), ZoneInfo(grouped.timezone)).replace(hour=6, minute=5))
    data = defs.get_sensor_def("retry_sensor").evaluate_tick(dg.build_sensor_context(
        instance=instance, definitions=defs, sensor_name="retry_sensor"))
    assert [r.partition_key for r in data.run_requests] == [f"west|{DAY}"]
    request = data.run_requests[0]
    assert request.run_config["ops"]["scored_leads"]["config"]["retry_only"] is True
    before = scored_per_city(grouped)
    assert defs.resolve_job_def("score_job").execute_in_process(
        instance=instance, partition_key=request.partition_key, run_config=request.run_config,
        tags=request.tags, asset_selection=list(request.asset_selection)).success
    assert retry_rows(grouped) == {} and scored_per_city(grouped) == before
    assert status(grouped, instance) == {"east": None, "west": "MATERIALIZED"}


def test_group_partitions_and_ranges_follow_the_config(grouped):
    pdef = build_defs(grouped).get_assets_def("raw_permits").partitions_def
    assert [d.name for d in pdef.partitions_defs] == ["city_group", "date"]
    assert pdef.get_partitions_def_for_dimension("city_group").get_partition_keys() == ["east", "west"]
    assert pdef.has_partition_key(f"west|{DAY}") and not pdef.has_partition_key(f"plano|{DAY}")
    d0 = DAY - timedelta(days=1)
    ranges = partition_ranges(grouped, [("plano", d0), ("frisco", d0), ("allen", d0), ("plano", DAY)])
    covered = [str(k) for s, e in ranges for k in pdef.get_partition_keys_in_range(dg.PartitionKeyRange(s, e))]
    assert sorted(covered) == sorted([f"east|{d0}", f"west|{d0}", f"west|{DAY}"])


def test_a_group_pull_is_recorded_only_when_every_city_of_it_landed(portal, instance):
    from lead_assets.defs.runs import range_tags
    from lead_assets_tests.portal_server import Fault
    from lead_assets_tests.test_portals import DAYS
    settings, state, _ = portal
    settings = Settings.load(configure(settings.config_path, 'scheme = "group_day"\ngroups = 2',
                                       {"austin_soda": "austin", "austin_arc": "austin"}))
    state.faults.append(Fault("socrata", 503, offset=14, times=3))   # the 5th fails at Socrata only

    def pull_two_days():
        return build_defs(settings).resolve_job_def("score_job").execute_in_process(
            instance=instance, tags=range_tags(f"austin|{DAYS[0]}", f"austin|{DAYS[1]}"),
            asset_selection=[dg.AssetKey("permit_pulls"), dg.AssetKey("raw_permits")], raise_on_error=False)
    assert not pull_two_days().success
    days = [f"austin|{DAYS[0] + timedelta(days=i)}" for i in range((DAYS[1] - DAYS[0]).days + 1)]
    records = instance.fetch_materializations(dg.AssetKey("permit_pulls"), limit=10).records
    assert sorted(r.partition_key for r in records) == days[1:], "the 5th: ArcGIS landed, Socrata did not"
    for record in records:
        pulls = record.asset_materialization.metadata["pulls"].value
        assert sorted(p["city"] for p in pulls) == ["austin_arc", "austin_soda"]
    assert pull_two_days().success
    pulled = {r.partition_key for r in instance.fetch_materializations(dg.AssetKey("permit_pulls"), limit=10).records}
    assert pulled == set(days)


# ---------------------------------------------------------------- config

def test_default_scheme_is_city_day_and_ignores_groups(tmp_path):
    settings = Settings.load(configure(write_config(tmp_path), "groups = 4", {"plano": "west"}))
    scheme = settings.partition_scheme
    assert scheme.kind == "city_day" and scheme.rows() == list(settings.cities)
    assert scheme.key("plano", DAY) == f"plano|{DAY}"


def test_hashed_groups_are_stable_and_a_named_group_wins(tmp_path):
    config = configure(write_config(tmp_path), 'scheme = "group_day"\ngroups = 4', {"allen": "north"})
    scheme = Settings.load(config).partition_scheme
    assert scheme.row("allen") == "north"
    hashed = {c: scheme.row(c) for c in ("plano", "frisco", "mckinney", "prosper")}
    assert set(hashed.values()) <= {"g0", "g1", "g2", "g3"}
    assert scheme.rows() == sorted({*hashed.values(), "north"})
    assert sorted(c for r in scheme.rows() for c in scheme.cities_of(r)) == sorted([*hashed, "allen"])
    # a new city joins a group; no other city moves
    extra = '\n[cities.denton]\nname = "Denton"\nlanding = "denton/*.csv"\n[cities.denton.columns]\n' \
            'permit_num = "No"\ndescription = "Work"\nissued_date = "Issued"\noriginal_address = "Address"\n'
    config.write_text(config.read_text() + extra)
    again = Settings.load(config).partition_scheme
    assert {c: again.row(c) for c in hashed} == hashed and again.row("denton") in {"g0", "g1", "g2", "g3"}


@pytest.mark.parametrize("partitions, groups, message", [
    ('scheme = "state_day"', {}, "partitions.scheme: must be 'city_day' or 'group_day', not 'state_day'"),
    ('scheme = "group_day"\ngroups = 0', {}, "partitions.groups: must be at least 1, not 0"),
    ('scheme = "group_day"\ngroups = "8"', {}, "partitions.groups: must be a whole number, not '8'"),
    ('scheme = "group_day"\ngroups = true', {}, "partitions.groups: must be a whole number, not True"),
    ('scheme = "group_day"', {c: "west" for c in WEST}, "[cities.mckinney] has no group"),
    ('scheme = "group_day"\ngroups = 2', {"plano": "West|1"}, "[cities.plano] group must be lowercase"),
])
def test_bad_partition_scheme_settings_are_one_line_errors(tmp_path, partitions, groups, message):
    config = configure(write_config(tmp_path), partitions, groups)
    with pytest.raises(ConfigError) as err:
        Settings.load(config)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert re.match(rf"{re.escape(str(config))}: ", str(err.value))
