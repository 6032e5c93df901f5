"""The rules scorer and tiers, on controlled permits and on the demo data."""
from __future__ import annotations

import csv
from datetime import date

import pytest

from lead_assets.sources.appraisal import load_property_records
from lead_assets.sources.ingest import ingest
from lead_assets.leads.scoring import score
from lead_assets.config.settings import Settings
from lead_assets.warehouse.connection import connect
from lead_assets_tests.conftest import write_config
from lead_assets_tests.test_sources import TESTVILLE

CAD_HEADER = "prop_id,situs_address,situs_city,situs_zip,owner_name,mail_address,mail_city,mail_state,mail_zip,market_value,homestead\n"


@pytest.fixture
def scored(tmp_path, monkeypatch):
    """Controlled permits in 'Testville' whose only differences are the factor under test."""
    monkeypatch.setenv("LEADS_TODAY", "2026-11-28")
    settings = Settings.load(write_config(tmp_path, TESTVILLE))
    land = settings.landing_dir / "testville"
    land.mkdir(parents=True)
    (land / "p.csv").write_text(
        "id,desc,issued,addr,value,owner\n"
        "OCC,Roof replacement,2026-11-26,10 Oak Drive,20000,\n"        # owner-occupied
        "ABS,Roof replacement,2026-11-26,12 Oak Dr.,20000,\n"          # absentee owner
        "OLD,Roof replacement,2026-11-06,14 Oak Dr,20000,\n"           # 22 days: stale for a roof
        "POOLOLD,Pool and spa,2026-11-06,16 Oak Dr,20000,\n"          # 22 days: still fine for a pool
        "NOOWNER,Roof replacement,2026-11-26,99 Nowhere Ln,20000,\n"  # no CAD record
        "VAGUE,misc work per plans,2026-11-26,18 Oak Dr,900000,\n"    # other: capped at C
        "SIGN,Monument sign,2026-11-26,18 Oak Dr,20000,\n"            # non-lead
        "LLC,Roof replacement,2026-11-26,20 Oak Dr,20000,\n"          # company owns a home
    )
    settings.appraisal_dir.mkdir(parents=True)
    (settings.appraisal_dir / "cad.csv").write_text(
        CAD_HEADER
        + "1,10 OAK DR,TESTVILLE,1,SMITH JOHN,10 OAK DR,TESTVILLE,TX,1,700000,Y\n"
        + "2,12 OAK DR,TESTVILLE,1,JONES ANN,500 ELM ST,DALLAS,TX,1,700000,N\n"
        + "3,14 OAK DR,TESTVILLE,1,SMITH JOHN,14 OAK DR,TESTVILLE,TX,1,700000,Y\n"
        + "4,16 OAK DR,TESTVILLE,1,SMITH JOHN,16 OAK DR,TESTVILLE,TX,1,700000,Y\n"
        + "5,18 OAK DR,TESTVILLE,1,SMITH JOHN,18 OAK DR,TESTVILLE,TX,1,700000,Y\n"
        + "6,20 OAK DR,TESTVILLE,1,OAK RENTALS LLC,20 OAK DR,TESTVILLE,TX,1,700000,N\n")
    parts = [("testville", date(2026, 11, 26)), ("testville", date(2026, 11, 6))]
    load_property_records(settings)
    ingest(settings, parts)
    score(settings, parts)
    with connect(settings.warehouse_path) as con:
        rows = con.execute("SELECT * FROM scored_leads").df()
    rows = rows.astype(object).where(rows.notna(), None)   # NULL -> None
    return {r["permit_id"]: r for r in rows.to_dict("records")}


def test_owner_occupied_beats_absentee_and_says_why(scored):
    occ, abs_ = scored["OCC"], scored["ABS"]
    assert occ["is_absentee"] is False and abs_["is_absentee"] is True
    assert occ["score"] - abs_["score"] == 15
    assert "owner-occupied (+10)" in occ["reasoning"] and "absentee owner (-5)" in abs_["reasoning"]
    assert "absentee_owner" in abs_["flags"].split("|")


