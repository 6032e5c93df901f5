"""The file-drop permit source: read a city's landing files into source rows.

Each file is read exactly as it is (any encoding, ragged rows, JSON or CSV). Rows that
cannot even be split into fields become bad rows with a reason, never dropped; mapping and
typing happen in SQL (normalize.py).

CSV files are parsed by DuckDB's own reader (`read_csv`, a rejects table, `to_json` for
the source row) when a cheap pass over the bytes shows their line numbers can be kept
exact (csv_shape) and every row reads cleanly (read_csv_into); JSON files by DuckDB's JSON
reader (json_reader.py). The rest (cp1252, blank lines, records spanning lines, ragged
rows, broken JSON lines) are parsed by Python's `csv` / `json`, which count physical lines
themselves and quarantine each malformed row.
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd

from lead_assets.config.fields import CANONICAL_FIELDS

from lead_assets.config.settings import CitySource
from lead_assets.sources.json_reader import NO_ATTRIBUTES, NOT_AN_OBJECT, JsonFile, json_kind, read_json_into, readable_columns
from lead_assets.sources.readers import globbed, missing_columns, quote_name, sql_paths, sql_text

BAD_ROW_COLUMNS = ("city", "source_file", "source_line", "source_row", "reason")


class SourceFileError(ValueError):
    """A whole file cannot be parsed (e.g. broken JSON)."""


def decode(data: bytes) -> tuple[str, bool]:
    """UTF-8 (with or without BOM); otherwise Windows-1252, the usual culprit. Returns (text, recoded)."""
    try:
        return data.decode("utf-8-sig"), False
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), True


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _unique_header(header: list[str]) -> list[str]:
    """Column names as SQL can hold them: no control characters (a NUL ends a SQL string),
    never blank, never twice."""
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(header):
        name = _CONTROL.sub("", name).strip() or f"column_{i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 1
        out.append(name)
    return out


def parse_csv(text: str) -> tuple[list[str], list[list[str]], list[int], list[tuple[int, str, str]]]:
    """(header, rows, line number of each row, bad rows as (line, row JSON, reason))."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = _unique_header(next(reader, []))
    width = len(header)
    rows, lines, bad = [], [], []
    for row in reader:
        if len(row) == width:
            rows.append(row)
            lines.append(reader.line_num)
        elif any(cell.strip() for cell in row):
            bad.append((reader.line_num, json.dumps(row), f"malformed row: expected {width} fields, found {len(row)}"))
    return header, rows, lines, bad


def _parse_json(text: str, timezone: str | None = None
                ) -> tuple[list[str], list[list[str]], list[int], list[tuple[int, str, str]], list[str]]:
    """A JSON array, JSON Lines, or an ArcGIS feature set (a pulled page, see portals/), as
    json_reader reads it when DuckDB cannot: (header, rows, lines, bad rows, each row's own
    text). The 'line' of a record is its position (1-based)."""
    stripped = text.lstrip()
    features = _feature_set(stripped, timezone) if stripped.startswith("{") else None
    raws = None
    if features is not None:
        items, raws = features
    elif stripped.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SourceFileError(f"not valid JSON ({exc})") from None
    else:  # JSON Lines
        items = []
        for line in text.splitlines():
            if line.strip():
                try:
                    items.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    items.append(_Bad(json.dumps(line), f"malformed row: not valid JSON ({exc})"))
    header: list[str] = []
    for item in items:
        if isinstance(item, dict):
            header.extend(k for k in item if k not in header)
    rows, lines, bad, raw = [], [], [], []
    for n, item in enumerate(items, 1):
        if isinstance(item, dict):
            rows.append([_text(item.get(k)) for k in header])
            lines.append(n)
            raw.append(_record(raws[n - 1] if raws else item))
        elif isinstance(item, _Bad):
            bad.append((n, item.source_row, item.reason))
        else:
            bad.append((n, _record(item), NOT_AN_OBJECT))
    return header, rows, lines, bad, raw


def _record(item) -> str:
    return json.dumps(item, ensure_ascii=False)


