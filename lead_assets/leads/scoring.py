"""raw_permits + property_records -> scored_leads for a set of city x day partitions.

Three steps, so that a model scorer never holds the warehouse open across its calls:
1. `prepare()` (one short connection): enrich, classify and rules-score the permits.
2. a scorer turns those candidates into final scores (rules: as they are).
3. `write()` (one short connection): tier, flags and review reasons in SQL, then replace
   the partitions' rows in one transaction.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from lead_assets.leads import projects
from lead_assets.sources.addresses import install_macros
from lead_assets.leads.classify import (address_commercial_sql, matches_sql, type_sql, classify_sql, default_rules, owner_commercial_sql,
                                  party_discard_sql, party_key_sql, permit_trade_sql)
from lead_assets.leads.rules_scorer import BUSINESS_OWNER, HOMEOWNER_MARKER, factors_sql, lead_fields_sql, score_sql
from lead_assets.config.errors import ConfigError
from lead_assets.config.settings import Settings
from lead_assets.leads.taxonomy import GROUP_OF, TIER_SQL
from lead_assets.warehouse.connection import connect, register_partitions, retry_conflicts, transaction


@dataclass
class ScoreReport:
    scored: int = 0
    per_tier: dict[str, int] = field(default_factory=dict)
    per_group: dict[str, int] = field(default_factory=dict)
    discarded: int = 0
    needs_review: int = 0
    by_partition: dict[tuple[str, date], dict[str, int]] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict)  # scorer figures (calls, cost, ...)


def _quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


# The partitions rescored whole (their rows replaced, permits gone from the feed dropped).
# retry_only=None ("auto", a run launched with the default config, e.g. a UI backfill of the
# failed partitions): a partition that holds RETRY rows and is otherwise scored as it stands
# rescores only its RETRY rows; any other partition is rescored whole. "Scored as it stands":
# each raw permit is in a project with a lead (its one scored row, which may be a permit of
# another day; view project_permits) and each scored row is a raw permit of the day. It is decided before the
# projects are regrouped, so a permit that landed since the last score (no project yet)
# makes its partition rescore whole.
FULL_PARTS_SQL = {
    False: "SELECT city, permit_day FROM parts",
    True: "SELECT city, permit_day FROM parts WHERE false",
    None: """SELECT city, permit_day FROM parts p WHERE NOT (
        EXISTS (SELECT 1 FROM scored_leads s WHERE s.city = p.city AND s.permit_day = p.permit_day
                AND s.tier = 'RETRY')
        AND NOT EXISTS (SELECT 1 FROM raw_permits r WHERE r.city = p.city AND r.permit_day = p.permit_day
                        AND NOT EXISTS (SELECT 1 FROM project_permits m WHERE m.city = r.city
                                        AND m.permit_num = r.permit_num AND m.lead_permit IS NOT NULL))
        AND NOT EXISTS (SELECT 1 FROM scored_leads s WHERE s.city = p.city AND s.permit_day = p.permit_day
                        AND NOT EXISTS (SELECT 1 FROM raw_permits r WHERE r.city = s.city
                                        AND r.permit_num = s.permit_id AND r.permit_day = s.permit_day)))""",
}


def prepare(con, settings: Settings, partitions: list[tuple[str, date]], *, limit: int | None = None,
            retry_only: bool | None = False) -> None:
    """Temp tables `candidates` (enriched permits with classification and the rules score)
    and `full_parts` (the partitions rescored whole; see FULL_PARTS_SQL)."""
    if limit is not None and limit < 0:
        raise ConfigError(f"limit must be 0 or more, not {limit}")
    install_macros(con)
    register_partitions(con, partitions)
    con.execute(f"CREATE OR REPLACE TEMP TABLE full_parts AS {FULL_PARTS_SQL[retry_only]}")
    names = pd.DataFrame([(c.key, c.name) for c in settings.cities.values()], columns=["city", "name"])
    con.register("_city_frame", names)
    con.execute("CREATE OR REPLACE TEMP TABLE city_names AS "
                "SELECT city::VARCHAR AS city, city_key(name::VARCHAR) AS city_key FROM _city_frame")
    con.unregister("_city_frame")
    today = settings.today()
    rules = default_rules()
    city_rules = {c.key: c.classify for c in settings.cities.values()}
    cls = classify_sql(rules, city_rules)
    retry_filter = ("AND ((r.city, r.permit_day) IN (SELECT city, permit_day FROM full_parts) OR "
                    "(r.city, r.permit_num) IN (SELECT city, permit_id FROM scored_leads WHERE tier = 'RETRY'))")
    seed_order = f"ORDER BY r.city, r.permit_day, r.permit_num LIMIT {int(limit)}" if limit is not None else ""
    # The city takes part in the classification only through its type map: the permits of
    # cities without one share their classes (the same texts recur from city to city).
    typed = [key for key, cr in city_rules.items() if cr.types]
    typed_city = (f"CASE WHEN base.city IN ({', '.join(_quote(k) for k in typed)}) THEN base.city ELSE '' END"
                  if typed else "''")
    words = "list_filter(regexp_split_to_array(upper({}), '[^A-Z]+'), lambda w: length(w) >= 3 AND w NOT IN ('AND', 'THE'))"
    projects.refresh(con, settings, [c for c, _ in partitions])
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE lead_base AS
        WITH seeds AS (
            -- the permits these partitions (and --limit / --retry-only) pick ...
            SELECT r.city, r.permit_num FROM raw_permits r
            JOIN parts USING (city, permit_day)
            WHERE true {retry_filter}
            {seed_order}
        ), members AS (
            -- ... and every permit of their projects, whichever day it was issued (a permit
            -- is in one project)
            SELECT m.city, m.permit_num, m.project_id, m.is_building
            FROM (SELECT DISTINCT p.city, p.project_id FROM seeds
                  JOIN permit_projects p ON p.city = seeds.city AND p.permit_num = seeds.permit_num) s
            JOIN permit_projects m ON m.city = s.city AND m.project_id = s.project_id
        ), prop AS (
            -- the best appraisal record of each address these permits name
            SELECT * FROM property_records
            WHERE (city_key, address_key) IN (
                SELECT c.city_key, r.address_key FROM raw_permits r
                JOIN members mem ON mem.city = r.city AND mem.permit_num = r.permit_num
                JOIN city_names c ON c.city = r.city)
            QUALIFY row_number() OVER (PARTITION BY city_key, address_key
                                       ORDER BY market_value DESC NULLS LAST, prop_id) = 1
        ), base AS (
            SELECT mem.project_id, mem.is_building, r.city, r.permit_day, r.permit_num AS permit_id, r.original_address AS property_address,
                coalesce(p.owner_name, r.owner_name) AS owner_name, r.description AS project_description,
                p.market_value, r.issued_date, r.est_project_cost, p.mail_address,
                CASE WHEN p.prop_id IS NULL OR p.mail_key IS NULL THEN NULL
                     ELSE p.mail_key <> p.address_key OR coalesce(city_key(p.mail_city), p.city_key) <> p.city_key
                END AS is_absentee,
                r.permit_type, r.work_class, r.description, r.description_truncated, r.address_key,
                r.applicant_name, r.contractor_name,
                datediff('day', r.permit_day, DATE '{today}') AS days_old,
                concat_ws(' | ', r.contractor_name, r.applicant_name, coalesce(p.owner_name, r.owner_name)) AS parties,
                {permit_trade_sql('r.permit_num', 'r.city', rules, city_rules)} AS permit_trade,
                {address_commercial_sql('r.original_address', rules)} AS addr_commercial,
                {owner_commercial_sql('coalesce(p.owner_name, r.owner_name)', rules)} AS owner_commercial
            FROM raw_permits r
            JOIN members mem ON mem.city = r.city AND mem.permit_num = r.permit_num
            LEFT JOIN city_names c ON c.city = r.city
            LEFT JOIN prop p ON p.address_key = r.address_key AND p.city_key = c.city_key
        )
        SELECT base.*, coalesce(old.attempts, 0) AS prev_attempts, old.tier AS prev_tier,
            concat_ws(chr(31), {typed_city}, coalesce(base.permit_trade, ''), base.addr_commercial::VARCHAR,
                      base.owner_commercial::VARCHAR,
                      coalesce(base.permit_type, ''), coalesce(base.work_class, ''),
                      coalesce(base.description, '')) AS class_key
        FROM base LEFT JOIN scored_leads old ON old.city = base.city AND old.permit_id = base.permit_id
    """)
    # Classify each distinct (type, work class, text) once: feeds repeat them a lot.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE lead_classes AS
        SELECT class_key, {cls['category']} AS category, {cls['discard_reason']} AS text_discard,
            {cls['class_flags']} AS class_flags
        FROM (SELECT *, {cls['layer']}
              FROM (SELECT DISTINCT ON (class_key) class_key, city, permit_trade, addr_commercial, owner_commercial,
                           permit_type, work_class, description FROM lead_base))
    """)
    _volume_builders(con, rules, city_rules)
    _public_addresses(con, rules, cls)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE permit_inputs AS
        SELECT * EXCLUDE (class_key, text_discard),
            coalesce({party_discard_sql('parties', rules)},
                     CASE WHEN vb.party IS NOT NULL THEN 'production_builder' END,
                     CASE WHEN ga.site_key IS NOT NULL THEN 'government' END, text_discard) AS discard_reason,
            regexp_matches(coalesce(contractor_name, ''), '{HOMEOWNER_MARKER}', 'i')
              OR (contractor_name IS NULL AND applicant_name IS NOT NULL AND owner_name IS NOT NULL
                  AND list_has_any({words.format('applicant_name')}, {words.format('owner_name')}))
              AS homeowner_pulled
        FROM lead_base JOIN lead_classes USING (class_key)
        LEFT JOIN volume_builder_permits vb USING (city, permit_id)
        LEFT JOIN public_addresses ga ON ga.city = lead_base.city
             AND ga.site_key = {SITE_KEY.format(k="lead_base.address_key")}
    """)
    # One candidate per project: the model is asked (and paid) once per project.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE candidates AS
        WITH lead_inputs AS ({projects.aggregate_sql('permit_inputs')}),
        f AS (SELECT i.*, {factors_sql(settings.freshness_days)} FROM lead_inputs i)
        SELECT f.*, {score_sql()}, 'rules' AS scorer, NULL::VARCHAR AS model_flags,
               NULL::VARCHAR AS ideal_contractor_override, NULL::VARCHAR AS contact_priority_override,
               0 AS attempts, NULL::VARCHAR AS last_error, NULL::VARCHAR AS extra_review
        FROM f
    """)


# The site of an address key: without its unit, suite or building ("1438 CORONADO HLS DR # 18").
SITE_KEY = "regexp_replace({k}, ' (#|APT|UNIT|STE|BLDG|FL|RM|LOT|SPC|TRLR)( .*)?$', '')"


def _public_addresses(con, rules, cls) -> None:
    """Temp table `public_addresses`: a commercial property where any permit of the feed names
    a government owner or applicant (a housing authority's complex) is public work for
    every permit at that address, though most of them name only the contractor."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE public_addresses AS
        SELECT DISTINCT r.city, {SITE_KEY.format(k="r.address_key")} AS site_key FROM raw_permits r
        WHERE r.city IN (SELECT DISTINCT city FROM lead_base) AND r.address_key IS NOT NULL
          AND {party_discard_sql("concat_ws(' | ', r.contractor_name, r.applicant_name, r.owner_name)", rules)} = 'government'
          AND {matches_sql(type_sql("r.permit_type", "r.work_class"), rules.raw["commercial"]["type"], "[commercial] type")}
    """)


def _volume_builders(con, rules, city_rules) -> None:
    """Temp table `volume_builder_permits`: permits whose contractor or applicant pulled at
    least `min_new_homes` new-home building permits in the city within `window_days`."""
    vb = rules.volume_builders
    trade = permit_trade_sql("r.permit_num", "r.city", rules, city_rules)
    raw = classify_sql(rules, city_rules, city="r.city", permit_trade=trade,
                       permit_type="r.permit_type", work_class="r.work_class", description="r.description",
                       addr_commercial=address_commercial_sql("r.original_address", rules),
                       owner_commercial=owner_commercial_sql("r.owner_name", rules))
    w = int(vb["window_days"])
    not_trade = matches_sql("party", list(vb.get("not_parties", [])), "[volume_builders] not_parties")
    # Names repeat a lot (a builder pulls hundreds of permits): each distinct name is reduced
    # to its party key, and checked against not_parties, once.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE volume_builder_permits AS
        WITH lead_names AS (
            SELECT city, permit_day, permit_id, unnest([contractor_name, applicant_name]) AS x FROM lead_base
        ), home_names AS (
            SELECT r.city, r.permit_day, r.permit_num, unnest([r.contractor_name, r.applicant_name]) AS x
            FROM raw_permits r
            WHERE r.city IN (SELECT DISTINCT city FROM lead_base)
              AND r.permit_day BETWEEN (SELECT min(permit_day) FROM lead_base) - {w}
                                   AND (SELECT max(permit_day) FROM lead_base) + {w}
              AND coalesce({trade}, 'building') = 'building' AND {raw['new_home']}
        ), names AS (
            -- (no filter here: DuckDB would push it below the UNION, keying every row again)
            SELECT x, party, {not_trade} AS not_builder
            FROM (SELECT x, {party_key_sql('x')} AS party
                  FROM (SELECT x FROM lead_names UNION SELECT x FROM home_names))
        ), leads AS (
            SELECT DISTINCT l.city, l.permit_day, l.permit_id, n.party
            FROM lead_names l JOIN names n USING (x) WHERE n.party IS NOT NULL AND NOT n.not_builder
        ), homes AS (
            SELECT DISTINCT h.city, h.permit_day, h.permit_num, n.party FROM home_names h JOIN names n USING (x)
        )
        SELECT l.city, l.permit_id, l.party
        FROM leads l JOIN homes h ON h.city = l.city AND h.party = l.party
             AND h.permit_day BETWEEN l.permit_day - {w} AND l.permit_day + {w}
        GROUP BY l.city, l.permit_id, l.party
        HAVING count(DISTINCT h.permit_num) >= {int(vb["min_new_homes"])}
        QUALIFY row_number() OVER (PARTITION BY l.city, l.permit_id ORDER BY l.party) = 1
    """)


