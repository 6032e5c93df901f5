"""The DuckLake warehouse backend: catalog in PostgreSQL, Parquet data files under a path.

Chosen by `[warehouse] backend = "ducklake"` (settings.WarehouseSettings). There is no
file lock: every process (and machine) attaches the same catalog and writes at once;
DuckLake's snapshot transactions keep each commit whole. DuckLake checks conflicts per
table (an insert conflicts with another writer's delete on the same table), so a
partition write that loses the race is rolled back and run again (`retry_conflicts`).

The two extensions come from the pip wheels duckdb-extension-ducklake and
duckdb-extension-postgres-scanner and are LOADed from their files with DuckDB's
autoinstall/autoload off: nothing is fetched at run time.
"""
from __future__ import annotations

import functools
import importlib.util
import logging
import os
import random
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    from lead_assets.config.settings import WarehouseSettings

ALIAS = "leads_lake"          # the attached catalog's name inside each DuckDB connection
ATTEMPTS = 12                 # tries of one write unit before a conflict is reported
FIRST_WAIT, MAX_WAIT = 0.05, 3.0  # seconds; the wait doubles (with jitter) after each conflict

_BASES: dict[tuple[str, str], duckdb.DuckDBPyConnection] = {}
_DSN_OF: dict[int, str] = {}  # id(open cursor) -> its catalog DSN, for claim()
_BASES_LOCK = threading.Lock()
_DEPTH = threading.local()
log = logging.getLogger(__name__)


class LakeError(RuntimeError):
    """The DuckLake warehouse cannot be opened (config, extension or catalog problem)."""


