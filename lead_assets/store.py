"""Query leads like the seed's ORM: LeadStore(settings).filter(category="pool", tier="A", status="new")."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import pandas as pd

from lead_assets.settings import ConfigError, Settings
from lead_assets.taxonomy import CATEGORIES
from lead_assets.warehouse import connect

STATUSES = ("new", "delivered", "sold", "contacted", "converted", "dead")

# A lead's status: a sale beats a delivery beats whatever was set by hand last, else new.
LEADS_WITH_STATUS = """
    SELECT s.*,
        CASE WHEN EXISTS (SELECT 1 FROM sales x WHERE x.city = s.city AND x.permit_id = s.permit_id)
                  AND coalesce(ls.status, '') NOT IN ('contacted', 'converted', 'dead') THEN 'sold'
             WHEN ls.status IS NOT NULL THEN ls.status
             WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.city = s.city AND d.permit_id = s.permit_id)
                  THEN 'delivered'
             ELSE 'new' END AS status,
        (SELECT max(price) FROM sales x WHERE x.city = s.city AND x.permit_id = s.permit_id) AS sold_price,
        (SELECT string_agg(buyer, ', ') FROM sales x WHERE x.city = s.city AND x.permit_id = s.permit_id) AS sold_to
    FROM scored_leads s
    LEFT JOIN (SELECT city, permit_id, status FROM lead_status
               QUALIFY row_number() OVER (PARTITION BY city, permit_id ORDER BY changed_at DESC) = 1) ls
      ON ls.city = s.city AND ls.permit_id = s.permit_id
"""


@dataclass(frozen=True)
class Lead:
    permit_id: str
    city: str
    property_address: str | None
    owner_name: str | None
    project_description: str | None
    market_value: Decimal | None
    issued_date: date | None
    is_absentee: bool | None
    score: int
    tier: str
    trade_group: str
    category: str
    reasoning: str | None
    ideal_contractor: str | None
    contact_priority: str | None
    flags: str | None
    scored_at: datetime
    status: str
    sold_to: str | None
    sold_price: Decimal | None


class LeadStore:
    def __init__(self, settings: Settings):
        self.settings = settings

    def filter(self, *, category: str | None = None, tier: str | None = None, status: str | None = None,
               city: str | None = None, trade_group: str | None = None, limit: int | None = None,
               as_frame: bool = False):
        where, params = ["NOT discarded"], []
        if category:
            if category not in CATEGORIES:
                raise ConfigError(f"unknown category {category!r}")
            where.append("category = ?"); params.append(category)
        if tier:
            where.append("tier = ?"); params.append(tier.upper())
        if status:
            if status not in STATUSES:
                raise ConfigError(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
            where.append("status = ?"); params.append(status)
        if city:
            where.append("city = ?"); params.append(self.settings.city(city).key)
        if trade_group:
            where.append("trade_group = ?"); params.append(trade_group)
        sql = (f"SELECT * FROM ({LEADS_WITH_STATUS}) WHERE {' AND '.join(where)} "
               f"ORDER BY score DESC, issued_date DESC, city, permit_id")
        if limit:
            sql += f" LIMIT {int(limit)}"
        with connect(self.settings.warehouse_path) as con:
            frame = con.execute(sql, params).df()
        if as_frame:
            return frame
        fields = Lead.__dataclass_fields__
        return [Lead(**{k: _py(row[k]) for k in fields}) for row in frame.to_dict("records")]


def _py(value):
    if value is None or (not isinstance(value, (str, bytes)) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value
