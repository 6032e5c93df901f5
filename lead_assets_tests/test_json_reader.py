"""DuckDB's JSON reader stages portal pages and JSON landing files as Python's json reads
them: the same records at the same positions, the same values, the same bad rows with the
same reasons, on the real Austin rows as Socrata and ArcGIS serve them."""
from __future__ import annotations

import csv
import json
import random
from collections import Counter
from datetime import date, datetime
from zoneinfo import ZoneInfo

import duckdb
import pytest

from lead_assets.config.fields import CANONICAL_FIELDS
from lead_assets.config.settings import Settings
from lead_assets.sources import landing
from lead_assets.sources.ingest import ingest
from lead_assets_tests.conftest import FIXTURES, write_config
from lead_assets_tests.test_portals import ARC_FIELDS, ARCGIS, SOCRATA, _state
from lead_assets_tests.test_sources import AUSTIN

STATE = _state()
SODA = STATE.soda["3syk-w9eu"]          # 225 real rows; SODA leaves null fields out
ARC = STATE.arcgis["Permits"]           # the same rows as ArcGIS attributes (dates: epoch ms)


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("LEADS_TODAY", "2015-03-20")
    monkeypatch.setenv("TEST_SODA_TOKEN", "unused")
    lines_city = AUSTIN.replace("[cities.austin", "[cities.austin_lines").replace(
        'landing = "austin/*.csv"\nformat = "csv"', 'landing = "austin_lines/*.json"\nformat = "json"')
    config = (SOCRATA + ARCGIS).format(url="http://127.0.0.1:9") + lines_city
    return Settings.load(write_config(tmp_path, config, start_date="2015-03-01"))


def _page(settings: Settings, city: str, name: str, data: str | bytes) -> None:
    folder = settings.landing_dir / city / "2015-03-05"
    if city == "austin_lines":
        folder = settings.landing_dir / city
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data.encode() if isinstance(data, str) else data)


def _feature_set(attributes: list, broken: tuple = ()) -> str:
    """An ArcGIS query response; `broken` features go after the fourth."""
    features = [{"attributes": a} for a in attributes]
    return json.dumps({"objectIdFieldName": "OBJECTID", "fields": ARC_FIELDS,
                       "features": features[:4] + list(broken) + features[4:]})


def _value(text):
    """A field's value as both readers must agree on it: blank is None, and a number, a
    boolean or a nested value is compared as JSON (Python spells 1e+16 and True, DuckDB
    10000000000000000.0 and true)."""
    if text in (None, ""):
        return None
    try:
        return json.loads(text.lower() if text in ("True", "False") else text)
    except ValueError:
        return text


def _staged(settings: Settings, city: str, monkeypatch=None) -> dict:
    """What stage() puts in stg and bad for the city, by DuckDB or (monkeypatch given) by
    Python's json alone; and which files Python read."""
    con = duckdb.connect()
    with pytest.MonkeyPatch.context() as patch:
        if monkeypatch is not None:
            patch.setattr(landing, "json_kind", lambda path, data: None)
        read = landing.read_city(settings.landing_dir, settings.city(city))
        total = landing.stage(con, [read])
    fields = ", ".join(CANONICAL_FIELDS)
    rows = {(f, n): (json.loads(r), tuple(_value(v) for v in vals)) for f, n, r, *vals in con.execute(
        f"SELECT source_file, source_line, source_row, {fields} FROM stg").fetchall()}
    bad = sorted((f, n, r and json.loads(r), why) for f, n, r, why in con.execute(
        "SELECT source_file, source_line, source_row, reason FROM bad").fetchall())
    assert total == len(rows) + len(bad)
    return {"rows": rows, "bad": bad, "by_python": sorted({f for g in read.groups.values() for f in g.files}),
            "errors": read.file_errors}


def _pages(rows: list, size: int) -> list[list]:
    return [rows[i:i + size] for i in range(0, len(rows), size)]


PAGES = {
    "socrata pages as pulled": ("austin_soda", lambda: [json.dumps(p) for p in _pages(SODA, 50)], []),
    "socrata page with records that are not objects": (
        "austin_soda", lambda: [json.dumps(SODA[:5] + [3, "text", None, [1]] + SODA[5:9])], []),
    "arcgis pages as pulled": ("austin_arc", lambda: [_feature_set(p) for p in _pages(ARC, 40)], []),
    "arcgis page with broken features": (
        "austin_arc", lambda: [_feature_set(ARC[:8], broken=({"geometry": {"x": 1}}, 7))], []),
    # A feature set saved over several lines is not JSON Lines: Python's json reads it.
    "arcgis page pretty-printed": ("austin_arc", lambda: [json.dumps(json.loads(_feature_set(ARC[:9])), indent=1)],
                                   ["2015-03-05.p0001.json"]),
    "socrata page with a BOM": ("austin_soda", lambda: ["\ufeff" + json.dumps(SODA[:12])], []),
}