def _feature_set(text: str, timezone: str | None) -> tuple[list, list] | None:
    """The attributes of an ArcGIS query response ({"features": [{"attributes": {...}}]}), with
    its date fields (epoch milliseconds, UTC) as local ISO times in `timezone`, and as they
    came; None when the text is not a feature set."""
    try:
        body = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("features"), list):
        return None
    dates = {f.get("name") for f in body.get("fields") or [] if isinstance(f, dict)
             and f.get("type") == "esriFieldTypeDate"}
    zone = ZoneInfo(timezone or "UTC")
    items, raws = [], []
    for feature in body["features"]:
        attrs = feature.get("attributes") if isinstance(feature, dict) else None
        if not isinstance(attrs, dict):
            items.append(_Bad(_record(feature), NO_ATTRIBUTES) if isinstance(feature, dict) else feature)
            raws.append(feature)
            continue
        items.append({k: (datetime.fromtimestamp(v / 1000, zone).strftime("%Y-%m-%dT%H:%M:%S")
                          if k in dates and isinstance(v, (int, float)) and not isinstance(v, bool) else v)
                      for k, v in attrs.items()})
        raws.append(attrs)
    return items, raws


@dataclass
class _Bad:
    source_row: str
    reason: str


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


@dataclass
class CsvFile:
    """A landing CSV left to DuckDB's reader."""
    path: Path
    lines: int          # physical lines, the header's included (none of them blank)
    crlf: bool

    @property
    def name(self) -> str:
        return self.path.name


@dataclass
class FileGroup:
    """Rows of the files of one city that share one header, ready to stage in one statement."""
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)      # per row
    lines: list[int] = field(default_factory=list)      # per row
    csv: list[CsvFile] = field(default_factory=list)    # files DuckDB reads (their rows are not in `rows`)
    error: str | None = None                           # set when the files lack a required column
    raw: list[str] = field(default_factory=list)        # per row, JSON records only: the record's text

    def add(self, name: str, rows: list[list[str]], lines: list[int], raw: list[str] | None = None) -> None:
        self.rows.extend(rows)
        self.files.extend([name] * len(rows))
        self.lines.extend(lines)
        self.raw.extend(raw or ())


@dataclass
class CityRead:
    """What Python made of one city's landing files (no database involved): the CSV files in
    the groups' `csv` lists are read by DuckDB when staged (stage)."""
    city: CitySource
    groups: dict[tuple, FileGroup] = field(default_factory=dict)
    bad: list[tuple] = field(default_factory=list)      # BAD_ROW_COLUMNS tuples
    files: list[str] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    empty_files: list[str] = field(default_factory=list)
    recoded_files: list[str] = field(default_factory=list)   # not UTF-8, read as cp1252
    json: list[JsonFile] = field(default_factory=list)       # JSON files DuckDB reads (stage)


def csv_shape(path: Path, data: bytes) -> tuple[list[str], int, bool] | None:
    """(header, physical lines, CRLF) when DuckDB's reader can take a UTF-8 file with exact
    line numbers; None when Python's csv must (see the module docstring)."""
    if globbed(path):
        return None
    body = data.rstrip(b"\r\n")
    # A blank line before the last row: DuckDB skips it without a trace, which would shift
    # the line numbers of the rows after it.
    if b"\n\n" in body or b"\n\r\n" in body or body[:1] == b"\n" or body[:2] == b"\r\n":
        return None
    end = body.find(b"\n")
    first = body if end < 0 else body[:end]
    crlf = first.endswith(b"\r")
    newlines, returns = body.count(b"\n"), body.count(b"\r")
    # One kind of line end throughout: DuckDB reads one (mixed ones stop its parser).
    if returns != (newlines if crlf else 0) or (crlf and body.count(b"\r\n") != newlines):
        return None
    text = first.decode("utf-8-sig").rstrip("\r")
    if text.count('"') % 2:    # a header spanning lines
        return None
    header = _unique_header(next(csv.reader([text]), []))
    if len({h.lower() for h in header}) < len(header):   # SQL names ignore case
        return None
    return header, newlines + 1, crlf


