"""Small helpers for materialization metadata."""

import dagster as dg
import pandas as pd


def preview(frame: pd.DataFrame, rows: int = 5) -> dg.MarkdownMetadataValue:
    if frame is None or frame.empty:
        return dg.MetadataValue.md("_no rows_")
    return dg.MetadataValue.md(frame.head(rows).to_markdown(index=False))


def partition_label(keys: list[str]) -> str:
    return keys[0] if len(keys) == 1 else f"{len(keys)} partitions ({keys[0]} .. {keys[-1]})"
