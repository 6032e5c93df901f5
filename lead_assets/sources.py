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
from pathlib import Path

import duckdb
import pandas as pd

from lead_assets.settings import CANONICAL_FIELDS, REQUIRED_FIELDS, CitySource

BAD_ROW_COLUMNS = ("city", "source_file", "source_line", "source_row", "reason")


class SourceFileError(ValueError):
    """A whole file cannot be parsed (e.g. broken JSON)."""


@dataclass
class CityBatch:
    """Everything read from one city's landing files."""
    city: str
    rows: int                               # rows staged into `stg`
    bad_rows: pd.DataFrame                  # BAD_ROW_COLUMNS
    files: list[str] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    empty_files: list[str] = field(default_factory=list)
    recoded_files: list[str] = field(default_factory=list)   # not UTF-8, read as cp1252

    @property
    def source_rows(self) -> int:
        return self.rows + len(self.bad_rows)


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


def _parse_csv(text: str) -> tuple[list[str], list[list[str]], list[int], list[tuple[int, str, str]]]:
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


def _parse_json(text: str) -> tuple[list[str], list[list[str]], list[int], list[tuple[int, str, str]]]:
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SourceFileError(f"not valid JSON ({exc})") from None
    else:  # JSON Lines
        items = []
        for n, line in enumerate(text.splitlines(), 1):
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
class FileRead:
    rows: int                   # rows staged
    bad_rows: pd.DataFrame      # BAD_ROW_COLUMNS
    recoded: bool = False
    error: str | None = None    # file-level problem; then every row is in bad_rows with it


STAGING_DDL = ("CREATE OR REPLACE TEMP TABLE stg (city VARCHAR, source_file VARCHAR, source_line BIGINT, "
               "source_row VARCHAR, " + ", ".join(f"{f} VARCHAR" for f in CANONICAL_FIELDS) + ")")


def read_file(path: Path, city: CitySource, con: duckdb.DuckDBPyConnection) -> FileRead:
    """Stage one landing file into the temp table `stg` (canonical names, text values)."""
    name = path.name
    text, recoded = decode(path.read_bytes())
    try:
        header, rows, lines, bad = (_parse_json if city.format == "json" else _parse_csv)(text)
    except SourceFileError as exc:
        error = f"unreadable file: {name}: {exc}"
        return FileRead(0, _bad_frame([(city.key, name, None, None, error)]), recoded, error)
    bad_rows = _bad_frame([(city.key, name, line, row, reason) for line, row, reason in bad])
    if not header or not rows:
        return FileRead(0, bad_rows, recoded)
    frame = pd.DataFrame(rows, columns=header)
    frame["__line"] = lines
    # Keys of json_object are SQL string literals; the values are the file's own columns.
    source_row = "json_object(" + ", ".join(
        "'" + h.replace("'", "''") + "', " + _quote(h) for h in header) + ")::VARCHAR"
    missing = [city.columns[f] for f in REQUIRED_FIELDS if city.columns[f] not in header]
    if missing:
        # The whole file is quarantined with a reason naming the column and the file.
        error = (f"missing required column: {', '.join(repr(c) for c in missing)} in {name} "
                 f"(city {city.key!r}, see leads.toml)")
        rejected = con.execute(
            f"SELECT ? AS city, ? AS source_file, __line AS source_line, {source_row} AS source_row, "
            f"? AS reason FROM frame", [city.key, name, error]).df()
        return FileRead(0, pd.concat([bad_rows, rejected], ignore_index=True), recoded, error)
    mapped = ", ".join(
        f"{_quote(city.columns[f])}::VARCHAR" if city.columns.get(f) in header else "NULL"
        for f in CANONICAL_FIELDS
    )
    con.execute(f"INSERT INTO stg SELECT ?, ?, __line, {source_row}, {mapped} FROM frame", [city.key, name])
    return FileRead(len(rows), bad_rows, recoded)


def _empty(columns) -> pd.DataFrame:
    return pd.DataFrame(columns=list(columns))


def _bad_frame(records: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(records, columns=list(BAD_ROW_COLUMNS))


def read_city(landing_dir: Path, city: CitySource, con: duckdb.DuckDBPyConnection) -> CityBatch:
    """Stage all of a city's landing files (in name order) into `stg` on `con`."""
    con.execute(STAGING_DDL)
    batch = CityBatch(city.key, 0, _empty(BAD_ROW_COLUMNS))
    bad = []
    for path in sorted(p for p in landing_dir.glob(city.landing) if p.is_file()):
        batch.files.append(path.name)
        if not path.read_bytes().strip():
            batch.empty_files.append(path.name)
            continue
        read = read_file(path, city, con)
        batch.rows += read.rows
        if len(read.bad_rows):
            bad.append(read.bad_rows)
        if read.error:
            batch.file_errors.append(read.error)
        if read.recoded:
            batch.recoded_files.append(path.name)
    if bad:
        batch.bad_rows = pd.concat(bad, ignore_index=True)
    return batch
