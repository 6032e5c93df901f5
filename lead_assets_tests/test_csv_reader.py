"""DuckDB's CSV reader stages a landing file exactly as Python's csv reads it: the same rows,
the same line numbers, the same bad rows with the same reasons, on real Austin rows damaged
the ways real exports are (ragged rows, stray quotes, CRLF, BOM, quoted newlines, blank
lines, cp1252)."""
from __future__ import annotations

import csv
import io
import json
import random
from datetime import date

import duckdb
import pytest

from lead_assets.config.settings import Settings
from lead_assets.sources import landing
from lead_assets_tests.conftest import FIXTURES, write_config
from lead_assets_tests.test_sources import AUSTIN

REAL = (FIXTURES / "austin" / "2015-03-05.csv").read_bytes()   # 74 real permits


def _lines(data: bytes) -> list[bytes]:
    return data.rstrip(b"\n").split(b"\n")


def _with(lines: list[bytes], at: dict[int, bytes]) -> bytes:
    """The file with extra physical lines inserted before the given 0-based line positions."""
    out = []
    for i, line in enumerate(lines):
        if i in at:
            out.append(at[i])
        out.append(line)
    return b"\n".join(out) + b"\n"


def _ragged(lines: list[bytes]) -> bytes:
    header = next(csv.reader([lines[0].decode()]))
    short = b"2015-099001 BP,R- 101 Single Family Houses,New"
    long = lines[5] + b",one,too,many"
    blank_cells = b"," * 3                                       # no data: not a row at all
    stray_quote = b'2015-099002 EP,"Residential"x' + b"," * (len(header) - 2)  # Python keeps it
    return _with(lines, {3: short, 10: long, 20: blank_cells, 30: stray_quote, 40: b"  "})


VARIANTS = {
    "as exported": (lambda ls: REAL, "duckdb"),
    "ragged and stray quotes": (_ragged, "duckdb"),
    "CRLF": (lambda ls: _ragged(ls).replace(b"\n", b"\r\n"), "duckdb"),
    "BOM": (lambda ls: b"\xef\xbb\xbf" + _ragged(ls), "duckdb"),
    "no final newline, ragged last row": (lambda ls: b"\n".join(ls) + b"\n2015-1,x", "duckdb"),
    # A real row whose quoted description spans two lines: DuckDB's rows and rejects do not
    # add up to the file's lines, so Python reads the file again.
    "quoted newline": (lambda ls: b"\n".join(ls[:7] + [ls[7].replace(b'"Construct new', b'"Construct\nnew', 1)]
                                             + ls[8:]) + b"\n", "duckdb"),
    "blank line inside": (lambda ls: _with(_ragged(ls).rstrip(b"\n").split(b"\n"), {12: b""}), "python"),
    "cp1252": (lambda ls: _ragged(ls).replace(b"Remodel", "Remodél – ".encode("cp1252")), "python"),
    # One empty field too many: DuckDB alone would read the row as the header's width, its
    # cells shifted; it must be quarantined as Python's csv quarantines it.
    "a field too many, empty": (lambda ls: _with(ls, {9: ls[9].replace(b",", b",,", 1)}), "duckdb"),
    # A NUL in a column name would end the SQL string that names it.
    "NUL in the header": (lambda ls: b"\n".join([ls[0].replace(b",status,", b",sta\x00tus,"), *ls[1:]]) + b"\n",
                          "duckdb"),
    # Files glued together from two exports: DuckDB's parser takes one kind of line end.
    "mixed line ends": (lambda ls: b"\r\n".join(ls[:30]) + b"\r\n" + _ragged(ls[30:]), "python"),
}


@pytest.fixture
def austin_settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("LEADS_TODAY", "2015-03-20")
    return Settings.load(write_config(tmp_path, AUSTIN, start_date="2015-03-01"))


def _expected(data: bytes, name: str) -> tuple[list, list]:
    """What Python's csv reads: (line, row as a dict), (line, cells, reason)."""
    header, rows, lines, bad = landing.parse_csv(landing.decode(data)[0])
    return ([(name, n, dict(zip(header, row))) for n, row in zip(lines, rows)],
            [(name, n, json.loads(cells), reason) for n, cells, reason in bad])


