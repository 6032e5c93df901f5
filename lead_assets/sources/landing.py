"""The file-drop permit source: read a city's landing files into source rows.

Each file is read exactly as it is (any encoding, ragged rows, JSON or CSV). Rows that
cannot even be split into fields become bad rows with a reason, never dropped; mapping and
typing happen in SQL (normalize.py).

CSV files are parsed by DuckDB's own reader (`read_csv`, rejects table, `json_object` for
the source row) when a cheap pass over the bytes shows their line numbers can be kept
exact: UTF-8, a one-line header, no blank line inside. The rest (cp1252, blank lines,
records spanning lines) and JSON pages are parsed by Python's `csv` / `json`, which count
physical lines themselves.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd

from lead_assets.config.fields import CANONICAL_FIELDS, REQUIRED_FIELDS

from lead_assets.config.settings import CitySource

BAD_ROW_COLUMNS = ("city", "source_file", "source_line", "source_row", "reason")


class SourceFileError(ValueError):
    """A whole file cannot be parsed (e.g. broken JSON)."""


def decode(data: bytes) -> tuple[str, bool]:
    """UTF-8 (with or without BOM); otherwise Windows-1252, the usual culprit. Returns (text, recoded)."""
    try:
        return data.decode("utf-8-sig"), False
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), True


def _unique_header(header: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(header):
        name = name.strip() or f"column_{i + 1}"
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
                ) -> tuple[list[str], list[list[str]], list[int], list[tuple[int, str, str]]]:
    """A JSON array, JSON Lines, or an ArcGIS feature set (a pulled page, see portals/); the
    'line' of a record is its position (1-based)."""
    stripped = text.lstrip()
    features = _feature_set(stripped, timezone) if stripped.startswith("{") else None
    if features is not None:
        items = features
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
                    items.append(_BadJson(line, str(exc)))
    header: list[str] = []
    for item in items:
        if isinstance(item, dict):
            header.extend(k for k in item if k not in header)
    rows, lines, bad = [], [], []
    for n, item in enumerate(items, 1):
        if isinstance(item, dict):
            rows.append([_text(item.get(k)) for k in header])
            lines.append(n)
        elif isinstance(item, _BadJson):
            bad.append((n, json.dumps(item.line), f"malformed row: not valid JSON ({item.error})"))
        else:
            bad.append((n, json.dumps(item), "malformed row: not a JSON object"))
    return header, rows, lines, bad


def _feature_set(text: str, timezone: str | None) -> list | None:
    """The attributes of an ArcGIS query response ({"features": [{"attributes": {...}}]}), with
    its date fields (epoch milliseconds, UTC) as local ISO times in `timezone`; None when the
    text is not a feature set."""
    try:
        body = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("features"), list):
        return None
    dates = {f.get("name") for f in body.get("fields") or [] if isinstance(f, dict)
             and f.get("type") == "esriFieldTypeDate"}
    zone = ZoneInfo(timezone or "UTC")
    items = []
    for feature in body["features"]:
        attrs = feature.get("attributes") if isinstance(feature, dict) else None
        if not isinstance(attrs, dict):
            items.append(feature)       # quarantined below as "not a JSON object"
            continue
        items.append({k: (datetime.fromtimestamp(v / 1000, zone).strftime("%Y-%m-%dT%H:%M:%S")
                          if k in dates and isinstance(v, (int, float)) else v) for k, v in attrs.items()})
    return items


@dataclass
class _BadJson:
    line: str
    error: str


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class CsvFile:
    """A landing CSV left to DuckDB's reader."""
    name: str
    path: Path
    lines: int          # physical lines, the header's included (none of them blank)
    crlf: bool


@dataclass
class FileGroup:
    """Rows of the files of one city that share one header, ready to stage in one statement."""
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)      # per row
    lines: list[int] = field(default_factory=list)      # per row
    csv: list[CsvFile] = field(default_factory=list)    # files DuckDB reads (their rows are not in `rows`)
    error: str | None = None                           # set when the files lack a required column

    def add(self, name: str, rows: list[list[str]], lines: list[int]) -> None:
        self.rows.extend(rows)
        self.files.extend([name] * len(rows))
        self.lines.extend(lines)


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


