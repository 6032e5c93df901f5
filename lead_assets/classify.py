"""Trade classification by rules, compiled to one SQL CASE expression.

The rules are data; `classify_sql()` turns them into SQL that DuckDB (RE2) evaluates a
whole column at a time. Order matters: the first rule that matches decides.

Principles (DESIGN.md):
- word boundaries, never substrings ("Conditioned Space" is not a spa);
- a non-lead (volume builder, sign, temporary power, demolition) is discarded first;
- the whole project wins over its parts ("new residence with covered patio" is new
  construction, "partial demo for a room addition" is an addition);
- the permit type / work class decides before the description does;
- commercial pool/hvac/electrical/plumbing go to `commercial`; other commercial work
  and anything unclassifiable is `other`.
- Solar PV is deliberately NOT electrical: an installer already owns that job and no
  buyer category takes it, so it is `other` with a `solar_pv` flag.
"""
from __future__ import annotations

from dataclasses import dataclass

import duckdb

# Volume / production builders (matched in contractor, applicant or owner).
PRODUCTION_BUILDERS = (
    r"lennar", r"d\.?\s?r\.?\s+horton", r"highland homes", r"pulte", r"perry homes", r"toll brothers",
    r"david weekley", r"meritage", r"taylor morrison", r"k\.? ?hovnanian", r"ashton woods", r"m/i homes",
    r"beazer", r"centex", r"kb home", r"history maker", r"first texas homes", r"bloomfield homes",
    r"american legend", r"shaddock", r"gehan", r"tri pointe", r"trendmaker", r"coventry homes",
    r"william ryan", r"chesmar", r"dream finders", r"brightland", r"impression homes", r"megatel",
)

B = r"\b"


def words(*alternatives: str) -> str:
    return B + "(" + "|".join(alternatives) + ")" + B


# Text patterns per category (description). Case-insensitive.
TEXT = {
    "new_construction": words(
        r"new (custom )?(single[- ]family|sfr|sfd|residence|home|house|dwelling)",
        r"new \d[- ]?stor(y|ies)( custom)? (residence|home|house|single[- ]family)",
        r"new construction", r"custom (home|residence)"),
    "addition": words(
        r"(room |bedroom |master |garage )?addition", r"(second|2nd)[- ]stor(y|ies)", r"garage conversion",
        r"add(ing)? (a )?(bedroom|room|bathroom)", r"conditioned space"),
    "pool": words(r"pools?", r"spas?", r"hot tub", r"gunite", r"shotcrete", r"re-?plaster\w*", r"swimming"),
    "outdoor_living": words(
        r"patio covers?", r"covered patio", r"pergolas?", r"outdoor kitchen", r"arbors?", r"gazebos?",
        r"decks?", r"outdoor living", r"cabanas?", r"pavilions?", r"fire ?pits?", r"outdoor fireplace",
        r"shade structure"),
    "foundation": words(r"foundations?", r"piers?", r"pier and beam", r"slab level\w*", r"underpin\w*"),
    "roof": words(r"re-?roof\w*", r"roof\w*", r"shingles?"),
    "fence": words(r"fenc(e|es|ing)", r"retaining walls?", r"wrought iron"),
    "siding": words(r"siding", r"hardie\w*", r"stucco", r"masonry veneer"),
    "windows": words(r"windows?", r"doors?"),
    "concrete": words(r"driveways?", r"flatwork", r"sidewalks?", r"concrete", r"approach"),
    "hvac": words(
        r"hvac", r"a/?c", r"air[- ]condition\w*", r"furnaces?", r"heat pumps?", r"mini[- ]?splits?",
        r"condensers?", r"change[- ]?outs?", r"ductwork", r"\d(\.\d)? ton", r"rtus?", r"rooftop units?"),
    "plumbing": words(
        r"plumbing", r"water heaters?", r"re-?pipe", r"gas lines?", r"sewer", r"water lines?", r"tankless",
        r"drains?", r"grease traps?", r"backflow", r"restrooms?", r"fixtures?"),
    "electrical": words(
        r"electrical", r"panel upgrade", r"service upgrade", r"(electrical|electric|breaker|main) panel",
        r"ev chargers?", r"car chargers?", r"generators?", r"rewir\w*", r"circuits?", r"\d+ ?amp"),
    "remodel": words(r"remodel\w*", r"renovat\w*", r"interior finish", r"kitchen", r"bath(room)?s?"),
}

# Permit type / work class patterns (the type decides before the text).
TYPE = {
    "pool": words(r"pools?", r"spas?"),
    "roof": words(r"roof\w*"),
    "hvac": words(r"mechanical", r"hvac"),
    "electrical": words(r"electrical"),
    "plumbing": words(r"plumbing"),
    "fence": words(r"fence"),
}
NEW_BUILDING_TYPE = r"\b(single[- ]family|one[- ]family|sfr|residential building|two[- ]family|duplex)\b.*\|\s*new\b"

