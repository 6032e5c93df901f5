"""build_scorer(): the reasoner as a `scoring.score()` scorer (candidates frame -> final frame).

Per candidate row (see scoring.prepare for the columns):

* discarded rows (discard_reason set) are returned untouched and never sent to the model;
* the others are looked up in the cache by their normalized input; only misses go to
  the model (each distinct input once), concurrently, or through the Batch API;
* a validated answer gives score / reasoning / category / ideal contractor / contact
  priority / flags; the tier is computed later in SQL from the score;
* a failed lead is a RETRY row (score -1) with attempts + 1 and the reason, until it has
  failed LEADS_MAX_ATTEMPTS times: then it keeps its rules score (scorer "rules:fallback")
  and goes to review as "unscorable" instead of being retried forever;
* an answer that disagrees with the rules scorer by LEADS_DISAGREE_AT points or more
  (uncapped scores), a category other than the rules' (see checks.py for which one the
  buyer file uses), or a permit whose text tries to instruct the model, goes to review
  with the reason.

The warehouse is opened only for short moments (cache lookup, cache writes, the usage
ledger); never while a request is in flight.
"""
from __future__ import annotations

import asyncio
import time

import pandas as pd

from lead_assets.reasoner.checks import decide_category, ideal_contractor_problem
from lead_assets.reasoner.cache import ensure_tables, lookup, record_usage, store
from lead_assets.reasoner.client import ModelCaller, Outcome, Request, request_body, run_coroutine
from lead_assets.reasoner.config import ReasonerSettings
from lead_assets.reasoner.models import resolve_model
from lead_assets.reasoner.prompt import PROMPT_VERSION, input_hash, permit_input, suspected_injection
from lead_assets.reasoner.schema import MAX_FLAGS, SCHEMA_VERSION, Usage, Verdict, clean_text, sanitize_flag
from lead_assets.leads.rules_scorer import BASE
from lead_assets.config.settings import Settings
from lead_assets.leads.taxonomy import CAPPED_AT_C, CATEGORIES
from lead_assets.warehouse.connection import connect

INT_COLUMNS = ("score", "attempts")
FLUSH_SECONDS = 30.0       # cache writes during a long run, at most this far apart
MAX_MODEL_FLAGS = 8
ERROR_MAX = 200

FACTORS = ("f_job", "f_home", "f_fresh", "f_occupied", "f_pulled", "f_contact")
REPORT_KEYS = ("model_calls", "cache_hits", "input_tokens", "output_tokens", "cached_tokens", "cost_usd",
               "retry_rows", "unscorable", "disagreements")


def build_scorer(settings: Settings, log=None, **overrides) -> "ReasonerScorer":
    """The reasoner scorer for `scoring.score(scorer=...)`. Settings from the environment,
    `overrides` (ReasonerSettings field names; None = keep) on top. Fails at once without a key."""
    cfg = resolve_model(ReasonerSettings.from_env(**overrides).require_key(), log=log)
    return ReasonerScorer(settings, cfg, log=log)


