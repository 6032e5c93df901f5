"""scored_leads: classify, score (rules or reasoner) and tier every permit of a partition."""

import contextlib
import enum
import os

import dagster as dg
from pydantic import Field

from lead_assets.defs.catalog import catalog
from lead_assets.defs.metadata import partition_label, preview
from lead_assets.defs.partitions import partition_key, to_city_days
from lead_assets.defs.reasoner_pool import reasoner_slot
from lead_assets.defs.resources import LeadsResource
from lead_assets.reasoner.resource import ReasonerResource
from lead_assets.leads.drift import drift_sql, drift_warnings
from lead_assets.leads.scoring import score
from lead_assets.warehouse.connection import connect, register_partitions


class Scorer(enum.Enum):
    rules = "rules"
    reasoner = "reasoner"


SCORERS = tuple(s.value for s in Scorer)
RETRY_FAILURE = "retry_partitions"  # metadata key of the Failure raised for RETRY partitions


class ScoringConfig(dg.Config):
    """Run config (launchpad or CLI). The reasoner's model, endpoint and limits are the
    `reasoner` resource's config (LEADS_* / OPENAI_* environment variables by default)."""
    scorer: Scorer = Field(
        default=Scorer(os.environ.get("LEADS_SCORER", "rules")) if os.environ.get("LEADS_SCORER") in SCORERS
        else Scorer.rules,
        description="rules: the SQL rules (free, instant). reasoner: the OpenAI model (one run at a time).")
    limit: int | None = Field(
        default=None, ge=0, description="Score at most N permits; the partitions' other rows keep their scores.")
    retry_only: bool | None = Field(
        default=None,
        description="true: rescore only RETRY rows. false: rescore the partitions whole. Empty (default): "
                    "a partition holding RETRY rows whose permits are unchanged rescores only its RETRY rows "
                    "(so a backfill of the failed partitions retries just those); any other is rescored whole.")


PARTITION_COUNTS_SQL = """
    SELECT p.city, p.permit_day, count(s.permit_id) AS rows,
        count(*) FILTER (WHERE s.tier = 'A') AS tier_a, count(*) FILTER (WHERE s.tier = 'B') AS tier_b,
        count(*) FILTER (WHERE s.tier = 'C') AS tier_c, count(*) FILTER (WHERE s.tier = 'RETRY') AS retry,
        count(*) FILTER (WHERE s.discarded) AS discarded, count(*) FILTER (WHERE s.needs_review) AS needs_review
    FROM parts p LEFT JOIN scored_leads s USING (city, permit_day)
    GROUP BY ALL ORDER BY p.permit_day, p.city
"""

CHECK_SQL = {
    # Every raw permit of the partitions is accounted for exactly once (and under one day only;
    # every scored row has its raw permit): it belongs to one
    # project (permit_projects), and that project has exactly one scored row (under its lead).
    "every_permit_scored_once": """
        WITH r AS (SELECT r.city, r.permit_num FROM raw_permits r JOIN parts USING (city, permit_day)),
        mem AS (SELECT m.city, m.permit_num, any_value(m.project_id) AS project_id, count(*) AS n
                FROM permit_projects m JOIN r USING (city, permit_num) GROUP BY ALL),
        rows_per_project AS (
            SELECT sib.city, sib.project_id, count(s.permit_id) AS n
            FROM permit_projects sib
            LEFT JOIN scored_leads s ON s.city = sib.city AND s.permit_id = sib.permit_num
            WHERE (sib.city, sib.project_id) IN (SELECT city, project_id FROM mem) GROUP BY ALL)
        SELECT (SELECT count(*) FROM r LEFT JOIN mem USING (city, permit_num)
        LEFT JOIN rows_per_project p ON p.city = mem.city AND p.project_id = mem.project_id
        WHERE coalesce(mem.n, 0) <> 1 OR coalesce(p.n, 0) <> 1)
        -- the same permit also under another day (a feed moved its issued date)
        + (SELECT count(*) FROM raw_permits r JOIN parts USING (city, permit_day)
           WHERE EXISTS (SELECT 1 FROM raw_permits o WHERE o.city = r.city AND o.permit_num = r.permit_num
                         AND o.permit_day <> r.permit_day))
        + (SELECT count(*) FROM scored_leads s JOIN parts USING (city, permit_day)
           WHERE NOT EXISTS (SELECT 1 FROM raw_permits r WHERE r.city = s.city AND r.permit_num = s.permit_id))""",
    # The tier is the one the score gives.
    "tier_matches_score": """
        SELECT count(*) FROM scored_leads s JOIN parts USING (city, permit_day)
        WHERE tier <> CASE WHEN score = -1 THEN 'RETRY' WHEN score >= 80 THEN 'A'
                           WHEN score >= 50 THEN 'B' WHEN score >= 0 THEN 'C' END
           OR score NOT BETWEEN -1 AND 100""",
}


