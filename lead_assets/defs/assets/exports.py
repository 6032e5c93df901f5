"""Buyer files (one partition per file), the review queue and the retry queue."""

import csv

import dagster as dg

from lead_assets.defs.catalog import catalog
from lead_assets.defs.metadata import partition_label
from lead_assets.defs.partitions import export_partitions
from lead_assets.defs.resources import LeadsResource
from lead_assets.exports.files import file_path, write_buyer_files, write_queue_file
from lead_assets.leads.taxonomy import EXPORT_COLUMNS, RETRY_FILE, REVIEW_FILE

ALL_SCORES = dg.AssetDep("scored_leads", partition_mapping=dg.AllPartitionMapping())


def _header(path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh), [])


@dg.asset(
    partitions_def=export_partitions, deps=[ALL_SCORES], group_name="exports", kinds={"csv"},
    backfill_policy=dg.BackfillPolicy.single_run(), pool="warehouse", output_required=False,
    **catalog("exports", pii=True, cadence="on_change"),
    description=("exports/{trade_group}/{category}/tier_{a,b,c}.csv: leads not yet delivered or sold, best first. "
                 "A run renders its partitions in one pass; a partition is materialized only when its "
                 "file's bytes changed, so unchanged files keep their bytes, mtime and history."),
    check_specs=[dg.AssetCheckSpec("header_is_the_17_columns", asset="lead_exports", blocking=True,
                                   description="Every file starts with the seed's 17 columns, in order.")],
)
def lead_exports(context: dg.AssetExecutionContext, leads: LeadsResource):
    settings = leads.settings()
    keys = list(context.partition_keys)
    report = write_buyer_files(settings, keys)
    for key in report.written:
        rows = report.rows[key]
        yield dg.AssetMaterialization(
            asset_key=context.asset_key, partition=key,
            metadata={"rows": rows, "tier": key.rsplit("_", 1)[-1].upper(),
                      "path": dg.MetadataValue.path(str(file_path(settings, key)))})
    unchanged = len(keys) - len(report.written)
    context.log.info(f"{len(report.written)} file(s) rewritten, {unchanged} unchanged "
                     f"({sum(report.rows.values())} rows in {partition_label(keys)})")
    bad_headers = [k for k in keys if _header(file_path(settings, k)) != list(EXPORT_COLUMNS)]
    yield dg.AssetCheckResult(check_name="header_is_the_17_columns", passed=not bad_headers,
                              metadata={"files_checked": len(keys), "bad_files": dg.MetadataValue.json(bad_headers)})


def _queue_asset(name: str, kind: str, file: str, description: str) -> dg.AssetsDefinition:
    """One of the two queue files (review, retry): rewritten whole from the warehouse."""
    @dg.asset(name=name, deps=[ALL_SCORES], group_name="exports", kinds={"csv"},
              **catalog("exports", pii=True, cadence="on_change"), description=f"exports/{file}: {description}")
    def queue(context: dg.AssetExecutionContext, leads: LeadsResource) -> dg.MaterializeResult:
        settings = leads.settings()
        rows, written = write_queue_file(settings, kind)
        return dg.MaterializeResult(metadata={"rows": rows, "rewritten": written,
                                              "path": dg.MetadataValue.path(str(settings.exports_dir / file))})
    return queue


needs_review = _queue_asset("needs_review", "review", REVIEW_FILE,
                            "leads held back from buyers until a person approves them.")
retry_queue = _queue_asset("retry_queue", "retry", RETRY_FILE,
                           "leads whose scoring failed (score -1, tier RETRY).")
