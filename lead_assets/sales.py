"""The lead sales lifecycle: buyers, review, sell, deliver, archive, status and report.

Plain Python + SQL (no Dagster); the `leads` subcommands (cli_sales.py) and the `lead_sales`
asset sit on top of it. The rules, in one place:

* Sales, deliveries, review decisions and hand-set statuses live in their own tables keyed by
  (city, permit_id). Rescoring rewrites `scored_leads` rows only, so it never touches them.
* Every change is one warehouse transaction, validated first: bad input raises SalesError
  (a ConfigError, so the command prints it and exits 2) and changes nothing.
* A lead's *holders* are the buyers it was delivered or sold to. An exclusive buyer only takes
  a lead nobody holds, and a lead an exclusive buyer holds goes to nobody else. A shared lead
  goes to at most `max_buyers` buyers (the smallest limit among its holders and the new buyer).
  A buyer never gets the same lead twice.
* Money is Decimal (DECIMAL(10, 2) in DuckDB); floats, NaN, negatives and sub-cent amounts are
  refused.
* A package is written to a temp folder beside its destination and renamed into place, then the
  deliveries and sales are recorded in one transaction; if recording fails the package is put
  back as it was, and if writing fails nothing is recorded.
"""
from __future__ import annotations

import csv
import io
import os
import re
import shutil
import tempfile
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pandas as pd

from lead_assets.exports import render_csv, write_atomic, write_buyer_files, write_queue_file
from lead_assets.settings import ConfigError, Settings
from lead_assets.projects import LEAD_OF_SQL
from lead_assets.store import LATEST_REVIEW, LATEST_STATUS, MANUAL_STATUSES, only_match
from lead_assets.taxonomy import CATEGORIES, EXPORT_COLUMNS, TIERS, TRADE_GROUPS, export_key, export_keys
from lead_assets.warehouse import connect, retry_conflicts, transaction

DELIVERED_DIR = "_delivered"
MAX_PRICE = Decimal("99999999.99")          # DECIMAL(10, 2)
CENT = Decimal("0.01")
DEFAULT_MAX_BUYERS = 3                      # a shared buyer's default limit on buyers per lead
REVIEW_DECISIONS = ("approve", "reject")


class SalesError(ConfigError):
    """Bad input for a sales command; nothing was changed."""


# ------------------------------------------------------------------------------- money

def parse_money(value, *, what: str = "price", allow_zero: bool = False) -> Decimal:
    """'25', '25.00', '$25.00', Decimal('25') or 25 -> Decimal('25.00'). Never a float."""
    if isinstance(value, bool):
        raise SalesError(f"{what} must be text or a Decimal, not {value!r}")
    if isinstance(value, float):
        raise SalesError(f"{what} must be text or a Decimal, not the float {value!r} (write '25.00')")
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, Decimal):
        amount = value
    elif isinstance(value, str):
        text = value.strip()
        bare = text.lstrip("+-").lstrip("$")
        if bare.lower() in ("nan", "snan", "inf", "infinity"):
            raise SalesError(f"{what} {value!r} is not an amount of money")
        if not re.fullmatch(r"[+-]?\$?\d+(\.\d+)?", text):
            raise SalesError(f"{what} {value!r} is not money; write digits with an optional cents part, "
                             "e.g. 25 or 25.00")
        try:
            amount = Decimal(text.replace("$", ""))
        except InvalidOperation:
            raise SalesError(f"{what} {value!r} is not money") from None
    else:
        raise SalesError(f"{what} must be text or a Decimal, not {type(value).__name__}")
    if not amount.is_finite():
        raise SalesError(f"{what} {value!r} is not an amount of money")
    if amount < 0:
        raise SalesError(f"{what} {value!r} is negative")
    if amount == 0 and not allow_zero:
        raise SalesError(f"{what} must be more than zero")
    if amount > MAX_PRICE:
        raise SalesError(f"{what} {value!r} is too large (at most {MAX_PRICE})")
    if amount.as_tuple().exponent < -2 and amount != amount.quantize(CENT):
        raise SalesError(f"{what} {value!r} has more than two decimal places (cents)")
    return amount.quantize(CENT)


def money(amount: Decimal | None) -> str:
    return "-" if amount is None else f"${amount:,.2f}"


# ------------------------------------------------------------------------------ buyers

@dataclass(frozen=True)
class Buyer:
    name: str
    contact: str | None = None
    trade_groups: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    cities: tuple[str, ...] = ()          # empty: every city
    price_a: Decimal | None = None
    price_b: Decimal | None = None
    price_c: Decimal | None = None
    exclusive: bool = True
    max_buyers: int = 1                   # buyers a lead may go to (1 when exclusive)

    @property
    def slug(self) -> str:
        return buyer_slug(self.name)

    def price(self, tier: str) -> Decimal | None:
        return {"A": self.price_a, "B": self.price_b, "C": self.price_c}.get(tier.upper())

    def takes(self, trade_group: str, category: str, tier: str, city: str | None = None) -> bool:
        return ((trade_group in self.trade_groups or category in self.categories) and tier in self.tiers
                and (not self.cities or city is None or city in self.cities))

    def takes_file(self, key: str) -> bool:
        group, category, tier = key.split("/")
        return self.takes(group, category, tier.removeprefix("tier_").upper())

    def describe(self) -> dict:
        return {
            "name": self.name, "contact": self.contact, "slug": self.slug,
            "trade_groups": list(self.trade_groups), "categories": list(self.categories),
            "tiers": list(self.tiers), "cities": list(self.cities) or ["(all)"],
            "price_a": self.price_a, "price_b": self.price_b, "price_c": self.price_c,
            "sharing": "exclusive" if self.exclusive else f"shared (max {self.max_buyers} buyers)",
        }


