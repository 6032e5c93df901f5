"""A `leads` command killed with SIGKILL mid-run: its run must not stay "in flight" forever.

A real `leads score` runs in a subprocess against a temporary DAGSTER_HOME and is made to
hang at a known point (a patched function that never returns), then killed. Nothing in the
timing matters: the test waits for a marker file the hanging function writes.
"""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest

from lead_assets.defs.automation import exports_evaluation
from lead_assets.exports.files import write_buyer_files
from lead_assets.defs.runs import (HOST_TAG, PID_TAG, PROCESS_START_TAG, export_in_flight, fail_dead_runs,
                              in_flight_partitions, process_tags)
from lead_assets.config.settings import PROJECT_ROOT
from lead_assets_tests.conftest import TODAY

DAY = TODAY - timedelta(days=1)

# Run in the subprocess: `leads score` for one partition, hanging in `where` until killed.
HANG = """
import os, sys, time
from pathlib import Path
import importlib
module, name, marker = sys.argv[1], sys.argv[2], Path(sys.argv[3])

def hang(*args, **kwargs):
    marker.write_text(str(os.getpid()))
    while True:          # killed here by the test
        time.sleep(1)

setattr(importlib.import_module(module), name, hang)
from lead_assets.cli.main import main
sys.exit(main(["score", "--cities", "plano", "--since", sys.argv[4]]))
"""


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "dagster_home"
    path.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster_home" / "dagster.yaml", path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(path))
    return path


@pytest.fixture
def instance(home):
    inst = dg.DagsterInstance.from_config(str(home))
    yield inst
    inst.dispose()


def kill_mid_run(tmp_path, module: str, name: str) -> int:
    """Start `leads score` in a subprocess, wait until it hangs in module.name, SIGKILL it; its pid."""
    marker = tmp_path / "hanging"
    proc = subprocess.Popen([sys.executable, "-c", HANG, module, name, str(marker), DAY.isoformat()],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        while not marker.exists():
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "the run never reached the point where it hangs"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    return proc.pid


def the_run(instance, pid: int) -> dg.DagsterRun:
    [run] = [r for r in instance.get_runs() if r.tags.get(PID_TAG) == str(pid)
             and r.status == dg.DagsterRunStatus.STARTED]
    return run


def failure_message(instance, run_id: str) -> str:
    [event] = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    return event.message


def test_an_export_killed_mid_install_no_longer_blocks_the_exports_sensor(project, home, instance, tmp_path):
    pid = kill_mid_run(tmp_path, "lead_assets.exports.files", "_install")
    run = the_run(instance, pid)
    assert run.job_name == "export_job"
    assert run.tags[HOST_TAG] and run.tags[PROCESS_START_TAG]
    # What the kill leaves: a run that says STARTED and the export's staging folder.
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED
    staging = list(project.exports_dir.glob(f".staging-{pid}-*"))
    assert staging and all(p.is_dir() for p in staging)

    result = exports_evaluation(project, instance, None)
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    assert f"pid {pid}" in failure_message(instance, run.run_id)
    assert "is gone" in failure_message(instance, run.run_id)
    # The sensor no longer skips: the buyer files the killed run never wrote are requested.
    assert isinstance(result, dg.SensorResult) and result.run_requests, result
    assert not export_in_flight(instance)
    # The next export removes the dead process's staging folder and writes the files.
    write_buyer_files(project)
    assert not any(p.exists() for p in staging)
    assert not list(project.exports_dir.glob(".staging-*"))
    assert list(project.exports_dir.rglob("tier_*.csv"))


def test_a_score_run_killed_mid_write_no_longer_holds_its_partitions(project, home, instance, tmp_path):
    from lead_assets.definitions import build_defs
    pid = kill_mid_run(tmp_path, "lead_assets.leads.scoring", "write")
    run = the_run(instance, pid)
    assert run.job_name == "score_job"
    partitions_def = build_defs(project).get_assets_def("scored_leads").partitions_def
    # The retry sensor's view of busy partitions: the dead run's partition is not held.
    assert in_flight_partitions(instance, partitions_def) == set()
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    assert "leads score" in failure_message(instance, run.run_id)


def test_the_next_leads_command_fails_the_runs_of_a_killed_one(project, home, instance, tmp_path):
    from lead_assets.defs.runs import project_instance
    pid = kill_mid_run(tmp_path, "lead_assets.leads.scoring", "write")
    run = the_run(instance, pid)
    project_instance()                                           # what every run-launching command opens
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE


def test_runs_of_live_processes_and_other_hosts_are_left_alone(project, instance):
    from dagster._core.test_utils import create_run_for_test
    mine = process_tags()

    def started(tags):
        return create_run_for_test(instance, job_name="export_job", status=dg.DagsterRunStatus.STARTED,
                                   tags=tags).run_id

    live = started(mine)
    elsewhere = started({**mine, HOST_TAG: "another-host", PID_TAG: "999999999"})
    daemon_launched = started({})                                 # no pid tags: Dagster's to watch
    # Our pid, but recorded for a process that started at another time: the pid was reused.
    reused = started({**mine, PROCESS_START_TAG: "some-boot:1"})
    assert fail_dead_runs(instance) == [reused]
    status = {r: instance.get_run_by_id(r).status for r in (live, elsewhere, daemon_launched, reused)}
    assert status == {live: dg.DagsterRunStatus.STARTED, elsewhere: dg.DagsterRunStatus.STARTED,
                      daemon_launched: dg.DagsterRunStatus.STARTED, reused: dg.DagsterRunStatus.FAILURE}
    assert export_in_flight(instance)                                # the live ones still count


def test_dagster_yaml_enables_run_monitoring_without_resume(home, instance):
    assert instance.run_monitoring_enabled
    assert instance.run_monitoring_max_resume_run_attempts == 0       # the default launcher cannot resume
    assert 0 < instance.run_monitoring_start_timeout_seconds <= 600
    assert 0 < instance.run_monitoring_settings["cancel_timeout_seconds"] <= 600
    pg = (PROJECT_ROOT / "dagster_home" / "postgres" / "dagster.yaml").read_text()
    import yaml
    assert yaml.safe_load(pg)["run_monitoring"] == yaml.safe_load(
        (home / "dagster.yaml").read_text())["run_monitoring"]
