"""One HTTP GET with the behaviour a portal needs: timeouts, bounded retries with backoff on
429 / 5xx / network errors (honouring Retry-After), and one-line errors that name the city
and dataset. Secrets travel in headers only, so no URL we log or record carries one."""
from __future__ import annotations

import email.utils
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

import httpx2 as httpx

log = logging.getLogger(__name__)

RETRY_STATUSES = {429, 500, 502, 503, 504}
HINTS = {
    401: "the portal refused the credentials (check the app token's environment variable)",
    403: "access forbidden (private dataset, or the token lacks access)",
    404: "no such dataset / layer (check the id or URL in leads.toml)",
}
SECRET_PARAMS = {"token", "app_token", "$$app_token", "apikey", "api_key", "key"}


class PortalError(RuntimeError):
    """A pull that cannot complete; the message is one line naming the city and the source."""


def public_url(url: httpx.URL | str) -> str:
    """The URL as it may be shown: secret-looking query parameters masked (defensive; we send
    secrets as headers)."""
    url = httpx.URL(str(url))
    params = [(k, "***" if k.lower() in SECRET_PARAMS else v) for k, v in url.params.multi_items()]
    return str(url.copy_with(params=params))


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


@dataclass
class PortalClient:
    """GET JSON from one source. `what` names city and dataset in every error."""
    what: str
    timeout: float = 30.0
    max_attempts: int = 5
    backoff: float = 1.0                 # first wait without Retry-After; doubles each retry
    max_wait: float = 60.0               # cap on any single wait (Retry-After included)
    headers: dict[str, str] = field(default_factory=dict)
    sleep: Callable[[float], None] = time.sleep
    transport: httpx.BaseTransport | None = None
    retries: int = 0                     # retries made so far (metadata)
    waits: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._http = httpx.Client(
            timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)), headers=self.headers,
            transport=self.transport, follow_redirects=True,
            # The proxy settings of the environment are not the portal's business.
            trust_env=False)

    def _scrub(self, text: str) -> str:
        """A server may echo what it was sent; no header value (a token) leaves this client."""
        for value in self.headers.values():
            if len(value) >= 8:
                text = text.replace(value, "***")
        return text

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "PortalClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def get_json(self, url: str, params: dict, *, body_error: Callable[[object], tuple[int, str] | None] = None
                 ) -> tuple[object, bytes, str]:
        """(parsed JSON, raw bytes, public URL). body_error maps a 200 body that reports an error
        (ArcGIS does that) to (status, message), handled like that HTTP status."""
        last = ""
        for attempt in range(1, self.max_attempts + 1):
            wait_hint = None
            try:
                response = self._http.get(url, params=params)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                status, last = None, self._scrub(f"{type(exc).__name__}: {exc}")
                shown = public_url(httpx.URL(url, params=params))
            else:
                shown = public_url(response.request.url)
                status = response.status_code
                message = self._scrub(_message(response))
                if status == 200:
                    try:
                        body = response.json()
                    except ValueError:
                        raise PortalError(f"{self.what}: not JSON from {shown}") from None
                    reported = body_error(body) if body_error else None
                    if reported is None:
                        return body, response.content, shown
                    status, message = reported
                last = f"HTTP {status}" + (f" ({message})" if message else "")
                if status not in RETRY_STATUSES:
                    hint = HINTS.get(status)
                    raise PortalError(f"{self.what}: {last}" + (f": {hint}" if hint else "") + f" [{shown}]")
                wait_hint = retry_after(response.headers.get("Retry-After"))
            if attempt == self.max_attempts:
                break
            wait = min(self.max_wait, wait_hint if wait_hint is not None else self.backoff * 2 ** (attempt - 1))
            log.warning("%s: %s, retry %d of %d in %.1fs", self.what, last, attempt, self.max_attempts - 1, wait)
            self.retries += 1
            self.waits.append(wait)
            self.sleep(wait)
        raise PortalError(f"{self.what}: gave up after {self.max_attempts} attempts, last {last} [{shown}]")


def _message(response: httpx.Response) -> str:
    """The portal's own one-line error message, if it sent one (SODA: {"message": ...})."""
    if response.status_code == 200:
        return ""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        text = inner.get("message") or ""
        return " ".join(str(text).split())[:200]
    return ""


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
