"""Model calls: many at once, under an adaptive concurrency limit and a requests-per-minute limit.

* LEADS_CONCURRENCY is the ceiling; how many requests are in flight below it is learnt
  from the server's answers (adaptive.py), so a server with few slots is not flooded
  into timeouts and resends. Waiting for a local slot is not part of a request's timeout.

* asyncio + the official `openai.AsyncOpenAI` client with its own retries off
  (max_retries=0): this module decides what is retried, so every HTTP request passes
  the semaphore and the rate limiter and is counted.
* The rate limiter spaces request starts 60/rpm seconds apart (no bursts), so no window
  of the server's clock sees more than the limit. A 429 pauses every worker until its
  Retry-After (retry-after-ms / retry-after seconds / HTTP date) has passed.
* 5xx, 408/409, timeouts and dropped connections are retried with capped exponential
  backoff and jitter, a bounded number of times; then the lead becomes a RETRY row.
* 401 / 403 / 404 and a 429 "insufficient_quota" are the server refusing us as a whole:
  the run stops at once with ReasonerFatalError (naming base URL and model, never the key).
* Other 4xx, and every answer that fails validation (invalid JSON, wrong values, refusal,
  truncation, content filter), make the lead a RETRY row with the reason; they are not
  retried in the same run (they were billed, and a retry run is one command away).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import email.utils
import functools
import json
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from lead_assets.reasoner.adaptive import AdaptiveLimit
from lead_assets.reasoner.config import ReasonerFatalError, ReasonerSettings
from lead_assets.reasoner.prompt import PROMPT_VERSION, messages
from lead_assets.reasoner.schema import Usage, Verdict, interpret_completion, response_format

BACKOFF_MAX = 8.0


@functools.lru_cache(maxsize=4)
def _response_format(bounds: str) -> dict:
    return response_format(bounds)


def request_body(cfg: ReasonerSettings, permit: dict) -> dict:
    """The Chat Completions request for one permit (the same body goes into Batch API lines)."""
    body: dict = {"model": cfg.model, "messages": messages(permit), "response_format": _response_format(cfg.bounds)}
    if cfg.is_openai:
        # Reasoning models take max_completion_tokens (reasoning tokens included); a stable
        # prompt_cache_key helps requests with the same prefix land on the same cache.
        body["max_completion_tokens"] = cfg.max_output_tokens
        body["prompt_cache_key"] = f"lead-assets-{PROMPT_VERSION}"
    else:
        body["max_tokens"] = cfg.max_output_tokens      # what llama.cpp / Ollama / vLLM all read
    if cfg.reasoning_effort:
        body["reasoning_effort"] = cfg.reasoning_effort
    if cfg.temperature is not None:
        body["temperature"] = cfg.temperature
    return body


@dataclass
class Request:
    key: str            # the input hash (also the Batch API custom_id)
    body: dict


@dataclass
class Outcome:
    key: str
    verdict: Verdict | None = None
    reason: str | None = None       # why there is no verdict (a RETRY reason)
    requests: int = 0               # HTTP requests made for this lead in this run
    usage: Usage = field(default_factory=Usage)
    pending: bool = False           # waiting in a Batch API job (not a failed attempt)

    @property
    def ok(self) -> bool:
        return self.verdict is not None


@dataclass
class CallStats:
    calls: int = 0                  # HTTP requests sent
    retries: int = 0
    rate_limited: int = 0           # 429s received
    usage: Usage = field(default_factory=Usage)
    in_flight: int = 0
    max_in_flight: int = 0
    seconds: float = 0.0
    starts: list[float] = field(default_factory=list)   # monotonic start time of every request
    effective_concurrency: float = 0.0   # mean requests in flight (see adaptive.py)
    peak_limit: int = 0                  # the highest concurrency the client allowed itself
    limit_decreases: int = 0             # times it backed off (slow answers, timeouts, 429, 503)


class RateLimiter:
    """At most `rpm` request starts per minute, with a global pause for 429s.

    A virtual-scheduling limiter (GCRA): each start moves a theoretical time on by 60/rpm
    seconds, and a request may start up to `burst` intervals ahead of it. So a waiter
    that wakes a few milliseconds late does not cost throughput, while any window of W
    seconds holds at most W x rpm / 60 + burst + 1 starts. Starts pass a FIFO gate.
    """

    def __init__(self, rpm: float, *, burst: int = 3, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 stopped: Callable[[], bool] = lambda: False) -> None:
        self.interval = 60.0 / rpm if rpm and rpm > 0 else 0.0
        self.stopped = stopped
        self.tolerance = self.interval * burst
        self.clock, self.sleep = clock, sleep
        self._tat = float("-inf")             # theoretical arrival time of the next request
        self._paused_until = float("-inf")
        self._gate: asyncio.Lock | None = None

    def pause(self, seconds: float) -> None:
        """Nobody starts a request for `seconds` (a 429 with Retry-After)."""
        self._paused_until = max(self._paused_until, self.clock() + seconds)

    async def acquire(self) -> float:
        """Wait for this request's turn; returns its start time."""
        if self._gate is None:
            self._gate = asyncio.Lock()
        async with self._gate:
            while not self.stopped():
                wait = max(self._tat - self.tolerance, self._paused_until) - self.clock()
                if wait <= 0:
                    break
                await self.sleep(wait)
            now = self.clock()
            self._tat = max(self._tat, now) + self.interval
            return now


