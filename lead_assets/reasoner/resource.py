"""ReasonerResource: the reasoner's settings as a Dagster ConfigurableResource.

Every field defaults to None, meaning "take it from the environment" (see config.py and
the README), so the same deployment works from the CLI, a schedule and the launchpad,
where any field can be overridden per run under `resources: reasoner: config:`. The API
key is deliberately not a field: Dagster stores and displays resource config, so the key
stays in the environment (LEADS_OPENAI_API_KEY / OPENAI_API_KEY) of the code location.
"""
from __future__ import annotations

from typing import Optional

import dagster as dg
from pydantic import Field


class ReasonerResource(dg.ConfigurableResource):
    """LLM scorer settings; unset fields come from LEADS_* / OPENAI_* environment variables."""

    # Each field's description is what the launchpad shows next to it.
    model: Optional[str] = Field(default=None, description=(
        "Model name (LEADS_OPENAI_MODEL; default gpt-5-mini, or the one model a local server lists)."))
    base_url: Optional[str] = Field(default=None, description=(
        "OpenAI-compatible endpoint (LEADS_OPENAI_BASE_URL / OPENAI_BASE_URL; default api.openai.com). "
        "The API key is never config: it stays in the environment."))
    reasoning_effort: Optional[str] = Field(default=None, description=(
        "Effort sent to reasoning models, e.g. low, medium, high (LEADS_REASONING_EFFORT; default low for gpt-5 / o-series)."))
    concurrency: Optional[int] = Field(default=None, description=(
        "Most model calls in flight at once (LEADS_CONCURRENCY; default 16, lowered when the server pushes back)."))
    rpm: Optional[float] = Field(default=None, description=(
        "Requests per minute, 0 = no limit (LEADS_RPM; default 500 for OpenAI, 0 for a local server)."))
    max_attempts: Optional[int] = Field(default=None, description=(
        "Runs that may try a lead before it stays RETRY for good (LEADS_MAX_ATTEMPTS; default 3)."))
    max_output_tokens: Optional[int] = Field(default=None, description=(
        "Output token cap per call (LEADS_MAX_OUTPUT_TOKENS; default 2000)."))
    disagree_at: Optional[int] = Field(default=None, description=(
        "Flag a lead for review when model and rules scores differ by this much (LEADS_DISAGREE_AT; default 35)."))
    batch: Optional[bool] = Field(default=None, description=(
        "Use OpenAI's Batch API at half price, for backfills (LEADS_OPENAI_BATCH; default false)."))
    batch_wait: Optional[float] = Field(default=None, description=(
        "Seconds a run waits for a batch job before leaving its leads RETRY (LEADS_BATCH_WAIT; default 1800)."))

    def overrides(self) -> dict:
        return {k: v for k, v in self.model_dump().items() if v is not None}

    def build_scorer(self, settings, log=None, **more):
        from lead_assets.reasoner.scorer import build_scorer
        return build_scorer(settings, log=log, **{**self.overrides(), **{k: v for k, v in more.items() if v is not None}})
