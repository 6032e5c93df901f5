"""Projects, not permits: real Austin rows grouped into projects, one lead per project through
scoring, partitions, exports, sales and the reasoner (real DuckDB file, local OpenAI server)."""
from __future__ import annotations

import csv
import shutil
from datetime import date
from decimal import Decimal

import pytest

from lead_assets.sales.buyers import add_buyer
from lead_assets.sales.errors import SalesError
from lead_assets.sales.selling import sell
from lead_assets.defs.assets.leads import CHECK_SQL
from lead_assets.exports.files import write_buyer_files
from lead_assets.sources.ingest import ingest
from lead_assets.leads.projects import ProjectRules
from lead_assets.reasoner.scorer import build_scorer
from lead_assets.leads.scoring import score
from lead_assets.config.errors import ConfigError
from lead_assets.config.settings import Settings
from lead_assets.warehouse.store import LeadStore
from lead_assets.warehouse.connection import connect, register_partitions
from lead_assets_tests.conftest import FIXTURES, write_config
from lead_assets_tests.openai_server import FakeOpenAI
from lead_assets_tests.test_sources import AUSTIN

# The grouping rules of the City of Austin (as a leads.toml entry would hold them).
AUSTIN_PROJECTS = AUSTIN + r"""
[cities.austin.projects]
base_pattern = '^(\d{4}-\d{6})\s*[A-Z]{2}$'
reference_pattern = '(?i)\brefer\w*\s*(?:to\s+)?(?:pmt\.?\s*|permit\s*)?#?\s*(\d{4}-\d{6})'
building_pattern = '^\d{4}-\d{6} ?BP\b'
address_window_days = 30
"""
# Real rows of the City of Austin, March 2015 (copied from shared/data/austin-permits-2015-03).
DAYS = [date(2015, 3, d) for d in (2, 4, 5, 6, 9, 10, 13)]


def _parts(*days):
    return [("austin", d) for d in days]


