"""Adaptive concurrency: how many requests to keep in flight, learnt from the server.

LEADS_CONCURRENCY is a ceiling, not a target. A local server (llama.cpp with 2 slots)
queues what it cannot run; queued requests wait, hit the timeout and are sent again,
which the server then also has to run. So the client keeps its own limit, AIMD-style:

* it starts at 2 and doubles while answers come back as fast as the fastest seen (slow
  start), then grows by about one request per round trip (additive increase);
* an answer much slower than the fastest one (LATENCY_TOLERANCE x the minimum + LATENCY_SLACK)
  means the server is queueing: the limit drops to 3/4;
* a timeout, a 429, a 503 or a dropped connection halves it;
* at most one decrease per round trip, so one burst of slow answers counts once; never
  below 1, never above the ceiling.

Only the time of the HTTP request itself is measured: waiting here for a turn is not part
of a request (and not of its timeout).
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

LATENCY_TOLERANCE = 1.3       # an answer this many times slower than the fastest: the server queues
LATENCY_SLACK = 0.05          # ... plus this many seconds (scheduling noise on a busy machine)
START = 2
QUEUE_DECREASE = 0.75
ERROR_DECREASE = 0.5


class AdaptiveLimit:
    def __init__(self, ceiling: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ceiling = max(1, int(ceiling))
        self.limit = float(min(START, self.ceiling))
        self.clock = clock
        self.in_flight = 0
        self.min_rtt: float | None = None
        self.slow_start = True
        self.decreases = 0
        self.peak = self.limit
        self._last_decrease = float("-inf")
        self._cond: asyncio.Condition | None = None
        # time-weighted in-flight count: the effective concurrency of the run
        self._area = 0.0
        self._since: float | None = None
        self._busy = 0.0

    # ------------------------------------------------------------------ slots
    def _tick(self) -> None:
        now = self.clock()
        if self._since is not None and self.in_flight:
            self._area += self.in_flight * (now - self._since)
            self._busy += now - self._since
        self._since = now

    async def acquire(self) -> None:
        if self._cond is None:
            self._cond = asyncio.Condition()
        async with self._cond:
            await self._cond.wait_for(lambda: self.in_flight < max(1, int(self.limit)))
            self._tick()
            self.in_flight += 1

    async def release(self) -> None:
        assert self._cond is not None
        async with self._cond:
            self._tick()
            self.in_flight -= 1
            self._cond.notify_all()

    # ------------------------------------------------------------------ learning
    def _decrease(self, factor: float, rtt: float | None) -> None:
        now = self.clock()
        window = rtt if rtt is not None else (self.min_rtt or 0.0)
        if now - self._last_decrease < window:
            return
        self._last_decrease = now
        self.slow_start = False
        self.decreases += 1
        self.limit = max(1.0, self.limit * factor)

    def on_success(self, rtt: float) -> None:
        """An answer came back after `rtt` seconds (called before the request's release)."""
        if self.min_rtt is None or rtt < self.min_rtt:
            self.min_rtt = rtt
        if rtt > self.min_rtt * LATENCY_TOLERANCE + LATENCY_SLACK:
            self._decrease(QUEUE_DECREASE, rtt)
        elif self.in_flight >= int(self.limit):          # grow only while the limit is what binds
            self.limit = min(float(self.ceiling), self.limit + (1.0 if self.slow_start else 1.0 / self.limit))
        self.peak = max(self.peak, self.limit)

    def on_overload(self, rtt: float | None = None) -> None:
        """A timeout, 429, 503 or dropped connection."""
        self._decrease(ERROR_DECREASE, rtt)

    # ------------------------------------------------------------------ figures
    @property
    def effective(self) -> float:
        """Mean requests in flight while any was (the concurrency the run actually had)."""
        return self._area / self._busy if self._busy > 0 else 0.0
