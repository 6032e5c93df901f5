"""Query leads like the seed's ORM: LeadStore(settings).filter(category="pool", tier="A", status="new").

    from lead_assets.warehouse.store import LeadStore
    hot_pool = LeadStore("warehouse.duckdb").filter(category="pool", tier="A", status="new")
    hot_pool[0].permit_id, hot_pool[0].sold_price            # typed Lead records (Decimal money)
    LeadStore(settings).filter(status="sold", as_frame=True)  # or a DataFrame (money as Decimal objects)

A lead's status is computed, never stored on the lead row (rescoring rewrites that row):
`delivered` / `sold` come from the deliveries / sales tables; `contacted`, `converted` and
`dead` are set by hand (lead_status, `leads status`). The latest hand-set status wins when it
is newer than the lead's last delivery or sale; setting `new` by hand clears it. A lead that
was never delivered, sold or marked is `new`.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd

from lead_assets.config.errors import ConfigError

from lead_assets.config.settings import Settings
from lead_assets.leads.taxonomy import CATEGORIES, TRADE_GROUPS
from lead_assets.leads.projects import LEAD_OF_SQL
from lead_assets.warehouse.connection import connect

STATUSES = ("new", "delivered", "sold", "contacted", "converted", "dead")
MANUAL_STATUSES = ("contacted", "converted", "dead")

LATEST_REVIEW = """(SELECT city, permit_id, decision, decided_at AS reviewed_at FROM lead_reviews
    QUALIFY row_number() OVER (PARTITION BY city, permit_id ORDER BY decided_at DESC) = 1)"""
LATEST_STATUS = """(SELECT city, permit_id, status AS manual_status, changed_at AS manual_at FROM lead_status
    QUALIFY row_number() OVER (PARTITION BY city, permit_id ORDER BY changed_at DESC) = 1)"""

# Every scored lead with its status and sales facts. Columns: scored_leads' own, then
# status, sold_to, sold_price, sold_at, delivered_to, delivered_at, review_decision, and
# other_permits: the project's other permit numbers (the row is the project's lead permit).
LEADS_WITH_STATUS = f"""
    WITH dl AS (
        SELECT city, permit_id, string_agg(DISTINCT buyer, ', ' ORDER BY buyer) AS delivered_to,
               max(delivered_at) AS delivered_at
        FROM deliveries GROUP BY ALL
    ), sl AS (
        SELECT city, permit_id, string_agg(buyer, ', ' ORDER BY sold_at, buyer) AS sold_to,
               sum(price) AS sold_price, max(sold_at) AS sold_at
        FROM sales GROUP BY ALL
    )
    SELECT s.*,
        CASE WHEN m.manual_status IN ('contacted', 'converted', 'dead')
                  AND m.manual_at >= greatest(coalesce(sl.sold_at, TIMESTAMP '1970-01-01'),
                                              coalesce(dl.delivered_at, TIMESTAMP '1970-01-01'))
                  THEN m.manual_status
             WHEN sl.permit_id IS NOT NULL THEN 'sold'
             WHEN dl.permit_id IS NOT NULL THEN 'delivered'
             ELSE 'new' END AS status,
        sl.sold_to, sl.sold_price, sl.sold_at, dl.delivered_to, dl.delivered_at,
        r.decision AS review_decision, pj.other_permits
    FROM scored_leads s
    LEFT JOIN sl ON sl.city = s.city AND sl.permit_id = s.permit_id
    LEFT JOIN dl ON dl.city = s.city AND dl.permit_id = s.permit_id
    LEFT JOIN {LATEST_STATUS} m ON m.city = s.city AND m.permit_id = s.permit_id
    LEFT JOIN {LATEST_REVIEW} r ON r.city = s.city AND r.permit_id = s.permit_id
    LEFT JOIN (SELECT city, lead_permit,
                      string_agg(permit_num, ', ' ORDER BY permit_day, permit_num) AS other_permits
               FROM project_permits WHERE NOT is_lead GROUP BY ALL) pj
           ON pj.city = s.city AND pj.lead_permit = s.permit_id
