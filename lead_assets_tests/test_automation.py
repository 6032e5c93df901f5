"""Operations in Dagster: the daily schedule, the retry sensor, the exports sensor, backfills
of failed partitions, run limits, checks and metadata.

Sensors and the schedule are evaluated with Dagster's test contexts against a real (temporary)
instance and a real warehouse built from the demo data; the runs they request are executed
in process, and the instance's event log says which partitions were materialized.
"""
from __future__ import annotations

import json
import random
import re
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from lead_assets.leads import scoring
from lead_assets.sources.appraisal import load_property_records
from lead_assets.defs import automation
from lead_assets.demo.feeds import generate_demo
from lead_assets.exports.files import file_path, stale_buyer_files, write_buyer_files, write_queue_file
from lead_assets.sources.ingest import ingest
from lead_assets.defs.runs import (
    RANGE_END, RANGE_START, SCORED, export_plan, failed_partitions, partition_ranges, retry_rows,
)
from lead_assets.config.errors import ConfigError
from lead_assets.config.settings import PROJECT_ROOT, Settings
from lead_assets.leads.taxonomy import RETRY_FILE, REVIEW_FILE, export_keys
from lead_assets.warehouse.connection import connect
from lead_assets_tests.failures import inject_failures, score_failing

# Dates follow the real clock, so the day partitions always exist (they end at "now").
END = date.today() - timedelta(days=3)
D1, D2 = END - timedelta(days=1), END
TODAY = END + timedelta(days=1)
START = D1 - timedelta(days=3)
TZ = ZoneInfo("America/Chicago")
CITIES = ["plano", "frisco", "mckinney", "allen", "prosper"]

EXTRA_CITY = """
[cities.richardson]
name = "Richardson"
landing = "richardson/*.csv"
format = "csv"
date_format = "%m/%d/%Y"
[cities.richardson.columns]
permit_num = "PermitNum"
description = "Description"
issued_date = "IssuedDate"
original_address = "OriginalAddress1"
"""


# ---------------------------------------------------------------- helpers (also used by the other ops tests)

def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def write_config(root: Path, *, automation_cfg: dict | None = None, extra: str = "") -> Path:
    """The project's leads.toml with paths under `root`, an early start_date and test [automation]."""
    text = (PROJECT_ROOT / "leads.toml").read_text()
    text = re.sub(r"(?ms)^\[automation\]\n.*?(?=^# ----|^\[)", "", text)
    text = re.sub(r'(?m)^start_date = "[^"]*"', f'start_date = "{START}"', text)
    cfg = {"autostart": False, **(automation_cfg or {})}
    text += extra + "\n[automation]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in cfg.items())
    root.mkdir(parents=True, exist_ok=True)
    (root / "leads.toml").write_text(text)
    return root / "leads.toml"


def new_dagster_home(path: Path) -> Path:
    """A temporary DAGSTER_HOME with the project's dagster.yaml (never the project's own folder)."""
    path.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_ROOT / "dagster_home" / "dagster.yaml", path / "dagster.yaml")
    return path


def build_project(root: Path, days: tuple[date, ...]) -> None:
    """Demo landing data for D1 and D2; `days` loaded, scored and exported (rules scorer)."""
    write_config(root)
    generate_demo(root / "data", END, days=2)
    settings = Settings.load(root / "leads.toml", today=str(TODAY))
    load_property_records(settings)
    parts = [(c, d) for c in settings.cities for d in days]
    ingest(settings, parts)
    scoring.score(settings, parts)
    write_buyer_files(settings)
    write_queue_file(settings, "review")
    write_queue_file(settings, "retry")


@pytest.fixture(scope="session")
def bases(tmp_path_factory):
    """Two ready-made projects: only D1 scored (D2 landed, not loaded), and both days scored."""
    d1 = tmp_path_factory.mktemp("base") / "d1"
    build_project(d1, (D1,))
    full = d1.parent / "full"
    shutil.copytree(d1, full)
    settings = Settings.load(full / "leads.toml", today=str(TODAY))
    parts = [(c, D2) for c in settings.cities]
    ingest(settings, parts)
    scoring.score(settings, parts)
    write_buyer_files(settings)
    write_queue_file(settings, "review")
    write_queue_file(settings, "retry")
    return {"d1": d1, "full": full}


