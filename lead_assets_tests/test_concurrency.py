"""Two runs at once on one warehouse: both succeed (they wait on the warehouse lock, never fail).

Both runs are started with Dagster's own CLI (`dagster asset materialize --partition ...`), in
two OS processes, while this test holds the warehouse lock; it lets go only when both runs
have started, so both are certain to meet the lock. One of them is the CLI form of a backfill
of a failed partition (scored_leads only, retry_only).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

from lead_assets.warehouse.connection import connect
from lead_assets_tests.test_automation import (  # noqa: F401  (fixtures: bases, full, no_stale_...)
    D1, D2, bases, fail, failed_partitions, full, materialized,
)

DAGSTER = Path(sys.executable).with_name("dagster")


def _materialize(project, select: str, partition: str, config: dict | None = None) -> subprocess.Popen:
    cmd = [str(DAGSTER), "asset", "materialize", "-m", "lead_assets.definitions",
           "--select", select, "--partition", partition]
    # Steps in the run's own process (the default forks one per step: slower, same locking).
    config = {**(config or {}), "execution": {"config": {"in_process": {}}}}
    cmd += ["--config-json", json.dumps(config)]
    env = {**os.environ, "DAGSTER_HOME": str(project.home), "LEADS_CONFIG": str(project.config),
           "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen(cmd, env=env, cwd=project.root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def test_two_runs_at_once_on_one_warehouse(full):
    settings = full.settings
    fail(settings, "plano", D1, 2)
    assert failed_partitions(settings) == [("plano", D1)]
    with full.instance() as instance:
        with connect(settings.warehouse_path):          # the warehouse is busy while both start
            procs = [
                _materialize(full, "raw_permits,scored_leads", f"frisco|{D2}"),
                _materialize(full, "scored_leads", f"plano|{D1}",
                             {"ops": {"scored_leads": {"config": {"retry_only": True}}}}),
            ]
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                started = [r for r in instance.get_runs() if r.status == dg.DagsterRunStatus.STARTED]
                if len(started) == 2 or any(p.poll() is not None for p in procs):
                    break
                time.sleep(0.5)
            assert all(p.poll() is None for p in procs), "a run ended while the warehouse was locked"
            assert len(started) == 2, "both runs are under way at the same time"
        outputs = [p.communicate(timeout=600)[0] for p in procs]
        for p, out in zip(procs, outputs):
            assert p.returncode == 0, out[-3000:]
        runs = instance.get_runs()
        assert len(runs) == 2 and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        assert sorted(materialized(instance, "scored_leads")) == sorted([f"frisco|{D2}", f"plano|{D1}"])
        assert materialized(instance, "raw_permits") == [f"frisco|{D2}"]
    assert failed_partitions(settings) == [], "the failed partition was rescored from Dagster's CLI"
