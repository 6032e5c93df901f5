"""A `leads` command killed with SIGKILL mid-run: its run must not stay "in flight" forever.

A real `leads score` runs in a subprocess against a temporary DAGSTER_HOME and is made to
hang at a known point (a patched function that never returns), then killed. Nothing in the
timing matters: the test waits for a marker file the hanging function writes.
"""
from __future__ import annotations

import os
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
from lead_assets.defs.runs import (HOST_TAG, PID_RUN_TAG, PID_TAG, PROCESS_START_TAG, RANGE_END, RANGE_START,
                                   export_in_flight, fail_dead_runs, in_flight_partitions, process_tags)
from lead_assets.processes import alive
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


def parent_of(pid: int) -> int:
    """The parent pid, from /proc/<pid>/stat (field 4)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


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
    from dagster._core.utils import make_new_run_id

    def started(tags):
        run_id = make_new_run_id()
        return create_run_for_test(instance, job_name="export_job", status=dg.DagsterRunStatus.STARTED, run_id=run_id,
                                   tags=tags(run_id)).run_id

    live = started(process_tags)
    elsewhere = started(lambda r: {**process_tags(r), HOST_TAG: "another-host", PID_TAG: "999999999"})
    untagged = started(lambda r: {})                              # no step started yet
    # Our pid, but recorded for a process that started at another time: the pid was reused.
    reused = started(lambda r: {**process_tags(r), PROCESS_START_TAG: "some-boot:1"})
    # A re-execution of a run whose process is gone carries its parent's tags (the UI copies
    # them); started but before its first step records its own worker, it must not be failed.
    dead_parent = process_tags(make_new_run_id(), pid=999999999)
    reexecution = started(lambda r: dead_parent)
    assert not alive(999999999)
    assert fail_dead_runs(instance) == [reused]
    status = {r: instance.get_run_by_id(r).status for r in (live, elsewhere, untagged, reused, reexecution)}
    assert status == {live: dg.DagsterRunStatus.STARTED, elsewhere: dg.DagsterRunStatus.STARTED,
                      untagged: dg.DagsterRunStatus.STARTED, reused: dg.DagsterRunStatus.FAILURE,
                      reexecution: dg.DagsterRunStatus.STARTED}
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


# ------------------------------------------------------------- runs the daemon or the UI launched
# A code location that hangs a run in `LEADS_TEST_HANG` (module:function) until the file
# LEADS_TEST_RELEASE exists; the hanging step writes "<its pid> <its parent's pid>" to
# LEADS_TEST_MARKER. Loaded by the code server, the run worker and every step process alike.
LOCATION = """
import importlib, os, time
from pathlib import Path
module, name = os.environ["LEADS_TEST_HANG"].split(":")
target = importlib.import_module(module)
original = getattr(target, name)

def hang(*args, **kwargs):
    Path(os.environ["LEADS_TEST_MARKER"]).write_text(f"{os.getpid()} {os.getppid()}")
    while not Path(os.environ["LEADS_TEST_RELEASE"]).exists():
        time.sleep(0.2)
    return original(*args, **kwargs)