_BUYER_COLUMNS = ("name, contact, trade_groups, categories, tiers, cities, price_a, price_b, price_c, "
                  "exclusive, max_buyers")


def validate_buyer_name(name: str) -> str:
    """A buyer name is shown to people and becomes a folder: no path tricks, no control characters."""
    if not isinstance(name, str) or not name.strip():
        raise SalesError("a buyer needs a name")
    name = name.strip()
    if "/" in name or "\\" in name or ".." in name:
        raise SalesError(f"buyer name {name!r} may not contain '/', '\\' or '..' (it names a delivery folder)")
    if name.startswith("."):
        raise SalesError(f"buyer name {name!r} may not start with '.'")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise SalesError(f"buyer name {name!r} contains control characters")
    if len(name) > 100:
        raise SalesError("buyer name is longer than 100 characters")
    buyer_slug(name)
    return name


def buyer_slug(name: str) -> str:
    """'ABC Pool Company' -> 'abc-pool-company': the buyer's folder under _delivered/<day>/."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    if not slug:
        raise SalesError(f"buyer name {name!r} has no letters or digits to name its delivery folder")
    return slug[:80]


def _buyer_from_row(row) -> Buyer:
    (name, contact, groups, cats, tiers, cities, pa, pb, pc, exclusive, max_buyers) = row
    return Buyer(name=name, contact=contact, trade_groups=tuple(groups or ()), categories=tuple(cats or ()),
                 tiers=tuple(tiers or ()), cities=tuple(cities or ()), price_a=pa, price_b=pb, price_c=pc,
                 exclusive=bool(exclusive), max_buyers=1 if exclusive else int(max_buyers or DEFAULT_MAX_BUYERS))


def _all_buyers(con) -> dict[str, Buyer]:
    rows = con.execute(f"SELECT {_BUYER_COLUMNS} FROM buyers ORDER BY created_at, name").fetchall()
    return {r[0]: _buyer_from_row(r) for r in rows}


def _find_buyer(con, name: str) -> Buyer:
    buyers = _all_buyers(con)
    if name in buyers:
        return buyers[name]
    wanted = (name or "").strip().lower()
    for b in buyers.values():
        if b.name.lower() == wanted or b.slug == wanted:
            return b
    known = ", ".join(sorted(buyers)) or "none yet; add one with `leads buyers add`"
    raise SalesError(f"unknown buyer {name!r}; buyers: {known}")


def list_buyers(settings: Settings) -> list[Buyer]:
    with connect(settings.warehouse_path) as con:
        return list(_all_buyers(con).values())


def get_buyer(settings: Settings, name: str) -> Buyer:
    with connect(settings.warehouse_path) as con:
        return _find_buyer(con, name)


_UNSET = object()


def _validated_buyer(settings: Settings, buyer: Buyer) -> Buyer:
    groups = tuple(dict.fromkeys(buyer.trade_groups))
    cats = tuple(dict.fromkeys(buyer.categories))
    for g in groups:
        if g not in TRADE_GROUPS:
            raise SalesError(f"unknown trade group {g!r}; one of {', '.join(TRADE_GROUPS)}")
    for c in cats:
        if c not in CATEGORIES:
            raise SalesError(f"unknown category {c!r}")
    if not groups and not cats:
        raise SalesError(f"buyer {buyer.name!r} needs at least one trade group or category it takes")
    prices = {t: None if p is None else parse_money(p, what=f"tier {t} price", allow_zero=True)
              for t, p in (("A", buyer.price_a), ("B", buyer.price_b), ("C", buyer.price_c))}
    tiers = tuple(dict.fromkeys(t.upper() for t in buyer.tiers)) or tuple(t for t in TIERS if prices[t] is not None)
    for t in tiers:
        if t not in TIERS:
            raise SalesError(f"unknown tier {t!r}; one of {', '.join(TIERS)}")
        if prices[t] is None:
            raise SalesError(f"buyer {buyer.name!r} takes tier {t} but has no tier {t} price (--price-{t.lower()})")
    if not tiers:
        raise SalesError(f"buyer {buyer.name!r} needs at least one tier (give --tiers and a price per tier)")
    cities = tuple(dict.fromkeys(settings.city(c).key for c in buyer.cities))
    max_buyers = 1 if buyer.exclusive else int(buyer.max_buyers)
    if not buyer.exclusive and not 2 <= max_buyers <= 50:
        raise SalesError("a shared buyer's max_buyers must be between 2 and 50")
    return Buyer(name=validate_buyer_name(buyer.name), contact=(buyer.contact or "").strip() or None,
                 trade_groups=groups, categories=cats, tiers=tiers, cities=cities,
                 price_a=prices["A"], price_b=prices["B"], price_c=prices["C"],
                 exclusive=bool(buyer.exclusive), max_buyers=max_buyers)


@retry_conflicts
def add_buyer(settings: Settings, name: str, *, contact: str | None = None, trade_groups=(), categories=(),
              tiers=(), cities=(), price_a=None, price_b=None, price_c=None, exclusive: bool = True,
              max_buyers: int | None = None) -> Buyer:
    """Register a buyer. Tiers default to the tiers given a price; each tier taken needs a price."""
    if exclusive and max_buyers not in (None, 1):
        raise SalesError("max_buyers is for shared buyers; an exclusive buyer's leads go to nobody else")
    buyer = _validated_buyer(settings, Buyer(
        name=name, contact=contact, trade_groups=tuple(trade_groups or ()), categories=tuple(categories or ()),
        tiers=tuple(tiers or ()), cities=tuple(cities or ()), price_a=price_a, price_b=price_b, price_c=price_c,
        exclusive=exclusive, max_buyers=max_buyers or (1 if exclusive else DEFAULT_MAX_BUYERS)))
    with connect(settings.warehouse_path) as con, transaction(con):
        for other in _all_buyers(con).values():
            if other.name.lower() == buyer.name.lower() or other.slug == buyer.slug:
                raise SalesError(f"buyer {other.name!r} already exists (its delivery folder is {other.slug!r}); "
                                 "use `leads buyers update`")
        _write_buyer(con, buyer, new=True)
    return buyer


@retry_conflicts
def update_buyer(settings: Settings, name: str, *, contact=_UNSET, trade_groups=_UNSET, categories=_UNSET,
                 tiers=_UNSET, cities=_UNSET, price_a=_UNSET, price_b=_UNSET, price_c=_UNSET, exclusive=_UNSET,
                 max_buyers=_UNSET) -> Buyer:
    """Change what a buyer takes or pays; past deliveries and sales keep their prices."""
    with connect(settings.warehouse_path) as con, transaction(con):
        old = _find_buyer(con, name)
        changes = {k: v for k, v in dict(
            contact=contact, trade_groups=trade_groups, categories=categories, tiers=tiers, cities=cities,
            price_a=price_a, price_b=price_b, price_c=price_c, exclusive=exclusive, max_buyers=max_buyers,
        ).items() if v is not _UNSET}
        merged = {**old.__dict__, **{k: (tuple(v or ()) if k in ("trade_groups", "categories", "tiers", "cities")
                                         else v) for k, v in changes.items()}}
        if "tiers" not in changes and any(k.startswith("price_") for k in changes):
            merged["tiers"] = ()       # re-derive from the prices
        if changes.get("exclusive") is False and "max_buyers" not in changes:
            merged["max_buyers"] = DEFAULT_MAX_BUYERS
        if changes.get("max_buyers") not in (None, 1) and "exclusive" not in changes:
            merged["exclusive"] = False
        if merged["exclusive"] and changes.get("max_buyers") not in (None, 1):
            raise SalesError("max_buyers is for shared buyers; an exclusive buyer's leads go to nobody else")
        buyer = _validated_buyer(settings, Buyer(**merged))
        _write_buyer(con, buyer, new=False)
    return buyer


def _write_buyer(con, b: Buyer, *, new: bool) -> None:
    values = [b.contact, list(b.trade_groups), list(b.categories), list(b.tiers), list(b.cities),
              _dec(b.price_a), _dec(b.price_b), _dec(b.price_c), b.exclusive, b.max_buyers]
    if new:
        con.execute(f"""INSERT INTO buyers ({_BUYER_COLUMNS}, created_at, updated_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?::DECIMAL(10, 2), ?::DECIMAL(10, 2), ?::DECIMAL(10, 2), ?, ?,
                                now()::TIMESTAMP, now()::TIMESTAMP)""", [b.name, *values])
    else:
        con.execute("""UPDATE buyers SET contact = ?, trade_groups = ?, categories = ?, tiers = ?, cities = ?,
                           price_a = ?::DECIMAL(10, 2), price_b = ?::DECIMAL(10, 2), price_c = ?::DECIMAL(10, 2),
                           exclusive = ?, max_buyers = ?, updated_at = now()::TIMESTAMP
                       WHERE name = ?""", [*values, b.name])


@retry_conflicts
def remove_buyer(settings: Settings, name: str) -> None:
    """Only a buyer with no deliveries or sales can go (those records are never erased)."""
    with connect(settings.warehouse_path) as con, transaction(con):
        buyer = _find_buyer(con, name)
        n = con.execute("""SELECT (SELECT count(*) FROM deliveries WHERE buyer = $1)
                                + (SELECT count(*) FROM sales WHERE buyer = $1)""", [buyer.name]).fetchone()[0]
        if n:
            raise SalesError(f"buyer {buyer.name!r} has {n} delivery/sale record(s); those are kept, "
                             "so the buyer stays (change what it takes with `leads buyers update`)")
        con.execute("DELETE FROM buyers WHERE name = ?", [buyer.name])


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


# ------------------------------------------------------------------------------- leads

@dataclass(frozen=True)
class LeadRef:
    city: str
    permit_id: str
    tier: str
    category: str
    trade_group: str
    score: int
    discarded: bool
    needs_review: bool
    review_reasons: str | None
    decision: str | None              # latest review decision
    manual_status: str | None         # latest hand-set status

    @property
    def label(self) -> str:
        return f"{self.permit_id} ({self.city})"

    @property
    def export_key(self) -> str:
        """The main buyer file this lead belongs in (when it is a lead at all)."""
        return f"{self.trade_group}/{self.category}/tier_{self.tier.lower()}"

    @property
    def in_review(self) -> bool:
        return self.needs_review and not self.discarded and self.tier != "RETRY" and self.decision is None


_LEAD_REF_SQL = f"""
    SELECT s.city, s.permit_id, s.tier, s.category, s.trade_group, s.score, s.discarded, s.needs_review,
           s.review_reasons, r.decision, m.manual_status
    FROM scored_leads s
    LEFT JOIN {LATEST_REVIEW} r ON r.city = s.city AND r.permit_id = s.permit_id
    LEFT JOIN {LATEST_STATUS} m ON m.city = s.city AND m.permit_id = s.permit_id