class ReasonerScorer:
    def __init__(self, settings: Settings, cfg: ReasonerSettings, *, log=None) -> None:
        self.settings = settings
        self.cfg = cfg
        self.log = log
        self.label = f"reasoner:{cfg.model}"
        self.last_report: dict = {}
        self.last_stats = None            # the last run's CallStats (request start times, ...)

    def _info(self, msg: str) -> None:
        if self.log:
            self.log.info(msg)

    def _store(self, entries) -> None:
        with connect(self.settings.warehouse_path) as con:
            ensure_tables(con)
            store(con, entries, self.cfg.model_key, PROMPT_VERSION, SCHEMA_VERSION)

    # ------------------------------------------------------------------ model calls
    def _run_sync(self, requests: list[Request]) -> tuple[dict[str, Outcome], ModelCaller, list]:
        """Outcomes, the caller (its stats), and the answers not yet written to the cache."""
        caller = ModelCaller(self.cfg, log=self.log)
        unsaved: list = []
        last_flush = [time.monotonic()]

        async def on_outcome(outcome: Outcome) -> None:
            if outcome.ok:
                unsaved.append((outcome.key, outcome.verdict, outcome.usage, "sync"))
            if unsaved and time.monotonic() - last_flush[0] >= FLUSH_SECONDS:   # a long run keeps what it paid for
                chunk = unsaved[:]
                unsaved.clear()
                last_flush[0] = time.monotonic()
                await asyncio.to_thread(self._store, chunk)

        self.last_stats = caller.stats
        try:
            return run_coroutine(caller.run(requests, on_outcome)), caller, unsaved
        except BaseException:   # the run stops (401, interrupt): answers paid for are kept
            if unsaved:
                self._store(unsaved)
            raise

    # ------------------------------------------------------------------ the scorer
    def __call__(self, candidates: pd.DataFrame) -> pd.DataFrame:
        started = time.monotonic()
        cfg = self.cfg
        final = candidates.copy()
        final["rules_score"] = final["score"]
        n = len(final)
        records = final.to_dict("records")
        live = [pd.isna(r.get("discard_reason")) for r in records]
        names = {c.key: c.name for c in self.settings.cities.values()}
        permits: dict[str, dict] = {}
        keys: list[str | None] = [None] * n
        for i, rec in enumerate(records):
            if live[i]:
                permit = permit_input(rec, names.get(rec.get("city")))
                keys[i] = input_hash(permit)
                permits.setdefault(keys[i], permit)

        with connect(self.settings.warehouse_path) as con:
            ensure_tables(con)
            cached = lookup(con, permits, cfg.model_key, PROMPT_VERSION, SCHEMA_VERSION) if cfg.cache and permits else {}

        prev = [0 if pd.isna(r.get("prev_attempts")) else int(r["prev_attempts"]) for r in records]
        wanted = list(dict.fromkeys(keys[i] for i in range(n)
                                    if live[i] and keys[i] not in cached and prev[i] < cfg.max_attempts))
        requests = [Request(h, request_body(cfg, permits[h])) for h in wanted]
        self._info(f"reasoner: {sum(live):,} leads ({n - sum(live):,} discarded, not sent), "
                   f"{len(cached):,} cached answers, {len(requests):,} to ask {cfg.model} at {cfg.endpoint}")

        outcomes: dict[str, Outcome] = {}
        unsaved: list = []
        usage, calls, via, seconds, batch_pending = Usage(), 0, "sync", 0.0, 0
        flow: dict = {}
        if requests and cfg.batch and len(requests) >= cfg.batch_min:
            from lead_assets.reasoner.batch import BatchRunner
            runner = BatchRunner(cfg, self.settings.warehouse_path, log=self.log)
            outcomes = runner.run(requests)
            usage, calls, via, seconds = runner.stats.usage, runner.stats.submitted, "batch", runner.stats.seconds
        elif requests:
            outcomes, caller, unsaved = self._run_sync(requests)
            usage, calls, seconds = caller.stats.usage, caller.stats.calls, caller.stats.seconds
            flow = {"effective_concurrency": caller.stats.effective_concurrency,
                    "concurrency_peak": caller.stats.peak_limit, "concurrency_ceiling": cfg.concurrency,
                    "concurrency_backoffs": caller.stats.limit_decreases, "resends": caller.stats.retries}

        try:   # a bug below must not lose answers already paid for
            cols = {c: final[c].tolist() for c in (
                "score", "reasoning", "category", "scorer", "model_flags", "ideal_contractor_override",
                "contact_priority_override", "attempts", "last_error", "extra_review")}
            counts = dict(cache_hits=0, retry_rows=0, unscorable=0, disagreements=0, suspected_injection=0,
                          category_differs=0)

            def failed(i: int, reason: str, attempts: int) -> None:
                reason = cfg.scrub(reason, ERROR_MAX)
                cols["attempts"][i], cols["last_error"][i] = attempts, reason
                if attempts >= cfg.max_attempts:       # give up: rules score, to review
                    cols["scorer"][i], cols["extra_review"][i] = "rules:fallback", "unscorable"
                    counts["unscorable"] += 1
                else:
                    cols["score"][i], cols["scorer"][i] = -1, self.label
                    cols["reasoning"][i] = clean_text(f"not scored yet: {reason}", 400)
                    counts["retry_rows"] += 1

            for i, rec in enumerate(records):
                if not live[i]:
                    continue
                h = keys[i]
                verdict: Verdict | None = cached.get(h)
                if verdict is not None:
                    counts["cache_hits"] += 1
                elif h in outcomes and outcomes[h].ok:
                    verdict = outcomes[h].verdict
                if verdict is not None:
                    self._apply(i, rec, verdict, permits[h], cols, counts)
                elif h in outcomes and outcomes[h].pending:      # in a batch job: not a failed attempt
                    cols["score"][i], cols["scorer"][i] = -1, self.label
                    cols["attempts"][i], cols["last_error"][i] = prev[i], cfg.scrub(outcomes[h].reason, ERROR_MAX)
                    cols["reasoning"][i] = clean_text(f"not scored yet: {outcomes[h].reason}", 400)
                    counts["retry_rows"] += 1
                    batch_pending += 1
                elif h in outcomes:
                    failed(i, outcomes[h].reason or "unknown error", prev[i] + 1)
                else:                                             # out of attempts: not sent again
                    failed(i, f"unscorable: failed {prev[i]} attempts", prev[i])

            for c, values in cols.items():   # explicit dtypes: an all-NULL column must still read as VARCHAR
                final[c] = pd.Series(values, index=final.index, dtype="int32" if c in INT_COLUMNS else "string")
            cost = cfg.cost(usage.input_tokens, usage.cached_tokens, usage.output_tokens, batch=via == "batch")
            retry_errors = [e for e, s in zip(cols["last_error"], cols["score"]) if s == -1 and e]
            report = {
                "model_calls": int(calls), "cache_hits": counts["cache_hits"],
                "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
                "cached_tokens": usage.cached_tokens,
                # None: the price table has no price for this model (never another model's price)
                "cost_usd": None if cost is None else round(cost, 6), "cost_known": cost is not None,
                "retry_rows": counts["retry_rows"], "unscorable": counts["unscorable"],
                "disagreements": counts["disagreements"], "suspected_injection": counts["suspected_injection"],
                "category_differs": counts["category_differs"],
                "leads": int(sum(live)), "leads_sent": len(requests), "batch_pending": batch_pending,
                "model_seconds": round(seconds, 3), "model": cfg.model, "prompt_version": PROMPT_VERSION,
                "via": via, "model_from": cfg.model_from, "endpoint": cfg.endpoint,
                **flow, **top_reasons(retry_errors),
            }
        except BaseException:
            if unsaved:
                self._store(unsaved)
            raise
        final.attrs["report"] = report
        self.last_report = report
        if sum(live):   # one short connection: the last answers into the cache, the run into the ledger
            with connect(self.settings.warehouse_path) as con:
                ensure_tables(con)
                store(con, unsaved, cfg.model_key, PROMPT_VERSION, SCHEMA_VERSION)
                record_usage(con, model=cfg.model_key, prompt_version=PROMPT_VERSION, via=via, report=report,
                             seconds=time.monotonic() - started)
        self._info(f"reasoner: {calls:,} model calls, {counts['cache_hits']:,} cache hits, "
                   f"{usage.input_tokens:,} in / {usage.output_tokens:,} out / {usage.cached_tokens:,} cached tokens, "
                   f"{cost_text(report['cost_usd'], cfg.model)}; {counts['retry_rows']:,} RETRY, {counts['unscorable']:,} unscorable, "
                   f"{counts['disagreements']:,} model/rules disagreements")
        if counts["retry_rows"] and self.log:
            self.log.warning(f"reasoner: RETRY rows by reason ({cfg.endpoint}): {report.get('retry_reasons', '')}")
        return final

    def _apply(self, i: int, rec: dict, v: Verdict, permit: dict, cols: dict, counts: dict) -> None:
        cfg = self.cfg
        rules_category = rec.get("category") if rec.get("category") in CATEGORIES else "other"
        category, differs = decide_category(rules_category, v.category)
        score = min(v.score, 49) if category in CAPPED_AT_C else v.score
        review = [differs] if differs else []
        if differs:
            counts["category_differs"] += 1
        # Uncapped on both sides: a lead the model called `other` (capped at 49) must still be
        # compared on what the model thought it was worth.
        if abs(v.score - rules_uncapped(rec)) >= cfg.disagree_at:
            review.append("model_rules_disagree")
            counts["disagreements"] += 1
        if "suspected_injection" in v.flags or suspected_injection(permit):
            review.append("suspected_injection")
            counts["suspected_injection"] += 1
        if "needs_human_review" in v.flags:
            review.append("model_requested_review")
        notes = list(v.notes)
        ideal = v.ideal_contractor
        if ideal_contractor_problem(ideal, permit):
            ideal = None                                  # the rules' description of the category
            notes.append("ideal_contractor_replaced")
        flags = [sanitize_flag(f"model:{f}") for f in (*v.flags, *notes)][:MAX_MODEL_FLAGS]
        cols["score"][i] = int(score)
        cols["category"][i] = category
        cols["reasoning"][i] = v.reasoning
        cols["ideal_contractor_override"][i] = ideal
        cols["contact_priority_override"][i] = v.contact_priority
        cols["model_flags"][i] = "|".join(dict.fromkeys(flags)) or None
        cols["scorer"][i] = self.label
        cols["attempts"][i] = 0
        cols["last_error"][i] = None
        cols["extra_review"][i] = "|".join(review) or None


