"""Argument types shared by the `leads` subcommands: bad values are refused by the parser, before any work."""
from __future__ import annotations

import argparse
from datetime import date


def parse_day(text: str) -> date:
    """--since / --until / --end-date: an ISO day."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def parse_count(text: str) -> int:
    """--limit: a whole number, 0 or more."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {n}")
    return n