@dataclass
class Project:
    root: Path
    home: Path
    monkeypatch: pytest.MonkeyPatch

    @property
    def config(self) -> Path:
        return self.root / "leads.toml"

    @property
    def settings(self) -> Settings:
        return Settings.load(self.config)

    def reconfigure(self, **automation_cfg) -> None:
        write_config(self.root, automation_cfg=automation_cfg)

    def defs(self) -> dg.Definitions:
        from lead_assets.definitions import build_defs
        return build_defs(self.settings)

    def instance(self):
        return open_instance(self.home)


@contextmanager
def open_instance(home: Path):
    """The instance of a DAGSTER_HOME, disposed afterwards.

    Not `with DagsterInstance(...)`: in Dagster 1.13 its __enter__ sets a context variable
    (the defs-state storage) that __exit__ never resets, and once that instance is garbage
    collected every later definitions load in the thread fails ("undefined DagsterInstance
    weakref").
    """
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        yield instance
    finally:
        instance.dispose()


def make_project(base: Path, dest: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    shutil.copytree(base, dest / "project")
    home = new_dagster_home(dest / "dagster_home")
    for var in ("LEADS_WAREHOUSE", "LEADS_LANDING", "LEADS_APPRAISAL", "LEADS_EXPORTS", "LEADS_SCORER"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LEADS_CONFIG", str(dest / "project" / "leads.toml"))
    monkeypatch.setenv("LEADS_TODAY", str(TODAY))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return Project(dest / "project", home, monkeypatch)


@pytest.fixture
def full(bases, tmp_path, monkeypatch) -> Project:
    return make_project(bases["full"], tmp_path, monkeypatch)


@pytest.fixture
def d1_only(bases, tmp_path, monkeypatch) -> Project:
    return make_project(bases["d1"], tmp_path, monkeypatch)


def leads_of(settings: Settings, city: str, day: date, n: int) -> list[str]:
    """n scorable (not discarded) permit ids of a partition, each a project of that day alone:
    a project with a permit of another day is rescored with that day too, which would
    undo (or spread) a failure set up here."""
    with connect(settings.warehouse_path) as con:
        rows = con.execute("""
            SELECT s.permit_id FROM scored_leads s
            JOIN project_permits p ON p.city = s.city AND p.permit_num = s.permit_id
            WHERE s.city = ? AND s.permit_day = ? AND NOT s.discarded
              AND NOT EXISTS (SELECT 1 FROM project_permits m WHERE m.city = p.city
                              AND m.project_id = p.project_id AND m.permit_day <> s.permit_day)
            ORDER BY s.permit_id LIMIT ?""", [city, day, n]).fetchall()
    assert len(rows) == n
    return [r[0] for r in rows]


def fail(settings: Settings, city: str, day: date, n: int = 2) -> list[str]:
    """Turn n leads of a partition into RETRY rows (their scoring fails)."""
    ids = leads_of(settings, city, day, n)
    score_failing(settings, [(city, day)], ids)
    return ids


def expand(partitions_def, start: str, end: str) -> set[str]:
    return {str(k) for k in partitions_def.get_partition_keys_in_range(dg.PartitionKeyRange(start, end))}


def request_keys(request: dg.RunRequest, partitions_def) -> set[str]:
    if request.partition_key:
        return {request.partition_key}
    if RANGE_START in request.tags:
        return expand(partitions_def, request.tags[RANGE_START], request.tags[RANGE_END])
    return set()


def execute(defs: dg.Definitions, request: dg.RunRequest, instance, job: str) -> dg.ExecuteInProcessResult:
    """Run what a schedule or sensor asked for, in this process."""
    kwargs = {}
    if request.partition_key:
        kwargs["partition_key"] = request.partition_key
    if request.asset_selection:
        kwargs["asset_selection"] = list(request.asset_selection)
    return defs.resolve_job_def(request.job_name or job).execute_in_process(
        instance=instance, run_config=request.run_config, tags=request.tags, **kwargs)


def materialized(instance, asset: str, after: int | None = None) -> list[str | None]:
    """Partition of every materialization of `asset` (after storage id `after`)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), after_storage_id=after), limit=10_000).records
    return [r.partition_key for r in records]


def marks(instance, assets=("raw_permits", "scored_leads", "lead_exports")) -> dict[str, int]:
    """The latest materialization's storage id per asset (storage ids are ordered per asset key)."""
    out = {}
    for asset in assets:
        records = instance.fetch_materializations(dg.AssetKey(asset), limit=1).records
        out[asset] = records[0].storage_id if records else 0
    return out


def file_state(settings: Settings) -> dict[str, tuple[bytes, int]]:
    out = {}
    for key in export_keys():
        p = file_path(settings, key)
        out[key] = (p.read_bytes(), p.stat().st_mtime_ns)
    for name in (REVIEW_FILE, RETRY_FILE):
        p = settings.exports_dir / name
        out[name] = (p.read_bytes(), p.stat().st_mtime_ns)
    return out


def scored_rows(settings: Settings, exclude: set[tuple[str, date]] = frozenset()) -> list[tuple]:
    with connect(settings.warehouse_path) as con:
        rows = con.execute("SELECT * FROM scored_leads ORDER BY city, permit_id").fetchall()
    return [r for r in rows if (r[0], r[1]) not in exclude]


def at(day: date, hh: int, mm: int) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=TZ)


def sensor(defs: dg.Definitions, name: str) -> dg.SensorDefinition:
    return defs.get_sensor_def(name)


def tick(defs, name: str, instance, cursor: str | None = None):
    """One sensor evaluation with Dagster's test context."""
    ctx = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs, sensor_name=name)
    return sensor(defs, name).evaluate_tick(ctx)


