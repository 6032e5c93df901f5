"""Schedules and sensors: the daily run, the daily retry of RETRY rows, exports that follow scores.

* ``daily_schedule`` (``[automation] daily_time``, default 05:30 in ``partitions.timezone``):
  scores yesterday's city x day partitions of every configured city in one run (a range).
* ``retry_sensor`` (``[automation] retry_time``, default 06:00, the seed's daily retry): once
  per day, requests scored_leads runs (retry_only) for exactly the partitions that hold RETRY
  rows; only those rows go to the scorer. Run keys (day + range) and a look at the queued and
  running runs keep a partition from being requested twice while a run for it is in flight.
* ``exports_sensor``: when scored_leads gets a new materialization (or observation: a
  partition left with RETRY rows, shown failed), requests one
  ``export_job`` run over the buyer files (and queue files) whose bytes no longer match the
  warehouse; lead_exports rewrites and materializes only the partitions whose bytes change,
  so unaffected files are not touched. Held while a blocking check of scored_leads fails.

Everything reads leads.toml, so a new city is a new partition row with no code change.
"""
from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from lead_assets.defs.assets.leads import CHECK_SQL
from lead_assets.defs.jobs import export_job, score_job
from lead_assets.defs.partitions import city_day_partitions
from lead_assets.defs.runs import (
    SCORED, SCORER_TAG, TRIGGER_TAG, effective_scorer, export_in_flight, export_plan,
    failed_partitions, in_flight_partitions, partition_ranges, range_tags, stale_queue_files,
)
from lead_assets.config.settings import Settings
from lead_assets.warehouse.connection import WarehouseBusy, connect

# A sensor gives up on a busy warehouse after this long and tries again at its next tick
# (a daemon tick must stay well under Dagster's 60 s sensor timeout).
SENSOR_LOCK_TIMEOUT = 20.0


def local_now(settings: Settings) -> datetime:
    """Now in the project's zone. LEADS_TODAY (tests, replays) pins the date, the clock gives the time."""
    now = datetime.now(ZoneInfo(settings.timezone))
    if settings.today_override:
        now = datetime.combine(settings.today_override, now.timetz())
    return now


def retry_slot(settings: Settings, now: datetime) -> datetime:
    """The latest retry time at or before `now` (today's, or yesterday's before it comes)."""
    hour, minute = settings.automation.clock("retry_time")
    slot = datetime.combine(now.date(), time(hour, minute), tzinfo=ZoneInfo(settings.timezone))
    return slot if slot <= now else slot - timedelta(days=1)


def _status(settings: Settings, name: str) -> dg.DefaultScheduleStatus:
    return dg.DefaultScheduleStatus.RUNNING if settings.automation.starts(name) else dg.DefaultScheduleStatus.STOPPED


def _sensor_status(settings: Settings, name: str) -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.RUNNING if settings.automation.starts(name) else dg.DefaultSensorStatus.STOPPED


def _score_request(start: str, end: str, *, run_key: str, tags: dict, run_config: dict,
                   asset_selection=None) -> dg.RunRequest:
    """A score_job run for one partition or a range (a range run carries only the range tags)."""
    if start == end:  # one partition: a plain partitioned run
        return dg.RunRequest(run_key=run_key, partition_key=start, tags=tags, run_config=run_config,
                             asset_selection=asset_selection)
    return dg.RunRequest(run_key=run_key, tags={**tags, **range_tags(start, end)}, run_config=run_config,
                         asset_selection=asset_selection)


# ---------------------------------------------------------------- daily schedule

def daily_requests(settings: Settings, when: datetime) -> list[dg.RunRequest]:
    """Score the day that ended before `when` (local), every configured city."""
    day = when.astimezone(ZoneInfo(settings.timezone)).date() - timedelta(days=1)
    if day < settings.start_date:
        return []
    scorer = effective_scorer(settings)
    tags = {TRIGGER_TAG: "daily_schedule", SCORER_TAG: scorer}
    run_config = {"ops": {"scored_leads": {"config": {"scorer": scorer, "retry_only": False}}}}
    return [_score_request(start, end, run_key=f"daily|{day}|{start}..{end}", tags=tags, run_config=run_config)
            for start, end in partition_ranges(settings, [(city, day) for city in settings.cities])]


