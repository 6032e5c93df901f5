"""leads.toml is checked against one schema when Settings load, before any work starts.

A wrong type or an unknown key is one line naming the file and the key's dotted name, and
the `leads` command prints that line and leaves the warehouse alone (before the schema, a
freshness window of "two weeks" crashed scoring after the permits had been reloaded, and a
misspelt section was silently ignored).
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import timedelta

import pytest

from lead_assets.cli.main import main as leads_main
from lead_assets.config.errors import ConfigError
from lead_assets.config.settings import PROJECT_ROOT, Settings
from lead_assets_tests.conftest import TODAY, write_config

DAY = str(TODAY - timedelta(days=1))

# (what the user wrote, replacing what in the shipped leads.toml, the line after "<file>: ")
BAD = {
    "date_format": ('date_format = "%m/%d/%Y"', "date_format = 5",
                    "cities.plano.date_format: must be a strptime format or a list of them, not 5"),
    "freshness": ("roof = 14", 'roof = "two weeks"',
                  "freshness_days.roof: must be a whole number, not 'two weeks'"),
    "warehouse": ('warehouse = "', 'warehouse = 42\n# "', "paths.warehouse: must be text, not 42"),
    "city_landing": ('landing = "plano/*.csv"', 'landing = ["plano"]',
                     "cities.plano.landing: must be text, not ['plano']"),
    "timezone": ('timezone = "America/Chicago"', 'timezone = "Mars/Olympus"',
                 "partitions.timezone: unknown time zone 'Mars/Olympus' (an IANA name such as 'America/Chicago')"),
    "timezone_typo": ('timezone = "America/Chicago"', 'timezone = "America/Chicgo"',
                      "partitions.timezone: unknown time zone 'America/Chicgo' (did you mean 'America/Chicago'?)"),
    "bogus_path": ("[paths]\n", '[paths]\nbogus_path = "x"\n',
                   "paths.bogus_path: unknown key (known: warehouse, landing, appraisal, exports)"),
    "colour": ("[cities.plano]\n", '[cities.plano]\ncolour = "red"\n',
               "cities.plano.colour: unknown key (did you mean 'columns'?)"),
    "partitionz": ("[partitions]\n", "[partitionz]\n", "partitionz: unknown section (did you mean 'partitions'?)"),
    "column": ('permit_num = "PermitNum"', 'permit_number = "PermitNum"',
               "cities.plano.columns.permit_number: unknown key (did you mean 'permit_num'?)"),
    "projects": ("address_window_days = 14", "address_window = 14",
                 "cities.plano.projects.address_window: unknown key (did you mean 'address_window_days'?)"),
    "automation": ('daily_time = "05:30"', 'daily_tme = "05:30"',
                   "automation.daily_tme: unknown key (did you mean 'daily_time'?)"),
    "window_category": ("roof = 14", "rooof = 14", "freshness_days.rooof: unknown key (did you mean 'roof'?)"),
    "start_date": ('start_date = "2026-10-01"', 'start_date = "2026-13-01"',
                   "partitions.start_date: must be a date (YYYY-MM-DD), not '2026-13-01'"),
    "number_codes": ('BP = "building"', "BP = 1", "cities.plano.classify.number_codes.BP: must be text, not 1"),
}


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A temporary DAGSTER_HOME: a score run that got past the config must not use the project's."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()


def bad_config(tmp_path, case: str):
    """The shipped leads.toml (paths under tmp_path) with one mistake in it."""
    old, new, _ = BAD[case]
    path = write_config(tmp_path)
    text = path.read_text()
    assert old in text, f"the shipped leads.toml no longer holds {old!r}"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize("case", BAD)
def test_a_bad_config_is_one_line_naming_the_file_and_key(tmp_path, case):
    path = bad_config(tmp_path, case)
    with pytest.raises(ConfigError) as err:
        Settings.load(path)
    assert str(err.value) == f"{path}: {BAD[case][2]}"


@pytest.mark.parametrize("case", BAD)
def test_leads_score_prints_the_line_and_creates_no_warehouse(project, home, tmp_path, case, capsys):
    bad_config(tmp_path, case)
    code = leads_main(["score", "--cities", "plano", "--since", DAY])
    assert code == 2
    assert capsys.readouterr().err == f"leads: error: {tmp_path / 'leads.toml'}: {BAD[case][2]}\n"
    assert not project.warehouse_path.exists()


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_bad_window_leaves_a_scored_warehouse_untouched(project, home, tmp_path):
    """Before the schema, `roof = "two weeks"` crashed in scoring after raw_permits was reloaded."""
    assert leads_main(["score", "--cities", "plano", "--since", DAY]) == 0
    before = _digest(project.warehouse_path)
    bad_config(tmp_path, "freshness")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    run = subprocess.run([sys.executable, "-m", "lead_assets.cli.main", "score", "--cities", "plano", "--since", DAY],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1] == f"leads: error: {tmp_path / 'leads.toml'}: {BAD['freshness'][2]}"
    assert _digest(project.warehouse_path) == before


def test_the_dagster_definitions_do_not_load_a_bad_config(tmp_path):
    path = bad_config(tmp_path, "colour")
    env = {**os.environ, "LEADS_CONFIG": str(path)}
    run = subprocess.run([sys.executable, "-c", "import lead_assets.definitions"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert run.returncode != 0
    assert run.stderr.strip().splitlines()[-1] == f"lead_assets.config.errors.ConfigError: {path}: {BAD['colour'][2]}"


def test_a_builder_check_names_the_file_too(tmp_path):
    path = bad_config(tmp_path, "column")
    path.write_text(path.read_text().replace("permit_number =", "permit_num =").replace(
        'description = "Description"\n', "", 1))
    with pytest.raises(ConfigError) as err:
        Settings.load(path)
    assert str(err.value) == f"{path}: city 'plano': no column mapped for description"


@pytest.mark.parametrize("config,cities", [
    (PROJECT_ROOT / "leads.toml", ["plano", "frisco", "mckinney", "allen", "prosper"]),   # also the demo's
    (PROJECT_ROOT / "examples" / "austin.toml", ["austin"]),
])
def test_the_shipped_configs_load(config, cities, monkeypatch):
    for var in ("LEADS_WAREHOUSE", "LEADS_LANDING", "LEADS_APPRAISAL", "LEADS_EXPORTS", "LEADS_TODAY"):
        monkeypatch.delenv(var, raising=False)
    settings = Settings.load(config)
    assert list(settings.cities) == cities
    assert settings.timezone == "America/Chicago"


EVERY_KEY = """
[paths]
warehouse = "w.duckdb"
landing = "landing"
appraisal = "cad"
exports = "exports"

