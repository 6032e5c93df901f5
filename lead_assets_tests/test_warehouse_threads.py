"""[warehouse] threads: the DuckDB thread count each process's warehouse connections run with.

One thread is the default (a run's statements are partition-sized, below DuckDB's unit of
parallel work, where more threads only cost CPU and time: docs/rules-path-speed.md); a
seller with one huge run on a many-core machine sets a number or "auto".
"""
from __future__ import annotations

import duckdb
import pytest

from lead_assets.config.errors import ConfigError
from lead_assets.config.settings import Settings
from lead_assets.warehouse.connection import connect
from lead_assets_tests.conftest import lake_config, write_config


def _threads(settings) -> int:
    with connect(settings.warehouse_path) as con:
        return con.execute("SELECT current_setting('threads')").fetchone()[0]


def test_the_warehouse_runs_on_one_thread_unless_the_config_says_otherwise(tmp_path):
    for sub in ("default", "three", "auto"):
        (tmp_path / sub).mkdir()
    all_cores = duckdb.connect().execute("SELECT current_setting('threads')").fetchone()[0]
    assert _threads(Settings.load(write_config(tmp_path / "default"))) == 1
    assert _threads(Settings.load(write_config(tmp_path / "three", "[warehouse]\nthreads = 3\n"))) == 3
    assert _threads(Settings.load(write_config(tmp_path / "auto", '[warehouse]\nthreads = "auto"\n'))) == all_cores
    with connect(tmp_path / "scratch.duckdb") as con:   # a path no loaded config names (a dry run's copy)
        assert con.execute("SELECT current_setting('threads')").fetchone()[0] == 1


@pytest.mark.parametrize("value", ["0", '"many"', "true", "1.5"])
def test_a_bad_thread_count_is_one_line_naming_the_key(tmp_path, value):
    path = write_config(tmp_path, f"[warehouse]\nthreads = {value}\n")
    with pytest.raises(ConfigError) as err:
        Settings.load(path)
    assert str(err.value).startswith(f'{path}: warehouse.threads: must be a whole number of 1 or more, or "auto", not ')


@pytest.mark.postgres
def test_a_lake_warehouse_runs_on_the_configured_threads(tmp_path, lake_catalog):
    settings = Settings.load(write_config(tmp_path, lake_config(tmp_path) + "threads = 3\n"))
    assert _threads(settings) == 3
