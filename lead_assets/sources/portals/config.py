"""`[cities.<key>.source]`: where a city's permits come from (a file drop, Socrata, ArcGIS).

Only the *name* of the environment variable holding a Socrata app token is configuration;
the token itself is read when a pull starts and never stored, logged or written.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from lead_assets.config.errors import ConfigError

_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")   # a field name we may splice into a query

# What each kind's responses look like once in the landing folder (read by sources.py).
DATE_FORMATS = {
    # SODA floating timestamps: 2026-11-27T00:00:00.000 (%g = milliseconds in DuckDB's strptime)
    "socrata": ("%Y-%m-%dT%H:%M:%S.%g", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"),
    # ArcGIS dates are epoch milliseconds (UTC); sources.py renders them in partitions.timezone
    "arcgis": ("%Y-%m-%dT%H:%M:%S",),
}

@dataclass(frozen=True)
class PortalSource:
    kind: str                           # socrata | arcgis
    date_field: str                     # the field a day is filtered and ordered by
    timezone: str                       # partitions.timezone: what "a day" means
    domain: str = ""                    # socrata: data.austintexas.gov (or a full base URL)
    dataset: str = ""                   # socrata: the 4x4 id, e.g. 3syk-w9eu
    app_token_env: str | None = None    # socrata: name of the env var holding the app token
    url: str = ""                       # arcgis: .../FeatureServer/0 or .../MapServer/3
    where: str = ""                     # extra filter (SoQL / ArcGIS SQL), ANDed with the day
    object_id_field: str = "OBJECTID"   # arcgis: tie-breaker of the stable order
    page_size: int = 1000
    timeout_seconds: float = 30.0
    max_attempts: int = 5               # per page, counting the first try
    max_retry_wait_seconds: float = 60.0

    @property
    def label(self) -> str:
        """What the source is, for errors and metadata (never holds a secret)."""
        if self.kind == "socrata":
            return f"Socrata dataset {self.dataset} on {self.domain}"
        return f"ArcGIS layer {self.url}"


def parse_source(city: str, raw: dict | None, timezone: str) -> PortalSource | None:
    """The `[cities.<city>.source]` table; None for a file drop (no table, or kind = "file").

    Its keys and their types were checked against the schema (lead_assets/config/schema.py)."""
    where = f"[cities.{city}.source]"
    kind = (raw or {}).get("kind", "file")
    if kind == "file":
        return None
    required = ("domain", "dataset", "date_field") if kind == "socrata" else ("url", "date_field")
    missing = [k for k in required if not raw.get(k)]
    if missing:
        raise ConfigError(f"{where}: kind {kind!r} needs {', '.join(missing)}")
    for name in ("date_field", "object_id_field"):
        if name in raw and not _FIELD.match(raw[name]):
            raise ConfigError(f"{where}: {name} must be a plain field name, not {raw[name]!r}")
    return PortalSource(kind=kind, timezone=timezone, **{k: v for k, v in raw.items() if k != "kind"})
