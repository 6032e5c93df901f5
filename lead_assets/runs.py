"""Launch Dagster runs in this process (for the `leads` command and `make demo`).

Runs go to the project's Dagster instance, so the UI shows them like any other run. A
city x day selection becomes as few single-run backfills as the partition order allows
(one per contiguous block of cities), never one run per partition.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from lead_assets.exports import stale_buyer_files
from lead_assets.settings import PROJECT_ROOT, Settings
from lead_assets.taxonomy import export_keys

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def project_instance() -> dg.DagsterInstance:
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / "dagster_home"))
    Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    return dg.DagsterInstance.get()


def contiguous_blocks(selected: list[str], order: list[str]) -> list[list[str]]:
    """Split `selected` into runs of neighbours in `order` (a partition range must be contiguous)."""
    index = sorted(order.index(s) for s in set(selected))
    blocks: list[list[str]] = []
    for i in index:
        if blocks and order.index(blocks[-1][-1]) == i - 1:
            blocks[-1].append(order[i])
        else:
            blocks.append([order[i]])
    return blocks


def days_between(since: date, until: date) -> list[date]:
    return [since + timedelta(days=i) for i in range((until - since).days + 1)]


@dataclass
class RunSummary:
    runs: list[str] = field(default_factory=list)
    metadata: dict[str, list[dict]] = field(default_factory=dict)   # asset -> metadata of each run
    checks_failed: list[str] = field(default_factory=list)

    def add(self, result: dg.ExecuteInProcessResult) -> None:
        self.runs.append(result.run_id)
        for event in result.get_asset_materialization_events():
            mat = event.step_materialization_data.materialization
            md = {k: v.value for k, v in mat.metadata.items()}
            if md not in self.metadata.setdefault(mat.asset_key.to_user_string(), []):
                self.metadata[mat.asset_key.to_user_string()].append(md)
        for event in result.get_asset_check_evaluations():
            if not event.passed:
                self.checks_failed.append(f"{event.asset_key.to_user_string()}:{event.check_name}")

    def total(self, asset: str, key: str) -> int:
        return sum(int(m.get(key, 0) or 0) for m in self.metadata.get(asset, []))


def _execute(defs: dg.Definitions, job: str, instance, *, tags=None, run_config=None,
             selection=None) -> dg.ExecuteInProcessResult:
    kwargs = {"asset_selection": [dg.AssetKey(a) for a in selection]} if selection else {}
    # The command prints its own short summary; the full log is in the UI.
    config = {**(run_config or {}), "loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    return defs.resolve_job_def(job).execute_in_process(
        instance=instance, tags=tags or {}, run_config=config, raise_on_error=True, **kwargs)


def score_partitions(defs: dg.Definitions, settings: Settings, instance, cities: list[str], since: date,
                     until: date, *, scoring: dict | None = None, progress=None) -> RunSummary:
    """raw_permits + scored_leads for cities x [since, until], one run per contiguous city block."""
    summary = RunSummary()
    run_config = {"ops": {"scored_leads": {"config": scoring}}} if scoring else None
    for block in contiguous_blocks(cities, list(settings.cities)):
        tags = {RANGE_START: f"{block[0]}|{since}", RANGE_END: f"{block[-1]}|{until}",
                "leads/command": "score"}
        summary.add(_execute(defs, "score_job", instance, tags=tags, run_config=run_config))
        if progress:
            progress(len(block))
    return summary


def refresh_exports(defs: dg.Definitions, settings: Settings, instance, keys: list[str] | None = None,
                    summary: RunSummary | None = None) -> RunSummary:
    """Materialize the export partitions whose files are out of date (or `keys`), plus both queues."""
    summary = summary or RunSummary()
    keys = stale_buyer_files(settings) if keys is None else keys
    queues = ["needs_review", "retry_queue"]
    blocks = contiguous_blocks(keys, export_keys()) if keys else []
    if not blocks:
        summary.add(_execute(defs, "export_job", instance, selection=queues))
    for i, block in enumerate(blocks):
        tags = {RANGE_START: block[0], RANGE_END: block[-1], "leads/command": "export"}
        summary.add(_execute(defs, "export_job", instance, tags=tags,
                             selection=["lead_exports", *(queues if i == 0 else [])]))
    summary.metadata.setdefault("exports_refreshed", []).append({"keys": len(keys)})
    return summary


def load_properties(defs: dg.Definitions, instance, summary: RunSummary) -> None:
    summary.add(_execute(defs, "property_job", instance))
