"""The demo generator: one random stream draws properties, then each day's permits with their noise.

Long (about 500 lines) because `DemoGenerator` is one sequence of draws from one `random.Random`; split
across modules, the order of draws that makes the output byte-identical would be harder to see.
"""
from __future__ import annotations

import math
import random
from datetime import date, timedelta

from lead_assets.demo.categories import (
    BUILDER_CAT, CATEGORIES, HOMEOWNER_OK, PERMIT_GROUP, PROJECT_CATEGORIES, PROJECT_CITIES,
)
from lead_assets.demo.people import (
    ACCENTED_NAMES, APARTMENT_NAMES, BUILDER_CAD_OWNER, COM_OWNER_WORDS, CONTRACTORS,
    CUSTOM_BUILDERS, EXPEDITORS, FIRST_NAMES, LAST_NAMES, OTHER_TX, OUT_OF_STATE,
    PRODUCTION_BUILDERS, RES_LLC_OWNERS, TENANTS,
)
from lead_assets.demo.places import CITIES, CITY_CFG, DIR_FULL, NEW_STREET_NAMES, RES_SUFFIXES, SUFFIX_FULL

# Rates of the row-level noise (probabilities per permit row unless noted).
NOISE: dict[str, float] = {
    "missing_valuation": 0.05,      # blank (CSV) / null (JSON); 15% of the CSV blanks say "N/A"
    "missing_applicant": 0.02,
    "missing_contractor": 0.03,
    "homeowner": 0.05,              # of residential rows of owner-doable work
    "dup_in_file": 0.010,           # row written twice in the same file
    "repeat_next_day": 0.005,       # row written again, identical, in the next day's file
    "unmatched_address": 0.025,     # residential rows at a typo'd / brand-new address
    "builder_lot_in_cad": 0.65,     # share of production-builder lots the CAD already lists
    "non_ascii_description": 0.004,
    "zip_plus4": 0.03,
    "commercial_suite": 0.15,      # commercial rows with a suite the CAD situs lacks
    "upper_description": 0.22,
    "lower_description": 0.04,
}

# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def _log_uniform(rng: random.Random, lo: float, hi: float) -> float:
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def _slots(rng: random.Random) -> dict[str, object]:
    dims = (10, 12, 14, 16, 18, 20, 24, 30)
    return {
        "sqft_s": rng.choice((180, 240, 320, 400, 450, 520, 600, 750, 900)),
        "sqft_l": rng.randrange(2800, 7800, 50),
        "sqft_c": rng.randrange(6000, 42000, 500),
        "pl": rng.choice((14, 15, 16, 18, 20)), "pw": rng.choice((28, 30, 32, 36, 40)),
        "dim": f"{rng.choice(dims)}x{rng.choice(dims)}",
        "lf": rng.randrange(40, 320, 5), "ht": rng.choice((6, 6, 8, 4)),
        "sq": rng.randrange(18, 65), "n": rng.randrange(2, 16), "n2": rng.randrange(6, 28),
        "ton": rng.choice((2, 2.5, 3, 3.5, 4, 4, 5)), "ton_c": rng.choice((7.5, 10, 12.5, 15, 20, 25)),
        "seer": rng.choice((14, 15, 16, 17, 18, 20)), "btu": rng.choice((60, 80, 100, 120)),
        "gal": rng.choice((40, 50, 50, 75)), "gkw": rng.choice((14, 18, 22, 24, 26)),
        "kw": rng.choice(("5.6", "6.4", "7.2", "8.2", "9.6", "10.8", "12.4", "14.0")),
        "tenant": rng.choice(TENANTS), "apt": rng.choice(APARTMENT_NAMES),
        "suite": rng.choice((100, 110, 120, 150, 200, 210, 300, 400, 500)),
        "plan": rng.choice((1850, 2130, 2450, 2680, 2975, 3155, 3380, 3620, 4015, 4410)),
        "elev": rng.choice("ABCD"), "ph": rng.choice((1, 2, 2, 3, 4)),
        "lot": 0, "blk": "A", "sub": "",
    }