"""


def _resolve(con, settings: Settings, permit_id: str, city: str | None) -> LeadRef:
    permit_id = (permit_id or "").strip()
    if not permit_id:
        raise SalesError("give a permit id")
    # Any permit of a project names the project's one lead: it is never sold twice through two permits.
    sql = _LEAD_REF_SQL + f" WHERE (s.permit_id = ? OR (s.city, s.permit_id) IN {LEAD_OF_SQL})"
    params = [permit_id, permit_id]
    if city:
        sql += " AND s.city = ?"
        params.append(settings.city(city).key)
    rows = con.execute(sql + " ORDER BY s.city", params).fetchall()
    row = only_match(rows, [r[0] for r in rows], permit_id, city and settings.city(city).name, SalesError)
    return LeadRef(*row)


def _sellable_problem(lead: LeadRef) -> str | None:
    """Why a lead may not go to any buyer (None: it may)."""
    if lead.discarded:
        return "it is not a lead (discarded when scored)"
    if lead.tier not in TIERS:
        return f"its scoring failed (tier {lead.tier}); retry it first"
    if lead.decision == "reject":
        return "it was rejected in review"
    if lead.needs_review and lead.decision != "approve":
        return "it is waiting in review; approve it first (`leads review approve`)"
    if lead.manual_status in ("dead", "converted"):
        return f"it is marked {lead.manual_status}"
    return None


def _holders(con, keys: list[tuple[str, str]] | None = None) -> dict[tuple[str, str], set[str]]:
    """(city, permit_id) -> buyers it was delivered or sold to."""
    sql = ("SELECT city, permit_id, buyer FROM deliveries UNION "
           "SELECT city, permit_id, buyer FROM sales")
    params: list = []
    if keys is not None:
        if not keys:
            return {}
        frame = pd.DataFrame(keys, columns=["city", "permit_id"], dtype=object)
        con.register("_holder_keys", frame)
        sql = f"SELECT h.* FROM ({sql}) h JOIN _holder_keys k USING (city, permit_id)"
    out: dict[tuple[str, str], set[str]] = {}
    try:
        for city, permit_id, buyer in con.execute(sql, params).fetchall():
            out.setdefault((city, permit_id), set()).add(buyer)
    finally:
        if keys is not None:
            con.unregister("_holder_keys")
    return out


def sharing_problem(holders: set[str], buyer: Buyer, buyers: dict[str, Buyer]) -> str | None:
    """Why `buyer` may not (also) get a lead held by `holders` (None: it may)."""
    others = sorted(h for h in holders if h != buyer.name)
    if not others:
        return None
    exclusive = [h for h in others if h not in buyers or buyers[h].exclusive]
    if exclusive:
        return f"it went exclusively to {exclusive[0]}"
    if buyer.exclusive:
        return f"it already went to {', '.join(others)} and {buyer.name} buys exclusive leads"
    cap = min([buyer.max_buyers] + [buyers[h].max_buyers for h in others])
    if len(others) + 1 > cap:
        return f"it is already shared with {len(others)} buyer(s) ({', '.join(others)}); the limit is {cap}"
    return None


SHARING_VIOLATIONS_SQL = """
    WITH h AS (SELECT city, permit_id, buyer FROM deliveries UNION SELECT city, permit_id, buyer FROM sales),
    s AS (
        SELECT h.city, h.permit_id, count(DISTINCT h.buyer) AS n,
               bool_or(coalesce(b.exclusive, true)) AS any_exclusive,
               min(CASE WHEN coalesce(b.exclusive, true) THEN 1 ELSE coalesce(b.max_buyers, 1) END) AS cap
        FROM h LEFT JOIN buyers b ON b.name = h.buyer GROUP BY ALL
    )
    SELECT city, permit_id, n, cap FROM s WHERE n > cap ORDER BY city, permit_id
