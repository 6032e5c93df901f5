"""The sales report: leads delivered and sold, revenue per buyer, category and tier, over a span of days."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pandas as pd

from lead_assets.sales.errors import SalesError
from lead_assets.config.settings import Settings
from lead_assets.warehouse.connection import connect


@dataclass
class SalesReport:
    since: date | None
    until: date
    leads_delivered: int
    deliveries: int
    leads_sold: int
    sales: int
    revenue: Decimal
    per_buyer: pd.DataFrame         # buyer, deliveries, sales, revenue (Decimal)
    per_category: pd.DataFrame      # category, deliveries, sales, revenue
    per_tier: pd.DataFrame          # tier, deliveries, sales, revenue
    buyers: int = 0

    def as_dict(self) -> dict:
        def rows(frame):
            return [{k: (str(v) if isinstance(v, Decimal) else v) for k, v in r.items()}
                    for r in frame.to_dict("records")]
        return {"since": self.since and self.since.isoformat(), "until": self.until.isoformat(),
                "leads_delivered": self.leads_delivered, "deliveries": self.deliveries,
                "leads_sold": self.leads_sold, "sales": self.sales, "revenue": str(self.revenue),
                "buyers": self.buyers, "per_buyer": rows(self.per_buyer),
                "per_category": rows(self.per_category), "per_tier": rows(self.per_tier)}


def sales_report(con, since: date | None, until: date) -> SalesReport:
    lo = since or date(1900, 1, 1)
    base = """
        WITH d AS (
            SELECT d.buyer, coalesce(d.category, s.category, '?') AS category, coalesce(d.tier, s.tier, '?') AS tier,
                   d.city, d.permit_id
            FROM deliveries d LEFT JOIN scored_leads s USING (city, permit_id)
            WHERE d.delivered_on BETWEEN $lo AND $hi
        ), x AS (
            SELECT x.buyer, coalesce(x.category, s.category, '?') AS category, coalesce(x.tier, s.tier, '?') AS tier,
                   x.city, x.permit_id, x.price
            FROM sales x LEFT JOIN scored_leads s USING (city, permit_id)
            WHERE coalesce(x.sold_on, x.sold_at::DATE) BETWEEN $lo AND $hi
        ), ev AS (
            SELECT buyer, category, tier, 1 AS delivered, 0 AS sold, 0::DECIMAL(18, 2) AS price FROM d
            UNION ALL
            SELECT buyer, category, tier, 0, 1, price::DECIMAL(18, 2) FROM x
        )
    """
    p = {"lo": lo, "hi": until}
    totals = con.execute(base + """
        SELECT (SELECT count(*) FROM (SELECT DISTINCT city, permit_id FROM d)), (SELECT count(*) FROM d),
               (SELECT count(*) FROM (SELECT DISTINCT city, permit_id FROM x)), (SELECT count(*) FROM x),
               (SELECT coalesce(sum(price), 0)::DECIMAL(18, 2) FROM x),
               (SELECT count(*) FROM (SELECT DISTINCT buyer FROM ev))""", p).fetchone()

    def per(col: str) -> pd.DataFrame:
        cur = con.execute(base + f"""
            SELECT {col}, sum(delivered)::BIGINT AS deliveries, sum(sold)::BIGINT AS sales,
                   sum(price)::DECIMAL(18, 2) AS revenue
            FROM ev GROUP BY 1 ORDER BY revenue DESC, deliveries DESC, 1""", p)
        return pd.DataFrame.from_records(cur.fetchall(), columns=[c[0] for c in cur.description])

    return SalesReport(since=since, until=until, leads_delivered=totals[0], deliveries=totals[1],
                       leads_sold=totals[2], sales=totals[3], revenue=totals[4], buyers=totals[5],
                       per_buyer=per("buyer"), per_category=per("category"), per_tier=per("tier"))


def report(settings: Settings, *, since: date | None = None, until: date | None = None) -> SalesReport:
    until = until or settings.today()
    if since and since > until:
        raise SalesError(f"--since {since} is after --until {until}")
    with connect(settings.warehouse_path) as con:
        return sales_report(con, since, until)