def read_city(landing_dir: Path, city: CitySource) -> CityRead:
    """Look at all of a city's landing files, in name order: plain CSV files (csv_shape) and
    UTF-8 JSON files (json_kind) are left to DuckDB's readers, the rest are parsed here."""
    read = CityRead(city)
    for path in sorted(p for p in landing_dir.glob(city.landing) if p.is_file()):
        name = path.name
        read.files.append(name)
        data = path.read_bytes()
        if not data.strip():
            read.empty_files.append(name)
            continue
        text, recoded = decode(data)
        if recoded:
            read.recoded_files.append(name)
        if city.format == "json":
            kind = None if recoded or not readable_columns(city) else json_kind(path, data)
            if kind is not None:
                read.json.append(JsonFile(path, kind))
            else:
                add_json_text(read, name, text)
            continue
        # Portal pages (city.source) may leave columns out: Python pads them (add_rows).
        plain = None if recoded or city.source else csv_shape(path, data)
        if plain is None:
            add_rows(read, name, *parse_csv(text))
            continue
        header = plain[0]
        error = missing_columns(city, header.__contains__, name)
        group = read.groups.setdefault((tuple(header), error, False), FileGroup(header, error=error))
        if error:   # a file quarantined whole keeps Python's reading of its rows
            read.file_errors.append(error)
            _, rows, lines, bad = parse_csv(text)
            read.bad.extend((city.key, name, line, row, reason) for line, row, reason in bad)
            group.add(name, rows, lines)
        else:
            group.csv.append(CsvFile(path, plain[1], plain[2]))
    return read


def add_json_text(read: CityRead, name: str, text: str) -> None:
    """Python's json reads one JSON landing file of the city."""
    try:
        parsed = _parse_json(text, read.city.source.timezone if read.city.source else None)
    except SourceFileError as exc:
        error = f"unreadable file: {name}: {exc}"
        read.file_errors.append(error)
        read.bad.append((read.city.key, name, None, None, error))
        return
    add_rows(read, name, *parsed)


def add_rows(read: CityRead, name: str, header: list[str], rows: list[list[str]], lines: list[int],
             bad: list[tuple[int, str, str]], raw: list[str] | None = None) -> None:
    """Rows Python parsed from one file: into the group of their header (`raw`: each row's own
    text, a JSON record's; otherwise the source row is built from the columns)."""
    city = read.city
    read.bad.extend((city.key, name, line, row, reason) for line, row, reason in bad)
    if not rows:
        return
    if city.source is not None:
        # A portal leaves a null field out of a JSON row: a mapped column that no row of the
        # page has is blank, not a broken file.
        absent = [c for c in city.columns.values() if c not in header]
        header = header + absent
        rows = [row + [""] * len(absent) for row in rows]
    error = missing_columns(city, header.__contains__, name)
    if error:
        read.file_errors.append(error)
    group = read.groups.setdefault((tuple(header), error, raw is not None), FileGroup(header, error=error))
    group.add(name, rows, lines, raw)


STAGING_DDL = ("CREATE OR REPLACE TEMP TABLE stg (city VARCHAR, source_file VARCHAR, source_line BIGINT, "
               "source_row VARCHAR, " + ", ".join(f"{f} VARCHAR" for f in CANONICAL_FIELDS) + ")")
BAD_DDL = ("CREATE OR REPLACE TEMP TABLE bad (city VARCHAR, source_file VARCHAR, source_line BIGINT, "
           "source_row VARCHAR, reason VARCHAR)")


def stage(con: duckdb.DuckDBPyConnection, reads: list[CityRead]) -> int:
    """Temp tables `stg` (rows, canonical names, text) and `bad` (rows that cannot be staged).
    Returns the number of source rows (every row of every file is in exactly one of them)."""
    con.execute(STAGING_DDL)
    con.execute(BAD_DDL)
    for read in reads:
        if read.json:
            unread, errors = read_json_into(con, read.city, read.json)
            read.file_errors.extend(errors)
            for f in unread:
                add_json_text(read, f.name, f.path.read_text(encoding="utf-8-sig"))
    for shared in _shared_reads(reads):
        first_read, first_group = shared[0]
        select, params = _stg_select(first_read.city, first_group.header)
        city_of = {str(f.path): read.city.key for read, group in shared for f in group.csv}
        unread = read_csv_into(con, "stg", [f for _, group in shared for f in group.csv], first_group.header,
                               select, params, city_of=city_of)
        for read, group in shared:
            _read_with_python(read, group, [f for f in unread if f in group.csv])
    for read in reads:
        for group in read.groups.values():
            if group.rows:
                _stage_rows(con, read.city, group)
        if read.bad:
            con.register("bad_frame", pd.DataFrame(read.bad, columns=list(BAD_ROW_COLUMNS)))
            con.execute("INSERT INTO bad SELECT city, source_file, source_line::BIGINT, source_row, reason FROM bad_frame")
            con.unregister("bad_frame")
    return con.execute("SELECT (SELECT count(*) FROM stg) + (SELECT count(*) FROM bad)").fetchone()[0]


