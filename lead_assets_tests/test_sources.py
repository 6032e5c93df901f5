"""Sources: config-only mapping (real Austin data), and every kind of bad input."""
from __future__ import annotations

import json
import shutil
from datetime import date

import pytest

from lead_assets.sources.ingest import ingest
from lead_assets.config.errors import ConfigError
from lead_assets.config.settings import Settings
from lead_assets.warehouse.connection import connect
from lead_assets_tests.conftest import FIXTURES, write_config

AUSTIN = """
[cities.austin]
name = "Austin"
landing = "austin/*.csv"
format = "csv"
date_format = "%m/%d/%Y"
[cities.austin.columns]
permit_num = "permit_number"
permit_type = "sub_type"
work_class = "work_type"
description = "work_description"
issued_date = "date_issued"
original_address = "permit_location"
original_zip = "postal_code"
est_project_cost = "total_job_valuation"
contractor_name = "folder_owner"
owner_name = "property_owner"
status = "status"
"""

TESTVILLE = """
[cities.testville]
name = "Testville"
landing = "testville/*"
format = "csv"
date_format = "%Y-%m-%d"
[cities.testville.columns]
permit_num = "id"
description = "desc"
issued_date = "issued"
original_address = "addr"
est_project_cost = "value"
owner_name = "owner"
"""
HEADER = "id,desc,issued,addr,value,owner\n"