def failure_kind(reason: str) -> str:
    """A RETRY reason without its per-lead detail, so that equal causes count together."""
    import re
    kind = re.sub(r"\(after \d+ tries\)", "", reason)
    kind = re.sub(r"invalid JSON: .*", "invalid JSON", kind)
    return " ".join(kind.split())[:90]


def top_reasons(errors: list[str], n: int = 3) -> dict:
    """{"retry_reasons": "timeout after 60s x5; HTTP 503: ... x2"} (empty without RETRY rows)."""
    if not errors:
        return {}
    counts = pd.Series([failure_kind(e) for e in errors]).value_counts()
    return {"retry_reasons": "; ".join(f"{r} x{k}" for r, k in counts.head(n).items())}


def cost_text(cost: float | None, model: str) -> str:
    return f"~${cost:.4f}" if cost is not None else f"cost unknown (no price for {model}: set LEADS_PRICES)"


def rules_uncapped(rec: dict) -> int:
    """The rules score before the `other` cap (the base plus the factors, clamped to 0-100)."""
    try:
        raw = BASE + sum(int(rec[f]) for f in FACTORS)
    except (KeyError, TypeError, ValueError):     # no factor columns: the (capped) score
        return int(rec["score"])
    return max(0, min(100, raw))


__all__ = ["build_scorer", "ReasonerScorer", "REPORT_KEYS", "MAX_FLAGS"]
