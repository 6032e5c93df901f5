"""Address keys for joining permits to appraisal records.

USPS Publication 28 abbreviations come from usaddress-scourgify's tables; they are
applied in DuckDB, a whole column at a time, instead of parsing row by row in Python
(scourgify's per-address parser costs ~100x more per row; see bench/).
"""
from __future__ import annotations

from scourgify.address_constants import (
    DIRECTIONAL_REPLACEMENTS,
    OCCUPANCY_TYPE_ABBREVIATIONS,
    STREET_TYPE_ABBREVIATIONS,
)


def _key_words() -> dict[str, str]:
    words = {k.upper(): v.upper() for k, v in STREET_TYPE_ABBREVIATIONS.items()}
    words.update({k.upper(): v.upper() for k, v in DIRECTIONAL_REPLACEMENTS.items()})
    # Any unit designator (APT, UNIT, STE, #) means the same thing in a key.
    for word, abbr in OCCUPANCY_TYPE_ABBREVIATIONS.items():
        if word.upper() in ("APARTMENT", "UNIT", "SUITE", "SPACE", "ROOM", "LOT"):
            words[word.upper()] = "#"
            words[abbr.upper()] = "#"
    words["#"] = "#"
    return words


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def install_macros(con) -> None:
    """Create temp table `usps_words` (word, abbr) and macro `city_key(city)` on a DuckDB
    connection; `key_addresses` uses the table."""
    words = _key_words()
    rows = ", ".join(f"({_sql_str(k)}, {_sql_str(v)})" for k, v in words.items())
    con.execute(f"CREATE OR REPLACE TEMP TABLE usps_words AS SELECT * FROM (VALUES {rows}) t(word, abbr)")
    con.execute(
        "CREATE OR REPLACE TEMP MACRO city_key(c) AS "
        "nullif(trim(regexp_replace(upper(coalesce(c, '')), '[^A-Z ]+', '', 'g')), '')"
    )


def key_addresses(con, table: str, addresses: str) -> None:
    """Temp table `table` (address, street_key): the street key of each distinct address that
    the query `addresses` yields (one column, `address`).

    street_key: first comma-separated part, upper case, punctuation dropped, every word
    mapped to its USPS abbreviation. '4512 Willow Bend Drive' and '4512 WILLOW BEND DR.'
    both give '4512 WILLOW BEND DR'. NULL for a blank address.

    The words are looked up with one hash join over all of them (a MAP lookup per word costs
    ~3x more), and each distinct text is keyed once: callers join the table back.
    """
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {table} AS
        WITH d AS (SELECT DISTINCT address FROM ({addresses}) WHERE address IS NOT NULL),
        w AS (
            SELECT address, regexp_split_to_array(trim(regexp_replace(
                       regexp_replace(upper(split_part(address, ',', 1)), '#', ' # ', 'g'),
                       '[^A-Z0-9# ]+', ' ', 'g')), '\\s+') AS ws
            FROM d
        ), u AS (SELECT address, unnest(ws) AS word, generate_subscripts(ws, 1) AS i FROM w)
        SELECT address, nullif(string_agg(coalesce(usps_words.abbr, u.word), ' ' ORDER BY i), '') AS street_key
        FROM u LEFT JOIN usps_words USING (word)
        GROUP BY address
    """)
