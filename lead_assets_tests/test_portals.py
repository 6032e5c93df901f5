"""Portal sources (Socrata, ArcGIS) against a loopback server speaking both APIs, with the real
Austin 2015 permits as the rows: paging, throttling, failures mid-way, auth errors, empty days,
rows stored out of order, secrets, and offline replays -- through real Dagster runs."""
from __future__ import annotations

import csv
import random
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from lead_assets.definitions import build_defs
from lead_assets.sources.portals.http import PortalClient, PortalError
from lead_assets.sources.portals.pages import day_dir, read_manifest
from lead_assets.sources.portals.pull import pull_day
from lead_assets.defs.runs import range_tags
from lead_assets.config.errors import ConfigError
from lead_assets.config.settings import Settings
from lead_assets.warehouse.connection import connect
from lead_assets_tests.conftest import FIXTURES, write_config
from lead_assets_tests.portal_server import Fault, PortalServer, PortalState

TOKEN = "s3cret-app-token-4f9a"
DAYS = [date(2015, 3, d) for d in (5, 7, 8, 14, 15)]     # the fixture's days; the 14th is empty
CHICAGO = ZoneInfo("America/Chicago")

SOCRATA = """
[cities.austin_soda]
name = "Austin (Socrata)"
[cities.austin_soda.source]
kind = "socrata"
domain = "{url}"
dataset = "3syk-w9eu"
date_field = "issue_date"
app_token_env = "TEST_SODA_TOKEN"
page_size = 7
max_attempts = 3
max_retry_wait_seconds = 0.01
[cities.austin_soda.columns]
permit_num = "permit_number"
permit_type = "permit_type_desc"
work_class = "work_class"
description = "description"
issued_date = "issue_date"
original_address = "original_address1"
est_project_cost = "total_job_valuation"
contractor_name = "contractor_company_name"
owner_name = "property_owner"
status = "status_current"
"""

ARCGIS = """
[cities.austin_arc]
name = "Austin (ArcGIS)"
[cities.austin_arc.source]
kind = "arcgis"
url = "{url}/arcgis/rest/services/Permits/FeatureServer/0"
where = "STATUS <> 'Void'"
date_field = "ISSUED"
page_size = 10
max_attempts = 3
max_retry_wait_seconds = 0.01
[cities.austin_arc.columns]
permit_num = "PERMIT_NUM"
permit_type = "SUB_TYPE"
description = "WORK_DESC"
issued_date = "ISSUED"
original_address = "ADDRESS"
est_project_cost = "VALUATION"
status = "STATUS"
"""

ARC_FIELDS = [{"name": "OBJECTID", "type": "esriFieldTypeOID", "alias": "OBJECTID"},
              {"name": "PERMIT_NUM", "type": "esriFieldTypeString", "alias": "Permit Number", "length": 40},
              {"name": "SUB_TYPE", "type": "esriFieldTypeString", "alias": "Sub Type", "length": 100},
              {"name": "WORK_DESC", "type": "esriFieldTypeString", "alias": "Work Description", "length": 4000},
              {"name": "ISSUED", "type": "esriFieldTypeDate", "alias": "Issued", "length": 8},
              {"name": "ADDRESS", "type": "esriFieldTypeString", "alias": "Address", "length": 200},
              {"name": "VALUATION", "type": "esriFieldTypeDouble", "alias": "Valuation"},
              {"name": "STATUS", "type": "esriFieldTypeString", "alias": "Status", "length": 40}]


def _fixture_rows() -> list[dict]:
    rows = []
    for path in sorted((FIXTURES / "austin").glob("*.csv")):
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows.extend(csv.DictReader(fh))
    return rows