# ---------------------------------------------------------------- partition ranges

def test_partition_ranges_cover_exactly_the_partitions_asked_for(full):
    settings = full.settings
    partitions_def = full.defs().get_assets_def("scored_leads").partitions_def
    days = [START + timedelta(days=i) for i in range(5)]
    rng = random.Random(7)
    for trial in range(40):
        parts = {(c, d) for c in CITIES for d in days if rng.random() < (0.2 + trial / 50)}
        if not parts:
            continue
        ranges = partition_ranges(settings, parts)
        covered = [k for s, e in ranges for k in expand(partitions_def, s, e)]
        assert len(covered) == len(set(covered)), "ranges overlap"
        assert set(covered) == {f"{c}|{d}" for c, d in parts}
        assert len(ranges) <= len(parts)
    # a whole rectangle is one run
    assert len(partition_ranges(settings, [(c, d) for c in CITIES for d in days])) == 1


# ---------------------------------------------------------------- daily schedule

def test_daily_schedule_scores_yesterday_for_every_configured_city(d1_only):
    # A city added to leads.toml is included with no code change.
    write_config(d1_only.root, automation_cfg={"daily_time": "04:15"}, extra=EXTRA_CITY)
    defs = d1_only.defs()
    schedule = defs.get_schedule_def("daily_schedule")
    assert schedule.cron_schedule == "15 4 * * *"
    assert schedule.execution_timezone == "America/Chicago"
    partitions_def = defs.get_assets_def("scored_leads").partitions_def
    with d1_only.instance() as instance:
        ctx = dg.build_schedule_context(instance=instance, scheduled_execution_time=at(TODAY, 4, 15))
        data = schedule.evaluate_tick(ctx)
    requests = data.run_requests
    assert len(requests) == 1, "one run for the whole day, not one per city"
    assert request_keys(requests[0], partitions_def) == {f"{c}|{D2}" for c in [*CITIES, "richardson"]}
    assert str(D2) in requests[0].run_key
    assert requests[0].tags["leads/trigger"] == "daily_schedule"


def test_daily_run_then_the_exports_sensor_rewrites_exactly_the_changed_files(d1_only):
    settings, defs = d1_only.settings, d1_only.defs()
    with d1_only.instance() as instance:
        ctx = dg.build_schedule_context(instance=instance, scheduled_execution_time=at(TODAY, 5, 30))
        [request] = defs.get_schedule_def("daily_schedule").evaluate_tick(ctx).run_requests
        before = file_state(settings)
        assert stale_buyer_files(settings) == []
        result = execute(defs, request, instance, "score_job")
        assert result.success
        assert sorted(materialized(instance, "scored_leads")) == sorted(f"{c}|{D2}" for c in CITIES)

        stale = set(stale_buyer_files(settings))
        assert stale and stale != set(export_keys())
        data = tick(defs, "exports_sensor", instance)
        assert data.run_requests
        partitions_def = defs.get_assets_def("lead_exports").partitions_def
        assert len(data.run_requests) == 1, "one export run, not one per file"
        requested = request_keys(data.run_requests[0], partitions_def)
        assert stale <= requested
        assert execute(defs, data.run_requests[0], instance, "export_job").success
        after = file_state(settings)
        changed = {k for k in after if after[k] != before[k]}
        assert changed - {REVIEW_FILE, RETRY_FILE} == stale, "exactly the stale files were rewritten"
        assert set(materialized(instance, "lead_exports")) == stale, "and only they were materialized"
        assert stale_buyer_files(settings) == []

        # Nothing new scored: the next tick asks for nothing.
        again = tick(defs, "exports_sensor", instance, cursor=data.cursor)
        assert not again.run_requests and "no new scores" in again.skip_message


