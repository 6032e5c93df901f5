"""Tests of the fake OpenAI server, using the real ``openai`` client over real HTTP."""

from __future__ import annotations

import json
import threading
import time

import openai
import pytest

from lead_assets_tests.openai_server import (
    WRONG_VALUES,
    FakeOpenAI,
    bad_request,
    content_filter,
    default_responder,
    drop,
    malformed,
    ok,
    rate_limited,
    refusal,
    server_error,
    timeout,
    truncated,
    unauthorized,
    wrong_values,
)

CATEGORIES = ["roofing", "solar", "hvac", "remodel", "new_construction"]

LEAD_SCHEMA = {
    "type": "object",
    "properties": {
        "score": {"type": "integer", "minimum": 0, "maximum": 100},
        "category": {"type": "string", "enum": CATEGORIES},
        "reasoning": {"type": "string"},
        "ideal_contractor": {"type": "string"},
        "contact_priority": {"type": "string", "enum": ["call", "email", "skip"]},
        "flags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["score", "category", "reasoning", "ideal_contractor", "contact_priority", "flags"],
    "additionalProperties": False,
}

RESPONSE_FORMAT = {"type": "json_schema", "json_schema": {"name": "lead", "strict": True, "schema": LEAD_SCHEMA}}


@pytest.fixture
def server():
    with FakeOpenAI() as srv:
        yield srv


def make_client(srv: FakeOpenAI, timeout: float = 5.0, api_key: str = "sk-test") -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.base_url, api_key=api_key, max_retries=0, timeout=timeout)


def ask(client: openai.OpenAI, text: str = "Permit: reroof 123 Main St, $25,000", **kw):
    return client.chat.completions.create(
        model="gpt-test-mini",
        messages=[
            {"role": "system", "content": "You score building permits as sales leads."},
            {"role": "user", "content": text},
        ],
        response_format=RESPONSE_FORMAT,
        **kw,
    )


def check_lead(obj: dict) -> None:
    assert set(obj) == set(LEAD_SCHEMA["properties"])
    assert isinstance(obj["score"], int) and 0 <= obj["score"] <= 100
    assert obj["category"] in CATEGORIES
    assert isinstance(obj["reasoning"], str) and isinstance(obj["ideal_contractor"], str)
    expected = "call" if obj["score"] >= 80 else "email" if obj["score"] >= 50 else "skip"
    assert obj["contact_priority"] == expected
    assert obj["flags"] == []


# -------------------------------------------------------------------------- success path


def test_default_structured_answer_is_valid_and_deterministic(server):
    client = make_client(server)
    r1 = ask(client)
    r2 = ask(client)
    assert r1.object == "chat.completion"
    assert r1.model == "gpt-test-mini"
    choice = r1.choices[0]
    assert choice.index == 0 and choice.finish_reason == "stop"
    assert choice.message.role == "assistant" and choice.message.refusal is None
    lead = json.loads(choice.message.content)
    check_lead(lead)
    assert json.loads(r2.choices[0].message.content) == lead  # same user message -> same answer
    assert r1.usage.prompt_tokens > 0 and r1.usage.completion_tokens > 0
    assert r1.usage.total_tokens == r1.usage.prompt_tokens + r1.usage.completion_tokens
    assert r1.usage.prompt_tokens_details.cached_tokens == 0  # short system prompt
    assert r1.usage.completion_tokens_details.reasoning_tokens == 0
    assert server.calls == 2 and len(server.requests) == 2 and len(server.request_headers) == 2
    assert server.requests[0]["response_format"]["json_schema"]["name"] == "lead"
    assert server.request_headers[0]["authorization"] == "Bearer sk-test"


def test_default_answers_vary_with_message_and_cover_categories(server):
    client = make_client(server)
    leads = [json.loads(ask(client, f"permit #{i}").choices[0].message.content) for i in range(40)]
    for lead in leads:
        check_lead(lead)
    assert len({lead["score"] for lead in leads}) > 10
    assert len({lead["category"] for lead in leads}) >= 3


def test_cached_tokens_after_first_request_with_long_system_prompt(server):
    client = make_client(server)
    system = "Rules for scoring permits. " * 400  # ~2,700 tokens
    msgs = [{"role": "system", "content": system}, {"role": "user", "content": "x"}]
    first = client.chat.completions.create(model="m", messages=msgs)
    second = client.chat.completions.create(model="m", messages=msgs)
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    cached = second.usage.prompt_tokens_details.cached_tokens
    assert cached >= 1024 and cached % 128 == 0 and cached <= second.usage.prompt_tokens