DISCARD_TYPE = {
    "demolition": words(r"demolition", r"demo"),
    "sign": words(r"signs?"),
    "temporary_power": words(r"temp(orary)? (power|pole|electric\w*|service)"),
}
DISCARD_TEXT = {
    "sign": words(r"(monument|wall|channel letter|pylon|banner|pole|blade) signs?", r"signage", r"^signs?"),
    "temporary_power": words(r"temp(orary)? (power|pole|electric\w*|service|meter)", r"construction power"),
    "demolition": r"^\W*(partial |total |complete )?(demo|demolish|demolition)\b",
}
COMMERCIAL_TYPE = r"(\bcommercial\b|^c-\s|\bmulti[- ]?family\b|\bcomm\b)"
COMMERCIAL_TEXT = words(
    r"commercial", r"tenant (finish|improvement)\w*", r"finish[- ]out", r"retail", r"restaurant",
    r"office (building|suite)", r"apartments?", r"amenity (center|building)", r"shell building",
    r"warehouse", r"shopping center", r"clubhouse")
SOLAR = words(r"solar", r"photovoltaic", r"pv (system|panels?|modules?)")
COMMERCIAL_TRADES = ("pool", "hvac", "electrical", "plumbing")


@dataclass(frozen=True)
class Classification:
    category: str
    discard_reason: str | None
    flags: str | None


def _m(col: str, pattern: str) -> str:
    return f"regexp_matches({col}, '{pattern.replace(chr(39), chr(39) * 2)}', 'i')"


def classify_sql(permit_type="permit_type", work_class="work_class", description="description",
                 parties="parties") -> dict[str, str]:
    """SQL expressions for `category`, `discard_reason` and `class_flags`.

    `parties` is a text column holding contractor, applicant and owner names.
    """
    typ = f"(coalesce({permit_type}, '') || ' | ' || coalesce({work_class}, ''))"
    txt = f"coalesce({description}, '')"
    builder = _m(parties, words(*PRODUCTION_BUILDERS))
    commercial = f"({_m(typ, COMMERCIAL_TYPE)} OR {_m(txt, COMMERCIAL_TEXT)})"

    discard = []
    for reason in ("sign", "temporary_power"):
        discard.append(f"WHEN {_m(typ, DISCARD_TYPE[reason])} OR {_m(txt, DISCARD_TEXT[reason])} THEN '{reason}'")
    # A demolition is a non-lead unless it is part of a bigger project.
    demolition = (f"WHEN ({_m(typ, DISCARD_TYPE['demolition'])} OR {_m(txt, DISCARD_TEXT['demolition'])}) "
                  f"AND NOT {_m(txt, TEXT['new_construction'])} AND NOT {_m(txt, TEXT['addition'])} "
                  f"AND NOT {_m(txt, TEXT['remodel'])} THEN 'demolition'")
    discard.append(demolition)
    discard_reason = "CASE " + " ".join(discard) + " END"

    arms = []
    commercial_trades = " ".join(
        f"WHEN {_m(typ, TYPE[t])} OR {_m(txt, TEXT[t])} THEN 'commercial_{t}'" for t in COMMERCIAL_TRADES)
    arms.append(f"WHEN {commercial} THEN CASE {commercial_trades} ELSE 'other' END")
    arms.append(f"WHEN {_m(txt, TEXT['new_construction'])} OR {_m(typ, NEW_BUILDING_TYPE)} THEN 'new_construction'")
    arms.append(f"WHEN {_m(txt, TEXT['addition'])} OR {_m(typ, words('addition'))} THEN 'addition'")
    arms.append(f"WHEN {_m(txt, SOLAR)} THEN 'other'")
    arms += [f"WHEN {_m(typ, pat)} THEN '{cat}'" for cat, pat in TYPE.items()]
    arms += [f"WHEN {_m(txt, pat)} THEN '{cat}'" for cat, pat in TEXT.items()
             if cat not in ("new_construction", "addition")]
    arms.append(f"WHEN {_m(typ, words('remodel', 'alteration', 'alterations', 'renovation'))} THEN 'remodel'")
    category = "CASE " + " ".join(arms) + " ELSE 'other' END"

    flags = (f"concat_ws('|', CASE WHEN {commercial} THEN 'commercial' END, "
             f"CASE WHEN {_m(txt, SOLAR)} THEN 'solar_pv' END)")
    return {"category": category, "discard_reason": discard_reason, "class_flags": f"nullif({flags}, '')",
            "builder": builder}


def discard_sql(sql: dict[str, str], discard_reason: str = "discard_reason", builder: str = "builder") -> str:
    """A volume builder is a non-lead whatever the work; otherwise the text/type reason."""
    return f"CASE WHEN {builder} THEN 'production_builder' ELSE {discard_reason} END"


def classify(description: str | None, permit_type: str | None = None, work_class: str | None = None,
             parties: str | None = None) -> Classification:
    """Classify one permit with the same SQL the pipeline runs (for tests and the CLI)."""
    sql = classify_sql("$1", "$2", "$3", "coalesce($4, '')")
    with duckdb.connect() as con:
        cat, reason, flags = con.execute(
            f"SELECT {sql['category']}, {discard_sql(sql, sql['discard_reason'], sql['builder'])}, "
            f"{sql['class_flags']}", [permit_type, work_class, description, parties],
        ).fetchone()
    return Classification(cat, reason, flags)