def _person(rng: random.Random) -> tuple[str, str]:
    return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)


def cad_situs(p: dict) -> str:
    parts = [str(p["num"])]
    if p["predir"]:
        parts.append(p["predir"])
    parts += [p["street"].upper(), p["suffix"]]
    if p["unit"]:
        parts += ["UNIT", str(p["unit"])]
    return " ".join(parts)


def _render_street(rng: random.Random, num, predir: str, street: str, suffix: str, unit, suite=None) -> str:
    """A permit-clerk rendering of an address: mixed suffix/direction styles and case."""
    r = rng.random()
    suf = SUFFIX_FULL[suffix] if r < 0.45 else (suffix.title() if r < 0.85 else suffix + ".")
    parts = [str(num)]
    if predir:
        r = rng.random()
        parts.append(DIR_FULL[predir] if r < 0.4 else (predir + "." if r < 0.5 else predir))
    parts += [street, suf]
    if unit:
        parts.append(rng.choice(("Unit {}", "Unit {}", "UNIT {}", "#{}", "# {}")).format(unit))
    if suite:
        parts.append(rng.choice(("Ste {}", "Suite {}", "STE {}", "#{}")).format(suite))
    text = " ".join(parts)
    r = rng.random()
    if r < 0.35:
        text = text.upper()
    elif r < 0.43:
        text = text.lower()
    else:
        text = " ".join(w if w[:1].isdigit() or w.startswith("#") else w[:1].upper() + w[1:] for w in text.split(" "))
    r = rng.random()
    if r < 0.03:
        text = text.replace(" ", "  ", 1)
    elif r < 0.06:
        text += " "
    return text


def _natural_name(p: dict) -> str:
    return f"{p['first']} {p['last']}"


# --------------------------------------------------------------------------------------
# the generator
# --------------------------------------------------------------------------------------


