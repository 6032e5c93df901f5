"""The file-drop permit source: read a city's landing files into source rows.

Each file is read exactly as it is (any encoding, ragged rows, JSON or CSV). Rows that
cannot even be split into fields are returned as bad rows with a reason, never dropped;
mapping and typing happen in SQL (normalize.py).
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
class FileGroup:
    """Rows of the files of one city that share one header, ready to stage in one statement."""
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)      # per row
    lines: list[int] = field(default_factory=list)      # per row
    error: str | None = None                           # set when the files lack a required column


@dataclass
class CityRead:
    """Everything read from one city's landing files (no database involved)."""
    city: CitySource
    groups: dict[tuple, FileGroup] = field(default_factory=dict)
    bad: list[tuple] = field(default_factory=list)      # BAD_ROW_COLUMNS tuples
    files: list[str] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    empty_files: list[str] = field(default_factory=list)
    recoded_files: list[str] = field(default_factory=list)   # not UTF-8, read as cp1252

    @property
    def source_rows(self) -> int:
        return sum(len(g.rows) for g in self.groups.values()) + len(self.bad)


def read_city(landing_dir: Path, city: CitySource) -> CityRead:
    """Parse all of a city's landing files, in name order."""
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
        try:
            if city.format == "json":
                header, rows, lines, bad = _parse_json(text, city.source.timezone if city.source else None)
            else:
                header, rows, lines, bad = parse_csv(text)
        except SourceFileError as exc:
            error = f"unreadable file: {name}: {exc}"
            read.file_errors.append(error)
            read.bad.append((city.key, name, None, None, error))
            continue
        read.bad.extend((city.key, name, line, row, reason) for line, row, reason in bad)
        if not rows:
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
        group.rows.extend(rows)
        group.files.extend([name] * len(rows))
        group.lines.extend(lines)
    return read


STAGING_DDL = ("CREATE OR REPLACE TEMP TABLE stg (city VARCHAR, source_file VARCHAR, source_line BIGINT, "
               "source_row VARCHAR, " + ", ".join(f"{f} VARCHAR" for f in CANONICAL_FIELDS) + ")")
BAD_DDL = ("CREATE OR REPLACE TEMP TABLE bad (city VARCHAR, source_file VARCHAR, source_line BIGINT, "
           "source_row VARCHAR, reason VARCHAR)")


def stage(con: duckdb.DuckDBPyConnection, reads: list[CityRead]) -> None:
    """Temp tables `stg` (rows, canonical names, text) and `bad` (rows that cannot be staged)."""
    con.execute(STAGING_DDL)
    con.execute(BAD_DDL)
    for read in reads:
        city = read.city
        if read.bad:
            con.register("bad_frame", pd.DataFrame(read.bad, columns=list(BAD_ROW_COLUMNS)))
            con.execute("INSERT INTO bad SELECT city, source_file, source_line::BIGINT, source_row, reason FROM bad_frame")
            con.unregister("bad_frame")
        for group in read.groups.values():
            header = group.header
            frame = pd.DataFrame(group.rows, columns=header)
            frame["__file"] = group.files
            frame["__line"] = group.lines
            con.register("frame", frame)
            # Keys of json_object are SQL string literals; the values are the file's own columns.
            source_row = "json_object(" + ", ".join(
                "'" + h.replace("'", "''") + "', " + _quote(h) for h in header) + ")::VARCHAR"
            if group.error:
                con.execute(f"INSERT INTO bad SELECT ?, __file, __line, {source_row}, ? FROM frame",
                            [city.key, group.error])
            else:
                mapped = ", ".join(
                    f"{_quote(city.columns[f])}::VARCHAR" if city.columns.get(f) in header else "NULL"
                    for f in CANONICAL_FIELDS)
                con.execute(f"INSERT INTO stg SELECT ?, __file, __line, {source_row}, {mapped} FROM frame",
                            [city.key])
            con.unregister("frame")
