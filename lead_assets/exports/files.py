"""Buyer CSV files, the review queue and the retry queue.

The seed's tree and 17 columns; rows by score, highest first; written atomically and
only when their bytes change, so an untouched file keeps its modification time.
"""
from __future__ import annotations

import io
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from lead_assets.processes import alive
from lead_assets.config.settings import Settings
from lead_assets.leads.taxonomy import EXPORT_COLUMNS, RETRY_FILE, REVIEW_FILE, export_keys
from lead_assets.warehouse.connection import connect

# A leading character a spreadsheet would execute (OWASP CSV injection).
_FORMULA_START = r"^[=+\-@\t\r]"
_PLAIN_NUMBER = r"^[+-]?\d+(\.\d+)?$"
TEXT_COLUMNS = [c for c in EXPORT_COLUMNS if c not in ("market_value", "days_old", "score")]

_LATEST_REVIEW = """
    (SELECT city, permit_id, decision FROM lead_reviews
     QUALIFY row_number() OVER (PARTITION BY city, permit_id ORDER BY decided_at DESC) = 1)
"""


def _select(settings: Settings) -> str:
    today = settings.today()
    return f"""
        SELECT s.permit_id, coalesce(c.name, s.city) AS city, s.property_address, s.owner_name,
            s.project_description, round(s.market_value)::BIGINT AS market_value,
            datediff('day', s.permit_day, DATE '{today}') AS days_old,
            CASE s.is_absentee WHEN true THEN 'true' WHEN false THEN 'false' END AS is_absentee,
            s.score, s.tier, s.trade_group, s.category, s.reasoning, s.ideal_contractor,
            s.contact_priority, s.flags, strftime(s.scored_at, '%Y-%m-%dT%H:%M:%SZ') AS scored_at,
            s.trade_group || '/' || s.category || '/tier_' || lower(s.tier) AS export_key,
            s.city AS city_key, r.decision, s.discarded AS discarded_flag, s.needs_review AS needs_review_flag
        FROM scored_leads s
        LEFT JOIN export_city_names c ON c.city = s.city
        LEFT JOIN {_LATEST_REVIEW} r ON r.city = s.city AND r.permit_id = s.permit_id
    """


# A lead goes to a buyer file when it is a scored lead, out of review (or approved),
# nobody has had it yet (any delivery or sale, exclusive or shared: these files are not
# per buyer, so a shared lead's further buyers get it through `leads deliver`), and the
# seller has not marked it dead or converted (latest manual status, see lead_assets/sales/leads.py).
BUYER_FILTER = """
    tier IN ('A', 'B', 'C') AND NOT discarded_flag AND (NOT needs_review_flag OR decision = 'approve')
    AND decision IS DISTINCT FROM 'reject'
    AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.city = q.city_key AND d.permit_id = q.permit_id)
    AND NOT EXISTS (SELECT 1 FROM sales x WHERE x.city = q.city_key AND x.permit_id = q.permit_id)
    AND coalesce((SELECT ls.status FROM lead_status ls WHERE ls.city = q.city_key AND ls.permit_id = q.permit_id
                  ORDER BY ls.changed_at DESC LIMIT 1), 'new') NOT IN ('dead', 'converted')
"""
ORDER = "ORDER BY score DESC, days_old ASC, city, permit_id"


def _city_names(con, settings: Settings) -> None:
    names = pd.DataFrame([(c.key, c.name) for c in settings.cities.values()], columns=["city", "name"])
    con.register("_names", names)
    con.execute("CREATE OR REPLACE TEMP TABLE export_city_names AS SELECT city::VARCHAR AS city, name::VARCHAR AS name FROM _names")
    con.unregister("_names")
    con.execute(f"CREATE OR REPLACE TEMP VIEW export_base AS {_select(settings)}")


def _query_sql(where: str) -> str:
    return f"SELECT * FROM export_base q WHERE {where}"


def neutralize(frame: pd.DataFrame, columns=TEXT_COLUMNS) -> pd.DataFrame:
    """Prefix a quote to text cells a spreadsheet would run as a formula (not plain numbers)."""
    out = frame.copy()
    for col in columns:
        if col not in out.columns:
            continue
        text = out[col].astype("string")
        risky = text.str.contains(_FORMULA_START, regex=True, na=False) & ~text.str.match(_PLAIN_NUMBER, na=False)
        if risky.any():
            out[col] = text.where(~risky, "'" + text)
    return out


