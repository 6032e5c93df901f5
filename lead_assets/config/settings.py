"""Project settings: one TOML file (`leads.toml`) plus environment overrides.

Adding a city is a `[cities.<key>]` entry in that file; nothing in the code names a city.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from lead_assets.config.errors import ConfigError
from lead_assets.config.fields import CANONICAL_FIELDS, REQUIRED_FIELDS
from lead_assets.config.partition_scheme import PartitionScheme, SchemeError
from lead_assets.config.schema import check
from lead_assets.leads.classify import CityRules, RulesError
from lead_assets.leads.projects import ProjectRules
from lead_assets.sources.portals.config import DATE_FORMATS, PortalSource, parse_source
from lead_assets.sources.portals.pages import landing_glob
from lead_assets.warehouse.connection import DEFAULT_THREADS

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class CitySource:
    key: str
    name: str
    landing: str                      # glob under the landing folder
    format: str                       # csv | json
    date_formats: tuple[str, ...]
    columns: dict[str, str]           # canonical field -> source column
    classify: CityRules = field(default_factory=CityRules)  # [cities.<key>.classify]: type map, number codes
    source: PortalSource | None = None  # [cities.X.source]: a Socrata / ArcGIS portal; None = file drop
    projects: object | None = None    # ProjectRules from [cities.<key>.projects] (lead_assets/leads/projects.py)

    def __post_init__(self) -> None:
        if self.format not in ("csv", "json"):
            raise ConfigError(f"city {self.key!r}: format must be csv or json, not {self.format!r}")
        missing = [f for f in REQUIRED_FIELDS if f not in self.columns]
        if missing:
            raise ConfigError(f"city {self.key!r}: no column mapped for {', '.join(missing)}")
        unknown = sorted(set(self.columns) - set(CANONICAL_FIELDS))
        if unknown:
            raise ConfigError(f"city {self.key!r}: unknown canonical field(s) {', '.join(unknown)}")


@dataclass(frozen=True)
class AppraisalSource:
    files: str                        # glob under the appraisal folder
    columns: dict[str, str]           # property field -> source column


@dataclass(frozen=True)
class AutomationSettings:
    """`[automation]`: the Dagster schedule and sensors (see docs/operations.md)."""
    daily_time: str = "05:30"          # local time of the daily run (yesterday's partitions, every city)
    retry_time: str = "06:00"          # local time of the daily retry of RETRY rows
    autostart: bool | tuple[str, ...] = True  # on when the daemon starts: all, none, or these names
    scorer: str | None = None          # scorer of scheduled/retry runs (None: LEADS_SCORER or rules)
    exports_check_seconds: int = 30    # how often the exports sensor looks for new scores
    retry_check_seconds: int = 60      # how often the retry sensor looks at the clock
    late_after_minutes: int = 120      # scored_leads shows late when not scored by daily_time + this

    def __post_init__(self) -> None:
        for name in ("daily_time", "retry_time"):
            self.clock(name)
        if not isinstance(self.autostart, bool):
            names = tuple(self.autostart) if isinstance(self.autostart, (list, tuple)) else None
            known = ("daily_schedule", "retry_sensor", "exports_sensor")
            if names is None or any(n not in known for n in names):
                raise ConfigError(f"[automation] autostart must be true, false or a list of {', '.join(known)}")
            object.__setattr__(self, "autostart", names)
        if self.scorer not in (None, "rules", "reasoner"):
            raise ConfigError(f"[automation] scorer must be rules or reasoner, not {self.scorer!r}")
        for name in ("exports_check_seconds", "retry_check_seconds"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ConfigError(f"[automation] {name} must be a positive whole number")
        # The freshness window [daily_time, daily_time + late] must fit in one day (Dagster's cron policy).
        late = self.late_after_minutes
        if not isinstance(late, int) or isinstance(late, bool) or not 1 <= late <= 1439:
            raise ConfigError(f"[automation] late_after_minutes must be a whole number of minutes "
                              f"from 1 to 1439, not {late!r}")

    def starts(self, name: str) -> bool:
        """Is the schedule / sensor `name` on when the daemon starts?"""
        return self.autostart if isinstance(self.autostart, bool) else name in self.autostart

    def clock(self, name: str) -> tuple[int, int]:
        """(hour, minute) of daily_time / retry_time ("HH:MM", 24-hour)."""
        text = str(getattr(self, name))
        try:
            hour, minute = (int(x) for x in text.split(":"))
        except ValueError:
            hour = minute = -1
        if not (0 <= hour < 24 and 0 <= minute < 60):
            raise ConfigError(f"[automation] {name} must be HH:MM (24-hour), not {text!r}")
        return hour, minute


@dataclass(frozen=True)
class WarehouseSettings:
    """`[warehouse]`: which engine holds the warehouse tables (lead_assets/warehouse/connection.py).

    backend "duckdb" (the default) is the embedded file at [paths] warehouse, one writer
    process at a time behind a file lock. "ducklake" keeps the tables in DuckLake: the
    catalog in PostgreSQL (its DSN read from the environment variable named by catalog_env,
    so no secret sits in a file) and the Parquet data files under data_path, with no file
    lock: several processes or machines write at once and retry on transaction conflicts.
    """
    backend: str = "duckdb"                    # duckdb | ducklake
    catalog_env: str = "LEADS_LAKE_CATALOG"    # env var holding the catalog's Postgres DSN
    data_path: str = "data/lake"               # DuckLake data files (relative to leads.toml, or a URL)
    threads: int | str = DEFAULT_THREADS       # DuckDB threads per process, or "auto": all cores

    def __post_init__(self) -> None:
        if self.backend not in ("duckdb", "ducklake"):
            raise ConfigError(f"[warehouse] backend must be duckdb or ducklake, not {self.backend!r}")
        for name in ("catalog_env", "data_path"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ConfigError(f"[warehouse] {name} must be a non-empty string")

    @classmethod
    def from_toml(cls, raw: dict, base: Path) -> "WarehouseSettings":
        out = cls(**raw)   # keys and types: config_schema.Warehouse
        if "://" in out.data_path:   # object storage (s3://...): DuckLake takes the URL as it is
            return out
        return replace(out, data_path=str((base / out.data_path).resolve()))


def _city_rules(city: str, raw: dict) -> CityRules:
    try:
        return CityRules.from_toml(city, raw)
    except RulesError as exc:
        raise ConfigError(str(exc)) from None


@dataclass(frozen=True)
class Settings:
    config_path: Path
    warehouse_path: Path
    landing_dir: Path
    appraisal_dir: Path
    exports_dir: Path
    start_date: date
    timezone: str
    cities: dict[str, CitySource]
    appraisal: AppraisalSource
    freshness_days: dict[str, int] = field(default_factory=dict)
    today_override: date | None = None
    automation: AutomationSettings = field(default_factory=AutomationSettings)
    partition_scheme: PartitionScheme = field(default_factory=PartitionScheme)  # [partitions] scheme
    warehouse: WarehouseSettings = field(default_factory=WarehouseSettings)

    @property
    def lock_path(self) -> Path:
        return self.warehouse_path.with_name(self.warehouse_path.name + ".lock")

    def today(self) -> date:
        """The export day: LEADS_TODAY pins it (tests, replays); else today in the project's zone."""
        return self.today_override or datetime.now(ZoneInfo(self.timezone)).date()

    def city(self, key: str) -> CitySource:
        try:
            return self.cities[key.lower()]
        except KeyError:
            raise ConfigError(
                f"unknown city {key!r}; configured cities: {', '.join(sorted(self.cities))}"
            ) from None

    def select_cities(self, keys: list[str] | None) -> list[str]:
        """Validate a user's city selection (all configured cities when empty)."""
        if not keys:
            return list(self.cities)
        return [self.city(k).key for k in keys]

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides) -> "Settings":
        path = Path(path or os.environ.get("LEADS_CONFIG") or PROJECT_ROOT / "leads.toml").resolve()
        try:
            raw = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        problem = check(raw)
        if problem:
            raise ConfigError(f"{path}: {problem}")
        today = overrides.get("today") or os.environ.get("LEADS_TODAY")
        try:
            today = date.fromisoformat(str(today)) if today else None
        except ValueError:
            raise ConfigError(f"LEADS_TODAY={today!r} is not a date (YYYY-MM-DD)") from None
        try:
            settings = cls._build(path, raw, overrides, today)
        except ConfigError as exc:               # a builder's check: say which file
            raise ConfigError(f"{path}: {exc}") from None
        # connect(settings.warehouse_path) follows [warehouse] (the lake, the thread count). Only
        # a loaded config does this: a copy made with replace(settings, warehouse_path=scratch)
        # (dry runs, the quality eval) stays a local DuckDB file and never writes to the lake.
        from lead_assets.warehouse.connection import use_warehouse
        use_warehouse(settings.warehouse_path, settings.warehouse)
        return settings

    @classmethod
    def _build(cls, path: Path, raw: dict, overrides: dict, today: date | None) -> "Settings":
        """Settings from a `raw` TOML that fits the schema (lead_assets/config/schema.py)."""
        base = path.parent
        paths = raw.get("paths", {})

        def where(env: str, key: str, default: str) -> Path:
            value = overrides.get(key) or os.environ.get(env) or paths.get(key, default)
            return (base / value).resolve()


        cities = {}
        timezone = raw.get("partitions", {}).get("timezone", "America/Chicago")
        for key, entry in raw.get("cities", {}).items():
            source = parse_source(key.lower(), entry.get("source"), timezone)
            formats = entry.get("date_format", DATE_FORMATS[source.kind] if source else "%Y-%m-%d")
            cities[key.lower()] = CitySource(
                key=key.lower(),
                name=entry.get("name", key.title()),
                # A portal city's landing folder holds the pulled pages (JSON), one folder per day.
                landing=entry.get("landing", landing_glob(key.lower()) if source else f"{key}/*"),
                format=entry.get("format", "json" if source else "csv"),
                date_formats=tuple([formats] if isinstance(formats, str) else formats),
                columns=dict(entry.get("columns", {})),
                classify=_city_rules(key.lower(), entry.get("classify", {})),
                source=source,
                projects=ProjectRules.from_toml(key, entry["projects"]) if "projects" in entry else None,
            )
        if not cities:
            raise ConfigError("no [cities.*] entries")
        cad = raw.get("appraisal", {})
        missing = [f for f in ("prop_id", "situs_address", "situs_city") if f not in cad.get("columns", {})]
        if missing:
            raise ConfigError(f"[appraisal.columns] must map {', '.join(missing)}")
        try:
            scheme = PartitionScheme.from_toml(raw.get("partitions", {}),
                                               {k.lower(): v for k, v in raw.get("cities", {}).items()})
        except SchemeError as exc:
            raise ConfigError(str(exc)) from None
        return cls(
            config_path=path,
            warehouse_path=where("LEADS_WAREHOUSE", "warehouse", "warehouse.duckdb"),
            landing_dir=where("LEADS_LANDING", "landing", "data/landing"),
            appraisal_dir=where("LEADS_APPRAISAL", "appraisal", "data/cad"),
            exports_dir=where("LEADS_EXPORTS", "exports", "exports"),
            start_date=date.fromisoformat(str(raw.get("partitions", {}).get("start_date", "2026-10-01"))),
            timezone=timezone,
            cities=cities,
            appraisal=AppraisalSource(files=cad.get("files", "*.csv"), columns=dict(cad["columns"])),
            freshness_days=dict(raw.get("freshness_days", {})),
            today_override=today,
            automation=AutomationSettings(**raw.get("automation", {})),
            partition_scheme=scheme,
            warehouse=WarehouseSettings.from_toml(raw.get("warehouse", {}), base),
        )