def extension_file(package: str, name: str) -> Path:
    """The .duckdb_extension file a wheel ships for this exact DuckDB version."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise LakeError(f"the DuckLake warehouse needs the {package.replace('_', '-')} package (pip install it)")
    root = Path(next(iter(spec.submodule_search_locations))) / "extensions"
    path = root / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.exists():
        found = ", ".join(sorted(p.name for p in root.glob("v*"))) or "none"
        raise LakeError(f"{package} has no {name} extension for duckdb {duckdb.__version__} (it has: {found}); "
                        "install the duckdb version pinned in pyproject.toml")
    return path


def redact(text: str, dsn: str) -> str:
    """An error message without the DSN or any password in it."""
    text = text.replace(dsn, "<catalog>")
    text = re.sub(r"(password\s*=\s*)\S+", r"\1***", text, flags=re.I)
    return re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1***@", text)


def catalog_dsn(lake: "WarehouseSettings") -> str:
    dsn = os.environ.get(lake.catalog_env, "").strip()
    if not dsn:
        raise LakeError(f"[warehouse] backend = \"ducklake\" needs the catalog's PostgreSQL DSN in ${lake.catalog_env}")
    return dsn


def is_conflict(exc: BaseException) -> bool:
    """A DuckLake commit lost to a concurrent writer (safe to run the whole unit again)."""
    text = str(exc)
    return isinstance(exc, duckdb.Error) and ("Transaction conflict" in text or "Failed to commit DuckLake" in text
                                              or "could not serialize access" in text)


def _backoff(attempt: int) -> float:
    return min(MAX_WAIT, FIRST_WAIT * 2 ** attempt) * random.uniform(0.5, 1.5)


def _retrying(action, retryable, what: str):
    """`action()`, run again after a growing, jittered wait while it fails with a retryable error."""
    for attempt in range(ATTEMPTS):
        try:
            return action()
        except duckdb.Error as exc:
            if attempt == ATTEMPTS - 1 or not retryable(exc):
                raise
        wait = _backoff(attempt)
        log.info("DuckLake write conflict in %s; try %d of %d in %.2fs", what, attempt + 2, ATTEMPTS, wait)
        time.sleep(wait)


def retry_conflicts(fn):
    """Run `fn` again (after a growing, jittered wait) when its DuckLake commit conflicts.

    `fn` must be a whole unit of work that opens its own connection(s) and reads what it
    writes from, so a new attempt starts from a fresh snapshot. Only the outermost decorated
    call retries; nested ones pass the conflict up. With the embedded DuckDB file there are
    no conflicts (the file lock serializes writers) and this is a plain call.
    """
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if getattr(_DEPTH, "n", 0):
            return fn(*args, **kwargs)
        _DEPTH.n = 1
        try:
            return _retrying(lambda: fn(*args, **kwargs), is_conflict, fn.__name__)
        finally:
            _DEPTH.n = 0
    return wrapper


def ddl(sql: str) -> str:
    """The warehouse DDL in DuckLake's dialect: DuckLake has no PRIMARY KEY / UNIQUE
    constraints or indexes (the code checks its keys itself: buyers by name, the reasoner
    cache by delete-then-insert), and a view is created once rather than replaced on every
    process start (each replacement would be a catalog change that conflicts with writers)."""
    sql = re.sub(r",\s*PRIMARY KEY\s*\([^)]*\)", "", sql)
    sql = re.sub(r"\s+PRIMARY KEY\b", "", sql)
    return sql.replace("CREATE OR REPLACE VIEW", "CREATE VIEW IF NOT EXISTS")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _attach(lake: "WarehouseSettings", dsn: str, schema: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    data = lake.data_path.rstrip("/")
    if "://" not in data:
        Path(data).mkdir(parents=True, exist_ok=True)
    try:
        from lead_assets.warehouse.connection import set_threads   # (it imports this module)
        set_threads(con, lake.threads)   # one database per process: its cursors share them
        for package, name in (("duckdb_extension_postgres_scanner", "postgres_scanner"),
                              ("duckdb_extension_ducklake", "ducklake")):
            con.execute(f"LOAD '{extension_file(package, name)}'")
        quoted = _literal("ducklake:postgres:" + dsn)   # ATTACH takes no bound parameters
        # A fresh catalog is created by whoever attaches first; processes starting together
        # then create the tables together.
        _retrying(lambda: con.execute(f"ATTACH {quoted} AS {ALIAS} (DATA_PATH {_literal(data + '/')})"),
                  lambda exc: bool(re.search(r"duplicate key|already exists|conflict", str(exc), re.I)), "ATTACH")
        con.execute(f"USE {ALIAS}")
        _retrying(lambda: con.execute(ddl(schema)), is_conflict, "the warehouse DDL")
    except duckdb.Error as exc:
        con.close()
        raise LakeError(f"DuckLake warehouse (catalog from ${lake.catalog_env}, data in {data}): "
                        f"{redact(str(exc).splitlines()[0], dsn)}") from None
    return con


def open_cursor(lake: "WarehouseSettings", schema: str) -> duckdb.DuckDBPyConnection:
    """A new connection on this process's attached lake (attached once per process).

    Each cursor has its own temp tables and transactions, like a fresh duckdb.connect()."""
    dsn = catalog_dsn(lake)
    key = (dsn, lake.data_path)
    with _BASES_LOCK:
        base = _BASES.get(key)
        if base is None:
            base = _BASES[key] = _attach(lake, dsn, schema)
    con = base.cursor()
    con.execute(f"USE {ALIAS}")
    _DSN_OF[id(con)] = dsn
    return con


def close_cursor(con: duckdb.DuckDBPyConnection) -> None:
    _DSN_OF.pop(id(con), None)
    con.close()


@contextmanager
def claim(con: duckdb.DuckDBPyConnection, keys) -> Iterator[None]:
    """Hold PostgreSQL advisory locks on `keys` (e.g. cities) while a write transaction runs.

    DuckLake detects conflicts from the changes made, not from what a statement looked for:
    two processes that each delete a city's rows (finding none yet) and insert their own
    both commit, and the rows are doubled. Writers that share keys therefore take the keys'
    locks, in sorted order, before BEGIN; writers with disjoint keys still run at once.
    A no-op on the embedded DuckDB file (its file lock already makes each writer alone)."""
    dsn = _DSN_OF.get(id(con))
    if dsn is None:
        yield
        return
    import psycopg2
    pg = psycopg2.connect(dsn)
    try:
        with pg.cursor() as cur:
            for key in sorted(set(map(str, keys))):
                cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ["leads:" + key])
        yield
    finally:
        pg.rollback()   # ends the transaction: the locks go with it
        pg.close()


def is_lake(con: duckdb.DuckDBPyConnection) -> bool:
    """Is this an open connection on a DuckLake warehouse (from open_cursor)?"""
    return id(con) in _DSN_OF


def detach_all() -> None:
    """Close this process's attached lakes (their catalog connections); the next connect attaches anew."""
    with _BASES_LOCK:
        for con in _BASES.values():
            con.close()
        _BASES.clear()
