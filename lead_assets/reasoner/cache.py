"""Warehouse tables of the reasoner: the answer cache, the usage ledger, Batch API jobs.

reasoner_cache is keyed by (input_hash, model, prompt_version, schema_version): the
normalized permit facts the model saw, the model (with its reasoning effort), and the
versions of the instructions and of the answer schema. Only validated answers are
stored, so a failure is never replayed from the cache. Every function takes an open
connection: callers open one through `warehouse.connect()` for a moment and never hold it
across model calls.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

import pandas as pd

from lead_assets.reasoner.schema import Usage, Verdict
from lead_assets.warehouse.connection import ddl_for, transaction

TABLES = """
CREATE TABLE IF NOT EXISTS reasoner_cache (
    input_hash VARCHAR NOT NULL, model VARCHAR NOT NULL, prompt_version VARCHAR NOT NULL,
    schema_version VARCHAR NOT NULL, answer VARCHAR NOT NULL,
    input_tokens INTEGER, output_tokens INTEGER, cached_tokens INTEGER, via VARCHAR,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (input_hash, model, prompt_version, schema_version)
);
CREATE TABLE IF NOT EXISTS reasoner_usage (
    run_at TIMESTAMP NOT NULL, model VARCHAR NOT NULL, prompt_version VARCHAR, via VARCHAR,
    leads INTEGER, model_calls INTEGER, cache_hits INTEGER, input_tokens BIGINT, output_tokens BIGINT,
    cached_tokens BIGINT, cost_usd DOUBLE, retry_rows INTEGER, unscorable INTEGER, seconds DOUBLE
);
CREATE TABLE IF NOT EXISTS reasoner_batches (
    batch_id VARCHAR PRIMARY KEY, input_file_id VARCHAR, status VARCHAR NOT NULL,
    model VARCHAR NOT NULL, prompt_version VARCHAR NOT NULL, schema_version VARCHAR NOT NULL,
    endpoint VARCHAR, requests INTEGER, created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP,
    ingested_at TIMESTAMP, error VARCHAR
);
CREATE TABLE IF NOT EXISTS reasoner_batch_items (
    batch_id VARCHAR NOT NULL, custom_id VARCHAR NOT NULL
);
"""


def now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def ensure_tables(con) -> None:
    con.execute(ddl_for(con, TABLES))


def lookup(con, hashes: Iterable[str], model: str, prompt_version: str, schema_version: str) -> dict[str, Verdict]:
    """Cached verdicts by input hash (entries that no longer validate are ignored)."""
    keys = pd.DataFrame({"input_hash": sorted(set(hashes))}, dtype=object)
    if keys.empty:
        return {}
    con.register("_reasoner_keys", keys)
    try:
        rows = con.execute("""
            SELECT c.input_hash, c.answer FROM reasoner_cache c JOIN _reasoner_keys k USING (input_hash)
            WHERE c.model = ? AND c.prompt_version = ? AND c.schema_version = ?
        """, [model, prompt_version, schema_version]).fetchall()
    finally:
        con.unregister("_reasoner_keys")
    out: dict[str, Verdict] = {}
    for h, answer in rows:
        try:
            out[h] = Verdict.model_validate_json(answer)
        except ValueError:
            continue
    return out


def store(con, entries: list[tuple[str, Verdict, Usage, str]], model: str, prompt_version: str,
          schema_version: str) -> int:
    """entries: (input_hash, verdict, usage, via). Insert or replace; returns the count."""
    if not entries:
        return 0
    stamp = now()
    latest = {h: (h, v, u, via) for h, v, u, via in entries}         # one row per key
    frame = pd.DataFrame(
        [(h, model, prompt_version, schema_version, v.model_dump_json(), u.input_tokens, u.output_tokens,
          u.cached_tokens, via, stamp) for h, v, u, via in latest.values()],
        columns=["input_hash", "model", "prompt_version", "schema_version", "answer", "input_tokens",
                 "output_tokens", "cached_tokens", "via", "created_at"])
    con.register("_reasoner_new", frame)
    try:  # delete-then-insert, not INSERT OR REPLACE: a DuckLake table has no primary key to replace on
        with transaction(con):
            con.execute("""DELETE FROM reasoner_cache c USING _reasoner_new n
                           WHERE c.input_hash = n.input_hash AND c.model = n.model
                             AND c.prompt_version = n.prompt_version AND c.schema_version = n.schema_version""")
            con.execute("INSERT INTO reasoner_cache BY NAME SELECT * FROM _reasoner_new")
    finally:
        con.unregister("_reasoner_new")
    return len(latest)


def record_usage(con, *, model: str, prompt_version: str, via: str, report: dict, seconds: float) -> None:
    con.execute("INSERT INTO reasoner_usage VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
        now(), model, prompt_version, via, int(report.get("leads", 0)), int(report["model_calls"]),
        int(report["cache_hits"]), int(report["input_tokens"]), int(report["output_tokens"]),
        int(report["cached_tokens"]), report.get("cost_usd"), int(report["retry_rows"]),
        int(report["unscorable"]), float(seconds)])
