"""`deliver`: a buyer's package of the leads it takes, written to exports/_delivered/<day>/<buyer>/.

A package is written to a temp folder beside its destination and renamed into place, then the
deliveries and sales are recorded in one transaction; if recording fails the package is put
back as it was, and if writing fails nothing is recorded.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd

from lead_assets.exports.files import render_csv, write_atomic
from lead_assets.sales.buyers import Buyer, all_buyers, buyer_slug, find_buyer
from lead_assets.sales.errors import SalesError
from lead_assets.sales.leads import refresh_files
from lead_assets.sales.sharing import lead_holders, sharing_problem
from lead_assets.config.settings import Settings
from lead_assets.warehouse.store import LATEST_REVIEW, LATEST_STATUS
from lead_assets.leads.taxonomy import export_key
from lead_assets.warehouse.connection import connect, transaction

DELIVERED_DIR = "_delivered"


def delivered_root(settings: Settings) -> Path:
    return settings.exports_dir / DELIVERED_DIR


def package_dir(settings: Settings, buyer: Buyer, day: date) -> Path:
    """exports/_delivered/<day>/<buyer slug>, checked to stay inside exports/_delivered/."""
    root = delivered_root(settings).resolve()
    path = (root / day.isoformat() / buyer_slug(buyer.name)).resolve()
    if not path.is_relative_to(root) or path.parent != root / day.isoformat():
        raise SalesError(f"buyer {buyer.name!r} would write outside {root}")
    return path


def _merge_csv(existing: bytes | None, new: bytes) -> bytes:
    """A day's package file holds every delivery of that day: append the new rows."""
    if not existing:
        return new
    header, _, rows = new.partition(b"\n")
    old_header = existing.partition(b"\n")[0]
    if old_header != header:
        raise SalesError("an earlier package file of today has other columns; move it away first")
    return existing + (b"" if existing.endswith(b"\n") else b"\n") + rows


class Package:
    """Write a buyer's package beside its destination, swap it in, keep the old one until committed."""

    def __init__(self, dest: Path, files: dict[str, bytes]):
        self.dest, self.files = dest, files
        self.backup: Path | None = None
        self.swapped = False

    def write(self) -> None:
        day_dir = self.dest.parent
        day_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=day_dir, prefix=f".{self.dest.name}.new-"))
        try:
            if self.dest.exists():
                shutil.copytree(self.dest, staging, dirs_exist_ok=True)
            for rel, data in self.files.items():
                target = staging / rel
                existing = target.read_bytes() if target.exists() else None
                write_atomic(target, _merge_csv(existing, data))
            if self.dest.exists():
                self.backup = day_dir / f".{self.dest.name}.old-{uuid.uuid4().hex[:8]}"
                os.rename(self.dest, self.backup)
            os.rename(staging, self.dest)
            self.swapped = True
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            if self.backup is not None and not self.dest.exists():
                os.rename(self.backup, self.dest)
                self.backup = None
            _remove_if_empty(day_dir)
            raise

    def commit(self) -> None:
        if self.backup is not None:
            shutil.rmtree(self.backup, ignore_errors=True)

    def rollback(self) -> None:
        if not self.swapped:
            return
        shutil.rmtree(self.dest, ignore_errors=True)
        if self.backup is not None:
            os.rename(self.backup, self.dest)
        _remove_if_empty(self.dest.parent)


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()                      # only succeeds when empty
    except OSError:
        pass


def record_deliveries(con, settings: Settings, rows: pd.DataFrame, *, via: str) -> None:
    """Insert deliveries (and sales where `price` is set) for `rows`, inside the caller's transaction.

    rows: city, permit_id, buyer, file, tier, category, trade_group, score, price (str or None).
    """
    frame = rows[["city", "permit_id", "buyer", "file", "tier", "category", "trade_group", "score",
                  "price"]].astype(object)
    frame = frame.where(frame.notna(), None)
    con.register("_new_deliveries", frame)
    try:
        con.execute("""INSERT INTO deliveries (city, permit_id, buyer, delivered_on, file, delivered_at,
                                               tier, category, trade_group, score, via)
                       SELECT city, permit_id, buyer, ?::DATE, file, now()::TIMESTAMP, tier, category,
                              trade_group, score::INTEGER, ?
                       FROM _new_deliveries WHERE file IS NOT NULL""", [settings.today(), via])
        con.execute("""INSERT INTO sales (city, permit_id, buyer, price, sold_at, sold_on, tier, category,
                                          trade_group, via)
                       SELECT city, permit_id, buyer, price::DECIMAL(10, 2), now()::TIMESTAMP, ?::DATE, tier,
                              category, trade_group, ?
                       FROM _new_deliveries WHERE price IS NOT NULL""", [settings.today(), via])
    finally:
        con.unregister("_new_deliveries")


@dataclass
class DeliveryPlan:
    buyer: Buyer
    day: date
    folder: Path
    leads: pd.DataFrame                         # the 17 columns + city_key, export_key, price
    files: dict[str, bytes] = field(default_factory=dict)   # path in the package -> CSV bytes
    held_elsewhere: int = 0                     # matching leads other buyers hold (exclusive / full)
    recorded: bool = False

    @property
    def total(self) -> Decimal:
        return sum((Decimal(p) for p in self.leads["price"].dropna()), Decimal("0.00"))

    @property
    def sold(self) -> int:
        return int(self.leads["price"].notna().sum()) if len(self.leads) else 0

    def per_file(self) -> dict[str, int]:
        return {k: int(n) for k, n in self.leads.groupby("export_key", sort=False).size().items()} \
            if len(self.leads) else {}