def csv_shape(path: Path, data: bytes) -> tuple[list[str], int, bool] | None:
    """(header, physical lines, CRLF) when DuckDB's reader can take a UTF-8 file with exact
    line numbers; None when Python's csv must (see the module docstring)."""
    if any(c in str(path) for c in "*?["):    # read_csv would take the name for a glob
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
    """Look at all of a city's landing files, in name order: the plain CSV ones (csv_shape)
    are left to DuckDB's reader, the rest are parsed here."""
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
        # Portal pages (city.source) may leave columns out: Python pads them (below).
        plain = None if recoded or city.format == "json" or city.source else csv_shape(path, data)
        try:
            if plain is not None:
                header, rows, lines, bad = plain[0], [], [], []
            elif city.format == "json":
                header, rows, lines, bad = _parse_json(text, city.source.timezone if city.source else None)
            else:
                header, rows, lines, bad = parse_csv(text)
        except SourceFileError as exc:
            error = f"unreadable file: {name}: {exc}"
            read.file_errors.append(error)
            read.bad.append((city.key, name, None, None, error))
            continue
        read.bad.extend((city.key, name, line, row, reason) for line, row, reason in bad)
        if not rows and plain is None:
            continue
        if city.source is not None:
            # A portal leaves a null field out of a JSON row: a mapped column that no row of the
            # page has is blank, not a broken file.
            absent = [c for c in city.columns.values() if c not in header]
            header = header + absent
            rows = [row + [""] * len(absent) for row in rows]
        missing = [city.columns[f] for f in REQUIRED_FIELDS if city.columns[f] not in header]
        error = None
        if missing:
            # The whole file is quarantined with a reason naming the column and the file.
            error = (f"missing required column: {', '.join(repr(c) for c in missing)} in {name} "
                     f"(city {city.key!r}, see leads.toml)")
            read.file_errors.append(error)
        group = read.groups.setdefault((tuple(header), error), FileGroup(header, error=error))
        if plain is not None:
            group.csv.append(CsvFile(name, path, plain[1], plain[2]))
        else:
            group.add(name, rows, lines)
    return read


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
        for group in read.groups.values():
            if group.csv:
                _read_with_duckdb(con, read, group)
            if group.rows:
                _stage_rows(con, read.city, group)
        if read.bad:
            con.register("bad_frame", pd.DataFrame(read.bad, columns=list(BAD_ROW_COLUMNS)))
            con.execute("INSERT INTO bad SELECT city, source_file, source_line::BIGINT, source_row, reason FROM bad_frame")
            con.unregister("bad_frame")
    return con.execute("SELECT (SELECT count(*) FROM stg) + (SELECT count(*) FROM bad)").fetchone()[0]


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _insert_sql(city: CitySource, group: FileGroup, rows: str, file: str, line: str) -> tuple[str, list]:
    """INSERT of the table or frame `rows` (the file's own column names) into `stg`, or into
    `bad` when the group lacks a required column."""
    header = group.header
    if len({h.lower() for h in header}) == len(header):
        source_row = "to_json(struct_pack(" + ", ".join(f"{_quote(h)} := {_quote(h)}" for h in header) + "))::VARCHAR"
    else:   # names that differ only in case: json_object's keys are string literals
        source_row = "json_object(" + ", ".join(f"{_lit(h)}, {_quote(h)}" for h in header) + ")::VARCHAR"
    if group.error:
        return f"INSERT INTO bad SELECT ?, {file}, {line}, {source_row}, ? FROM {rows}", [city.key, group.error]
    mapped = ", ".join(f"{_quote(city.columns[f])}::VARCHAR" if city.columns.get(f) in header else "NULL"
                       for f in CANONICAL_FIELDS)
    return f"INSERT INTO stg SELECT ?, {file}, {line}, {source_row}, {mapped} FROM {rows}", [city.key]


def _stage_rows(con: duckdb.DuckDBPyConnection, city: CitySource, group: FileGroup) -> None:
    frame = pd.DataFrame(group.rows, columns=group.header)
    frame["__file"] = group.files
    frame["__line"] = group.lines
    con.register("frame", frame)
    try:
        con.execute(*_insert_sql(city, group, "frame", "__file", "__line"))
    finally:
        con.unregister("frame")


def read_csv_sql(files: list[CsvFile], header: list[str]) -> str:
    """One read_csv over files that share a header and line ends, with each row's file
    (`__path`) and its position in the whole read (`__ord`)."""
    columns = "{" + ", ".join(f"{_lit(h)}: 'VARCHAR'" for h in header) + "}"
    new_line = "'\\r\\n'" if files[0].crlf else "'\\n'"      # DuckDB's escaped spelling
    paths = "[" + ", ".join(_lit(str(f.path)) for f in files) + "]"
    names = ", ".join(_quote(h) for h in header)
    # No sniffing: the dialect is RFC 4180 and every column is text. An empty field is '' as
    # Python's csv gives it (nullstr is a character no feed sends), not NULL. WITH ORDINALITY
    # is row_number() OVER () in the order the files and their rows are read.
    return (f"SELECT * FROM read_csv({paths}, header = true, auto_detect = false, delim = ',', quote = '\"', "
            f"escape = '\"', new_line = {new_line}, columns = {columns}, nullstr = {_lit(chr(1))}, "
            f"filename = '__path', store_rejects = true, rejects_table = 'csv_rejects', "
            f"rejects_scan = 'csv_scans') WITH ORDINALITY AS t({names}, __path, __ord)")