def build_daily_schedule(settings: Settings) -> dg.ScheduleDefinition:
    hour, minute = settings.automation.clock("daily_time")

    @dg.schedule(
        name="daily_schedule", job=score_job, cron_schedule=f"{minute} {hour} * * *",
        execution_timezone=settings.timezone, default_status=_status(settings, "daily_schedule"),
        description=f"Every day at {settings.automation.daily_time} ({settings.timezone}): load and score "
                    "yesterday's partitions of every configured city (one run); the exports sensor "
                    "then rewrites the buyer files that changed.",
    )
    def daily_schedule(context: dg.ScheduleEvaluationContext):
        when = context.scheduled_execution_time or local_now(settings)
        requests = daily_requests(settings, when)
        return requests or dg.SkipReason(f"{when:%Y-%m-%d}: the day before is before partitions.start_date")

    return daily_schedule


# ---------------------------------------------------------------- retry sensor

def retry_evaluation(settings: Settings, instance, cursor: str | None, now: datetime,
                     partitions_def) -> dg.SensorResult | dg.SkipReason:
    slot = retry_slot(settings, now)
    state = json.loads(cursor) if cursor else {}
    if state.get("slot") == slot.isoformat():
        return dg.SkipReason(f"retried at {slot:%Y-%m-%d %H:%M}; next retry {slot + timedelta(days=1):%Y-%m-%d %H:%M}")
    try:
        failed = failed_partitions(settings, until=now.date() - timedelta(days=1), timeout=SENSOR_LOCK_TIMEOUT)
    except WarehouseBusy:
        return dg.SkipReason("the warehouse is busy; trying again at the next tick")
    busy = in_flight_partitions(instance, partitions_def)
    todo = [(c, d) for c, d in failed if settings.partition_scheme.key(c, d) not in busy]
    new_cursor = json.dumps({"slot": slot.isoformat()})
    if not todo:
        reason = (f"no partition holds RETRY rows ({slot:%Y-%m-%d %H:%M} retry)" if not failed else
                  f"{len(failed)} partition(s) with RETRY rows already have a run in flight")
        return dg.SensorResult(skip_reason=dg.SkipReason(reason), cursor=new_cursor)
    scorer = effective_scorer(settings)
    tags = {TRIGGER_TAG: "retry_sensor", SCORER_TAG: scorer, "leads/retry_slot": slot.isoformat()}
    run_config = {"ops": {"scored_leads": {"config": {"scorer": scorer, "retry_only": True}}}}
    requests = [_score_request(start, end, run_key=f"retry|{slot:%Y-%m-%d}|{start}..{end}", tags=tags,
                               run_config=run_config, asset_selection=[SCORED])
                for start, end in partition_ranges(settings, todo)]
    return dg.SensorResult(run_requests=requests, cursor=new_cursor)


def build_retry_sensor(settings: Settings, partitions_def) -> dg.SensorDefinition:
    @dg.sensor(
        name="retry_sensor", job=score_job, default_status=_sensor_status(settings, "retry_sensor"),
        minimum_interval_seconds=settings.automation.retry_check_seconds,
        description=f"Every day at {settings.automation.retry_time} ({settings.timezone}): rescore the RETRY "
                    "rows (only those) of exactly the partitions that hold them; scored_leads only, one run "
                    "per range of partitions.",
    )
    def retry_sensor(context: dg.SensorEvaluationContext):
        return retry_evaluation(settings, context.instance, context.cursor, local_now(settings), partitions_def)

    return retry_sensor


# ---------------------------------------------------------------- exports sensor