def test_default_responder_follows_refs_and_unknown_properties():
    schema = {
        "$defs": {
            "Category": {"type": "string", "enum": ["a", "b"]},
            "Lead": {
                "type": "object",
                "properties": {
                    "score": {"type": "integer", "minimum": 0, "maximum": 100},
                    "category": {"$ref": "#/$defs/Category"},
                    "contact_priority": {"type": "string", "enum": ["call", "email", "skip"]},
                    "flags": {"type": "array", "items": {"type": "string"}},
                    "tier": {"type": "string", "enum": ["A", "B", "C"]},
                    "value": {"anyOf": [{"type": "number"}, {"type": "null"}]},
                    "ok": {"type": "boolean"},
                    "nested": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
                },
                "required": ["score", "category", "contact_priority", "flags", "tier", "value", "ok", "nested"],
            },
        },
        "$ref": "#/$defs/Lead",
    }
    body = {
        "messages": [{"role": "user", "content": "hello"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
    }
    out = default_responder(body)
    assert out["category"] in ("a", "b") and out["tier"] in ("A", "B", "C")
    assert isinstance(out["value"], float) and out["ok"] is False and isinstance(out["nested"]["n"], int)
    assert out == default_responder(body)


def test_custom_responder_and_ok_behavior():
    with FakeOpenAI(responder=lambda body: {"echo": body["messages"][-1]["content"]}) as srv:
        client = make_client(srv)
        assert json.loads(ask(client, "ping").choices[0].message.content) == {"echo": "ping"}
        srv.script(ok({"score": 1}), ok("plain text"), ok())
        assert json.loads(ask(client).choices[0].message.content) == {"score": 1}
        assert ask(client).choices[0].message.content == "plain text"
        assert json.loads(ask(client, "pong").choices[0].message.content) == {"echo": "pong"}


# -------------------------------------------------------------------------- faults


def test_rate_limited(server):
    client = make_client(server)
    server.script(rate_limited(retry_after=2))
    with pytest.raises(openai.RateLimitError) as ei:
        ask(client)
    e = ei.value
    assert e.status_code == 429
    assert e.response.headers["retry-after"] == "2"
    assert e.response.headers["retry-after-ms"] == "2000"
    assert e.body["type"] == "rate_limit_error" and e.body["code"] == "rate_limit_exceeded"
    check_lead(json.loads(ask(client).choices[0].message.content))  # back to default


def test_client_retries_after_rate_limit_and_server_error(server):
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=2, timeout=5)
    server.script(rate_limited(retry_after=0.01), server_error(503))
    check_lead(json.loads(ask(client).choices[0].message.content))
    assert server.calls == 3
    assert server.outcomes == ["rate_limited", "server_error", "ok"]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_error(server, status):
    server.script(server_error(status))
    with pytest.raises(openai.InternalServerError) as ei:
        ask(make_client(server))
    assert ei.value.status_code == status
    assert ei.value.body["type"] == "server_error"


def test_timeout_does_not_block_other_requests_or_shutdown():
    srv = FakeOpenAI().start()
    try:
        srv.script(timeout(30))
        with pytest.raises(openai.APITimeoutError):
            ask(make_client(srv, timeout=0.3))
        check_lead(json.loads(ask(make_client(srv)).choices[0].message.content))
        # The server notices the first client hung up on its own schedule: wait for that.
        assert _wait_until(lambda: srv.in_flight == 0)
        # A request still parked in timeout() while the server stops: stop must be quick.
        srv.script(timeout(30))
        errors = []

        def parked():
            try:
                ask(make_client(srv, timeout=20))
            except openai.APIConnectionError as exc:
                errors.append(exc)

        t = threading.Thread(target=parked)
        t.start()
        deadline = time.monotonic() + 5
        while srv.in_flight == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert srv.in_flight == 1
    finally:
        t0 = time.monotonic()
        srv.stop()
    assert time.monotonic() - t0 < 3
    t.join(5)
    assert not t.is_alive() and len(errors) == 1


def test_drop(server):
    client = make_client(server)
    server.script(drop())
    with pytest.raises(openai.APIConnectionError) as ei:
        ask(client)
    assert not isinstance(ei.value, openai.APITimeoutError)
    check_lead(json.loads(ask(client).choices[0].message.content))


def test_malformed(server):
    server.script(malformed())
    r = ask(make_client(server))
    assert r.choices[0].finish_reason == "stop"
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.choices[0].message.content)