@pytest.mark.parametrize("variant", PAGES)
def test_duckdb_reads_portal_pages_as_pythons_json(settings, monkeypatch, variant):
    city, make, by_python = PAGES[variant]
    for n, text in enumerate(make(), 1):
        _page(settings, city, f"2015-03-05.p{n:04d}.json", text)
    by_duckdb = _staged(settings, city)
    assert by_duckdb["by_python"] == by_python
    by_json = _staged(settings, city, monkeypatch)
    assert by_duckdb["rows"] == by_json["rows"]
    assert by_duckdb["bad"] == by_json["bad"]
    assert by_duckdb["rows"], "records staged"
    if variant == "arcgis page with broken features":
        assert [(n, why) for _, n, _, why in by_duckdb["bad"]] == [
            (5, "malformed row: an ArcGIS feature without attributes"), (6, "malformed row: not a JSON object")]
        assert (("2015-03-05.p0001.json", 7) in by_duckdb["rows"])          # positions run on past them
    if variant == "socrata page with records that are not objects":
        assert [(n, r) for _, n, r, _ in by_duckdb["bad"]] == [(6, 3), (7, "text"), (8, None), (9, [1])]


def test_arcgis_dates_are_local_days_and_the_source_row_is_the_record(settings):
    _page(settings, "austin_arc", "2015-03-05.p0001.json", _feature_set(ARC))
    staged = _staged(settings, "austin_arc")
    assert staged["by_python"] == [] and len(staged["rows"]) == len(ARC)
    issued = CANONICAL_FIELDS.index("issued_date")
    for (_, n), (source_row, values) in staged["rows"].items():
        attributes = ARC[n - 1]
        assert source_row == attributes                       # verbatim: epoch ms, nulls and all
        local = datetime.fromtimestamp(attributes["ISSUED"] / 1000, ZoneInfo("America/Chicago"))
        assert values[issued] == f"{local:%Y-%m-%dT%H:%M:%S}"
    # Evening permits: already the next day in UTC, still their own day here.
    late = [v[issued] for _, v in staged["rows"].values() if v[issued].endswith("T23:30:00")]
    assert late


def _json_lines(rows: list[dict], blank_every: int = 0) -> str:
    out = []
    for n, row in enumerate(rows, 1):
        out.append(json.dumps(row))
        if blank_every and n % blank_every == 0:
            out.append("   ")
    return "\n".join(out) + "\n"


