"""Which model to ask, when none is configured and the server is not OpenAI's.

A local server (llama.cpp, Ollama, vLLM) accepts any model name, so running on the
default OpenAI model name would quietly score with whatever it serves and price its
tokens at OpenAI's rates. So with a non-OpenAI base URL and no LEADS_OPENAI_MODEL, the
server's GET /v1/models decides: one model -> use it (and say so); several -> stop with
an error naming them; none or no answer -> stop and ask for LEADS_OPENAI_MODEL.
"""
from __future__ import annotations

import os
from dataclasses import replace

from lead_assets.reasoner.config import ReasonerSettings, is_reasoning_model
from lead_assets.config.errors import ConfigError


def served_models(cfg: ReasonerSettings) -> list[str]:
    import openai
    client = openai.OpenAI(api_key=cfg.api_key, base_url=cfg.endpoint, max_retries=1, timeout=min(cfg.timeout, 15.0))
    try:
        return sorted({m.id for m in client.models.list()})
    except openai.APIError as exc:
        raise ConfigError(f"no model configured and {cfg.endpoint}/models did not answer "
                          f"({cfg.scrub(exc, 120)}): set LEADS_OPENAI_MODEL") from None
    finally:
        client.close()


def resolve_model(cfg: ReasonerSettings, log=None) -> ReasonerSettings:
    """`cfg` with the model the server serves, when the model was left to the default."""
    if cfg.model_from != "default" or cfg.is_openai:
        return cfg
    models = served_models(cfg)
    if not models:
        raise ConfigError(f"no model configured and {cfg.endpoint} lists no models: set LEADS_OPENAI_MODEL")
    if len(models) > 1:
        raise ConfigError(f"no model configured and {cfg.endpoint} serves {len(models)} models: "
                          f"{', '.join(models)}. Set LEADS_OPENAI_MODEL to one of them")
    model = models[0]
    effort = cfg.reasoning_effort if os.environ.get("LEADS_REASONING_EFFORT") is not None else (
        "low" if is_reasoning_model(model) else None)
    if log:
        log.info(f"reasoner: no model configured; {cfg.endpoint} serves one model, {model!r}: using it")
    return replace(cfg, model=model, reasoning_effort=effort, model_from="server")


__all__ = ["resolve_model", "served_models"]