def test_wrong_values(server):
    server.script(wrong_values())
    r = ask(make_client(server))
    assert json.loads(r.choices[0].message.content) == WRONG_VALUES


def test_refusal(server):
    server.script(refusal("nope"))
    msg = ask(make_client(server)).choices[0].message
    assert msg.content is None and msg.refusal == "nope"


def test_truncated(server):
    server.script(truncated())
    r = ask(make_client(server))
    assert r.choices[0].finish_reason == "length"
    assert r.choices[0].message.content.startswith("{")
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.choices[0].message.content)


def test_content_filter(server):
    server.script(content_filter())
    r = ask(make_client(server))
    assert r.choices[0].finish_reason == "content_filter"
    assert not r.choices[0].message.content


def test_unauthorized_behavior_does_not_echo_key(server):
    secret = "sk-proj-SUPERSECRETKEY1234567890abcd"
    server.script(unauthorized())
    with pytest.raises(openai.AuthenticationError) as ei:
        ask(make_client(server, api_key=secret))
    assert ei.value.status_code == 401
    assert ei.value.body["code"] == "invalid_api_key"
    assert secret not in ei.value.message and secret not in ei.value.response.text
    assert "Incorrect API key provided" in ei.value.message


def test_api_key_enforced():
    with FakeOpenAI(api_key="sk-right") as srv:
        with pytest.raises(openai.AuthenticationError) as ei:
            ask(make_client(srv, api_key="sk-wrong-key"))
        assert "sk-wrong-key" not in ei.value.response.text
        with pytest.raises(openai.AuthenticationError):
            make_client(srv, api_key="sk-wrong-key").files.list()
        check_lead(json.loads(ask(make_client(srv, api_key="sk-right")).choices[0].message.content))
        assert srv.calls == 2


def test_bad_request(server):
    server.script(bad_request())
    with pytest.raises(openai.BadRequestError) as ei:
        ask(make_client(server))
    assert ei.value.body["type"] == "invalid_request_error"


def test_unknown_path_is_404(server):
    client = make_client(server)
    with pytest.raises(openai.NotFoundError) as ei:
        client.get("/nonexistent", cast_to=object)
    assert ei.value.body["type"] == "invalid_request_error"


# -------------------------------------------------------------------------- targeting


def test_script_order_and_when_targeting(server):
    client = make_client(server)
    server.when("BAD-ADDRESS", server_error(503))
    server.when("FLAKY", rate_limited(0.1), times=2)
    server.script(malformed(), refusal())

    with pytest.raises(openai.InternalServerError):
        ask(client, "permit at BAD-ADDRESS")  # `when` wins over the script
    assert ask(client, "a").choices[0].message.content == "Sure! Score: 85 {oops"
    assert ask(client, "b").choices[0].message.refusal
    check_lead(json.loads(ask(client, "c").choices[0].message.content))

    for _ in range(2):
        with pytest.raises(openai.RateLimitError):
            ask(client, "FLAKY permit")
    check_lead(json.loads(ask(client, "FLAKY permit").choices[0].message.content))
    with pytest.raises(openai.InternalServerError):
        ask(client, "BAD-ADDRESS again")  # times=None: always

    server.reset()
    assert server.calls == 0 and server.requests == [] and server.max_in_flight == 0
    check_lead(json.loads(ask(client, "BAD-ADDRESS").choices[0].message.content))


def _wait_until(cond, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.01)
    return cond()


def test_max_in_flight_counts_parked_requests():
    # hold() parks the requests on the server, so all n are in flight at once however slowly
    # a busy machine starts the threads (no race between the first answer and the last start).
    n = 8
    with FakeOpenAI() as srv:
        client = make_client(srv, timeout=30)
        srv.hold()
        results = []
        threads = [threading.Thread(target=lambda i=i: results.append(ask(client, f"permit {i}"))) for i in range(n)]
        for t in threads:
            t.start()
        assert _wait_until(lambda: srv.in_flight == n)
        srv.release()
        for t in threads:
            t.join(30)
        assert len(results) == n and srv.calls == n
        # All n were parked at once (waited for above) and only n were sent: the peak is n.
        assert srv.max_in_flight == n
        # The count drops as each answer goes out; poll for it rather than race the handler threads.
        assert _wait_until(lambda: srv.in_flight == 0), srv.in_flight


