"""The OpenAI Batch API for large backfills: half the price, results within 24 hours.

One JSONL line per distinct permit input; custom_id = the input hash, so results join back
to every lead with that input (and to the cache) by that id. Jobs and their ids are
recorded in the warehouse (reasoner_batches / reasoner_batch_items) the moment they are
created, so a rerun - after a crash, a timeout, or simply to collect - finds the job that
already holds a lead and polls it instead of paying twice. Only leads no open job holds
go into a new job.

A job still running after LEADS_BATCH_WAIT seconds leaves its leads as RETRY rows
("batch ... in_progress: rerun to collect") without counting a failed attempt; the next
run (`leads retry`, or any re-materialization) collects them.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from lead_assets.reasoner.cache import ensure_tables, now, store
from lead_assets.reasoner.client import ModelCaller, Outcome, Request
from lead_assets.reasoner.config import ReasonerFatalError, ReasonerSettings
from lead_assets.reasoner.prompt import PROMPT_VERSION
from lead_assets.reasoner.schema import SCHEMA_VERSION, Usage, interpret_completion
from lead_assets.warehouse.connection import connect

ENDPOINT = "/v1/chat/completions"
DONE = ("completed", "failed", "expired", "cancelled")


@dataclass
class BatchStats:
    submitted: int = 0                 # requests put into new jobs by this run (the billable ones)
    jobs_created: list[str] = field(default_factory=list)
    jobs_resumed: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)   # of the results collected by this run
    seconds: float = 0.0


def jsonl(requests: list[Request]) -> bytes:
    return "".join(json.dumps({"custom_id": r.key, "method": "POST", "url": ENDPOINT, "body": r.body},
                              ensure_ascii=False) + "\n" for r in requests).encode("utf-8")


class BatchRunner:
    def __init__(self, cfg: ReasonerSettings, warehouse_path, *, log=None) -> None:
        self.cfg = cfg
        self.warehouse_path = warehouse_path
        self.log = log
        self.stats = BatchStats()
        self._caller = ModelCaller(cfg)          # for its error classification (fatal errors)

    def _client(self):
        import openai
        return openai.OpenAI(api_key=self.cfg.api_key, base_url=self.cfg.endpoint, max_retries=3,
                             timeout=max(self.cfg.timeout, 120.0))

    def _info(self, msg: str) -> None:
        if self.log:
            self.log.info(msg)

    def _api(self, fn, *args, **kwargs):
        """One management call; fatal errors stop the run, others are returned as a reason."""
        import openai
        try:
            return fn(*args, **kwargs), None
        except openai.APIError as exc:
            kind, _, reason = self._caller.classify(exc)      # raises ReasonerFatalError
            return None, reason

    # ------------------------------------------------------------------ run
    def run(self, requests: list[Request]) -> dict[str, Outcome]:
        started = time.monotonic()
        cfg = self.cfg
        need = {r.key: r for r in requests}
        client = self._client()
        jobs = self._open_jobs(set(need))
        held = set().union(*jobs.values()) if jobs else set()
        self.stats.jobs_resumed = sorted(jobs)
        if jobs:
            self._info(f"reasoner: resuming {len(jobs)} batch job(s) holding {len(held & set(need)):,} leads")
        outcomes: dict[str, Outcome] = {}
        fresh = [r for r in requests if r.key not in held]
        for start in range(0, len(fresh), cfg.batch_max_requests):
            chunk = fresh[start:start + cfg.batch_max_requests]
            batch_id, reason = self._submit(client, chunk)
            if batch_id is None:
                for r in chunk:
                    outcomes[r.key] = Outcome(key=r.key, reason=f"batch submit failed: {reason}")
                continue
            jobs[batch_id] = {r.key for r in chunk}
            self.stats.submitted += len(chunk)
            self.stats.jobs_created.append(batch_id)
            self._info(f"reasoner: batch {batch_id} submitted with {len(chunk):,} requests")

        deadline = time.monotonic() + cfg.batch_wait
        status: dict[str, str] = {}
        waiting = set(jobs)
        while waiting:
            for batch_id in sorted(waiting):
                batch, reason = self._api(client.batches.retrieve, batch_id)
                if batch is None:
                    status[batch_id] = f"unreachable ({reason})"
                    continue
                status[batch_id] = batch.status
                if batch.status in DONE:
                    outcomes.update(self._collect(client, batch, jobs[batch_id]))
                    waiting.discard(batch_id)
                else:
                    self._set_status(batch_id, batch.status)
            if not waiting or time.monotonic() >= deadline:
                break
            time.sleep(min(cfg.batch_poll, max(deadline - time.monotonic(), 0.0)))
        for batch_id in waiting:
            for key in jobs[batch_id] & set(need):
                outcomes[key] = Outcome(key=key, pending=True,
                                        reason=f"batch {batch_id} {status.get(batch_id, 'pending')}: rerun to collect")
        self.stats.seconds = time.monotonic() - started
        return {k: o for k, o in outcomes.items() if k in need}

    # ------------------------------------------------------------------ steps
    def _open_jobs(self, keys: set[str]) -> dict[str, set[str]]:
        """Jobs not yet collected (for this model / prompt / schema) that hold any of `keys`."""
        import pandas as pd
        with connect(self.warehouse_path) as con:
            ensure_tables(con)
            con.register("_batch_need", pd.DataFrame({"custom_id": sorted(keys)}, dtype=object))
            try:
                rows = con.execute("""
                    SELECT i.batch_id, i.custom_id FROM reasoner_batch_items i
                    JOIN reasoner_batches b USING (batch_id)
                    WHERE b.ingested_at IS NULL AND b.model = ? AND b.prompt_version = ? AND b.schema_version = ?
                      AND b.endpoint = ?
                      AND i.batch_id IN (SELECT batch_id FROM reasoner_batch_items JOIN _batch_need USING (custom_id))
                """, [self.cfg.model_key, PROMPT_VERSION, SCHEMA_VERSION, self.cfg.endpoint]).fetchall()
            finally:
                con.unregister("_batch_need")
        jobs: dict[str, set[str]] = {}
        for batch_id, key in rows:
            jobs.setdefault(batch_id, set()).add(key)
        return jobs

    def _submit(self, client, chunk: list[Request]) -> tuple[str | None, str | None]:
        upload, reason = self._api(client.files.create, file=("lead_requests.jsonl", jsonl(chunk), "application/jsonl"),
                                   purpose="batch")
        if upload is None:
            return None, reason
        batch, reason = self._api(client.batches.create, input_file_id=upload.id, endpoint=ENDPOINT,
                                  completion_window="24h",
                                  metadata={"app": "lead-assets", "prompt_version": PROMPT_VERSION})
        if batch is None:
            return None, reason
        import pandas as pd
        with connect(self.warehouse_path) as con:
            ensure_tables(con)
            con.execute("INSERT INTO reasoner_batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                        [batch.id, upload.id, batch.status, self.cfg.model_key, PROMPT_VERSION, SCHEMA_VERSION,
                         self.cfg.endpoint, len(chunk), now(), now()])
            con.register("_batch_items", pd.DataFrame({"batch_id": batch.id, "custom_id": [r.key for r in chunk]},
                                                      dtype=object))
            con.execute("INSERT INTO reasoner_batch_items SELECT batch_id, custom_id FROM _batch_items")
            con.unregister("_batch_items")
        return batch.id, None

    def _set_status(self, batch_id: str, status: str, *, ingested: bool = False, error: str | None = None) -> None:
        with connect(self.warehouse_path) as con:
            ensure_tables(con)
            con.execute("""UPDATE reasoner_batches SET status = ?, updated_at = ?, error = coalesce(?, error),
                           ingested_at = CASE WHEN ? THEN ? ELSE ingested_at END WHERE batch_id = ?""",
                        [status, now(), error, ingested, now(), batch_id])

    def _lines(self, client, file_id: str | None) -> list[dict]:
        if not file_id:
            return []
        content, reason = self._api(client.files.content, file_id)
        if content is None:
            raise RuntimeError(f"could not download {file_id}: {reason}")
        out = []
        for line in content.text.splitlines():
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
        return out

    def _collect(self, client, batch, keys: set[str]) -> dict[str, Outcome]:
        """Join a finished job's results back by custom_id; cache the good ones; mark it collected."""
        cfg = self.cfg
        outcomes: dict[str, Outcome] = {}
        if batch.status == "failed":
            errors = getattr(getattr(batch, "errors", None), "data", None) or []
            first = cfg.scrub(getattr(errors[0], "message", errors[0]) if errors else "no detail", 120)
            for key in keys:
                outcomes[key] = Outcome(key=key, requests=1, reason=f"batch {batch.id} failed: {first}")
            self._set_status(batch.id, batch.status, ingested=True, error=first)
            return outcomes
        try:
            lines = self._lines(client, batch.output_file_id) + self._lines(client, batch.error_file_id)
        except RuntimeError as exc:   # try again on the next run
            for key in keys:
                outcomes[key] = Outcome(key=key, pending=True, reason=f"batch {batch.id}: {cfg.scrub(exc, 120)}")
            return outcomes
        good = []
        for line in lines:
            key = line.get("custom_id")
            if key not in keys:
                continue
            response = line.get("response") or {}
            error = line.get("error")
            if error or response.get("status_code") != 200:
                body = response.get("body") or {}
                msg = (error or {}).get("message") or (body.get("error") or {}).get("message") or "request failed"
                code = (error or {}).get("code") or f"HTTP {response.get('status_code', '?')}"
                outcomes[key] = Outcome(key=key, requests=1, reason=f"batch line {code}: {cfg.scrub(msg, 100)}")
                continue
            got = interpret_completion(response.get("body") or {}, cfg.max_output_tokens)
            self.stats.usage.add(got.usage)
            outcomes[key] = Outcome(key=key, verdict=got.verdict, reason=got.reason, requests=1, usage=got.usage)
            if got.verdict is not None:
                good.append((key, got.verdict, got.usage, "batch"))
        for key in keys - set(outcomes):
            outcomes[key] = Outcome(key=key, reason=f"batch {batch.id} {batch.status}: no result for this lead")
        if good:   # stored even with LEADS_REASONER_CACHE=0: a collected job is never paid again
            with connect(self.warehouse_path) as con:
                ensure_tables(con)
                store(con, good, cfg.model_key, PROMPT_VERSION, SCHEMA_VERSION)
        self._set_status(batch.id, batch.status, ingested=True)
        self._info(f"reasoner: batch {batch.id} {batch.status}: {len(good):,} answers collected")
        return outcomes


__all__ = ["BatchRunner", "BatchStats", "ReasonerFatalError", "jsonl"]