@pytest.fixture
def austin(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("LEADS_TODAY", "2015-03-16")
    for var in ("LEADS_WAREHOUSE", "LEADS_LANDING", "LEADS_APPRAISAL", "LEADS_EXPORTS", "LEADS_SCORER"):
        monkeypatch.delenv(var, raising=False)
    config = write_config(tmp_path, AUSTIN_PROJECTS, start_date="2015-03-01")
    shutil.copytree(FIXTURES / "austin_projects", tmp_path / "data" / "landing" / "austin")
    return Settings.load(config)


def _projects(settings) -> dict[str, dict]:
    with connect(settings.warehouse_path) as con:
        rows = con.execute("""SELECT project_id, permit_num, rule, lead_permit FROM project_permits
                              WHERE city = 'austin' ORDER BY permit_num""").fetchall()
    out: dict[str, dict] = {}
    for pid, num, rule, lead in rows:
        p = out.setdefault(pid, {"permits": set(), "rules": {}, "lead": lead})
        p["permits"].add(num)
        p["rules"][num] = rule
    return out


def _project_of(settings, permit) -> dict:
    return next(p for p in _projects(settings).values() if permit in p["permits"])


def _scored(settings) -> dict[str, dict]:
    with connect(settings.warehouse_path) as con:
        cur = con.execute("SELECT * FROM scored_leads WHERE city = 'austin'")
        cols = [d[0] for d in cur.description]
        return {r[cols.index("permit_id")]: dict(zip(cols, r)) for r in cur.fetchall()}


def _checks(settings, parts) -> dict[str, int]:
    with connect(settings.warehouse_path) as con:
        register_partitions(con, parts)
        return {name: con.execute(sql).fetchone()[0] for name, sql in CHECK_SQL.items()}


def test_real_austin_rows_group_into_projects_with_one_lead_each(austin):
    ingest(austin, _parts(*DAYS))
    score(austin, _parts(*DAYS))
    projects = _projects(austin)

    # A base number with four permits (BP, EP, MP, PP on two days): one project, led by the BP.
    hospital = _project_of(austin, "2015-025467 BP")
    assert hospital["permits"] == {f"2015-025467 {s}" for s in ("BP", "EP", "MP", "PP")}
    assert hospital["lead"] == "2015-025467 BP"
    # A text reference ("Home Builders Loop. Refer#2015-018078 BP.") joins the base's permits.
    house = _project_of(austin, "2015-018078 MP")
    assert house["permits"] == {"2015-018078 MP", "2015-018078 PP", "2015-018078 EP", "2015-028794 EP"}
    assert house["rules"]["2015-028794 EP"] == "reference"
    # No building permit in the data: the broadest scope leads (earliest on a tie), and the
    # project is what the whole job is, not the trade of its lead.
    assert house["lead"] == "2015-018078 MP"
    # Address only: two "Connect mobile home" permits with different numbers, four days apart.
    mobile = _project_of(austin, "2015-021228 EP")
    assert mobile["permits"] == {"2015-021228 EP", "2015-021229 MP"}
    assert set(mobile["rules"].values()) == {"address"}
    # A lone trade permit is its own project, and still its trade.
    assert _project_of(austin, "2015-023585 EP")["permits"] == {"2015-023585 EP"}
    # A pool (its own building permit) at the address of a new house stays its own project.
    assert _project_of(austin, "2015-024015 BP")["permits"] == {"2015-024015 BP"}
    assert _project_of(austin, "2015-012219 PP")["permits"] == {"2015-012219 PP", "2015-012219 EP"}
    assert len(projects) == 6 and sum(len(p["permits"]) for p in projects.values()) == 14

    scored = _scored(austin)
    assert set(scored) == {p["lead"] for p in projects.values()}          # one row per project
    assert scored["2015-018078 MP"]["category"] == "new_construction"
    assert scored["2015-023585 EP"]["category"] == "electrical"
    assert scored["2015-025467 BP"]["category"] == "other"                  # a hospital's kitchen: commercial
    # The other permit numbers are findable: a flag with the count, the reasoning, `leads list`.
    lead = scored["2015-018078 MP"]
    assert "project_permits:4" in lead["flags"].split("|")
    assert lead["reasoning"].endswith("project also: 2015-018078 PP, 2015-018078 EP, 2015-028794 EP")
    found = LeadStore(austin).get("2015-028794 EP")                        # a sibling names the project
    assert found.permit_id == "2015-018078 MP"
    frame = LeadStore(austin).filter(include_discarded=True, as_frame=True).set_index("permit_id")
    assert frame.loc["2015-025467 BP", "other_permits"] == "2015-025467 EP, 2015-025467 MP, 2015-025467 PP"
    assert _checks(austin, _parts(*DAYS)) == {"every_permit_scored_once": 0, "tier_matches_score": 0}

    # Buyer files: one row per (non-discarded) project; a sibling's number is never a row.
    write_buyer_files(austin)
    ids = []
    for path in austin.exports_dir.rglob("tier_*.csv"):
        with path.open(newline="", encoding="utf-8") as fh:
            ids += [r["permit_id"] for r in csv.DictReader(fh)]
    assert len(ids) == len(set(ids))
    assert set(ids) <= set(scored) and "2015-025467 EP" not in ids and "2015-028794 EP" not in ids


def test_a_project_spanning_days_rescored_one_day_at_a_time(austin):
    ingest(austin, _parts(*DAYS))
    # The hospital project: BP issued 2015-03-06, EP/MP/PP 2015-03-10. Score only the 10th:
    # the project is scored with all its permits, and its row lives in the BP's partition.
    score(austin, _parts(date(2015, 3, 10)))
    rows = _scored(austin)
    assert list(rows) == ["2015-025467 BP"] and str(rows["2015-025467 BP"]["permit_day"]) == "2015-03-06"
    assert _checks(austin, _parts(date(2015, 3, 10)))["every_permit_scored_once"] == 0
    before = rows["2015-025467 BP"]
    # Rescoring the 6th, then the 10th again, replaces that one row; nothing doubles.
    for day in (date(2015, 3, 6), date(2015, 3, 10)):
        score(austin, _parts(day))
        rows = _scored(austin)
        hospital = [r for r in rows if r.startswith("2015-025467")]
        assert hospital == ["2015-025467 BP"]
        assert rows["2015-025467 BP"]["score"] == before["score"]
        assert rows["2015-025467 BP"]["scored_at"] == before["scored_at"]      # unchanged: same bytes
        assert _checks(austin, _parts(day))["every_permit_scored_once"] == 0


def test_a_later_sibling_in_a_new_partition_updates_the_project_without_duplicating(austin):
    early = _parts(date(2015, 3, 5), date(2015, 3, 9))
    ingest(austin, early)
    score(austin, early)
    assert _project_of(austin, "2015-018078 MP")["permits"] == {"2015-018078 MP", "2015-018078 PP"}
    assert [r for r in _scored(austin) if "018078" in r] == ["2015-018078 MP"]
    # The 13th brings the EP and the "Refer#2015-018078 BP" loop permit.
    ingest(austin, _parts(date(2015, 3, 13)))
    score(austin, _parts(date(2015, 3, 13)))
    assert len(_project_of(austin, "2015-018078 MP")["permits"]) == 4
    rows = _scored(austin)
    assert [r for r in rows if "018078" in r or "028794" in r] == ["2015-018078 MP"]
    assert "project_permits:4" in rows["2015-018078 MP"]["flags"]
    assert _checks(austin, _parts(date(2015, 3, 5), date(2015, 3, 9), date(2015, 3, 13))) == {
        "every_permit_scored_once": 0, "tier_matches_score": 0}


def test_a_sold_project_stays_sold_when_a_sibling_arrives_and_is_never_sold_twice(austin):
    # The hospital's trade permits arrive first (the 10th); the lead is sold.
    ingest(austin, _parts(date(2015, 3, 10)))
    score(austin, _parts(date(2015, 3, 10)))
    (first,) = [r for r in _scored(austin) if r.startswith("2015-025467")]
    assert first != "2015-025467 BP"
    add_buyer(austin, "Austin Commercial", categories=("other",), tiers=("A", "B", "C"),
                    price_a="30", price_b="20", price_c="10")
    sell(austin, first, "Austin Commercial", Decimal("10"))
    # The building permit is loaded later (a backfill of the 6th): it joins the sold project,
    # which keeps its lead (and so its sale) instead of becoming a second, unsold lead.
    ingest(austin, _parts(date(2015, 3, 6)))
    score(austin, _parts(date(2015, 3, 6)))
    rows = [r for r in _scored(austin) if r.startswith("2015-025467")]
    assert rows == [first]
    assert _project_of(austin, "2015-025467 BP")["permits"] == {f"2015-025467 {s}" for s in ("BP", "EP", "MP", "PP")}
    lead = LeadStore(austin).get("2015-025467 BP")
    assert (lead.permit_id, lead.status, lead.sold_to) == (first, "sold", "Austin Commercial")
    # Selling it again through another of its permits names the same lead: refused.
    add_buyer(austin, "Other Buyer", categories=("other",), tiers=("A", "B", "C"),
                    price_a="30", price_b="20", price_c="10")
    with pytest.raises(SalesError):
        sell(austin, "2015-025467 BP", "Other Buyer", Decimal("10"))
    with connect(austin.warehouse_path) as con:
        assert con.execute("SELECT count(*) FROM sales").fetchone()[0] == 1


def test_the_reasoner_is_called_once_per_project(austin, monkeypatch):
    ingest(austin, _parts(*DAYS))
    with FakeOpenAI() as server:
        for name, value in {"LEADS_OPENAI_BASE_URL": server.base_url,
                            "LEADS_OPENAI_API_KEY": "sk-test-projects-0123456789abcdefghij",
                            "LEADS_OPENAI_MODEL": "gpt-5-mini", "LEADS_RPM": "0", "LEADS_CONCURRENCY": "4",
                            "LEADS_OPENAI_TIMEOUT": "5"}.items():
            monkeypatch.setenv(name, value)
        report = score(austin, _parts(*DAYS), scorer=build_scorer(austin))
        live = [r for r in _scored(austin).values() if not r["discarded"]]
        assert report.extra["model_calls"] == len(server.requests) == len(live)
        assert len(live) < 14                                   # 14 permits, far fewer calls
        # Rescoring one day of a multi-day project hits the cache: the key follows the project.
        again = score(austin, _parts(date(2015, 3, 10)), scorer=build_scorer(austin))
        assert again.extra["model_calls"] == 0 and len(server.requests) == len(live)


def test_project_rules_are_checked_with_a_clear_error():
    with pytest.raises(ConfigError, match="needs a capture group"):
        ProjectRules.from_toml("austin", {"base_pattern": r"^\d{4}-\d{6}"})
    with pytest.raises(ConfigError, match="unknown key"):
        ProjectRules.from_toml("austin", {"window": 3})


def test_a_rescore_regroups_a_city_only_when_its_permits_or_project_rules_changed(austin, tmp_path, monkeypatch):
    from lead_assets.leads import projects
    grouped: list[int] = []
    real_group = projects.group
    monkeypatch.setattr(projects, "group", lambda permits, rules: grouped.append(len(permits)) or real_group(permits, rules))
    ingest(austin, _parts(*DAYS))
    score(austin, _parts(*DAYS))
    first, scored = _projects(austin), _scored(austin)
    assert grouped == [14]
    # A rescore (or a retry) of unchanged permits keeps the grouping and the scored rows.
    score(austin, _parts(date(2015, 3, 10)))
    assert grouped == [14] and _projects(austin) == first
    assert {k: r["scored_at"] for k, r in _scored(austin).items()} == {k: r["scored_at"] for k, r in scored.items()}
    # A re-sent permit whose text changed: the "Refer#2015-018078 BP" loop permit no longer refers.
    loop = next(n for p in first.values() for n, rule in p["rules"].items() if "028794" in n)
    assert _project_of(austin, loop)["rules"][loop] == "reference"
    with connect(austin.warehouse_path) as con:
        con.execute("UPDATE raw_permits SET description = 'Loop permit' WHERE permit_num = ?", [loop])
    score(austin, _parts(date(2015, 3, 13)))
    assert grouped == [14, 14]
    assert _project_of(austin, loop)["rules"][loop] != "reference"
    # New project rules (the base number alone): the city is grouped again under them.
    changed = Settings.load(write_config(tmp_path, AUSTIN_PROJECTS.replace("address_window_days = 30\n", "")
                                         .replace("reference_pattern", "# reference_pattern"), start_date="2015-03-01"))
    score(changed, _parts(date(2015, 3, 10)))
    assert grouped == [14, 14, 14]
    assert {r for p in _projects(changed).values() for r in p["rules"].values()} <= {"base", "single"}


def test_a_default_config_retry_of_a_day_with_project_members_rescores_only_its_retry_rows(austin):
    """A UI backfill of a failed partition (retry_only "auto") whose day also holds permits that
    belong to other days' projects: those permits are scored, through their projects' leads, so
    only the RETRY row goes to the scorer again, not the whole day."""
    from lead_assets_tests.failures import score_failing
    ingest(austin, _parts(*DAYS))
    score(austin, _parts(*DAYS))
    day = date(2015, 3, 6)      # the hospital's BP leads; the EP is a member of a project of the 2nd
    assert _project_of(austin, "2015-012219 EP")["lead"] == "2015-012219 PP"
    score_failing(austin, _parts(day), ["2015-025467 BP"])
    assert _scored(austin)["2015-025467 BP"]["tier"] == "RETRY"
    seen: list[str] = []

    def spy(candidates):
        seen.extend(candidates["permit_id"])
        return candidates.assign(rules_score=candidates["score"])
    score(austin, _parts(day), scorer=spy, retry_only=None)
    assert seen == ["2015-025467 BP"]
    assert _scored(austin)["2015-025467 BP"]["tier"] in ("A", "B", "C")
    assert _checks(austin, _parts(*DAYS)) == {"every_permit_scored_once": 0, "tier_matches_score": 0}
    # A day with a permit that landed after its last score is rescored whole, RETRY rows or not
    # (a permit without a project: what a new one is until the run groups it).
    score_failing(austin, _parts(day), ["2015-025467 BP"])
    with connect(austin.warehouse_path) as con:
        con.execute("DELETE FROM permit_projects WHERE city = 'austin' AND permit_num = '2015-012219 EP'")
    seen.clear()
    score(austin, _parts(day), scorer=spy, retry_only=None)
    assert sorted(seen) == sorted(_leads_of_day(austin, day)) and len(seen) == 3


def _leads_of_day(settings, day) -> set[str]:
    """The leads of the projects with a permit of this day."""
    with connect(settings.warehouse_path) as con:
        return {r[0] for r in con.execute("""SELECT DISTINCT lead_permit FROM project_permits WHERE city = 'austin'
                                             AND project_id IN (SELECT project_id FROM project_permits
                                                                WHERE city = 'austin' AND permit_day = ?)""",
                                          [day]).fetchall()}
