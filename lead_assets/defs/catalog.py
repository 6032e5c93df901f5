"""What the asset catalog says about each asset: who owns it, tags, and scored_leads' freshness.

Owners and tags are for the people who run the platform (search the catalog by `domain`, see
what holds personal data with `pii`); the freshness policy makes the UI show scored_leads as
late when yesterday's partitions were not scored by the morning deadline, i.e. when the daily
schedule did not run or failed.
"""
from __future__ import annotations

from datetime import timedelta

import dagster as dg

from lead_assets.config.settings import Settings

PIPELINE = "team:lead-pipeline"   # permits in, classification, scores
SALES = "team:lead-sales"         # buyer files, deliveries, revenue


def catalog(domain: str, *, pii: bool, cadence: str) -> dict:
    """owners= and tags= of an asset: `domain` is its concern; `pii` marks owner names and
    addresses (every asset that carries permit or appraisal rows); `cadence` says what
    brings it up to date (daily: the schedule; on_change: the exports sensor; on_demand)."""
    return {
        "owners": [SALES if domain in ("exports", "sales") else PIPELINE],
        "tags": {"domain": domain, "pii": "true" if pii else "false", "cadence": cadence},
    }


def scored_by_deadline(settings: Settings) -> tuple[int, int]:
    """(hour, minute) by which the daily run must have scored: daily_time + late_after_minutes."""
    hour, minute = settings.automation.clock("daily_time")
    total = (hour * 60 + minute + settings.automation.late_after_minutes) % (24 * 60)
    return divmod(total, 60)


def scored_leads_freshness(settings: Settings) -> dg.FreshnessPolicy:
    """Fresh when scored_leads materialized between daily_time and the deadline of the last
    morning that has passed; otherwise the daemon marks it failing (late) in the UI.

    Dagster evaluates a cron policy on the asset's latest materialization of any partition, so
    a backfill of old days inside that window also counts; the daily schedule is what runs then.
    """
    hour, minute = scored_by_deadline(settings)
    return dg.FreshnessPolicy.cron(
        deadline_cron=f"{minute} {hour} * * *",
        lower_bound_delta=timedelta(minutes=settings.automation.late_after_minutes),
        timezone=settings.timezone,
    )
