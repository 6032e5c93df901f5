"""Buyer CSV files, the review queue and the retry queue.

The seed's tree and 17 columns; rows by score, highest first; written atomically and
only when their bytes change, so an untouched file keeps its modification time.
"""
from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from lead_assets.settings import Settings
from lead_assets.taxonomy import EXPORT_COLUMNS, RETRY_FILE, REVIEW_FILE, export_keys
from lead_assets.warehouse import connect

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
            s.city AS city_key, r.decision
        FROM scored_leads s
        LEFT JOIN export_city_names c ON c.city = s.city
        LEFT JOIN {_LATEST_REVIEW} r ON r.city = s.city AND r.permit_id = s.permit_id
    """


# A lead goes to a buyer file when it is a scored lead, out of review (or approved),
# and nobody has had it yet.
BUYER_FILTER = """
    tier IN ('A', 'B', 'C') AND NOT discarded_flag AND (NOT needs_review_flag OR decision = 'approve')
    AND decision IS DISTINCT FROM 'reject'
    AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.city = q.city_key AND d.permit_id = q.permit_id)
    AND NOT EXISTS (SELECT 1 FROM sales x WHERE x.city = q.city_key AND x.permit_id = q.permit_id)
"""
ORDER = "ORDER BY score DESC, days_old ASC, city, permit_id"


def _query(con, settings: Settings, where: str, keys: list[str] | None = None) -> pd.DataFrame:
    con.execute("CREATE OR REPLACE TEMP TABLE export_city_names (city VARCHAR, name VARCHAR)")
    con.executemany("INSERT INTO export_city_names VALUES (?, ?)", [(c.key, c.name) for c in settings.cities.values()])
    key_filter = ""
    params: list = []
    if keys is not None:
        key_filter = "AND export_key IN (SELECT unnest(?::VARCHAR[]))"
        params = [keys]
    sql = f"""
        SELECT * FROM (
            SELECT q.*, s.discarded AS discarded_flag, s.needs_review AS needs_review_flag
            FROM ({_select(settings)}) q
            JOIN scored_leads s ON s.city = q.city_key AND s.permit_id = q.permit_id
        ) q WHERE {where} {key_filter} {ORDER}
    """
    return con.execute(sql, params).df()


def neutralize(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix a quote to text cells a spreadsheet would run as a formula (not plain numbers)."""
    out = frame.copy()
    for col in TEXT_COLUMNS:
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
    previews: dict[str, pd.DataFrame] = field(default_factory=dict)


def render_buyer_files(con, settings: Settings, keys: list[str] | None = None) -> dict[str, bytes]:
    keys = export_keys() if keys is None else keys
    rows = _query(con, settings, BUYER_FILTER, keys)
    groups = dict(tuple(rows.groupby("export_key", sort=False))) if len(rows) else {}
    return {k: render_csv(groups.get(k, rows.iloc[0:0])) for k in keys}


def render_review_file(con, settings: Settings) -> tuple[bytes, int]:
    rows = _query(con, settings, "needs_review_flag AND NOT discarded_flag AND tier <> 'RETRY' AND decision IS NULL")
    return render_csv(rows), len(rows)


def render_retry_file(con, settings: Settings) -> tuple[bytes, int]:
    rows = _query(con, settings, "tier = 'RETRY'")
    return render_csv(rows), len(rows)


def file_path(settings: Settings, key: str) -> Path:
    return settings.exports_dir / f"{key}.csv"


def write_buyer_files(settings: Settings, keys: list[str] | None = None) -> ExportReport:
    with connect(settings.warehouse_path) as con:
        rendered = render_buyer_files(con, settings, keys)
    report = ExportReport()
    for key, data in rendered.items():
        report.rows[key] = data.count(b"\n") - 1
        if write_atomic(file_path(settings, key), data):
            report.written.append(key)
    return report


def stale_buyer_files(settings: Settings) -> list[str]:
    """Export keys whose file on disk differs from what the warehouse says it should hold."""
    with connect(settings.warehouse_path) as con:
        rendered = render_buyer_files(con, settings)
    stale = []
    for key, data in rendered.items():
        try:
            if file_path(settings, key).read_bytes() == data:
                continue
        except FileNotFoundError:
            pass
        stale.append(key)
    return stale


def write_queue_file(settings: Settings, which: str) -> tuple[int, bool]:
    """Write flagged/needs_review.csv ('review') or pending_retry/retry_queue.csv ('retry')."""
    render, name = (render_review_file, REVIEW_FILE) if which == "review" else (render_retry_file, RETRY_FILE)
    with connect(settings.warehouse_path) as con:
        data, rows = render(con, settings)
    return rows, write_atomic(settings.exports_dir / name, data)
