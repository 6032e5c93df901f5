"""The lead taxonomy, tiers and the export file layout: the seed's reference tables as data."""
from __future__ import annotations

TRADE_GROUPS: dict[str, tuple[str, ...]] = {
    "luxury_outdoor": ("pool", "outdoor_living", "fence"),
    "home_exterior": ("roof", "concrete", "siding", "windows"),
    "home_systems": ("hvac", "plumbing", "electrical"),
    "structural": ("foundation", "new_construction", "remodel", "addition"),
    "commercial": ("commercial_pool", "commercial_hvac", "commercial_electrical", "commercial_plumbing"),
    "other": ("other",),
}
GROUP_OF: dict[str, str] = {cat: group for group, cats in TRADE_GROUPS.items() for cat in cats}
CATEGORIES: tuple[str, ...] = tuple(GROUP_OF)

# The seed's 17 columns, in its order.
EXPORT_COLUMNS: tuple[str, ...] = (
    "permit_id", "city", "property_address", "owner_name", "project_description",
    "market_value", "days_old", "is_absentee", "score", "tier", "trade_group", "category",
    "reasoning", "ideal_contractor", "contact_priority", "flags", "scored_at",
)

TIERS = ("A", "B", "C")
CONTACT_PRIORITIES = ("call", "email", "skip")

# Uncategorized work never rises above tier C.
CAPPED_AT_C = frozenset({"other"})

REVIEW_FILE = "flagged/needs_review.csv"
RETRY_FILE = "pending_retry/retry_queue.csv"


# A 80-100, B 50-79, C 0-49, RETRY -1: the only place a tier is decided (scoring.write).
TIER_SQL = (
    "CASE WHEN {s} = -1 THEN 'RETRY' WHEN {s} >= 80 THEN 'A' WHEN {s} >= 50 THEN 'B' ELSE 'C' END"
)


def export_key(category: str, tier: str) -> str:
    return f"{GROUP_OF[category]}/{category}/tier_{tier.lower()}"


def export_keys() -> list[str]:
    """Every buyer file: one per category and tier (other/other only tier C)."""
    return [
        export_key(cat, tier)
        for cat in CATEGORIES
        for tier in (("C",) if cat in CAPPED_AT_C else TIERS)
    ]
