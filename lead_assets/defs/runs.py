"""Launch Dagster runs in this process (for the `leads` command and `make demo`).

Runs go to the project's Dagster instance, so the UI shows them like any other run. A
city x day selection becomes as few single-run backfills as the partition order allows
(one per contiguous block of cities), never one run per partition.
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from lead_assets.processes import alive, start_marker
from lead_assets.config.settings import PROJECT_ROOT, Settings
from lead_assets.leads.taxonomy import export_keys

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def project_instance() -> dg.DagsterInstance:
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / "dagster_home"))
    Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    instance = dg.DagsterInstance.get()
    fail_dead_runs(instance)   # a `leads` command killed earlier on this machine: its runs end here
    return instance


def contiguous_blocks(selected: list[str], order: list[str]) -> list[list[str]]:
    """Split `selected` into runs of neighbours in `order` (a partition range must be contiguous)."""
    position = {key: i for i, key in enumerate(order)}   # not order.index: 3,000 cities make that quadratic
    blocks: list[list[str]] = []
    last = None
    for i in sorted(position[s] for s in set(selected)):
        if blocks and last == i - 1:
            blocks[-1].append(order[i])
        else:
            blocks.append([order[i]])
        last = i
    return blocks


def days_between(since: date, until: date) -> list[date]:
    return [since + timedelta(days=i) for i in range((until - since).days + 1)]


@dataclass
class RunSummary:
    runs: list[str] = field(default_factory=list)
    metadata: dict[str, list[dict]] = field(default_factory=dict)   # asset -> metadata of each run
    materialized: dict[str, int] = field(default_factory=dict)      # asset -> partitions materialized
    checks_failed: list[str] = field(default_factory=list)
    retry_partitions: dict[str, int] = field(default_factory=dict)  # failed (RETRY) partition -> rows

    def add(self, run_id: str, events: list) -> None:
        """Record a run's asset events (DagsterEvents, as the instance's event log holds them)."""
        self.runs.append(run_id)
        for event in events:
            if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
                mat = event.step_materialization_data.materialization
                asset = mat.asset_key.to_user_string()
                self.materialized[asset] = self.materialized.get(asset, 0) + 1
                self.metadata.setdefault(asset, []).append({k: v.value for k, v in mat.metadata.items()})
            elif event.event_type == dg.DagsterEventType.ASSET_OBSERVATION:
                # A partition left with RETRY rows is observed, not materialized (see scored_leads).
                obs = event.asset_observation_data.asset_observation
                self.metadata.setdefault(obs.asset_key.to_user_string(), []).append(
                    {k: v.value for k, v in obs.metadata.items()})
                self.retry_partitions[str(obs.partition)] = int(obs.metadata["retry"].value)
            elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
                check = event.asset_check_evaluation_data
                if not check.passed:
                    self.checks_failed.append(f"{check.asset_key.to_user_string()}:{check.check_name}")

    def total(self, asset: str, key: str) -> int:
        return sum(int(m.get(key, 0) or 0) for m in self.metadata.get(asset, []))


def _execute(defs: dg.Definitions, job: str, instance, *, tags=None, run_config=None,
             selection=None) -> tuple[str, list]:
    """Run `job` in this process; (run id, its DagsterEvents).

    A run that fails only because partitions were left with RETRY rows (scored_leads raises a
    Failure so Dagster shows them as failed) is an expected outcome here: its events are
    returned like a successful run's. Any other error propagates as the step raised it.
    """
    from dagster._core.utils import make_new_run_id

    from lead_assets.defs.assets.leads import RETRY_FAILURE
    kwargs = {"asset_selection": [dg.AssetKey(a) for a in selection]} if selection else {}
    # The command prints its own short summary; the full log is in the UI.
    config = {**(run_config or {}), "loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
    run_id = make_new_run_id()
    try:
        defs.resolve_job_def(job).execute_in_process(
            instance=instance, tags={**(tags or {}), **process_tags(run_id)}, run_config=config, raise_on_error=True, run_id=run_id, **kwargs)
    except dg.Failure as exc:
        if RETRY_FAILURE not in (exc.metadata or {}):
            raise
    return run_id, [e.dagster_event for e in instance.all_logs(run_id) if e.dagster_event is not None]


def score_partitions(defs: dg.Definitions, settings: Settings, instance, cities: list[str], since: date,
                     until: date, *, scoring: dict | None = None, progress=None,
                     refetch: bool = False) -> RunSummary:
    """permit_pulls + raw_permits + scored_leads for cities x [since, until], one run per
    contiguous city block. refetch: pull portal days again that were already fetched."""
    summary = RunSummary()
    run_config = {"ops": {"scored_leads": {"config": scoring}}} if scoring else None
    if refetch:
        run_config = {"ops": {**(run_config or {}).get("ops", {}), "permit_pulls": {"config": {"refetch": True}}}}
    scheme = settings.partition_scheme   # group_day: a city's run scores its whole group
    for block in contiguous_blocks([scheme.row(c) for c in cities], scheme.rows()):
        tags = {RANGE_START: f"{block[0]}|{since}", RANGE_END: f"{block[-1]}|{until}",
                "leads/command": "score"}
        summary.add(*_execute(defs, "score_job", instance, tags=tags, run_config=run_config))
        if progress:
            progress(sum(scheme.row(c) in block for c in cities))
    return summary


def refresh_exports(defs: dg.Definitions, settings: Settings, instance, keys: list[str] | None = None,
                    summary: RunSummary | None = None) -> RunSummary:
    """One run over the buyer files (all, or the span covering `keys`) plus both queues.
    Only files whose bytes change are rewritten and recorded as materialized."""
    summary = summary or RunSummary()
    order = export_keys()
    span = sorted(order.index(k) for k in keys) if keys else [0, len(order) - 1]
    tags = {RANGE_START: order[span[0]], RANGE_END: order[span[-1]], "leads/command": "export"}
    summary.add(*_execute(defs, "export_job", instance, tags=tags))
    return summary


def load_properties(defs: dg.Definitions, instance, summary: RunSummary) -> None:
    summary.add(*_execute(defs, "property_job", instance))


# ---------------------------------------------------------------- retries, backfills, automation
# Shared by `leads retry` / `leads backfill` and the schedule and sensors (defs/automation.py).

PARTITION_TAG = "dagster/partition"
TRIGGER_TAG = "leads/trigger"        # schedule | retry_sensor | exports_sensor | cli
SCORER_TAG = "leads/scorer"          # rules | reasoner (dagster.yaml: one reasoner run at a time)
SCORED = dg.AssetKey("scored_leads")
IN_FLIGHT = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
             dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def retry_rows(settings: Settings, *, cities: list[str] | None = None, since: date | None = None,
               until: date | None = None, timeout: float = 600.0) -> dict[tuple[str, date], int]:
    """RETRY rows per city x day partition (configured cities and partition days only)."""
    from lead_assets.warehouse.connection import connect
    with connect(settings.warehouse_path, timeout=timeout) as con:
        rows = con.execute("""SELECT city, permit_day, count(*) FROM scored_leads WHERE tier = 'RETRY'
                              GROUP BY ALL ORDER BY permit_day, city""").fetchall()
    wanted = set(cities or settings.cities)
    since = max(since or settings.start_date, settings.start_date)
    return {(city, day): n for city, day, n in rows
            if city in settings.cities and city in wanted and day >= since and (until is None or day <= until)}


def failed_partitions(settings: Settings, **selection) -> list[tuple[str, date]]:
    """The city x day partitions that hold RETRY rows."""
    position = {city: i for i, city in enumerate(settings.cities)}
    return sorted(retry_rows(settings, **selection), key=lambda p: (p[1], position[p[0]]))


def partition_ranges(settings: Settings, parts) -> list[tuple[str, str]]:
    """Cover exactly the partitions holding `parts` (city, day pairs) with partition ranges:
    neighbouring rows (cities in leads.toml order, or groups) x consecutive days.

    A range of the row x day partitions is a rectangle, so ranges never take in a partition
    that was not asked for. One Dagster run per range.
    """
    scheme = settings.partition_scheme
    order = scheme.rows()
    by_day: dict[date, set[str]] = {}
    for city, day in parts:
        by_day.setdefault(date.fromisoformat(str(day)), set()).add(scheme.row(city))
    days_by_block: dict[tuple[str, ...], list[date]] = {}
    for day in sorted(by_day):
        for block in contiguous_blocks(by_day[day], order):
            days_by_block.setdefault(tuple(block), []).append(day)
    ranges: list[tuple[date, int, str, str]] = []
    for block, days in days_by_block.items():
        first = last = days[0]
        for day in [*days[1:], None]:
            if day is not None and day == last + timedelta(days=1):
                last = day
                continue
            ranges.append((first, order.index(block[0]), f"{block[0]}|{first}", f"{block[-1]}|{last}"))
            first = last = day
    return [(start, end) for _, _, start, end in sorted(ranges)]


def range_tags(start: str, end: str) -> dict[str, str]:
    return {RANGE_START: start, RANGE_END: end}


def effective_scorer(settings: Settings, scorer: str | None = None) -> str:
    """The scorer a run will use: explicit, else [automation] scorer, else LEADS_SCORER, else rules."""
    return scorer or settings.automation.scorer or os.environ.get("LEADS_SCORER") or "rules"


def score_ranges(defs: dg.Definitions, settings: Settings, instance, parts, *, scorer: str | None = None,
                 retry_only: bool = False, command: str = "backfill", progress=None) -> RunSummary:
    """Score exactly the given partitions: one in-process run per range (see `partition_ranges`).

    retry_only: only scored_leads runs (the raw permits stay as loaded) and only RETRY rows
    go to the scorer.
    """
    summary = RunSummary()
    scorer = effective_scorer(settings, scorer)
    run_config = {"ops": {"scored_leads": {"config": {"scorer": scorer, "retry_only": retry_only}}}}
    selection = ["scored_leads"] if retry_only else None
    for start, end in partition_ranges(settings, parts):
        tags = {**range_tags(start, end), "leads/command": command, TRIGGER_TAG: "cli", SCORER_TAG: scorer}
        summary.add(*_execute(defs, "score_job", instance, tags=tags, run_config=run_config, selection=selection))
        if progress:
            progress(1)
    return summary


def retry_file_partitions(settings: Settings, path: Path) -> list[tuple[str, date]]:
    """The partitions of the leads listed in a retry file (exports/pending_retry/retry_queue.csv).

    A lead is found in the warehouse by city and permit id; one the warehouse does not know
    falls back to the file's days_old (counted from today).
    """
    import csv

    from lead_assets.config.errors import ConfigError
    from lead_assets.warehouse.connection import connect
    if not path.exists():
        raise ConfigError(f"retry file not found: {path}")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    names = {c.name.lower(): c.key for c in settings.cities.values()} | {k: k for k in settings.cities}
    wanted = []
    for row in rows:
        city = names.get((row.get("city") or "").strip().lower())
        if city is None:
            raise ConfigError(f"{path}: unknown city {row.get('city')!r}")
        wanted.append((city, row.get("permit_id", ""), row.get("days_old", "")))
    if not wanted:
        return []
    with connect(settings.warehouse_path) as con:
        known = dict(((c, p), d) for c, p, d in con.execute(
            "SELECT city, permit_id, permit_day FROM scored_leads WHERE (city, permit_id) IN "
            "(SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]))",
            [[w[0] for w in wanted], [w[1] for w in wanted]]).fetchall())
    parts = set()
    for city, permit, days_old in wanted:
        day = known.get((city, permit))
        if day is None and days_old.lstrip("-").isdigit():
            day = settings.today() - timedelta(days=int(days_old))
        if day is not None:
            parts.add((city, day))
    return sorted(parts, key=lambda p: (p[1], list(settings.cities).index(p[0])))


# A run whose process is killed cannot record its end. With the default run launcher Dagster's
# run monitoring cannot tell (no worker health check); the code server fails its own dead
# workers, but not once it is gone too (`dagster dev` killed, a restart). These tags name the process
# that runs the run's executor (the run worker), so the sensors and the CLI can fail such runs:
# the `leads` command sets them on its in-process runs, and every step of any other run sets
# them when it starts (LeadsResource.setup_for_execution -> tag_run_worker).
HOST_TAG, PID_TAG, PROCESS_START_TAG = "leads/host", "leads/pid", "leads/process_start"
# The run the three tags were written for. A re-execution (the UI's "Re-execute", run retries)
# copies its parent's tags: without this, the parent's dead pid would fail the live child.
PID_RUN_TAG = "leads/pid_run"


def process_tags(run_id: str, pid: int | None = None) -> dict[str, str]:
    pid = os.getpid() if pid is None else pid
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(pid), PROCESS_START_TAG: start_marker(pid) or "",
            PID_RUN_TAG: run_id}


def run_worker_pid(instance, run_id: str) -> int | None:
    """The pid of the process running `run_id`'s executor, seen from a step of that run; None if
    this process tree does not show it (then nothing is tagged: a wrong pid would fail a live run).

    The executor announces its own pid in a run-level engine event before any step starts
    ("Executing steps in process (pid: ...)" or "... multiprocess executor: parent process (pid:
    ...)"). A step runs either in that process (in-process executor) or in a child it created
    (multiprocess executor, spawn or forkserver: multiprocessing.parent_process() is the creator,
    os.getppid() would be the forkserver). The step's own pid is never the answer there: its
    process ends after the step while the run goes on.
    """
    import multiprocessing

    announced = set()
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        event = record.dagster_event
        if event is not None and event.step_key is None:
            pid = event.engine_event_data.metadata.get("pid")
            if pid is not None:
                announced.add(str(pid.value))
    parent = multiprocessing.parent_process()
    for candidate in (os.getpid(), parent.pid if parent is not None else None):
        if candidate is not None and str(candidate) in announced:
            return candidate
    return None


def tag_run_worker(instance, run_id: str) -> None:
    """Record on the run which process on this host runs it (see process_tags); a no-op when the
    run's own tags already name it: the `leads` command's runs, or a later step of the same run
    (a run keeps its worker: runs are never resumed, dagster.yaml max_resume_run_attempts 0)."""
    run = instance.get_run_by_id(run_id)
    if run is None or run.tags.get(PID_RUN_TAG) == run_id:
        return
    pid = run_worker_pid(instance, run_id)
    if pid is not None:
        instance.add_run_tags(run_id, process_tags(run_id, pid))


def _process_gone(run: dg.DagsterRun) -> bool:
    pid = run.tags.get(PID_TAG, "")
    if not pid.isdigit() or run.tags.get(PID_RUN_TAG) != run.run_id:   # no pid, or a parent's
        return False
    if not alive(int(pid)):
        return True
    # Alive, but is it still the process that ran this? A pid is reused after a while.
    recorded, now = run.tags.get(PROCESS_START_TAG), start_marker(int(pid))
    return bool(recorded) and now is not None and now != recorded


def fail_dead_runs(instance) -> list[str]:
    """Mark failed the in-flight runs of this host whose recorded process (see process_tags) is
    gone (killed, crashed, the machine restarted); their ids.

    Called before "is a run in flight?" is decided, so a killed run does not hold the sensors
    (or the run queue's limits) forever. Runs of other hosts are left alone.
    """
    host = socket.gethostname()
    failed = []
    for run in instance.get_runs(dg.RunsFilter(statuses=IN_FLIGHT, tags={HOST_TAG: host})):
        if not _process_gone(run):
            continue
        current = instance.get_run_by_id(run.run_id)
        if current is None or current.status not in IN_FLIGHT:   # it finished in the meantime
            continue
        pid = run.tags[PID_TAG]
        if "leads/command" in run.tags:
            what, redo = f"`leads {run.tags['leads/command']}`", "run the command again"
        else:
            what, redo = "its run worker", "re-execute it"
        instance.report_run_failed(current, (
            f"The process that ran this run ({what}, pid {pid} on {host}) is gone: killed or crashed "
            f"mid-run. Marked failed so it no longer counts as in flight; {redo} to redo its work."))
        failed.append(run.run_id)
    return failed


def in_flight_partitions(instance, partitions_def, asset_key: dg.AssetKey = SCORED) -> set[str]:
    """Partitions of `asset_key` that a queued or running run is about to (re)materialize."""
    fail_dead_runs(instance)
    busy: set[str] = set()
    for run in instance.get_runs(dg.RunsFilter(statuses=IN_FLIGHT)):
        if run.asset_selection is not None and asset_key not in run.asset_selection:
            continue
        if run.asset_selection is None and run.job_name != "score_job":
            continue
        tags = run.tags
        if tags.get(PARTITION_TAG):
            busy.add(tags[PARTITION_TAG])
        elif tags.get(RANGE_START) and tags.get(RANGE_END):
            try:
                busy.update(str(k) for k in partitions_def.get_partition_keys_in_range(
                    dg.PartitionKeyRange(tags[RANGE_START], tags[RANGE_END])))
            except Exception:  # a range of another partitioning (e.g. the config changed)
                continue
    return busy


def export_in_flight(instance) -> bool:
    """Is an export run queued or running?"""
    fail_dead_runs(instance)
    runs = instance.get_runs(dg.RunsFilter(statuses=IN_FLIGHT, job_name="export_job"), limit=1)
    return bool(runs)


def stale_queue_files(settings: Settings) -> list[str]:
    """needs_review / retry_queue, when their file differs from what the warehouse says."""
    import tempfile
    from dataclasses import replace

    from lead_assets.exports.files import write_queue_file
    from lead_assets.leads.taxonomy import RETRY_FILE, REVIEW_FILE
    out = []
    with tempfile.TemporaryDirectory(prefix="leads-queue-check-") as scratch:
        probe = replace(settings, exports_dir=Path(scratch))   # render into scratch, compare
        for asset, which, name in (("needs_review", "review", REVIEW_FILE), ("retry_queue", "retry", RETRY_FILE)):
            write_queue_file(probe, which)
            try:
                if (settings.exports_dir / name).read_bytes() == (Path(scratch) / name).read_bytes():
                    continue
            except FileNotFoundError:
                pass
            out.append(asset)
    return out


def export_plan(stale_keys: list[str], stale_queues: list[str]) -> list[tuple[list[str], str | None, str | None]]:
    """The export run for the stale files: [(asset selection, first key, last key)], or [].

    One run over the span of the stale buyer files (lead_exports materializes, and rewrites,
    only the partitions whose bytes change, so the files in between are left alone), with
    the stale queue files alongside.
    """
    order = export_keys()
    span = sorted(order.index(k) for k in stale_keys if k in order)
    if span:
        return [(["lead_exports", *stale_queues], order[span[0]], order[span[-1]])]
    return [(list(stale_queues), None, None)] if stale_queues else []
