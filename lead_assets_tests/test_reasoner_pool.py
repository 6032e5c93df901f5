"""The one-model-run limit holds however a run is launched: the "reasoner" concurrency pool.

A real (temporary, SQLite) Dagster instance with the project's dagster.yaml; runs of
scored_leads with the reasoner scorer go to the local OpenAI-compatible test server.
"""
from __future__ import annotations

import threading
import uuid

import dagster as dg

from lead_assets.defs.reasoner_pool import POOL, reasoner_slot
from lead_assets_tests.test_automation import new_dagster_home, open_instance
from lead_assets_tests.test_reasoner_pipeline import DAY, template, world  # noqa: F401  (fixtures)
from lead_assets_tests.test_ui_browser import wait_for

WAIT = 300.0   # upper bounds for a busy machine, never asserted on


def _run(instance, status: dg.DagsterRunStatus) -> str:
    run_id = str(uuid.uuid4())
    instance.add_run(dg.DagsterRun(job_name="score_job", run_id=run_id, status=status))
    return run_id


def _waiting(instance) -> set[str]:
    """Runs queued for the pool (not holding a slot)."""
    return instance.event_log_storage.get_concurrency_info(POOL).pending_run_ids


def test_a_second_holder_waits_until_the_first_lets_go(tmp_path):
    with open_instance(new_dagster_home(tmp_path / "home")) as instance:
        first, second = _run(instance, dg.DagsterRunStatus.STARTED), _run(instance, dg.DagsterRunStatus.STARTED)
        entered = threading.Event()

        def other():
            with open_instance(tmp_path / "home") as inst, reasoner_slot(inst, second, "scored_leads", poll=0.05):
                entered.set()

        with reasoner_slot(instance, first, "scored_leads"):
            thread = threading.Thread(target=other)
            thread.start()
            wait_for("the second run to queue for the pool", lambda: second in _waiting(instance), WAIT, 0.05)
            assert not entered.is_set(), "one slot: the second run waits"
            limits = {p.name: p.limit for p in instance.event_log_storage.get_pool_limits()}
            assert limits[POOL] == 1, "the pool's own limit, not dagster.yaml's default (the warehouse's 2)"
        assert entered.wait(WAIT), "the second run got the slot once the first let go"
        thread.join(WAIT)
        info = instance.event_log_storage.get_concurrency_info(POOL)
        assert info.claimed_slots == [] and info.pending_steps == [], "both gave their slot back"


def test_a_slot_left_by_a_killed_run_is_taken_back(tmp_path):
    with open_instance(new_dagster_home(tmp_path / "home")) as instance:
        killed = _run(instance, dg.DagsterRunStatus.STARTED)
        with reasoner_slot(instance, killed, "scored_leads"):
            pass
        instance.event_log_storage.claim_concurrency_slot(POOL, killed, "scored_leads")  # never freed ...
        instance.report_run_failed(instance.get_run_by_id(killed))                   # ... and the run died
        assert instance.event_log_storage.get_concurrency_info(POOL).active_run_ids == {killed}
        fresh = _run(instance, dg.DagsterRunStatus.STARTED)
        with reasoner_slot(instance, fresh, "scored_leads", poll=0.05):
            assert instance.event_log_storage.get_concurrency_info(POOL).active_run_ids == {fresh}


def test_a_reasoner_run_launched_without_tags_waits_for_the_pool(world, tmp_path):
    """As from the UI's launchpad: score_job with scorer reasoner in the run config, no leads/scorer tag."""
    home = new_dagster_home(tmp_path / "home")
    config = {"ops": {"scored_leads": {"config": {"scorer": "reasoner"}}}}
    result = {}

    def launch():
        with open_instance(home) as inst:
            result["run"] = world.defs.resolve_job_def("score_job").execute_in_process(
                instance=inst, partition_key=f"plano|{DAY}", run_config=config, raise_on_error=False)

    with open_instance(home) as instance:
        holder = _run(instance, dg.DagsterRunStatus.STARTED)
        thread = threading.Thread(target=launch)
        with reasoner_slot(instance, holder, "scored_leads"):
            thread.start()
            [waiting] = wait_for("the UI-style run to queue for the pool", lambda: _waiting(instance), WAIT, 0.2)
            assert world.server.calls == 0, "no model call while another model run holds the pool"
            # no tag that the run queue's limits see (the run records only its worker process)
            assert "leads/scorer" not in instance.get_run_by_id(waiting).tags
        thread.join(WAIT)
        run = result["run"]
        assert run.run_id == waiting and run.success
        assert world.server.calls > 0
        assert instance.event_log_storage.get_concurrency_info(POOL).claimed_slots == []