"""


def sharing_violations(con) -> list[tuple]:
    """Leads held by more buyers than their exclusive/shared terms allow (should be none)."""
    return con.execute(SHARING_VIOLATIONS_SQL).fetchall()


def refresh_files(settings: Settings, keys=None) -> None:
    """Bring the main buyer files (all, or the export keys a change touched) and the review
    queue up to date after a change; unchanged files keep their bytes."""
    if keys is not None:
        valid = set(export_keys())
        keys = sorted({k for k in keys if k in valid})
    if keys is None or keys:
        write_buyer_files(settings, keys)
    write_queue_file(settings, "review")


# ------------------------------------------------------------------------------ review

@retry_conflicts
def review(settings: Settings, permit_id: str, decision: str, *, city: str | None = None,
           note: str | None = None, refresh: bool = True) -> LeadRef:
    """Approve (the lead enters the buyer files) or reject (it never does) a lead in the QA queue."""
    if decision not in REVIEW_DECISIONS:
        raise SalesError(f"a review decision is approve or reject, not {decision!r}")
    with connect(settings.warehouse_path) as con, transaction(con):
        lead = _resolve(con, settings, permit_id, city)
        if not lead.in_review:
            if lead.decision:
                why = f"it was already {'approved' if lead.decision == 'approve' else 'rejected'}"
            elif lead.discarded:
                why = "it is not a lead (discarded when scored)"
            elif lead.tier == "RETRY":
                why = "its scoring failed (tier RETRY)"
            else:
                why = "it was not flagged for review"
            raise SalesError(f"{lead.label} is not in review: {why}")
        con.execute("""INSERT INTO lead_reviews (city, permit_id, decision, note, decided_at)
                       VALUES (?, ?, ?, ?, now()::TIMESTAMP)""", [lead.city, lead.permit_id, decision, note])
    if refresh:
        refresh_files(settings, [lead.export_key])
    return lead


def review_queue(settings: Settings) -> pd.DataFrame:
    with connect(settings.warehouse_path) as con:
        return con.execute(_LEAD_REF_SQL + """
            WHERE s.needs_review AND NOT s.discarded AND s.tier <> 'RETRY' AND r.decision IS NULL
            ORDER BY s.score DESC, s.city, s.permit_id""").df()


# ------------------------------------------------------------------------------ status

@retry_conflicts
def set_status(settings: Settings, permit_id: str, status: str, *, city: str | None = None,
               note: str | None = None, refresh: bool = True) -> LeadRef:
    """Hand-set status: contacted, converted, dead; `new` clears a hand-set status."""
    if status in ("delivered", "sold"):
        raise SalesError(f"'{status}' is recorded by `leads {'deliver' if status == 'delivered' else 'sell'}`, "
                         "not set by hand")
    if status not in (*MANUAL_STATUSES, "new"):
        raise SalesError(f"unknown status {status!r}; set one of {', '.join(MANUAL_STATUSES)} (or new to clear)")
    with connect(settings.warehouse_path) as con, transaction(con):
        lead = _resolve(con, settings, permit_id, city)
        held = _holders(con, [(lead.city, lead.permit_id)])
        if status == "converted" and not held:
            raise SalesError(f"{lead.label} was never delivered or sold, so it cannot be converted")
        if status == "new" and lead.manual_status in (None, "new"):
            raise SalesError(f"{lead.label} has no hand-set status to clear")
        con.execute("""INSERT INTO lead_status (city, permit_id, status, note, changed_at)
                       VALUES (?, ?, ?, ?, now()::TIMESTAMP)""", [lead.city, lead.permit_id, status, note])
    if refresh:
        refresh_files(settings, [lead.export_key])
    return lead


def lead_history(settings: Settings, permit_id: str, *, city: str | None = None) -> dict:
    """Everything recorded about one lead: reviews, deliveries, sales, statuses (oldest first)."""
    with connect(settings.warehouse_path) as con:
        lead = _resolve(con, settings, permit_id, city)
        key = [lead.city, lead.permit_id]
        events = con.execute("""
            SELECT event_at, what, detail, note FROM (
                SELECT decided_at AS event_at, 0 AS rank, 'review' AS what, decision AS detail, note FROM lead_reviews
                    WHERE city = ? AND permit_id = ?
                UNION ALL
                SELECT delivered_at, 1, 'delivered', buyer || coalesce(' -> ' || file, ''), NULL FROM deliveries
                    WHERE city = ? AND permit_id = ?
                UNION ALL
                SELECT sold_at, 2, 'sold', buyer || ' for $' || price::VARCHAR, note FROM sales
                    WHERE city = ? AND permit_id = ?
                UNION ALL
                SELECT changed_at, 3, 'status', status, note FROM lead_status WHERE city = ? AND permit_id = ?
            ) ORDER BY event_at, rank, detail""", key * 4).fetchall()
    return {"lead": lead, "events": events}


# -------------------------------------------------------------------------------- sell

@dataclass(frozen=True)
class Sale:
    city: str
    permit_id: str
    buyer: str
    price: Decimal
    tier: str
    category: str
    outside_terms: bool = False       # the buyer's record does not list this category/tier/city


@retry_conflicts
def sell(settings: Settings, permit_id: str, buyer: str, price=None, *, city: str | None = None,
         note: str | None = None, refresh: bool = True) -> Sale:
    """Record a sale made by hand. No price: the buyer's price for the lead's tier."""
    if price is not None:
        price = parse_money(price)
    with connect(settings.warehouse_path) as con, transaction(con):
        lead = _resolve(con, settings, permit_id, city)
        b = _find_buyer(con, buyer)
        problem = _sellable_problem(lead)
        if problem:
            raise SalesError(f"cannot sell {lead.label}: {problem}")
        holders = _holders(con, [(lead.city, lead.permit_id)]).get((lead.city, lead.permit_id), set())
        sold_to = {r[0] for r in con.execute("SELECT buyer FROM sales WHERE city = ? AND permit_id = ?",
                                             [lead.city, lead.permit_id]).fetchall()}
        if b.name in sold_to:
            raise SalesError(f"{lead.label} is already sold to {b.name}")
        problem = sharing_problem(holders, b, _all_buyers(con))
        if problem:
            raise SalesError(f"cannot sell {lead.label} to {b.name}: {problem}")
        if price is None:
            price = b.price(lead.tier)
            if not price:
                raise SalesError(f"{b.name} has no tier {lead.tier} price; give --price")
        con.execute("""INSERT INTO sales (city, permit_id, buyer, price, sold_at, sold_on, tier, category,
                                          trade_group, via, note)
                       VALUES (?, ?, ?, ?::DECIMAL(10, 2), now()::TIMESTAMP, ?, ?, ?, ?, 'manual', ?)""",
                    [lead.city, lead.permit_id, b.name, str(price), settings.today(), lead.tier, lead.category,
                     lead.trade_group, note])
    if refresh:
        refresh_files(settings, [lead.export_key])
    return Sale(lead.city, lead.permit_id, b.name, price, lead.tier, lead.category,
                outside_terms=not b.takes(lead.trade_group, lead.category, lead.tier, lead.city))


# ---------------------------------------------------------------- packages on disk

def delivered_root(settings: Settings) -> Path:
    return settings.exports_dir / DELIVERED_DIR


def package_dir(settings: Settings, buyer: Buyer, day: date) -> Path:
    """exports/_delivered/<day>/<buyer slug>, checked to stay inside exports/_delivered/."""
    root = delivered_root(settings).resolve()
    path = (root / day.isoformat() / buyer_slug(buyer.name)).resolve()
    if not path.is_relative_to(root) or path.parent != root / day.isoformat():
        raise SalesError(f"buyer {buyer.name!r} would write outside {root}")
    return path


def _merge_csv(existing: bytes | None, new: bytes) -> bytes:
    """A day's package file holds every delivery of that day: append the new rows."""
    if not existing:
        return new
    header, _, rows = new.partition(b"\n")
    old_header = existing.partition(b"\n")[0]
    if old_header != header:
        raise SalesError("an earlier package file of today has other columns; move it away first")
    return existing + (b"" if existing.endswith(b"\n") else b"\n") + rows