@pytest.mark.parametrize("variant", VARIANTS)
def test_duckdb_reader_stages_what_pythons_csv_reads(austin_settings, variant):
    make, reader = VARIANTS[variant]
    data = make(_lines(REAL))
    folder = austin_settings.landing_dir / "austin"
    folder.mkdir(parents=True)
    (folder / "2015-03-05.csv").write_bytes(data)
    (folder / "2015-03-07.csv").write_bytes((FIXTURES / "austin" / "2015-03-07.csv").read_bytes())

    read = landing.read_city(austin_settings.landing_dir, austin_settings.city("austin"))
    by_duckdb = sorted(f.name for g in read.groups.values() for f in g.csv)
    assert ("2015-03-05.csv" in by_duckdb) == (reader == "duckdb")
    assert "2015-03-07.csv" in by_duckdb

    con = duckdb.connect()
    source_rows = landing.stage(con, [read])
    rows = sorted((f, n, json.loads(r)) for f, n, r in con.execute(
        "SELECT source_file, source_line, source_row FROM stg").fetchall())
    bad = sorted((f, n, json.loads(r), why) for f, n, r, why in con.execute(
        "SELECT source_file, source_line, source_row, reason FROM bad").fetchall())
    want_rows, want_bad = [], []
    for name in ("2015-03-05.csv", "2015-03-07.csv"):
        r, b = _expected((folder / name).read_bytes(), name)
        want_rows += r
        want_bad += b
    assert rows == sorted(want_rows, key=lambda x: (x[0], x[1]))
    assert bad == sorted(want_bad)
    assert source_rows == len(rows) + len(bad)
    # The mapped fields come from the same cells.
    mapped = dict(con.execute("SELECT source_file || ':' || source_line, permit_num FROM stg").fetchall())
    assert all(mapped[f"{f}:{n}"] == row["permit_number"] for f, n, row in rows)
    if variant == "ragged and stray quotes":
        assert [(n, why) for _, n, _, why in bad] == [
            (4, "malformed row: expected 37 fields, found 3"),
            (12, "malformed row: expected 37 fields, found 40")]
    if variant == "a field too many, empty":
        assert [(n, why) for _, n, _, why in bad] == [(10, "malformed row: expected 37 fields, found 38")]


def test_a_file_name_duckdb_would_take_for_a_glob_is_read_as_itself(austin_settings):
    folder = austin_settings.landing_dir / "austin"
    folder.mkdir(parents=True)
    (folder / "2015-03-0?.csv").write_bytes(REAL)            # ? would also match 2015-03-05.csv
    (folder / "2015-03-05.csv").write_bytes((FIXTURES / "austin" / "2015-03-05.csv").read_bytes())
    read = landing.read_city(austin_settings.landing_dir, austin_settings.city("austin"))
    assert [f.name for g in read.groups.values() for f in g.csv] == ["2015-03-05.csv"]
    con = duckdb.connect()
    landing.stage(con, [read])
    assert dict(con.execute("SELECT source_file, count(*) FROM stg GROUP BY 1").fetchall()) == {
        "2015-03-0?.csv": 74, "2015-03-05.csv": 74}


def test_line_numbers_hold_in_a_large_file_read_in_parallel(austin_settings):
    """Thousands of real rows (DuckDB splits the file between threads), rejects spread
    through it: every row keeps its own line number."""
    lines = _lines(REAL)
    body = lines[1:]
    out, bad_lines = [lines[0]], []
    for i in range(60_000):
        row = body[i % len(body)]
        if i % 997 == 0:
            row = b"short,row"
            bad_lines.append(len(out) + 1)
        else:
            row = b"%d-" % i + row                # a unique permit number, to find the row again
        out.append(row)
    folder = austin_settings.landing_dir / "austin"
    folder.mkdir(parents=True)
    (folder / "big.csv").write_bytes(b"\n".join(out) + b"\n")
    read = landing.read_city(austin_settings.landing_dir, austin_settings.city("austin"))
    assert [f.name for g in read.groups.values() for f in g.csv] == ["big.csv"]
    con = duckdb.connect()
    con.execute("SET threads = 4")
    landing.stage(con, [read])
    got = con.execute("SELECT source_line, permit_num FROM stg ORDER BY source_line").fetchall()
    assert len(got) == 60_000 - len(bad_lines)
    assert all(num == next(csv.reader(io.StringIO(out[n - 1].decode())))[0] for n, num in got)
    assert [n for (n,) in con.execute("SELECT source_line FROM bad ORDER BY 1").fetchall()] == bad_lines


