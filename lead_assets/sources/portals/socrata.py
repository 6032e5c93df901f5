"""Socrata SODA: one day of a dataset, paged with $limit / $offset under a stable $order.

    GET https://<domain>/resource/<dataset>.json
        ?$where=issue_date >= '2026-11-27T00:00:00' AND issue_date < '2026-11-28T00:00:00'
        &$order=issue_date,:id&$limit=1000&$offset=0

The response is a JSON array of row objects (floating timestamps, values as text). A page
shorter than $limit is the last one. The app token goes in the X-App-Token header.
"""
from __future__ import annotations

from datetime import date, timedelta

from lead_assets.sources.portals.config import PortalSource
from lead_assets.sources.portals.http import PortalClient, PortalError
from lead_assets.sources.portals.pages import Page


def endpoint(source: PortalSource) -> str:
    base = source.domain if "://" in source.domain else f"https://{source.domain}"
    return f"{base.rstrip('/')}/resource/{source.dataset}.json"


def day_where(source: PortalSource, day: date) -> str:
    # Floating timestamps are the city's local time, so the day's bounds are plain local times.
    f = source.date_field
    where = f"{f} >= '{day}T00:00:00' AND {f} < '{day + timedelta(days=1)}T00:00:00'"
    return f"{where} AND ({source.where})" if source.where else where


def fetch_day(client: PortalClient, source: PortalSource, day: date, max_pages: int = 10_000) -> list[Page]:
    params = {"$where": day_where(source, day), "$order": f"{source.date_field},:id", "$limit": source.page_size}
    pages: list[Page] = []
    offset = 0
    while True:
        body, raw, url = client.get_json(endpoint(source), {**params, "$offset": offset})
        if not isinstance(body, list):
            raise PortalError(f"{client.what}: expected a JSON array of rows, got {type(body).__name__} [{url}]")
        pages.append(Page(raw, len(body), url))
        offset += len(body)
        if len(body) < source.page_size:
            return pages
        if len(pages) >= max_pages:
            raise PortalError(f"{client.what}: more than {max_pages} pages for {day}; stopped")