class _Package:
    """Write a buyer's package beside its destination, swap it in, keep the old one until committed."""

    def __init__(self, dest: Path, files: dict[str, bytes]):
        self.dest, self.files = dest, files
        self.backup: Path | None = None
        self.swapped = False

    def write(self) -> None:
        day_dir = self.dest.parent
        day_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=day_dir, prefix=f".{self.dest.name}.new-"))
        try:
            if self.dest.exists():
                shutil.copytree(self.dest, staging, dirs_exist_ok=True)
            for rel, data in self.files.items():
                target = staging / rel
                existing = target.read_bytes() if target.exists() else None
                write_atomic(target, _merge_csv(existing, data))
            if self.dest.exists():
                self.backup = day_dir / f".{self.dest.name}.old-{uuid.uuid4().hex[:8]}"
                os.rename(self.dest, self.backup)
            os.rename(staging, self.dest)
            self.swapped = True
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            if self.backup is not None and not self.dest.exists():
                os.rename(self.backup, self.dest)
                self.backup = None
            _remove_if_empty(day_dir)
            raise

    def commit(self) -> None:
        if self.backup is not None:
            shutil.rmtree(self.backup, ignore_errors=True)

    def rollback(self) -> None:
        if not self.swapped:
            return
        shutil.rmtree(self.dest, ignore_errors=True)
        if self.backup is not None:
            os.rename(self.backup, self.dest)
        _remove_if_empty(self.dest.parent)


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()                      # only succeeds when empty
    except OSError:
        pass


