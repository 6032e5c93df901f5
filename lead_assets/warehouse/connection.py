"""The DuckDB warehouse: schema, short locked connections, idempotent partition writes.

DuckDB lets one process hold the file at a time. Every process (Dagster runs, sensors,
the CLI) therefore opens it through `connect()`, which waits on a file lock beside the
database, does one short piece of work and closes it. Nothing holds a connection across
a model call. Two runs on different partitions queue for a moment instead of failing.

With `[warehouse] backend = "ducklake"` the same `connect(settings.warehouse_path)` opens
the DuckLake catalog instead (lead_assets/warehouse/lake.py), without the lock.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pandas as pd
from filelock import FileLock

from lead_assets.warehouse.lake import claim, close_cursor, ddl, is_lake, open_cursor
from lead_assets.warehouse.lake import retry_conflicts  # noqa: F401  (writers import it from here)

if TYPE_CHECKING:
    from lead_assets.config.settings import WarehouseSettings


SCHEMA = """
CREATE TABLE IF NOT EXISTS raw_permits (
    city VARCHAR NOT NULL, permit_day DATE NOT NULL, permit_num VARCHAR NOT NULL,
    permit_type VARCHAR, work_class VARCHAR, description VARCHAR, description_truncated BOOLEAN,
    issued_date DATE, applied_date DATE, original_address VARCHAR, original_zip VARCHAR,
    est_project_cost DECIMAL(14, 2), applicant_name VARCHAR, contractor_name VARCHAR,
    owner_name VARCHAR, status VARCHAR, address_key VARCHAR,
    source_file VARCHAR, source_line BIGINT, source_row VARCHAR, loaded_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS quarantine (
    city VARCHAR NOT NULL, permit_day DATE, source_file VARCHAR, source_line BIGINT,
    permit_num VARCHAR, reason VARCHAR NOT NULL, source_row VARCHAR, quarantined_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS property_records (
    prop_id VARCHAR, situs_address VARCHAR, situs_city VARCHAR, situs_zip VARCHAR,
    owner_name VARCHAR, mail_address VARCHAR, mail_city VARCHAR, mail_state VARCHAR,
    mail_zip VARCHAR, market_value DECIMAL(14, 2), homestead BOOLEAN,
    address_key VARCHAR, city_key VARCHAR, mail_key VARCHAR, source_file VARCHAR
);
CREATE TABLE IF NOT EXISTS scored_leads (
    city VARCHAR NOT NULL, permit_day DATE NOT NULL, permit_id VARCHAR NOT NULL,
    property_address VARCHAR, owner_name VARCHAR, project_description VARCHAR,
    market_value DECIMAL(14, 2), issued_date DATE, is_absentee BOOLEAN,
    score INTEGER NOT NULL, tier VARCHAR NOT NULL, trade_group VARCHAR NOT NULL, category VARCHAR NOT NULL,
    reasoning VARCHAR, ideal_contractor VARCHAR, contact_priority VARCHAR, flags VARCHAR,
    scored_at TIMESTAMP NOT NULL, scorer VARCHAR NOT NULL, discarded BOOLEAN NOT NULL,
    needs_review BOOLEAN NOT NULL, review_reasons VARCHAR,
    attempts INTEGER NOT NULL DEFAULT 0, last_error VARCHAR, rules_score INTEGER
);
-- Project membership (lead_assets/leads/projects.py): every raw permit in exactly one project.
-- The project's lead is the one member that has a scored_leads row (view project_permits).
CREATE TABLE IF NOT EXISTS permit_projects (
    city VARCHAR NOT NULL, permit_num VARCHAR NOT NULL, project_id VARCHAR NOT NULL,
    is_building BOOLEAN NOT NULL, rule VARCHAR NOT NULL
);
-- What each city's permit_projects were grouped from (projects.refresh skips a city whose
-- permits and rules have not changed since).
CREATE TABLE IF NOT EXISTS project_inputs (city VARCHAR NOT NULL, fingerprint VARCHAR NOT NULL);
CREATE OR REPLACE VIEW project_permits AS
    SELECT m.city, m.project_id, m.permit_num, r.permit_day, r.permit_type, m.is_building, m.rule,
           s.permit_id AS lead_permit, m.permit_num = s.permit_id AS is_lead
    FROM permit_projects m
    LEFT JOIN raw_permits r ON r.city = m.city AND r.permit_num = m.permit_num
    LEFT JOIN (SELECT l.city, l.project_id, s.permit_id FROM permit_projects l
               JOIN scored_leads s ON s.city = l.city AND s.permit_id = l.permit_num) s
           ON s.city = m.city AND s.project_id = m.project_id;
CREATE TABLE IF NOT EXISTS lead_reviews (
    city VARCHAR NOT NULL, permit_id VARCHAR NOT NULL, decision VARCHAR NOT NULL,
    note VARCHAR, decided_at TIMESTAMP NOT NULL
);
-- Sales side (lead_assets/sales/). Keyed by (city, permit_id); rescoring never touches them.
-- deliveries/sales keep the lead's tier/category at the time, so reports don't move on a rescore.
CREATE TABLE IF NOT EXISTS buyers (
    name VARCHAR PRIMARY KEY, contact VARCHAR, trade_groups VARCHAR[], categories VARCHAR[],
    tiers VARCHAR[], cities VARCHAR[], price_a DECIMAL(10, 2), price_b DECIMAL(10, 2),
    price_c DECIMAL(10, 2), exclusive BOOLEAN NOT NULL DEFAULT true, created_at TIMESTAMP,
    max_buyers INTEGER, updated_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS deliveries (
    city VARCHAR NOT NULL, permit_id VARCHAR NOT NULL, buyer VARCHAR NOT NULL,
    delivered_on DATE NOT NULL, file VARCHAR, delivered_at TIMESTAMP NOT NULL,
    tier VARCHAR, category VARCHAR, trade_group VARCHAR, score INTEGER, via VARCHAR
);
CREATE TABLE IF NOT EXISTS sales (
    city VARCHAR NOT NULL, permit_id VARCHAR NOT NULL, buyer VARCHAR NOT NULL,
    price DECIMAL(10, 2) NOT NULL, sold_at TIMESTAMP NOT NULL,
    sold_on DATE, tier VARCHAR, category VARCHAR, trade_group VARCHAR, via VARCHAR, note VARCHAR
);
CREATE TABLE IF NOT EXISTS lead_status (
    city VARCHAR NOT NULL, permit_id VARCHAR NOT NULL, status VARCHAR NOT NULL,
    note VARCHAR, changed_at TIMESTAMP NOT NULL
);
"""


_READY: set[Path] = set()
_WAREHOUSES: dict[Path, "WarehouseSettings"] = {}   # warehouse_path -> its [warehouse] (Settings.load)
# DuckDB threads per process ([warehouse] threads). One: a run's statements cover a few
# partitions, under DuckDB's 122,880-row unit of parallel work, where more threads cost CPU
# and time (docs/rules-path-speed.md); runs scale out as processes.
DEFAULT_THREADS = 1


def use_warehouse(path: Path, warehouse: "WarehouseSettings") -> None:
    """Make connect(path) follow these settings: the DuckLake warehouse when backend is
    "ducklake" (else the DuckDB file at path), and DuckDB's thread count."""
    _WAREHOUSES[Path(path).resolve()] = warehouse


def set_threads(con: duckdb.DuckDBPyConnection, threads: int | str) -> None:
    """DuckDB's threads for this connection's database ("auto": DuckDB's default, all cores)."""
    con.execute("RESET threads" if threads == "auto" else f"SET threads = {int(threads)}")


class WarehouseBusy(RuntimeError):
    """The warehouse lock could not be had in time."""


@contextmanager
def connect(path: Path, *, timeout: float = 600.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short, exclusive connection. Waits (up to `timeout` s) for other processes.

    A DuckLake warehouse needs no lock: a connection on the attached lake, right away."""
    path = Path(path)
    warehouse = _WAREHOUSES.get(path.resolve()) if _WAREHOUSES else None
    if warehouse is not None and warehouse.backend == "ducklake":
        con = open_cursor(warehouse, SCHEMA)
        try:
            yield con
        finally:
            close_cursor(con)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path) + ".lock", timeout=timeout, is_singleton=False)
    try:
        lock.acquire()
    except TimeoutError:
        raise WarehouseBusy(f"warehouse {path} stayed locked for {timeout:.0f}s") from None
    try:
        fresh = not path.exists()
        con = duckdb.connect(str(path))
        try:
            set_threads(con, warehouse.threads if warehouse is not None else DEFAULT_THREADS)
            if fresh or path not in _READY:  # create tables once per file and process
                con.execute(SCHEMA)
                _READY.add(path)
            yield con
        finally:
            con.close()
    finally:
        lock.release()


def ddl_for(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """CREATE statements as this connection's backend takes them (DuckLake: no keys)."""
    return ddl(sql) if is_lake(con) else sql


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection, *, keys=("unscoped",)) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN ... COMMIT. On DuckLake, `keys` name what the transaction's deletes and checks
    cover (cities of a partition write); transactions sharing a key run one at a time
    (lake.claim). Without keys a transaction takes the one "unscoped" key."""
    with claim(con, keys):
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        try:
            con.execute("COMMIT")
        except duckdb.Error:
            # A failed COMMIT (a DuckLake conflict) has already ended the transaction; roll
            # back in case it has not, and let the caller's retry_conflicts run the unit again.
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass
            raise


def register_partitions(con: duckdb.DuckDBPyConnection, parts: list[tuple[str, object]]) -> None:
    """A temp table `parts(city, permit_day)` to join partition-scoped work against."""
    frame = pd.DataFrame([(c, str(d)) for c, d in parts], columns=["city", "permit_day"], dtype=object)
    con.register("_parts_frame", frame)
    con.execute("CREATE OR REPLACE TEMP TABLE parts AS "
                "SELECT city::VARCHAR AS city, permit_day::DATE AS permit_day FROM _parts_frame")
    con.unregister("_parts_frame")
