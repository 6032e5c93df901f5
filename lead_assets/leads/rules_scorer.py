"""The rules scorer: 0-100 from explainable factors, in SQL over `lead_inputs`.

Each factor is a column of points; the score is their sum around a base, clamped to
0-100 (other/other capped at 49); `reasoning` names every factor that moved it.
"""
from __future__ import annotations

from lead_assets.leads.taxonomy import TIER_SQL

BASE = 40

IDEAL_CONTRACTOR = {
    "pool": "pool builder or pool service company",
    "outdoor_living": "outdoor living contractor (patio covers, kitchens)",
    "fence": "fence contractor",
    "roof": "roofing contractor",
    "concrete": "concrete / flatwork contractor",
    "siding": "siding contractor",
    "windows": "window and door installer",
    "hvac": "HVAC contractor",
    "plumbing": "licensed plumber",
    "electrical": "licensed electrician",
    "foundation": "foundation repair company",
    "new_construction": "custom builder trades (pools, fences, landscaping, AV)",
    "remodel": "remodeling contractor",
    "addition": "general contractor for additions",
    "commercial_pool": "commercial pool contractor",
    "commercial_hvac": "commercial HVAC contractor",
    "commercial_electrical": "commercial electrical contractor",
    "commercial_plumbing": "commercial plumbing contractor",
    "other": "general contractor",
}

# Owner names that point to a business rather than a household.
BUSINESS_OWNER = r"\b(LLC|L\.L\.C|INC|LTD|LP|L\.P|CORP|CORPORATION|HOLDINGS|PROPERTIES|INVESTMENTS?|PARTNERS|REALTY|CAPITAL|COMPANY|CO|ASSOCIATION|HOA|CHURCH|ISD|APARTMENTS?)\b"
HOMEOWNER_MARKER = r"^\s*(home ?owner|owner|self|owner[- /]builder|property owner)\s*$"


def _case_map(col: str, mapping: dict[str, object], default: str = "NULL") -> str:
    if not mapping:
        return default
    arms = " ".join(f"WHEN '{k}' THEN {v if isinstance(v, int) else repr(v)}" for k, v in mapping.items())
    return f"CASE {col} {arms} ELSE {default} END"


def factors_sql(freshness_days: dict[str, int]) -> str:
    """SELECT list of factor columns over lead_inputs (alias i)."""
    default_window = int(freshness_days.get("default", 30))
    windows = {k: int(v) for k, v in freshness_days.items() if k != "default"}
    window = _case_map("replace(i.category, 'commercial_', '')", windows, str(default_window))
    return f"""
        {window} AS fresh_window,
        CASE WHEN i.est_project_cost IS NULL THEN -5
             WHEN i.est_project_cost >= 100000 THEN 20 WHEN i.est_project_cost >= 50000 THEN 15
             WHEN i.est_project_cost >= 20000 THEN 10 WHEN i.est_project_cost >= 5000 THEN 5 ELSE 0 END AS f_job,
        CASE WHEN i.market_value IS NULL THEN -5
             WHEN i.market_value >= 1000000 THEN 15 WHEN i.market_value >= 600000 THEN 10
             WHEN i.market_value >= 350000 THEN 5 ELSE 0 END AS f_home,
        CASE WHEN i.days_old <= {window} / 3 THEN 15 WHEN i.days_old <= {window} THEN 5 ELSE -20 END AS f_fresh,
        CASE i.is_absentee WHEN false THEN 10 WHEN true THEN -5 ELSE 0 END AS f_occupied,
        CASE WHEN i.homeowner_pulled THEN 10 ELSE 0 END AS f_pulled,
        CASE WHEN i.owner_name IS NULL THEN -10 WHEN i.mail_address IS NULL THEN -5 ELSE 0 END AS f_contact
    """


def score_sql() -> str:
    """SELECT list turning factor columns (alias f) into the lead's fields."""
    raw = f"{BASE} + f.f_job + f.f_home + f.f_fresh + f.f_occupied + f.f_pulled + f.f_contact"
    score = (f"CASE WHEN f.discard_reason IS NOT NULL THEN 0 "
             f"WHEN f.category = 'other' THEN least(greatest({raw}, 0), 49) "
             f"ELSE least(greatest({raw}, 0), 100) END")
    money = "'$' || format('{{:,}}', {}::BIGINT)"
    reasoning = f"""CASE WHEN f.discard_reason IS NOT NULL
            THEN 'not a lead: ' || replace(f.discard_reason, '_', ' ')
        ELSE concat_ws('; ',
            CASE WHEN f.f_job > 0 THEN 'job value ' || {money.format('f.est_project_cost')} || ' (+' || f.f_job || ')'
                 WHEN f.f_job < 0 THEN 'no job value (' || f.f_job || ')' END,
            CASE WHEN f.f_home > 0 THEN 'home value ' || {money.format('f.market_value')} || ' (+' || f.f_home || ')'
                 WHEN f.f_home < 0 THEN 'no market value (' || f.f_home || ')' END,
            CASE WHEN f.f_fresh > 0 THEN f.days_old || ' days old, fresh for ' || f.category || ' (+' || f.f_fresh || ')'
                 ELSE f.days_old || ' days old, past the ' || f.fresh_window || '-day window for ' || f.category
                      || ' (' || f.f_fresh || ')' END,
            CASE WHEN f.f_occupied > 0 THEN 'owner-occupied (+' || f.f_occupied || ')'
                 WHEN f.f_occupied < 0 THEN 'absentee owner (' || f.f_occupied || ')' END,
            CASE WHEN f.f_pulled > 0 THEN 'pulled by the homeowner (+' || f.f_pulled || ')' END,
            CASE WHEN f.f_contact < 0 THEN
                 (CASE WHEN f.owner_name IS NULL THEN 'no owner name' ELSE 'no mailing address' END)
                 || ' (' || f.f_contact || ')' END,
            CASE WHEN f.category = 'other' AND {raw} > 49 THEN 'uncategorized: capped at tier C' END)
        END"""
    return f"""
        ({score})::INTEGER AS score,
        {reasoning} AS reasoning
    """


def lead_fields_sql() -> str:
    """SELECT list over the scored rows (alias s): tier, ideal contractor, contact priority, flags."""
    ideal = _case_map("s.category", IDEAL_CONTRACTOR, "'general contractor'")
    tier = TIER_SQL.format(s="s.score")
    return f"""
        {tier} AS tier,
        {ideal} AS ideal_contractor,
        CASE WHEN s.discard_reason IS NOT NULL THEN 'skip'
             WHEN s.owner_name IS NULL AND s.property_address IS NULL THEN 'skip'
             WHEN s.score >= 80 THEN 'call' ELSE 'email' END AS contact_priority
    """