def write(con, settings: Settings, partitions: list[tuple[str, date]], *,
          full_parts: list[tuple[str, date]]) -> ScoreReport:
    """Replace the scored rows (the `full_parts` partitions whole, or just the rescored permits)
    in one transaction. A permit that left a partition rescored whole (deleted from a re-sent
    file, now quarantined, or moved to another day) loses its scored row there.

    Reads the temp view (or table) `final_scores` (candidates with the scorer's verdict and `rules_score`).
    """
    register_partitions(con, partitions)
    con.execute("CREATE OR REPLACE TEMP TABLE full_parts AS SELECT unnest(?::VARCHAR[]) AS city, "
                "unnest(?::DATE[]) AS permit_day", [[c for c, _ in full_parts], [d for _, d in full_parts]])
    groups = " ".join(f"WHEN '{c}' THEN '{g}'" for c, g in GROUP_OF.items())
    tier = TIER_SQL.format(s="score")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE new_leads AS
        WITH s AS (
            SELECT s.*, {lead_fields_sql()} FROM final_scores s
        ), r AS (
            SELECT s.*, nullif(concat_ws('|',
                CASE WHEN discard_reason IS NULL AND tier <> 'RETRY' AND category <> 'other' AND score < 30
                     THEN 'low_score' END,
                CASE WHEN discard_reason IS NULL AND category NOT LIKE 'commercial%' AND category <> 'other'
                      AND regexp_matches(upper(coalesce(owner_name, '')), '{BUSINESS_OWNER}')
                     THEN 'commercial_owner' END,
                CASE WHEN discard_reason IS NULL AND property_address IS NULL THEN 'missing_address' END,
                CASE WHEN discard_reason IS NULL AND est_project_cost > market_value
                     THEN 'job_exceeds_home_value' END,
                extra_review), '') AS review_reasons
            FROM s
        )
        SELECT city, permit_day, permit_id, property_address, owner_name, project_description,
            market_value, issued_date, is_absentee, score, {tier} AS tier,
            CASE category {groups} END AS trade_group, category,
            -- convention: the project's other permit numbers end the reasoning
            concat_ws('; ', reasoning, project_note) AS reasoning, project_id,
            coalesce(ideal_contractor_override, ideal_contractor) AS ideal_contractor,
            CASE WHEN {tier} = 'RETRY' THEN 'skip'
                 ELSE coalesce(contact_priority_override, contact_priority) END AS contact_priority,
            nullif(concat_ws('|',
                'discarded:' || discard_reason, class_flags,
                CASE WHEN is_absentee THEN 'absentee_owner' END,
                CASE WHEN owner_name IS NULL THEN 'no_owner' END,
                CASE WHEN market_value IS NULL THEN 'no_market_value' END,
                CASE WHEN est_project_cost IS NULL THEN 'no_job_value' END,
                CASE WHEN f_fresh < 0 THEN 'stale' END,
                CASE WHEN homeowner_pulled THEN 'homeowner_pulled' END,
                CASE WHEN description_truncated THEN 'description_truncated' END,
                model_flags,
                CASE WHEN review_reasons IS NOT NULL THEN 'review:' || replace(review_reasons, '|', '|review:') END,
                CASE WHEN {tier} = 'RETRY' THEN 'retry:' || coalesce(last_error, 'unknown') END
            ), '') AS flags,
            now()::TIMESTAMP AS scored_at, scorer, discard_reason IS NOT NULL AS discarded,
            review_reasons IS NOT NULL AS needs_review, review_reasons, attempts, last_error, rules_score
        FROM r
    """)
    # A rescore that changes nothing keeps the row's scored_at, so its export files keep their bytes.
    con.execute("""
        UPDATE new_leads n SET scored_at = o.scored_at FROM scored_leads o
        WHERE o.city = n.city AND o.permit_id = n.permit_id
          AND o.score = n.score AND o.tier = n.tier AND o.category = n.category
          AND o.reasoning IS NOT DISTINCT FROM n.reasoning AND o.flags IS NOT DISTINCT FROM n.flags
          AND o.owner_name IS NOT DISTINCT FROM n.owner_name
          AND o.market_value IS NOT DISTINCT FROM n.market_value
          AND o.is_absentee IS NOT DISTINCT FROM n.is_absentee
          AND o.property_address IS NOT DISTINCT FROM n.property_address
          AND o.project_description IS NOT DISTINCT FROM n.project_description
          AND o.ideal_contractor IS NOT DISTINCT FROM n.ideal_contractor
          AND o.contact_priority IS NOT DISTINCT FROM n.contact_priority
          AND o.permit_day = n.permit_day
    """)
    # keys: a project's rows are dropped city-wide (its permits span days)
    with transaction(con, keys={c for c, _ in partitions} | {c for c, _ in full_parts}):
        con.execute("DELETE FROM scored_leads WHERE (city, permit_day) IN (SELECT city, permit_day FROM full_parts)")
        # A project has one row, under its lead permit: drop any row one of its permits had
        # (the lead moves when a building permit arrives after its trade permits).
        con.execute("""DELETE FROM scored_leads WHERE (city, permit_id) IN (
                           SELECT m.city, m.permit_num FROM permit_projects m
                           JOIN (SELECT DISTINCT city, project_id FROM new_leads) n USING (city, project_id)
                           UNION SELECT city, permit_id FROM new_leads)""")
        con.execute("INSERT INTO scored_leads BY NAME SELECT * EXCLUDE (project_id) FROM new_leads")
    return _report(con, partitions)


def _report(con, partitions) -> ScoreReport:
    rep = ScoreReport()
    rows = con.execute("""
        SELECT city, permit_day, tier, trade_group, discarded, needs_review, count(*)
        FROM new_leads GROUP BY ALL
    """).fetchall()
    for city, day, tier, group, discarded, review, n in rows:
        rep.scored += n
        rep.per_tier[tier] = rep.per_tier.get(tier, 0) + n
        if discarded:
            rep.discarded += n
        else:
            rep.per_group[group] = rep.per_group.get(group, 0) + n
        rep.needs_review += n if review else 0
        part = rep.by_partition.setdefault((city, day), {"A": 0, "B": 0, "C": 0, "RETRY": 0, "rows": 0})
        part[tier] += n
        part["rows"] += n
    for key in partitions:
        rep.by_partition.setdefault(tuple(key), {"A": 0, "B": 0, "C": 0, "RETRY": 0, "rows": 0})
    return rep


def score(settings: Settings, partitions: list[tuple[str, date]], *, scorer=None, limit: int | None = None,
          retry_only: bool | None = False) -> ScoreReport:
    """Score the partitions with the rules, or with `scorer(candidates) -> final`.

    A scorer gets the candidates as a DataFrame (no warehouse connection is open while it
    runs) and returns it with score/reasoning/... replaced and a `rules_score` column; it
    may put its figures (calls, cost, ...) in `final.attrs["report"]`.
    """
    if scorer is None:  # the rules: everything stays in SQL, in one connection
        return _score_rules(settings, partitions, limit=limit, retry_only=retry_only)
    with connect(settings.warehouse_path) as con:
        prepare(con, settings, partitions, limit=limit, retry_only=retry_only)
        # A --limit run leaves the rest of its partitions as they were.
        whole = [] if limit is not None else con.execute("SELECT city, permit_day FROM full_parts").fetchall()
        candidates = con.execute("SELECT * FROM candidates").df()
        types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE candidates)").fetchall())
    final = scorer(candidates)
    report = _write_final(settings, partitions, final, types, full_parts=whole)
    report.extra.update(final.attrs.get("report", {}))
    return report


@retry_conflicts  # DuckLake: a write that lost to another process runs again from a fresh snapshot
def _score_rules(settings: Settings, partitions, *, limit, retry_only) -> ScoreReport:
    with connect(settings.warehouse_path) as con:
        prepare(con, settings, partitions, limit=limit, retry_only=retry_only)
        whole = [] if limit is not None else con.execute("SELECT city, permit_day FROM full_parts").fetchall()
        # A view, not a copy of the wide rows.
        con.execute("CREATE OR REPLACE TEMP VIEW final_scores AS SELECT *, score AS rules_score FROM candidates")
        return write(con, settings, partitions, full_parts=whole)


@retry_conflicts  # only the write runs again: the scorer's (model's) answers are kept
def _write_final(settings: Settings, partitions, final: pd.DataFrame, types: dict[str, str], *,
                 full_parts) -> ScoreReport:
    # The frame's columns get the candidates' SQL types back: pandas keeps an all-NULL text
    # column as objects, which DuckDB reads as INTEGER (a partition with no owner names).
    columns = ", ".join(f'CAST("{c}" AS {types[c]}) AS "{c}"' if c in types else f'"{c}"' for c in final.columns)
    with connect(settings.warehouse_path) as con:
        con.register("final_frame", final)
        con.execute(f"CREATE OR REPLACE TEMP TABLE final_scores AS SELECT {columns} FROM final_frame")
        return write(con, settings, partitions, full_parts=full_parts)