# ---------------------------------------------------------------- exports sensor

def test_exports_sensor_waits_for_scores_and_never_stacks_runs(full, monkeypatch):
    defs = full.defs()
    with full.instance() as instance:
        first = tick(defs, "exports_sensor", instance)
        assert not first.run_requests and "nothing scored" in first.skip_message
        # Score one partition through Dagster with two RETRY rows: a few files change.
        ids = leads_of(full.settings, "plano", D2, 2)
        inject_failures(monkeypatch, ids)
        run = defs.resolve_job_def("score_job").execute_in_process(
            instance=instance, partition_key=f"plano|{D2}", raise_on_error=False)
        assert not run.success, "a partition left with RETRY rows fails its run"
        stale = stale_buyer_files(full.settings)
        data = tick(defs, "exports_sensor", instance)
        [request] = data.run_requests
        selection = {k.to_user_string() for k in request.asset_selection}
        assert selection == {"lead_exports", "retry_queue"}, "the retry queue changed, the review queue did not"
        partitions_def = defs.get_assets_def("lead_exports").partitions_def
        assert set(stale) <= request_keys(request, partitions_def)
        assert request.tags["leads/trigger"] == "exports_sensor"
        # The run is in flight (queued): the sensor does not stack another one.
        from dagster._core.test_utils import create_run_for_test
        create_run_for_test(instance, job_name="export_job", status=dg.DagsterRunStatus.STARTED)
        busy = tick(defs, "exports_sensor", instance)
        assert not busy.run_requests and "in flight" in busy.skip_message


def test_export_plan_is_one_run_over_the_stale_files():
    keys = export_keys()
    stale = [keys[5], keys[2], keys[30]]
    assert export_plan(stale, ["retry_queue"]) == [(["lead_exports", "retry_queue"], keys[2], keys[30])]
    assert export_plan([keys[7]], []) == [(["lead_exports"], keys[7], keys[7])]
    assert export_plan([], ["needs_review"]) == [(["needs_review"], None, None)]
    assert export_plan([], []) == []


def test_exports_are_held_while_a_blocking_check_of_scored_leads_fails(full, monkeypatch):
    defs = full.defs()
    with full.instance() as instance:
        inject_failures(monkeypatch, leads_of(full.settings, "allen", D1, 1))
        assert not defs.resolve_job_def("score_job").execute_in_process(
            instance=instance, partition_key=f"allen|{D1}", raise_on_error=False).success
        instance.report_runless_asset_event(dg.AssetCheckEvaluation(
            asset_key=SCORED, check_name="tier_matches_score", passed=False,
            severity=dg.AssetCheckSeverity.ERROR, metadata={"bad_rows": 3}))
        held = tick(defs, "exports_sensor", instance)
        assert not held.run_requests and "held" in held.skip_message and "tier_matches_score" in held.skip_message
        # A warning (a partial rescore) does not hold the files; a passing check releases them.
        instance.report_runless_asset_event(dg.AssetCheckEvaluation(
            asset_key=SCORED, check_name="tier_matches_score", passed=False, severity=dg.AssetCheckSeverity.WARN))
        assert tick(defs, "exports_sensor", instance).run_requests
        instance.report_runless_asset_event(dg.AssetCheckEvaluation(
            asset_key=SCORED, check_name="tier_matches_score", passed=True))
        assert tick(defs, "exports_sensor", instance).run_requests
        # Bad rows in the warehouse hold the exports too, whatever the last check said.
        with connect(full.settings.warehouse_path) as con:
            con.execute("UPDATE scored_leads SET tier = 'A' WHERE score BETWEEN 0 AND 20")
        held = tick(defs, "exports_sensor", instance)
        assert not held.run_requests and "tier does not match" in held.skip_message


# ---------------------------------------------------------------- retry sensor

@pytest.fixture
def clock(monkeypatch):
    """Set the retry sensor's clock."""
    def set_clock(when: datetime):
        monkeypatch.setattr(automation, "local_now", lambda settings: when)
    return set_clock