setattr(target, name, hang)
from lead_assets.definitions import defs
"""


@pytest.fixture
def launch(tmp_path, instance, monkeypatch):
    """launch() starts a score_job run of one partition the way the daemon does: the default run
    launcher asks a code server, which spawns a run worker (`dagster api` style), whose
    multiprocess executor runs each step in a child; it hangs in scoring.write.
    Yields (launch, marker file, release file)."""
    from dagster._core.test_utils import create_run_for_test
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import PythonFileTarget
    location = tmp_path / "hanging_location.py"
    location.write_text(LOCATION)
    marker, release = tmp_path / "hanging", tmp_path / "release"
    monkeypatch.setenv("LEADS_TEST_HANG", "lead_assets.leads.scoring:write")
    monkeypatch.setenv("LEADS_TEST_MARKER", str(marker))
    monkeypatch.setenv("LEADS_TEST_RELEASE", str(release))
    target = PythonFileTarget(python_file=str(location), attribute=None, working_directory=str(PROJECT_ROOT),
                              location_name="hanging")
    with WorkspaceProcessContext(instance, target) as process_context:
        workspace = process_context.create_request_context()
        code_location = workspace.get_code_location("hanging")
        job = code_location.get_repository("__repository__").get_full_job("score_job")

        def start(run_config=None) -> str:
            run = create_run_for_test(
                instance, job_name="score_job", job_snapshot=job.job_snapshot, run_config=run_config,
                remote_job_origin=job.get_remote_origin(), job_code_origin=job.get_python_origin(),
                tags={RANGE_START: f"plano|{DAY}", RANGE_END: f"plano|{DAY}"})
            instance.launch_run(run.run_id, workspace)
            return run.run_id
        try:
            yield start, marker, release
        finally:
            release.touch()   # a test that failed mid-way leaves no run hanging (nor its code server)


def wait_for(path: Path, instance, run_id: str) -> tuple[int, int]:
    deadline = time.monotonic() + 300
    while not path.exists() or len(path.read_text().split()) < 2:
        run = instance.get_run_by_id(run_id)
        assert run.status not in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.SUCCESS), run.status
        assert time.monotonic() < deadline, "the run never reached the point where it hangs"
        time.sleep(0.1)
    step, parent = path.read_text().split()
    return int(step), int(parent)


def step_pids(instance, run_id: str) -> dict[str, int]:
    return {e.dagster_event.step_key: int(e.dagster_event.event_specific_data.metadata["pid"].value)
            for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_WORKER_STARTED)}


def test_a_launched_run_whose_worker_is_killed_is_failed_and_a_healthy_one_never(project, instance, launch):
    start, marker, release = launch
    # A healthy run, its earlier steps done and their processes gone, hanging in scored_leads.
    healthy = start()
    step, worker = wait_for(marker, instance, healthy)
    run = instance.get_run_by_id(healthy)
    # The run worker is the hanging step's parent, and it is that process the steps recorded.
    assert run.tags[PID_TAG] == str(worker) != str(step) and run.tags[PID_RUN_TAG] == healthy
    assert run.tags[PROCESS_START_TAG] and "leads/command" not in run.tags
    earlier = {k: pid for k, pid in step_pids(instance, healthy).items() if pid != step}
    assert {"permit_pulls", "raw_permits"} <= {k.split("[")[0] for k in earlier}, earlier
    assert not any(alive(pid) for pid in earlier.values())       # those steps' processes exited
    assert fail_dead_runs(instance) == []
    assert instance.get_run_by_id(healthy).status == dg.DagsterRunStatus.STARTED
    release.touch()
    deadline = time.monotonic() + 300
    while instance.get_run_by_id(healthy).status == dg.DagsterRunStatus.STARTED:
        assert fail_dead_runs(instance) == []                     # never, between or during steps
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert instance.get_run_by_id(healthy).status == dg.DagsterRunStatus.SUCCESS

    # The same run again, its run worker SIGKILLed while the last step hangs, and its code
    # server gone too (frozen here: `dagster dev` killed, the machine restarted). A live code
    # server fails its own dead children itself (every 0.5 s); a gone one cannot.
    release.unlink()
    marker.unlink()
    killed = start()
    step, worker = wait_for(marker, instance, killed)
    assert instance.get_run_by_id(killed).tags[PID_TAG] == str(worker)
    code_server = parent_of(worker)
    os.kill(code_server, signal.SIGSTOP)
    try:
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while alive(worker):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert instance.get_run_by_id(killed).status == dg.DagsterRunStatus.STARTED   # nobody noticed
        assert fail_dead_runs(instance) == [killed]
        assert instance.get_run_by_id(killed).status == dg.DagsterRunStatus.FAILURE
        message = failure_message(instance, killed)
        assert f"pid {worker}" in message and "run worker" in message
    finally:
        os.kill(code_server, signal.SIGCONT)   # it finds the run finished and leaves it alone
        if alive(step):                                          # the orphaned step
            os.kill(step, signal.SIGKILL)


def test_a_launched_in_process_run_records_its_worker_not_the_code_server(project, instance, launch):
    # With the in-process executor the steps run in the run worker, itself a child of the code
    # server: the worker is the step's own process, and its parent (the server) is not recorded.
    start, marker, release = launch
    run_id = start({"execution": {"config": {"in_process": {}}}})
    step, server = wait_for(marker, instance, run_id)
    assert instance.get_run_by_id(run_id).tags[PID_TAG] == str(step) != str(server)
    assert fail_dead_runs(instance) == []
    release.touch()
    deadline = time.monotonic() + 300
    while instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.SUCCESS
