"""Landing JSON files read by DuckDB's JSON reader (`read_json_objects`).

A JSON array (a Socrata page), JSON Lines, or an ArcGIS feature set (a one-line object with
`features`, as a pulled page is saved). Each record keeps its own text as the source row and
its position (1-based) as its line; a record that is not an object is quarantined. A file
DuckDB cannot parse (a broken line, a feature set spread over several lines) is handed back
for Python's json, which quarantines each malformed line with the parser's message.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from lead_assets.config.fields import CANONICAL_FIELDS, REQUIRED_FIELDS
from lead_assets.config.settings import CitySource
from lead_assets.sources.readers import globbed, missing_columns, sql_paths, sql_text

ARRAY, LINES = "array", "newline_delimited"      # read_json_objects formats
NOT_AN_OBJECT = "malformed row: not a JSON object"
NO_ATTRIBUTES = "malformed row: an ArcGIS feature without attributes"


@dataclass(frozen=True)
class JsonFile:
    path: Path
    kind: str           # ARRAY or LINES

    @property
    def name(self) -> str:
        return self.path.name


def json_kind(path: Path, data: bytes) -> str | None:
    """How DuckDB reads this UTF-8 file, or None when Python's json must."""
    if globbed(path):
        return None
    first = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return {b"[": ARRAY, b"{": LINES}.get(first)


def readable_columns(city: CitySource) -> bool:
    """Mapped names DuckDB's JSON paths can quote as they are ($."name")."""
    return not any(c in name for name in city.columns.values() if name for c in '"\\')


def _path(key: str) -> str:
    return sql_text(f'$."{key}"')


def _items_sql(files: list[JsonFile]) -> str:
    """Every record of `files`: its file (path), position (pos), text (item), the ArcGIS date
    fields of its page (dates) and why it cannot be a row (reason, NULL for a record)."""
    # An ArcGIS page is one object: DuckDB's 16 MB cap on an object must not send a big page
    # to Python. (The cap must clear the object by a margin: one byte over is a parse error.)
    largest = max(f.path.stat().st_size for f in files) + 2 ** 20
    raw = f"""SELECT filename AS path, ord, json, count(*) OVER (PARTITION BY filename) AS n
              FROM read_json_objects({sql_paths([f.path for f in files])}, format = '{files[0].kind}',
                                     filename = true, maximum_object_size = {max(largest, 16 * 2 ** 20)})
              WITH ORDINALITY AS t(json, filename, ord)"""
    plain = ("SELECT path, row_number() OVER (PARTITION BY path ORDER BY ord) AS pos, json AS item, "
             f"[]::VARCHAR[] AS dates, CASE WHEN json_type(json) <> 'OBJECT' THEN '{NOT_AN_OBJECT}' END AS reason")
    if files[0].kind == ARRAY:
        return f"{plain} FROM ({raw})"
    # A page of an ArcGIS query ({"features": [{"attributes": {...}}], "fields": [...]}): its
    # records are the features' attributes; a feature without them is quarantined as it is.
    feature_set = "n = 1 AND json_type(json, '$.features') = 'ARRAY'"
    return f"""
        WITH raw AS ({raw}),
        pages AS (
            SELECT path, json_extract(json, '$.features[*]') AS features,
                   [f->>'name' FOR f IN coalesce(json_extract(json, '$.fields[*]'), []::JSON[])
                    IF f->>'type' = 'esriFieldTypeDate'] AS dates
            FROM raw WHERE {feature_set})
        {plain} FROM raw WHERE NOT ({feature_set})
        UNION ALL
        SELECT path, pos, CASE WHEN record THEN feature->'attributes' ELSE feature END, dates,
               CASE WHEN NOT record THEN CASE WHEN json_type(feature) = 'OBJECT' THEN '{NO_ATTRIBUTES}'
                                              ELSE '{NOT_AN_OBJECT}' END END
        FROM (SELECT *, coalesce(json_type(feature, '$.attributes') = 'OBJECT', false) AS record
              FROM (SELECT path, unnest(features) AS feature, generate_subscripts(features, 1) AS pos, dates
                    FROM pages))"""