def _austin_rows() -> list[dict]:
    with (FIXTURES / "austin" / "2015-03-05.csv").open(newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def test_json_lines_a_broken_line_sends_only_its_file_to_python(settings, monkeypatch):
    rows = _austin_rows()
    _page(settings, "austin_lines", "a.json", _json_lines(rows[:30], blank_every=7))
    broken = _json_lines(rows[30:40]).splitlines()
    broken[3] = broken[3][:-9]                    # cut off mid-record
    _page(settings, "austin_lines", "b.json", "\n".join(broken) + "\n")
    staged = _staged(settings, "austin_lines")
    assert staged["by_python"] == ["b.json"]
    assert staged["rows"] == _staged(settings, "austin_lines", monkeypatch)["rows"]
    # blank lines are not records: positions count records, as Python's reader counts them
    assert sorted(n for f, n in staged["rows"] if f == "a.json") == list(range(1, 31))
    [(name, line, _, reason)] = staged["bad"]
    assert (name, line) == ("b.json", 4) and reason.startswith("malformed row: not valid JSON (")
    assert len(staged["rows"]) == 39


def test_a_json_file_without_a_required_column_is_quarantined_whole(settings):
    rows = _austin_rows()
    _page(settings, "austin_lines", "a.json", _json_lines(rows[:10]))
    _page(settings, "austin_lines", "b.json", _json_lines([{k: v for k, v in r.items() if k != "permit_number"}
                                                           for r in rows[10:15]] + [[1]]))
    staged = _staged(settings, "austin_lines")
    assert staged["by_python"] == []
    assert staged["errors"] == ["missing required column: 'permit_number' in b.json (city 'austin_lines', "
                                "see leads.toml)"]
    assert {f for f, _ in staged["rows"]} == {"a.json"}
    assert [(f, n, why.split(":")[0]) for f, n, _, why in staged["bad"]] == [
        ("b.json", n, "missing required column") for n in range(1, 6)] + [("b.json", 6, "malformed row")]


def test_a_broken_array_is_one_unreadable_file_and_the_rest_load(settings):
    _page(settings, "austin_soda", "2015-03-05.p0001.json", json.dumps(SODA[:20])[:-40])
    _page(settings, "austin_soda", "2015-03-05.p0002.json", json.dumps(SODA[20:30]))
    staged = _staged(settings, "austin_soda")
    assert staged["by_python"] == []
    assert [e.split(" (")[0] for e in staged["errors"]] == ["unreadable file: 2015-03-05.p0001.json: not valid JSON"]
    assert {f for f, _ in staged["rows"]} == {"2015-03-05.p0002.json"} and len(staged["rows"]) == 10


def test_random_values_read_the_same_by_both(settings, monkeypatch):
    """Seeded records whose mapped fields hold every JSON type, odd text and missing keys."""
    rng = random.Random(7)
    keys = ["permit_number", "permit_type_desc", "description", "issue_date", "total_job_valuation", "status_current"]

    def value():
        k = rng.random()
        if k < .25:
            return rng.uniform(-1e9, 1e9) * 10 ** rng.randint(-9, 9)
        if k < .4:
            return rng.randint(-10 ** 15, 10 ** 15)
        if k < .75:
            return "".join(rng.choice('aé"\\\n\t\u2028 ,{}[]') for _ in range(rng.randint(0, 8)))
        return rng.choice([True, False, None, [1, "a"], {"x": None}])

    records = [{k: value() for k in keys if rng.random() < .9} for _ in range(400)]
    _page(settings, "austin_soda", "2015-03-05.p0001.json", json.dumps(records))
    _page(settings, "austin_soda", "2015-03-05.p0002.json", json.dumps(records[::-1], ensure_ascii=False))
    by_duckdb = _staged(settings, "austin_soda")
    assert by_duckdb["by_python"] == []
    by_json = _staged(settings, "austin_soda", monkeypatch)
    assert (by_duckdb["rows"], by_duckdb["bad"]) == (by_json["rows"], by_json["bad"])


def test_pulled_pages_ingest_with_every_record_accounted_for(settings):
    for n, page in enumerate(_pages([r for r in SODA if r["issue_date"].startswith("2015-03-05")], 3), 1):
        _page(settings, "austin_soda", f"2015-03-05.p{n:04d}.json", json.dumps(page + ["junk"]))
    report = ingest(settings, [("austin_soda", date(2015, 3, 5))])
    expected = sum(r["issue_date"].startswith("2015-03-05") for r in SODA)
    assert report.source_rows == expected + n
    assert report.loaded[("austin_soda", date(2015, 3, 5))] + report.rows_quarantined == report.source_rows
    assert report.reasons.get("malformed row") == n


def test_positions_hold_in_large_files_read_in_parallel(settings):
    """Large JSON Lines and array files are split over DuckDB's threads; each record keeps its
    own position in its own file."""
    rows = _austin_rows()
    records = [{**rows[i % len(rows)], "permit_number": f"P-{i}"} for i in range(1, 60001)]
    _page(settings, "austin_lines", "a.json", _json_lines(records))
    _page(settings, "austin_lines", "b.json", json.dumps(records[::-1]))
    con = duckdb.connect()
    con.execute("SET threads = 4")
    landing.stage(con, [landing.read_city(settings.landing_dir, settings.city("austin_lines"))])
    wrong = con.execute("""SELECT source_file, count(*) FILTER (WHERE permit_num <> 'P-' || CASE source_file
                               WHEN 'a.json' THEN source_line ELSE 60001 - source_line END), count(*)
                           FROM stg GROUP BY 1 ORDER BY 1""").fetchall()
    assert wrong == [("a.json", 0, 60000), ("b.json", 0, 60000)]


def test_a_file_name_duckdb_would_take_for_a_glob_is_read_as_itself(settings):
    rows = _austin_rows()
    _page(settings, "austin_lines", "a?.json", _json_lines(rows[:5]))     # ? would also match ab.json
    _page(settings, "austin_lines", "ab.json", _json_lines(rows[5:12]))
    staged = _staged(settings, "austin_lines")
    assert staged["by_python"] == ["a?.json"]
    assert sorted(Counter(f for f, _ in staged["rows"]).items()) == [("a?.json", 5), ("ab.json", 7)]


def test_an_arcgis_page_larger_than_duckdbs_object_limit_stays_on_duckdb(settings):
    """DuckDB caps one JSON object at 16 MB by default; a pulled ArcGIS page is one object."""
    long = [{**a, "WORK_DESC": (a["WORK_DESC"] or "") + " x" * 100_000} for a in ARC]   # ~20 MB in all
    _page(settings, "austin_arc", "2015-03-05.p0001.json", _feature_set(long))
    assert (settings.landing_dir / "austin_arc" / "2015-03-05" / "2015-03-05.p0001.json").stat().st_size > 16 * 2 ** 20
    staged = _staged(settings, "austin_arc")
    assert staged["by_python"] == [] and len(staged["rows"]) == len(ARC)