COUNT_KEYS = ("rows", "tier_a", "tier_b", "tier_c", "retry", "discarded", "needs_review")


def partition_metadata(settings, per_city: dict[str, dict]) -> dict:
    """A partition's counts: its city's (city_day), or the group's sums plus every city's own
    counts (group_day), so a group partition still tells which cities hold RETRY rows."""
    if settings.partition_scheme.kind == "city_day":
        return dict(next(iter(per_city.values())))
    metadata = {k: sum(c[k] for c in per_city.values()) for k in COUNT_KEYS}
    metadata["cities"] = len(per_city)
    metadata["cities_with_retry"] = sum(1 for c in per_city.values() if c["retry"])
    metadata["by_city"] = dg.MetadataValue.json(per_city)
    return metadata


def scored_leads_asset(partitions_def: dg.MultiPartitionsDefinition,
                       freshness_policy: dg.FreshnessPolicy | None = None) -> dg.AssetsDefinition:
    @dg.asset(
        name="scored_leads", group_name="leads", kinds={"duckdb"}, partitions_def=partitions_def,
        deps=["raw_permits", dg.AssetDep("property_records", partition_mapping=dg.AllPartitionMapping())],
        backfill_policy=dg.BackfillPolicy.single_run(), pool="warehouse", output_required=False,
        **catalog("leads", pii=True, cadence="daily"), freshness_policy=freshness_policy,
        description="One row per construction project (under its lead permit): classified, scored 0-100 (or RETRY) and tiered; non-leads kept as discarded.",
        check_specs=[
            dg.AssetCheckSpec("every_permit_scored_once", asset="scored_leads", blocking=True,
                              description="Each raw permit of the partition is in one project, and that project has exactly one scored row."),
            dg.AssetCheckSpec("tier_matches_score", asset="scored_leads", blocking=True,
                              description="A 80-100, B 50-79, C 0-49, RETRY -1; nothing else."),
            dg.AssetCheckSpec("vocabulary_stable", asset="scored_leads", blocking=False,
                              description="Warns when a partition's share of `other`, or of permit types never "
                                          "seen before, jumps against the city's recent days (a feed changed)."),
        ],
    )
    def scored_leads(context: dg.AssetExecutionContext, config: ScoringConfig, leads: LeadsResource,
                     reasoner: ReasonerResource):
        settings = leads.settings()
        parts = to_city_days(settings, context.partition_keys)
        scorer = None
        if config.scorer == Scorer.reasoner:
            # Fails here, before any work, without a key; a 401/403/404 from the model server
            # stops the run with ReasonerFatalError (naming base URL and model, never the key).
            scorer = reasoner.build_scorer(settings, log=context.log)
        # Model calls wait for the "reasoner" pool's slot, however the run was launched (reasoner_pool.py).
        with reasoner_slot(context.instance, context.run.run_id, "scored_leads", log=context.log) if scorer \
                else contextlib.nullcontext():
            report = score(settings, parts, scorer=scorer, limit=config.limit, retry_only=config.retry_only)
        with connect(settings.warehouse_path) as con:
            register_partitions(con, parts)
            failures = {name: con.execute(sql).fetchone()[0] for name, sql in CHECK_SQL.items()}
            counts = con.execute(PARTITION_COUNTS_SQL).df()
            drift = {(r["city"], r["permit_day"]): r for r in con.execute(drift_sql()).df().to_dict("records")}
            sample = con.execute("""SELECT city, permit_day, permit_id, category, score, tier,
                                           reasoning
                                    FROM scored_leads JOIN parts USING (city, permit_day)
                                    ORDER BY score DESC LIMIT 5""").df()
        # One event per partition with that partition's own counts, so the UI plots per
        # partition even when a backfill runs a whole range in one run. The run's figures
        # (calls, tokens, cost, rows rescored by tier) go on its chronologically first partition only,
        # so they add up.
        run_figures = {k: v for k, v in report.extra.items() if isinstance(v, (int, float, str))}
        by_key: dict[dg.MultiPartitionKey, dict[str, dict]] = {}   # partition -> city -> its counts
        for row in counts.to_dict("records"):
            city_counts = {k: int(row[k]) for k in COUNT_KEYS}
            vocab = drift.get((row["city"], row["permit_day"]))
            if vocab is not None:
                city_counts["other_share"] = round(float(vocab["other_share"]), 3)
                city_counts["new_type_share"] = round(float(vocab["new_type_share"]), 3)
            key = partition_key(settings, row["city"], row["permit_day"].date())
            by_key.setdefault(key, {})[row["city"]] = city_counts
        retry_parts = {}
        for i, (key, per_city) in enumerate(by_key.items()):
            metadata = partition_metadata(settings, per_city)
            metadata["scorer"] = config.scorer.value
            if i == 0:
                metadata.update(run_figures)
                metadata["run_partitions"] = partition_label(context.partition_keys)
                metadata["run_rows_scored"] = report.scored
                metadata.update({f"run_tier_{t.lower()}": int(report.per_tier.get(t, 0))
                                 for t in ("A", "B", "C", "RETRY")})
                metadata["preview"] = preview(sample)
            if metadata["retry"]:
                # Not materialized: the run fails below, so Dagster shows this partition as failed
                # (its latest planned materialization is in a failed run) and a backfill of the
                # failed partitions picks it. Its rows are stored all the same; the observation
                # keeps its counts in the UI and tells the exports sensor that scores changed.
                retry_parts[str(key)] = metadata["retry"]
                yield dg.AssetObservation(asset_key=context.asset_key, metadata=metadata, partition=key)
            else:
                yield dg.AssetMaterialization(asset_key=context.asset_key, metadata=metadata, partition=key)
        warnings = drift_warnings(list(drift.values()))
        yield dg.AssetCheckResult(
            check_name="vocabulary_stable", passed=not warnings, severity=dg.AssetCheckSeverity.WARN,
            metadata={"partitions_jumped": len(warnings), "details": "\n".join(warnings[:20]) or "none"})
        partial = config.limit is not None or config.retry_only is True
        for name, n in failures.items():
            yield dg.AssetCheckResult(
                check_name=name, passed=n == 0, metadata={"bad_rows": n},
                # With --limit / retry-only the rest of a partition is left as it was: warn, don't block.
                severity=dg.AssetCheckSeverity.WARN if partial and name == "every_permit_scored_once"
                else dg.AssetCheckSeverity.ERROR)
        if retry_parts:
            raise dg.Failure(
                description=f"{sum(retry_parts.values())} RETRY row(s) in {len(retry_parts)} partition(s) "
                            f"({partition_label(list(retry_parts))}); the rows that scored are stored. "
                            "Backfill the failed partitions to rescore only the RETRY rows.",
                metadata={RETRY_FAILURE: dg.MetadataValue.json(retry_parts)}, allow_retries=False)

    return scored_leads
