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
    """Create `street_key(address)` and `city_key(city)` on a DuckDB connection.

    street_key: first comma-separated part, upper case, punctuation dropped, every word
    mapped to its USPS abbreviation. '4512 Willow Bend Drive' and '4512 WILLOW BEND DR.'
    both give '4512 WILLOW BEND DR'. NULL for a blank address.
    """
    words = _key_words()
    keys = ", ".join(_sql_str(k) for k in words)
    vals = ", ".join(_sql_str(v) for v in words.values())
    con.execute(f"SET VARIABLE usps_words = map([{keys}], [{vals}])")
    con.execute("""
        CREATE OR REPLACE TEMP MACRO street_key(s) AS nullif(array_to_string(
            list_transform(
                regexp_split_to_array(trim(regexp_replace(
                    regexp_replace(upper(split_part(coalesce(s, ''), ',', 1)), '#', ' # ', 'g'),
                    '[^A-Z0-9# ]+', ' ', 'g')), '\\s+'),
                lambda w: coalesce(getvariable('usps_words')[w], w)),
            ' '), '')
    """)
    con.execute(
        "CREATE OR REPLACE TEMP MACRO city_key(c) AS "
        "nullif(trim(regexp_replace(upper(coalesce(c, '')), '[^A-Z ]+', '', 'g')), '')"
    )
