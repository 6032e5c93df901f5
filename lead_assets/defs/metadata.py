"""Small helpers for materialization metadata."""

import dagster as dg
import pandas as pd

CELL_CHARS = 80   # a preview cell longer than this is cut at a word boundary


def clip(text: str, limit: int = CELL_CHARS) -> str:
    """One line of at most `limit` characters, cut between words and marked with an ellipsis."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    if " " in cut and text[limit - 1] != " ":
        cut = cut.rsplit(" ", 1)[0]       # no half word; a single word longer than limit is cut anyway
    return cut.rstrip(" ,;:-") + "…"


def _cell(value):
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return ""                                 # NULL / NaN / NaT: an empty cell, not "nan"
    if isinstance(value, pd.Timestamp):
        # Warehouse DATE columns come back as midnight timestamps: show them as the day.
        return value.date().isoformat() if value == value.normalize() else value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, str):
        return clip(value).replace("|", "\\|")   # a pipe would split the markdown table's cell
    return value


def preview(frame: pd.DataFrame, rows: int = 5) -> dg.MarkdownMetadataValue:
    if frame is None or frame.empty:
        return dg.MetadataValue.md("_no rows_")
    shown = frame.head(rows).astype(object).map(_cell)
    return dg.MetadataValue.md(shown.to_markdown(index=False))


def partition_label(keys: list[str]) -> str:
    return keys[0] if len(keys) == 1 else f"{len(keys)} partitions ({keys[0]} .. {keys[-1]})"
