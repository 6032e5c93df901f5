"""The schema of `leads.toml`: every section, every key and its type.

`Settings.load` checks the raw TOML against these models before it builds anything, so a
typo or a wrong type is one line naming the file and the key's dotted name
(`leads.toml: cities.plano.colour: unknown key (did you mean 'columns'?)`), raised before
a command or the Dagster definitions touch the warehouse. What a value *means* (a regex
compiles, a trade exists, the required columns are mapped, a time is HH:MM) is still checked
where it is used: CitySource, CityRules, ProjectRules, parse_source, AutomationSettings.
"""
from __future__ import annotations

import difflib
import json
import re
from datetime import date
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator, ValidationError, create_model,
                      model_validator)
from pydantic_core import PydanticCustomError

from lead_assets.config.fields import CANONICAL_FIELDS, PROPERTY_FIELDS
from lead_assets.leads.taxonomy import CATEGORIES

# Commercial leads share their trade's window (rules_scorer.factors_sql strips the prefix).
FRESHNESS_KEYS = ("default", *dict.fromkeys(c.removeprefix("commercial_") for c in CATEGORIES))
SOURCE_KEYS = {
    "file": ("kind",),
    "socrata": ("kind", "domain", "dataset", "date_field", "app_token_env", "where", "page_size",
                "timeout_seconds", "max_attempts", "max_retry_wait_seconds"),
    "arcgis": ("kind", "url", "where", "date_field", "object_id_field", "page_size",
               "timeout_seconds", "max_attempts", "max_retry_wait_seconds"),
}
# A city key becomes a Dagster partition key ("plano|2026-11-28") and a folder name.
_CITY_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _problem(message: str, key: str | None = None) -> PydanticCustomError:
    """Our own error; `key`: the offending key inside the table being checked."""
    return PydanticCustomError("leads_config", "{message}", {"message": message, "key": key})


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def did_you_mean(word: str, choices) -> str:
    choices = list(choices)
    close = difflib.get_close_matches(word.lower(), choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(choices)})"


# ------------------------------------------------------------------ value types