"""


@dataclass(frozen=True)
class Lead:
    permit_id: str
    city: str                         # the city key (plano, frisco, ...)
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
    sold_to: str | None               # buyers, comma-separated (a shared lead can have several)
    sold_price: Decimal | None        # total paid for the lead, over all its sales
    sold_at: datetime | None = None   # the latest sale
    delivered_to: str | None = None
    delivered_at: datetime | None = None
    needs_review: bool = False
    review_decision: str | None = None  # approve | reject | None
    permit_day: date | None = None


LEAD_FIELDS = tuple(f.name for f in fields(Lead))


class LeadStore:
    """Read access to the leads. `source`: a Settings, a leads.toml, or a warehouse .duckdb file."""

    def __init__(self, source: Settings | str | Path):
        self.settings: Settings | None = None
        if isinstance(source, Settings):
            self.settings = source
            self.path = source.warehouse_path
            return
        path = Path(source)
        if path.suffix == ".toml" or (path.is_dir() and (path / "leads.toml").exists()):
            self.settings = Settings.load(path / "leads.toml" if path.is_dir() else path)
            self.path = self.settings.warehouse_path
            return
        if not path.is_file():
            raise ConfigError(f"no warehouse at {path}")
        self.path = path

    # ------------------------------------------------------------------ queries

    def filter(self, *, category: str | None = None, tier: str | None = None, status: str | None = None,
               city: str | None = None, trade_group: str | None = None, buyer: str | None = None,
               permit_id: str | None = None, include_discarded: bool = False, limit: int | None = None,
               as_frame: bool = False):
        """Leads, best first. Returns a list of Lead, or a DataFrame with `as_frame=True`."""
        where, params = ([] if include_discarded else ["NOT discarded"]), []
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
            where.append("city = ?"); params.append(self.city_key(city))
        if trade_group:
            if trade_group not in TRADE_GROUPS:
                raise ConfigError(f"unknown trade group {trade_group!r}; one of {', '.join(TRADE_GROUPS)}")
            where.append("trade_group = ?"); params.append(trade_group)
        if buyer:
            where.append("""(EXISTS (SELECT 1 FROM deliveries d WHERE d.city = l.city AND d.permit_id = l.permit_id
                                     AND d.buyer = ?)
                          OR EXISTS (SELECT 1 FROM sales x WHERE x.city = l.city AND x.permit_id = l.permit_id
                                     AND x.buyer = ?))""")
            params += [buyer, buyer]
        if permit_id:
            # any permit of a project names the project's lead
            where.append(f"(permit_id = ? OR (city, permit_id) IN {LEAD_OF_SQL})")
            params += [permit_id.strip(), permit_id.strip()]
        sql = (f"SELECT * FROM ({LEADS_WITH_STATUS}) l WHERE {' AND '.join(where) or 'true'} "
               f"ORDER BY score DESC, issued_date DESC NULLS LAST, city, permit_id")
        if limit:
            sql += f" LIMIT {int(limit)}"
        with connect(self.path) as con:
            cur = con.execute(sql, params)
            columns = [d[0] for d in cur.description]
            rows = cur.fetchall()
        # Built from Python values (not .df()), so DECIMAL money stays Decimal, never float.
        frame = pd.DataFrame.from_records(rows, columns=columns)
        if as_frame:
            return frame
        return [Lead(**{k: _py(rec[k]) for k in LEAD_FIELDS}) for rec in (dict(zip(columns, r)) for r in rows)]

    def get(self, permit_id: str, city: str | None = None) -> Lead:
        """One lead by permit id (and city when the id is used in several cities)."""
        found = self.filter(permit_id=permit_id, city=city, include_discarded=True)
        return only_match(found, [lead.city for lead in found], permit_id, city)

    def counts(self) -> dict[str, int]:
        """Leads per status (discarded permits left out)."""
        with connect(self.path) as con:
            rows = con.execute(f"SELECT status, count(*) FROM ({LEADS_WITH_STATUS}) WHERE NOT discarded "
                               "GROUP BY 1").fetchall()
        out = dict.fromkeys(STATUSES, 0)
        out.update({s: int(n) for s, n in rows})
        return out

    def city_key(self, city: str) -> str:
        if self.settings is not None:
            return self.settings.city(city).key
        return city.strip().lower()


def _py(value):
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if not isinstance(value, (str, bytes, Decimal, date, datetime, bool, int)) and pd.isna(value):
        return None
    return value


def only_match(found: list, cities: list[str], permit_id: str, city: str | None, error=ConfigError):
    """The one lead a permit id (and optional city) names; a clear error for none or several.
    Permit numbers repeat across cities, so an ambiguous id asks for --city."""
    if not found:
        raise error(f"unknown permit {permit_id!r}" + (f" in {city}" if city else ""))
    if len(found) > 1:
        raise error(f"permit {permit_id!r} is in several cities ({', '.join(cities)}); say which with --city")
    return found[0]