def _cad(settings: Settings, name: str, data: bytes) -> None:
    settings.appraisal_dir.mkdir(parents=True, exist_ok=True)
    (settings.appraisal_dir / name).write_bytes(data)


@pytest.mark.parametrize("damage", ["none", "stray quote", "quoted newline", "cp1252", "ragged", "mixed line ends",
                                    "a field too many, empty"])
def test_property_records_hold_what_pythons_csv_reads(tmp_path, monkeypatch, damage):
    """The appraisal export is read by DuckDB where it can be, by Python's csv where it
    cannot; either way property_records hold the rows Python's csv splits cleanly."""
    from lead_assets.demo.feeds import generate_demo
    from lead_assets.sources.appraisal import load_property_records
    from lead_assets.warehouse.connection import connect

    monkeypatch.setenv("LEADS_TODAY", "2026-11-28")
    settings = Settings.load(write_config(tmp_path))
    generate_demo(tmp_path / "gen", date(2026, 11, 27), days=2)
    lines = _lines((tmp_path / "gen" / "cad" / "collin_cad_properties.csv").read_bytes())
    damaged = {
        "none": lines,
        "stray quote": lines[:9] + [lines[9].replace(b",", b',"x"y,', 1)] + lines[10:],
        "quoted newline": lines[:9] + [lines[9].replace(b",", b',"two\nlines",', 1)] + lines[10:],
        "cp1252": lines[:9] + [lines[9].replace(b",", ",Peña,".encode("cp1252"), 1)] + lines[10:],
        "ragged": lines[:9] + [b"only,three,fields\r"] + lines[10:],
        "mixed line ends": lines[:9] + [lines[9].rstrip(b"\r")] + lines[10:],
        "a field too many, empty": lines[:9] + [lines[9].replace(b",", b",,", 1)] + lines[10:],
    }[damage]
    data = b"\n".join(damaged) + b"\n"
    _cad(settings, "cad.csv", data)
    report = load_property_records(settings)
    header, rows, _, _ = landing.parse_csv(landing.decode(data)[0])
    want = sorted((r[header.index("prop_id")].strip(), r[header.index("owner_name")].strip() or None) for r in rows)
    with connect(settings.warehouse_path) as con:
        got = sorted(con.execute("SELECT prop_id, owner_name FROM property_records").fetchall())
    assert report.records == len(rows) == len(got)
    assert got == want


def test_property_records_missing_column_is_one_clear_error(tmp_path, monkeypatch):
    from lead_assets.sources.appraisal import load_property_records
    monkeypatch.setenv("LEADS_TODAY", "2026-11-28")
    settings = Settings.load(write_config(tmp_path))
    _cad(settings, "cad.csv", b"prop_id,situs_address\n1,2 Main St\n")
    with pytest.raises(ValueError, match=r"cad.csv: missing required column 'situs_city' \(appraisal export"):
        load_property_records(settings)


def test_a_file_duckdb_gives_up_on_goes_to_python_and_its_neighbours_stay(tmp_path):
    """Some quoted newlines stop DuckDB's scanner (with null_padding) mid-read: the statement
    leaves nothing, the clean file read with it is read by DuckDB alone, and the other is
    returned for Python's csv."""
    (tmp_path / "stops.csv").write_bytes(b'a,b,c\n1,"x\ny",3\n4,5,6\n')
    (tmp_path / "clean.csv").write_bytes(b"a,b,c\n7,8,9\n")
    files = [landing.CsvFile(tmp_path / n, *landing.csv_shape(tmp_path / n, (tmp_path / n).read_bytes())[1:])
             for n in ("stops.csv", "clean.csv")]
    con = duckdb.connect()
    con.execute("CREATE TEMP TABLE t (a VARCHAR, c VARCHAR, source_file VARCHAR, source_line BIGINT)")
    left = landing.read_csv_into(con, "t", files, ["a", "b", "c"], "a, c", [])
    assert [f.name for f in left] == ["stops.csv"]
    assert con.execute("SELECT * FROM t").fetchall() == [("7", "9", "clean.csv", 2)]