def failing_blocking_checks(instance) -> list[str]:
    """Blocking checks of scored_leads whose latest evaluation failed (ERROR severity)."""
    keys = [dg.AssetCheckKey(SCORED, name) for name in CHECK_SQL]
    failing = []
    for key, summary in instance.event_log_storage.get_asset_check_summary_records(keys).items():
        record = summary.last_completed_check_execution_record if summary else None
        evaluation = record.evaluation if record else None
        if evaluation is not None and not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            failing.append(f"{key.name} (run {record.run_id[:8]})")
    return failing


def bad_tiers(settings: Settings) -> int:
    """Rows anywhere in the warehouse whose tier is not the one their score gives."""
    with connect(settings.warehouse_path, timeout=SENSOR_LOCK_TIMEOUT) as con:
        con.execute("CREATE OR REPLACE TEMP TABLE parts AS SELECT DISTINCT city, permit_day FROM scored_leads")
        return con.execute(CHECK_SQL["tier_matches_score"]).fetchone()[0]


def exports_evaluation(settings: Settings, instance, cursor: str | None) -> dg.SensorResult | dg.SkipReason:
    from lead_assets.exports.files import stale_buyer_files

    state = json.loads(cursor) if cursor else {}
    after = state.get("after")
    # A partition left with RETRY rows is observed instead of materialized (its scored rows
    # are stored all the same), so either event means the warehouse changed.
    records_filter = dg.AssetRecordsFilter(asset_key=SCORED, after_storage_id=after)
    latest = [*instance.fetch_materializations(records_filter, limit=1).records,
              *instance.fetch_observations(records_filter, limit=1).records]
    if not latest:
        return dg.SkipReason("no new scores" if after is not None else "nothing scored yet")
    storage_id = max(r.storage_id for r in latest)
    if export_in_flight(instance):
        return dg.SkipReason("an export run is in flight; checking again after it")
    held = failing_blocking_checks(instance)
    try:
        bad = bad_tiers(settings)
        if bad:
            held.append(f"{bad} row(s) whose tier does not match the score")
        if held:
            return dg.SkipReason("exports held, a blocking check of scored_leads failed: " + "; ".join(held))
        stale, queues = stale_buyer_files(settings), stale_queue_files(settings)
    except WarehouseBusy:
        return dg.SkipReason("the warehouse is busy; trying again at the next tick")
    new_cursor = json.dumps({"after": storage_id})
    plan = export_plan(stale, queues)
    if not plan:
        return dg.SensorResult(skip_reason=dg.SkipReason("every export file already matches the warehouse"),
                               cursor=new_cursor)
    requests = []
    for selection, first, last in plan:
        tags = {TRIGGER_TAG: "exports_sensor", "leads/stale_files": str(len(stale))}
        if first is not None and first != last:
            tags.update(range_tags(first, last))
        requests.append(dg.RunRequest(
            run_key=f"exports|{storage_id}|{first}..{last}|{','.join(selection)}",
            job_name="export_job", asset_selection=[dg.AssetKey(a) for a in selection],
            partition_key=first if first is not None and first == last else None, tags=tags))
    return dg.SensorResult(run_requests=requests, cursor=new_cursor)


def build_exports_sensor(settings: Settings) -> dg.SensorDefinition:
    @dg.sensor(
        name="exports_sensor", job=export_job, default_status=_sensor_status(settings, "exports_sensor"),
        minimum_interval_seconds=settings.automation.exports_check_seconds,
        description="When scored_leads changes, rewrite exactly the buyer files (and queue files) that no "
                    "longer match the warehouse. Held while a blocking check of scored_leads fails.",
    )
    def exports_sensor(context: dg.SensorEvaluationContext):
        return exports_evaluation(settings, context.instance, context.cursor)

    return exports_sensor


def build_automation(settings: Settings, partitions_def=None) -> tuple[list, list]:
    """(schedules, sensors) for these settings."""
    partitions_def = partitions_def or city_day_partitions(settings)
    return [build_daily_schedule(settings)], [build_retry_sensor(settings, partitions_def),
                                               build_exports_sensor(settings)]