def _record(con, settings: Settings, rows: pd.DataFrame, *, via: str) -> None:
    """Insert deliveries (and sales where `price` is set) for `rows`, inside the caller's transaction.

    rows: city, permit_id, buyer, file, tier, category, trade_group, score, price (str or None).
    """
    frame = rows[["city", "permit_id", "buyer", "file", "tier", "category", "trade_group", "score",
                  "price"]].astype(object)
    frame = frame.where(frame.notna(), None)
    con.register("_new_deliveries", frame)
    try:
        con.execute("""INSERT INTO deliveries (city, permit_id, buyer, delivered_on, file, delivered_at,
                                               tier, category, trade_group, score, via)
                       SELECT city, permit_id, buyer, ?::DATE, file, now()::TIMESTAMP, tier, category,
                              trade_group, score::INTEGER, ?
                       FROM _new_deliveries WHERE file IS NOT NULL""", [settings.today(), via])
        con.execute("""INSERT INTO sales (city, permit_id, buyer, price, sold_at, sold_on, tier, category,
                                          trade_group, via)
                       SELECT city, permit_id, buyer, price::DECIMAL(10, 2), now()::TIMESTAMP, ?::DATE, tier,
                              category, trade_group, ?
                       FROM _new_deliveries WHERE price IS NOT NULL""", [settings.today(), via])
    finally:
        con.unregister("_new_deliveries")


# ----------------------------------------------------------------------------- deliver

@dataclass
class DeliveryPlan:
    buyer: Buyer
    day: date
    folder: Path
    leads: pd.DataFrame                         # the 17 columns + city_key, export_key, price
    files: dict[str, bytes] = field(default_factory=dict)   # path in the package -> CSV bytes
    held_elsewhere: int = 0                     # matching leads other buyers hold (exclusive / full)
    recorded: bool = False

    @property
    def total(self) -> Decimal:
        return sum((Decimal(p) for p in self.leads["price"].dropna()), Decimal("0.00"))

    @property
    def sold(self) -> int:
        return int(self.leads["price"].notna().sum()) if len(self.leads) else 0

    def per_file(self) -> dict[str, int]:
        return {k: int(n) for k, n in self.leads.groupby("export_key", sort=False).size().items()} \
            if len(self.leads) else {}


def _rows_sql(settings: Settings, where: str) -> str:
    """The buyer-file row (exports.py's 17 columns, formatted the same way) of each matching lead."""
    today = settings.today()
    return f"""
        SELECT s.permit_id, s.city AS city_key, s.property_address, s.owner_name, s.project_description,
            round(s.market_value)::BIGINT AS market_value,
            datediff('day', s.permit_day, DATE '{today}') AS days_old,
            CASE s.is_absentee WHEN true THEN 'true' WHEN false THEN 'false' END AS is_absentee,
            s.score, s.tier, s.trade_group, s.category, s.reasoning, s.ideal_contractor,
            s.contact_priority, s.flags, strftime(s.scored_at, '%Y-%m-%dT%H:%M:%SZ') AS scored_at
        FROM scored_leads s
        LEFT JOIN {LATEST_REVIEW} r ON r.city = s.city AND r.permit_id = s.permit_id
        LEFT JOIN {LATEST_STATUS} m ON m.city = s.city AND m.permit_id = s.permit_id
        WHERE {where}
    """