def test_retry_sensor_requests_exactly_the_partitions_with_retry_rows(full, clock):
    settings = full.settings
    fail(settings, "plano", D1)
    fail(settings, "frisco", D1)
    fail(settings, "allen", D2)
    defs = full.defs()
    partitions_def = defs.get_assets_def("scored_leads").partitions_def
    with full.instance() as instance:
        clock(at(TODAY, 6, 5))
        data = tick(defs, "retry_sensor", instance)
        keys = [request_keys(r, partitions_def) for r in data.run_requests]
        assert set().union(*keys) == {f"plano|{D1}", f"frisco|{D1}", f"allen|{D2}"}
        assert sum(len(k) for k in keys) == 3, "no partition is requested twice"
        assert len(data.run_requests) == 2, "neighbouring partitions share a run"
        for r in data.run_requests:
            assert r.run_config["ops"]["scored_leads"]["config"]["retry_only"] is True
            assert r.tags["leads/trigger"] == "retry_sensor" and str(TODAY) in r.run_key
        assert len({r.run_key for r in data.run_requests}) == 2
        assert all([k.to_user_string() for k in r.asset_selection] == ["scored_leads"] for r in data.run_requests)
        assert defs.get_sensor_def("retry_sensor").job_name == "score_job"

        # Same day again (run still queued or not): nothing more.
        again = tick(defs, "retry_sensor", instance, cursor=data.cursor)
        assert not again.run_requests
        clock(at(TODAY + timedelta(days=1), 5, 59))
        assert not tick(defs, "retry_sensor", instance, cursor=data.cursor).run_requests
        # The next day's retry time: the rows that still fail are asked for again, new run keys.
        clock(at(TODAY + timedelta(days=1), 6, 0))
        nxt = tick(defs, "retry_sensor", instance, cursor=data.cursor)
        assert set().union(*(request_keys(r, partitions_def) for r in nxt.run_requests)) == set().union(*keys)
        assert not {r.run_key for r in nxt.run_requests} & {r.run_key for r in data.run_requests}


def test_retry_sensor_requests_nothing_when_nothing_failed(full, clock):
    defs = full.defs()
    assert failed_partitions(full.settings) == []
    with full.instance() as instance:
        clock(at(TODAY, 6, 1))
        data = tick(defs, "retry_sensor", instance)
        assert not data.run_requests and "no partition holds RETRY rows" in data.skip_message


def test_retry_sensor_follows_the_configured_time(full, clock):
    fail(full.settings, "prosper", D2)
    full.reconfigure(retry_time="07:45")
    defs = full.defs()
    with full.instance() as instance:
        clock(at(TODAY, 7, 44))
        yesterday = tick(defs, "retry_sensor", instance)          # catches up yesterday's slot
        assert str(TODAY - timedelta(days=1)) in yesterday.run_requests[0].run_key
        assert not tick(defs, "retry_sensor", instance, cursor=yesterday.cursor).run_requests
        clock(at(TODAY, 7, 45))
        today = tick(defs, "retry_sensor", instance, cursor=yesterday.cursor)
        assert [r.partition_key for r in today.run_requests] == [f"prosper|{D2}"]


def test_retry_sensor_skips_partitions_with_a_run_in_flight(full, clock):
    from dagster._core.test_utils import create_run_for_test
    from dagster._core.remote_origin import InProcessCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    settings = full.settings
    for city, day in [("plano", D1), ("mckinney", D1), ("allen", D1), ("prosper", D2)]:
        fail(settings, city, day, 1)
    defs = full.defs()
    partitions_def = defs.get_assets_def("scored_leads").partitions_def
    with full.instance() as instance:
        origin = RemoteJobOrigin(repository_origin=RemoteRepositoryOrigin(
            code_location_origin=InProcessCodeLocationOrigin(LoadableTargetOrigin(
                module_name="lead_assets.definitions")), repository_name="__repository__"), job_name="score_job")
        create_run_for_test(instance, job_name="score_job", status=dg.DagsterRunStatus.QUEUED,   # waiting in the queue
                            tags={"dagster/partition": f"plano|{D1}"}, asset_selection={SCORED},
                            remote_job_origin=origin)
        create_run_for_test(instance, job_name="__ASSET_JOB", status=dg.DagsterRunStatus.STARTED,
                            tags={RANGE_START: f"mckinney|{D1}", RANGE_END: f"allen|{D2}"},
                            asset_selection={SCORED})
        create_run_for_test(instance, job_name="score_job", status=dg.DagsterRunStatus.SUCCESS,
                            tags={"dagster/partition": f"prosper|{D2}"}, asset_selection={SCORED})
        clock(at(TODAY, 6, 0))
        data = tick(defs, "retry_sensor", instance)
        keys = set().union(*(request_keys(r, partitions_def) for r in data.run_requests))
        assert keys == {f"prosper|{D2}"}


