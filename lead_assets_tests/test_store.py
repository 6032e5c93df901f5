"""LeadStore: the seed's ORM-style queries, typed records, and the computed status."""
from __future__ import annotations

import io
import json
from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import pytest

from lead_assets.sales.archive import archive
from lead_assets.sales.buyers import add_buyer
from lead_assets.sales.errors import SalesError
from lead_assets.sales.leads import set_status
from lead_assets.sales.selling import sell
from lead_assets.config.errors import ConfigError
from lead_assets.warehouse.store import Lead, LeadStore
from lead_assets_tests.test_sales_fixtures import (  # noqa: F401 - fixtures
    query, run, sales_template, shop, top_lead,
)


def test_filter_like_the_seeds_orm(shop):
    expected = query(shop, """SELECT count(*) FROM scored_leads
                              WHERE category = 'pool' AND tier = 'A' AND NOT discarded""")[0][0]
    assert expected > 0
    for source in (shop, shop.warehouse_path, str(shop.warehouse_path), shop.config_path):
        hot_pool = LeadStore(source).filter(category="pool", tier="A", status="new")
        assert len(hot_pool) == expected
    lead = hot_pool[0]
    assert isinstance(lead, Lead) and (lead.category, lead.tier, lead.status) == ("pool", "A", "new")
    assert isinstance(lead.scored_at, datetime) and isinstance(lead.issued_date, date)
    assert all(l.market_value is None or isinstance(l.market_value, Decimal) for l in hot_pool)
    assert [l.score for l in hot_pool] == sorted((l.score for l in hot_pool), reverse=True)
    assert lead.sold_to is None and lead.sold_price is None

    frame = LeadStore(shop).filter(category="pool", tier="A", status="new", as_frame=True)
    assert isinstance(frame, pd.DataFrame) and len(frame) == expected
    assert {type(v) for v in frame["market_value"].dropna()} == {Decimal}       # money never float
    assert set(frame["city"]) <= set(shop.cities)

    plano = LeadStore(shop).filter(category="pool", city="Plano")
    assert plano and {l.city for l in plano} == {"plano"}
    assert len(LeadStore(shop).filter(trade_group="luxury_outdoor", limit=3)) == 3

    for kwargs, message in (({"category": "jacuzzi"}, "unknown category"), ({"status": "lost"}, "unknown status"),
                            ({"trade_group": "space"}, "unknown trade group"), ({"city": "dallas"}, "unknown city")):
        with pytest.raises(ConfigError, match=message):
            LeadStore(shop).filter(**kwargs)
    with pytest.raises(ConfigError, match="no warehouse"):
        LeadStore(shop.warehouse_path.parent / "missing.duckdb")


def test_status_comes_from_deliveries_sales_and_hand_set_statuses(shop):
    add_buyer(shop, "Pools One", categories=["pool"], price_a="25", exclusive=False, max_buyers=2)
    add_buyer(shop, "Pools Two", categories=["pool"], price_a="30", exclusive=False)
    add_buyer(shop, "Free Pools", categories=["pool"], price_a="0", exclusive=False)
    store = LeadStore(shop)
    city, permit = top_lead(shop, "pool")
    assert store.get(permit).status == "new"

    archive(shop, ["luxury_outdoor/pool/tier_a.csv"], buyer="Free Pools", refresh=False)
    lead = store.get(permit, city)
    assert (lead.status, lead.delivered_to, lead.sold_to) == ("delivered", "Free Pools", None)
    sell(shop, permit, "Pools One", refresh=False)
    lead = store.get(permit)
    assert (lead.status, lead.sold_to, lead.sold_price) == ("sold", "Pools One", Decimal("25.00"))
    set_status(shop, permit, "contacted", refresh=False)
    assert store.get(permit).status == "contacted"
    with pytest.raises(SalesError, match="limit is 2"):              # Pools One allows 2 buyers per lead
        sell(shop, permit, "Pools Two", "30.00", refresh=False)
    set_status(shop, permit, "new", refresh=False)                   # clears the hand-set status
    assert store.get(permit).status == "sold"
    set_status(shop, permit, "dead", refresh=False)
    assert store.get(permit).status == "dead"
    counts = store.counts()
    assert counts["dead"] == 1 and counts["delivered"] == len(store.filter(status="delivered")) > 0
    assert store.filter(buyer="Pools One")[0].permit_id == permit


def test_list_command(shop, capsys):
    add_buyer(shop, "ABC Pool Company", categories=["pool"], price_a="25")
    city, permit = top_lead(shop, "pool")
    name = shop.city(city).name
    sell(shop, permit, "ABC Pool Company", "25.00")
    code, out, _ = run(capsys, "list", "--category", "pool", "--tier", "A", "--status", "sold", "--city", name)
    assert code == 0 and permit in out and "1 lead(s)" in out
    code, out, _ = run(capsys, "list", "--category", "pool", "--tier", "a", "--status", "sold", "--format", "json")
    rows = json.loads(out)
    assert [(r["permit_id"], r["sold_to"], r["sold_price"]) for r in rows] == [(permit, "ABC Pool Company", "25.00")]
    code, out, _ = run(capsys, "list", "--category", "pool", "--status", "new", "--format", "csv", "--limit", "5")
    frame = pd.read_csv(io.StringIO(out))
    assert len(frame) == 5 and set(frame["status"]) == {"new"} and permit not in set(frame["permit_id"])
    code, _, err = run(capsys, "list", "--status", "lost")
    assert code == 2 and "unknown status" in err