def test_slots_queue_the_rest():
    # 0.3 s per answer: the two slot holders overlap even when a busy machine starts them late.
    with FakeOpenAI(latency=0.3, slots=2) as srv:
        client = make_client(srv, timeout=30)
        srv.hold()
        results = []
        threads = [threading.Thread(target=lambda i=i: results.append(ask(client, f"permit {i}"))) for i in range(5)]
        for t in threads:
            t.start()
        assert _wait_until(lambda: srv.in_flight == 5)
        srv.release()
        for t in threads:
            t.join(30)
        assert len(results) == 5 and srv.abandoned == 0
        assert srv.max_active <= 2, "never more requests answered at once than slots"
        assert srv.max_active > 1, "both slots were used"
        assert srv.max_queued >= 3           # the 5 parked requests met 2 slots
        assert _wait_until(lambda: srv.in_flight == 0 and srv.active == 0)


def test_slot_queue_counts_a_client_that_gives_up():
    with FakeOpenAI(latency=1.0, slots=1) as srv:
        busy = threading.Thread(target=lambda: ask(make_client(srv, timeout=30), "first"))
        busy.start()
        assert _wait_until(lambda: srv.active == 1)
        with pytest.raises(openai.APITimeoutError):
            ask(make_client(srv, timeout=0.3), "second")       # waits in the queue, then hangs up
        busy.join(30)
        assert _wait_until(lambda: srv.abandoned == 1 and srv.in_flight == 0)


def test_answer_category_and_models_list():
    with FakeOpenAI(answer_category="other", models=["qwen-a", "qwen-b"]) as srv:
        client = make_client(srv)
        assert json.loads(ask(client).choices[0].message.content)["category"] == "other"
        assert sorted(m.id for m in client.models.list()) == ["qwen-a", "qwen-b"]


# -------------------------------------------------------------------------- batch API


def _batch_line(custom_id: str, text: str) -> str:
    body = {
        "model": "gpt-test-mini",
        "messages": [{"role": "system", "content": "score"}, {"role": "user", "content": text}],
        "response_format": RESPONSE_FORMAT,
    }
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body})


def test_batch_round_trip(server):
    client = make_client(server)
    server.when("permit-2", server_error(500))  # matched by custom_id
    lines = [_batch_line(f"permit-{i}", f"Permit text {i}") for i in range(4)]
    upload = client.files.create(file=("leads.jsonl", ("\n".join(lines) + "\n").encode()), purpose="batch")
    assert upload.id.startswith("file-") and upload.purpose == "batch"
    assert client.files.retrieve(upload.id).bytes == upload.bytes
    assert client.files.content(upload.id).content == ("\n".join(lines) + "\n").encode()

    batch = client.batches.create(
        input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert batch.id.startswith("batch_") and batch.status == "validating"
    assert client.batches.retrieve(batch.id).status == "in_progress"
    done = client.batches.retrieve(batch.id)
    assert done.status == "completed"
    assert done.request_counts.total == 4
    assert done.request_counts.completed == 3 and done.request_counts.failed == 1
    assert server.files_uploaded == 1 and server.batches_created == 1
    assert server.batches[batch.id]["status"] == "completed"

    out = [json.loads(x) for x in client.files.content(done.output_file_id).text.splitlines()]
    assert [r["custom_id"] for r in out] == ["permit-0", "permit-1", "permit-3"]
    for rec in out:
        assert rec["id"].startswith("batch_req_") and rec["error"] is None
        assert rec["response"]["status_code"] == 200
        body = rec["response"]["body"]
        assert body["object"] == "chat.completion" and body["model"] == "gpt-test-mini"
        check_lead(json.loads(body["choices"][0]["message"]["content"]))
    errs = [json.loads(x) for x in client.files.content(done.error_file_id).text.splitlines()]
    assert [(e["custom_id"], e["response"]["status_code"]) for e in errs] == [("permit-2", 500)]
    assert server.calls == 0  # batch lines are not chat calls
    assert len(server.batch_requests) == 4


def test_batch_cancel(server):
    client = make_client(server)
    upload = client.files.create(file=("x.jsonl", (_batch_line("a", "x") + "\n").encode()), purpose="batch")
    batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert client.batches.cancel(batch.id).status == "cancelling"
    assert client.batches.retrieve(batch.id).status == "cancelled"
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_missing")
