"""Who may (also) get a lead: the exclusive / shared rules.

A lead's *holders* are the buyers it was delivered or sold to. An exclusive buyer only takes
a lead nobody holds, and a lead an exclusive buyer holds goes to nobody else. A shared lead
goes to at most `max_buyers` buyers (the smallest limit among its holders and the new buyer).
A buyer never gets the same lead twice.
"""
from __future__ import annotations

import pandas as pd

from lead_assets.sales.buyers import Buyer


def lead_holders(con, keys: list[tuple[str, str]] | None = None) -> dict[tuple[str, str], set[str]]:
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
