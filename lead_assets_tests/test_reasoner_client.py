"""ModelCaller against the local OpenAI-compatible server, over real HTTP, real `openai` client."""
from __future__ import annotations

import asyncio

import pytest

from lead_assets.reasoner.client import ModelCaller, Request, request_body
from lead_assets.reasoner.config import ReasonerFatalError, ReasonerSettings
from lead_assets.reasoner.prompt import input_hash, permit_input
from lead_assets_tests.openai_server import (FakeOpenAI, bad_request, content_filter, drop, malformed, ok,
                                             rate_limited, refusal, server_error, timeout, truncated,
                                             unauthorized, wrong_values)

KEY = "sk-test-client-0123456789abcdefghij"


@pytest.fixture
def server():
    with FakeOpenAI() as srv:
        yield srv


def cfg_for(srv, **over) -> ReasonerSettings:
    base = dict(model="gpt-5-mini", base_url=srv.base_url, api_key=KEY, rpm=0, concurrency=4,
                backoff_base=0.001, timeout=10.0, call_retries=2, rate_limit_retries=2, max_retry_after=2.0)
    return ReasonerSettings(**{**base, **over})


def requests_for(cfg, texts):
    out = []
    for text in texts:
        permit = permit_input({"project_description": text, "est_project_cost": 20000, "f_fresh": 15}, "Plano")
        out.append(Request(input_hash(permit), request_body(cfg, permit)))
    return out


def run(caller, reqs):
    return asyncio.run(caller.run(reqs))


def test_request_shape_is_strict_json_schema_chat_completions(server):
    cfg = cfg_for(server)
    body = requests_for(cfg, ["Reroof"])[0].body
    assert body["response_format"]["type"] == "json_schema" and body["response_format"]["json_schema"]["strict"]
    assert body["max_tokens"] == cfg.max_output_tokens                 # local server: max_tokens
    openai_body = requests_for(ReasonerSettings(api_key=KEY, reasoning_effort="low"), ["Reroof"])[0].body
    assert openai_body["max_completion_tokens"] == 2000 and "max_tokens" not in openai_body
    assert openai_body["reasoning_effort"] == "low" and openai_body["prompt_cache_key"].startswith("lead-assets-")


def test_concurrency_reaches_the_limit_and_never_exceeds_it():
    # The ceiling is never passed; reaching it is adaptive (test_reasoner_servers.py covers the growth).
    with FakeOpenAI(latency=0.2) as srv:
        cfg = cfg_for(srv, concurrency=6)
        caller = ModelCaller(cfg)
        outcomes = run(caller, requests_for(cfg, [f"Reroof job {i}" for i in range(48)]))
        assert all(o.ok for o in outcomes.values()) and len(outcomes) == 48
        assert srv.max_in_flight <= 6 and caller.stats.max_in_flight <= 6 and caller.stats.peak_limit <= 6
        assert srv.calls == caller.stats.calls == 48


FAULTS = [
    ("ZQ-429", rate_limited(retry_after=0.01), "rate limited (HTTP 429) 3 times", 3),
    ("ZQ-500", server_error(500), "HTTP 500: The server had an error", 3),
    ("ZQ-503", server_error(503), "HTTP 503", 3),
    ("ZQ-TIMEOUT", timeout(5), "timeout after 1s (after 3 tries)", 3),
    ("ZQ-DROP", drop(), "connection error", 3),
    ("ZQ-MALFORMED", malformed(), "invalid JSON", 1),
    ("ZQ-WRONG", wrong_values(), "invalid answer: score 150 outside 0-100", 1),
    ("ZQ-REFUSAL", refusal(), "refusal: I'm sorry", 1),
    ("ZQ-TRUNC", truncated(), "truncated: answer cut at the 2000-token limit", 1),
    ("ZQ-FILTER", content_filter(), "content_filter", 1),
    ("ZQ-400", bad_request("Invalid schema for response_format"), "HTTP 400: Invalid schema", 1),
]


def test_every_fault_becomes_a_reason_and_nothing_is_lost(server):
    cfg = cfg_for(server, timeout=1.0)                                 # the hung request times out quickly
    texts = [f"Reroof job {tag}" for tag, *_ in FAULTS] + [f"Healthy job {i}" for i in range(6)] + ["Flaky job"]
    for tag, behavior, *_ in FAULTS:
        server.when(tag, behavior)
    server.when("Flaky job", server_error(502), times=1)
    server.when("Flaky job", rate_limited(retry_after=0.01), times=1)
    reqs = requests_for(cfg, texts)
    caller = ModelCaller(cfg)
    outcomes = run(caller, reqs)
    assert set(outcomes) == {r.key for r in reqs}                            # no lead lost
    by_text = dict(zip(texts, (outcomes[r.key] for r in reqs)))
    for tag, _, reason, tries in FAULTS:
        o = by_text[f"Reroof job {tag}"]
        assert not o.ok and reason in o.reason, (tag, o.reason)
        assert o.requests == tries, (tag, o.requests)                      # bounded retries
        assert KEY not in o.reason
    assert all(by_text[f"Healthy job {i}"].ok for i in range(6))
    flaky = by_text["Flaky job"]
    assert flaky.ok and flaky.requests == 3                                 # 502, 429, then the answer
    assert caller.stats.usage.input_tokens > 0


def test_429_retry_after_is_honoured_and_too_long_a_wait_ends_the_turn(server):
    cfg = cfg_for(server, max_retry_after=1.0)
    server.when("Patient job", rate_limited(retry_after=0.2), times=1)
    server.when("Hopeless job", rate_limited(retry_after=3600), times=1)
    caller = ModelCaller(cfg)
    reqs = requests_for(cfg, ["Patient job", "Hopeless job"])
    outcomes = run(caller, reqs)
    patient, hopeless = outcomes[reqs[0].key], outcomes[reqs[1].key]
    assert patient.ok and patient.requests == 2
    first, retry = min(caller.stats.starts), max(caller.stats.starts)
    assert retry - first >= 0.2 - 0.02                                  # waited out the Retry-After
    assert not hopeless.ok and hopeless.requests == 1 and "Retry-After 3600s" in hopeless.reason
    assert caller.stats.rate_limited == 2


def test_401_stops_the_run_at_once_with_a_clear_message_without_the_key():
    with FakeOpenAI(api_key="sk-the-real-server-key-000000000000") as srv:
        cfg = cfg_for(srv, concurrency=3)
        caller = ModelCaller(cfg)
        with pytest.raises(ReasonerFatalError) as err:
            run(caller, requests_for(cfg, [f"Reroof job {i}" for i in range(60)]))
        msg = str(err.value)
        assert "API key was rejected" in msg and "HTTP 401" in msg
        assert srv.base_url in msg and "gpt-5-mini" in msg
        assert KEY not in msg and KEY[-4:] not in msg
        assert srv.calls <= 3 + 3            # stopped, did not send the other ~57


@pytest.mark.parametrize("behavior, what", [(unauthorized(), "API key was rejected"),
                                            (server_error(403), "permission denied"),
                                            (server_error(404), "model or endpoint not found")])
def test_permanent_refusals_of_the_whole_account_are_fatal(server, behavior, what):
    cfg = cfg_for(server, concurrency=1)
    server.script(ok(), behavior)
    with pytest.raises(ReasonerFatalError, match=what):
        run(ModelCaller(cfg), requests_for(cfg, [f"Reroof job {i}" for i in range(10)]))
    assert server.calls == 2