class DemoGenerator:
    def __init__(self, end_date: date, days: int, seed: int):
        if days < 1:
            raise ValueError("days must be >= 1")
        self.rng = random.Random(seed)
        self.end_date = end_date
        self.days = days
        self.start_date = end_date - timedelta(days=days - 1)
        self.props: list[dict] = []                 # CAD records, in creation order
        self.by_city: dict[str, dict[str, list[dict]]] = {}
        self.cad_keys: dict[str, set[str]] = {c: set() for c in CITIES}
        self.lots: dict[str, list[dict]] = {c: [] for c in CITIES}
        self.lot_streets: dict[str, list[list]] = {}
        self.unmatched_seq = 0
        # Trade permits of multi-permit projects come from their own generator, so adding them
        # leaves every other demo permit exactly as it was.
        self.sib_rng = random.Random(seed + 11)
        self.seq = {c: 1000 + self.start_date.timetuple().tm_yday * 31 + i * 517 for i, c in enumerate(CITIES)}
        self._make_properties()

    # ---- CAD ---------------------------------------------------------------------------

    def _owner(self, kind: str) -> dict:
        rng = self.rng
        first, last = _person(rng)
        o = {"first": first, "last": last, "type": "person"}
        r = rng.random()
        if kind == "res":
            if r < 0.055:
                o["type"], o["owner"] = "trust", rng.choice((
                    f"{last.upper()} FAMILY TRUST", f"{last.upper()} FAMILY LIVING TRUST",
                    f"{last.upper()} REVOCABLE TRUST", f"{first.upper()} {last.upper()} TRUST"))
            elif r < 0.10:
                o["type"] = "llc"
                o["owner"] = rng.choice(RES_LLC_OWNERS) if rng.random() < 0.6 else rng.choice((
                    f"{last.upper()} INVESTMENTS LLC", f"{rng.choice(COM_OWNER_WORDS)} RIDGE HOLDINGS LLC",
                    f"{last.upper()} PROPERTIES LLC"))
            elif r < 0.105:
                o["type"], o["owner"] = "blank", ""
            else:
                f2, _ = _person(rng)
                r2 = rng.random()
                if r2 < 0.42:
                    o["owner"] = f"{last.upper()}, {first.upper()} & {f2.upper()}"
                elif r2 < 0.80:
                    o["owner"] = f"{last.upper()}, {first.upper()}"
                elif r2 < 0.92:
                    o["owner"] = f"{last.upper()} {first.upper()} {rng.choice('ABCDEJKLMRST')}"
                else:
                    l2 = rng.choice(LAST_NAMES)
                    o["owner"] = f"{last.upper()}, {first.upper()} & {l2.upper()}, {f2.upper()}"
        return o

    def _mailing(self, p: dict, absentee: bool) -> None:
        rng = self.rng
        if not absentee:
            p.update(mail_address=cad_situs(p), mail_city=p["cad_city"], mail_state="TX", mail_zip=p["zip"])
            return
        street = rng.choice(("MAIN ST", "COMMERCE ST", "ELM ST", "OAK LAWN AVE", "MARKET ST", "CONGRESS AVE",
                             "PEACHTREE RD", "BROADWAY", "LAKE SHORE DR", "SPRING VALLEY RD"))
        addr = (f"PO BOX {rng.randrange(100, 99999)}" if rng.random() < 0.25
                else f"{rng.randrange(100, 19999)} {street}" + (f" STE {rng.randrange(100, 900)}" if rng.random() < 0.3 else ""))
        if rng.random() < 0.55:
            city, zip_ = rng.choice(OTHER_TX)
            state = "TX"
        else:
            city, state, zip_ = rng.choice(OUT_OF_STATE)
        p.update(mail_address=addr, mail_city=city, mail_state=state, mail_zip=zip_)

    def _new_prop(self, city: str, kind: str, num, predir, street, suffix, unit=None, **extra) -> dict:
        p = {"city": city, "cad_city": city.upper(), "kind": kind, "num": num, "predir": predir,
             "street": street, "suffix": suffix, "unit": unit, **extra}
        self.cad_keys[city].add(cad_situs(p))
        self.props.append(p)
        return p

    def _make_properties(self) -> None:
        rng = self.rng
        for city in CITIES:
            cfg = CITY_CFG[city]
            streets = []
            for name in cfg["streets"]:
                for _ in range(rng.choice((2, 3, 3, 4))):
                    cand = (rng.choice(("", "", "", "", "", "", "N", "S", "E", "W")), name, rng.choice(RES_SUFFIXES))
                    if cand not in streets:
                        streets.append(cand)
            zip_of = {s: rng.choice(cfg["zips"]) for s in streets}
            res = []
            while len(res) < cfg["res"]:
                predir, name, suf = rng.choice(streets)
                num = rng.randrange(100, 9999)
                unit = rng.randrange(1, 25) if rng.random() < 0.02 else None
                if cad_situs({"num": num, "predir": predir, "street": name, "suffix": suf, "unit": unit}) in self.cad_keys[city]:
                    continue
                p = self._new_prop(city, "res", num, predir, name, suf, unit, zip=zip_of[(predir, name, suf)])
                o = self._owner("res")
                p.update(o)
                # value: lognormal-ish around ~520k, clipped to the spec range
                p["value"] = int(min(2500000, max(180000, rng.lognormvariate(math.log(520000), 0.42))) // 10 * 10)
                absentee = (o["type"] == "llc") or rng.random() < 0.145
                self._mailing(p, absentee)
                p["homestead"] = "N" if absentee or o["type"] == "llc" else ("Y" if rng.random() < 0.93 else "N")
                res.append(p)
            # a few arterials with condo units (e.g. "812 W PARKER RD UNIT 4")
            com = []
            com_kinds = ("retail", "retail", "retail", "office", "office", "restaurant", "restaurant", "apartment", "hoa")
            while len(com) < cfg["com"]:
                predir, name, suf = rng.choice(cfg["arterials"])
                num = rng.randrange(1000, 8999, 1 if rng.random() < 0.3 else 10)
                p0 = {"num": num, "predir": predir, "street": name, "suffix": suf, "unit": None}
                if cad_situs(p0) in self.cad_keys[city]:
                    continue
                # every city has at least one of each kind
                kind = ("retail", "office", "restaurant", "apartment", "hoa")[len(com)] if len(com) < 5 else rng.choice(com_kinds)
                p = self._new_prop(city, kind, num, predir, name, suf, None, zip=rng.choice(cfg["zips"]))
                word = rng.choice(COM_OWNER_WORDS)
                owner = {
                    "retail": f"{word} {rng.choice(('VILLAGE', 'CROSSING', 'MARKETPLACE', 'PLAZA'))} RETAIL LLC",
                    "office": f"{word} OFFICE PARTNERS {rng.choice(('LLC', 'LP'))}",
                    "restaurant": f"{word} PAD SITES LLC",
                    "apartment": f"{rng.choice(APARTMENT_NAMES).upper()} APARTMENTS LP",
                    "hoa": f"{rng.choice(cfg['subdivisions']).upper()} HOMEOWNERS ASSOCIATION INC",
                }[kind]
                p.update(first="", last="", type="llc", owner=owner,
                         value=rng.randrange(2600000, 48000000, 1000) if kind != "hoa" else rng.randrange(900000, 4500000, 1000))
                self._mailing(p, True)
                p["homestead"] = "N"
                com.append(p)
            # condo units on the first arterial
            predir, name, suf = cfg["arterials"][0]
            base = rng.randrange(700, 2900, 2)
            for u in range(1, rng.randrange(8, 16)):
                p = self._new_prop(city, "res", base, predir, name, suf, u, zip=cfg["zips"][0])
                p.update(self._owner("res"))
                p["value"] = rng.randrange(180000, 340000, 100)
                absentee = p["type"] == "llc" or rng.random() < 0.3
                self._mailing(p, absentee)
                p["homestead"] = "N" if absentee else "Y"
                res.append(p)
            # expensive homes first for draws that skew high
            res_sorted = sorted(res, key=lambda q: (q["value"], q["num"], q["street"]))
            kinds: dict[str, list[dict]] = {"res": res, "res_sorted": res_sorted}
            for p in com:
                kinds.setdefault(p["kind"], []).append(p)
            self.by_city[city] = kinds
            self.lot_streets[city] = [
                [sub, (rng.choice(NEW_STREET_NAMES), rng.choice(("DR", "LN", "TRL", "WAY", "CT"))), rng.randrange(100, 1500, 100), 0]
                for sub in cfg["subdivisions"] for _ in range(3)
            ]

    def _new_lot(self, city: str, builder: str | None, allow_cad: bool = True) -> dict:
        """A production-builder lot on a new subdivision street (often not yet in the CAD)."""
        rng = self.rng
        cfg = CITY_CFG[city]
        while True:
            st = rng.choice(self.lot_streets[city])
            sub, (name, suf), base, k = st
            st[3] += 1
            num = base + 4 * st[3] + rng.choice((0, 0, 2))
            p0 = {"num": num, "predir": "", "street": name, "suffix": suf, "unit": None}
            if cad_situs(p0) not in self.cad_keys[city]:
                break
        lot = {"city": city, "cad_city": city.upper(), "kind": "lot", "num": num, "predir": "", "street": name,
               "suffix": suf, "unit": None, "zip": rng.choice(cfg["zips"]), "sub": sub,
               "lot": rng.randrange(1, 60), "blk": rng.choice("ABCDEFGHJK"), "first": "", "last": "",
               "type": "llc", "builder": builder}
        if allow_cad and rng.random() < NOISE["builder_lot_in_cad"]:
            b = builder or rng.choice(PRODUCTION_BUILDERS)
            lot.update(owner=BUILDER_CAD_OWNER[b], value=rng.randrange(180000, 260000, 500), homestead="N",
                       mail_address=f"{rng.randrange(1000, 9999)} {rng.choice(('STATE HIGHWAY 121', 'DALLAS PKWY', 'LEGACY DR'))} STE {rng.randrange(100, 600)}",
                       mail_city=rng.choice(("PLANO", "FRISCO", "DALLAS", "IRVING")), mail_state="TX", mail_zip="75024")
            self.cad_keys[city].add(cad_situs(lot))
            self.props.append(lot)
        else:
            self.cad_keys[city].add(cad_situs(lot))   # reserve the address (not written to the CAD)
        self.lots[city].append(lot)
        return lot

    def _unmatched(self, city: str) -> dict:
        """A residential address the CAD does not know: a typo of a real one or a brand-new lot."""
        rng = self.rng
        for _ in range(50):
            p = dict(rng.choice(self.by_city[city]["res"]))
            mode = rng.random()
            if mode < 0.35:
                s = str(p["num"])
                if len(s) > 1 and s[0] != s[1] and s[1] != "0":
                    p["num"] = s[1] + s[0] + s[2:]
                else:
                    p["num"] = int(s) + rng.choice((1, 3, 11))
            elif mode < 0.70:
                name = p["street"]
                i = rng.randrange(1, len(name) - 1)
                if name[i] == " " or name[i - 1] == " ":
                    continue
                p["street"] = name[:i] + name[i + 1:] if rng.random() < 0.5 else name[:i] + name[i] + name[i:]
            elif mode < 0.85:
                p["suffix"] = rng.choice([s for s in ("DR", "LN", "CT", "ST", "TRL") if s != p["suffix"]])
            else:
                return self._new_lot(city, None, allow_cad=False)
            if cad_situs(p) not in self.cad_keys[city]:
                p["kind"] = "unmatched"
                return p
        return self._new_lot(city, None, allow_cad=False)

    def _pick_property(self, city: str, kind: str, cat_name: str, builder: str | None) -> dict:
        rng = self.rng
        k = self.by_city[city]
        if kind == "lot":
            lots = [l for l in self.lots[city][-40:] if l.get("builder")]
            if builder is None and lots and rng.random() < 0.7:
                return rng.choice(lots)         # temp power on a lot a builder is working on
            return self._new_lot(city, builder)
        if kind.startswith("com:"):
            pool = [p for kk in kind[4:].split(",") for p in k.get(kk, [])]
            return rng.choice(pool)
        if rng.random() < NOISE["unmatched_address"]:
            return self._unmatched(city)
        if kind == "res_hi":
            s = k["res_sorted"]
            return s[min(len(s) - 1, int(len(s) * rng.random() ** 0.45))]
        return rng.choice(k["res"])

    # ---- permits -----------------------------------------------------------------------

    def _permit(self, city: str, day: date, cat_name: str) -> dict:
        rng = self.rng
        cat = BUILDER_CAT if cat_name == "builder" else CATEGORIES[cat_name]
        builder = rng.choice(PRODUCTION_BUILDERS) if cat_name == "builder" else None
        prop = self._pick_property(city, cat["kind"], cat_name, builder)
        ptype, wclass = rng.choice(cat["types"])
        slots = _slots(rng)
        if prop["kind"] == "lot":
            slots.update(lot=prop["lot"], blk=prop["blk"], sub=prop["sub"])
        desc = rng.choice(cat["descs"]).format(**slots)
        r = rng.random()
        if r < NOISE["upper_description"]:
            desc = desc.upper()
        elif r < NOISE["upper_description"] + NOISE["lower_description"]:
            desc = desc.lower()
        if desc and rng.random() < NOISE["non_ascii_description"]:
            desc = f"{rng.choice(ACCENTED_NAMES)} residence – {desc}"

        # who pulled it
        trade = cat["trade"]
        homeowner = (cat_name in HOMEOWNER_OK and prop.get("type") in ("person", "trust", None)
                     and rng.random() < NOISE["homeowner"])
        if homeowner:
            if prop.get("first"):
                applicant = prop["owner"] if prop.get("owner") and rng.random() < 0.5 else _natural_name(prop)
            else:
                applicant = " ".join(_person(rng))
            contractor = rng.choice(("", "", "HOMEOWNER", "Owner", "HOMEOWNER"))
        else:
            if trade == "builder":
                contractor = builder
            elif trade == "custom":
                contractor = rng.choice(CUSTOM_BUILDERS)
            elif trade == "companion":
                contractor = rng.choice(CONTRACTORS[{"Residential Electrical": "electrical",
                                                     "Residential Plumbing": "plumbing",
                                                     "Residential Mechanical": "hvac"}[ptype]])
            else:
                contractor = rng.choice(CONTRACTORS[trade])
            r = rng.random()
            applicant = contractor if r < 0.55 else (" ".join(_person(rng)) if r < 0.9 else rng.choice(EXPEDITORS))
            if rng.random() < NOISE["missing_contractor"]:
                contractor = ""
        if rng.random() < NOISE["missing_applicant"]:
            applicant = ""

        value = None if rng.random() < NOISE["missing_valuation"] else _log_uniform(rng, *cat["val"])
        if value is not None:
            r = rng.random()
            value = round(value, -2) if r < 0.6 else (float(round(value)) if r < 0.85 else round(value, 2))
        lag = rng.randint(*cat["lag"])
        applied = day - timedelta(days=lag)
        self.seq[city] += 1
        suite = None
        if prop["kind"] not in ("res", "unmatched", "lot") and rng.random() < NOISE["commercial_suite"]:
            suite = slots["suite"]
        zip_ = prop["zip"]
        if rng.random() < NOISE["zip_plus4"]:
            zip_ = f"{zip_}-{rng.randrange(1000, 9999)}"
        return {
            "city": city, "seq": self.seq[city], "ptype": ptype, "wclass": wclass, "desc": desc,
            "applied": applied, "issued": day, "address": _render_street(
                rng, prop["num"], prop["predir"], prop["street"], prop["suffix"], prop["unit"], suite),
            "zip": zip_, "value": value, "applicant": applicant, "contractor": contractor,
            "status": rng.choices(("Issued", "Active", "Finaled", "Void"), (90, 6, 3, 1))[0],
            "t_issued": (rng.randrange(7, 17), rng.choice((0, 5, 15, 20, 30, 40, 45, 50))),
            "t_applied": (rng.randrange(7, 18), rng.randrange(0, 60)),
            "commercial": cat_name.startswith("commercial") or cat_name == "sign", "cat": cat_name,
        }

    def _permit_num(self, pm: dict) -> str:
        yy = pm["issued"].year % 100
        word = pm["ptype"].split()[-1] if pm["ptype"].startswith(("Residential", "Commercial")) else pm["ptype"].split()[0]
        g = PERMIT_GROUP.get(word, "B")
        seq = pm["seq"]
        fmt = CITY_CFG[pm["city"]]["permit_fmt"]
        if fmt == "plano":
            return f"{g}P-{yy:02d}-{seq:06d}"
        if fmt == "allen":
            trade = {"B": "BLD", "M": "MEC", "E": "ELE", "P": "PLM", "S": "SGN"}[g]
            return f"{'C' if pm['commercial'] else 'R'}{trade}-{pm['issued'].year}-{seq:05d}"
        if fmt == "mckinney":
            return f"{yy:02d}-{seq:05d}-{'COM' if pm['commercial'] else 'RES'}"
        if fmt == "frisco":
            return f"{g}{yy:02d}-{seq:05d}"
        return f"{'COM' if pm['commercial'] else 'RES'}{yy:02d}-{seq:04d}"

    def _siblings(self, pm: dict, di: int) -> list[tuple[int, dict]]:
        """(day index, permit): the electrical/plumbing/mechanical permits of a building project,
        filed under the building permit's number (same sequence, another trade letter), the same
        day or up to a few days later (then in a later day's file)."""
        rng = self.sib_rng
        if (pm["city"] not in PROJECT_CITIES or pm.get("special") or pm["commercial"]
                or pm["cat"] not in PROJECT_CATEGORIES or rng.random() >= 0.6):
            return []
        out = []
        for trade in rng.sample(("electrical", "plumbing", "hvac"), rng.randint(1, 3)):
            lag = rng.choice((0, 0, 1, 2, 4))
            sib = dict(pm)
            sib["ptype"], sib["wclass"] = {"electrical": ("Residential Electrical", "New"),
                                           "plumbing": ("Residential Plumbing", "New"),
                                           "hvac": ("Residential Mechanical", "New")}[trade]
            sib["desc"] = f"{trade.upper() if trade == 'hvac' else trade.title()} for {pm['desc']}"
            # Trade permits mostly carry no valuation or owner: the building permit does.
            sib["value"] = None if rng.random() < 0.3 else float(rng.randrange(900, 15000))
            sib["contractor"] = rng.choice(CONTRACTORS[trade])
            sib["applicant"] = sib["contractor"]
            sib["issued"] = pm["issued"] + timedelta(days=lag)
            sib["sibling"] = True
            sib["num_override"] = self._permit_num({**sib, "issued": pm["issued"]})
            out.append((di + lag, sib))
        return [(d, sib) for d, sib in out if d < self.days]

    # ---- rendering ---------------------------------------------------------------------

    def _money(self, v: float) -> str:
        if v == int(v):
            return str(int(v)) if self.rng.random() < 0.5 else f"{v:.2f}"
        return f"{v:.2f}"

    def _render(self, pm: dict) -> list | dict:
        rng = self.rng
        city = pm["city"]
        fmt = CITY_CFG[city]["permit_fmt"]
        num = pm.get("num_override") or self._permit_num(pm)
        v = pm["value"]
        if fmt == "prosper":
            def dt(d: date, t) -> str:
                return f"{d.isoformat()}T{t[0]:02d}:{t[1]:02d}:00"
            value = pm.get("value_override", v if v is None or v != int(v) else int(v))
            return {
                "permit_no": num, "type": pm["ptype"], "work_class": pm["wclass"], "description": pm["desc"],
                "issued": pm.get("issued_override") or dt(pm["issued"], pm["t_issued"]),
                "applied": dt(pm["applied"], pm["t_applied"]), "address": pm["address"], "zip": pm["zip"],
                "value": value, "applicant": pm["applicant"] or None, "contractor": pm["contractor"] or None,
            }
        if "value_override" in pm:
            value = pm["value_override"]
        elif v is None:
            value = "N/A" if rng.random() < 0.15 else ""
        else:
            value = f"${v:,.2f}" if fmt == "frisco" else self._money(v)
        if fmt == "frisco":
            first = pm["ptype"].split()[0]
            if first in ("Residential", "Commercial"):
                rest = pm["ptype"][len(first) + 1:]
                if rest in ("Building", "New", "Remodel", "Addition"):
                    rest = {"New": "New Construction", "Alteration": "Remodel"}.get(pm["wclass"], pm["wclass"])
                ptype, sub = first, rest
            elif first == "Temporary":
                ptype, sub = "Electrical", "Temporary Power"
            elif first in ("Fence", "Irrigation", "Right", "Miscellaneous"):
                ptype, sub = "Residential", pm["ptype"]
            else:
                ptype, sub = pm["ptype"], pm["wclass"]
            return [num, ptype, sub, pm["desc"], pm["applied"].isoformat(),
                    pm.get("issued_override") or pm["issued"].isoformat(), pm["address"], pm["zip"], value,
                    pm["applicant"], pm["contractor"]]
        name = CITY_CFG[city]["name"]
        return [num, pm["ptype"], pm["wclass"], pm["desc"], pm["applied"].strftime("%m/%d/%Y"),
                pm.get("issued_override") or pm["issued"].strftime("%m/%d/%Y"), pm["address"],
                name.upper() if rng.random() < 0.3 else name, "TX", pm["zip"], value, pm["applicant"],
                pm["contractor"], pm["status"]]

    # ---- the whole set -----------------------------------------------------------------

    def build(self) -> dict[str, list[list]]:
        """Rendered rows per (city, day index), duplicates and malformed rows included."""
        rng = self.rng
        names = list(CATEGORIES)
        base_w = [CATEGORIES[n]["w"] for n in names]
        files: dict[tuple[str, int], list] = {}
        carry: dict[str, list] = {c: [] for c in CITIES}
        # where the malformed rows go: (city, day index, kind, value)
        specials = [
            ("mckinney", "issued", f"13/45/{self.end_date.year}"), ("allen", "issued", "TBD"),
            ("prosper", "issued", "TBD"), ("plano", "value", "12,5OO"), ("frisco", "value", "call for price"),
            ("plano", "huge", None), ("allen", "applicant", '=HYPERLINK("http://x","click")'),
            ("frisco", "contractor", "+1 972 555 0100"), ("mckinney", "applicant", "@SUM(A1)"),
        ]
        special_days = {i: rng.randrange(self.days) for i in range(len(specials))}
        later: dict[tuple[str, int], list[dict]] = {}
        self.cp1252_day = self.days // 2
        for di in range(self.days):
            day = self.start_date + timedelta(days=di)
            weekend = day.weekday() >= 5
            for city in CITIES:
                cfg = CITY_CFG[city]
                w = base_w + [cfg["builder"]]
                n = max(1, round(cfg["daily"] * (0.25 if weekend else 1.3) * rng.uniform(0.85, 1.15)))
                cats = rng.choices(names + ["builder"], w, k=n)
                pms = [self._permit(city, day, c) for c in cats]
                for i, (sc, field, val) in enumerate(specials):
                    if sc == city and special_days[i] == di:
                        pm = self._permit(city, day, "remodel" if field == "huge" else "fence")
                        if field == "issued":
                            pm["issued_override"] = val
                        elif field == "value":
                            pm["value_override"] = val
                        elif field == "huge":
                            pm["desc"] = _huge_description()
                        else:
                            pm[field] = val
                        pm["special"] = True
                        pms.insert(rng.randrange(len(pms) + 1), pm)
                if city == "frisco" and di == self.cp1252_day:
                    pm = self._permit(city, day, "outdoor_living")
                    pm["desc"] = "Muñoz residence – outdoor kitchen & cabana, café lights"
                    pm["special"] = True
                    pms.insert(rng.randrange(len(pms) + 1), pm)
                for pm in list(pms):
                    for d, sib in self._siblings(pm, di):
                        later.setdefault((city, d), []).append(sib)
                rows = [self._render(pm) for pm in pms]
                rows += [self._render(sib) for sib in later.pop((city, di), [])]
                out = list(rows)
                # duplicates inside the file
                for pm, row in zip(pms, rows):
                    if not pm.get("special") and rng.random() < NOISE["dup_in_file"]:
                        out.insert(rng.randrange(len(out) + 1), row)
                # yesterday's repeats
                for row in carry[city]:
                    out.insert(rng.randrange(len(out) + 1), row)
                carry[city] = [row for pm, row in zip(pms, rows)
                               if not pm.get("special") and rng.random() < NOISE["repeat_next_day"]]
                files[(city, di)] = out
        return files


def _huge_description() -> str:
    block = ("Full interior remodel per attached scope: demo existing kitchen cabinets and counters, "
             "relocate sink to island, new quartz countertops, new LVP flooring throughout first floor, "
             "replace all interior doors and trim, paint, new recessed lighting on existing circuits. ")
    text = "Interior remodel - " + block * (102400 // len(block) + 1)
    return text[:102400]