[partitions]
start_date = 2026-10-01
timezone = "America/Chicago"

[freshness_days]
default = 30
roof = 14
other = 20

[automation]
daily_time = "05:30"
retry_time = "06:00"
autostart = ["daily_schedule", "exports_sensor"]
scorer = "rules"
exports_check_seconds = 30
retry_check_seconds = 60

[cities.plano]
name = "Plano"
landing = "plano/*.csv"
format = "csv"
date_format = ["%m/%d/%Y", "%Y-%m-%d"]
[cities.plano.columns]
permit_num = "a"
permit_type = "b"
work_class = "c"
description = "d"
issued_date = "e"
applied_date = "f"
original_address = "g"
original_zip = "h"
est_project_cost = "i"
applicant_name = "j"
contractor_name = "k"
owner_name = "l"
status = "m"
[cities.plano.classify]
number_pattern = '^(BP|EP)-'
[cities.plano.classify.number_codes]
BP = "building"
[cities.plano.classify.types]
"Driveway" = "concrete"
[cities.plano.projects]
base_pattern = '^[A-Z]P-(\\d+)$'
reference_pattern = 'refer (\\d+)'
building_pattern = '^BP-'
address_window_days = 0

[cities.soda]
[cities.soda.source]
kind = "socrata"
domain = "data.example.gov"
dataset = "abcd-1234"
date_field = "issued"
app_token_env = "SODA_TOKEN"
where = "status = 'Issued'"
page_size = 500
timeout_seconds = 10
max_attempts = 2
max_retry_wait_seconds = 1.5
[cities.soda.columns]
permit_num = "a"
issued_date = "issued"
description = "d"
original_address = "g"

