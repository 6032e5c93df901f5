"""A pulled day in the landing folder: `<landing>/<city>/<day>/<day>.p0001.json ...` plus a
`_pull.meta` manifest (what was fetched, when; never a secret).

A day's folder appears only when every page of the day arrived: the pages are written into
`<city>/.partial/` and the folder is renamed into place in one step, so ingest never sees half a
day and a failed pull leaves nothing behind. Page files keep the response bytes as received, so
a replay reads exactly what the portal sent.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

MANIFEST = "_pull.meta"   # not *.json: the city's landing glob must not read it as permits


@dataclass(frozen=True)
class Page:
    raw: bytes      # the response body, as received
    rows: int
    url: str        # public URL (no secret)


def landing_glob(city: str) -> str:
    """The default landing glob of a portal city: every page of every pulled day."""
    return f"{city}/*/*.json"


def day_dir(landing_dir: Path, city: str, day: date) -> Path:
    return landing_dir / city / day.isoformat()


def read_manifest(landing_dir: Path, city: str, day: date) -> dict | None:
    """The manifest of a completely pulled day, or None when the day was not pulled."""
    path = day_dir(landing_dir, city, day) / MANIFEST
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def write_day(landing_dir: Path, city: str, day: date, pages: list[Page], manifest: dict) -> Path:
    """Put a whole day in place at once (replacing an earlier pull of it)."""
    final = day_dir(landing_dir, city, day)
    partial = landing_dir / city / ".partial"
    partial.mkdir(parents=True, exist_ok=True)
    tmp = partial / f"{day}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        for n, page in enumerate(pages, 1):
            (tmp / f"{day}.p{n:04d}.json").write_bytes(page.raw)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        old = None
        if final.exists():
            old = partial / f"{day}-replaced-{uuid.uuid4().hex[:8]}"
            os.replace(final, old)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return final

