"""Vocabulary drift per partition: the share of `other` and of permit types never seen.

A feed that renames its permit types sends its permits to `other` (or to the wrong
trade) silently; these figures make that visible per city-day, and the check warns when
they jump against the city's recent days.
"""
from __future__ import annotations

from lead_assets.leads.classify import default_rules

VOCAB = "coalesce(r.permit_type, '') || ' | ' || coalesce(r.work_class, '')"


def drift_sql() -> str:
    """Per partition in `parts`: rows, other_share, new_type_share, baseline_other, history_days."""
    days = int(default_rules().drift.get("baseline_days", 28))
    return f"""
        WITH cur AS (
            SELECT s.city, s.permit_day, s.category, {VOCAB} AS vocab
            FROM scored_leads s JOIN parts USING (city, permit_day)
            JOIN raw_permits r ON r.city = s.city AND r.permit_num = s.permit_id AND r.permit_day = s.permit_day
            WHERE NOT s.discarded
        ), first_seen AS (
            SELECT r.city, {VOCAB} AS vocab, min(r.permit_day) AS first_day
            FROM raw_permits r WHERE r.city IN (SELECT city FROM parts) GROUP BY ALL
        ), base AS (
            SELECT p.city, p.permit_day, avg((s.category = 'other')::INT) AS baseline_other,
                   count(DISTINCT s.permit_day) AS history_days
            FROM parts p JOIN scored_leads s ON s.city = p.city AND NOT s.discarded
                 AND s.permit_day BETWEEN p.permit_day - {days} AND p.permit_day - 1
            GROUP BY ALL
        )
        SELECT p.city, p.permit_day, count(cur.category) AS rows,
            coalesce(avg((cur.category = 'other')::INT), 0) AS other_share,
            coalesce(avg((f.first_day >= cur.permit_day)::INT), 0) AS new_type_share,
            list(DISTINCT cur.vocab) FILTER (WHERE f.first_day >= cur.permit_day) AS new_types,
            b.baseline_other, coalesce(b.history_days, 0) AS history_days
        FROM parts p LEFT JOIN cur USING (city, permit_day)
        LEFT JOIN first_seen f ON f.city = cur.city AND f.vocab = cur.vocab
        LEFT JOIN base b ON b.city = p.city AND b.permit_day = p.permit_day
        GROUP BY p.city, p.permit_day, b.baseline_other, b.history_days
        ORDER BY p.city, p.permit_day
    """


def drift_warnings(rows: list[dict]) -> list[str]:
    """One line per partition whose vocabulary jumped (rows from `drift_sql`)."""
    cfg = default_rules().drift
    min_rows, jump, new_share = int(cfg.get("min_rows", 20)), cfg.get("other_jump", 0.15), cfg.get("new_type_share", 0.25)
    min_history = int(cfg.get("min_history_days", 7))
    out = []
    for r in rows:
        if r["rows"] < min_rows or r["history_days"] < min_history:
            continue  # too few permits to judge, or a city too new to know its vocabulary
        where = f"{r['city']} {r['permit_day']:%Y-%m-%d}"
        if r["baseline_other"] is not None and r["other_share"] - r["baseline_other"] > jump:
            out.append(f"{where}: {r['other_share']:.0%} in other (was {r['baseline_other']:.0%})")
        if r["new_type_share"] > new_share:
            types = ", ".join(sorted(() if r["new_types"] is None else r["new_types"])[:3])
            out.append(f"{where}: {r['new_type_share']:.0%} of permits have a type never seen before ({types})")
    return out
