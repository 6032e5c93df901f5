"""How many runs a UI backfill of city x day partitions makes (docs/operations-backfills.md).

Real asset backfills, as the UI's dialog submits them, on a temporary instance with the
project's dagster.yaml: the code location is loaded in a code server, the backfill daemon's
iteration plans and submits the runs (they stay queued: nothing runs), and the test counts
them and checks that together they cover exactly the selection.
"""
from __future__ import annotations

import logging
import time
import uuid

import dagster as dg
import pytest

from lead_assets.config.settings import PROJECT_ROOT
from lead_assets_tests.conftest import write_config
from lead_assets_tests.test_automation import new_dagster_home, open_instance

DAYS = [f"2026-11-{d:02d}" for d in range(1, 8)]
CITIES = ["plano", "frisco", "mckinney", "allen", "prosper"]      # leads.toml order


def grid(cities, days) -> list[str]:
    return [f"{c}|{d}" for c in cities for d in days]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    """(instance, workspace context) for the project's definitions; one code server for the module."""
    from dagster._core.test_utils import create_test_daemon_workspace_context
    from dagster._core.workspace.load_target import ModuleTarget
    tmp = tmp_path_factory.mktemp("backfills")
    mp = pytest.MonkeyPatch()
    mp.setenv("LEADS_CONFIG", str(write_config(tmp, start_date="2026-10-01")))   # the code server inherits it
    target = ModuleTarget(module_name="lead_assets.definitions", attribute=None,
                          working_directory=str(PROJECT_ROOT), location_name="lead_assets")
    with open_instance(new_dagster_home(tmp / "dagster_home")) as instance, \
            create_test_daemon_workspace_context(target, instance) as context:
        yield instance, context
    mp.undo()


def backfill_runs(daemon, keys: list[str], assets=("scored_leads",)) -> list[dg.DagsterRun]:
    """Submit a backfill of `keys` as the UI does; the runs its first daemon iteration requests."""
    from dagster._core.execution.backfill import PartitionBackfill
    from dagster._daemon.backfill import execute_backfill_iteration
    instance, context = daemon
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=uuid.uuid4().hex[:8], asset_graph=context.create_request_context().asset_graph,
        partition_names=keys, asset_selection=[dg.AssetKey(a) for a in assets], backfill_timestamp=time.time(),
        tags={}, dynamic_partitions_store=instance, all_partitions=False, title=None, description=None,
        run_config=None)
    instance.add_backfill(backfill)
    list(execute_backfill_iteration(context, logging.getLogger("backfill-test")))
    return instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id}))


def covered(run: dg.DagsterRun) -> set[str]:
    """The partitions a run handles: its range is a rectangle (cities in order x days)."""
    start, end = run.tags["dagster/asset_partition_range_start"], run.tags["dagster/asset_partition_range_end"]
    (c0, d0), (c1, d1) = start.split("|"), end.split("|")
    cities = CITIES[CITIES.index(c0):CITIES.index(c1) + 1]
    days = [d for d in DAYS if d0 <= d <= d1]
    return set(grid(cities, days))


CASES = {
    # selection in the UI                       partitions                                     runs
    "one city, a week":                        (grid(["plano"], DAYS),                          1),
    "every city, one day":                     (grid(CITIES, DAYS[:1]),                          1),
    "three neighbouring cities, one day":      (grid(["frisco", "mckinney", "allen"], DAYS[:1]), 1),
    "two cities apart, one day":               (grid(["plano", "mckinney"], DAYS[:1]),           2),
    "two cities apart, three days":            (grid(["plano", "mckinney"], DAYS[:3]),           2),
    "two neighbouring cities, a week":         (grid(["plano", "frisco"], DAYS),                 2),
    "three neighbouring cities, two days":     (grid(["plano", "frisco", "mckinney"], DAYS[:2]), 2),
    "every city, a week":                      (grid(CITIES, DAYS),                              5),
    "three scattered partitions":              (["plano|2026-11-01", "mckinney|2026-11-03", "prosper|2026-11-05"], 3),
}


@pytest.mark.parametrize("name", list(CASES))
def test_runs_per_ui_backfill(daemon, name):
    keys, expected = CASES[name]
    runs = backfill_runs(daemon, keys)
    assert len(runs) == expected, name
    parts = [covered(r) for r in runs]
    assert set().union(*parts) == set(keys) and sum(map(len, parts)) == len(keys), \
        "the runs cover the selection exactly, each partition once"


def test_loading_and_scoring_go_in_the_same_runs(daemon):
    keys = grid(["plano", "mckinney"], DAYS[:3])
    runs = backfill_runs(daemon, keys, assets=("permit_pulls", "raw_permits", "scored_leads"))
    assert len(runs) == 2
    assert all({k.to_user_string() for k in r.asset_selection} == {"permit_pulls", "raw_permits", "scored_leads"}
               for r in runs)