def render_csv(frame: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    neutralize(frame.reindex(columns=list(EXPORT_COLUMNS))).to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def write_atomic(path: Path, data: bytes) -> bool:
    """Write via a temp file + rename. Returns False (and leaves the file alone) when unchanged."""
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


@dataclass
class ExportReport:
    rows: dict[str, int] = field(default_factory=dict)          # export key -> rows
    written: list[str] = field(default_factory=list)            # keys whose file changed


def _neutralized(col: str) -> str:
    return (f"CASE WHEN regexp_matches({col}, '{_FORMULA_START}') AND NOT regexp_matches({col}, '{_PLAIN_NUMBER}') "
            f"THEN chr(39) || {col} ELSE {col} END AS {col}")


def _copy_csv(con, where: str, dest: Path, keys: list[str] | None = None) -> None:
    """Write the rows matching `where` (and `keys`) to CSV with DuckDB's writer, one file per
    key under `dest` (or one file `dest` when keys is None)."""
    cols = ", ".join(_neutralized(c) if c in TEXT_COLUMNS else c for c in EXPORT_COLUMNS)
    copy = (f"COPY (SELECT {', '.join(EXPORT_COLUMNS)} FROM export_rows {{}} {ORDER}) "
            "TO '{}' (HEADER, DELIMITER ',')")
    rows = f"SELECT export_key, {cols} FROM ({_query_sql(where)}) q"
    if keys is None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        con.execute(f"CREATE OR REPLACE TEMP TABLE export_rows AS {rows}")
        con.execute(copy.format("", _sql_path(dest)))
        return
    # Stored by key, so each file's COPY scans only its key's span of rowids (a filter on the
    # key alone scanned every row once per file: 55 times).
    con.execute(f"CREATE OR REPLACE TEMP TABLE export_rows AS {rows} ORDER BY export_key")
    spans = {k: (a, b) for k, a, b in con.execute(
        "SELECT export_key, min(rowid), max(rowid) FROM export_rows GROUP BY 1").fetchall()}
    for key in keys:
        path = dest / f"{key}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        first, last = spans.get(key, (0, -1))
        quoted = "'" + key.replace("'", "''") + "'"
        con.execute(copy.format(f"WHERE rowid BETWEEN {first} AND {last} AND export_key = {quoted}", _sql_path(path)))


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _stage_buyer_files(settings: Settings, keys: list[str], scratch: Path) -> None:
    with connect(settings.warehouse_path) as con:
        _city_names(con, settings)
        _copy_csv(con, BUYER_FILTER, scratch, keys)


def file_path(settings: Settings, key: str) -> Path:
    return settings.exports_dir / f"{key}.csv"


REVIEW_WHERE = "needs_review_flag AND NOT discarded_flag AND tier <> 'RETRY' AND decision IS NULL"
RETRY_WHERE = "tier = 'RETRY'"


def _install(staged: Path, target: Path) -> bool:
    """Move a staged file into place (an atomic rename) unless the target already has its bytes."""
    try:
        if target.read_bytes() == staged.read_bytes():
            return False
    except FileNotFoundError:
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged, target)
    return True


def write_buyer_files(settings: Settings, keys: list[str] | None = None) -> ExportReport:
    """Render every (or the given) buyer file; replace only the files whose bytes changed."""
    keys = export_keys() if keys is None else keys
    report = ExportReport()
    with tempfile.TemporaryDirectory(dir=_scratch_parent(settings), prefix=_staging_prefix()) as scratch:
        _stage_buyer_files(settings, keys, Path(scratch))
        for key in keys:
            staged = Path(scratch) / f"{key}.csv"
            report.rows[key] = staged.read_bytes().count(b"\n") - 1
            if _install(staged, file_path(settings, key)):
                report.written.append(key)
    return report


def stale_buyer_files(settings: Settings) -> list[str]:
    """Export keys whose file on disk differs from what the warehouse says it should hold."""
    keys = export_keys()
    stale = []
    with tempfile.TemporaryDirectory(dir=_scratch_parent(settings), prefix=_staging_prefix()) as scratch:
        _stage_buyer_files(settings, keys, Path(scratch))
        for key in keys:
            try:
                if file_path(settings, key).read_bytes() == (Path(scratch) / f"{key}.csv").read_bytes():
                    continue
            except FileNotFoundError:
                pass
            stale.append(key)
    return stale


def write_queue_file(settings: Settings, which: str) -> tuple[int, bool]:
    """Write flagged/needs_review.csv ('review') or pending_retry/retry_queue.csv ('retry')."""
    where, name = (REVIEW_WHERE, REVIEW_FILE) if which == "review" else (RETRY_WHERE, RETRY_FILE)
    with tempfile.TemporaryDirectory(dir=_scratch_parent(settings), prefix=_staging_prefix()) as scratch:
        staged = Path(scratch) / "queue.csv"
        with connect(settings.warehouse_path) as con:
            _city_names(con, settings)
            _copy_csv(con, where, staged)
        rows = staged.read_bytes().count(b"\n") - 1
        return rows, _install(staged, settings.exports_dir / name)


def _scratch_parent(settings: Settings) -> Path:
    """Scratch space on the exports' own file system, so renames stay atomic and cheap.

    Staging folders are named after the process that owns them; one whose process is gone
    (a run killed with SIGKILL) is removed here, by the next export.
    """
    settings.exports_dir.mkdir(parents=True, exist_ok=True)
    for folder in settings.exports_dir.glob(".staging-*"):
        pid = folder.name.split("-")[1] if folder.name.count("-") >= 2 else ""
        if folder.is_dir() and not (pid.isdigit() and alive(int(pid))):
            shutil.rmtree(folder, ignore_errors=True)
    return settings.exports_dir


def _staging_prefix() -> str:
    return f".staging-{os.getpid()}-"
