"""ReasonerResource: the reasoner's settings as a Dagster ConfigurableResource.

Every field defaults to None, meaning "take it from the environment" (see config.py and
docs/reasoner.md), so the same deployment works from the CLI, a schedule and the launchpad,
where any field can be overridden per run under `resources: reasoner: config:`. The API
key is deliberately not a field: Dagster stores and displays resource config, so the key
stays in the environment (LEADS_OPENAI_API_KEY / OPENAI_API_KEY) of the code location.
"""
from __future__ import annotations

from typing import Optional

import dagster as dg


class ReasonerResource(dg.ConfigurableResource):
    """LLM scorer settings; unset fields come from LEADS_* / OPENAI_* environment variables."""

    model: Optional[str] = None
    base_url: Optional[str] = None
    reasoning_effort: Optional[str] = None
    concurrency: Optional[int] = None
    rpm: Optional[float] = None
    max_attempts: Optional[int] = None
    max_output_tokens: Optional[int] = None
    disagree_at: Optional[int] = None
    batch: Optional[bool] = None
    batch_wait: Optional[float] = None

    def overrides(self) -> dict:
        return {k: v for k, v in self.model_dump().items() if v is not None}

    def build_scorer(self, settings, log=None, **more):
        from lead_assets.reasoner.scorer import build_scorer
        return build_scorer(settings, log=log, **{**self.overrides(), **{k: v for k, v in more.items() if v is not None}})
