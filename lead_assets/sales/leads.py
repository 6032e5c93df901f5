"""One lead's state on the sales side: find it, review it, hand-set its status, read its history.

Review decisions and hand-set statuses live in their own tables keyed by (city, permit_id);
rescoring rewrites `scored_leads` rows only, so it never touches them.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from lead_assets.exports.files import write_buyer_files, write_queue_file
from lead_assets.leads.projects import LEAD_OF_SQL
from lead_assets.sales.errors import SalesError
from lead_assets.sales.sharing import lead_holders
from lead_assets.config.settings import Settings
from lead_assets.warehouse.store import LATEST_REVIEW, LATEST_STATUS, MANUAL_STATUSES, only_match
from lead_assets.leads.taxonomy import TIERS, export_keys
from lead_assets.warehouse.connection import connect, retry_conflicts, transaction

REVIEW_DECISIONS = ("approve", "reject")


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


LEAD_REF_SQL = f"""
    SELECT s.city, s.permit_id, s.tier, s.category, s.trade_group, s.score, s.discarded, s.needs_review,
           s.review_reasons, r.decision, m.manual_status
    FROM scored_leads s
    LEFT JOIN {LATEST_REVIEW} r ON r.city = s.city AND r.permit_id = s.permit_id
    LEFT JOIN {LATEST_STATUS} m ON m.city = s.city AND m.permit_id = s.permit_id
"""


def resolve(con, settings: Settings, permit_id: str, city: str | None) -> LeadRef:
    permit_id = (permit_id or "").strip()
    if not permit_id:
        raise SalesError("give a permit id")
    # Any permit of a project names the project's one lead: it is never sold twice through two permits.
    sql = LEAD_REF_SQL + f" WHERE (s.permit_id = ? OR (s.city, s.permit_id) IN {LEAD_OF_SQL})"
    params = [permit_id, permit_id]
    if city:
        sql += " AND s.city = ?"
        params.append(settings.city(city).key)
    rows = con.execute(sql + " ORDER BY s.city", params).fetchall()
    row = only_match(rows, [r[0] for r in rows], permit_id, city and settings.city(city).name, SalesError)
    return LeadRef(*row)


def sellable_problem(lead: LeadRef) -> str | None:
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


def refresh_files(settings: Settings, keys=None) -> None:
    """Bring the main buyer files (all, or the export keys a change touched) and the review
    queue up to date after a change; unchanged files keep their bytes."""
    if keys is not None:
        valid = set(export_keys())
        keys = sorted({k for k in keys if k in valid})
    if keys is None or keys:
        write_buyer_files(settings, keys)
    write_queue_file(settings, "review")


def _record_on_lead(settings: Settings, permit_id: str, city: str | None, refresh: bool, record) -> LeadRef:
    """Resolve the lead and `record(con, lead)` in one transaction, then rewrite its buyer file."""
    with connect(settings.warehouse_path) as con, transaction(con):
        lead = resolve(con, settings, permit_id, city)
        record(con, lead)
    if refresh:
        refresh_files(settings, [lead.export_key])
    return lead


def _not_in_review(lead: LeadRef) -> str:
    if lead.decision:
        return f"it was already {'approved' if lead.decision == 'approve' else 'rejected'}"
    if lead.discarded:
        return "it is not a lead (discarded when scored)"
    if lead.tier == "RETRY":
        return "its scoring failed (tier RETRY)"
    return "it was not flagged for review"


@retry_conflicts  # DuckLake: a write that lost to another writer runs again
def review(settings: Settings, permit_id: str, decision: str, *, city: str | None = None,
           note: str | None = None, refresh: bool = True) -> LeadRef:
    """Approve (the lead enters the buyer files) or reject (it never does) a lead in the QA queue."""
    if decision not in REVIEW_DECISIONS:
        raise SalesError(f"a review decision is approve or reject, not {decision!r}")

    def record(con, lead: LeadRef) -> None:
        if not lead.in_review:
            raise SalesError(f"{lead.label} is not in review: {_not_in_review(lead)}")
        con.execute("""INSERT INTO lead_reviews (city, permit_id, decision, note, decided_at)
                       VALUES (?, ?, ?, ?, now()::TIMESTAMP)""", [lead.city, lead.permit_id, decision, note])
    return _record_on_lead(settings, permit_id, city, refresh, record)


def review_queue(settings: Settings) -> pd.DataFrame:
    with connect(settings.warehouse_path) as con:
        return con.execute(LEAD_REF_SQL + """
            WHERE s.needs_review AND NOT s.discarded AND s.tier <> 'RETRY' AND r.decision IS NULL
            ORDER BY s.score DESC, s.city, s.permit_id""").df()


@retry_conflicts  # DuckLake: a write that lost to another writer runs again
def set_status(settings: Settings, permit_id: str, status: str, *, city: str | None = None,
               note: str | None = None, refresh: bool = True) -> LeadRef:
    """Hand-set status: contacted, converted, dead; `new` clears a hand-set status."""
    if status in ("delivered", "sold"):
        raise SalesError(f"'{status}' is recorded by `leads {'deliver' if status == 'delivered' else 'sell'}`, "
                         "not set by hand")
    if status not in (*MANUAL_STATUSES, "new"):
        raise SalesError(f"unknown status {status!r}; set one of {', '.join(MANUAL_STATUSES)} (or new to clear)")

    def record(con, lead: LeadRef) -> None:
        held = lead_holders(con, [(lead.city, lead.permit_id)])
        if status == "converted" and not held:
            raise SalesError(f"{lead.label} was never delivered or sold, so it cannot be converted")
        if status == "new" and lead.manual_status in (None, "new"):
            raise SalesError(f"{lead.label} has no hand-set status to clear")
        con.execute("""INSERT INTO lead_status (city, permit_id, status, note, changed_at)
                       VALUES (?, ?, ?, ?, now()::TIMESTAMP)""", [lead.city, lead.permit_id, status, note])
    return _record_on_lead(settings, permit_id, city, refresh, record)


def lead_history(settings: Settings, permit_id: str, *, city: str | None = None) -> dict:
    """Everything recorded about one lead: reviews, deliveries, sales, statuses (oldest first)."""
    with connect(settings.warehouse_path) as con:
        lead = resolve(con, settings, permit_id, city)
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
