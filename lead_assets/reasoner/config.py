"""Reasoner settings: environment variables, overridable per run (Dagster resource, tests).

The API key is read from the environment only. It is never a Dagster config value (those
are stored with the run and shown in the UI), never printed, and scrubbed from every
error message that leaves this package.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, fields, replace
from urllib.parse import urlsplit

from lead_assets.config.errors import ConfigError

OPENAI_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-5-mini"
KEY_VARS = ("LEADS_OPENAI_API_KEY", "OPENAI_API_KEY")
BASE_URL_VARS = ("LEADS_OPENAI_BASE_URL", "OPENAI_BASE_URL")

# USD per 1M tokens: (input, cached input, output). Standard (synchronous) tier; the Batch
# API bills half. Check https://openai.com/api/pricing and override with LEADS_PRICES.
DEFAULT_PRICES: dict[str, tuple[float, float, float]] = {
    "gpt-5": (1.25, 0.125, 10.00),
    "gpt-5-mini": (0.25, 0.025, 2.00),
    "gpt-5-nano": (0.05, 0.005, 0.40),
    "gpt-4.1": (2.00, 0.50, 8.00),
    "gpt-4.1-mini": (0.40, 0.10, 1.60),
    "gpt-4.1-nano": (0.10, 0.025, 0.40),
    "gpt-4o": (2.50, 1.25, 10.00),
    "gpt-4o-mini": (0.15, 0.075, 0.60),
}
BATCH_DISCOUNT = 0.5


class ReasonerFatalError(ConfigError):
    """The model server refuses us as a whole (bad key, no permission, unknown model, no quota).

    Raised at once instead of writing a RETRY row per lead. A ConfigError, so the `leads`
    command prints it as one line and exits 2.
    """


def _env(names: tuple[str, ...] | str, default: str | None = None) -> str | None:
    for name in (names,) if isinstance(names, str) else names:
        value = os.environ.get(name)
        if value is not None and value.strip() != "":
            return value.strip()
    return default


def _num(name: str, default, kind=int):
    raw = _env(name)
    if raw is None:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a valid {kind.__name__}") from None


def _flag(name: str, default: bool) -> bool:
    raw = _env(name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r}: use 1/0, true/false, on/off")


def _is_openai_url(base_url: str | None) -> bool:
    host = (urlsplit(base_url or OPENAI_BASE_URL).hostname or "").lower()
    return host == "api.openai.com" or host.endswith(".openai.azure.com")


def is_reasoning_model(model: str) -> bool:
    return bool(re.match(r"^(gpt-5|o\d)", model))


def parse_prices(raw: str | None) -> dict[str, tuple[float, float, float]]:
    """LEADS_PRICES: JSON {"model": [input, cached_input, output]} or {"model": {"input":..}}."""
    prices = dict(DEFAULT_PRICES)
    if not raw:
        return prices
    try:
        data = json.loads(raw)
        for model, p in data.items():
            if isinstance(p, dict):
                p = (p["input"], p.get("cached_input", p["input"]), p["output"])
            i, c, o = (float(x) for x in p)
            prices[str(model)] = (i, c, o)
    except (ValueError, TypeError, KeyError) as exc:
        raise ConfigError(f"LEADS_PRICES is not a price table ({exc}); "
                          'expected e.g. {"my-model": [0.25, 0.025, 2.0]} in USD per 1M tokens') from None
    return prices


@dataclass(frozen=True)
class ReasonerSettings:
    model: str = DEFAULT_MODEL
    base_url: str | None = None                 # None: OpenAI
    api_key: str | None = field(default=None, repr=False)
    reasoning_effort: str | None = None         # None: not sent
    concurrency: int = 16
    rpm: float = 500.0                          # requests per minute, 0 = no client-side limit
    max_attempts: int = 3                       # runs a lead may fail before it is unscorable
    call_retries: int = 3                       # in-run retries of 5xx / timeouts / dropped connections
    rate_limit_retries: int = 6                 # in-run retries of 429s
    max_retry_after: float = 60.0               # a longer Retry-After ends the lead's turn (RETRY row)
    backoff_base: float = 0.5                   # seconds; exponential with jitter, capped at 8 s
    timeout: float = 60.0                       # per request
    max_output_tokens: int = 2000               # includes reasoning tokens on reasoning models
    temperature: float | None = None
    disagree_at: int = 35                       # |model - rules| that sends a lead to review
    schema_bounds: str = "auto"                 # auto | openai | full (see schema.py)
    cache: bool = True
    batch: bool = False                         # use the Batch API for large runs
    batch_min: int = 100                        # ... when at least this many leads need the model
    batch_wait: float = 1800.0                  # seconds to wait for a batch before leaving RETRY rows
    batch_poll: float = 30.0
    batch_max_requests: int = 50_000
    prices: dict = field(default_factory=lambda: dict(DEFAULT_PRICES), repr=False, compare=False)
    model_from: str = "config"                  # config | default (nothing set) | server (/v1/models)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_env(cls, **overrides) -> "ReasonerSettings":
        configured = _env("LEADS_OPENAI_MODEL")
        model = configured or DEFAULT_MODEL
        effort_raw = os.environ.get("LEADS_REASONING_EFFORT")
        if effort_raw is None:
            effort = "low" if is_reasoning_model(model) else None
        else:
            effort = effort_raw.strip() or None
        values = dict(
            model=model,
            base_url=_env(BASE_URL_VARS),
            api_key=_env(KEY_VARS),
            reasoning_effort=effort,
            concurrency=_num("LEADS_CONCURRENCY", 16),
            # OpenAI's rate limits are per minute; a local server has none (its slots are
            # what limits it, and the adaptive concurrency learns those).
            rpm=_num("LEADS_RPM", 500.0 if _is_openai_url(_env(BASE_URL_VARS)) else 0.0, float),
            max_attempts=_num("LEADS_MAX_ATTEMPTS", 3),
            call_retries=_num("LEADS_CALL_RETRIES", 3),
            rate_limit_retries=_num("LEADS_RATE_LIMIT_RETRIES", 6),
            max_retry_after=_num("LEADS_MAX_RETRY_AFTER", 60.0, float),
            backoff_base=_num("LEADS_BACKOFF_BASE", 0.5, float),
            timeout=_num("LEADS_OPENAI_TIMEOUT", 60.0, float),
            max_output_tokens=_num("LEADS_MAX_OUTPUT_TOKENS", 2000),
            temperature=_num("LEADS_TEMPERATURE", None, float),
            disagree_at=_num("LEADS_DISAGREE_AT", 35),
            schema_bounds=_env("LEADS_SCHEMA_BOUNDS", "auto"),
            cache=_flag("LEADS_REASONER_CACHE", True),
            batch=_flag("LEADS_OPENAI_BATCH", False),
            batch_min=_num("LEADS_BATCH_MIN", 100),
            batch_wait=_num("LEADS_BATCH_WAIT", 1800.0, float),
            batch_poll=_num("LEADS_BATCH_POLL", 30.0, float),
            prices=parse_prices(_env("LEADS_PRICES")),
            model_from="config" if configured else "default",
        )
        return cls(**values).with_overrides(**overrides)

    def with_overrides(self, **overrides) -> "ReasonerSettings":
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(f"unknown reasoner setting(s): {', '.join(unknown)}")
        values = {k: v for k, v in overrides.items() if v is not None}
        if "model" in values and "model_from" not in values:
            values["model_from"] = "config"
        for k in ("reasoning_effort", "base_url", "temperature"):   # "" clears an optional setting
            if values.get(k) == "":
                values[k] = None
        out = replace(self, **values)
        out.validate()
        return out

    def validate(self) -> None:
        if self.concurrency < 1:
            raise ConfigError(f"LEADS_CONCURRENCY must be at least 1 (got {self.concurrency})")
        if self.rpm < 0:
            raise ConfigError(f"LEADS_RPM must be 0 (no limit) or positive (got {self.rpm})")
        if self.max_attempts < 1:
            raise ConfigError(f"LEADS_MAX_ATTEMPTS must be at least 1 (got {self.max_attempts})")
        if self.schema_bounds not in ("auto", "openai", "full"):
            raise ConfigError(f"LEADS_SCHEMA_BOUNDS must be auto, openai or full (got {self.schema_bounds!r})")
        if self.max_output_tokens < 64:
            raise ConfigError(f"LEADS_MAX_OUTPUT_TOKENS must be at least 64 (got {self.max_output_tokens})")
        if self.base_url:
            parts = urlsplit(self.base_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ConfigError(f"LEADS_OPENAI_BASE_URL {self.base_url!r} is not an http(s) URL")

    def require_key(self) -> "ReasonerSettings":
        """Fail before any work when there is no key (one clear message)."""
        if not self.api_key:
            raise ConfigError(
                "the reasoner needs an API key: set LEADS_OPENAI_API_KEY (or OPENAI_API_KEY). "
                f"It will call {self.endpoint} with model {self.model!r}. For a local server without "
                "authentication (llama.cpp, Ollama, vLLM) set LEADS_OPENAI_BASE_URL and any non-empty key, "
                "e.g. LEADS_OPENAI_API_KEY=local")
        return self

    # ------------------------------------------------------------------ derived
    @property
    def endpoint(self) -> str:
        return (self.base_url or OPENAI_BASE_URL).rstrip("/")

    @property
    def is_openai(self) -> bool:
        return _is_openai_url(self.endpoint)

    @property
    def bounds(self) -> str:
        """Schema keywords to send: OpenAI's documented strict subset, or with string lengths."""
        if self.schema_bounds != "auto":
            return self.schema_bounds
        return "openai" if self.is_openai else "full"

    @property
    def model_key(self) -> str:
        """The model identity the cache is keyed by (the effort changes the answers too)."""
        return self.model + (f"+effort={self.reasoning_effort}" if self.reasoning_effort else "")

    def price(self) -> tuple[float, float, float] | None:
        """The model's price, or None: never another model's (only a dated snapshot of a
        listed model, gpt-5-mini-2025-08-07, takes that model's price)."""
        if self.model in self.prices:
            return self.prices[self.model]
        snapshot = re.match(r"^(.+)-\d{4}-\d{2}-\d{2}$", self.model)
        if snapshot and snapshot.group(1) in self.prices:
            return self.prices[snapshot.group(1)]
        return None

    def cost(self, input_tokens: int, cached_tokens: int, output_tokens: int, *,
             batch: bool = False) -> float | None:
        """USD, or None when the price table has no price for the model (cost unknown)."""
        p = self.price()
        if p is None:
            return None
        uncached = max(input_tokens - cached_tokens, 0)
        usd = (uncached * p[0] + cached_tokens * p[1] + output_tokens * p[2]) / 1_000_000
        return usd * (BATCH_DISCOUNT if batch else 1.0)

    def scrub(self, text: object, limit: int = 200) -> str:
        """A message safe to store or print: no key (not even a masked one), one short line."""
        s = str(text)
        if self.api_key:
            s = s.replace(self.api_key, "***")
        s = re.sub(r"\b(sk|rk|pk)-[A-Za-z0-9*_\-.]{3,}", r"\1-***", s)
        s = re.sub(r"(?i)(bearer\s+)\S+", r"\1***", s)
        s = " ".join(s.split())
        return s if len(s) <= limit else s[: limit - 1] + "…"