[cities.arc]
[cities.arc.source]
kind = "arcgis"
url = "https://example.gov/arcgis/rest/services/P/FeatureServer/0"
where = "1=1"
date_field = "ISSUED"
object_id_field = "FID"
page_size = 50000
timeout_seconds = 30.0
max_attempts = 1
max_retry_wait_seconds = 60
[cities.arc.columns]
permit_num = "a"
issued_date = "ISSUED"
description = "d"
original_address = "g"

[cities.drop]
[cities.drop.source]
kind = "file"
[cities.drop.columns]
permit_num = "a"
issued_date = "b"
description = "d"
original_address = "g"

[appraisal]
files = "*.csv"
[appraisal.columns]
prop_id = "a"
situs_address = "b"
situs_city = "c"
situs_zip = "d"
owner_name = "e"
mail_address = "f"
mail_city = "g"
mail_state = "h"
mail_zip = "i"
market_value = "j"
homestead = "k"
"""


def test_every_key_the_settings_read_is_accepted(tmp_path):
    """The schema is not stricter than the code: a file using every key of every section loads."""
    (tmp_path / "leads.toml").write_text(EVERY_KEY)
    settings = Settings.load(tmp_path / "leads.toml")
    assert settings.start_date.isoformat() == "2026-10-01"
    assert settings.automation.autostart == ("daily_schedule", "exports_sensor")
    assert settings.cities["plano"].date_formats == ("%m/%d/%Y", "%Y-%m-%d")
    assert settings.cities["plano"].projects.address_window_days == 0
    assert (settings.cities["soda"].source.page_size, settings.cities["arc"].source.object_id_field) == (500, "FID")
    assert settings.cities["drop"].source is None
    assert settings.freshness_days == {"default": 30, "roof": 14, "other": 20}


@pytest.mark.parametrize("old,new,line", [
    ('kind = "socrata"', 'kind = "socrata"\nobject_id_field = "FID"',
     "cities.soda.source.object_id_field: unknown key (known: kind, domain, dataset, date_field, app_token_env, "
     "where, page_size, timeout_seconds, max_attempts, max_retry_wait_seconds)"),
    ("page_size = 50000", "page_size = 50001", "cities.arc.source.page_size: must be at most 50000, not 50001"),
    ('[cities.drop]\n', '[cities."drop|x"]\n',
     'cities."drop|x": a city key must be letters, digits, _ or - (it names partitions and folders)'),
    ("exports_check_seconds = 30", "exports_check_seconds = true",
     "automation.exports_check_seconds: must be a whole number, not True"),
    ('autostart = ["daily_schedule", "exports_sensor"]', 'autostart = "yes"',
     "automation.autostart: must be true, false or a list of names, not 'yes'"),
    ('format = "csv"', 'format = "xml"', "cities.plano.format: must be 'csv' or 'json', not 'xml'"),
    ("[cities.drop]\n", "[cities.Plano]\n", "cities.Plano: the same city twice (city keys ignore case)"),
])
def test_the_other_sections_are_checked_too(tmp_path, old, new, line):
    path = tmp_path / "leads.toml"
    path.write_text(EVERY_KEY.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        Settings.load(path)
    assert str(err.value) == f"{path}: {line}"


def test_a_bad_today_override_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("LEADS_TODAY", "yesterday")
    with pytest.raises(ConfigError, match=r"^LEADS_TODAY='yesterday' is not a date \(YYYY-MM-DD\)$"):
        Settings.load(write_config(tmp_path))