@pytest.fixture
def austin(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("LEADS_TODAY", "2015-03-20")
    config = write_config(tmp_path, AUSTIN, start_date="2015-03-01")
    shutil.copytree(FIXTURES / "austin", tmp_path / "data" / "landing" / "austin")
    return Settings.load(config)


def _days(start: int, end: int, month=3, year=2015):
    return [date(year, month, d) for d in range(start, end + 1)]


def test_real_austin_export_loads_through_config_alone(austin):
    report = ingest(austin, [("austin", d) for d in _days(1, 19)])
    files = sorted(p.name for p in (FIXTURES / "austin").glob("*.csv"))
    source_rows = sum(max(0, len((FIXTURES / "austin" / f).read_text().splitlines()) - 1) for f in files)
    assert report.source_rows == source_rows == 108
    # Every source row is accounted for exactly once: loaded or quarantined.
    assert report.rows_loaded + report.rows_quarantined == source_rows
    assert report.reasons == {"duplicate": 4}   # the real export repeats permits (3 of them, 4 extra rows)
    assert report.file_errors == []
    with connect(austin.warehouse_path) as con:
        rows = con.execute("""SELECT permit_day, count(*), count(DISTINCT permit_num) FROM raw_permits
                              WHERE city = 'austin' GROUP BY 1 ORDER BY 1""").fetchall()
        sample = con.execute("""SELECT permit_type, description, original_address, contractor_name, source_row
                                FROM raw_permits WHERE city = 'austin' ORDER BY permit_num LIMIT 1""").fetchone()
        sample_id = con.execute("SELECT min(permit_num) FROM raw_permits WHERE city = 'austin'").fetchone()[0]
    assert [d for d, _, _ in rows] == [date(2015, 3, 5), date(2015, 3, 7), date(2015, 3, 8), date(2015, 3, 15)]
    assert sum(n for _, n, _ in rows) == report.rows_loaded == 104
    assert all(n == distinct for _, n, distinct in rows)
    permit = json.loads(sample[4])   # the source row is kept verbatim as JSON
    assert permit["permit_number"] == sample_id and permit["work_description"] == sample[1]


def test_header_only_file_is_fine(austin):
    # 2015-03-14.csv is a real header-only export.
    report = ingest(austin, [("austin", date(2015, 3, 14))])
    assert report.loaded[("austin", date(2015, 3, 14))] == 0
    assert report.file_errors == []


@pytest.fixture
def testville(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("LEADS_TODAY", "2026-11-28")
    config = write_config(tmp_path, TESTVILLE)
    (tmp_path / "data" / "landing" / "testville").mkdir(parents=True)
    return Settings.load(config)


def _drop(settings: Settings, name: str, content: str | bytes) -> None:
    path = settings.landing_dir / "testville" / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())


DAY = date(2026, 11, 20)


def _load(settings):
    report = ingest(settings, [("testville", DAY)])
    with connect(settings.warehouse_path) as con:
        permits = con.execute("SELECT permit_num, description, est_project_cost, owner_name FROM raw_permits "
                              "WHERE city = 'testville' ORDER BY permit_num").fetchall()
        quarantine = con.execute("SELECT source_file, source_line, permit_num, reason FROM quarantine "
                                 "WHERE city = 'testville' ORDER BY source_file, source_line").fetchall()
    return report, permits, quarantine


def test_missing_required_column_names_column_and_file_and_loses_nothing_else(testville):
    _drop(testville, "a_good.csv", HEADER + "T1,Pool,2026-11-20,1 Main St,100,Ann\n")
    _drop(testville, "b_bad.csv", "id,desc,addr,value,owner\nT2,Roof,2 Main St,5,Bob\n")
    report, permits, quarantine = _load(testville)
    assert len(report.file_errors) == 1
    assert "'issued'" in report.file_errors[0] and "b_bad.csv" in report.file_errors[0]
    assert [p[0] for p in permits] == ["T1"]
    # The bad file's row is quarantined with that reason, not dropped.
    assert [(q[0], q[1]) for q in quarantine] == [("b_bad.csv", 2)]
    assert "missing required column" in quarantine[0][3]


def test_bad_date_and_bad_number_are_quarantined_and_the_rest_loads(testville):
    _drop(testville, "day.csv", HEADER
          + "T1,Pool,2026-11-20,1 Main St,100,Ann\n"
          + "T2,Roof,13/45/2026,2 Main St,100,Bob\n"
          + "T3,Fence,2026-11-20,3 Main St,12,5OO,Cy\n"      # ragged: one field too many
          + "T4,Fence,2026-11-20,3 Main St,call for price,Cy\n"
          + "T5,Patio,2026-11-20,4 Main St,N/A,Di\n")        # N/A means unknown, not bad
    report, permits, quarantine = _load(testville)
    assert [p[0] for p in permits] == ["T1", "T5"]
    assert permits[1][2] is None
    reasons = {q[1]: q[3] for q in quarantine}
    assert reasons[3].startswith("unparseable issued date") and "13/45/2026" in reasons[3]
    assert reasons[4].startswith("malformed row")
    assert reasons[5].startswith("non-numeric valuation") and "call for price" in reasons[5]
    assert report.rows_quarantined == 3 and report.rows_loaded == 2
    assert report.reasons == {"unparseable issued date": 1, "malformed row": 1, "non-numeric valuation": 1}


def test_same_permit_twice_in_a_file_and_across_files_is_one_permit(testville):
    _drop(testville, "a.csv", HEADER + "T1,Pool,2026-11-20,1 Main St,100,Ann\n" * 2)
    _drop(testville, "b.csv", HEADER + "T1,Pool,2026-11-20,1 Main St,100,Ann\n")
    report, permits, quarantine = _load(testville)
    assert [p[0] for p in permits] == ["T1"]
    assert len(quarantine) == 2 and all(q[3].startswith("duplicate") for q in quarantine)
    assert report.source_rows == 3 == report.rows_loaded + report.rows_quarantined


def test_unknown_city_is_a_clear_error(testville):
    with pytest.raises(ConfigError, match="unknown city 'gotham'.*configured cities: .*plano"):
        ingest(testville, [("gotham", DAY)])


def test_huge_description_non_utf8_formula_owner_and_empty_file(testville):
    big = "Pool " + "x" * 100_000
    _drop(testville, "a.csv", HEADER + f'T1,{big},2026-11-20,1 Main St,100,"=HYPERLINK(""http://x"")"\n')
    _drop(testville, "b.csv", (HEADER + "T2,Muñoz patio – cover,2026-11-20,2 Main St,5,Peña\n").encode("cp1252"))
    _drop(testville, "c.csv", b"")
    report, permits, quarantine = _load(testville)
    assert quarantine == []
    by_id = {p[0]: p for p in permits}
    assert len(by_id["T1"][1]) == 2000                      # capped for scoring/export
    assert by_id["T1"][3] == '=HYPERLINK("http://x")'       # stored as is; neutralized on export
    assert by_id["T2"][1] == "Muñoz patio – cover" and by_id["T2"][3] == "Peña"
    assert report.recoded_files == ["b.csv"] and report.empty_files == ["c.csv"]


def test_json_source_and_rows_outside_the_partitions(testville, tmp_path):
    extra = TESTVILLE.replace("testville", "jsonville").replace('format = "csv"', 'format = "json"')
    settings = Settings.load(write_config(tmp_path, TESTVILLE + extra))
    (settings.landing_dir / "jsonville").mkdir(parents=True)
    (settings.landing_dir / "jsonville" / "x.json").write_text(json.dumps([
        {"id": "J1", "desc": "Roof", "issued": "2026-11-20", "addr": "1 Elm", "value": 5000, "owner": None},
        {"id": "J2", "desc": "Roof", "issued": "2019-01-01", "addr": "2 Elm", "value": None, "owner": "X"},
        "not an object",
    ]))
    report = ingest(settings, [("jsonville", DAY)])
    assert report.loaded[("jsonville", DAY)] == 1
    assert report.reasons == {"date outside the partitions": 1, "malformed row": 1}
