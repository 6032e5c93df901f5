"""The markdown previews in the UI's metadata: whole words, days as days, one table row per row."""
import duckdb

from lead_assets.defs.metadata import CELL_CHARS, clip, preview

LONG = ("Tear off and replace roof shingles, decking and flashing on the main house, "
        "detached garage and covered patio after hail damage")


def _rows(markdown: str) -> list[list[str]]:
    lines = markdown.splitlines()[2:]                     # after the header and the rule
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in lines]


def test_preview_cuts_at_a_word_boundary_and_shows_dates_as_days():
    con = duckdb.connect()
    frame = con.execute("""SELECT DATE '2026-11-03' AS permit_day, ? AS description, 81 AS score, NULL AS tier
                           UNION ALL SELECT DATE '2026-11-04', 'pool | spa', 12, 'C'""", [LONG]).df()
    [first, second] = _rows(preview(frame).value)
    assert first[0] == "2026-11-03" and second[0] == "2026-11-04", "a DATE is shown as YYYY-MM-DD"
    shown = first[1]
    assert shown.endswith("…") and len(shown) <= CELL_CHARS
    kept = shown[:-1]
    assert LONG.startswith(kept) and LONG[len(kept)] in " ,", "cut between words, not in one"
    assert first[3] == "", "NULL is an empty cell, not nan"
    assert second[1] == "pool \\| spa", "a pipe in a value does not split the table"


def test_clip_keeps_short_text_and_cuts_a_single_long_word():
    assert clip("  new   roof\nand gutters ") == "new roof and gutters"
    assert clip("x" * 200, 10) == "x" * 9 + "…"
    assert clip("alpha beta gamma", 11) == "alpha beta…"
    assert clip("alpha beta gamma", 12) == "alpha beta…"
