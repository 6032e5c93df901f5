"""Trade classification by rules, compiled to SQL CASE expressions.

The words live in `classification.toml` (a lead seller edits them; `ClassificationRules`
loads and checks them); a city adds its own type map and permit-number codes in
`leads.toml`. This module holds only the order of the decisions, which is the product's
definition in shared/LABELLING.md:

1. Discards (not leads) are decided beside the category, never instead of it: volume
   builders (names, the city's tag, or pulling many new homes: `volume_builders_sql`),
   signs, temporary power, temporary event structures, government / utility / telecom
   work, demolition that is not part of a bigger project.
2. The city's own type map, when it names the permit's type or work class.
3. Commercial work (type, or for a non-residential type the text, occupancy group, suite
   or floor): a trade's job goes to `commercial_<trade>`, everything else to `other`.
4. A trade permit (the trade from the permit number or the type: electrical, plumbing,
   mechanical, irrigation, solar ...) is its trade, unless its text describes the whole
   building project and names none of the trade's own work.
5. Otherwise the whole project wins over its parts: new construction, then additions,
   then a remodel named as such, then the trades by text (pool ... electrical), then the
   trades by type, then remodel words, else `other`.

Solar PV is electrical (commercial solar `commercial_electrical`) with flag `solar_pv`.
Every pattern is matched case-insensitively inside non-alphanumeric boundaries, so a
"spa" is never found in "space".
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import duckdb

from lead_assets.leads.taxonomy import CATEGORIES

RULES_PATH = Path(__file__).with_name("classification.toml")

# Order in which trades are tried from the text, after the structural categories.
TEXT_ORDER = ("pool", "outdoor_living", "foundation", "roof", "fence", "siding", "windows", "concrete",
              "hvac", "plumbing", "electrical")
COMMERCIAL_TRADES = ("pool", "hvac", "electrical", "plumbing")
DISCARD_ORDER = ("production_builder", "sign", "temporary_power", "event", "government", "demolition")
PERMIT_TRADES = ("building", "electrical", "plumbing", "hvac", "concrete")


class RulesError(ValueError):
    """The classification rules (or a city's classify table) are malformed."""


def _alternation(patterns: list[str], where: str) -> str | None:
    if not patterns:
        return None
    for p in patterns:
        if not isinstance(p, str) or not p.strip():
            raise RulesError(f"{where}: patterns must be non-empty strings, got {p!r}")
        try:
            re.compile(p)
        except re.error as exc:
            raise RulesError(f"{where}: bad pattern {p!r}: {exc}") from None
    # Boundaries that work whatever the pattern's first and last characters are.
    return "(^|[^a-z0-9])(" + "|".join(f"(?:{p})" for p in patterns) + ")($|[^a-z0-9])"


@dataclass(frozen=True)
class CityRules:
    """A city's additions (`[cities.<key>.classify]` in leads.toml)."""
    number_pattern: str | None = None            # captures the trade code in group 1
    number_codes: dict[str, str] | None = None   # code -> trade (building/electrical/...)
    types: tuple[tuple[str, str], ...] = ()      # (pattern on type | work class, category or discard:<reason>)

    @classmethod
    def from_toml(cls, city: str, raw: dict) -> "CityRules":
        where = f"[cities.{city}.classify]"
        unknown = sorted(set(raw) - {"number_pattern", "number_codes", "types"})
        if unknown:
            raise RulesError(f"{where}: unknown key(s) {', '.join(unknown)} "
                             "(known: number_pattern, number_codes, types)")
        pattern = raw.get("number_pattern")
        if pattern is not None:
            try:
                if re.compile(pattern).groups < 1:
                    raise RulesError(f"{where}: number_pattern must capture the trade code in a group")
            except re.error as exc:
                raise RulesError(f"{where}: bad number_pattern {pattern!r}: {exc}") from None
        codes = raw.get("number_codes")
        if codes is not None:
            _check_codes(codes, f"{where} number_codes")
        types = []
        for pat, target in dict(raw.get("types", {})).items():
            _alternation([pat], f"{where} types")
            _check_target(target, f"{where} types {pat!r}")
            types.append((pat, target))
        return cls(pattern, dict(codes) if codes is not None else None, tuple(types))


def _check_codes(codes, where: str) -> None:
    if not isinstance(codes, dict):
        raise RulesError(f"{where}: must be a table of CODE = trade")
    for code, trade in codes.items():
        if trade not in PERMIT_TRADES:
            raise RulesError(f"{where}: {code} = {trade!r}: the trade must be one of {', '.join(PERMIT_TRADES)}")


def _check_target(target, where: str) -> None:
    if not isinstance(target, str):
        raise RulesError(f"{where}: must be a category or discard:<reason>")
    if target.startswith("discard:"):
        if not target[len("discard:"):]:
            raise RulesError(f"{where}: discard needs a reason (discard:sign, ...)")
    elif target not in CATEGORIES:
        raise RulesError(f"{where}: unknown category {target!r}")


@dataclass(frozen=True)
class ClassificationRules:
    raw: dict

    @classmethod
    def load(cls, path: Path = RULES_PATH) -> "ClassificationRules":
        try:
            raw = tomllib.loads(Path(path).read_text())
        except tomllib.TOMLDecodeError as exc:
            raise RulesError(f"{path}: {exc}") from None
        rules = cls(raw)
        rules.check()
        return rules

    def check(self) -> None:
        raw = self.raw
        known = {"permit_number", "discards", "commercial", "categories", "flags", "volume_builders", "drift"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise RulesError(f"classification rules: unknown section(s) {', '.join(unknown)}")
        for cat in raw.get("categories", {}):
            if cat not in CATEGORIES or cat.startswith("commercial_") or cat == "other":
                raise RulesError(f"[categories.{cat}]: not a category the rules can pick "
                                 f"(one of {', '.join(c for c in CATEGORIES if c != 'other' and not c.startswith('commercial_'))})")
        for section in ("discards", "categories", "flags"):
            for name, entry in raw.get(section, {}).items():
                for key, patterns in entry.items():
                    if key not in ("text", "type", "parties", "fallback_text", "not_text"):
                        raise RulesError(f"[{section}.{name}]: unknown key {key!r}")
                    _alternation(list(patterns), f"[{section}.{name}] {key}")
        for reason in raw.get("discards", {}):
            if reason not in DISCARD_ORDER:
                raise RulesError(f"[discards.{reason}]: unknown discard (one of {', '.join(DISCARD_ORDER)})")
        for key in ("type", "text", "not_text", "owner", "address", "residential_type"):
            _alternation(list(raw.get("commercial", {}).get(key, [])), f"[commercial] {key}")
        number = raw.get("permit_number", {})
        if number:
            if re.compile(number["pattern"]).groups < 1:
                raise RulesError("[permit_number] pattern must capture the trade code in a group")
            _check_codes(number.get("codes", {}), "[permit_number.codes]")
        for key, value in raw.get("drift", {}).items():
            if key not in ("baseline_days", "min_history_days", "other_jump", "new_type_share", "min_rows"):
                raise RulesError(f"[drift]: unknown key {key!r}")
            if not isinstance(value, (int, float)) or value <= 0:
                raise RulesError(f"[drift] {key} must be a positive number")
        vb = raw.get("volume_builders", {})
        _alternation(list(vb.get("not_parties", [])), "[volume_builders] not_parties")
        for key in ("min_new_homes", "window_days"):
            if not isinstance(vb.get(key), int) or vb[key] < 1:
                raise RulesError(f"[volume_builders] {key} must be a positive whole number")

    @property
    def drift(self) -> dict[str, float]:
        return dict(self.raw.get("drift", {}))

    def pat(self, section: str, name: str, key: str) -> str | None:
        return _alternation(list(self.raw.get(section, {}).get(name, {}).get(key, [])), f"[{section}.{name}] {key}")

    def commercial(self, key: str) -> str | None:
        return _alternation(list(self.raw.get("commercial", {}).get(key, [])), f"[commercial] {key}")

    @property
    def volume_builders(self) -> dict:
        return dict(self.raw["volume_builders"])

    @property
    def number_pattern(self) -> str:
        return self.raw["permit_number"]["pattern"]

    @property
    def number_codes(self) -> dict[str, str]:
        return dict(self.raw["permit_number"]["codes"])


@lru_cache(maxsize=1)
def default_rules() -> ClassificationRules:
    return ClassificationRules.load()


def _q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _m(col: str, pattern: str | None) -> str:
    return "false" if pattern is None else f"regexp_matches({col}, {_q(pattern)}, 'i')"


def matches_sql(col: str, patterns: list[str], where: str) -> str:
    """SQL: does `col` match any of the patterns (the rules' boundaries, case-insensitive)?"""
    return _m(col, _alternation(patterns, where))


def type_sql(permit_type: str = "permit_type", work_class: str = "work_class") -> str:
    """SQL: the permit type and work class as the one text the type patterns match."""
    return f"(coalesce({permit_type}, '') || ' | ' || coalesce({work_class}, ''))"


def permit_trade_sql(permit_num: str, city: str, rules: ClassificationRules,
                     cities: dict[str, CityRules] | None = None) -> str:
    """SQL: the trade a permit number carries (building/electrical/...), or NULL."""
    def one(pattern: str, codes: dict[str, str]) -> str:
        code = f"upper(regexp_extract({permit_num}, {_q(pattern)}, 1, 'i'))"
        arms = " ".join(f"WHEN {_q(c.upper())} THEN {_q(t)}" for c, t in codes.items())
        return f"CASE {code} {arms} END" if arms else "NULL"
    default = one(rules.number_pattern, rules.number_codes)
    # Cities with the same numbering share one arm: one regex per scheme, not per city.
    schemes: dict[str, list[str]] = {}
    for key, cr in (cities or {}).items():
        if cr.number_pattern or cr.number_codes is not None:
            sql = one(cr.number_pattern or rules.number_pattern,
                      cr.number_codes if cr.number_codes is not None else rules.number_codes)
            schemes.setdefault(sql, []).append(key)
    arms = [f"WHEN {city} IN ({', '.join(_q(k) for k in keys)}) THEN {sql}" for sql, keys in schemes.items()]
    return f"CASE {' '.join(arms)} ELSE {default} END" if arms else default


def classify_sql(rules: ClassificationRules | None = None, cities: dict[str, CityRules] | None = None, *,
                 city="city", permit_trade="permit_trade", permit_type="permit_type", work_class="work_class",
                 description="description", addr_commercial="addr_commercial",
                 owner_commercial="owner_commercial") -> dict[str, str]:
    """SQL expressions `category`, `discard_reason` (type / text), `class_flags` over a relation
    that adds the columns of `layer` (a SELECT list over the inputs) to its rows; `new_home`
    stands alone.

    Inputs are column expressions; `permit_trade` is `permit_trade_sql(...)`'s result and
    `addr_commercial` / `owner_commercial` are `address_commercial_sql` / `owner_commercial_sql`
    results (a suite or floor in the site address; a business as the property owner).
    Party-based discards (builders, government owners) are `party_discard_sql`.
    """
    r = rules or default_rules()
    typ = type_sql(permit_type, work_class)
    txt = f"coalesce({description}, '')"

    def t(cat: str, key: str = "text") -> str:
        found = _m(txt, r.pat("categories", cat, key))
        exclude = r.pat("categories", cat, "not_text")
        return f"({found} AND NOT {_m(txt, exclude)})" if exclude and key == "text" else found

    def ty(cat: str) -> str:
        return _m(typ, r.pat("categories", cat, "type"))

    # City type maps: the first matching entry of the permit's city.
    city_arms = [(key, pat, target) for key, cr in (cities or {}).items() for pat, target in cr.types]
    city_map = ("CASE " + " ".join(f"WHEN {city} = {_q(k)} AND {_m(typ, _alternation([p], 'types'))} THEN {_q(v)}"
                                   for k, p, v in city_arms) + " END") if city_arms else "NULL"

    residential_type = _m(typ, r.commercial("residential_type"))
    commercial = (f"({_m(typ, r.commercial('type'))} OR (NOT {residential_type} AND "
                  f"(({_m(txt, r.commercial('text'))} AND NOT {_m(txt, r.commercial('not_text'))}) "
                  f"OR coalesce({addr_commercial}, false) OR coalesce({owner_commercial}, false))))")
    solar = f"({_m(txt, r.pat('flags', 'solar_pv', 'text'))} OR {_m(typ, r.pat('flags', 'solar_pv', 'type'))})"
    # A new residential building by type: the type names one and does not say alteration.
    new_type = (f"({ty('new_construction')} AND NOT regexp_matches({typ}, "
                f"'(alter|remodel|renovat|repair|addition|demoli)', 'i'))")
    whole_project = (f"CASE WHEN {t('new_construction')} THEN 'new_construction' WHEN {t('addition')} THEN 'addition' "
                     f"WHEN {t('pool')} THEN 'pool' END")
    # The trade of a trade permit: from the number, else from the type's trade words.
    type_trade = ("CASE " + f"WHEN {solar} THEN 'electrical' "
                  + " ".join(f"WHEN {ty(c)} THEN {_q(c)}" for c in ("electrical", "plumbing", "hvac")) + " END")
    trade = (f"CASE WHEN {permit_trade} IN ('electrical', 'plumbing', 'hvac', 'concrete') THEN {permit_trade} "
             f"WHEN {permit_trade} IS NULL OR {permit_trade} = 'building' THEN {type_trade} END")

    # The parts used in many places are computed once per row, in an inner SELECT (`layer`):
    # spelled out in each place, the same regular expressions were compiled and run many times.
    layer = {"_class_commercial": commercial, "_class_solar": solar, "_class_trade": trade,
             "_class_whole_project": whole_project}
    if city_arms:
        layer["_class_city_map"] = city_map
        city_map = "_class_city_map"
    new_home = f"(({t('new_construction')} OR {new_type}) AND NOT {commercial})"   # stands alone
    commercial, solar, trade, whole_project = "_class_commercial", "_class_solar", "_class_trade", "_class_whole_project"

    def trade_arm(var: str) -> str:
        # A trade permit is its trade unless its text is the whole project and no trade work.
        own = " ".join(f"WHEN {var} = {_q(c)} AND {t(c)} THEN {var}" for c in ("electrical", "plumbing", "hvac", "concrete"))
        return f"CASE {own} WHEN {whole_project} IS NOT NULL THEN {whole_project} ELSE {var} END"

    # Among the trades the text names, the first named is the job ("HVAC change-out - roof
    # top units" is HVAC, "re-roof, new gutters" a roof); ties go by TEXT_ORDER.
    def first_at(c: str) -> str:
        pat = r.pat("categories", c, "text")
        return (f"CASE WHEN {t(c)} THEN strpos(lower({txt}), lower(regexp_extract({txt}, {_q(pat)}, 0, 'i'))) END"
                if pat else "NULL")
    mentions = ", ".join(f"{{'at': {first_at(c)}, 'rank': {i}, 'cat': {_q(c)}}}" for i, c in enumerate(TEXT_ORDER))
    first_trade = f"list_min(list_filter([{mentions}], lambda m: m.at IS NOT NULL)).cat"
    type_trades = " ".join(f"WHEN {ty(c)} THEN {_q(c)}" for c in TEXT_ORDER)
    general_project = (f"({t('new_construction')} OR {t('addition')} OR {t('remodel')} "
                       f"OR regexp_matches({txt}, '(finish[- ]?out|tenant|shell|new (building|construction))', 'i'))")
    commercial_trade_text = " ".join(f"WHEN {t(c)} THEN 'commercial_{c}'" for c in COMMERCIAL_TRADES)
    commercial_cat = (f"CASE WHEN {trade} IN ('electrical', 'plumbing', 'hvac') THEN 'commercial_' || {trade} "
                      f"WHEN {trade} IS NOT NULL THEN 'other' "
                      f"WHEN {t('pool')} OR {ty('pool')} THEN 'commercial_pool' "
                      f"WHEN {solar} THEN 'commercial_electrical' "
                      f"WHEN {general_project} THEN 'other' "
                      f"{commercial_trade_text} ELSE 'other' END")
    residential_cat = f"""CASE
        WHEN {trade} IS NOT NULL THEN {trade_arm(trade)}
        WHEN {solar} THEN 'electrical'
        WHEN {t('new_construction')} OR {new_type} THEN 'new_construction'
        WHEN {t('addition')} THEN 'addition'
        WHEN {t('pool')} THEN 'pool'
        WHEN {t('remodel')} THEN 'remodel'
        ELSE coalesce({first_trade}, CASE
            WHEN {ty('addition')} THEN 'addition'
            {type_trades}
            WHEN {t('remodel', 'fallback_text')} OR {ty('remodel')} THEN 'remodel'
            ELSE 'other' END) END"""
    commercialize = (f"CASE WHEN {city_map} IN ({', '.join(_q(c) for c in COMMERCIAL_TRADES)}) AND {commercial} "
                     f"THEN 'commercial_' || {city_map} WHEN {commercial} AND {city_map} NOT LIKE 'commercial_%' "
                     f"THEN 'other' ELSE {city_map} END")
    # Signs and event structures are no trade's job, whatever permit they came on.
    no_trade = " OR ".join(f"{_m(txt, r.pat('discards', d, 'text'))} OR {_m(typ, r.pat('discards', d, 'type'))}"
                           for d in ("sign", "event"))
    category = (f"CASE WHEN {city_map} IS NOT NULL AND {city_map} NOT LIKE 'discard:%' THEN {commercialize} "
                f"WHEN {no_trade} THEN 'other' "
                f"WHEN {_m(txt, r.pat('discards', 'temporary_power', 'text'))} THEN "
                f"CASE WHEN {commercial} THEN 'commercial_electrical' ELSE 'electrical' END "
                f"WHEN {commercial} THEN {commercial_cat} ELSE {residential_cat} END")

    discards = [f"WHEN {city_map} LIKE 'discard:%' THEN substr({city_map}, 9)"]
    for reason in DISCARD_ORDER:
        cond = f"({_m(txt, r.pat('discards', reason, 'text'))} OR {_m(typ, r.pat('discards', reason, 'type'))})"
        exclude = r.pat("discards", reason, "not_text")
        if exclude:  # e.g. a demolition that is part of a bigger project is that project
            cond = f"({cond} AND NOT {_m(txt, exclude)})"
        discards.append(f"WHEN {cond} THEN {_q(reason)}")
    discard_reason = "CASE " + " ".join(discards) + " END"
    flags = (f"nullif(concat_ws('|', CASE WHEN {commercial} THEN 'commercial' END, "
             f"CASE WHEN {solar} THEN 'solar_pv' END), '')")
    return {"layer": ", ".join(f"{sql} AS {name}" for name, sql in layer.items()),
            "category": category, "discard_reason": discard_reason, "class_flags": flags, "new_home": new_home}


def address_commercial_sql(address: str, rules: ClassificationRules | None = None) -> str:
    """SQL: the site address names a suite or an upper floor."""
    return _m(f"coalesce({address}, '')", (rules or default_rules()).commercial("address"))


def owner_commercial_sql(owner: str, rules: ClassificationRules | None = None) -> str:
    """SQL: the property owner is a business or an institution."""
    return _m(f"coalesce({owner}, '')", (rules or default_rules()).commercial("owner"))


def party_discard_sql(parties: str, rules: ClassificationRules | None = None) -> str:
    """SQL: 'production_builder' / 'government' from the contractor, applicant and owner names."""
    r = rules or default_rules()
    p = f"coalesce({parties}, '')"
    return (f"CASE WHEN {_m(p, r.pat('discards', 'production_builder', 'parties'))} THEN 'production_builder' "
            f"WHEN {_m(p, r.pat('discards', 'government', 'parties'))} THEN 'government' END")


PARTY_KEY_SQL = ("nullif(trim(regexp_replace(regexp_replace(lower(coalesce({x}, '')), "
                 "'\\b(llc|l l c|inc|incorporated|ltd|lp|corp|corporation|co|company|the)\\b', ' ', 'g'), "
                 "'[^a-z0-9]+', ' ', 'g')), '')")


def party_key_sql(col: str) -> str:
    """SQL: a contractor / applicant name reduced for matching (case, punctuation, LLC ...)."""
    return PARTY_KEY_SQL.format(x=col)


@dataclass(frozen=True)
class Classification:
    category: str
    discard_reason: str | None
    flags: str | None


def classify(description: str | None, permit_type: str | None = None, work_class: str | None = None,
             parties: str | None = None, permit_num: str | None = None, address: str | None = None,
             *, city: str = "", cities: dict[str, CityRules] | None = None,
             rules: ClassificationRules | None = None) -> Classification:
    """Classify one permit with the same SQL the pipeline runs (for tests and the CLI)."""
    r = rules or default_rules()
    trade = permit_trade_sql("$5", "$7", r, cities)
    sql = classify_sql(r, cities, city="$7", permit_trade=trade, permit_type="$2", work_class="$3",
                       description="$1", addr_commercial=address_commercial_sql("$6", r),
                       owner_commercial="false")
    with duckdb.connect() as con:
        cat, reason, flags, _ = con.execute(
            f"SELECT {sql['category']}, coalesce({party_discard_sql('$4', r)}, {sql['discard_reason']}), "
            f"{sql['class_flags']}, $7 FROM (SELECT {sql['layer']})",
            [description, permit_type, work_class, parties, permit_num, address, city],
        ).fetchone()
    return Classification(cat, reason, flags)