def test_a_retry_run_sends_only_the_retry_rows_to_the_scorer(full, clock, monkeypatch):
    import lead_assets.reasoner.scorer as reasoner_scorer
    settings = full.settings
    failed_ids = set(fail(settings, "plano", D1, 3)) | set(fail(settings, "allen", D2, 2))
    others = scored_rows(settings, exclude={("plano", D1), ("allen", D2)})
    seen: list[str] = []

    def spy(candidates):           # a model scorer that agrees with the rules
        seen.extend(candidates["permit_id"])
        return candidates.assign(rules_score=candidates["score"])

    monkeypatch.setattr(reasoner_scorer, "build_scorer", lambda settings, log=None, **kw: spy)
    full.reconfigure(scorer="reasoner")
    defs = full.defs()
    with full.instance() as instance:
        clock(at(TODAY, 6, 0))
        requests = tick(defs, "retry_sensor", instance).run_requests
        assert requests and all(r.tags["leads/scorer"] == "reasoner" for r in requests)
        for request in requests:
            assert execute(defs, request, instance, "score_job").success
        assert sorted(seen) == sorted(failed_ids), "exactly the RETRY rows went to the scorer"
        assert sorted(materialized(instance, "scored_leads")) == sorted([f"allen|{D2}", f"plano|{D1}"])
        assert materialized(instance, "raw_permits") == [], "a retry does not reload the permits"
    assert retry_rows(settings) == {}
    assert scored_rows(settings, exclude={("plano", D1), ("allen", D2)}) == others


# ---------------------------------------------------------------- backfills (leads CLI)

def _score_everything_through_dagster(project: Project, instance, failures: dict, monkeypatch) -> None:
    from lead_assets.defs.runs import score_partitions
    ids = [i for (city, day), n in failures.items() for i in leads_of(project.settings, city, day, n)]
    with monkeypatch.context() as patch:
        inject_failures(patch, ids)
        score_partitions(project.defs(), project.settings, instance, CITIES, D1, D2)


def partition_status(project, instance) -> dict[str, str | None]:
    """scored_leads' status per partition, from the instance's partition status API (what the
    UI's partition grid, its Failed filter and the backfill dialog's "failed and missing" use)."""
    partitions_def = project.defs().get_assets_def("scored_leads").partitions_def
    keys = [f"{c}|{d}" for c in CITIES for d in (D1, D2)]
    status = instance.get_status_by_partition(SCORED, keys, partitions_def)
    return {k: v.value if v else None for k, v in status.items()}


def test_backfill_of_failed_partitions_leaves_every_other_partition_untouched(full, capsys, monkeypatch):
    from lead_assets.cli.main import main
    failures = {("frisco", D1): 2, ("allen", D1): 1, ("allen", D2): 2}
    with full.instance() as instance:
        _score_everything_through_dagster(full, instance, failures, monkeypatch)
        assert set(failed_partitions(full.settings)) == set(failures)
        failed_keys = {f"{c}|{d}" for c, d in failures}
        assert partition_status(full, instance) == {
            k: "FAILED" if k in failed_keys else "MATERIALIZED" for k in partition_status(full, instance)}
        assert sorted(materialized(instance, "scored_leads")) == sorted(
            f"{c}|{d}" for c in CITIES for d in (D1, D2) if f"{c}|{d}" not in failed_keys)
        marker = marks(instance)
        others = scored_rows(full.settings, exclude=set(failures))
        files_before = file_state(full.settings)

        assert main(["backfill", "--failed", "--plan"]) == 0
        assert "plan only" in capsys.readouterr().out
        assert marks(instance) == marker, "--plan runs nothing"

        assert main(["backfill", "--failed"]) == 0
        out = capsys.readouterr().out
        assert "RETRY rows" in out and "none left" in out

        rescored = materialized(instance, "scored_leads", after=marker["scored_leads"])
        assert sorted(rescored) == sorted(f"{c}|{d}" for c, d in failures), \
            "only the failed partitions were materialized"
        assert materialized(instance, "raw_permits", after=marker["raw_permits"]) == []
        assert failed_partitions(full.settings) == []
        assert set(partition_status(full, instance).values()) == {"MATERIALIZED"}, "the failed ones turned green"
        assert scored_rows(full.settings, exclude=set(failures)) == others
        # The exports followed: the buyer files that changed, and only they, were materialized.
        exported = set(materialized(instance, "lead_exports", after=marker["lead_exports"]))
        after = file_state(full.settings)
        changed = {k for k in after if after[k] != files_before[k]} - {REVIEW_FILE, RETRY_FILE}
        assert exported and exported == changed
        assert stale_buyer_files(full.settings) == []


