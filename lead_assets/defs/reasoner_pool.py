"""One model-scoring run at a time, however it was launched (UI, CLI, schedule, sensor, backfill).

The reasoner's runs share one API key's rate limit. The run queue's `leads/scorer=reasoner`
tag limit (dagster.yaml) only holds back runs that carry the tag, and a run launched from the
UI's launchpad or a backfill dialog carries none. Dagster's own ways to limit a step do not
fit either:

- `pool="reasoner"` on scored_leads: an op has one pool and scored_leads' is "warehouse"
  (the cap on warehouse runs); and a pool is static, so rules runs (free, instant) would
  queue behind every model run too.
- op granularity (`concurrency: pools: granularity: op`) is one setting for the whole
  instance: it would also change what the warehouse pool means (a cap on steps instead of
  on runs in progress).

So the scoring step claims a slot of Dagster's concurrency pool "reasoner" itself, only when
its config picks the reasoner, and waits for it (polling) before the first model call. It is
the same pool table Dagster uses: the UI's Concurrency page shows the pool and which run holds
it, and `dagster instance concurrency set reasoner 2` changes the limit (1 unless set so).
A slot held by a run that is no longer in progress (killed, cancelled) is taken back.
"""
from __future__ import annotations

import time
from contextlib import contextmanager

import dagster as dg

POOL = "reasoner"
DEFAULT_LIMIT = 1        # one API key, one rate limit: one model-scoring run at a time
POLL_SECONDS = 2.0


def _ensure_limit(storage) -> None:
    pools = {p.name: p for p in storage.get_pool_limits()}
    if POOL not in pools or pools[POOL].from_default:
        # dagster.yaml's default_limit is the warehouse's; this pool keeps its own limit.
        storage.set_concurrency_slots(POOL, DEFAULT_LIMIT)


def _free_dead_holders(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """Take back slots (and queue places) of runs that are finished or gone."""
    info = instance.event_log_storage.get_concurrency_info(POOL)
    holders = {s.run_id for s in info.claimed_slots} | {s.run_id for s in info.pending_steps}
    freed = []
    for other in sorted(holders - {run_id}):
        run = instance.get_run_by_id(other)
        if run is None or run.is_finished:
            instance.event_log_storage.free_concurrency_slots_for_run(other)
            freed.append(other)
    return freed


@contextmanager
def reasoner_slot(instance: dg.DagsterInstance, run_id: str, step_key: str, log=None,
                  poll: float = POLL_SECONDS):
    """Hold one slot of the "reasoner" pool for the block; wait for one first."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:     # an in-memory instance: nothing shared
        yield
        return
    _ensure_limit(storage)
    told = False
    try:
        while not storage.claim_concurrency_slot(POOL, run_id, step_key).is_claimed:
            if _free_dead_holders(instance, run_id):
                continue
            if not told and log is not None:
                holders = sorted(storage.get_concurrency_info(POOL).active_run_ids)
                log.info(f"waiting for the {POOL} pool (another model-scoring run holds it: "
                         f"{', '.join(holders) or 'queued before this one'})")
                told = True
            time.sleep(poll)
        yield
    finally:
        storage.free_concurrency_slot_for_step(run_id, step_key)