def _date_formats(value):
    if isinstance(value, str) or (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
        return value
    raise _problem(f"must be a strptime format or a list of them, not {_show(value)}")


def _day(value):
    if type(value) is date:              # TOML's bare 2026-10-01 (a datetime is not a day)
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise _problem(f"must be a date (YYYY-MM-DD), not {_show(value)}")


def _zone(value):
    if not isinstance(value, str):
        raise _problem(f"must be text (an IANA time zone such as 'America/Chicago'), not {_show(value)}")
    try:
        ZoneInfo(value)
        return value
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as 'America'
        close = difflib.get_close_matches(value, sorted(available_timezones()), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else "an IANA name such as 'America/Chicago'"
        raise _problem(f"unknown time zone {value!r} ({hint})") from None


def _autostart(value):
    if isinstance(value, bool) or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        return value
    raise _problem(f"must be true, false or a list of names, not {_show(value)}")


def _threads(value):
    if value == "auto" or (type(value) is int and value >= 1):
        return value
    raise _problem(f'must be a whole number of 1 or more, or "auto", not {_show(value)}')


DateFormats = Annotated[Any, PlainValidator(_date_formats)]
Day = Annotated[Any, PlainValidator(_day)]
TimeZone = Annotated[Any, PlainValidator(_zone)]
Autostart = Annotated[Any, PlainValidator(_autostart)]
Threads = Annotated[Any, PlainValidator(_threads)]
Count = Annotated[int, Field(ge=1)]
Seconds = Annotated[float, Field(gt=0)]


# ------------------------------------------------------------------ tables

class _Table(BaseModel):
    """A TOML table: its keys are exactly the fields (strict types, no coercion)."""
    model_config = ConfigDict(extra="forbid", strict=True)
    unknown: ClassVar[str] = "unknown key"

    @classmethod
    def known_keys(cls, raw: dict) -> tuple[str, ...]:
        return tuple(cls.model_fields)

    @model_validator(mode="before")
    @classmethod
    def _no_unknown_keys(cls, raw):
        # extra="forbid" would reject them too, but without saying what was meant.
        if isinstance(raw, dict):
            known = cls.known_keys(raw)
            for key in raw:
                if key not in known:
                    raise _problem(cls.unknown + did_you_mean(key, known), key)
        return raw


class Paths(_Table):
    warehouse: str | None = None
    landing: str | None = None
    appraisal: str | None = None
    exports: str | None = None


class Partitions(_Table):
    start_date: Day = None
    timezone: TimeZone = None
    scheme: Literal["city_day", "group_day"] | None = None   # lead_assets/config/partition_scheme.py
    groups: Count | None = None


FreshnessDays = create_model(
    "FreshnessDays", __base__=_Table, **{k: (Count | None, None) for k in FRESHNESS_KEYS})


class Automation(_Table):
    daily_time: str | None = None
    retry_time: str | None = None
    autostart: Autostart = None
    scorer: Literal["rules", "reasoner"] | None = None
    exports_check_seconds: Count | None = None
    retry_check_seconds: Count | None = None
    late_after_minutes: Count | None = None


class Warehouse(_Table):          # settings.WarehouseSettings says what each key means
    backend: Literal["duckdb", "ducklake"] | None = None
    catalog_env: str | None = None
    data_path: str | None = None
    threads: Threads | None = None


Columns = create_model("Columns", __base__=_Table, **{k: (str | None, None) for k in CANONICAL_FIELDS})
PropertyColumns = create_model("PropertyColumns", __base__=_Table, **{k: (str | None, None) for k in PROPERTY_FIELDS})


class Classify(_Table):
    number_pattern: str | None = None
    number_codes: dict[str, str] | None = None
    types: dict[str, str] | None = None


class Projects(_Table):
    base_pattern: str | None = None
    reference_pattern: str | None = None
    building_pattern: str | None = None
    address_window_days: Annotated[int, Field(ge=0)] | None = None


class Source(_Table):
    """`[cities.<key>.source]`: which keys are allowed depends on `kind`."""
    kind: str = "file"
    domain: str | None = None
    dataset: str | None = None
    url: str | None = None
    date_field: str | None = None
    app_token_env: str | None = None
    where: str | None = None
    object_id_field: str | None = None
    page_size: Annotated[int, Field(ge=1, le=50_000)] | None = None
    timeout_seconds: Seconds | None = None
    max_attempts: Count | None = None
    max_retry_wait_seconds: Seconds | None = None

    @classmethod
    def known_keys(cls, raw: dict) -> tuple[str, ...]:
        kind = raw.get("kind", "file")
        if not isinstance(kind, str) or kind not in SOURCE_KEYS:
            raise _problem(f"must be one of {', '.join(SOURCE_KEYS)}, not {_show(kind)}", "kind")
        if "app_token" in raw:           # a secret never lives in the file
            raise _problem("put the token in an environment variable and name it in app_token_env", "app_token")
        return SOURCE_KEYS[kind]


class City(_Table):
    name: str | None = None
    landing: str | None = None
    format: Literal["csv", "json"] | None = None
    date_format: DateFormats = None
    columns: Columns | None = None
    classify: Classify | None = None
    projects: Projects | None = None
    source: Source | None = None
    group: str | None = None          # its spelling is checked by lead_assets/config/partition_scheme.py


class Appraisal(_Table):
    files: str | None = None
    columns: PropertyColumns | None = None


def _city_keys(value):
    if isinstance(value, dict):
        seen = set()
        for key in value:
            if not _CITY_KEY.match(key):
                raise _problem("a city key must be letters, digits, _ or - (it names partitions and folders)", key)
            if key.lower() in seen:           # Settings lower-case the keys
                raise _problem("the same city twice (city keys ignore case)", key)
            seen.add(key.lower())
    return value


class LeadsToml(_Table):
    unknown: ClassVar[str] = "unknown section"
    paths: Paths | None = None
    partitions: Partitions | None = None
    freshness_days: FreshnessDays | None = None
    automation: Automation | None = None
    cities: Annotated[dict[str, City], BeforeValidator(_city_keys)] | None = None
    appraisal: Appraisal | None = None
    warehouse: Warehouse | None = None


# ------------------------------------------------------------------ errors -> one line

_KIND = {"string_type": "text", "int_type": "a whole number", "float_type": "a number",
         "bool_type": "true or false", "dict_type": "a table", "model_type": "a table",
         "model_attributes_type": "a table", "list_type": "a list"}
_BOUND = {"greater_than_equal": ("at least", "ge"), "greater_than": ("more than", "gt"),
          "less_than_equal": ("at most", "le"), "less_than": ("less than", "lt")}


def _dotted(parts) -> str:
    return ".".join(p if re.fullmatch(r"[A-Za-z0-9_-]+", p) else json.dumps(p) for p in map(str, parts))


def describe(error: dict) -> str:
    """One pydantic error -> `dotted.key: what is wrong`."""
    ctx = error.get("ctx") or {}
    loc = [*error["loc"], *([ctx["key"]] if ctx.get("key") else [])]
    kind, value = error["type"], error.get("input")
    if kind == "leads_config":
        text = ctx["message"]
    elif kind in _KIND:
        text = f"must be {_KIND[kind]}, not {_show(value)}"
    elif kind in _BOUND:
        words, name = _BOUND[kind]
        text = f"must be {words} {ctx[name]}, not {_show(value)}"
    elif kind == "literal_error":
        text = f"must be {ctx['expected']}, not {_show(value)}"
    else:
        text = error["msg"]
    return f"{_dotted(loc) or 'the file'}: {text}"


def check(raw: dict) -> str | None:
    """None if `raw` (the parsed TOML) fits the schema, else one line saying what does not."""
    try:
        LeadsToml.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return describe(errors[0]) + more
    return None
