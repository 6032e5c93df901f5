"""`sell`: a sale made by hand, at the buyer's tier price or a given one."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from lead_assets.sales.buyers import all_buyers, find_buyer
from lead_assets.sales.errors import SalesError
from lead_assets.sales.leads import refresh_files, resolve, sellable_problem
from lead_assets.sales.money import parse_money
from lead_assets.sales.sharing import lead_holders, sharing_problem
from lead_assets.config.settings import Settings
from lead_assets.warehouse.connection import connect, retry_conflicts, transaction


@dataclass(frozen=True)
class Sale:
    city: str
    permit_id: str
    buyer: str
    price: Decimal
    tier: str
    category: str
    outside_terms: bool = False       # the buyer's record does not list this category/tier/city


@retry_conflicts  # DuckLake: a write that lost to another writer runs again
def sell(settings: Settings, permit_id: str, buyer: str, price=None, *, city: str | None = None,
         note: str | None = None, refresh: bool = True) -> Sale:
    """Record a sale made by hand. No price: the buyer's price for the lead's tier."""
    if price is not None:
        price = parse_money(price)
    with connect(settings.warehouse_path) as con, transaction(con):
        lead = resolve(con, settings, permit_id, city)
        b = find_buyer(con, buyer)
        problem = sellable_problem(lead)
        if problem:
            raise SalesError(f"cannot sell {lead.label}: {problem}")
        holders = lead_holders(con, [(lead.city, lead.permit_id)]).get((lead.city, lead.permit_id), set())
        sold_to = {r[0] for r in con.execute("SELECT buyer FROM sales WHERE city = ? AND permit_id = ?",
                                             [lead.city, lead.permit_id]).fetchall()}
        if b.name in sold_to:
            raise SalesError(f"{lead.label} is already sold to {b.name}")
        problem = sharing_problem(holders, b, all_buyers(con))
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
