"""scored_leads: classify, score (rules or reasoner) and tier every permit of a partition."""

import os

import dagster as dg

from lead_assets.defs.metadata import partition_label, preview
from lead_assets.defs.partitions import partition_key, to_city_days
from lead_assets.defs.resources import LeadsResource
from lead_assets.reasoner.resource import ReasonerResource
from lead_assets.drift import drift_sql, drift_warnings
from lead_assets.scoring import score
from lead_assets.settings import ConfigError
from lead_assets.warehouse import connect, register_partitions


SCORERS = ("rules", "reasoner")


class ScoringConfig(dg.Config):
    """Run config (launchpad or CLI). The reasoner's model, endpoint and limits are the
    `reasoner` resource's config (LEADS_* / OPENAI_* environment variables by default)."""
    scorer: str = os.environ.get("LEADS_SCORER", "rules")  # rules | reasoner
    limit: int | None = None          # score at most N permits (the rest keep their scores)
    retry_only: bool = False          # rescore only RETRY rows
    simulate_failures: list[str] = [] # test hook: these permit ids come out as RETRY rows


PARTITION_COUNTS_SQL = """
    SELECT p.city, p.permit_day, count(s.permit_id) AS rows,
        count(*) FILTER (WHERE s.tier = 'A') AS tier_a, count(*) FILTER (WHERE s.tier = 'B') AS tier_b,
        count(*) FILTER (WHERE s.tier = 'C') AS tier_c, count(*) FILTER (WHERE s.tier = 'RETRY') AS retry,
        count(*) FILTER (WHERE s.discarded) AS discarded, count(*) FILTER (WHERE s.needs_review) AS needs_review
    FROM parts p LEFT JOIN scored_leads s USING (city, permit_day)
    GROUP BY ALL ORDER BY p.city, p.permit_day
"""

CHECK_SQL = {
    # Every raw permit of the partitions is accounted for exactly once: it belongs to one
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
        SELECT count(*) FROM r LEFT JOIN mem USING (city, permit_num)
        LEFT JOIN rows_per_project p ON p.city = mem.city AND p.project_id = mem.project_id
        WHERE coalesce(mem.n, 0) <> 1 OR coalesce(p.n, 0) <> 1""",
    # The tier is the one the score gives.
    "tier_matches_score": """
        SELECT count(*) FROM scored_leads s JOIN parts USING (city, permit_day)
        WHERE tier <> CASE WHEN score = -1 THEN 'RETRY' WHEN score >= 80 THEN 'A'
                           WHEN score >= 50 THEN 'B' WHEN score >= 0 THEN 'C' END
           OR score NOT BETWEEN -1 AND 100""",
}


def scored_leads_asset(partitions_def: dg.MultiPartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        name="scored_leads", group_name="leads", kinds={"duckdb"}, partitions_def=partitions_def,
        deps=["raw_permits", dg.AssetDep("property_records", partition_mapping=dg.AllPartitionMapping())],
        backfill_policy=dg.BackfillPolicy.single_run(), pool="warehouse", output_required=False,
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
        parts = to_city_days(context.partition_keys)
        if config.scorer not in SCORERS:
            raise ConfigError(f"scorer must be one of {', '.join(SCORERS)}, not {config.scorer!r}")
        scorer = None
        if config.scorer == "reasoner":
            # Fails here, before any work, without a key; a 401/403/404 from the model server
            # stops the run with ReasonerFatalError (naming base URL and model, never the key).
            scorer = reasoner.build_scorer(settings, log=context.log)
        report = score(settings, parts, scorer=scorer, limit=config.limit, retry_only=config.retry_only,
                       fail_permits=config.simulate_failures)
        with connect(settings.warehouse_path) as con:
            register_partitions(con, parts)
            failures = {name: con.execute(sql).fetchone()[0] for name, sql in CHECK_SQL.items()}
            counts = con.execute(PARTITION_COUNTS_SQL).df()
            drift = {(r["city"], r["permit_day"]): r for r in con.execute(drift_sql()).df().to_dict("records")}
            sample = con.execute("""SELECT city, permit_day, permit_id, category, score, tier,
                                           left(reasoning, 80) AS reasoning
                                    FROM scored_leads JOIN parts USING (city, permit_day)
                                    ORDER BY score DESC LIMIT 5""").df()
        # One materialization per partition with that partition's own counts, so the UI plots
        # per partition even when a backfill runs a whole range in one run. The run's scorer
        # figures (calls, tokens, cost) go on its first partition only, so they add up.
        run_figures = {k: v for k, v in report.extra.items() if isinstance(v, (int, float, str))}
        for i, row in enumerate(counts.to_dict("records")):
            metadata = {k: int(row[k]) for k in ("rows", "tier_a", "tier_b", "tier_c", "retry",
                                                 "discarded", "needs_review")}
            metadata["scorer"] = config.scorer
            vocab = drift.get((row["city"], row["permit_day"]))
            if vocab is not None:
                metadata["other_share"] = round(float(vocab["other_share"]), 3)
                metadata["new_type_share"] = round(float(vocab["new_type_share"]), 3)
            if i == 0:
                metadata.update(run_figures)
                metadata["run_partitions"] = partition_label(context.partition_keys)
                metadata["run_rows_scored"] = report.scored
                metadata.update({f"run_tier_{t.lower()}": int(report.per_tier.get(t, 0))
                                 for t in ("A", "B", "C", "RETRY")})
                metadata["preview"] = preview(sample)
            yield dg.AssetMaterialization(asset_key=context.asset_key, metadata=metadata,
                                          partition=partition_key(row["city"], row["permit_day"].date()))
        warnings = drift_warnings(list(drift.values()))
        yield dg.AssetCheckResult(
            check_name="vocabulary_stable", passed=not warnings, severity=dg.AssetCheckSeverity.WARN,
            metadata={"partitions_jumped": len(warnings), "details": "\n".join(warnings[:20]) or "none"})
        partial = config.limit is not None or config.retry_only
        for name, n in failures.items():
            yield dg.AssetCheckResult(
                check_name=name, passed=n == 0, metadata={"bad_rows": n},
                # With --limit / retry-only the rest of a partition is left as it was: warn, don't block.
                severity=dg.AssetCheckSeverity.WARN if partial and name == "every_permit_scored_once"
                else dg.AssetCheckSeverity.ERROR)

    return scored_leads
