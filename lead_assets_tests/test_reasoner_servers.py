"""The reasoner against servers shaped like real local ones: few slots, a model list, a weak model.

Real HTTP over loopback to the local OpenAI-compatible test server, the real `openai` client."""
from __future__ import annotations

import asyncio

import pytest

from lead_assets.reasoner.checks import decide_category, ideal_contractor_problem
from lead_assets.reasoner.client import ModelCaller, Request, request_body
from lead_assets.reasoner.config import ReasonerSettings
from lead_assets.reasoner.models import resolve_model
from lead_assets.reasoner.prompt import input_hash, permit_input
from lead_assets.reasoner.schema import parse_answer
from lead_assets.leads.rules_scorer import IDEAL_CONTRACTOR
from lead_assets.config.errors import ConfigError
from lead_assets_tests.openai_server import FakeOpenAI

KEY = "sk-test-servers-0123456789abcdefghij"


def requests_for(cfg, n):
    out = []
    for i in range(n):
        permit = permit_input({"project_description": f"Replace 3-ton condenser, job {i}", "f_fresh": 15}, "Plano")
        out.append(Request(input_hash(permit), request_body(cfg, permit)))
    return out


def test_a_two_slot_server_gets_no_timeouts_resends_or_retry_rows():
    # Without adapting, 16 requests at once against 2 slots queue up to 8 x 0.3 s = 2.4 s,
    # past the 1.5 s timeout, and are sent again.
    with FakeOpenAI(latency=0.3, slots=2) as srv:
        cfg = ReasonerSettings(model="qwen", base_url=srv.base_url, api_key=KEY, rpm=0, concurrency=16,
                               timeout=1.5, backoff_base=0.001)
        caller = ModelCaller(cfg)
        outcomes = asyncio.run(caller.run(requests_for(cfg, 60)))
        assert len(outcomes) == 60 and all(o.ok for o in outcomes.values())
        assert srv.calls == caller.stats.calls == 60 and caller.stats.retries == 0     # no resends
        assert srv.abandoned == 0                                   # nothing cancelled on the server
        # It settled near the server's 2 slots, far below the 16 it was allowed (on a busy machine
        # answers are slower, so the mean in flight can sit a little above the slots).
        assert 0 < caller.stats.effective_concurrency <= 2 * 2


def test_waiting_for_a_local_slot_is_not_part_of_the_timeout():
    with FakeOpenAI(latency=0.3) as srv:           # 6 x 0.3 s in a row: 1.8 s, over the 0.8 s timeout
        cfg = ReasonerSettings(model="qwen", base_url=srv.base_url, api_key=KEY, rpm=0, concurrency=1,
                               timeout=0.8, call_retries=0)
        caller = ModelCaller(cfg)
        outcomes = asyncio.run(caller.run(requests_for(cfg, 6)))
        assert all(o.ok for o in outcomes.values()) and srv.calls == 6 and srv.max_in_flight == 1


def test_a_server_that_keeps_up_lets_concurrency_grow_to_the_ceiling():
    with FakeOpenAI(latency=0.2) as srv:
        cfg = ReasonerSettings(model="qwen", base_url=srv.base_url, api_key=KEY, rpm=0, concurrency=6)
        caller = ModelCaller(cfg)
        asyncio.run(caller.run(requests_for(cfg, 60)))
        assert caller.stats.peak_limit == 6 and srv.max_in_flight <= 6


def _env(monkeypatch, srv):
    for var in ("LEADS_OPENAI_MODEL", "LEADS_REASONING_EFFORT", "OPENAI_BASE_URL", "LEADS_PRICES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LEADS_OPENAI_BASE_URL", srv.base_url)
    monkeypatch.setenv("LEADS_OPENAI_API_KEY", KEY)


def test_no_model_configured_and_one_served_uses_it_and_its_cost_is_unknown(monkeypatch):
    with FakeOpenAI(models=["qwen2.5-1.5b-instruct"]) as srv:
        _env(monkeypatch, srv)
        said = []
        log = type("Log", (), {"info": lambda self, m: said.append(m)})()
        cfg = resolve_model(ReasonerSettings.from_env(), log=log)
        assert cfg.model == "qwen2.5-1.5b-instruct" and cfg.model_from == "server"
        assert cfg.reasoning_effort is None            # the default model's effort does not carry over
        assert any("qwen2.5-1.5b-instruct" in m and srv.base_url in m for m in said)
        assert cfg.cost(10**6, 0, 10**6) is None       # not gpt-5-mini's price
        monkeypatch.setenv("LEADS_OPENAI_MODEL", "my-model")      # a configured model is never replaced
        assert resolve_model(ReasonerSettings.from_env()).model == "my-model"


def test_no_model_configured_and_two_served_stops_naming_them(monkeypatch):
    with FakeOpenAI(models=["llama-3.2-3b", "qwen-7b"]) as srv:
        _env(monkeypatch, srv)
        with pytest.raises(ConfigError, match="serves 2 models: llama-3.2-3b, qwen-7b. Set LEADS_OPENAI_MODEL"):
            resolve_model(ReasonerSettings.from_env())
        assert srv.calls == 0                          # nothing was scored


def test_the_rules_category_checks_the_models():
    assert decide_category("hvac", "other") == ("hvac", "model_category_differs:hvac->other")
    assert decide_category("pool", "roof") == ("pool", "model_category_differs:pool->roof")
    assert decide_category("other", "fence") == ("fence", "model_category_differs:other->fence")
    assert decide_category("roof", "roof") == ("roof", None)
    assert decide_category("roof", None) == ("roof", None)          # category rejected by validation


@pytest.mark.parametrize("text,permit,bad", [
    ("roofing contractor", {"contractor_name": "Smith Roofing LLC"}, False),
    ("Smith Roofing", {"contractor_name": "Smith Roofing LLC"}, True),
    ("Acme Pools Inc", {}, True),
    ("Maria Gonzalez", {"owner_name": "GONZALEZ MARIA"}, True),
    ("2026-11-27", {}, True),
    ("asdf qwerty", {}, True),
    ("pool builder", {"owner_name": "POOL JOHN"}, False),   # a trade word in a name is still a trade
])
def test_ideal_contractor_must_describe_a_trade(text, permit, bad):
    assert bool(ideal_contractor_problem(text, permit)) is bad


def test_every_rules_description_is_a_trade():
    assert not [d for d in IDEAL_CONTRACTOR.values() if ideal_contractor_problem(d, {})]


def test_repeated_flags_are_deduplicated_silently():
    v = parse_answer('{"reasoning": "r", "category": "roof", "score": 60, "contact_priority": "email", '
                     '"ideal_contractor": "roofing contractor", "flags": ["insurance_claim", "insurance_claim"]}')
    assert v.flags == ("insurance_claim",) and v.notes == ()