def retry_after_seconds(headers) -> float | None:
    """Retry-After as seconds: retry-after-ms, retry-after (seconds or an HTTP date)."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(float(ms) / 1000.0, 0.0)
        except ValueError:
            pass
    ra = headers.get("retry-after")
    if not ra:
        return None
    try:
        return max(float(ra), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(ra)
        return max(when.timestamp() - time.time(), 0.0)
    except (TypeError, ValueError, IndexError):
        return None


class ModelCaller:
    """Runs many requests concurrently; see the module docstring for the policy."""

    def __init__(self, cfg: ReasonerSettings, *, log=None, rng: random.Random | None = None) -> None:
        self.cfg = cfg
        self.log = log
        self.stats = CallStats()
        self.rng = rng or random.Random()
        self.fatal_error: ReasonerFatalError | None = None   # set once: nobody sends after it
        self._stop: asyncio.Event | None = None

    async def _sleep(self, seconds: float) -> None:
        """asyncio.sleep that ends early when the run is stopping (a fatal error)."""
        if self._stop is None:
            await asyncio.sleep(seconds)
            return
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=max(seconds, 0.0))
        except (asyncio.TimeoutError, TimeoutError):
            pass

    # ------------------------------------------------------------------ policy
    def backoff(self, n: int) -> float:
        base = min(BACKOFF_MAX, self.cfg.backoff_base * (2 ** (n - 1)))
        return base * (0.5 + 0.5 * self.rng.random())

    def _message(self, exc, limit: int) -> str:
        body = getattr(exc, "body", None)
        msg = body.get("message") if isinstance(body, dict) and body.get("message") else getattr(exc, "message", exc)
        return self.cfg.scrub(msg, limit)

    def fatal(self, exc, what: str) -> ReasonerFatalError:
        status = getattr(exc, "status_code", "?")
        detail = self._message(exc, 160)
        return ReasonerFatalError(
            f"reasoner stopped: {what} (HTTP {status}) at {self.cfg.endpoint} for model {self.cfg.model!r}: "
            f"{detail} Check LEADS_OPENAI_API_KEY / OPENAI_API_KEY, LEADS_OPENAI_BASE_URL and LEADS_OPENAI_MODEL. "
            f"Stopped after {self.stats.calls} request(s); no leads were written, answers received so far are cached.")

    def classify(self, exc: BaseException) -> tuple[str, float | None, str]:
        """(kind, delay, reason): kind is fatal | rate_limited | transient | permanent."""
        import openai

        if isinstance(exc, openai.RateLimitError):
            if "quota" in str(getattr(exc, "code", "") or "") or "insufficient_quota" in str(exc):
                raise self.fatal(exc, "the account has no quota left")
            return "rate_limited", retry_after_seconds(exc.response.headers), "rate limited (HTTP 429)"
        if isinstance(exc, openai.AuthenticationError):
            raise self.fatal(exc, "the API key was rejected")
        if isinstance(exc, openai.PermissionDeniedError):
            raise self.fatal(exc, "permission denied")
        if isinstance(exc, openai.NotFoundError):
            raise self.fatal(exc, "model or endpoint not found")
        if isinstance(exc, openai.APITimeoutError):
            return "transient", None, f"timeout after {self.cfg.timeout:g}s"
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            return "transient", None, "connection error: " + self.cfg.scrub(f"{type(cause).__name__}: {cause}", 100)
        if isinstance(exc, openai.APIStatusError):
            msg = self._message(exc, 120)
            if exc.status_code >= 500 or exc.status_code in (408, 409):
                return "transient", retry_after_seconds(exc.response.headers), f"HTTP {exc.status_code}: {msg}"
            return "permanent", None, f"HTTP {exc.status_code}: {msg}"
        if isinstance(exc, openai.APIError):
            return "permanent", None, "bad response: " + self.cfg.scrub(exc, 120)
        if isinstance(exc, ValueError):
            return "permanent", None, "bad response: " + self.cfg.scrub(exc, 120)
        return "permanent", None, f"{type(exc).__name__}: {self.cfg.scrub(exc, 120)}"

    # ------------------------------------------------------------------ calls
    async def _one(self, client, limit: AdaptiveLimit, limiter: RateLimiter, req: Request) -> Outcome:
        cfg, stats = self.cfg, self.stats
        out = Outcome(key=req.key)
        transient = limited = 0
        while True:
            await limit.acquire()      # a local wait: the request (and its timeout) has not started
            try:
                stats.starts.append(await limiter.acquire())
                if self.fatal_error is not None:
                    raise self.fatal_error
                out.requests += 1
                stats.calls += 1
                stats.in_flight += 1
                stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
                sent = time.monotonic()
                try:
                    # The raw response: the answer is validated here, so the SDK need not build
                    # a ChatCompletion model per call (about 1 ms of CPU saved per request).
                    raw = await client.chat.completions.with_raw_response.create(**req.body)
                    completion = json.loads(raw.text)
                    error = None
                except asyncio.CancelledError:
                    raise
                except Exception as exc:   # classified below
                    error = exc
                finally:
                    stats.in_flight -= 1
                rtt = time.monotonic() - sent
                if error is None:
                    limit.on_success(rtt)
                elif overloaded(error):
                    limit.on_overload(rtt)
            finally:
                await limit.release()
            if error is None and not isinstance(completion, dict):
                error = ValueError("the response body is not a JSON object")
            if error is None:
                got = interpret_completion(completion, cfg.max_output_tokens)
                out.usage.add(got.usage)
                stats.usage.add(got.usage)
                out.verdict, out.reason = got.verdict, got.reason
                return out
            try:
                kind, delay, reason = self.classify(error)
            except ReasonerFatalError as fatal:
                self.fatal_error = self.fatal_error or fatal
                if self._stop is not None:
                    self._stop.set()
                raise self.fatal_error from None
            if kind == "rate_limited":
                stats.rate_limited += 1
                limited += 1
                wait = delay if delay is not None else self.backoff(limited)
                if wait > cfg.max_retry_after:
                    out.reason = f"{reason}: Retry-After {wait:.0f}s is over LEADS_MAX_RETRY_AFTER"
                    return out
                if limited > cfg.rate_limit_retries:
                    out.reason = f"{reason} {limited} times"
                    return out
                limiter.pause(wait)
                stats.retries += 1
                await self._sleep(wait)
                continue
            if kind == "transient":
                transient += 1
                if transient > cfg.call_retries:
                    out.reason = f"{reason} (after {out.requests} tries)"
                    return out
                stats.retries += 1
                wait = self.backoff(transient)
                await self._sleep(min(max(wait, delay or 0.0), cfg.max_retry_after))
                continue
            out.reason = reason
            return out

    async def run(self, requests: Iterable[Request],
                  on_outcome: Callable[[Outcome], Awaitable[None]] | None = None) -> dict[str, Outcome]:
        """Every request's outcome by key. A fatal error is raised once the requests in flight end."""
        import httpx2
        import openai

        requests = list(requests)
        results: dict[str, Outcome] = {}
        if not requests:
            return results
        cfg = self.cfg
        started = time.monotonic()
        limit = self.limit = AdaptiveLimit(cfg.concurrency)
        self._stop = asyncio.Event()
        limiter = RateLimiter(cfg.rpm, sleep=self._sleep, stopped=self._stop.is_set)
        timeout = httpx2.Timeout(cfg.timeout, connect=min(cfg.timeout, 10.0))
        limits = httpx2.Limits(max_connections=cfg.concurrency + 4, max_keepalive_connections=cfg.concurrency + 4)
        async with openai.AsyncOpenAI(api_key=cfg.api_key, base_url=cfg.endpoint, max_retries=0, timeout=timeout,
                                      http_client=openai.DefaultAsyncHttpxClient(timeout=timeout, limits=limits)
                                      ) as client:
            tasks = [asyncio.create_task(self._one(client, limit, limiter, r)) for r in requests]
            done = 0
            try:
                for next_done in asyncio.as_completed(tasks):
                    try:
                        outcome = await next_done
                    except ReasonerFatalError:
                        # Nothing new is sent; requests already in flight finish (they are paid
                        # for, so their answers are kept), the rest end at once.
                        continue
                    results[outcome.key] = outcome
                    done += 1
                    if on_outcome is not None:
                        await on_outcome(outcome)
                    if self.log and len(requests) >= 200 and done % max(len(requests) // 10, 1) == 0:
                        self.log.info(f"reasoner: {done:,}/{len(requests):,} leads, {self.stats.calls:,} requests, "
                                      f"{time.monotonic() - started:.0f}s")
            except BaseException:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
            finally:
                self.stats.seconds += time.monotonic() - started
                self.stats.effective_concurrency = round(limit.effective, 2)
                self.stats.peak_limit = int(limit.peak)
                self.stats.limit_decreases = limit.decreases
        if self.fatal_error is not None:
            raise self.fatal_error
        return results


def overloaded(exc: BaseException) -> bool:
    """The server could not keep up: a timeout, 429, 503/504 or a dropped connection."""
    import openai
    if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError)):
        return True
    return isinstance(exc, openai.APIStatusError) and exc.status_code in (503, 504)


def run_coroutine(coro):
    """asyncio.run, also from a thread that already runs an event loop (then in a helper thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
