"""Source rows -> canonical permits, in SQL. Every row ends up in exactly one of:
the permits (one per city + permit number), or the quarantine with a reason."""
from __future__ import annotations

from datetime import date

import duckdb

from lead_assets.sources.addresses import install_macros, key_addresses

MAX_DESCRIPTION = 2000   # characters kept for scoring and export; the source row keeps all

# Values that mean "no value" in real feeds, as opposed to garbage.
_BLANK_MARKERS = "('', 'N/A', 'NA', 'NONE', 'NULL', '-', '--', 'TBD', 'UNKNOWN')"


_DIRTY = "'[\\x00-\\x1F\\x7F]|\\s\\s'"     # a control character or a run of white space


def _dirty(cols) -> str:
    """SQL: does any of the row's text fields hold a control character or a run of white
    space? One match per row over all its fields ('|' between them) costs a third of one
    match per field."""
    return f"regexp_matches(concat_ws('|', {', '.join(cols)}), {_DIRTY})"


def _clean(col: str) -> str:
    """Control characters and runs of white space become one space; trimmed; NULL when empty.
    (Only a dirty row, see _dirty, pays for the replace.)"""
    return (f"nullif(trim(CASE WHEN dirty THEN regexp_replace({col}, '[\\x00-\\x1F\\x7F\\s]+', ' ', 'g') "
            f"ELSE {col} END), '')")


def normalize(con: duckdb.DuckDBPyConnection, date_formats: dict[str, tuple[str, ...]],
              first_day: date, last_day: date) -> None:
    """Type the rows staged in temp tables `stg` and `bad` (sources.stage) into temp views
    `norm_permits` and `norm_quarantine` (views: the wide source rows are copied once, into
    the warehouse). `date_formats` maps city -> strptime formats."""
    install_macros(con)
    # try_strptime takes a constant format list: one CASE arm per distinct list of formats.
    by_formats: dict[tuple[str, ...], list[str]] = {}
    for city, formats in date_formats.items():
        by_formats.setdefault(tuple(formats), []).append(city)

    def parse_date(col: str) -> str:
        arms = " ".join(
            f"WHEN city IN ({', '.join(repr(c) for c in cities)}) "
            f"THEN try_strptime({col}, [{', '.join(repr(x) for x in formats)}])::DATE"
            for formats, cities in by_formats.items())
        return f"CASE {arms} END"

    text_fields = ("permit_num", "permit_type", "work_class", "description", "issued_date", "applied_date",
                   "original_address", "original_zip", "est_project_cost", "applicant_name",
                   "contractor_name", "owner_name", "status")
    # One pass: clean and type the text fields, then the reason a row cannot be a permit.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE checked AS
        WITH d AS (SELECT *, rowid AS rid, {_dirty(text_fields)} AS dirty FROM stg),
        c AS (
            SELECT rid, city, source_file, source_line::BIGINT AS source_line,
                length(coalesce(description, '')) > {MAX_DESCRIPTION} AS description_truncated,
                {", ".join(f"{_clean(f)} AS {f}" for f in text_fields)}
            FROM d
        ), typed AS (
            SELECT rid, city, source_file, source_line, permit_num, permit_type, work_class,
                left(description, {MAX_DESCRIPTION}) AS description, description_truncated,
                issued_date AS issued_raw,
                {parse_date('issued_date')} AS issued_date,
                {parse_date('applied_date')} AS applied_date,
                original_address, original_zip,
                est_project_cost AS cost_raw,
                CASE WHEN est_project_cost IS NULL OR upper(est_project_cost) IN {_BLANK_MARKERS} THEN NULL
                     ELSE TRY_CAST(regexp_replace(est_project_cost, '[$, ]', '', 'g') AS DECIMAL(14, 2))
                END AS est_project_cost,
                applicant_name, contractor_name, owner_name, status
            FROM c
        )
        SELECT *, coalesce(issued_date, CASE WHEN issued_raw IS NULL THEN applied_date END) AS permit_day,
            CASE
              WHEN permit_num IS NULL THEN 'missing permit number: blank'
              WHEN issued_raw IS NOT NULL AND issued_date IS NULL
                THEN 'unparseable issued date: ' || to_json(issued_raw)::VARCHAR
              WHEN issued_raw IS NULL AND applied_date IS NULL THEN 'no issued or applied date: both blank'
              WHEN cost_raw IS NOT NULL AND upper(cost_raw) NOT IN {_BLANK_MARKERS} AND est_project_cost IS NULL
                THEN 'non-numeric valuation: ' || to_json(cost_raw)::VARCHAR
              WHEN coalesce(issued_date, applied_date) NOT BETWEEN DATE '{first_day}' AND DATE '{last_day}'
                THEN 'date outside the partitions: ' || coalesce(issued_date, applied_date)
                     || ' is not in {first_day} .. {last_day}'
            END AS reason
        FROM typed
    """)
    # The same permit in several rows or files is one permit: the latest file wins. Ranked
    # on the keys alone; the views below join the typed rows and the wide source_row text
    # (by the staging rowid) only where they are used.
    con.execute("""
        CREATE OR REPLACE TEMP TABLE ranks AS
        SELECT rid, row_number() OVER w AS rn, first_value(source_file || ':' || source_line) OVER w AS kept
        FROM checked WHERE reason IS NULL
        WINDOW w AS (PARTITION BY city, permit_num ORDER BY source_file DESC, source_line DESC)
    """)
    key_addresses(con, "permit_keys", "SELECT original_address AS address FROM checked JOIN ranks USING (rid) "
                                      "WHERE rn = 1")
    con.execute("""
        CREATE OR REPLACE TEMP VIEW norm_permits AS
        SELECT r.city, r.permit_day, r.permit_num, r.permit_type, r.work_class, r.description,
               r.description_truncated, r.issued_date, r.applied_date, r.original_address, r.original_zip,
               r.est_project_cost, r.applicant_name, r.contractor_name, r.owner_name, r.status,
               k.street_key AS address_key,
               r.source_file, r.source_line, stg.source_row
        FROM checked r JOIN ranks USING (rid) JOIN stg ON stg.rowid = r.rid
        LEFT JOIN permit_keys k ON k.address = r.original_address
        WHERE rn = 1
    """)
    con.execute("""
        CREATE OR REPLACE TEMP VIEW norm_quarantine AS
        SELECT c.city, CASE WHEN reason LIKE 'date outside the partitions:%' THEN NULL ELSE c.permit_day END AS permit_day,
               c.source_file, c.source_line, c.permit_num, reason, stg.source_row
        FROM checked c JOIN stg ON stg.rowid = c.rid WHERE reason IS NOT NULL
        UNION ALL
        SELECT r.city, r.permit_day, r.source_file, r.source_line, r.permit_num,
               'duplicate: permit ' || r.permit_num || ' also at ' || kept || ' (kept)', stg.source_row
        FROM checked r JOIN ranks USING (rid) JOIN stg ON stg.rowid = r.rid WHERE rn > 1
        UNION ALL
        SELECT city, NULL::DATE, source_file, source_line::BIGINT, NULL, reason, source_row FROM bad
    """)
