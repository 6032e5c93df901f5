"""Buyers: who takes which leads (trade groups / categories, tiers, cities), at what price, shared or not.

A buyer's name becomes its delivery folder (`buyer_slug`), so names are checked for path tricks.
Past deliveries and sales keep their own prices; a buyer with records can be changed, not removed.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from lead_assets.sales.errors import SalesError
from lead_assets.sales.money import parse_money
from lead_assets.config.settings import Settings
from lead_assets.leads.taxonomy import CATEGORIES, TIERS, TRADE_GROUPS
from lead_assets.warehouse.connection import connect, retry_conflicts, transaction

DEFAULT_MAX_BUYERS = 3                      # a shared buyer's default limit on buyers per lead


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


def all_buyers(con) -> dict[str, Buyer]:
    rows = con.execute(f"SELECT {_BUYER_COLUMNS} FROM buyers ORDER BY created_at, name").fetchall()
    return {r[0]: _buyer_from_row(r) for r in rows}


def find_buyer(con, name: str) -> Buyer:
    buyers = all_buyers(con)
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
        return list(all_buyers(con).values())


def get_buyer(settings: Settings, name: str) -> Buyer:
    with connect(settings.warehouse_path) as con:
        return find_buyer(con, name)


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


@retry_conflicts  # DuckLake: a write that lost to another writer runs again
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
        for other in all_buyers(con).values():
            if other.name.lower() == buyer.name.lower() or other.slug == buyer.slug:
                raise SalesError(f"buyer {other.name!r} already exists (its delivery folder is {other.slug!r}); "
                                 "use `leads buyers update`")
        _write_buyer(con, buyer, new=True)
    return buyer


@retry_conflicts  # DuckLake: a write that lost to another writer runs again
def update_buyer(settings: Settings, name: str, *, contact=_UNSET, trade_groups=_UNSET, categories=_UNSET,
                 tiers=_UNSET, cities=_UNSET, price_a=_UNSET, price_b=_UNSET, price_c=_UNSET, exclusive=_UNSET,
                 max_buyers=_UNSET) -> Buyer:
    """Change what a buyer takes or pays; past deliveries and sales keep their prices."""
    with connect(settings.warehouse_path) as con, transaction(con):
        old = find_buyer(con, name)
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


@retry_conflicts  # DuckLake: a write that lost to another writer runs again
def remove_buyer(settings: Settings, name: str) -> None:
    """Only a buyer with no deliveries or sales can go (those records are never erased)."""
    with connect(settings.warehouse_path) as con, transaction(con):
        buyer = find_buyer(con, name)
        n = con.execute("""SELECT (SELECT count(*) FROM deliveries WHERE buyer = $1)
                                + (SELECT count(*) FROM sales WHERE buyer = $1)""", [buyer.name]).fetchone()[0]
        if n:
            raise SalesError(f"buyer {buyer.name!r} has {n} delivery/sale record(s); those are kept, "
                             "so the buyer stays (change what it takes with `leads buyers update`)")
        con.execute("DELETE FROM buyers WHERE name = ?", [buyer.name])


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
