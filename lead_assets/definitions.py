"""The asset graph:

    permit_pulls (Socrata / ArcGIS; file drops skip it)
      [city x date]
         |
    raw_permits ──────┬─> scored_leads ─┬─> lead_exports   exports/<group>/<category>/tier_x.csv
    property_records ─┘    [city x date] ├─> needs_review   exports/flagged/needs_review.csv
                                         └─> retry_queue    exports/pending_retry/retry_queue.csv
"""
from __future__ import annotations

import dagster as dg

from lead_assets.defs.assets.exports import lead_exports, needs_review, retry_queue
from lead_assets.defs.assets.leads import scored_leads_asset
from lead_assets.defs.assets.permits import property_records, raw_permits_asset
from lead_assets.defs.assets.pulls import permit_pulls_asset
from lead_assets.defs.assets.sales import sales_assets
from lead_assets.defs.automation import build_automation
from lead_assets.defs.catalog import scored_leads_freshness
from lead_assets.defs.jobs import export_job, property_job, score_job
from lead_assets.defs.partitions import city_day_partitions
from lead_assets.defs.resources import build_resources
from lead_assets.config.settings import Settings


def build_defs(settings: Settings) -> dg.Definitions:
    city_days = city_day_partitions(settings)
    schedules, sensors = build_automation(settings, city_days)
    return dg.Definitions(
        assets=[property_records, permit_pulls_asset(city_days), raw_permits_asset(city_days),
                scored_leads_asset(city_days, scored_leads_freshness(settings)),
                lead_exports, needs_review, retry_queue, *sales_assets],
        jobs=[score_job, export_job, property_job],
        schedules=schedules,
        sensors=sensors,
        resources=build_resources(settings),
    )


defs = build_defs(Settings.load())
