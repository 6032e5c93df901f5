"""Writes the demo: landing files per city and day in three source schemas, and the CAD file."""
from __future__ import annotations

import argparse
import csv
import io
import json
import re
import tomllib
from datetime import date, datetime, timedelta
from pathlib import Path

from lead_assets.demo.generator import DemoGenerator, cad_situs
from lead_assets.demo.places import CITY_CFG

SOCRATA_HEADER: tuple[str, ...] = (
    "PermitNum", "PermitType", "WorkClass", "Description", "AppliedDate", "IssuedDate",
    "OriginalAddress1", "OriginalCity", "OriginalState", "OriginalZip", "EstProjectCost",
    "ApplicantName", "ContractorCompanyName", "StatusCurrent",
)
FRISCO_HEADER: tuple[str, ...] = (
    "Permit Number", "Permit Type", "Sub Type", "Work Description", "Date Applied",
    "Date Issued", "Site Address", "Zip", "Valuation", "Applicant", "Contractor",
)
PROSPER_KEYS: tuple[str, ...] = (
    "permit_no", "type", "work_class", "description", "issued", "applied", "address", "zip",
    "value", "applicant", "contractor",
)
CAD_HEADER: tuple[str, ...] = (
    "prop_id", "situs_address", "situs_city", "situs_zip", "owner_name", "mail_address",
    "mail_city", "mail_state", "mail_zip", "market_value", "homestead",
)
CAD_FILE = "cad/collin_cad_properties.csv"


def _write_csv(path: Path, header, rows, encoding: str = "utf-8") -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding, errors="replace"))


def generate_demo(root: Path, end_date: date, days: int = 28, seed: int = 20261128) -> dict:
    """Write landing files and CAD records under root; return counts:
    {"files": int, "permit_rows": int, "property_rows": int, "days": days, "start_date": date, "end_date": end_date}

    "files" counts the landing (permit) files, one per city per day. Existing files are
    overwritten, other files under root are left alone.
    """
    root = Path(root)
    demo = DemoGenerator(end_date, days, seed)
    files = demo.build()
    permit_rows = 0
    for (city, di), rows in files.items():
        day = demo.start_date + timedelta(days=di)
        d = root / "landing" / city
        d.mkdir(parents=True, exist_ok=True)
        fmt = CITY_CFG[city]["permit_fmt"]
        permit_rows += len(rows)
        if fmt == "prosper":
            text = json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
            (d / f"{city}_permits_{day.isoformat()}.json").write_bytes(text.encode("utf-8"))
        else:
            header = FRISCO_HEADER if fmt == "frisco" else SOCRATA_HEADER
            enc = "cp1252" if (city == "frisco" and di == demo.cp1252_day) else "utf-8"
            _write_csv(d / f"{city}_permits_{day.isoformat()}.csv", header, rows, enc)

    # CAD: prop ids assigned in a shuffled order, written sorted by id
    rng = demo.rng
    props = list(demo.props)
    rng.shuffle(props)
    ids = sorted(rng.sample(range(2_000_000, 2_900_000), len(props)))
    cad_rows = []
    formula_at = rng.randrange(len(props))
    for i, (pid, p) in enumerate(zip(ids, props)):
        owner = p["owner"] if i != formula_at else '=HYPERLINK("http://x","click")'
        mail = (p["mail_address"], p["mail_city"], p["mail_state"], p["mail_zip"])
        if rng.random() < 0.008:
            mail = ("", "", "", "")
        value = "" if rng.random() < 0.01 else str(p["value"])
        cad_rows.append([pid, cad_situs(p), p["cad_city"], p["zip"], owner, *mail, value, p["homestead"]])
    (root / "cad").mkdir(parents=True, exist_ok=True)
    _write_csv(root / CAD_FILE, CAD_HEADER, cad_rows)
    return {"files": len(files), "permit_rows": permit_rows, "property_rows": len(cad_rows),
            "days": days, "start_date": demo.start_date, "end_date": end_date}


def set_partition_start(config: Path, start: date) -> None:
    """Make `[partitions] start_date` in leads.toml the demo's first day, so the day partitions
    begin where the demo data does (the UI then shows them all filled, none missing).

    Edits that one value in place, so the file's comments and layout stay as they were.
    """
    text = Path(config).read_text()
    value = f'start_date = "{start.isoformat()}"'
    section = re.search(r"(?ms)^\[partitions\][^\n]*\n(.*?)(?=^\[|\Z)", text)
    if section is None:
        text = text.rstrip("\n") + f"\n\n[partitions]\n{value}\n"
    elif re.search(r"(?m)^start_date\s*=.*$", section.group(1)):
        body = re.sub(r'(?m)^start_date\s*=\s*("[^"]*"|\S+)', value, section.group(1), count=1)
        text = text[:section.start(1)] + body + text[section.end(1):]
    else:
        text = text[:section.start(1)] + value + "\n" + text[section.start(1):]
    if str(tomllib.loads(text)["partitions"]["start_date"]) != start.isoformat():
        raise ValueError(f"{config}: could not set [partitions] start_date")
    Path(config).write_text(text)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Write the demo permit landing files and CAD records.")
    ap.add_argument("--out", type=Path, default=Path("data"), help="root directory (default: data)")
    ap.add_argument("--end-date", required=True, type=lambda s: datetime.strptime(s, "%Y-%m-%d").date(),
                    help="last issued day, YYYY-MM-DD (normally yesterday)")
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument("--seed", type=int, default=20261128)
    args = ap.parse_args(argv)
    counts = generate_demo(args.out, args.end_date, args.days, args.seed)
    print(json.dumps(counts, default=str))


if __name__ == "__main__":
    main()