def test_backfill_selects_by_city_and_day(full, capsys):
    from lead_assets.cli.main import main
    for city, day in [("plano", D1), ("plano", D2), ("prosper", D2)]:
        fail(full.settings, city, day, 1)
    with full.instance() as instance:
        assert main(["backfill", "--failed", "--cities", "plano", "--since", str(D2), "--until", str(D2)]) == 0
        assert materialized(instance, "scored_leads") == [f"plano|{D2}"]
    assert set(failed_partitions(full.settings)) == {("plano", D1), ("prosper", D2)}
    assert main(["backfill", "--failed", "--since", str(D1 - timedelta(days=30))]) == 2
    assert "dates must be within" in capsys.readouterr().err


def test_retry_command_takes_the_seeds_retry_file(full, capsys):
    from lead_assets.cli.main import main
    settings = full.settings
    fail(settings, "mckinney", D1, 2)
    fail(settings, "prosper", D2, 1)
    write_queue_file(settings, "retry")
    retry_csv = settings.exports_dir / RETRY_FILE
    listed = retry_csv.read_text()
    fail(settings, "frisco", D2, 1)                 # after the file was written: not in it
    with full.instance() as instance:
        assert main(["retry", "--retry-only", str(retry_csv)]) == 0
        assert sorted(materialized(instance, "scored_leads")) == sorted([f"mckinney|{D1}", f"prosper|{D2}"])
    assert failed_partitions(settings) == [("frisco", D2)]
    assert "McKinney" in listed
    assert main(["retry"]) == 0
    assert failed_partitions(settings) == []
    assert main(["retry"]) == 0
    assert "no partition holds RETRY rows" in capsys.readouterr().out


# ---------------------------------------------------------------- definitions, limits, checks, metadata

def test_definitions_wire_the_automation_from_leads_toml(full):
    full.reconfigure(autostart=True, daily_time="05:10")
    defs = full.defs()
    schedule = defs.get_schedule_def("daily_schedule")
    assert schedule.cron_schedule == "10 5 * * *" and schedule.job_name == "score_job"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    for name, job in [("retry_sensor", "score_job"), ("exports_sensor", "export_job")]:
        s = defs.get_sensor_def(name)
        assert s.job_name == job and s.default_status == dg.DefaultSensorStatus.RUNNING
    full.reconfigure(autostart=False)
    assert full.defs().get_sensor_def("retry_sensor").default_status == dg.DefaultSensorStatus.STOPPED
    # Backfills of many partitions are single runs, not a process per partition.
    for asset in ("raw_permits", "scored_leads", "lead_exports"):
        assert full.defs().get_assets_def(asset).backfill_policy == dg.BackfillPolicy.single_run()
    with pytest.raises(ConfigError, match="HH:MM"):
        write_config(full.root, automation_cfg={"retry_time": "6am"})
        Settings.load(full.config)


def test_dagster_yaml_queues_runs_with_limits(tmp_path):
    from dagster._core.run_coordinator import QueuedRunCoordinator
    with open_instance(new_dagster_home(tmp_path)) as instance:
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        config = instance.get_concurrency_config()
    queue = config.run_queue_config
    assert 1 <= queue.max_concurrent_runs <= 8
    limits = {(l["key"], json.dumps(l.get("value"))): l["limit"] for l in queue.tag_concurrency_limits}
    assert limits[("leads/scorer", '"reasoner"')] == 1
    assert limits[("dagster/backfill", "null")] < queue.max_concurrent_runs
    assert config.pool_config.pool_granularity.value == "run"
    assert 1 <= config.pool_config.default_pool_limit < queue.max_concurrent_runs
    for asset in ("raw_permits", "scored_leads", "lead_exports"):
        from lead_assets.definitions import defs
        assert defs.get_assets_def(asset).op.pool == "warehouse"