def _state() -> PortalState:
    """The real Austin rows as a Socrata dataset and an ArcGIS layer, each stored shuffled."""
    rng = random.Random(12)
    soda, arc = [], []
    for n, r in enumerate(_fixture_rows(), 1):
        issued = datetime.strptime(r["date_issued"], "%m/%d/%Y")
        # Some permits are issued late in the evening: in UTC that is already the next day.
        local = datetime.combine(issued.date(), time(23, 30) if n % 9 == 0 else time(9, n % 60), tzinfo=CHICAGO)
        row = {"permit_number": r["permit_number"], "permit_type_desc": r["sub_type"], "work_class": r["work_type"],
               "description": r["work_description"], "issue_date": f"{issued:%Y-%m-%d}T00:00:00.000",
               "original_address1": r["permit_location"], "total_job_valuation": r["total_job_valuation"],
               "contractor_company_name": r["folder_owner"], "property_owner": r["property_owner"],
               "status_current": r["status"], ":id": f"row-{n:05d}"}
        # SODA leaves null fields out of a row.
        soda.append({k: v for k, v in row.items() if v != ""})
        value = r["total_job_valuation"].replace(",", "")
        arc.append({"OBJECTID": n, "PERMIT_NUM": r["permit_number"], "SUB_TYPE": r["sub_type"] or None,
                    "WORK_DESC": r["work_description"] or None, "ISSUED": int(local.timestamp() * 1000),
                    "ADDRESS": r["permit_location"] or None, "VALUATION": float(value) if value else None,
                    "STATUS": r["status"] or None})
    rng.shuffle(soda)
    rng.shuffle(arc)
    return PortalState(soda={"3syk-w9eu": soda}, arcgis={"Permits": arc}, arcgis_fields={"Permits": ARC_FIELDS},
                       max_record_count=4)


@pytest.fixture
def portal(tmp_path, monkeypatch):
    """(settings, server state, server) with both portal cities configured against the server."""
    state = _state()
    with PortalServer(state) as server:
        monkeypatch.setenv("LEADS_TODAY", "2015-03-20")
        monkeypatch.setenv("TEST_SODA_TOKEN", TOKEN)
        state.soda_token = TOKEN
        config = write_config(tmp_path, SOCRATA.format(url=server.url) + ARCGIS.format(url=server.url),
                              start_date="2015-03-01")
        monkeypatch.setenv("LEADS_CONFIG", str(config))
        yield Settings.load(config), state, server


@pytest.fixture
def instance(tmp_path):
    (tmp_path / "dagster_home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster_home")) as inst:
        yield inst