def _read_with_duckdb(con: duckdb.DuckDBPyConnection, read: CityRead, group: FileGroup) -> None:
    """Stage the group's CSV files with DuckDB's reader, straight into `stg` (or `bad`).

    A row's line number is worked out from its position in the file (WITH ORDINALITY) and
    the line numbers of the rows DuckDB rejected: with no blank line and no record spanning
    two lines (checked: the rows and rejects add up to the file's lines), the n-th row read
    is on the n-th line that is neither the header nor a reject. A file where they do not
    add up is read again by Python's csv. A rejected row gets Python's reading: a row the
    lenient reader splits into the header's width is kept (as before DuckDB read the files),
    any other is a bad row with the reason; an all-blank one is no row at all.
    """
    header, width = group.header, len(group.header)
    target = "bad" if group.error else "stg"
    con.execute("DROP TABLE IF EXISTS csv_rejects")
    con.execute("DROP TABLE IF EXISTS csv_scans")
    index = {str(f.path): i for i, f in enumerate(group.csv)}
    reads = " UNION ALL ".join(read_csv_sql([f for f in group.csv if f.crlf == crlf], header)
                               for crlf in sorted({f.crlf for f in group.csv}))
    # Staged with the file's path and the row's position in the read; both are made the
    # file's name and the row's line below (a path has a '/', a name does not).
    try:
        con.execute(*_insert_sql(read.city, group, f"({reads})", "__path", "__ord"))
    except duckdb.InvalidInputException:
        # A file DuckDB's parser gives up on (not only rejects rows of): the statement left
        # nothing behind (stage runs outside a transaction); Python's csv reads the group.
        _read_with_python(read, group, range(len(group.csv)))
        return
    rejects: dict[int, dict[int, str]] = {}
    for path, line, text in con.execute("""
            SELECT s.file_path, e.line, any_value(e.csv_line) FROM csv_rejects e
            JOIN csv_scans s USING (scan_id, file_id) GROUP BY ALL""").fetchall():
        rejects.setdefault(index[path], {})[int(line)] = text.strip("\r\n")
    read_rows = {index[p]: (n, first) for p, n, first in con.execute(
        f"SELECT source_file, count(*), min(source_line) FROM {target} "
        "WHERE source_file IN (SELECT unnest(?::VARCHAR[])) GROUP BY 1", [list(index)]).fetchall()}
    again = [i for i, f in enumerate(group.csv)
             if 1 + read_rows.get(i, (0, 0))[0] + len(rejects.get(i, {})) != f.lines]
    if again:
        con.execute(f"DELETE FROM {target} WHERE source_file IN (SELECT unnest(?::VARCHAR[]))",
                    [[str(group.csv[i].path) for i in again]])
    line_map = []      # (path, position in the read, line) for the rows of files with rejects
    for i, lines in rejects.items():
        if i in again:
            continue
        f = group.csv[i]
        count, first = read_rows.get(i, (0, 0))
        free = (n for n in range(2, f.lines + 1) if n not in lines)
        line_map.extend((str(f.path), first + k, n) for k, n in zip(range(count), free))
        for n, text in sorted(lines.items()):
            cells = next(csv.reader([text]), [])
            if len(cells) == width:
                group.add(f.name, [cells], [n])
            elif any(cell.strip() for cell in cells):
                read.bad.append((read.city.key, f.name, n, json.dumps(cells),
                                 f"malformed row: expected {width} fields, found {len(cells)}"))
    _read_with_python(read, group, again)
    files = pd.DataFrame([(str(f.path), f.name, read_rows[i][1] - 2, i in rejects)
                          for i, f in enumerate(group.csv) if i in read_rows and i not in again],
                         columns=["__path", "__name", "__offset", "__mapped"])
    con.register("csv_files", files)
    con.register("csv_lines", pd.DataFrame(line_map, columns=["__path", "__ord", "__line"]))
    try:
        if line_map:
            con.execute(f"""UPDATE {target} t SET source_line = l.__line FROM csv_lines l
                            WHERE t.source_file = l.__path AND t.source_line = l.__ord""")
        con.execute(f"""UPDATE {target} t SET source_file = f.__name,
                            source_line = CASE WHEN f.__mapped THEN t.source_line ELSE t.source_line - f.__offset END
                        FROM csv_files f WHERE t.source_file = f.__path""")
    finally:
        con.unregister("csv_files")
        con.unregister("csv_lines")


def _read_with_python(read: CityRead, group: FileGroup, which) -> None:
    """Python's csv reads these of the group's CSV files (their rows join group.rows)."""
    for i in which:
        _, rows, lines, bad = parse_csv(decode(group.csv[i].path.read_bytes())[0])
        group.add(group.csv[i].name, rows, lines)
        read.bad.extend((read.city.key, group.csv[i].name, n, row, reason) for n, row, reason in bad)
