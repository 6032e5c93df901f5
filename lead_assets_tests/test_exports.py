"""Export files: the seed's tree and columns, order, formula safety, atomic and minimal writes."""
from __future__ import annotations

import csv
import os
import re

import pandas as pd
import pytest

import lead_assets.exports.files as exports
from lead_assets.exports.files import file_path, neutralize, stale_buyer_files, write_atomic, write_buyer_files, write_queue_file
from lead_assets.sources.ingest import ingest
from lead_assets.leads.scoring import score
from lead_assets.leads.taxonomy import EXPORT_COLUMNS, RETRY_FILE, REVIEW_FILE, export_keys
from lead_assets.warehouse.connection import connect
from lead_assets_tests.conftest import TODAY, a_roof_lead, all_partitions, export_key_of, turn_into_pool_permit
from lead_assets_tests.failures import score_failing


def leads_of_city(settings, city: str, n: int) -> list[str]:
    """The first n scored, not discarded permits of a city."""
    with connect(settings.warehouse_path) as con:
        return [r[0] for r in con.execute("""SELECT permit_id FROM scored_leads WHERE NOT discarded
                   AND city = ? ORDER BY permit_id LIMIT ?""", [city, n]).fetchall()]


def _read(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _all_files(settings):
    return [settings.exports_dir / f"{k}.csv" for k in export_keys()] + [
        settings.exports_dir / REVIEW_FILE, settings.exports_dir / RETRY_FILE]


# The seed's 17 columns (export-pipeline.md, "CSV Format"), written out here on purpose: the
# product's own constant must not be the thing the files are checked against.
SEED_COLUMNS = [
    "permit_id", "city", "property_address", "owner_name", "project_description", "market_value",
    "days_old", "is_absentee", "score", "tier", "trade_group", "category", "reasoning",
    "ideal_contractor", "contact_priority", "flags", "scored_at",
]


def test_tree_and_header_are_the_seeds(built):
    assert len(SEED_COLUMNS) == 17
    for path in _all_files(built):
        with open(path, newline="", encoding="utf-8") as fh:
            assert next(csv.reader(fh)) == SEED_COLUMNS, path
    # Each column holds what its name says (a swap of two columns' values would show here).
    row = next(r for k in export_keys() for r in _read(built.exports_dir / f"{k}.csv"))
    assert row["tier"] in ("A", "B", "C") and row["city"] in ("Plano", "Frisco", "McKinney", "Allen")
    assert row["contact_priority"] in ("call", "email", "skip") and row["is_absentee"] in ("true", "false", "")
    assert 0 <= int(row["score"]) <= 100 and int(row["days_old"]) >= 0 and row["scored_at"].endswith("Z")
    assert (built.exports_dir / "luxury_outdoor" / "pool" / "tier_a.csv").exists()
    assert (built.exports_dir / "other" / "other" / "tier_c.csv").exists()
    assert not (built.exports_dir / "other" / "other" / "tier_a.csv").exists()
    assert len(list(built.exports_dir.rglob("*.csv"))) == len(export_keys()) + 2


def test_buyer_files_hold_the_right_leads_best_first(built):
    total = 0
    for key in export_keys():
        group, category, tier = key.split("/")
        rows = _read(built.exports_dir / f"{key}.csv")
        total += len(rows)
        scores = [int(r["score"]) for r in rows]
        assert scores == sorted(scores, reverse=True)
        for r in rows:
            assert (r["trade_group"], r["category"], "tier_" + r["tier"].lower()) == (group, category, tier)
            assert "discarded:" not in r["flags"] and "review:" not in r["flags"]
    with connect(built.warehouse_path) as con:
        expected = con.execute("""SELECT count(*) FROM scored_leads
                                  WHERE NOT discarded AND NOT needs_review AND tier <> 'RETRY'""").fetchone()[0]
    assert total == expected > 0
    review = _read(built.exports_dir / REVIEW_FILE)
    assert review and all("review:" in r["flags"] for r in review)


def test_days_old_is_counted_to_the_export_day(built, monkeypatch):
    rows = _read(built.exports_dir / "home_systems/hvac/tier_b.csv")
    assert {int(r["days_old"]) for r in rows} <= {1, 2, 3}
    monkeypatch.setenv("LEADS_TODAY", "2026-12-01")
    from lead_assets.config.settings import Settings
    later = Settings.load(built.config_path)
    write_buyer_files(later)
    rows = _read(built.exports_dir / "home_systems/hvac/tier_b.csv")
    assert {int(r["days_old"]) for r in rows} <= {4, 5, 6}


def test_formula_cells_are_neutralized_and_numbers_stay_numbers():
    frame = pd.DataFrame([{c: "" for c in EXPORT_COLUMNS}] * 6)
    frame["owner_name"] = ["=HYPERLINK(\"http://x\")", "+1 972 555 0100", "@SUM(A1)", "\tTAB", "\rCR", "-5"]
    frame["market_value"] = [-5, 0, 1, 2, 3, 4]
    frame["reasoning"] = ["-10 points", "ok", "ok", "ok", "ok", "-3.5"]
    out = neutralize(frame)
    assert list(out["owner_name"]) == ["'=HYPERLINK(\"http://x\")", "'+1 972 555 0100", "'@SUM(A1)",
                                       "'\tTAB", "'\rCR", "-5"]
    assert list(out["market_value"]) == [-5, 0, 1, 2, 3, 4]
    assert list(out["reasoning"]) == ["'-10 points", "ok", "ok", "ok", "ok", "-3.5"]


# Formula cells a feed (or an owner name in the CAD roll) could carry, as each file must show them.
FORMULAS = {
    '=HYPERLINK("http://evil.example","click")': '\'=HYPERLINK("http://evil.example","click")',
    "+cmd|' /C calc'!A0": "'+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0": "'@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3": "'-2+3",
}


def test_buyer_review_and_retry_files_neutralize_real_formula_cells(built):
    parts = all_partitions(built)
    victims = leads_of_city(built, "allen", 8)
    score_failing(built, parts, victims)
    with connect(built.warehouse_path) as con:
        # Every lead gets one of the formulas as its owner and another as its description.
        con.execute("""UPDATE scored_leads SET
                       owner_name = (?::VARCHAR[])[1 + (hash(permit_id) % 4)::BIGINT],
                       project_description = (?::VARCHAR[])[1 + ((hash(permit_id) % 4 + 1) % 4)::BIGINT]""",
                    [list(FORMULAS), list(FORMULAS)])
    write_buyer_files(built)
    write_queue_file(built, "review")
    write_queue_file(built, "retry")
    buyer = [r for k in export_keys() for r in _read(built.exports_dir / f"{k}.csv")]
    for name, rows in (("buyer files", buyer), ("review", _read(built.exports_dir / REVIEW_FILE)),
                       ("retry", _read(built.exports_dir / RETRY_FILE))):
        assert rows, name
        seen = set()
        for r in rows:
            assert r["owner_name"] in FORMULAS.values(), (name, r["owner_name"])
            assert r["project_description"] in FORMULAS.values(), (name, r["project_description"])
            seen |= {r["owner_name"], r["project_description"]}
        if name == "buyer files":
            assert seen == set(FORMULAS.values())        # each formula was really exported
        assert all(int(r["score"]) in range(-1, 101) for r in rows)   # numbers stay numbers


def test_no_exported_text_cell_can_run_as_a_formula(built):
    numeric = {"market_value", "days_old", "score"}
    risky = re.compile(r"^[=+\-@\t\r]")
    for path in _all_files(built):
        for row in _read(path):
            for col, value in row.items():
                if col not in numeric and risky.match(value or ""):
                    assert re.fullmatch(r"[+-]?\d+(\.\d+)?", value), (path, col, value)


def test_atomic_write_leaves_the_old_file_whole_when_the_write_fails(tmp_path, monkeypatch):
    target = tmp_path / "a" / "tier_a.csv"
    assert write_atomic(target, b"old\n")
    monkeypatch.setattr(exports.os, "replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        write_atomic(target, b"new and longer\n")
    assert target.read_bytes() == b"old\n"
    assert os.listdir(target.parent) == ["tier_a.csv"]   # no temp file left behind


def _changed_keys(settings, n):
    """Change n buyer files' worth of leads (a new reasoning text) and return their keys."""
    keys = [k for k in export_keys() if _read(settings.exports_dir / f"{k}.csv")][:n]
    with connect(settings.warehouse_path) as con:
        con.execute("UPDATE scored_leads SET reasoning = reasoning || ' (rescored)' WHERE "
                    "trade_group || '/' || category || '/tier_' || lower(tier) IN (SELECT unnest(?::VARCHAR[]))",
                    [keys])
    return keys


def test_buyer_files_are_installed_whole_and_a_crash_mid_install_leaves_the_old_files(built, monkeypatch):
    keys = _changed_keys(built, 3)
    paths = [file_path(built, k) for k in keys]
    old = {p: p.read_bytes() for p in paths}
    # A reader that has a buyer file open while it is replaced keeps reading the old file whole.
    reader = open(paths[0], "rb")
    real_replace = exports.os.replace
    installed = []

    def crash_on_second(src, dst):
        if installed:
            raise OSError("killed mid-install")
        installed.append(dst)
        real_replace(src, dst)

    monkeypatch.setattr(exports.os, "replace", crash_on_second)
    with pytest.raises(OSError, match="killed mid-install"):
        write_buyer_files(built, keys)
    # The one file installed before the crash is the new file, whole; the others are untouched.
    assert [str(d) for d in installed] == [str(paths[0])]
    assert paths[0].read_bytes() != old[paths[0]] and paths[0].read_bytes().endswith(b"\n")
    assert b" (rescored)" in paths[0].read_bytes()
    assert all(p.read_bytes() == old[p] for p in paths[1:])
    assert reader.read() == old[paths[0]]
    reader.close()
    # No half file, temp file or staging folder is left anywhere in the tree.
    expected = {p.relative_to(built.exports_dir) for p in _all_files(built) if p.exists()}
    assert {p.relative_to(built.exports_dir) for p in built.exports_dir.rglob("*") if p.is_file()} == expected
    assert not list(built.exports_dir.glob(".staging-*"))
    monkeypatch.setattr(exports.os, "replace", real_replace)
    assert set(write_buyer_files(built).written) == set(keys[1:])
    assert stale_buyer_files(built) == []


def test_identical_bytes_are_not_rewritten(tmp_path):
    target = tmp_path / "x.csv"
    assert write_atomic(target, b"a\n")
    before = target.stat().st_mtime_ns
    assert not write_atomic(target, b"a\n")
    assert target.stat().st_mtime_ns == before


def _snapshot(settings):
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in _all_files(settings)}


def test_a_rescore_rewrites_only_the_files_whose_rows_changed(built):
    plano_day = TODAY.replace(day=TODAY.day - 2)
    before = _snapshot(built)
    # Rescoring with nothing changed: no file is out of date, none is rewritten.
    score(built, [("plano", plano_day)])
    assert stale_buyer_files(built) == []
    # A permit's text changes at the source: only the files its lead leaves and joins change.
    permit_id, old_key = a_roof_lead(built, "plano", plano_day)
    turn_into_pool_permit(built, "plano", plano_day, permit_id)
    ingest(built, [("plano", plano_day)])
    score(built, [("plano", plano_day)])
    stale = stale_buyer_files(built)
    new_key = export_key_of(built, "plano", permit_id)
    assert new_key.startswith("luxury_outdoor/pool/")
    assert set(stale) == {old_key, new_key}
    report = write_buyer_files(built, stale)
    assert set(report.written) == {old_key, new_key}
    after = _snapshot(built)
    changed = {str(p.relative_to(built.exports_dir))[:-4] for p in before if before[p] != after[p]}
    assert changed == {old_key, new_key}


def test_retry_rows_go_to_the_retry_queue_and_leave_it_when_scored(built):
    parts = all_partitions(built)
    victims = leads_of_city(built, "frisco", 3)
    score_failing(built, parts, victims)
    write_queue_file(built, "retry")
    write_buyer_files(built)
    queue = _read(built.exports_dir / RETRY_FILE)
    assert sorted(r["permit_id"] for r in queue) == sorted(victims)
    assert all(r["score"] == "-1" and r["tier"] == "RETRY" and "retry:" in r["flags"] for r in queue)
    buyer_ids = {r["permit_id"] for k in export_keys() for r in _read(built.exports_dir / f"{k}.csv")}
    assert not buyer_ids & set(victims)
    score(built, parts, retry_only=True)
    write_queue_file(built, "retry")
    assert _read(built.exports_dir / RETRY_FILE) == []