def _run(settings, instance, city: str, first: date, last: date, *, refetch=False):
    """permit_pulls + raw_permits over a city's days in one run, as `leads score` starts it."""
    config = {"ops": {"permit_pulls": {"config": {"refetch": refetch}}},
              "loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
    return build_defs(settings).resolve_job_def("score_job").execute_in_process(
        instance=instance, tags=range_tags(f"{city}|{first}", f"{city}|{last}"), run_config=config,
        asset_selection=[dg.AssetKey("permit_pulls"), dg.AssetKey("raw_permits")], raise_on_error=False)


def _served(state: PortalState, api: str, day: date) -> list[str]:
    """Permit numbers the server holds for a local day (what a pull must bring, each once)."""
    if api == "socrata":
        return sorted(r["permit_number"] for r in state.soda["3syk-w9eu"] if r["issue_date"].startswith(str(day)))
    return sorted(a["PERMIT_NUM"] for a in state.arcgis["Permits"]
                  if datetime.fromtimestamp(a["ISSUED"] / 1000, CHICAGO).date() == day)


def _landed(settings, city: str, day: date) -> list[str]:
    """Permit numbers of a day in raw_permits + quarantine (every source row ends in one)."""
    with connect(settings.warehouse_path) as con:
        return sorted(r[0] for r in con.execute(
            """SELECT permit_num FROM raw_permits WHERE city = ? AND permit_day = ?
               UNION ALL SELECT coalesce(permit_num, '?') FROM quarantine WHERE city = ? AND permit_day = ?""",
            [city, day, city, day]).fetchall())


def _raw_permits(settings) -> list[tuple]:
    with connect(settings.warehouse_path) as con:
        return con.execute("""SELECT * EXCLUDE (loaded_at) FROM raw_permits
                              ORDER BY city, permit_day, permit_num""").fetchall()


def _partitions(instance, asset="permit_pulls") -> set[str]:
    return {r.partition_key for r in instance.fetch_materializations(dg.AssetKey(asset), limit=1000).records}


@pytest.mark.parametrize("city,api", [("austin_soda", "socrata"), ("austin_arc", "arcgis")])
def test_every_row_of_each_day_lands_exactly_once(portal, instance, city, api):
    settings, state, _ = portal
    # A 429 with Retry-After on one page, a 500 on another: both retried, nothing lost or doubled.
    step = 7 if api == "socrata" else 4          # page size (ArcGIS: the server's maxRecordCount)
    state.faults += [Fault(api, 429, offset=step, retry_after="1"), Fault(api, 500, offset=2 * step)]
    result = _run(settings, instance, city, DAYS[0], DAYS[-1])
    assert result.success

    for day in DAYS:
        assert _landed(settings, city, day) == _served(state, api, day), day
        manifest = read_manifest(settings.landing_dir, city, day)
        assert manifest["rows"] == len(_served(state, api, day))
    big = read_manifest(settings.landing_dir, city, DAYS[0])
    assert big["pages"] > 5 and big["retries"] == 2     # paged to the end, each fault retried once
    # The empty day is fetched (one empty page), recorded, and loads zero permits.
    empty = read_manifest(settings.landing_dir, city, date(2015, 3, 14))
    assert (empty["rows"], empty["pages"]) == (0, 1) and _landed(settings, city, date(2015, 3, 14)) == []
    # Every day of the range is a materialized partition of both assets.
    expected = {f"{city}|{d}" for d in [date(2015, 3, n) for n in range(5, 16)]}
    assert _partitions(instance) == expected and _partitions(instance, "raw_permits") == expected


def test_requests_filter_the_day_server_side_with_a_stable_order(portal, instance):
    settings, state, _ = portal
    pull_day(settings, "austin_soda", DAYS[0])
    pull_day(settings, "austin_arc", DAYS[0])
    soda = [r["params"] for r in state.requests if r["path"].startswith("/resource/")]
    assert soda[0]["$where"] == "issue_date >= '2015-03-05T00:00:00' AND issue_date < '2015-03-06T00:00:00'"
    assert soda[0]["$order"] == "issue_date,:id"
    assert [int(p["$offset"]) for p in soda] == list(range(0, 7 * len(soda), 7))
    assert all(r["headers"].get("X-App-Token") == TOKEN for r in state.requests if r["path"].startswith("/resource/"))
    arc = [r["params"] for r in state.requests if "/query" in r["path"]]
    # The local day in UTC (CST is UTC-6), the layer's own where clause kept.
    assert arc[0]["where"] == ("(STATUS <> 'Void') AND ISSUED >= TIMESTAMP '2015-03-05 06:00:00' "
                               "AND ISSUED < TIMESTAMP '2015-03-06 06:00:00'")
    assert arc[0]["orderByFields"] == "ISSUED ASC,OBJECTID ASC" and arc[0]["f"] == "json"
    # The server caps pages at 4 (maxRecordCount): offsets follow what came back, not what was asked.
    assert [int(p["resultOffset"]) for p in arc] == list(range(0, 4 * len(arc), 4))


def test_a_failed_page_fails_the_partition_and_a_retry_completes_it(portal, instance):
    settings, state, _ = portal
    # The 5th of March fails on its third page, more times than a page is retried.
    state.faults.append(Fault("socrata", 503, offset=14, times=3))
    result = _run(settings, instance, "austin_soda", DAYS[0], DAYS[1])
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error.message
    assert "city 'austin_soda': Socrata dataset 3syk-w9eu" in failure and "HTTP 503" in failure
    # Nothing of the failed day is on disk (no half day); the next days landed and are recorded.
    assert not day_dir(settings.landing_dir, "austin_soda", DAYS[0]).exists()
    assert not any(p.suffix == ".json" for p in (settings.landing_dir / "austin_soda" / ".partial").rglob("*"))
    assert read_manifest(settings.landing_dir, "austin_soda", DAYS[1])["rows"] == len(_served(state, "socrata", DAYS[1]))
    assert "austin_soda|2015-03-05" not in _partitions(instance)
    assert "austin_soda|2015-03-07" in _partitions(instance)
    assert _partitions(instance, "raw_permits") == set()        # never loaded from a partial pull

    # The retry (the portal is fine again) fetches only the missing day and completes the range.
    state.requests.clear()
    assert _run(settings, instance, "austin_soda", DAYS[0], DAYS[1]).success
    where = {r["params"]["$where"][:40] for r in state.requests}
    assert where == {"issue_date >= '2015-03-05T00:00:00' AND "}
    for day in DAYS[:2]:
        assert _landed(settings, "austin_soda", day) == _served(state, "socrata", day)


def test_401_is_one_clear_line_naming_city_and_dataset(portal, instance, monkeypatch):
    settings, state, _ = portal
    monkeypatch.setenv("TEST_SODA_TOKEN", "wrong-token")
    pulled = pull_day(settings, "austin_soda", DAYS[0])
    assert pulled.status == "failed" and "\n" not in pulled.error
    assert "city 'austin_soda': Socrata dataset 3syk-w9eu" in pulled.error
    assert "HTTP 401 (Invalid app_token specified: ***)" in pulled.error and "app token" in pulled.error
    assert "wrong-token" not in pulled.error
    assert len(state.requests) == 1                               # an auth error is not retried
    assert not day_dir(settings.landing_dir, "austin_soda", DAYS[0]).exists()


def test_arcgis_error_in_a_200_body_and_unknown_layer(portal):
    settings, state, _ = portal
    state.faults.append(Fault("arcgis", 498, in_body=True))
    pulled = pull_day(settings, "austin_arc", DAYS[0])
    assert pulled.status == "failed" and "HTTP 401 (ArcGIS error 498: scripted 498)" in pulled.error
    assert "ArcGIS layer " in pulled.error
    state.arcgis.pop("Permits")
    assert "HTTP 400 (ArcGIS error 400: Invalid URL)" in pull_day(settings, "austin_arc", DAYS[0]).error


def test_retry_after_is_honoured_and_retries_are_bounded(portal):
    _, state, server = portal
    state.faults.append(Fault("socrata", 429, retry_after="2", times=1))
    waits: list[float] = []
    client = PortalClient("city 'x': test", max_attempts=3, headers={"X-App-Token": TOKEN}, sleep=waits.append)
    body, _, _ = client.get_json(f"{server.url}/resource/3syk-w9eu.json", {
        "$where": "issue_date >= '2015-03-07T00:00:00' AND issue_date < '2015-03-08T00:00:00'"})
    assert waits == [2.0] and len(body) == len(_served(state, "socrata", DAYS[1]))
    # Without Retry-After: exponential backoff, then a clear error after max_attempts.
    state.faults.append(Fault("socrata", 500, times=5))
    waits.clear()
    with pytest.raises(PortalError, match=r"city 'x': test: gave up after 3 attempts, last HTTP 500"):
        client.get_json(f"{server.url}/resource/3syk-w9eu.json", {})
    assert waits == [1.0, 2.0]


def test_a_timeout_is_retried(portal):
    _, state, server = portal
    state.faults.append(Fault("socrata", 200, delay=1.0))
    waits: list[float] = []
    client = PortalClient("city 'x': test", timeout=0.2, headers={"X-App-Token": TOKEN}, sleep=waits.append)
    body, _, _ = client.get_json(f"{server.url}/resource/3syk-w9eu.json", {
        "$where": "issue_date >= '2015-03-15T00:00:00' AND issue_date < '2015-03-16T00:00:00'"})
    assert waits == [1.0] and client.retries == 1 and len(body) == len(_served(state, "socrata", DAYS[-1]))


def test_no_secret_reaches_a_file_metadata_or_log(portal, instance, tmp_path, caplog):
    settings, _, _ = portal
    caplog.set_level("DEBUG")
    assert _run(settings, instance, "austin_soda", DAYS[0], DAYS[1]).success
    leaks = [p for p in tmp_path.rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()]
    assert leaks == []        # landing pages, manifests, warehouse, Dagster's event log
    for record in instance.fetch_materializations(dg.AssetKey("permit_pulls"), limit=100).records:
        assert TOKEN not in repr(record.asset_materialization.metadata)
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(Settings.load(settings.config_path).cities["austin_soda"])


def test_replay_without_the_server_reproduces_raw_permits(portal, instance, tmp_path):
    settings, _, server = portal
    for city in ("austin_soda", "austin_arc"):
        assert _run(settings, instance, city, DAYS[0], DAYS[-1]).success
    before = _raw_permits(settings)
    assert len(before) > 100
    server.__exit__(None, None, None)                 # the portal is gone
    settings.warehouse_path.unlink()                  # and so is the warehouse
    for city in ("austin_soda", "austin_arc"):
        assert _run(settings, instance, city, DAYS[0], DAYS[-1]).success   # days already fetched: no network
    assert _raw_permits(settings) == before
    # Asked to refetch without a portal, the run fails and the pulled days stay as they were.
    assert not _run(settings, instance, "austin_soda", DAYS[0], DAYS[0], refetch=True).success
    assert read_manifest(settings.landing_dir, "austin_soda", DAYS[0])["rows"] > 0
    assert _raw_permits(settings) == before


def test_refetch_pulls_a_fetched_day_again(portal):
    settings, state, _ = portal
    first = pull_day(settings, "austin_arc", DAYS[1])
    assert first.status == "fetched" and pull_day(settings, "austin_arc", DAYS[1]).status == "already fetched"
    n = len(state.requests)
    again = pull_day(settings, "austin_arc", DAYS[1], refetch=True)
    assert again.status == "fetched" and again.manifest["refetch"] and len(state.requests) > n
    pages = sorted(p.name for p in day_dir(settings.landing_dir, "austin_arc", DAYS[1]).glob("*.json"))
    assert len(pages) == again.manifest["pages"] == first.manifest["pages"]
    assert not list((settings.landing_dir / "austin_arc" / ".partial").iterdir())


def test_file_drop_cities_skip_the_pull(project, instance):
    defs = build_defs(project)
    job = defs.resolve_job_def("score_job")
    assert {"permit_pulls", "raw_permits", "scored_leads"} <= {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    pulled = pull_day(project, "plano", date(2026, 11, 27))
    assert pulled.status == "file drop" and not (project.landing_dir / "plano" / "2026-11-27").exists()


@pytest.mark.parametrize("source,message", [
    ('kind = "ftp"', "source.kind: must be one of file, socrata, arcgis"),
    ('kind = "socrata"\ndomain = "d"', "kind 'socrata' needs dataset, date_field"),
    ('kind = "socrata"\ndomain = "d"\ndataset = "x"\ndate_field = "d"\napp_token = "t"', "app_token_env"),
    ('kind = "arcgis"\nurl = "u"\ndate_field = "issued; drop"', "plain field name"),
    ('kind = "arcgis"\nurl = "u"\ndate_field = "d"\npage = 3', "source.page: unknown key (did you mean 'page_size'?)"),
    ('kind = "arcgis"\nurl = "u"\ndate_field = "d"\ntimeout_seconds = "ten"', "source.timeout_seconds: must be a number, not 'ten'"),
    ('kind = "socrata"\ndomain = "d"\ndataset = 5\ndate_field = "d"', "source.dataset: must be text, not 5"),
])
def test_bad_source_config_is_one_clear_line(tmp_path, source, message):
    config = write_config(tmp_path, f"""
[cities.bad]
[cities.bad.source]
{source}
[cities.bad.columns]
permit_num = "a"
issued_date = "b"
description = "c"
original_address = "d"
""")
    with pytest.raises(ConfigError, match="cities.bad.source") as err:
        Settings.load(config)
    assert message in str(err.value)


def test_readme_example_entries_load(tmp_path):
    """The Socrata and ArcGIS entries of docs/portals.md are valid configuration."""
    import re
    from lead_assets.config.settings import PROJECT_ROOT
    readme = (PROJECT_ROOT / "docs" / "portals.md").read_text()
    block = next(b for b in re.findall(r"```toml\n(.*?)```", readme, flags=re.S) if 'kind = "socrata"' in b)
    settings = Settings.load(write_config(tmp_path, block))
    austin, denton = settings.cities["austin"], settings.cities["denton"]
    assert (austin.source.kind, austin.source.dataset, austin.source.app_token_env) == \
        ("socrata", "3syk-w9eu", "AUSTIN_SODA_TOKEN")
    assert denton.source.kind == "arcgis" and denton.landing == "denton/*/*.json" and denton.format == "json"
    defs = build_defs(settings)
    assert dg.AssetKey("permit_pulls") in defs.resolve_assets_def("raw_permits").asset_deps[dg.AssetKey("raw_permits")]


def test_leads_score_pulls_then_scores_and_refetch_asks_again(portal, tmp_path, monkeypatch, capsys):
    from lead_assets.cli.main import main
    settings, state, _ = portal
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (settings.appraisal_dir).mkdir(parents=True, exist_ok=True)
    argv = ["score", "--cities", "austin_arc", "--since", "2015-03-07"]
    assert main(argv) == 0
    with connect(settings.warehouse_path) as con:
        scored = con.execute("SELECT count(*) FROM scored_leads WHERE city = 'austin_arc'").fetchone()[0]
    assert scored == len(_served(state, "arcgis", DAYS[1])) > 0
    n = len(state.requests)
    assert main(argv) == 0 and len(state.requests) == n            # already fetched: no request
    assert main([*argv, "--refetch"]) == 0 and len(state.requests) > n
    assert "permits in" in capsys.readouterr().out


def test_a_partition_records_what_was_fetched(portal, instance):
    settings, _, server = portal
    assert _run(settings, instance, "austin_arc", DAYS[2], DAYS[2]).success
    record = instance.fetch_materializations(dg.AssetKey("permit_pulls"), limit=1).records[0]
    md = {k: v.value for k, v in record.asset_materialization.metadata.items()}
    manifest = read_manifest(settings.landing_dir, "austin_arc", DAYS[2])
    assert (md["status"], md["pages"], md["rows"], md["fetched_at"]) == \
        ("fetched", manifest["pages"], manifest["rows"], manifest["fetched_at"])
    assert md["url"].startswith(f"{server.url}/arcgis/rest/services/Permits/FeatureServer/0/query?where=")
    assert md["source"].startswith("ArcGIS layer ")