def _values_sql(columns: list[str], timezone: str, dated: bool) -> list[str]:
    """Each mapped field as text, from `v` (the values of `columns`, one JSON parse per
    record) and, when a page has ArcGIS date fields (`dated`), `t` (their JSON types): a date,
    epoch milliseconds (UTC), becomes local ISO time."""
    out = []
    for i, column in enumerate(columns, 1):
        value = f"v[{i}]"
        if dated:
            local = (f"strftime(timezone({sql_text(timezone)}, to_timestamp({value}::DOUBLE / 1000)), "
                     f"'%Y-%m-%dT%H:%M:%S')")
            value = (f"CASE WHEN t[{i}] IN ('BIGINT', 'UBIGINT', 'DOUBLE') AND list_contains(dates, "
                     f"{sql_text(column)}) THEN {local} ELSE {value} END")
        out.append(value)
    return out


def read_json_into(con: duckdb.DuckDBPyConnection, city: CitySource, files: list[JsonFile]
                   ) -> tuple[list[JsonFile], list[str]]:
    """Stage the records of `files` into the temp tables `stg` and `bad` (landing.stage).
    Returns (files DuckDB could not parse, left untouched for Python; file errors)."""
    unread: list[JsonFile] = []
    errors: list[str] = []
    for kind in (ARRAY, LINES):
        batch = [f for f in files if f.kind == kind]
        if not batch:
            continue
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE json_items AS {_items_sql(batch)}")
        except duckdb.Error:
            # One broken file fails the whole read: each file is tried alone.
            read = []
            for f in batch:
                try:
                    con.execute(f"CREATE OR REPLACE TEMP TABLE json_one AS {_items_sql([f])}")
                except duckdb.Error:
                    unread.append(f)
                    continue
                con.execute("INSERT INTO json_items SELECT * FROM json_one" if read
                            else "CREATE OR REPLACE TEMP TABLE json_items AS SELECT * FROM json_one")
                read.append(f)
            con.execute("DROP TABLE IF EXISTS json_one")
            if not read:
                continue
        errors.extend(_stage_items(con, city))
    con.execute("DROP TABLE IF EXISTS json_items")
    return unread, errors


def _stage_items(con: duckdb.DuckDBPyConnection, city: CitySource) -> list[str]:
    """json_items -> stg / bad; a file without a required column goes to `bad` whole."""
    name = "parse_filename(path, false, 'system')"
    errors, missing_by_path = [], {}
    required = [city.columns[f] for f in REQUIRED_FIELDS]
    if city.source is None:     # a portal leaves null fields out: an absent column is blank there
        has = ", ".join(f"bool_or(list_contains(json_keys(item), {sql_text(c)}))" for c in required)
        for path, *present in con.execute(f"""SELECT path, {has} FROM json_items
                                             WHERE reason IS NULL GROUP BY path ORDER BY path""").fetchall():
            error = missing_columns(city, dict(zip(required, present)).get, Path(path).name)
            if error:
                missing_by_path[path] = error
                errors.append(error)
    con.execute("CREATE OR REPLACE TEMP TABLE json_errors (path VARCHAR, error VARCHAR)")
    if missing_by_path:
        con.executemany("INSERT INTO json_errors VALUES (?, ?)", list(missing_by_path.items()))
    timezone = (city.source.timezone if city.source else None) or "UTC"
    fields = [f for f in CANONICAL_FIELDS if city.columns.get(f)]
    paths = "[" + ", ".join(_path(city.columns[f]) for f in fields) + "]"
    dated = con.execute("SELECT count(*) FROM json_items WHERE len(dates) > 0").fetchone()[0] > 0
    values = dict(zip(fields, _values_sql([city.columns[f] for f in fields], timezone, dated)))
    mapped = ", ".join(f"{values[f]} AS {f}" if f in values else f"NULL AS {f}" for f in CANONICAL_FIELDS)
    types = f", json_type(item, {paths}) AS t" if dated else ""
    con.execute(f"""INSERT INTO stg BY NAME
                    SELECT ?::VARCHAR AS city, {name} AS source_file, pos AS source_line, item::VARCHAR AS source_row,
                           {mapped}
                    FROM (SELECT *, json_extract_string(item, {paths}) AS v{types} FROM json_items
                          WHERE reason IS NULL AND path NOT IN (SELECT path FROM json_errors))""",
                [city.key])
    con.execute(f"""INSERT INTO bad
                    SELECT ?, {name}, pos, item::VARCHAR, coalesce(reason, e.error)
                    FROM json_items LEFT JOIN json_errors e USING (path)
                    WHERE reason IS NOT NULL OR e.error IS NOT NULL""", [city.key])
    con.execute("DROP TABLE json_errors")
    return errors
