"""`archive`: buyer files sent by hand, moved into the buyers' packages and recorded as delivered."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd

from lead_assets.sales.buyers import Buyer, all_buyers, find_buyer
from lead_assets.sales.deliveries import Package, package_dir, record_deliveries
from lead_assets.sales.errors import SalesError
from lead_assets.sales.leads import LEAD_REF_SQL, LeadRef, refresh_files
from lead_assets.sales.sharing import lead_holders, sharing_problem
from lead_assets.config.settings import Settings
from lead_assets.leads.taxonomy import EXPORT_COLUMNS, export_keys
from lead_assets.warehouse.connection import connect, transaction


@dataclass
class ArchivedFile:
    buyer: str
    key: str                        # export key, e.g. luxury_outdoor/pool/tier_a
    rows: int                       # leads in the file
    recorded: int                   # deliveries recorded now
    already: int                    # the buyer had them already (not recorded again)
    sold: int = 0
    revenue: Decimal = Decimal("0.00")


@dataclass
class ArchivePlan:
    day: date
    files: list[ArchivedFile] = field(default_factory=list)
    recorded: bool = False

    @property
    def deliveries(self) -> int:
        return sum(f.recorded for f in self.files)


def _export_key_of(settings: Settings, text: str) -> str:
    keys = set(export_keys())
    path = Path(text)
    if path.is_absolute() or path.exists():
        try:
            path = path.resolve().relative_to(settings.exports_dir.resolve())
        except ValueError:
            raise SalesError(f"{text} is not a buyer file under {settings.exports_dir}") from None
    key = path.as_posix().removesuffix(".csv")
    if key not in keys:
        raise SalesError(f"{text!r} is not a buyer file (like luxury_outdoor/pool/tier_a.csv)")
    return key


def _read_export_file(settings: Settings, key: str) -> tuple[bytes, list[tuple[str, str]]]:
    path = settings.exports_dir / f"{key}.csv"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SalesError(f"{path} does not exist") from None
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    header = next(reader, [])
    if header != list(EXPORT_COLUMNS):
        raise SalesError(f"{path} does not start with the 17 export columns")
    names = {c.name.lower(): c.key for c in settings.cities.values()} | {k: k for k in settings.cities}
    keys = []
    for rec in reader:
        if not rec:
            continue
        row = dict(zip(header, rec))
        permit, city = _unquote(row["permit_id"]), _unquote(row["city"])
        keys.append((names.get(city.lower(), city.lower()), permit))
    return data, keys


def _unquote(cell: str) -> str:
    """Undo exports.neutralize's quote before a formula-looking cell."""
    return cell[1:] if cell.startswith("'") and re.match(r"[=+\-@\t\r]", cell[1:2]) else cell


def archive(settings: Settings, files: list[str] | None = None, *, buyer: str | None = None,
            sell: bool = False, dry_run: bool = False, refresh: bool = True) -> ArchivePlan:
    """The seed's step 5, for buyer files sent by hand: copy each into the buyer's package
    exports/_delivered/<today>/<buyer>/, record a delivery for every lead in it (and, with
    `sell`, a sale at the buyer's tier price), then rewrite the main files without them.

    Which files went to whom: `buyer` and/or `files`; by default every non-empty buyer file
    goes to each buyer whose terms (trade groups/categories and tiers) cover it.
    """
    day = settings.today()
    plan = ArchivePlan(day=day)
    wanted = [_export_key_of(settings, f) for f in files] if files else None
    with connect(settings.warehouse_path) as con:
        buyers = all_buyers(con)
        chosen = [find_buyer(con, buyer)] if buyer else list(buyers.values())
        if not chosen:
            raise SalesError("no buyers yet; add one with `leads buyers add`")
        pairs: list[tuple[Buyer, str]] = []
        for key in (wanted or export_keys()):
            # Named files went to the named buyer whatever its terms; otherwise by the terms.
            takers = chosen if (buyer and wanted) else [b for b in chosen if b.takes_file(key)]
            if wanted and not takers:
                raise SalesError(f"no buyer takes {key}.csv; say who got it with --buyer")
            pairs += [(b, key) for b in takers]
        contents = {key: _read_export_file(settings, key) for key in {k for _, k in pairs}}
        pairs = [(b, k) for b, k in pairs if contents[k][1]]        # empty files: nothing to archive
        all_keys = sorted({lk for k in {k for _, k in pairs} for lk in contents[k][1]})
        known = {(r[0], r[1]): r for r in con.execute(LEAD_REF_SQL).fetchall()} if all_keys else {}
        missing = [f"{p} ({c})" for c, p in all_keys if (c, p) not in known]
        if missing:
            raise SalesError(f"{len(missing)} lead(s) in the files are not in the warehouse: "
                             f"{', '.join(missing[:5])}")
        holders = lead_holders(con, all_keys)
        sold_to = {(c, p, b) for c, p, b in con.execute("SELECT city, permit_id, buyer FROM sales").fetchall()}
        records, packages = [], {}
        for b, key in pairs:
            data, lead_keys = contents[key]
            folder = package_dir(settings, b, day)
            rel = folder.relative_to(settings.exports_dir.resolve()) / f"{key}.csv"
            done = ArchivedFile(buyer=b.name, key=key, rows=len(lead_keys), recorded=0, already=0)
            for lk in dict.fromkeys(lead_keys):
                held = holders.setdefault(lk, set())
                if b.name in held:
                    done.already += 1
                    continue
                problem = sharing_problem(held, b, buyers)
                if problem:
                    hint = "" if buyer else " (if only one buyer got the file, say which with --buyer)"
                    raise SalesError(f"{key}.csv cannot be archived for {b.name}: {lk[1]} ({lk[0]}): "
                                     f"{problem}{hint}")
                held.add(b.name)
                lead = LeadRef(*known[lk])
                price = b.price(lead.tier) if sell and (lk[0], lk[1], b.name) not in sold_to else None
                records.append({"city": lk[0], "permit_id": lk[1], "buyer": b.name, "file": str(rel),
                                "tier": lead.tier, "category": lead.category, "trade_group": lead.trade_group,
                                "score": lead.score, "price": str(price) if price else None})
                done.recorded += 1
                if price:
                    done.sold += 1
                    done.revenue += price
            plan.files.append(done)
            packages.setdefault(folder, {})[f"{key}.csv"] = data
        if dry_run or not records:
            return plan
        written: list[Package] = []
        try:
            for folder, pkg_files in packages.items():
                pkg = Package(folder, pkg_files)
                pkg.write()
                written.append(pkg)
            with transaction(con):
                record_deliveries(con, settings, pd.DataFrame.from_records(records), via="archive")
        except BaseException:
            for pkg in reversed(written):
                pkg.rollback()
            raise
        for pkg in written:
            pkg.commit()
        plan.recorded = True
    if refresh:
        refresh_files(settings, {f.key for f in plan.files})
    return plan
