"""Sales survive rescoring, retries and a full Dagster rebuild; the UI shows them."""
from __future__ import annotations

from decimal import Decimal

import dagster as dg

from lead_assets.sales.buyers import add_buyer
from lead_assets.sales.deliveries import deliver
from lead_assets.sales.leads import set_status
from lead_assets.sales.selling import sell
from lead_assets.sources.appraisal import load_property_records
from lead_assets.definitions import build_defs
from lead_assets.defs.assets.sales import lead_sales
from lead_assets.defs.resources import LeadsResource
from lead_assets.exports.files import write_buyer_files, write_queue_file
from lead_assets.sources.ingest import ingest
from lead_assets.leads.scoring import score
from lead_assets.warehouse.store import LeadStore
from lead_assets_tests.test_sales_fixtures import (  # noqa: F401 - fixtures
    all_main_ids, partitions, query, review_leads, run, sales_template, shop, snapshot, top_lead,
)
from lead_assets_tests.failures import score_failing

POOL = "ABC Pool Company"


def _statuses(settings) -> dict:
    return {(l.city, l.permit_id): (l.status, l.sold_to, l.sold_price, l.delivered_to, l.review_decision)
            for l in LeadStore(settings).filter(include_discarded=True)}


def _do_business(shop, capsys) -> dict:
    """A day's work on the command line: buyers, a delivery, a hand sale, reviews and statuses."""
    assert run(capsys, "buyers", "add", POOL, "--categories", "pool", "--price-a", "25", "--price-b", "15")[0] == 0
    assert run(capsys, "buyers", "add", "Roofs R Us", "--categories", "roof", "--price-a", "20", "--shared")[0] == 0
    assert run(capsys, "deliver", "--buyer", POOL, "--limit", "3")[0] == 0
    _, roof = top_lead(shop, "roof")
    _, dead = top_lead(shop, "roof", offset=1)
    assert run(capsys, "sell", roof, "--to", "Roofs R Us", "--price", "19.99")[0] == 0
    assert run(capsys, "status", roof, "contacted")[0] == 0
    assert run(capsys, "status", dead, "dead")[0] == 0
    (ca, approved), (cr, rejected) = review_leads(shop)[:2]
    assert run(capsys, "review", "approve", approved, "--city", ca)[0] == 0
    assert run(capsys, "review", "reject", rejected, "--city", cr)[0] == 0
    return {"roof": roof, "dead": dead, "approved": approved, "rejected": rejected}


def _do_business_in_python(shop) -> None:
    """The same through the Python API (no file refreshes)."""
    add_buyer(shop, POOL, categories=["pool"], price_a="25", price_b="15")
    add_buyer(shop, "Roofs R Us", categories=["roof"], price_a="20", exclusive=False)
    deliver(shop, POOL, limit=3, refresh=False)
    _, roof = top_lead(shop, "roof")
    sell(shop, roof, "Roofs R Us", Decimal("19.99"), refresh=False)
    set_status(shop, roof, "contacted", refresh=False)


def test_sell_rescore_check(shop, capsys):
    leads = _do_business(shop, capsys)
    before, statuses = snapshot(shop), _statuses(shop)
    assert len(before["sales"]) == 4 and len(before["deliveries"]) == 3 and len(before["lead_reviews"]) == 2

    parts = partitions(shop)
    load_property_records(shop)                                  # rebuild the inputs
    ingest(shop, parts)
    score(shop, parts)                                           # rescore every partition
    assert snapshot(shop) == before
    score_failing(shop, parts, [leads["roof"]])                # the sold lead's scoring fails ...
    assert LeadStore(shop).get(leads["roof"]).tier == "RETRY"
    assert LeadStore(shop).get(leads["roof"]).status == "contacted"
    score(shop, parts, retry_only=True)                          # ... and is retried
    write_buyer_files(shop)
    write_queue_file(shop, "review")

    assert snapshot(shop) == before                              # nothing erased or changed
    assert _statuses(shop) == statuses
    main = all_main_ids(shop)
    assert leads["roof"] not in main and leads["dead"] not in main and leads["rejected"] not in main
    assert leads["approved"] in main
    assert not {pid for _, pid, *_ in before["deliveries"]} & main
    assert LeadStore(shop).get(leads["roof"]).sold_price == Decimal("19.99")


def test_lead_sales_asset_shows_counts_and_revenue(shop):
    _do_business_in_python(shop)
    defs = build_defs(shop)
    assert defs.resolve_assets_def("lead_sales").group_names_by_key[dg.AssetKey("lead_sales")] == "sales"
    result = dg.materialize([lead_sales], resources={"leads": LeadsResource(config_path=str(shop.config_path))})
    assert result.success
    md = {k: v.value for k, v in
          result.get_asset_materialization_events()[0].step_materialization_data.materialization.metadata.items()}
    pool = query(shop, "SELECT count(*), sum(price) FROM sales WHERE buyer = ?", [POOL])[0]
    assert (md["buyers"], md["deliveries"], md["leads_delivered"]) == (2, 3, 3)
    assert (md["sales"], md["leads_sold"], md["sold_today"]) == (4, 4, 4)
    assert md["revenue_usd"] == float(pool[1] + Decimal("19.99"))
    assert md["revenue"] == f"${pool[1] + Decimal('19.99'):,.2f}"
    assert isinstance(md["revenue_tier_a_usd"], float) and md["revenue_tier_c_usd"] == 0.0
    assert "Roofs R Us" in md["per_buyer"] and "$19.99" in md["per_buyer"]
    assert md["revenue_per_buyer"]["Roofs R Us"] == "19.99"
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {"sharing_rules_hold": True}


def test_the_sales_commands_report_to_dagster(shop, capsys, tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("LEADS_DAGSTER_EVENTS", "1")
    assert run(capsys, "buyers", "add", POOL, "--categories", "pool", "--price-a", "25")[0] == 0
    code, _, err = run(capsys, "sell", top_lead(shop, "pool")[1], "--to", POOL, "--price", "25.00")
    assert code == 0 and "warning" not in err, err
    with dg.DagsterInstance.get() as instance:
        records = instance.fetch_materializations(dg.AssetKey("lead_sales"), limit=5).records
        assert len(records) == 1 and records[0].run_id == ""        # runless: no run needed
        md = records[0].asset_materialization.metadata
        assert md["sales"].value == 1 and md["revenue"].value == "$25.00"