_AVAILABLE = """
    NOT s.discarded AND s.tier IN ('A', 'B', 'C')
    AND (NOT s.needs_review OR r.decision = 'approve') AND r.decision IS DISTINCT FROM 'reject'
    AND coalesce(m.manual_status, 'new') NOT IN ('dead', 'converted')
"""


def _ordered(settings: Settings, frame: pd.DataFrame) -> pd.DataFrame:
    names = {c.key: c.name for c in settings.cities.values()}
    frame = frame.assign(city=frame["city_key"].map(names).fillna(frame["city_key"]))
    frame = frame.assign(export_key=[export_key(c, t) for c, t in zip(frame["category"], frame["tier"])])
    return frame.sort_values(["score", "days_old", "city", "permit_id"], ascending=[False, True, True, True],
                             kind="mergesort").reset_index(drop=True)


def plan_delivery(con, settings: Settings, buyer: Buyer, *, limit: int | None = None) -> DeliveryPlan:
    where = _AVAILABLE + """
        AND (list_contains(?::VARCHAR[], s.trade_group) OR list_contains(?::VARCHAR[], s.category))
        AND list_contains(?::VARCHAR[], s.tier)
        AND (len(?::VARCHAR[]) = 0 OR list_contains(?::VARCHAR[], s.city))
        AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.city = s.city AND d.permit_id = s.permit_id
                        AND d.buyer = ?)
        AND NOT EXISTS (SELECT 1 FROM sales x WHERE x.city = s.city AND x.permit_id = s.permit_id AND x.buyer = ?)
    """
    params = [list(buyer.trade_groups), list(buyer.categories), list(buyer.tiers), list(buyer.cities),
              list(buyer.cities), buyer.name, buyer.name]
    frame = con.execute(_rows_sql(settings, where), params).df()
    frame = _ordered(settings, frame)
    holders = _holders(con, list(zip(frame["city_key"], frame["permit_id"])))
    buyers = _all_buyers(con)
    ok = [sharing_problem(holders.get((c, p), set()), buyer, buyers) is None
          for c, p in zip(frame["city_key"], frame["permit_id"])]
    held_elsewhere = len(ok) - sum(ok)
    frame = frame[pd.Series(ok, index=frame.index, dtype=bool)].reset_index(drop=True)
    if limit is not None:
        frame = frame.head(int(limit))
    day = settings.today()
    folder = package_dir(settings, buyer, day)
    prices = [buyer.price(t) for t in frame["tier"]]
    frame = frame.assign(price=[str(p) if p else None for p in prices],
                         file=[f"{k}.csv" for k in frame["export_key"]])
    files = {f"{k}.csv": render_csv(g) for k, g in frame.groupby("export_key", sort=False)} if len(frame) else {}
    return DeliveryPlan(buyer=buyer, day=day, folder=folder, leads=frame, files=files,
                        held_elsewhere=held_elsewhere)


def deliver(settings: Settings, buyer: str, *, dry_run: bool = False, limit: int | None = None,
            refresh: bool = True) -> DeliveryPlan:
    """Write the buyer's package to exports/_delivered/<today>/<buyer>/ and record it.

    One delivery per lead; a sale at the buyer's tier price (none for a tier priced 0).
    """
    if limit is not None and int(limit) < 1:
        raise SalesError("--limit must be at least 1")
    with connect(settings.warehouse_path) as con:
        b = _find_buyer(con, buyer)
        plan = plan_delivery(con, settings, b, limit=limit)
        if dry_run or plan.leads.empty:
            return plan
        rel = plan.folder.relative_to(settings.exports_dir.resolve())
        rows = plan.leads.assign(city=plan.leads["city_key"], buyer=b.name,
                                 file=[str(rel / f) for f in plan.leads["file"]])
        package = _Package(plan.folder, plan.files)
        package.write()                    # raises -> nothing recorded
        try:
            with transaction(con):
                _record(con, settings, rows, via="deliver")
        except BaseException:
            package.rollback()
            raise
        package.commit()
        plan.recorded = True
    if refresh:
        refresh_files(settings, set(plan.leads["export_key"]))
    return plan


# ----------------------------------------------------------------------------- archive

@dataclass
class ArchivedFile:
    buyer: str
    key: str                        # export key, e.g. luxury_outdoor/pool/tier_a
    rows: int                       # leads in the file
    recorded: int                   # deliveries recorded now
    already: int                    # the buyer had them already (not recorded again)
    sold: int = 0
    revenue: Decimal = Decimal("0.00")


@dataclass
class ArchivePlan:
    day: date
    files: list[ArchivedFile] = field(default_factory=list)
    recorded: bool = False

    @property
    def deliveries(self) -> int:
        return sum(f.recorded for f in self.files)


