"""Pull city x day partitions from their portals into the landing folder."""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from datetime import date

from lead_assets.sources.portals import arcgis, socrata
from lead_assets.sources.portals.config import PortalSource
from lead_assets.sources.portals.http import PortalClient, PortalError, now_utc
from lead_assets.sources.portals.pages import read_manifest, write_day
from lead_assets.config.settings import Settings

log = logging.getLogger(__name__)
FETCHERS = {"socrata": socrata, "arcgis": arcgis}


@dataclass
class DayPull:
    city: str
    day: date
    status: str                     # fetched | already fetched | file drop | failed
    manifest: dict = field(default_factory=dict)
    error: str | None = None


def _client(city: str, source: PortalSource, **overrides) -> PortalClient:
    headers = {"Accept": "application/json"}
    if source.kind == "socrata" and source.app_token_env:
        token = os.environ.get(source.app_token_env)
        if token:
            headers["X-App-Token"] = token
        else:
            log.warning("city %r: %s is not set; pulling without an app token (lower rate limits)",
                        city, source.app_token_env)
    return PortalClient(what=f"city {city!r}: {source.label}", timeout=source.timeout_seconds,
                        max_attempts=source.max_attempts, max_wait=source.max_retry_wait_seconds,
                        headers=headers, **overrides)


def pull_day(settings: Settings, city: str, day: date, *, refetch: bool = False, **client_overrides) -> DayPull:
    """Fetch one day of one city (unless already fetched); the day lands whole or not at all."""
    cfg = settings.city(city)
    source: PortalSource | None = cfg.source
    if source is None:
        return DayPull(cfg.key, day, "file drop")
    done = read_manifest(settings.landing_dir, cfg.key, day)
    if done is not None and not refetch:
        return DayPull(cfg.key, day, "already fetched", done)
    started = time.monotonic()
    with _client(cfg.key, source, **client_overrides) as client:
        try:
            pages = FETCHERS[source.kind].fetch_day(client, source, day)
        except PortalError as exc:
            return DayPull(cfg.key, day, "failed", error=f"{day}: {exc}")
        manifest = {
            "city": cfg.key, "day": day.isoformat(), "kind": source.kind, "source": source.label,
            "url": pages[0].url, "page_urls": [p.url for p in pages], "pages": len(pages),
            "rows": sum(p.rows for p in pages), "rows_per_page": [p.rows for p in pages],
            "retries": client.retries, "fetched_at": now_utc(),
            "seconds": round(time.monotonic() - started, 3), "refetch": done is not None,
        }
    write_day(settings.landing_dir, cfg.key, day, pages, manifest)
    return DayPull(cfg.key, day, "fetched", manifest)


def pull(settings: Settings, parts: list[tuple[str, date]], *, refetch: bool = False,
         **client_overrides) -> list[DayPull]:
    """Every partition is tried; a failed one leaves no files and is reported, the others land."""
    return [pull_day(settings, city, day, refetch=refetch, **client_overrides) for city, day in parts]