def test_checks_run_with_materializations_and_metadata_is_numeric(full, monkeypatch):
    defs = full.defs()
    with full.instance() as instance:
        inject_failures(monkeypatch, leads_of(full.settings, "plano", D1, 2))
        result = defs.resolve_job_def("score_job").execute_in_process(
            instance=instance, partition_key=f"plano|{D1}", raise_on_error=False)
        assert not result.success, "a partition left with RETRY rows fails its run"
        checks = {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}
        assert checks == {("scored_leads", "every_permit_scored_once"): True,
                          ("scored_leads", "tier_matches_score"): True,
                          ("scored_leads", "vocabulary_stable"): True,
                          ("raw_permits", "source_files_readable"): True}
        # plano|D1 holds RETRY rows: observed (its counts kept), not materialized.
        assert instance.get_latest_materialization_event(SCORED) is None
        scored = instance.fetch_observations(SCORED, limit=1).records[0].event_log_entry.asset_observation.metadata
        for key in ("rows", "tier_a", "tier_b", "tier_c", "retry", "discarded", "needs_review"):
            assert isinstance(scored[key], dg.IntMetadataValue), key
        assert scored["retry"].value == 2
        # vocabulary drift figures, per partition (a share of the partition's leads)
        assert 0 <= scored["other_share"].value < 0.5 and 0 <= scored["new_type_share"].value <= 1
        raw = instance.get_latest_materialization_event(dg.AssetKey("raw_permits")).asset_materialization.metadata
        assert isinstance(raw["quarantined"], dg.IntMetadataValue) and isinstance(raw["rows"], dg.IntMetadataValue)
        specs = {s.name: s.blocking for s in defs.get_assets_def("scored_leads").check_specs}
        assert specs == {"every_permit_scored_once": True, "tier_matches_score": True, "vocabulary_stable": False}
        assert all(s.blocking for s in defs.get_assets_def("lead_exports").check_specs)
        exports = defs.resolve_job_def("export_job").execute_in_process(
            instance=instance, partition_key=stale_buyer_files(full.settings)[0])
        assert exports.success
        md = instance.get_latest_materialization_event(dg.AssetKey("lead_exports")).asset_materialization.metadata
        assert isinstance(md["rows"], dg.IntMetadataValue)
        retry_md = instance.get_latest_materialization_event(dg.AssetKey("retry_queue")).asset_materialization.metadata
        assert retry_md["rows"].value == 2


def test_a_default_config_backfill_of_failed_partitions_rescores_only_their_retry_rows(full, monkeypatch):
    """What a UI backfill of the "failed" partitions does: scored_leads only, no run config."""
    defs = full.defs()
    failures = {("frisco", D1): 2, ("allen", D2): 3}
    with full.instance() as instance:
        _score_everything_through_dagster(full, instance, failures, monkeypatch)
        failed_keys = sorted(k for k, v in partition_status(full, instance).items() if v == "FAILED")
        assert failed_keys == sorted(f"{c}|{d}" for c, d in failures)
        retry_ids = {pid for (city, day) in failures for pid in retry_ids_of(full.settings, city, day)}
        # The rows of the failed partitions that did score are stored and reach the buyer files.
        with connect(full.settings.warehouse_path) as con:
            good = con.execute("""SELECT count(*) FROM scored_leads WHERE city = 'frisco' AND permit_day = ?
                                  AND tier IN ('A', 'B', 'C') AND NOT discarded""", [D1]).fetchone()[0]
        assert good > 0
        [request] = tick(defs, "exports_sensor", instance).run_requests
        assert execute(defs, request, instance, "export_job").success
        exported = b"".join(p.read_bytes() for p in full.settings.exports_dir.rglob("tier_*.csv"))
        with connect(full.settings.warehouse_path) as con:
            some = con.execute("""SELECT permit_id FROM scored_leads WHERE city = 'frisco' AND permit_day = ?
                                  AND tier IN ('A', 'B', 'C') AND NOT discarded AND NOT needs_review
                                  ORDER BY permit_id LIMIT 1""", [D1]).fetchone()[0]
        assert some.encode() in exported

        seen: list[str] = []

        def spy(settings, parts, **kw):   # a model scorer that agrees with the rules, recording what it got
            def scorer(candidates):
                seen.extend(candidates["permit_id"])
                return candidates.assign(rules_score=candidates["score"])
            return scoring.score(settings, parts, **{**kw, "scorer": scorer})

        import lead_assets.defs.assets.leads as leads_asset
        monkeypatch.setattr(leads_asset, "score", spy)
        for key in failed_keys:
            assert defs.resolve_job_def("score_job").execute_in_process(
                instance=instance, partition_key=key, asset_selection=[SCORED]).success
        assert sorted(seen) == sorted(retry_ids), "only the RETRY rows went to the scorer"
        assert set(partition_status(full, instance).values()) == {"MATERIALIZED"}
        assert retry_rows(full.settings) == {}


def retry_ids_of(settings: Settings, city: str, day: date) -> list[str]:
    with connect(settings.warehouse_path) as con:
        return [r[0] for r in con.execute("SELECT permit_id FROM scored_leads WHERE city = ? AND permit_day = ? "
                                          "AND tier = 'RETRY'", [city, day]).fetchall()]
