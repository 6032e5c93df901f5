"""A partition's rows follow its feed: permits that move to another day or leave the feed,
and the blocking check every_permit_scored_once that must notice when they do not."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from lead_assets.sources.appraisal import load_property_records
from lead_assets.defs.assets.leads import CHECK_SQL
from lead_assets.sources.ingest import ingest
from lead_assets.leads.scoring import score
from lead_assets.warehouse.connection import connect, register_partitions

from .conftest import TODAY

DAY1, DAY2 = TODAY - timedelta(days=3), TODAY - timedelta(days=2)


def landing_file(settings, city, day):
    return next(p for p in (settings.landing_dir / city).glob("*.csv") if day.isoformat() in p.name)


def first_permit(settings, city, day) -> tuple[list[str], list[str]]:
    """(header, fields) of the first permit line of a city's file for `day`."""
    rows = list(csv.reader(io.StringIO(landing_file(settings, city, day).read_text())))
    return rows[0], rows[1]


def check_failures(settings, parts) -> int:
    with connect(settings.warehouse_path) as con:
        register_partitions(con, parts)
        return con.execute(CHECK_SQL["every_permit_scored_once"]).fetchone()[0]


def rows_of(settings, table, key, permit) -> list[tuple]:
    with connect(settings.warehouse_path) as con:
        return con.execute(f"SELECT city, permit_day FROM {table} WHERE {key} = ?", [permit]).fetchall()


def test_a_permit_whose_issued_date_changes_lives_on_its_new_day_only(project):
    load_property_records(project)
    parts = [("plano", DAY1), ("plano", DAY2)]
    ingest(project, parts)
    score(project, parts)
    header, fields = first_permit(project, "plano", DAY1)
    permit = fields[0]
    # A later file re-sends the permit with another issued date (the seed's feeds do this).
    fields[header.index("IssuedDate")] = DAY2.strftime("%m/%d/%Y")
    later = project.landing_dir / "plano" / f"plano_permits_{TODAY.isoformat()}_corrections.csv"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, fields])
    later.write_text(buf.getvalue())

    ingest(project, [("plano", DAY2)])        # only the new day is loaded and scored
    score(project, [("plano", DAY2)])
    assert rows_of(project, "raw_permits", "permit_num", permit) == [("plano", DAY2)]
    assert rows_of(project, "scored_leads", "permit_id", permit) == [("plano", DAY2)]
    assert check_failures(project, parts) == 0


def test_every_permit_scored_once_flags_duplicates_and_scored_rows_without_a_permit(built):
    parts = [("plano", DAY1), ("plano", DAY2)]
    assert check_failures(built, parts) == 0
    with connect(built.warehouse_path) as con:
        permit = con.execute("SELECT permit_num FROM raw_permits WHERE city = 'plano' AND permit_day = ? "
                             "ORDER BY permit_num LIMIT 1", [DAY1]).fetchone()[0]
        # The same permit under a second day (the old defect): caught.
        con.execute("INSERT INTO raw_permits SELECT * REPLACE (DATE '%s' AS permit_day) FROM raw_permits "
                    "WHERE city = 'plano' AND permit_num = ?" % DAY2, [permit])
    assert check_failures(built, [("plano", DAY2)]) >= 1
    with connect(built.warehouse_path) as con:
        con.execute("DELETE FROM raw_permits WHERE city = 'plano' AND permit_num = ? AND permit_day = ?",
                    [permit, DAY2])
    assert check_failures(built, parts) == 0
    with connect(built.warehouse_path) as con:
        # A scored row whose raw permit is gone: caught.
        con.execute("DELETE FROM raw_permits WHERE city = 'plano' AND permit_num = ?", [permit])
    assert check_failures(built, [("plano", DAY1)]) == 1


def _drop_line(path, permit):
    """The city re-sends the day's file without that permit."""
    path.write_text("".join(line for line in path.read_text().splitlines(keepends=True)
                            if not line.startswith(permit + ",")))


def _bad_valuation(path, permit):
    """The city re-sends the permit with a valuation that is not a number: now quarantined."""
    rows = list(csv.reader(io.StringIO(path.read_text())))
    col = rows[0].index("EstProjectCost")
    for row in rows[1:]:
        if row[0] == permit:
            row[col] = "call the office"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue())


@pytest.mark.parametrize("leaves", [_drop_line, _bad_valuation], ids=["deleted", "quarantined"])
def test_a_permit_that_leaves_the_feed_loses_its_scored_row_and_its_buyer_file_line(built, leaves):
    from lead_assets.exports.files import write_buyer_files
    day = DAY1
    with connect(built.warehouse_path) as con:
        permit, key = con.execute("""
            SELECT permit_id, trade_group || '/' || category || '/tier_' || lower(tier) FROM scored_leads s
            WHERE city = 'plano' AND permit_day = ? AND NOT discarded AND NOT needs_review
              AND tier IN ('A', 'B', 'C')
              AND (SELECT count(*) FROM permit_projects m JOIN permit_projects o USING (city, project_id)
                   WHERE m.city = s.city AND m.permit_num = s.permit_id) = 1   -- a one-permit project
            ORDER BY permit_id LIMIT 1""", [day]).fetchone()
    buyer_file = built.exports_dir / f"{key}.csv"
    assert permit in buyer_file.read_text()
    leaves(landing_file(built, "plano", day), permit)
    ingest(built, [("plano", day)])
    score(built, [("plano", day)])
    write_buyer_files(built)
    assert rows_of(built, "raw_permits", "permit_num", permit) == []
    assert rows_of(built, "scored_leads", "permit_id", permit) == []
    assert permit not in buyer_file.read_text()
    assert check_failures(built, [("plano", day)]) == 0
    if leaves is _bad_valuation:
        with connect(built.warehouse_path) as con:
            assert con.execute("SELECT reason FROM quarantine WHERE permit_num = ?", [permit]).fetchone()[0] \
                == "non-numeric valuation: \"call the office\""


def test_a_negative_limit_is_one_clear_error_before_any_work(project, capsys):
    import pytest

    from lead_assets.cli.main import main
    for argv in (["score", "--limit", "-5"], ["list", "--limit", "-5"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert "must be 0 or more, not -5" in err and "Traceback" not in err
    assert not project.warehouse_path.exists(), "nothing was loaded"


def test_list_as_csv_neutralizes_formula_cells_like_the_exports(built, capsys):
    from lead_assets.cli.main import main
    with connect(built.warehouse_path) as con:
        con.execute("""UPDATE scored_leads SET owner_name = '=HYPERLINK("http://x","y")',
                       project_description = '+cmd|calc', property_address = '@SUM(A1)'
                       WHERE city = 'plano' AND NOT discarded""")
    assert main(["list", "--city", "plano", "--format", "csv", "--limit", "5"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows
    for row in rows:
        assert row["owner_name"] == "'=HYPERLINK(\"http://x\",\"y\")"
        assert row["property_address"] == "'@SUM(A1)"
        cells = [v for v in row.values() if v]
        assert not any(v[0] in "=+-@" and not v.lstrip("+-").replace(".", "").isdigit() for v in cells), row