def _shared_reads(reads: list[CityRead]) -> list[list[tuple[CityRead, FileGroup]]]:
    """The CSV file groups DuckDB reads, put together where cities share a header and a column
    mapping (the cities of one vendor's layout): one read_csv for all of them, not one per
    city (at thousands of cities a statement per city is most of the cost). A file that two
    cities both read stays in a read of its own city."""
    shared: dict[tuple, list[tuple[CityRead, FileGroup]]] = {}
    paths: dict[tuple, set[Path]] = {}
    for read in reads:
        for group in read.groups.values():
            if not group.csv:
                continue
            key = (tuple(group.header), _stg_select(read.city, group.header)[0])
            mine = {f.path for f in group.csv}
            if paths.get(key, set()) & mine:
                key = (*key, read.city.key)
            shared.setdefault(key, []).append((read, group))
            paths.setdefault(key, set()).update(mine)
    return list(shared.values())


def _source_row_sql(header: list[str]) -> str:
    """SQL: the row as a JSON object of the file's own columns."""
    if len({h.lower() for h in header}) == len(header):
        return "to_json(struct_pack(" + ", ".join(f"{quote_name(h)} := {quote_name(h)}" for h in header) + "))::VARCHAR"
    # names that differ only in case (Python-read files only): json_object's keys are literals
    return "json_object(" + ", ".join(f"{sql_text(h)}, {quote_name(h)}" for h in header) + ")::VARCHAR"


def _stg_select(city: CitySource, header: list[str], source_row: str | None = None) -> tuple[str, list]:
    """SELECT list of a `stg` row (city, source_row, the canonical fields) over a relation
    with the file's own column names, and its parameters."""
    mapped = ", ".join(f"{quote_name(city.columns[f])}::VARCHAR AS {f}" if city.columns.get(f) in header
                       else f"NULL AS {f}" for f in CANONICAL_FIELDS)
    return f"?::VARCHAR AS city, {source_row or _source_row_sql(header)} AS source_row, {mapped}", [city.key]


def _stage_rows(con: duckdb.DuckDBPyConnection, city: CitySource, group: FileGroup) -> None:
    """The rows Python read: into `stg`, or whole into `bad` when the group lacks a required column."""
    frame = pd.DataFrame(group.rows, columns=group.header)
    frame["__file"] = group.files
    frame["__line"] = group.lines
    source_row = _source_row_sql(group.header)
    if group.raw:
        frame["__raw"] = group.raw
        source_row = "__raw"
    con.register("frame", frame)
    try:
        if group.error:
            con.execute(f"INSERT INTO bad SELECT ?, __file, __line, {source_row}, ? FROM frame",
                        [city.key, group.error])
        else:
            select, params = _stg_select(city, group.header, source_row)
            con.execute(f"INSERT INTO stg BY NAME SELECT {select}, __file AS source_file, "
                        "__line AS source_line FROM frame", params)
    finally:
        con.unregister("frame")


_EXTRA = "__extra"   # one column past the header: a row with a field too many fills it


def read_csv_sql(files: list[CsvFile], header: list[str]) -> str:
    """One read_csv over files that share a header and line ends: the file's columns, `__extra`,
    each row's file (`__path`) and its position in the whole read (`__ord`)."""
    columns = "{" + ", ".join(f"{sql_text(h)}: 'VARCHAR'" for h in (*header, _EXTRA)) + "}"
    new_line = "'\\r\\n'" if files[0].crlf else "'\\n'"      # DuckDB's escaped spelling
    names = ", ".join(quote_name(h) for h in (*header, _EXTRA))
    # No sniffing: the dialect is RFC 4180 and every column is text. An empty field is '' as
    # Python's csv gives it (nullstr is a character no feed sends), so NULL is a field the row
    # lacks (null_padding). WITH ORDINALITY is row_number() OVER () in the order the files
    # and their rows are read.
    return (f"SELECT * FROM read_csv({sql_paths([f.path for f in files])}, header = true, auto_detect = false, "
            f"delim = ',', quote = '\"', "
            f"escape = '\"', new_line = {new_line}, columns = {columns}, nullstr = {sql_text(chr(1))}, "
            f"null_padding = true, filename = '__path', store_rejects = true, rejects_table = 'csv_rejects', "
            f"rejects_scan = 'csv_scans') WITH ORDINALITY AS t({names}, __path, __ord)")


