"""Source rows -> canonical permits, in SQL. Every row ends up in exactly one of:
the permits (one per city + permit number), or the quarantine with a reason."""
from __future__ import annotations

from datetime import date

import duckdb

from lead_assets.addresses import install_macros

MAX_DESCRIPTION = 2000   # characters kept for scoring and export; the source row keeps all

# Values that mean "no value" in real feeds, as opposed to garbage.
_BLANK_MARKERS = "('', 'N/A', 'NA', 'NONE', 'NULL', '-', '--', 'TBD', 'UNKNOWN')"


def _clean(col: str) -> str:
    """Trim, drop control characters, collapse whitespace; NULL when empty."""
    return (f"nullif(trim(regexp_replace(regexp_replace(coalesce({col}, ''), "
            f"'[\\x00-\\x08\\x0B-\\x1F\\x7F]', '', 'g'), '\\s+', ' ', 'g')), '')")


def normalize(con: duckdb.DuckDBPyConnection, date_formats: dict[str, tuple[str, ...]],
              first_day: date, last_day: date) -> None:
    """Type the rows staged in temp tables `stg` and `bad` (sources.stage) into temp tables
    `norm_permits` and `norm_quarantine`. `date_formats` maps city -> strptime formats."""
    install_macros(con)
    # try_strptime takes a constant format list, so apply each city's list with its own CASE arm.
    def parse_date(col: str) -> str:
        arms = " ".join(
            f"WHEN s.city = '{c}' THEN try_strptime(trim({col}), [{', '.join(repr(x) for x in f)}])::DATE"
            for c, f in date_formats.items()
        )
        return f"CASE {arms} END"

    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE typed AS
        SELECT s.city, s.source_file, s.source_line::BIGINT AS source_line, s.source_row,
            {_clean('s.permit_num')} AS permit_num,
            {_clean('s.permit_type')} AS permit_type,
            {_clean('s.work_class')} AS work_class,
            left({_clean('s.description')}, {MAX_DESCRIPTION}) AS description,
            length(coalesce(s.description, '')) > {MAX_DESCRIPTION} AS description_truncated,
            {_clean('s.issued_date')} AS issued_raw,
            {parse_date('s.issued_date')} AS issued_date,
            {parse_date('s.applied_date')} AS applied_date,
            {_clean('s.original_address')} AS original_address,
            {_clean('s.original_zip')} AS original_zip,
            {_clean('s.est_project_cost')} AS cost_raw,
            CASE WHEN upper({_clean('s.est_project_cost')}) IS NULL
                   OR upper({_clean('s.est_project_cost')}) IN {_BLANK_MARKERS} THEN NULL
                 ELSE TRY_CAST(regexp_replace(s.est_project_cost, '[$,\\s]', '', 'g') AS DECIMAL(14, 2))
            END AS est_project_cost,
            {_clean('s.applicant_name')} AS applicant_name,
            {_clean('s.contractor_name')} AS contractor_name,
            {_clean('s.owner_name')} AS owner_name,
            {_clean('s.status')} AS status
        FROM stg s
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE checked AS
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
    # The same permit in several rows or files is one permit: the latest file wins.
    con.execute("""
        CREATE OR REPLACE TEMP TABLE ranked AS
        SELECT *, row_number() OVER (PARTITION BY city, permit_num
                                     ORDER BY source_file DESC, source_line DESC) AS rn,
               first_value(source_file || ':' || source_line) OVER (PARTITION BY city, permit_num
                                     ORDER BY source_file DESC, source_line DESC) AS kept
        FROM checked WHERE reason IS NULL
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE norm_permits AS
        SELECT city, permit_day, permit_num, permit_type, work_class, description, description_truncated,
               issued_date, applied_date, original_address, original_zip, est_project_cost,
               applicant_name, contractor_name, owner_name, status,
               street_key(original_address) AS address_key,
               source_file, source_line, source_row
        FROM ranked WHERE rn = 1
        ORDER BY city, permit_day, permit_num
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE norm_quarantine AS
        SELECT city, CASE WHEN reason LIKE 'date outside the partitions:%' THEN NULL ELSE permit_day END AS permit_day,
               source_file, source_line, permit_num, reason, source_row
        FROM checked WHERE reason IS NOT NULL
        UNION ALL
        SELECT city, permit_day, source_file, source_line, permit_num,
               'duplicate: permit ' || permit_num || ' also at ' || kept || ' (kept)', source_row
        FROM ranked WHERE rn > 1
        UNION ALL
        SELECT city, NULL::DATE, source_file, source_line::BIGINT, NULL, reason, source_row FROM bad
        ORDER BY city, source_file, source_line
    """)
