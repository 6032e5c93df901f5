"""A loopback HTTP server speaking the two open-data APIs the portal sources use, with their
real response shapes, for tests (no network):

* Socrata SODA  ``GET /resource/<dataset>.json?$where=..&$order=..&$limit=..&$offset=..``:
  a JSON array of row objects, values as text, floating timestamps (``2015-03-05T00:00:00.000``);
  errors as ``{"code": .., "error": true, "message": ..}`` with the HTTP status.
* ArcGIS REST   ``GET /arcgis/rest/services/<name>/FeatureServer/0/query?where=..&orderByFields=..
  &resultOffset=..&resultRecordCount=..&f=json``: ``{"objectIdFieldName", "fields", "features":
  [{"attributes": {..}}], "exceededTransferLimit": true}`` (the flag left out on the last page,
  the fields left out of an empty set), dates as epoch milliseconds (UTC), at most
  ``max_record_count`` features a page; errors as HTTP 200 with ``{"error": {"code", "message"}}``.

Rows are stored out of order; only the requested order makes paging stable. Faults are scripted
per request (status, Retry-After, on which offset, how many times), every request is recorded.
"""
from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

SODA_WHERE = re.compile(r"^(\w+) >= '([^']+)' AND \1 < '([^']+)'(?: AND \((.*)\))?$")
ARC_WHERE = re.compile(r"^(?:\((.*)\) AND )?(\w+) >= TIMESTAMP '([^']+)' AND \2 < TIMESTAMP '([^']+)'$")
ARC_PATH = re.compile(r"^/arcgis/rest/services/([^/]+)/(?:FeatureServer|MapServer)/(\d+)/query$")


@dataclass
class Fault:
    api: str                      # socrata | arcgis
    status: int                   # HTTP status (arcgis: also the error code in a 200 body if in_body)
    offset: int | None = None     # only the request of this page (None: any)
    times: int = 1                # how many requests get it
    retry_after: str | None = None
    in_body: bool = False         # arcgis style: HTTP 200 with {"error": ...}
    delay: float = 0.0            # answer normally, but only after this many seconds (a timeout)


@dataclass
class PortalState:
    soda: dict[str, list[dict]] = field(default_factory=dict)       # dataset -> rows
    soda_token: str | None = None                                   # required X-App-Token, if set
    arcgis: dict[str, list[dict]] = field(default_factory=dict)     # service name -> attributes
    arcgis_fields: dict[str, list[dict]] = field(default_factory=dict)
    max_record_count: int = 1000
    faults: list[Fault] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)              # path, params, headers
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fault_for(self, api: str, offset: int) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.api == api and fault.times > 0 and fault.offset in (None, offset):
                    fault.times -= 1
                    return fault
        return None


def _epoch_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp() * 1000)


class _Handler(BaseHTTPRequestHandler):
    state: PortalState

    def log_message(self, *args) -> None:   # quiet
        pass

    def _send(self, status: int, body, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        params = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        with self.state.lock:
            self.state.requests.append({"path": url.path, "params": params, "headers": dict(self.headers)})
        if url.path.startswith("/resource/"):
            return self._soda(url.path, params)
        match = ARC_PATH.match(url.path)
        if match:
            return self._arcgis(match.group(1), params)
        self._send(404, {"code": "not_found", "error": True, "message": f"no route {url.path}"})

    # ---------------------------------------------------------------- Socrata
    def _soda(self, path: str, params: dict) -> None:
        dataset = path.removeprefix("/resource/").removesuffix(".json")
        if dataset not in self.state.soda:
            return self._send(404, {"code": "not_found", "error": True,
                                    "message": f"Dataset {dataset} not found"})
        if self.state.soda_token and self.headers.get("X-App-Token") != self.state.soda_token:
            # (Echoing the token back checks that the client never repeats what a server says.)
            return self._send(401, {"code": "authentication_required", "error": True,
                                    "message": f"Invalid app_token specified: {self.headers.get('X-App-Token')}"})
        offset, limit = int(params.get("$offset", 0)), int(params.get("$limit", 1000))
        fault = self.state.fault_for("socrata", offset)
        if fault and fault.delay:
            time.sleep(fault.delay)
        elif fault:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return self._send(fault.status, {"code": "fault", "error": True, "message": f"scripted {fault.status}"},
                              headers)
        match = SODA_WHERE.match(params.get("$where", ""))
        if not match:
            return self._send(400, {"code": "query.soql.invalid", "error": True,
                                    "message": f"unsupported $where {params.get('$where')!r}"})
        fld, low, high, _extra = match.groups()
        rows = [r for r in self.state.soda[dataset] if r.get(fld) and low <= r[fld] < high]
        order = [o.strip() for o in params.get("$order", "").split(",") if o.strip()]
        rows.sort(key=lambda r: tuple(r.get(o, "") for o in order))
        self._send(200, [{k: v for k, v in r.items() if k != ":id"} for r in rows[offset:offset + limit]])

    # ---------------------------------------------------------------- ArcGIS
    def _arcgis(self, name: str, params: dict) -> None:
        if name not in self.state.arcgis:
            return self._send(200, {"error": {"code": 400, "message": "Invalid URL", "details": []}})
        offset = int(params.get("resultOffset", 0))
        fault = self.state.fault_for("arcgis", offset)
        if fault:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            body = {"error": {"code": fault.status, "message": f"scripted {fault.status}", "details": []}}
            return self._send(200 if fault.in_body else fault.status, body, headers)
        match = ARC_WHERE.match(params.get("where", ""))
        if not match:
            return self._send(200, {"error": {"code": 400, "message": "Unable to complete operation.",
                                              "details": [f"bad where {params.get('where')!r}"]}})
        _extra, fld, low, high = match.groups()
        low_ms, high_ms = _epoch_ms(low), _epoch_ms(high)
        rows = [a for a in self.state.arcgis[name] if a.get(fld) is not None and low_ms <= a[fld] < high_ms]
        order = [o.split()[0] for o in params.get("orderByFields", "").split(",") if o.strip()]
        rows.sort(key=lambda a: tuple(a.get(o) or 0 for o in order))
        count = min(int(params.get("resultRecordCount", self.state.max_record_count)), self.state.max_record_count)
        page = rows[offset:offset + count]
        body: dict = {"objectIdFieldName": "OBJECTID", "globalIdFieldName": "",
                      "features": [{"attributes": a} for a in page]}
        if page:
            body["fields"] = self.state.arcgis_fields[name]
        if offset + len(page) < len(rows):
            body["exceededTransferLimit"] = True
        self._send(200, body)


class PortalServer:
    """``with PortalServer(state) as server: server.url`` -- http://127.0.0.1:<free port>."""

    def __init__(self, state: PortalState):
        self.state = state
        handler = type("Handler", (_Handler,), {"state": state})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "PortalServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