def test_freshness_window_depends_on_the_trade(scored):
    assert "stale" in scored["OLD"]["flags"].split("|")            # roof: ~2 weeks
    assert "stale" not in (scored["POOLOLD"]["flags"] or "").split("|")  # pool: ~2 months
    assert scored["OCC"]["score"] - scored["OLD"]["score"] == 35     # +15 fresh vs -20 stale


def test_missing_property_record_leaves_absentee_unknown(scored):
    lead = scored["NOOWNER"]
    assert lead["is_absentee"] is None
    assert "no_owner" in lead["flags"] and "no owner name" in lead["reasoning"]


def test_uncategorized_is_capped_at_c_and_non_leads_score_zero(scored):
    assert scored["VAGUE"]["category"] == "other" and scored["VAGUE"]["score"] <= 49
    assert "capped at tier C" in scored["VAGUE"]["reasoning"]
    sign = scored["SIGN"]
    assert sign["score"] == 0 and sign["discarded"] and "discarded:sign" in sign["flags"]
    assert sign["contact_priority"] == "skip"


def test_company_owner_in_a_residential_category_goes_to_review(scored):
    assert scored["LLC"]["needs_review"] and scored["LLC"]["review_reasons"] == "commercial_owner"
    assert "review:commercial_owner" in scored["LLC"]["flags"]


def seed_tier(score: int) -> str:
    """The seed's tier table (export-pipeline.md): A 80-100, B 50-79, C 0-49, RETRY -1."""
    return "RETRY" if score == -1 else "A" if score >= 80 else "B" if score >= 50 else "C"


def test_demo_scores_are_consistent(built):
    with connect(built.warehouse_path) as con:
        rows = con.execute("SELECT score, tier, category, contact_priority, discarded, reasoning FROM scored_leads").fetchall()
    assert len(rows) > 500
    for score_, tier, category, contact, discarded, reasoning in rows:
        assert tier == seed_tier(score_)
        assert reasoning
        if category == "other":
            assert score_ <= 49
        if discarded:
            assert score_ == 0 and contact == "skip"
        elif tier == "A":
            assert contact == "call"
    assert {t for _, t, *_ in rows} >= {"A", "B", "C"}


BOUNDARIES = {100: "A", 80: "A", 79: "B", 50: "B", 49: "C", 0: "C", -1: "RETRY"}


def test_the_pipelines_tiers_at_the_boundaries(project):
    """A scorer that answers exactly 100/80/79/50/49/0/-1: the tiers the pipeline's SQL stores
    (scoring.write) and the buyer files they land in."""
    from lead_assets.exports.files import write_buyer_files
    day = date(2026, 11, 27)
    load_property_records(project)
    ingest(project, [("plano", day)])
    given = {}

    def boundary_scorer(candidates):
        final = candidates.assign(rules_score=candidates["score"])
        leads = final.index[final["discard_reason"].isna()]
        values = list(BOUNDARIES)
        for n, i in enumerate(leads):
            final.loc[i, "score"] = values[n % len(values)]
            given[final.loc[i, "permit_id"]] = values[n % len(values)]
        return final

    score(project, [("plano", day)], scorer=boundary_scorer)
    with connect(project.warehouse_path) as con:
        stored = dict((p, (s, t)) for p, s, t in con.execute(
            "SELECT permit_id, score, tier FROM scored_leads WHERE NOT discarded").fetchall())
    assert set(given) <= set(stored) and set(given.values()) == set(BOUNDARIES)
    for permit, value in given.items():
        assert stored[permit] == (value, BOUNDARIES[value]), permit
    write_buyer_files(project)
    in_files = {r["permit_id"]: r["tier"] for path in project.exports_dir.rglob("tier_*.csv")
                for r in csv.DictReader(path.open(encoding="utf-8"))}
    for permit, value in given.items():
        if permit in in_files:
            assert in_files[permit] == BOUNDARIES[value]
    assert {in_files[p] for p in in_files if p in given} == {"A", "B", "C"}
