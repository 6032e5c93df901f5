"""The demo data generator: determinism, file layout, schemas, content and noise."""
from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from lead_assets.demo.feeds import generate_demo

END = date(2026, 11, 27)
DAYS = 28
START = END - timedelta(days=DAYS - 1)

SOCRATA = [
    "PermitNum", "PermitType", "WorkClass", "Description", "AppliedDate", "IssuedDate",
    "OriginalAddress1", "OriginalCity", "OriginalState", "OriginalZip", "EstProjectCost",
    "ApplicantName", "ContractorCompanyName", "StatusCurrent",
]
FRISCO = [
    "Permit Number", "Permit Type", "Sub Type", "Work Description", "Date Applied", "Date Issued",
    "Site Address", "Zip", "Valuation", "Applicant", "Contractor",
]
PROSPER = ["permit_no", "type", "work_class", "description", "issued", "applied", "address", "zip",
           "value", "applicant", "contractor"]
CAD = ["prop_id", "situs_address", "situs_city", "situs_zip", "owner_name", "mail_address", "mail_city",
       "mail_state", "mail_zip", "market_value", "homestead"]
EXT = {"plano": "csv", "allen": "csv", "mckinney": "csv", "frisco": "csv", "prosper": "json"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    counts = generate_demo(root, END, DAYS)
    return root, counts


def _decode(raw: bytes) -> tuple[str, bool]:
    try:
        return raw.decode("utf-8"), True
    except UnicodeDecodeError:
        return raw.decode("cp1252"), False


def _rows(root: Path):
    """Every landing row as (city, file day, canonical dict), plus the raw header of each file."""
    out, headers = [], {}
    for city, ext in EXT.items():
        for f in sorted((root / "landing" / city).glob(f"*.{ext}")):
            day = datetime.strptime(f.stem.rsplit("_", 1)[1], "%Y-%m-%d").date()
            text, _ = _decode(f.read_bytes())
            if ext == "json":
                objs = json.loads(text)
                headers[f.name] = [list(o) for o in objs]
                for o in objs:
                    out.append((city, day, {
                        "num": o["permit_no"], "desc": o["description"], "issued": o["issued"],
                        "addr": o["address"], "value": o["value"], "applicant": o["applicant"],
                        "contractor": o["contractor"], "raw": json.dumps(o, sort_keys=True)}))
                continue
            reader = csv.reader(io.StringIO(text, newline=""))
            header = next(reader)
            headers[f.name] = header
            for rec in reader:
                r = dict(zip(header, rec))
                if city == "frisco":
                    c = {"num": r["Permit Number"], "desc": r["Work Description"], "issued": r["Date Issued"],
                         "addr": r["Site Address"], "value": r["Valuation"], "applicant": r["Applicant"],
                         "contractor": r["Contractor"]}
                else:
                    c = {"num": r["PermitNum"], "desc": r["Description"], "issued": r["IssuedDate"],
                         "addr": r["OriginalAddress1"], "value": r["EstProjectCost"],
                         "applicant": r["ApplicantName"], "contractor": r["ContractorCompanyName"]}
                c["raw"] = "\x1f".join(rec)
                out.append((city, day, c))
    return out, headers


@pytest.fixture(scope="module")
def rows(demo):
    return _rows(demo[0])


def _issued(city: str, s: str) -> date | None:
    fmt = {"frisco": "%Y-%m-%d", "prosper": "%Y-%m-%dT%H:%M:%S"}.get(city, "%m/%d/%Y")
    try:
        return datetime.strptime(s, fmt).date()
    except (TypeError, ValueError):
        return None


# ---- determinism and counts -----------------------------------------------------------------


def test_same_arguments_give_identical_bytes(demo, tmp_path):
    root, counts = demo
    again = generate_demo(tmp_path, END, DAYS)
    assert again == counts
    files = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    for rel in files:
        assert (root / rel).read_bytes() == (tmp_path / rel).read_bytes(), rel


def test_another_seed_gives_other_data(demo, tmp_path):
    generate_demo(tmp_path, END, 2, seed=7)
    a = (demo[0] / "landing/plano/plano_permits_2026-11-27.csv").read_bytes()
    b = (tmp_path / "landing/plano/plano_permits_2026-11-27.csv").read_bytes()
    assert a != b


def test_counts(demo, rows):
    root, counts = demo
    assert counts["days"] == DAYS and counts["start_date"] == START and counts["end_date"] == END
    assert counts["files"] == 5 * DAYS
    assert counts["permit_rows"] == len(rows[0])
    assert 6000 <= counts["permit_rows"] <= 8000          # ~250 a day
    with open(root / "cad/collin_cad_properties.csv", encoding="utf-8", newline="") as fh:
        assert counts["property_rows"] == sum(1 for _ in csv.reader(fh)) - 1
    assert 2000 <= counts["property_rows"] <= 8000
    per_city = Counter(city for city, _, _ in rows[0])
    assert per_city["plano"] == max(per_city.values())
    assert per_city["prosper"] == min(per_city.values())


def test_short_span_still_has_every_file(tmp_path):
    counts = generate_demo(tmp_path, date(2027, 1, 2), days=1)
    assert counts["files"] == 5 and counts["start_date"] == date(2027, 1, 2)
    for city, ext in EXT.items():
        assert (tmp_path / "landing" / city / f"{city}_permits_2027-01-02.{ext}").exists()
    with pytest.raises(ValueError):
        generate_demo(tmp_path, date(2027, 1, 2), days=0)


# ---- layout and schemas ---------------------------------------------------------------------


def test_file_names_cover_the_span(demo):
    root, _ = demo
    want_days = [(START + timedelta(days=i)).isoformat() for i in range(DAYS)]
    for city, ext in EXT.items():
        names = sorted(p.name for p in (root / "landing" / city).iterdir())
        assert names == [f"{city}_permits_{d}.{ext}" for d in want_days]
    assert sorted(p.name for p in (root / "landing").iterdir()) == sorted(EXT)
    assert [p.name for p in (root / "cad").iterdir()] == ["collin_cad_properties.csv"]


def test_headers_and_keys(demo, rows):
    root, _ = demo
    _, headers = rows
    for name, header in headers.items():
        if name.startswith("prosper"):
            assert header and all(keys == PROSPER for keys in header), name
        elif name.startswith("frisco"):
            assert header == FRISCO, name
        else:
            assert header == SOCRATA, name
    with open(root / "cad/collin_cad_properties.csv", encoding="utf-8", newline="") as fh:
        assert next(csv.reader(fh)) == CAD


def test_issued_dates_in_span_and_formats(rows):
    bad = []
    for city, day, r in rows[0]:
        d = _issued(city, r["issued"])
        if d is None:
            bad.append(r["issued"])
            continue
        assert START <= d <= END
        assert (day - d).days in (0, 1)                # a row of its own day or yesterday's repeat
    assert 2 <= len(bad) <= 6
    assert {"TBD", "13/45/2026"} <= set(bad)
    # the other schema fields look like their source
    for city, _, r in rows[0][:500]:
        if city == "prosper":
            assert r["value"] is None or isinstance(r["value"], (int, float))
        elif city == "frisco" and r["value"] not in ("", "N/A", "call for price"):
            assert re.fullmatch(r"\$\d{1,3}(,\d{3})*\.\d\d", r["value"]), r["value"]


def test_permit_numbers_identify_one_row(rows):
    seen: dict[tuple[str, str], str] = {}
    for city, _, r in rows[0]:
        key = (city, r["num"])
        assert seen.setdefault(key, r["raw"]) == r["raw"], key
    assert all(re.fullmatch(r"[BMEPS]P-\d\d-\d{6}", n) for c, n in seen if c == "plano")


# ---- content --------------------------------------------------------------------------------

CATEGORY_WORDS = {
    "pool": [r"gunite", r"fiberglass pool", r"replaster", r"pool (and|&) spa", r"swimming pool"],
    "outdoor_living": [r"patio cover", r"pergola", r"outdoor kitchen", r"covered patio", r"\bdeck\b"],
    "fence": [r"cedar fence", r"wrought iron fence", r"retaining wall", r"\bfence\b"],
    "roof": [r"re-?roof", r"hail", r"shingles", r"metal roof"],
    "concrete": [r"driveway", r"flatwork", r"sidewalk"],
    "siding": [r"hardie", r"siding"],
    "windows": [r"window"],
    "hvac": [r"hvac", r"\bton\b", r"furnace", r"mini split", r"changeout"],
    "plumbing": [r"water heater", r"repipe", r"gas line", r"sewer line"],
    "electrical": [r"panel upgrade", r"200 ?a(mp)?\b", r"ev charger", r"generator", r"electrical panel"],
    "solar": [r"solar"],
    "foundation": [r"foundation", r"pier and beam", r"slab leveling"],
    "new_construction": [r"new custom", r"custom home", r"new 2-story residence", r"custom sfr"],
    "remodel": [r"kitchen remodel", r"bath(room)? remodel", r"interior remodel"],
    "addition": [r"room addition", r"second-story addition", r"garage conversion", r"conditioned space addition"],
    "commercial_pool": [r"apartment complex pool", r"amenity center pool", r"apartment pool"],
    "commercial_hvac": [r"rooftop unit", r"\brtus?\b"],
    "commercial_electrical": [r"tenant electrical", r"service upgrade at office", r"parking lot lighting"],
    "commercial_plumbing": [r"grease (trap|interceptor)", r"commercial restroom plumbing"],
    "commercial_other": [r"tenant finish-out", r"finish out", r"shell building"],
    "builder_sfr": [r"new sfr", r"new single family residence"],
    "demolition": [r"demo existing pool", r"demolish", r"demolition"],
    "sign": [r"monument sign", r"wall sign", r"channel letters"],
    "temp_power": [r"temp pole", r"temporary electric", r"temp power", r"temporary power"],
}
TRICKY = [
    "conditioned space addition", "new 2-story residence with covered patio and pool bath",
    "partial demo for room addition", "solar pv panels roof mounted", "replace electrical panel",
]


def test_every_category_appears(rows):
    descs = [r["desc"].lower() for _, _, r in rows[0] if r["desc"]]
    for cat, words in CATEGORY_WORDS.items():
        pattern = re.compile("|".join(words))
        hits = sum(1 for d in descs if pattern.search(d))
        assert hits >= 5, (cat, hits)
        # several phrasings, not one string repeated
        assert len({d for d in descs if pattern.search(d)}) >= 3, cat
    for text in TRICKY:
        assert any(text in d for d in descs), text
    vague = Counter(d.strip().lower() for _, _, r in rows[0] for d in [r["desc"] or ""])
    assert sum(vague[v] for v in ("", "misc", "see plans", "repair per inspection", "residential")) >= 20


def test_noise(rows):
    rs = rows[0]
    n = len(rs)
    # the same row twice in one file
    per_file = Counter((city, day, r["raw"]) for city, day, r in rs)
    dup_in_file = sum(c - 1 for c in per_file.values() if c > 1)
    assert DAYS <= dup_in_file <= n * 0.03
    # the same row again in the next day's file
    by_raw: dict[tuple[str, str], set] = {}
    for city, day, r in rs:
        by_raw.setdefault((city, r["raw"]), set()).add(day)
    repeated = [days for days in by_raw.values() if len(days) > 1]
    assert len(repeated) >= 10
    assert all(max(d) - min(d) == timedelta(days=1) for d in repeated)
    # production builders
    builders = ("Lennar Homes of Texas", "D.R. Horton - Texas, Ltd", "Highland Homes", "Pulte Homes of Texas",
                "Perry Homes", "Toll Brothers")
    by_builder = sum(1 for _, _, r in rs if r["contractor"] in builders or r["applicant"] in builders)
    assert 0.02 * n <= by_builder <= 0.12 * n
    assert any(re.search(r"plan \d+.*lot \d+", r["desc"].lower()) for _, _, r in rs)
    # blank valuations, blank contacts, homeowner permits
    blank_value = sum(1 for _, _, r in rs if r["value"] in (None, "", "N/A"))
    assert 0.02 * n <= blank_value <= 0.10 * n
    assert sum(1 for _, _, r in rs if not r["contractor"]) >= 0.02 * n
    assert sum(1 for _, _, r in rs if not r["applicant"]) >= 0.01 * n
    assert sum(1 for _, _, r in rs if r["contractor"] in ("HOMEOWNER", "Owner")) >= 20
    # malformed values and formula-looking contacts
    values = {r["value"] for _, _, r in rs}
    assert {"12,5OO", "call for price"} <= values
    contacts = {r["applicant"] for _, _, r in rs} | {r["contractor"] for _, _, r in rs}
    assert {'=HYPERLINK("http://x","click")', "+1 972 555 0100", "@SUM(A1)"} <= contacts
    # one ~100 KB description
    long = [len(r["desc"]) for _, _, r in rs if len(r["desc"] or "") > 5000]
    assert len(long) == 1 and 95_000 <= long[0] <= 110_000
    # non-ASCII descriptions
    assert sum(1 for _, _, r in rs if any(ord(ch) > 127 for ch in r["desc"] or "")) >= 5


def test_exactly_one_cp1252_frisco_file(demo):
    root, _ = demo
    bad = []
    for f in sorted((root / "landing").rglob("*.*")):
        text, utf8 = _decode(f.read_bytes())
        if not utf8:
            bad.append(f)
            assert any(ord(ch) > 127 for ch in text)
    assert len(bad) == 1 and bad[0].parent.name == "frisco"
    assert (root / "cad/collin_cad_properties.csv").read_bytes().decode("utf-8")


# ---- CAD ------------------------------------------------------------------------------------

WORDS = {
    "DRIVE": "DR", "LANE": "LN", "COURT": "CT", "STREET": "ST", "ROAD": "RD", "TRAIL": "TRL",
    "CIRCLE": "CIR", "BOULEVARD": "BLVD", "PARKWAY": "PKWY", "PLACE": "PL", "AVENUE": "AVE",
    "COVE": "CV", "CROSSING": "XING", "TERRACE": "TER", "EXPRESSWAY": "EXPY",
    "NORTH": "N", "SOUTH": "S", "EAST": "E", "WEST": "W",
    "UNIT": "#", "APT": "#", "STE": "#", "SUITE": "#",
}


def _norm(address: str) -> str:
    s = re.sub(r"[^A-Z0-9# ]+", " ", address.upper().replace("#", " # "))
    return " ".join(WORDS.get(w, w) for w in s.split())


@pytest.fixture(scope="module")
def cad(demo):
    with open(demo[0] / "cad/collin_cad_properties.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_about_ninety_percent_of_addresses_match_cad(rows, cad):
    situs = {(r["situs_city"], _norm(r["situs_address"])) for r in cad}
    addresses = {(city.upper(), _norm(r["addr"])) for city, _, r in rows[0]}
    share = sum(1 for a in addresses if a in situs) / len(addresses)
    assert 0.85 <= share <= 0.95, share
    # permits write addresses in mixed styles, the CAD in one
    raw = [r["addr"] for _, _, r in rows[0]]
    assert any(re.search(r"\bDrive\b", a) for a in raw) and any(re.search(r"\bDr\b", a) for a in raw)
    assert any(a == a.lower() for a in raw) and any(a == a.upper() for a in raw)
    assert all(r["situs_address"] == r["situs_address"].upper() for r in cad)
    # some properties have several permits
    per_address = Counter((city.upper(), _norm(r["addr"])) for city, _, r in rows[0])
    assert sum(1 for a, c in per_address.items() if c > 1 and a in situs) >= 300


def test_cad_records(cad):
    assert {r["situs_city"] for r in cad} == {"PLANO", "FRISCO", "MCKINNEY", "ALLEN", "PROSPER"}
    keys = [(r["situs_city"], r["situs_address"]) for r in cad]
    assert len(set(keys)) == len(keys)
    assert len({r["prop_id"] for r in cad}) == len(cad)
    n = len(cad)
    with_mail = [r for r in cad if r["mail_address"]]
    absentee = [r for r in with_mail if r["mail_address"] != r["situs_address"]]
    assert 0.12 <= len(absentee) / n <= 0.30
    assert any(r["mail_state"] not in ("TX", "") for r in cad)
    assert all(r["homestead"] == "N" for r in absentee)
    assert 0.8 <= sum(1 for r in cad if r["homestead"] == "Y") / (n - len(absentee)) <= 1.0
    assert 0 < n - len(with_mail) <= 0.03 * n
    values = [int(r["market_value"]) for r in cad if r["market_value"]]
    assert 0 < n - len(values) <= 0.03 * n
    assert min(values) >= 180_000
    owners = [r["owner_name"] for r in cad]
    assert any(re.fullmatch(r"[A-Z' -]+, [A-Z]+ & [A-Z]+", o) for o in owners)
    assert sum(1 for o in owners if "TRUST" in o) >= 0.02 * n
    assert sum(1 for o in owners if o.endswith(("LLC", "LP", "LTD", "INC"))) >= 0.04 * n
    assert 0 < sum(1 for o in owners if not o) <= 0.02 * n
    assert sum(1 for o in owners if o[:1] in "=+-@" and o) == 1
    # residential homes stay in range; commercial centers with LLC owners are worth more
    assert sum(1 for v in values if v > 2_500_000) >= 50