def test_randomly_damaged_real_files_stage_as_pythons_csv_reads_them(austin_settings):
    """Stray quotes, commas, line ends and NULs dropped at random into a real export: whichever
    reader takes the file, the rows, lines and reasons are Python's csv's."""
    rng = random.Random(13)
    folder = austin_settings.landing_dir / "austin"
    folder.mkdir(parents=True)
    damage = [b'"', b'""', b",", b"\r", b'"\n', b"\x00", b'"x', b'\n"', b"\n", b"\r\n", b"\n\n"]
    by_duckdb = 0
    for trial in range(150):
        data = bytearray(REAL)
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(len(data))
            data[pos:pos] = rng.choice(damage)
        (folder / "a.csv").write_bytes(bytes(data))
        read = landing.read_city(austin_settings.landing_dir, austin_settings.city("austin"))
        if read.file_errors:                    # the header lost a required column
            continue
        by_duckdb += any(g.csv for g in read.groups.values())
        con = duckdb.connect()
        landing.stage(con, [read])
        rows = sorted((n, json.loads(r)) for n, r in con.execute("SELECT source_line, source_row FROM stg").fetchall())
        bad = sorted(con.execute("SELECT source_line, reason FROM bad").fetchall())
        header, want, lines, want_bad = landing.parse_csv(landing.decode(bytes(data))[0])
        assert rows == sorted((n, dict(zip(header, r))) for n, r in zip(lines, want)), trial
        assert bad == sorted((n, why) for n, _, why in want_bad), trial
    assert by_duckdb > 20      # the damage leaves many files to DuckDB's reader


def test_cities_of_one_layout_are_read_together_each_row_keeping_its_city_file_and_line(tmp_path, monkeypatch):
    """Cities that share a header and a column mapping are staged by one read_csv (at
    thousands of cities a statement per city is most of the cost); every row keeps its own
    city, file and line, a damaged file is still read by Python's csv alone, and a city that
    reads another city's files is read on its own."""
    monkeypatch.setenv("LEADS_TODAY", "2015-03-20")
    same = AUSTIN.replace("[cities.austin", "[cities.westlake").replace('name = "Austin"', 'name = "Westlake"') \
                 .replace('landing = "austin/', 'landing = "westlake/')
    again = AUSTIN.replace("[cities.austin", "[cities.austin_again").replace('name = "Austin"', 'name = "Austin Again"')
    settings = Settings.load(write_config(tmp_path, AUSTIN + same + again, start_date="2015-03-01"))
    files = {"austin/2015-03-05.csv": REAL,
             "westlake/2015-03-07.csv": (FIXTURES / "austin" / "2015-03-07.csv").read_bytes(),
             "westlake/2015-03-08.csv": _ragged(_lines(REAL))}        # rows Python must quarantine
    for name, data in files.items():
        (settings.landing_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (settings.landing_dir / name).write_bytes(data)
    reads = [landing.read_city(settings.landing_dir, settings.city(c)) for c in ("austin", "westlake", "austin_again")]
    shared = landing._shared_reads(reads)
    assert sorted(sorted(r.city.key for r, _ in s) for s in shared) == [["austin", "westlake"], ["austin_again"]]

    con = duckdb.connect()
    source_rows = landing.stage(con, reads)
    staged = sorted((c, f, n, json.loads(r)) for c, f, n, r in con.execute(
        "SELECT city, source_file, source_line, source_row FROM stg").fetchall())
    bad = sorted(con.execute("SELECT city, source_file, source_line, reason FROM bad").fetchall())
    want, want_bad = [], []
    for city, name in (("austin", "austin/2015-03-05.csv"), ("westlake", "westlake/2015-03-07.csv"),
                       ("westlake", "westlake/2015-03-08.csv"), ("austin_again", "austin/2015-03-05.csv")):
        rows, broken = _expected(files[name], name.split("/")[1])
        want += [(city, *row) for row in rows]
        want_bad += [(city, f, n, why) for f, n, _, why in broken]
    assert staged == sorted(want)
    assert bad == sorted(want_bad) and bad
    assert source_rows == len(staged) + len(bad)
    cities = dict(con.execute("SELECT city, count(*) FROM stg GROUP BY 1").fetchall())
    assert cities["austin"] == cities["austin_again"] == 74
