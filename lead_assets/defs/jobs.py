"""Jobs: score city x day partitions; bring the export files up to date."""

import dagster as dg

score_job = dg.define_asset_job(
    "score_job", selection=dg.AssetSelection.assets("permit_pulls", "raw_permits", "scored_leads"),
    description="Pull (portal cities), load and score city x day partitions (one run handles a whole range).",
)
export_job = dg.define_asset_job(
    "export_job", selection=dg.AssetSelection.assets("lead_exports", "needs_review", "retry_queue"),
    description="Write the buyer files (selected partitions), the review queue and the retry queue.",
)
property_job = dg.define_asset_job(
    "property_job", selection=dg.AssetSelection.assets("property_records"),
    description="Reload the appraisal-district records.",
)
