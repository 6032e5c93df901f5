"""The reasoner: score permits with an LLM behind any OpenAI-compatible endpoint.

    config.py    ReasonerSettings from the environment (or the Dagster resource), prices
    schema.py    the answer: a Pydantic model, its strict JSON schema, answer validation
    prompt.py    fixed instructions first, the untrusted permit last and delimited
    client.py    async calls under a concurrency + requests-per-minute limit, bounded retries
    cache.py     reasoner_cache / reasoner_usage tables in the warehouse
    batch.py     the OpenAI Batch API for large backfills (resumable)
    scorer.py    build_scorer(): candidates frame -> final frame (the contract of scoring.score)
    resource.py  ReasonerResource, the Dagster ConfigurableResource

Nothing here imports `openai` at module import time except client.py / batch.py, so the
Dagster definitions load fast.
"""
