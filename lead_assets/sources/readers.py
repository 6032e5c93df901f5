"""What the landing readers share (landing.py's CSV reading, json_reader.py): SQL text for
names and paths, the glob guard, and the error of a file without a required column."""
from __future__ import annotations

from pathlib import Path

from lead_assets.config.fields import REQUIRED_FIELDS
from lead_assets.config.settings import CitySource


def sql_text(text: str) -> str:
    """A string as a SQL literal."""
    return "'" + text.replace("'", "''") + "'"


def quote_name(name: str) -> str:
    """A column name as a SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def sql_paths(paths: list[Path]) -> str:
    """A list of files as DuckDB's readers take it."""
    return "[" + ", ".join(sql_text(str(p)) for p in paths) + "]"


def globbed(path: Path) -> bool:
    """DuckDB's readers would take this name for a glob pattern."""
    return any(c in str(path) for c in "*?[")


def missing_columns(city: CitySource, present, name: str) -> str | None:
    """The error of a file (`name`) whose columns (`present`, a test of a column name) lack a
    required one: the file is quarantined whole with it."""
    missing = [city.columns[f] for f in REQUIRED_FIELDS if not present(city.columns[f])]
    if not missing:
        return None
    return (f"missing required column: {', '.join(repr(c) for c in missing)} in {name} "
            f"(city {city.key!r}, see leads.toml)")