def _rows_sql(settings: Settings, where: str) -> str:
    """The buyer-file row (exports.py's 17 columns, formatted the same way) of each matching lead."""
    today = settings.today()
    return f"""
        SELECT s.permit_id, s.city AS city_key, s.property_address, s.owner_name, s.project_description,
            round(s.market_value)::BIGINT AS market_value,
            datediff('day', s.permit_day, DATE '{today}') AS days_old,
            CASE s.is_absentee WHEN true THEN 'true' WHEN false THEN 'false' END AS is_absentee,
            s.score, s.tier, s.trade_group, s.category, s.reasoning, s.ideal_contractor,
            s.contact_priority, s.flags, strftime(s.scored_at, '%Y-%m-%dT%H:%M:%SZ') AS scored_at
        FROM scored_leads s
        LEFT JOIN {LATEST_REVIEW} r ON r.city = s.city AND r.permit_id = s.permit_id
        LEFT JOIN {LATEST_STATUS} m ON m.city = s.city AND m.permit_id = s.permit_id
        WHERE {where}
    """


_AVAILABLE = """
    NOT s.discarded AND s.tier IN ('A', 'B', 'C')
    AND (NOT s.needs_review OR r.decision = 'approve') AND r.decision IS DISTINCT FROM 'reject'
    AND coalesce(m.manual_status, 'new') NOT IN ('dead', 'converted')
"""


def _ordered(settings: Settings, frame: pd.DataFrame) -> pd.DataFrame:
    names = {c.key: c.name for c in settings.cities.values()}
    frame = frame.assign(city=frame["city_key"].map(names).fillna(frame["city_key"]))
    frame = frame.assign(export_key=[export_key(c, t) for c, t in zip(frame["category"], frame["tier"])])
    return frame.sort_values(["score", "days_old", "city", "permit_id"], ascending=[False, True, True, True],
                             kind="mergesort").reset_index(drop=True)


def plan_delivery(con, settings: Settings, buyer: Buyer, *, limit: int | None = None) -> DeliveryPlan:
    where = _AVAILABLE + """
        AND (list_contains(?::VARCHAR[], s.trade_group) OR list_contains(?::VARCHAR[], s.category))
        AND list_contains(?::VARCHAR[], s.tier)
        AND (len(?::VARCHAR[]) = 0 OR list_contains(?::VARCHAR[], s.city))
        AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.city = s.city AND d.permit_id = s.permit_id
                        AND d.buyer = ?)
        AND NOT EXISTS (SELECT 1 FROM sales x WHERE x.city = s.city AND x.permit_id = s.permit_id AND x.buyer = ?)
    """
    params = [list(buyer.trade_groups), list(buyer.categories), list(buyer.tiers), list(buyer.cities),
              list(buyer.cities), buyer.name, buyer.name]
    frame = con.execute(_rows_sql(settings, where), params).df()
    frame = _ordered(settings, frame)
    holders = lead_holders(con, list(zip(frame["city_key"], frame["permit_id"])))
    buyers = all_buyers(con)
    ok = [sharing_problem(holders.get((c, p), set()), buyer, buyers) is None
          for c, p in zip(frame["city_key"], frame["permit_id"])]
    held_elsewhere = len(ok) - sum(ok)
    frame = frame[pd.Series(ok, index=frame.index, dtype=bool)].reset_index(drop=True)
    if limit is not None:
        frame = frame.head(int(limit))
    day = settings.today()
    folder = package_dir(settings, buyer, day)
    prices = [buyer.price(t) for t in frame["tier"]]
    frame = frame.assign(price=[str(p) if p else None for p in prices],
                         file=[f"{k}.csv" for k in frame["export_key"]])
    files = {f"{k}.csv": render_csv(g) for k, g in frame.groupby("export_key", sort=False)} if len(frame) else {}
    return DeliveryPlan(buyer=buyer, day=day, folder=folder, leads=frame, files=files,
                        held_elsewhere=held_elsewhere)


def deliver(settings: Settings, buyer: str, *, dry_run: bool = False, limit: int | None = None,
            refresh: bool = True) -> DeliveryPlan:
    """Write the buyer's package to exports/_delivered/<today>/<buyer>/ and record it.

    One delivery per lead; a sale at the buyer's tier price (none for a tier priced 0).
    """
    if limit is not None and int(limit) < 1:
        raise SalesError("--limit must be at least 1")
    with connect(settings.warehouse_path) as con:
        b = find_buyer(con, buyer)
        plan = plan_delivery(con, settings, b, limit=limit)
        if dry_run or plan.leads.empty:
            return plan
        rel = plan.folder.relative_to(settings.exports_dir.resolve())
        rows = plan.leads.assign(city=plan.leads["city_key"], buyer=b.name,
                                 file=[str(rel / f) for f in plan.leads["file"]])
        package = Package(plan.folder, plan.files)
        package.write()                    # raises -> nothing recorded
        try:
            with transaction(con):
                record_deliveries(con, settings, rows, via="deliver")
        except BaseException:
            package.rollback()
            raise
        package.commit()
        plan.recorded = True
    if refresh:
        refresh_files(settings, set(plan.leads["export_key"]))
    return plan
