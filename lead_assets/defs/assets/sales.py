"""Sales-side assets (see issue: lead sales lifecycle).

`lead_sales` reads the sales tables (deliveries, sales, buyers; never rewritten by scoring) and
shows counts and revenue as metadata: numbers the UI plots over time (deliveries, sales,
revenue_usd, per-tier revenue, today's figures) and tables per buyer, category and tier. Its
check verifies the sharing rules (an exclusive lead has one buyer, a shared lead at most its
limit). Materialize it from the UI; the `leads` sales commands also report the same figures
as a runless materialization after every change (see lead_assets/cli/sales.py).
"""

import dagster as dg
import pandas as pd

from lead_assets.defs.catalog import catalog
from lead_assets.defs.resources import LeadsResource
from lead_assets.sales.money import money
from lead_assets.sales.report import sales_report
from lead_assets.sales.sharing import sharing_violations
from lead_assets.config.settings import Settings
from lead_assets.warehouse.connection import connect


def _table(frame: pd.DataFrame) -> dg.MarkdownMetadataValue:
    if frame.empty:
        return dg.MetadataValue.md("_none yet_")
    show = frame.copy()
    show["revenue"] = show["revenue"].map(money)
    return dg.MetadataValue.md(show.to_markdown(index=False))


def sales_metadata(settings: Settings) -> tuple[dict, list[tuple]]:
    """The asset's metadata and the leads that break the sharing rules (should be none)."""
    today = settings.today()
    with connect(settings.warehouse_path) as con:
        total = sales_report(con, None, today)
        day = sales_report(con, today, today)
        violations = sharing_violations(con)
        buyers = con.execute("SELECT count(*) FROM buyers").fetchone()[0]
    tier_revenue = dict(zip(total.per_tier["tier"], total.per_tier["revenue"])) if len(total.per_tier) else {}
    metadata = {
        "buyers": dg.MetadataValue.int(int(buyers)),
        "leads_delivered": dg.MetadataValue.int(int(total.leads_delivered)),
        "deliveries": dg.MetadataValue.int(int(total.deliveries)),
        "leads_sold": dg.MetadataValue.int(int(total.leads_sold)),
        "sales": dg.MetadataValue.int(int(total.sales)),
        # Money is Decimal everywhere else; a float here only so the UI can plot it.
        "revenue_usd": dg.MetadataValue.float(float(total.revenue)),
        "revenue": dg.MetadataValue.text(money(total.revenue)),
        **{f"revenue_tier_{t.lower()}_usd": dg.MetadataValue.float(float(tier_revenue.get(t, 0)))
           for t in ("A", "B", "C")},
        "delivered_today": dg.MetadataValue.int(int(day.deliveries)),
        "sold_today": dg.MetadataValue.int(int(day.sales)),
        "revenue_today_usd": dg.MetadataValue.float(float(day.revenue)),
        "per_buyer": _table(total.per_buyer),
        "per_category": _table(total.per_category),
        "per_tier": _table(total.per_tier),
        "revenue_per_buyer": dg.MetadataValue.json(
            {r["buyer"]: str(r["revenue"]) for r in total.per_buyer.to_dict("records")}),
        "as_of": dg.MetadataValue.text(today.isoformat()),
    }
    return metadata, violations


def _check(violations: list[tuple]) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name="sharing_rules_hold", passed=not violations,
        metadata={"leads_over_limit": len(violations),
                  "examples": dg.MetadataValue.json([f"{p} ({c}): {n} buyers, limit {cap}"
                                                     for c, p, n, cap in violations[:10]])})


@dg.asset(
    group_name="sales", kinds={"duckdb"}, **catalog("sales", pii=False, cadence="on_demand"),
    description="Leads delivered and sold, revenue per buyer, category and tier (tables deliveries, sales, "
                "buyers; kept apart from scoring, so rescoring never changes them).",
    check_specs=[dg.AssetCheckSpec("sharing_rules_hold", asset="lead_sales",
                                   description="An exclusive lead went to one buyer; a shared lead to at most "
                                               "its buyers' max_buyers.")],
)
def lead_sales(context: dg.AssetExecutionContext, leads: LeadsResource) -> dg.MaterializeResult:
    metadata, violations = sales_metadata(leads.settings())
    return dg.MaterializeResult(metadata=metadata, check_results=[_check(violations)])


def report_sales_event(instance: dg.DagsterInstance, settings: Settings) -> None:
    """Record the current figures as a `lead_sales` materialization without a run (CLI changes)."""
    metadata, _ = sales_metadata(settings)
    instance.report_runless_asset_event(dg.AssetMaterialization(
        asset_key="lead_sales", metadata=metadata, description="reported by the leads command"))


sales_assets: list = [lead_sales]
