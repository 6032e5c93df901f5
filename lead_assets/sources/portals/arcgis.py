"""ArcGIS REST (FeatureServer / MapServer layer) `query`: one day, paged with resultOffset /
resultRecordCount under a stable orderByFields, until exceededTransferLimit is no longer true.

    GET <layer url>/query?where=(<where>) AND issued >= TIMESTAMP '2026-11-27 06:00:00' AND
        issued < TIMESTAMP '2026-11-28 06:00:00'&outFields=*&returnGeometry=false
        &orderByFields=issued ASC,OBJECTID ASC&resultOffset=0&resultRecordCount=1000&f=json

The response is {"fields": [...], "features": [{"attributes": {...}}], "exceededTransferLimit":
true?}; date fields are epoch milliseconds (UTC), so the local day's bounds are sent in UTC.
Errors may come back as HTTP 200 with {"error": {"code": 498, "message": ...}}.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from lead_assets.sources.portals.config import PortalSource
from lead_assets.sources.portals.http import PortalClient, PortalError
from lead_assets.sources.portals.pages import Page

# ArcGIS error codes in a 200 body that mean an HTTP status of the same kind.
_BODY_CODES = {498: 401, 499: 401, 401: 401, 403: 403, 404: 404, 400: 400, 429: 429, 500: 500, 503: 503, 504: 504}


def endpoint(source: PortalSource) -> str:
    url = source.url.rstrip("/")
    return url if url.endswith("/query") else f"{url}/query"


def utc_bounds(source: PortalSource, day: date) -> tuple[str, str]:
    zone = ZoneInfo(source.timezone)
    start, end = (datetime.combine(d, time(0), tzinfo=zone).astimezone(timezone.utc)
                  for d in (day, day + timedelta(days=1)))
    return f"{start:%Y-%m-%d %H:%M:%S}", f"{end:%Y-%m-%d %H:%M:%S}"


def day_where(source: PortalSource, day: date) -> str:
    start, end = utc_bounds(source, day)
    f = source.date_field
    where = f"{f} >= TIMESTAMP '{start}' AND {f} < TIMESTAMP '{end}'"
    return f"({source.where}) AND {where}" if source.where else where


def body_error(body) -> tuple[int, str] | None:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        code = err.get("code") if isinstance(err.get("code"), int) else 500
        message = " ".join(str(err.get("message") or "").split())[:200]
        return _BODY_CODES.get(code, 400 if 400 <= code < 500 else 500), f"ArcGIS error {code}: {message}"
    return None


def fetch_day(client: PortalClient, source: PortalSource, day: date, max_pages: int = 10_000) -> list[Page]:
    params = {"where": day_where(source, day), "outFields": "*", "returnGeometry": "false",
              "orderByFields": f"{source.date_field} ASC,{source.object_id_field} ASC",
              "resultRecordCount": source.page_size, "f": "json"}
    pages: list[Page] = []
    offset = 0
    while True:
        body, raw, url = client.get_json(endpoint(source), {**params, "resultOffset": offset},
                                         body_error=body_error)
        features = body.get("features") if isinstance(body, dict) else None
        if not isinstance(features, list):
            raise PortalError(f"{client.what}: expected a feature set with 'features' [{url}]")
        pages.append(Page(raw, len(features), url))
        # Rely on exceededTransferLimit, not the page's length: a server may return fewer
        # than asked (maxRecordCount), or even none, and still have more.
        offset += len(features) or source.page_size
        if not body.get("exceededTransferLimit"):
            return pages
        if len(pages) >= max_pages:
            raise PortalError(f"{client.what}: more than {max_pages} pages for {day}; stopped")
