"""property_records and raw_permits: the warehouse's inputs."""

import dagster as dg

from lead_assets.sources.appraisal import load_property_records
from lead_assets.defs.catalog import catalog
from lead_assets.defs.metadata import partition_label, preview
from lead_assets.defs.partitions import to_city_days
from lead_assets.defs.resources import LeadsResource
from lead_assets.sources.ingest import ingest
from lead_assets.warehouse.connection import connect, register_partitions


@dg.asset(group_name="sources", kinds={"duckdb"}, pool="warehouse",
          **catalog("sources", pii=True, cadence="on_demand"),
          description="Appraisal-district records: owner, mailing address, market value, homestead.")
def property_records(context: dg.AssetExecutionContext, leads: LeadsResource) -> dg.MaterializeResult:
    settings = leads.settings()
    report = load_property_records(settings)
    with connect(settings.warehouse_path) as con:
        sample = con.execute("SELECT prop_id, situs_address, situs_city, owner_name, market_value, homestead "
                             "FROM property_records LIMIT 5").df()
    return dg.MaterializeResult(metadata={
        "records": report.records, "files": report.files, "owners_missing": report.owners_missing,
        "absentee_owners": report.absentee, "preview": preview(sample),
    })


def raw_permits_asset(partitions_def: dg.MultiPartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        name="raw_permits", group_name="sources", kinds={"duckdb"}, partitions_def=partitions_def,
        **catalog("sources", pii=True, cadence="daily"),
        deps=["permit_pulls"],  # a portal city's pages are in the landing folder once pulled
        backfill_policy=dg.BackfillPolicy.single_run(), pool="warehouse",
        description="Permits from each city's file drop, mapped to the canonical record; bad rows quarantined.",
        check_specs=[dg.AssetCheckSpec("source_files_readable", asset="raw_permits",
                                       description="Every landing file has the required columns and parses.")],
    )
    def raw_permits(context: dg.AssetExecutionContext, leads: LeadsResource):
        settings = leads.settings()
        parts = to_city_days(settings, context.partition_keys)
        report = ingest(settings, parts)
        for error in report.file_errors:
            context.log.error(error)
        with connect(settings.warehouse_path) as con:
            register_partitions(con, parts)
            sample = con.execute("""SELECT city, permit_day, permit_num, permit_type, description,
                                           original_address, est_project_cost FROM raw_permits
                                    WHERE (city, permit_day) IN (SELECT * FROM parts) LIMIT 5""").df()
            quarantine = con.execute("""SELECT city, permit_day, source_file, source_line, reason
                                        FROM quarantine WHERE city IN (SELECT city FROM parts)
                                        AND (permit_day IS NULL OR (city, permit_day) IN (SELECT * FROM parts))
                                        LIMIT 5""").df()
        yield dg.MaterializeResult(metadata={
            "partitions": partition_label(context.partition_keys),
            "rows": report.rows_loaded,
            "source_rows": report.source_rows,
            "quarantined": report.rows_quarantined,
            "quarantined_by_reason": dg.MetadataValue.json(report.reasons),
            "files": report.files,
            "files_recoded_from_cp1252": len(report.recoded_files),
            "empty_files": len(report.empty_files),
            "preview": preview(sample),
            "quarantine_preview": preview(quarantine),
        }, check_results=[dg.AssetCheckResult(
            check_name="source_files_readable", passed=not report.file_errors,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"file_errors": dg.MetadataValue.json(report.file_errors)},
        )])

    return raw_permits