def read_csv_into(con: duckdb.DuckDBPyConnection, target: str, files: list[CsvFile], header: list[str],
                  select: str, params: list, *, city_of: dict[str, str] | None = None) -> list[CsvFile]:
    """Insert the rows of `files`, read by DuckDB, into the temp table `target` (BY NAME:
    `select` over the file's own columns, plus source_file, the file's name, and source_line,
    the row's line; with `city_of`, also each row's city, by its file's path). Returns the
    files it could not read exactly; nothing of theirs is left in `target`, and Python's csv
    must read them.

    A file is read exactly when every row has the header's width (none rejected, none padded
    or with a field in `__extra`; DuckDB itself would let a row with one empty field too many
    through) and its rows add up to its lines: csv_shape admitted only files without blank
    lines, so then no record spans two lines and the n-th row is on line n + 1.
    """
    con.execute("DROP TABLE IF EXISTS csv_rejects")
    con.execute("DROP TABLE IF EXISTS csv_scans")
    # A row of the wrong width gets no line; its file is read again by Python.
    whole = f"{quote_name(_EXTRA)} IS NULL AND {quote_name(header[-1])} IS NOT NULL"

    def insert(batch: list[CsvFile]) -> None:
        con.execute(f"INSERT INTO {target} BY NAME SELECT {select}, __path AS source_file, "
                    f"CASE WHEN {whole} THEN __ord END AS source_line FROM ({read_csv_sql(batch, header)})", params)

    unread = []
    for crlf in sorted({f.crlf for f in files}):
        batch = [f for f in files if f.crlf == crlf]
        try:
            insert(batch)
        except duckdb.Error:
            # DuckDB's parser gave up (a quoted newline stops its parallel scanner): the
            # statement left nothing behind; each file is tried alone.
            for f in batch:
                try:
                    insert([f])
                except duckdb.Error:
                    unread.append(f)
    by_path = {str(f.path): f for f in files}
    rejected = set()
    if con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'csv_rejects'").fetchone()[0]:
        rejected = {p for (p,) in con.execute("""SELECT DISTINCT s.file_path FROM csv_rejects e
                                                 JOIN csv_scans s USING (scan_id, file_id)""").fetchall()}
    stats = con.execute(f"""SELECT source_file, count(*), count(source_line), min(source_line) FROM {target}
                            WHERE source_file IN (SELECT unnest(?::VARCHAR[])) GROUP BY 1""", [list(by_path)]).fetchall()
    read = {path: first for path, rows, whole_rows, first in stats
            if path not in rejected and rows == whole_rows and 1 + rows == by_path[path].lines}
    again = [f for f in files if str(f.path) not in read and f not in unread]
    if again:
        con.execute(f"DELETE FROM {target} WHERE source_file IN (SELECT unnest(?::VARCHAR[]))",
                    [[str(f.path) for f in again]])
    con.register("csv_files", pd.DataFrame([(p, by_path[p].name, first - 2, (city_of or {}).get(p))
                                            for p, first in read.items()],
                                           columns=["path", "name", "offset", "city"]))
    city = ", city = f.city" if city_of else ""
    try:   # a path has a '/', a name does not: the rows staged above are told apart
        con.execute(f"""UPDATE {target} t SET source_file = f.name, source_line = t.source_line - f.offset{city}
                        FROM csv_files f WHERE t.source_file = f.path""")
    finally:
        con.unregister("csv_files")
    return unread + again


def _read_with_python(read: CityRead, group: FileGroup, files: list[CsvFile]) -> None:
    """Python's csv reads these CSV files of the group (their rows join group.rows)."""
    for f in files:
        _, rows, lines, bad = parse_csv(decode(f.path.read_bytes())[0])
        group.add(f.name, rows, lines)
        read.bad.extend((read.city.key, f.name, n, row, reason) for n, row, reason in bad)