def _export_key_of(settings: Settings, text: str) -> str:
    keys = set(export_keys())
    path = Path(text)
    if path.is_absolute() or path.exists():
        try:
            path = path.resolve().relative_to(settings.exports_dir.resolve())
        except ValueError:
            raise SalesError(f"{text} is not a buyer file under {settings.exports_dir}") from None
    key = path.as_posix().removesuffix(".csv")
    if key not in keys:
        raise SalesError(f"{text!r} is not a buyer file (like luxury_outdoor/pool/tier_a.csv)")
    return key


def _read_export_file(settings: Settings, key: str) -> tuple[bytes, list[tuple[str, str]]]:
    path = settings.exports_dir / f"{key}.csv"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SalesError(f"{path} does not exist") from None
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    header = next(reader, [])
    if header != list(EXPORT_COLUMNS):
        raise SalesError(f"{path} does not start with the 17 export columns")
    names = {c.name.lower(): c.key for c in settings.cities.values()} | {k: k for k in settings.cities}
    keys = []
    for rec in reader:
        if not rec:
            continue
        row = dict(zip(header, rec))
        permit, city = _unquote(row["permit_id"]), _unquote(row["city"])
        keys.append((names.get(city.lower(), city.lower()), permit))
    return data, keys


def _unquote(cell: str) -> str:
    """Undo exports.neutralize's quote before a formula-looking cell."""
    return cell[1:] if cell.startswith("'") and re.match(r"[=+\-@\t\r]", cell[1:2]) else cell


def archive(settings: Settings, files: list[str] | None = None, *, buyer: str | None = None,
            sell: bool = False, dry_run: bool = False, refresh: bool = True) -> ArchivePlan:
    """The seed's step 5, for buyer files sent by hand: copy each into the buyer's package
    exports/_delivered/<today>/<buyer>/, record a delivery for every lead in it (and, with
    `sell`, a sale at the buyer's tier price), then rewrite the main files without them.

    Which files went to whom: `buyer` and/or `files`; by default every non-empty buyer file
    goes to each buyer whose terms (trade groups/categories and tiers) cover it.
    """
    day = settings.today()
    plan = ArchivePlan(day=day)
    wanted = [_export_key_of(settings, f) for f in files] if files else None
    with connect(settings.warehouse_path) as con:
        buyers = _all_buyers(con)
        chosen = [_find_buyer(con, buyer)] if buyer else list(buyers.values())
        if not chosen:
            raise SalesError("no buyers yet; add one with `leads buyers add`")
        pairs: list[tuple[Buyer, str]] = []
        for key in (wanted or export_keys()):
            # Named files went to the named buyer whatever its terms; otherwise by the terms.
            takers = chosen if (buyer and wanted) else [b for b in chosen if b.takes_file(key)]
            if wanted and not takers:
                raise SalesError(f"no buyer takes {key}.csv; say who got it with --buyer")
            pairs += [(b, key) for b in takers]
        contents = {key: _read_export_file(settings, key) for key in {k for _, k in pairs}}
        pairs = [(b, k) for b, k in pairs if contents[k][1]]        # empty files: nothing to archive
        all_keys = sorted({lk for k in {k for _, k in pairs} for lk in contents[k][1]})
        known = {(r[0], r[1]): r for r in con.execute(_LEAD_REF_SQL).fetchall()} if all_keys else {}
        missing = [f"{p} ({c})" for c, p in all_keys if (c, p) not in known]
        if missing:
            raise SalesError(f"{len(missing)} lead(s) in the files are not in the warehouse: "
                             f"{', '.join(missing[:5])}")
        holders = _holders(con, all_keys)
        sold_to = {(c, p, b) for c, p, b in con.execute("SELECT city, permit_id, buyer FROM sales").fetchall()}
        records, packages = [], {}
        for b, key in pairs:
            data, lead_keys = contents[key]
            folder = package_dir(settings, b, day)
            rel = folder.relative_to(settings.exports_dir.resolve()) / f"{key}.csv"
            done = ArchivedFile(buyer=b.name, key=key, rows=len(lead_keys), recorded=0, already=0)
            for lk in dict.fromkeys(lead_keys):
                held = holders.setdefault(lk, set())
                if b.name in held:
                    done.already += 1
                    continue
                problem = sharing_problem(held, b, buyers)
                if problem:
                    hint = "" if buyer else " (if only one buyer got the file, say which with --buyer)"
                    raise SalesError(f"{key}.csv cannot be archived for {b.name}: {lk[1]} ({lk[0]}): "
                                     f"{problem}{hint}")
                held.add(b.name)
                lead = LeadRef(*known[lk])
                price = b.price(lead.tier) if sell and (lk[0], lk[1], b.name) not in sold_to else None
                records.append({"city": lk[0], "permit_id": lk[1], "buyer": b.name, "file": str(rel),
                                "tier": lead.tier, "category": lead.category, "trade_group": lead.trade_group,
                                "score": lead.score, "price": str(price) if price else None})
                done.recorded += 1
                if price:
                    done.sold += 1
                    done.revenue += price
            plan.files.append(done)
            packages.setdefault(folder, {})[f"{key}.csv"] = data
        if dry_run or not records:
            return plan
        written: list[_Package] = []
        try:
            for folder, pkg_files in packages.items():
                pkg = _Package(folder, pkg_files)
                pkg.write()
                written.append(pkg)
            with transaction(con):
                _record(con, settings, pd.DataFrame.from_records(records), via="archive")
        except BaseException:
            for pkg in reversed(written):
                pkg.rollback()
            raise
        for pkg in written:
            pkg.commit()
        plan.recorded = True
    if refresh:
        refresh_files(settings, {f.key for f in plan.files})
    return plan


# ------------------------------------------------------------------------------ report

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
