"""A local, OpenAI-compatible HTTP test server with fault injection.

Standard library only.  Usage::

    from lead_assets_tests.openai_server import FakeOpenAI, rate_limited, ok

    with FakeOpenAI(latency=0.1) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)
        server.script(rate_limited(retry_after=0.5), ok({"score": 1, ...}))
        server.when("123 Main St", server_error(503), times=2)
        ...
        assert server.calls == 3

Supported endpoints (all under ``/v1``):

* ``POST /v1/chat/completions`` (non-streaming)
* ``POST /v1/files`` (multipart upload), ``GET /v1/files``, ``GET /v1/files/{id}``,
  ``GET /v1/files/{id}/content``, ``DELETE /v1/files/{id}``
* ``POST /v1/batches``, ``GET /v1/batches``, ``GET /v1/batches/{id}``,
  ``POST /v1/batches/{id}/cancel``
* ``GET /v1/models`` (lists ``models=[...]``)

Capacity like a local server (llama-server): ``slots=N`` works on N chat requests at once
and queues the rest (``max_active``, ``max_queued``, ``abandoned`` count what happened);
``hold()`` / ``release()`` park requests so a test can count them in flight. A weak
model: ``answer_category="other"`` makes every default answer name that category.

Behaviour resolution for a chat request (first match wins):

1. ``when(...)`` rules, in registration order (exhausted rules are dropped);
2. the ``script(...)`` queue (FIFO, in arrival order);
3. the default: ``responder(body)`` (or the built-in schema-driven responder).

Batch lines use ``when`` rules (matched against the line's ``custom_id`` *or* its user
messages) and then the default responder; they never consume the ``script`` queue and
are recorded in ``batch_requests`` (not in ``requests`` / ``calls``).
"""

from __future__ import annotations

import hashlib
import json
import math
import select
import socket
import socketserver
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import urlsplit

__all__ = [
    "FakeOpenAI",
    "Behavior",
    "ok",
    "rate_limited",
    "server_error",
    "timeout",
    "drop",
    "malformed",
    "wrong_values",
    "refusal",
    "truncated",
    "content_filter",
    "unauthorized",
    "bad_request",
    "default_responder",
    "schema_from_request",
    "last_user_message",
    "WRONG_VALUES",
    "MALFORMED_CONTENT",
]


# --------------------------------------------------------------------------------------
# Behaviors
# --------------------------------------------------------------------------------------


class Behavior:
    """What the server does with one chat request.  Build with the module-level constructors."""

    __slots__ = ("kind", "params")

    def __init__(self, kind: str, **params: Any) -> None:
        self.kind = kind
        self.params = params

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.kind}({args})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Behavior) and (self.kind, self.params) == (other.kind, other.params)

    __hash__ = None  # type: ignore[assignment]


MALFORMED_CONTENT = "Sure! Score: 85 {oops"

WRONG_VALUES: dict = {
    "score": 150,
    "category": "../../etc",
    "tier": "D",
    "reasoning": "x",
    "ideal_contractor": "x",
    "contact_priority": "asap",
    "flags": [],
}


def ok(content: dict | list | str | None = None) -> Behavior:
    """200 with this content (dict/list -> json.dumps, str as-is).  ``ok()`` = default responder."""
    return Behavior("ok", content=content)


def rate_limited(retry_after: float = 1) -> Behavior:
    """429 with ``Retry-After`` (seconds) and ``retry-after-ms`` headers."""
    return Behavior("rate_limited", retry_after=retry_after)


def server_error(status: int = 500) -> Behavior:
    """5xx (500/502/503/...) with an OpenAI-style error body."""
    return Behavior("server_error", status=int(status))


def timeout(seconds: float = 30) -> Behavior:
    """Hold the request for ``seconds`` (the client should time out first).

    Aborts early when the client disconnects or the server stops.  If the client is still
    connected after ``seconds``, a normal default response is sent.
    """
    return Behavior("timeout", seconds=float(seconds))


def drop() -> Behavior:
    """Close the connection without sending any response."""
    return Behavior("drop")


def malformed() -> Behavior:
    """200 whose message content is not JSON."""
    return Behavior("malformed")


def wrong_values() -> Behavior:
    """200 with schema-shaped JSON holding invalid values (see ``WRONG_VALUES``)."""
    return Behavior("wrong_values")


def refusal(text: str = "I'm sorry, I can't help with that.") -> Behavior:
    """200 with ``message.content = None`` and ``message.refusal = text``."""
    return Behavior("refusal", text=text)


def truncated() -> Behavior:
    """200 with ``finish_reason = "length"`` and the (default) content cut mid-JSON."""
    return Behavior("truncated")


def content_filter() -> Behavior:
    """200 with ``finish_reason = "content_filter"`` and ``content = None``."""
    return Behavior("content_filter")


def unauthorized() -> Behavior:
    """401 invalid_api_key (the message only contains a masked form of the key)."""
    return Behavior("unauthorized")


def bad_request(message: str = "Invalid request: the request body is not valid.") -> Behavior:
    """400 invalid_request_error (a permanent error)."""
    return Behavior("bad_request", message=message)


_CONSTRUCTORS = (ok, rate_limited, server_error, timeout, drop, malformed, wrong_values, refusal, truncated,
                 content_filter, unauthorized, bad_request)


def _as_behavior(b: Any) -> Behavior:
    if isinstance(b, Behavior):
        return b
    if callable(b) and b in _CONSTRUCTORS:
        # Allow passing a no-argument constructor itself, e.g. script(drop, malformed).
        return b()
    if isinstance(b, (dict, list, str)):
        return ok(b)
    raise TypeError(f"not a behavior: {b!r} (use ok(...), rate_limited(), ...)")


# --------------------------------------------------------------------------------------
# Helpers: text, hashing, token estimates
# --------------------------------------------------------------------------------------


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for part in content:
            if isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    out.append(part["text"])
            elif isinstance(part, str):
                out.append(part)
        return "\n".join(out)
    return str(content)


def _messages(body: dict) -> list:
    msgs = body.get("messages") if isinstance(body, dict) else None
    return msgs if isinstance(msgs, list) else []


def last_user_message(body: dict) -> str:
    """Text of the last ``role == "user"`` message ("" if none)."""
    for m in reversed(_messages(body)):
        if isinstance(m, dict) and m.get("role") == "user":
            return _content_text(m.get("content"))
    return ""


def _all_user_text(body: dict) -> str:
    return "\n".join(
        _content_text(m.get("content")) for m in _messages(body) if isinstance(m, dict) and m.get("role") == "user"
    )


def _system_text(body: dict) -> str:
    return "\n".join(
        _content_text(m.get("content"))
        for m in _messages(body)
        if isinstance(m, dict) and m.get("role") in ("system", "developer")
    )


def _h(text: str, salt: str = "") -> int:
    return int.from_bytes(hashlib.sha256((salt + "\x00" + text).encode("utf-8", "replace")).digest()[:8], "big")


def _tokens(text: str) -> int:
    return int(math.ceil(len(text) / 4)) if text else 0


def _mask_key(key: str | None) -> str:
    key = key or ""
    prefix = "sk-" if key.startswith("sk-") else ""
    suffix = key[-4:] if len(key) >= 24 else ""
    return f"{prefix}{'*' * 8}{suffix}"


def _new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


def _error_body(message: str, type_: str, code: Any = None, param: Any = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


# --------------------------------------------------------------------------------------
# Default responder (schema driven)
# --------------------------------------------------------------------------------------

DEFAULT_CATEGORIES = ["residential", "commercial", "industrial", "other"]
_CONTRACTORS = [
    "general contractor",
    "roofing contractor",
    "electrical contractor",
    "plumbing contractor",
    "HVAC contractor",
    "solar installer",
    "remodeling contractor",
    "concrete contractor",
]


def schema_from_request(body: dict) -> dict | None:
    """The JSON schema of ``response_format`` (type json_schema), or None."""
    rf = body.get("response_format") if isinstance(body, dict) else None
    if isinstance(rf, dict) and rf.get("type") == "json_schema":
        js = rf.get("json_schema")
        if isinstance(js, dict) and isinstance(js.get("schema"), dict):
            return js["schema"]
    return None


class _Gen:
    def __init__(self, root: dict, seed_text: str) -> None:
        self.root = root
        self.seed = seed_text

    def resolve(self, node: Any, depth: int = 0) -> Any:
        seen = 0
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and seen < 32:
            ref = node["$ref"]
            seen += 1
            target: Any = None
            if ref.startswith("#"):
                target = self.root
                for part in [p for p in ref[1:].split("/") if p]:
                    part = part.replace("~1", "/").replace("~0", "~")
                    if isinstance(target, dict) and part in target:
                        target = target[part]
                    else:
                        target = None
                        break
            if not isinstance(target, dict):
                return {}
            extra = {k: v for k, v in node.items() if k != "$ref"}
            node = {**target, **extra}
        return node if isinstance(node, dict) else {}

    def pick_enum(self, values: list, path: str) -> Any:
        non_null = [v for v in values if v is not None] or values
        if not non_null:
            return None
        return non_null[_h(self.seed, path) % len(non_null)]

    def gen(self, node: Any, path: str, depth: int = 0) -> Any:
        node = self.resolve(node, depth)
        if depth > 12:
            return None
        if "const" in node:
            return node["const"]
        if isinstance(node.get("enum"), list) and node["enum"]:
            return self.pick_enum(node["enum"], path)
        for key in ("anyOf", "oneOf"):
            opts = node.get(key)
            if isinstance(opts, list) and opts:
                resolved = [self.resolve(o, depth) for o in opts]
                non_null = [o for o in resolved if o.get("type") != "null"] or resolved
                return self.gen(non_null[0], path, depth + 1)
        if isinstance(node.get("allOf"), list) and node["allOf"]:
            merged: dict = {}
            for o in node["allOf"]:
                o = self.resolve(o, depth)
                for k, v in o.items():
                    if k in ("properties",) and isinstance(v, dict):
                        merged.setdefault("properties", {}).update(v)
                    elif k == "required" and isinstance(v, list):
                        merged.setdefault("required", []).extend(v)
                    else:
                        merged.setdefault(k, v)
            rest = {k: v for k, v in node.items() if k != "allOf"}
            return self.gen({**merged, **rest}, path, depth + 1)

        typ = node.get("type")
        if isinstance(typ, list):
            non_null = [t for t in typ if t != "null"]
            typ = non_null[0] if non_null else "null"
        if typ is None:
            if "properties" in node:
                typ = "object"
            elif "items" in node:
                typ = "array"
            else:
                typ = "string"

        if typ == "object":
            return self.gen_object(node, path, depth)
        if typ == "array":
            n = int(node.get("minItems", 0) or 0)
            items = node.get("items") if isinstance(node.get("items"), dict) else {}
            return [self.gen(items, f"{path}[{i}]", depth + 1) for i in range(n)]
        if typ in ("integer", "number"):
            return self.gen_number(node, path, typ)
        if typ == "boolean":
            return False
        if typ == "null":
            return None
        return self.gen_string(node, path)

    def bounds(self, node: dict, typ: str, default_lo: float, default_hi: float) -> tuple[float, float]:
        lo = node.get("minimum", default_lo)
        hi = node.get("maximum", default_hi)
        if "exclusiveMinimum" in node and isinstance(node["exclusiveMinimum"], (int, float)):
            lo = node["exclusiveMinimum"] + (1 if typ == "integer" else 1e-6)
        if "exclusiveMaximum" in node and isinstance(node["exclusiveMaximum"], (int, float)):
            hi = node["exclusiveMaximum"] - (1 if typ == "integer" else 1e-6)
        if hi < lo:
            hi = lo
        return lo, hi

    def gen_number(self, node: dict, path: str, typ: str) -> Any:
        name = path.rsplit(".", 1)[-1]
        if name == "score":
            lo, hi = self.bounds(node, typ, 0, 100)
        else:
            lo, hi = self.bounds(node, typ, 0, 10)
        if typ == "integer":
            lo_i, hi_i = int(math.ceil(lo)), int(math.floor(hi))
            if hi_i < lo_i:
                hi_i = lo_i
            salt = "score" if name == "score" else path
            return lo_i + _h(self.seed, salt) % (hi_i - lo_i + 1)
        frac = (_h(self.seed, path) % 10001) / 10000.0
        return round(lo + (hi - lo) * frac, 4)

    def gen_string(self, node: dict, path: str) -> str:
        name = path.rsplit(".", 1)[-1]
        fmt = node.get("format")
        if fmt == "date":
            s = "2024-01-01"
        elif fmt == "date-time":
            s = "2024-01-01T00:00:00Z"
        elif fmt == "email":
            s = "contact@example.com"
        elif fmt in ("uri", "url"):
            s = "https://example.com"
        elif name == "ideal_contractor":
            s = _CONTRACTORS[_h(self.seed, "ideal_contractor") % len(_CONTRACTORS)]
        elif name == "reasoning":
            snippet = " ".join(self.seed.split())[:60]
            s = f"Deterministic fake assessment of: {snippet}" if snippet else "Deterministic fake assessment."
        else:
            s = f"fake {name or 'value'}"
        min_len = int(node.get("minLength", 0) or 0)
        if len(s) < min_len:
            s = s + "x" * (min_len - len(s))
        max_len = node.get("maxLength")
        if isinstance(max_len, int) and len(s) > max_len:
            s = s[:max_len]
        return s

    def gen_object(self, node: dict, path: str, depth: int) -> dict:
        props = node.get("properties") if isinstance(node.get("properties"), dict) else {}
        out: dict = {}
        score: Any = None
        if "score" in props:
            score = self.gen(props["score"], f"{path}.score", depth + 1)
        for name, sub in props.items():
            sub_path = f"{path}.{name}"
            if name == "score":
                out[name] = score
                continue
            resolved = self.resolve(sub, depth)
            enum = resolved.get("enum") if isinstance(resolved.get("enum"), list) else None
            if name == "category" and enum:
                non_null = [v for v in enum if v is not None] or enum
                out[name] = non_null[_h(self.seed, "category") % len(non_null)]
            elif name == "contact_priority" and enum and {"call", "email", "skip"} <= set(enum):
                s = score if isinstance(score, (int, float)) else _h(self.seed, "score") % 101
                out[name] = "call" if s >= 80 else "email" if s >= 50 else "skip"
            elif name == "flags" and resolved.get("type") in ("array", ["array"], ["array", "null"], None):
                n = int(resolved.get("minItems", 0) or 0)
                items = resolved.get("items") if isinstance(resolved.get("items"), dict) else {}
                out[name] = [self.gen(items, f"{sub_path}[{i}]", depth + 1) for i in range(n)]
            else:
                out[name] = self.gen(sub, sub_path, depth + 1)
        # Required properties not listed in "properties": fill with strings.
        for name in node.get("required", []) or []:
            if isinstance(name, str) and name not in out:
                out[name] = f"fake {name}"
        return out


def _default_lead_schema() -> dict:
    return {
        "type": "object",
        "properties": {
            "score": {"type": "integer", "minimum": 0, "maximum": 100},
            "category": {"type": "string", "enum": DEFAULT_CATEGORIES},
            "reasoning": {"type": "string"},
            "ideal_contractor": {"type": "string"},
            "contact_priority": {"type": "string", "enum": ["call", "email", "skip"]},
            "flags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["score", "category", "reasoning", "ideal_contractor", "contact_priority", "flags"],
    }


def default_responder(body: dict) -> Any:
    """Deterministic, schema-valid answer for ``body`` (keyed on the last user message).

    Uses ``response_format.json_schema.schema`` if present (following ``$ref``/``$defs``,
    ``anyOf``, ...), else a lead-shaped object with ``DEFAULT_CATEGORIES``.
    """
    schema = schema_from_request(body) or _default_lead_schema()
    return _Gen(schema, last_user_message(body)).gen(schema, "")


# --------------------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------------------


class _DropConnection(Exception):
    pass


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512
    allow_reuse_address = True

    fake: "FakeOpenAI"

    def server_bind(self) -> None:
        # Skip HTTPServer.server_bind's socket.getfqdn() (may do a slow DNS lookup).
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = port

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (OSError, _DropConnection)):
            return
        traceback.print_exc(file=sys.stderr)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAI/1.0"
    sys_version = ""
    server: _HTTPServer

    # -- connection tracking ---------------------------------------------------------
    def setup(self) -> None:
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.server.fake._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.fake._track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    # -- low level I/O ---------------------------------------------------------------
    def _read_body(self) -> bytes:
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    break
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # trailers
                    while True:
                        t = self.rfile.readline(65537)
                        if not t or t in (b"\r\n", b"\n"):
                            break
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, payload: Any, headers: dict | None = None, content_type: str | None = None) -> None:
        if isinstance(payload, (bytes, bytearray)):
            data = bytes(payload)
            ctype = content_type or "application/octet-stream"
        else:
            data = json.dumps(payload).encode("utf-8")
            ctype = content_type or "application/json"
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-request-id", _new_id("req_"))
            self.send_header("openai-processing-ms", "1")
            for k, v in (headers or {}).items():
                self.send_header(k, str(v))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _wait(self, seconds: float, watch_client: bool = False) -> bool:
        """Sleep ``seconds``; return False if aborted (server stopping / client gone)."""
        fake = self.server.fake
        if seconds <= 0:
            return not fake._stopping.is_set()
        if not watch_client:
            return not fake._stopping.wait(seconds)
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True
            step = min(0.05, remaining)
            try:
                readable, _, _ = select.select([self.connection], [], [], step)
            except (OSError, ValueError):
                return False
            if fake._stopping.is_set():
                return False
            if readable:
                try:
                    peek = self.connection.recv(1, socket.MSG_PEEK)
                except OSError:
                    return False
                if not peek:
                    return False  # client closed its side
                if fake._stopping.wait(step):
                    return False

    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and not self.connection.recv(1, socket.MSG_PEEK)
        except (OSError, ValueError):
            return True

    def _wait_gate(self) -> bool:
        fake = self.server.fake
        while not fake._gate.wait(0.05):
            if fake._stopping.is_set() or self._client_gone():
                return False
        return True

    # -- routing ---------------------------------------------------------------------
    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        fake = self.server.fake
        try:
            body = self._read_body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        path = urlsplit(self.path).path.rstrip("/")
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            if method == "POST" and path == "/v1/chat/completions":
                return self._chat(body, headers)
            if not fake._authorized(headers):
                return self._send(401, fake._auth_error_body(headers))
            parts = [p for p in path.split("/") if p]
            status, payload, extra = fake._route(method, parts, body, headers)
            if isinstance(payload, (bytes, bytearray)):
                return self._send(status, payload, extra, content_type="application/octet-stream")
            return self._send(status, payload, extra)
        except _DropConnection:
            self._drop()
        except Exception as exc:  # pragma: no cover - debugging aid
            traceback.print_exc(file=sys.stderr)
            self._send(500, _error_body(f"FakeOpenAI internal error: {exc!r}", "server_error"))

    def _chat(self, raw: bytes, headers: dict) -> None:
        fake = self.server.fake
        try:
            body = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            body = None
        if not isinstance(body, dict):
            fake._record(raw, headers, "invalid_json")
            return self._send(400, _error_body("We could not parse the JSON body of your request.", "invalid_request_error"))
        authorized = fake._authorized(headers)
        behavior = fake._next_behavior(body) if authorized else unauthorized()
        # Let a custom responder pick the behavior (it may return a Behavior).
        for _ in range(4):
            if behavior.kind != "ok" or behavior.params.get("content") is not None:
                break
            try:
                content = fake._default_content(body)
            except Exception as exc:
                traceback.print_exc(file=sys.stderr)
                fake._record(body, headers, "responder_error")
                return self._send(500, _error_body(f"FakeOpenAI responder raised {exc!r}", "server_error"))
            behavior = content if isinstance(content, Behavior) else ok(content)
        fake._record(body, headers, behavior.kind)
        fake._enter()
        slot = exited = False
        try:
            if behavior.kind == "drop":
                return self._drop()
            if not self._wait_gate():
                return self._drop()
            if not fake._take_slot(self):
                with fake._lock:
                    fake.abandoned += 1
                return self._drop()
            slot = True
            if behavior.kind == "timeout":
                if not self._wait(behavior.params["seconds"], watch_client=True):
                    return self._drop()
                behavior = ok()
            elif not self._wait(fake.latency, watch_client=fake.slots is not None):
                if fake.slots is not None:
                    with fake._lock:
                        fake.abandoned += 1
                return self._drop()
            if body.get("stream"):
                return self._send(400, _error_body("stream=true is not supported by FakeOpenAI.", "invalid_request_error", param="stream"))
            status, payload, extra = fake._render(body, behavior, headers)
            # The counts drop before the answer is written: a client that has its answer
            # never sees itself still counted in flight.
            fake._give_slot()
            slot = False
            fake._exit()
            exited = True
            self._send(status, payload, extra)
        finally:
            if slot:
                fake._give_slot()
            if not exited:
                fake._exit()


class FakeOpenAI:
    """Local OpenAI-compatible server (see module docstring).

    Args:
        latency: seconds to sleep before answering each chat request (mutable attribute).
        responder: ``responder(body) -> dict | list | str | Behavior`` for default answers.
        api_key: if set, requests without ``Authorization: Bearer <api_key>`` get 401.
        batch_polls_to_complete: number of ``GET /v1/batches/{id}`` polls until "completed".
    """

    def __init__(
        self,
        latency: float = 0.0,
        responder: Callable[[dict], Any] | None = None,
        api_key: str | None = None,
        *,
        batch_polls_to_complete: int = 2,
        slots: int | None = None,
        answer_category: str | None = None,
        models: list[str] | tuple[str, ...] = ("gpt-fake",),
    ) -> None:
        self.latency = float(latency)
        # Like llama-server: `slots` requests are worked on at once, the rest wait in a queue
        # (the latency is spent holding a slot). None: no limit.
        self.slots = slots
        self._slot_sem = threading.BoundedSemaphore(slots) if slots else None
        # A weak model: every default answer (and ok() answer with a category) names this category.
        self.answer_category = answer_category
        self.models = list(models)                   # what GET /v1/models lists
        self._gate = threading.Event()               # hold(): requests wait here, counted in flight
        self._gate.set()
        self.responder = responder
        self.api_key = api_key
        self.batch_polls_to_complete = int(batch_polls_to_complete)
        self.base_url: str | None = None
        self.url: str | None = None
        self.port: int | None = None

        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._conns: set = set()
        self._seen_system: set = set()
        self._init_state()

    # -- state -------------------------------------------------------------------------
    def _init_state(self) -> None:
        self._script: deque = deque()
        self._rules: list = []  # [substring, Behavior, remaining|None]
        self.requests: list[dict] = []
        self.request_headers: list[dict] = []
        self.outcomes: list[str] = []  # behavior kind applied to each entry of `requests`
        self.calls = 0
        self.in_flight = 0          # requests received and not yet answered (queued ones included)
        self.max_in_flight = 0
        self.active = 0             # requests holding a slot (== in_flight without `slots`)
        self.max_active = 0
        self.max_queued = 0         # the most requests waiting for a slot at once
        self.abandoned = 0          # requests whose client hung up before the answer (cancelled)
        self.files: dict[str, dict] = {}
        self.file_bytes: dict[str, bytes] = {}
        self.batches: dict[str, dict] = {}
        self.batch_requests: list[dict] = []  # input lines of processed batches
        self.files_uploaded = 0
        self.batches_created = 0
        self._batch_polls: dict[str, int] = {}
        self._seen_system = set()

    def reset(self) -> None:
        """Clear script/when rules, statistics, files and batches (keeps latency/responder/api_key)."""
        with self._lock:
            in_flight, active = self.in_flight, self.active
            self._init_state()
            self.in_flight, self.active = in_flight, active

    def script(self, *behaviors: Any) -> "FakeOpenAI":
        """Queue behaviors for the next chat requests in arrival order (appends to the queue)."""
        with self._lock:
            self._script.extend(_as_behavior(b) for b in behaviors)
        return self

    def when(self, contains: str, behavior: Any, times: int | None = None) -> "FakeOpenAI":
        """Requests whose user message(s) contain ``contains`` get ``behavior``.

        ``times=None``: always; else that many times, then fall through.  For batch lines
        the substring is matched against the ``custom_id`` as well.
        """
        if times is not None and times <= 0:
            return self
        with self._lock:
            self._rules.append([contains, _as_behavior(behavior), times])
        return self

    def hold(self) -> "FakeOpenAI":
        """Park every chat request (counted in flight) until ``release()``."""
        self._gate.clear()
        return self

    def release(self) -> "FakeOpenAI":
        self._gate.set()
        return self

    @property
    def pending_script(self) -> int:
        with self._lock:
            return len(self._script)

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> "FakeOpenAI":
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        httpd.fake = self
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.base_url = f"{self.url}/v1"
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"FakeOpenAI:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd = self._httpd
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        with self._lock:
            conns = list(self._conns)
        for c in conns:  # wake up keep-alive handler threads blocked on read
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    close = stop

    def __enter__(self) -> "FakeOpenAI":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    # -- statistics --------------------------------------------------------------------
    def _record(self, body: Any, headers: dict, kind: str) -> None:
        with self._lock:
            self.requests.append(body if isinstance(body, dict) else {"_raw": body})
            self.request_headers.append(headers)
            self.outcomes.append(kind)
            self.calls += 1

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            if self.in_flight > self.max_in_flight:
                self.max_in_flight = self.in_flight

    def _exit(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _take_slot(self, handler: "_Handler") -> bool:
        """Wait in the queue for a slot; False when the client hung up or the server stops."""
        if self._slot_sem is None:
            got = True
        else:
            with self._lock:
                self.max_queued = max(self.max_queued, self.in_flight - self.active)
            got = False
            while not got:
                got = self._slot_sem.acquire(timeout=0.05)
                if not got and (self._stopping.is_set() or handler._client_gone()):
                    return False
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        return True

    def _give_slot(self) -> None:
        with self._lock:
            self.active -= 1
        if self._slot_sem is not None:
            self._slot_sem.release()

    # -- auth --------------------------------------------------------------------------
    def _authorized(self, headers: dict) -> bool:
        if not self.api_key:
            return True
        return headers.get("authorization", "") == f"Bearer {self.api_key}"

    @staticmethod
    def _sent_key(headers: dict) -> str:
        auth = headers.get("authorization", "")
        return auth[7:] if auth.lower().startswith("bearer ") else auth

    def _auth_error_body(self, headers: dict) -> dict:
        msg = (
            f"Incorrect API key provided: {_mask_key(self._sent_key(headers))}. "
            "You can find your API key at https://platform.openai.com/account/api-keys."
        )
        return _error_body(msg, "invalid_request_error", code="invalid_api_key")

    # -- behavior selection ------------------------------------------------------------
    def _match_rule(self, haystacks: list[str]) -> Behavior | None:
        for i, rule in enumerate(self._rules):
            needle, behavior, remaining = rule
            if any(needle in h for h in haystacks if h):
                if remaining is not None:
                    rule[2] = remaining - 1
                    if rule[2] <= 0:
                        del self._rules[i]
                return behavior
        return None

    def _next_behavior(self, body: dict) -> Behavior:
        with self._lock:
            b = self._match_rule([_all_user_text(body)])
            if b is not None:
                return b
            if self._script:
                return self._script.popleft()
        return ok()

    # -- chat rendering ----------------------------------------------------------------
    def _default_content(self, body: dict) -> Any:
        """Return default content (str) or a Behavior returned by the responder."""
        result = (self.responder or default_responder)(body)
        if isinstance(result, Behavior):
            return result
        if self.answer_category is not None and isinstance(result, dict) and "category" in result:
            result = {**result, "category": self.answer_category}
        return result if isinstance(result, str) else json.dumps(result)

    def _usage(self, body: dict, completion_text: str) -> dict:
        prompt_text = "".join(_content_text(m.get("content")) for m in _messages(body) if isinstance(m, dict))
        schema = schema_from_request(body)
        prompt_tokens = _tokens(prompt_text) + 3 * len(_messages(body)) + (_tokens(json.dumps(schema)) if schema else 0)
        sys_text = _system_text(body)
        sys_tokens = _tokens(sys_text)
        cached = 0
        if sys_tokens >= 1024:
            key = hashlib.sha256(sys_text.encode("utf-8", "replace")).hexdigest()
            with self._lock:
                if key in self._seen_system:
                    cached = (sys_tokens // 128) * 128
                else:
                    self._seen_system.add(key)
        completion_tokens = max(1, _tokens(completion_text))
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": min(cached, prompt_tokens), "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def _completion(self, body: dict, content: str | None, *, refusal_text: str | None = None,
                    finish_reason: str = "stop") -> dict:
        return {
            "id": _new_id("chatcmpl-"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or "gpt-fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": refusal_text, "annotations": []},
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
            "usage": self._usage(body, content or refusal_text or ""),
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
        }

    def _render(self, body: dict, behavior: Behavior, headers: dict, _depth: int = 0) -> tuple[int, dict, dict]:
        """(status, json payload, extra headers) for a chat request under ``behavior``.

        drop/timeout are rendered as (-1, {...}) so the batch code can map them.
        """
        kind, p = behavior.kind, behavior.params
        if kind == "ok":
            content = p.get("content")
            if content is None:
                try:
                    content = self._default_content(body)
                except Exception as exc:
                    traceback.print_exc(file=sys.stderr)
                    return 500, _error_body(f"FakeOpenAI responder raised {exc!r}", "server_error"), {}
                if isinstance(content, Behavior):
                    if _depth > 3:
                        return 500, _error_body("FakeOpenAI responder recursion", "server_error"), {}
                    return self._render(body, content, headers, _depth + 1)
            elif not isinstance(content, str):
                content = json.dumps(content)
            return 200, self._completion(body, content), {}
        if kind == "malformed":
            return 200, self._completion(body, MALFORMED_CONTENT), {}
        if kind == "wrong_values":
            return 200, self._completion(body, json.dumps(WRONG_VALUES)), {}
        if kind == "refusal":
            return 200, self._completion(body, None, refusal_text=p["text"]), {}
        if kind == "truncated":
            full = self._default_content(body)
            if isinstance(full, Behavior):
                full = json.dumps(default_responder(body))
            cut = full[: max(1, len(full) // 2)]
            return 200, self._completion(body, cut, finish_reason="length"), {}
        if kind == "content_filter":
            return 200, self._completion(body, None, finish_reason="content_filter"), {}
        if kind == "rate_limited":
            ra = float(p["retry_after"])
            ra_s = str(int(ra)) if ra == int(ra) else repr(ra)
            hdrs = {
                "Retry-After": ra_s,
                "retry-after-ms": str(int(round(ra * 1000))),
                "x-ratelimit-limit-requests": "500",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": f"{ra_s}s",
            }
            msg = (
                f"Rate limit reached for {body.get('model') or 'gpt-fake'} on requests per min (RPM): "
                f"Limit 500, Used 500, Requested 1. Please try again in {ra_s}s."
            )
            return 429, _error_body(msg, "rate_limit_error", code="rate_limit_exceeded", param=None), hdrs
        if kind == "server_error":
            status = int(p["status"])
            msgs = {
                500: "The server had an error while processing your request. Sorry about that!",
                502: "Bad gateway.",
                503: "The engine is currently overloaded, please try again later.",
                504: "Gateway timeout.",
            }
            return status, _error_body(msgs.get(status, "Server error."), "server_error"), {}
        if kind == "unauthorized":
            return 401, self._auth_error_body(headers), {}
        if kind == "bad_request":
            return 400, _error_body(p["message"], "invalid_request_error", code="invalid_request"), {}
        if kind in ("drop", "timeout"):
            return -1, {"kind": kind}, {}
        raise ValueError(f"unknown behavior {behavior!r}")

    # -- REST routing (files / batches / models) ----------------------------------------
    def _route(self, method: str, parts: list[str], body: bytes, headers: dict) -> tuple[int, Any, dict]:
        not_found = (404, _error_body(f"Invalid URL ({method} /{'/'.join(parts)})", "invalid_request_error"), {})
        if not parts or parts[0] != "v1":
            return not_found
        rest = parts[1:]
        if rest == ["models"] and method == "GET":
            return 200, {"object": "list", "data": [
                {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models]}, {}
        if rest and rest[0] == "files":
            return self._route_files(method, rest, body, headers, not_found)
        if rest and rest[0] == "batches":
            return self._route_batches(method, rest, body, not_found)
        return not_found

    def _missing(self, what: str, ident: str) -> tuple[int, dict, dict]:
        return 404, _error_body(f"No such {what}: {ident}", "invalid_request_error", code=None, param="id"), {}

    def _route_files(self, method, rest, body, headers, not_found):
        if rest == ["files"] and method == "POST":
            return self._upload(body, headers)
        if rest == ["files"] and method == "GET":
            with self._lock:
                data = sorted(self.files.values(), key=lambda f: f["created_at"], reverse=True)
            return 200, _list(data), {}
        if len(rest) >= 2:
            fid = rest[1]
            with self._lock:
                fobj = self.files.get(fid)
                content = self.file_bytes.get(fid)
            if fobj is None:
                return self._missing("File", fid)
            if len(rest) == 2 and method == "GET":
                return 200, dict(fobj), {}
            if len(rest) == 2 and method == "DELETE":
                with self._lock:
                    self.files.pop(fid, None)
                    self.file_bytes.pop(fid, None)
                return 200, {"id": fid, "object": "file", "deleted": True}, {}
            if len(rest) == 3 and rest[2] == "content" and method == "GET":
                return 200, content or b"", {}
        return not_found

    def _upload(self, body: bytes, headers: dict) -> tuple[int, Any, dict]:
        ctype = headers.get("content-type", "")
        if "multipart/form-data" not in ctype:
            return 400, _error_body("Expected multipart/form-data.", "invalid_request_error"), {}
        fields = _parse_multipart(body, ctype)
        if "file" not in fields:
            return 400, _error_body("Missing required parameter: 'file'.", "invalid_request_error", param="file"), {}
        purpose = fields.get("purpose", (None, b"batch"))[1].decode("utf-8", "replace")
        filename, data = fields["file"]
        return 200, self._store_file(data, filename or "upload.jsonl", purpose, count=True), {}

    def _store_file(self, data: bytes, filename: str, purpose: str, count: bool = False) -> dict:
        fid = _new_id("file-")
        now = int(time.time())
        fobj = {
            "id": fid,
            "object": "file",
            "bytes": len(data),
            "created_at": now,
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }
        with self._lock:
            self.files[fid] = fobj
            self.file_bytes[fid] = bytes(data)
            if count:
                self.files_uploaded += 1
        return dict(fobj)

    def _route_batches(self, method, rest, body, not_found):
        if rest == ["batches"] and method == "POST":
            try:
                params = json.loads(body.decode("utf-8") or "{}")
            except (UnicodeDecodeError, json.JSONDecodeError):
                return 400, _error_body("We could not parse the JSON body of your request.", "invalid_request_error"), {}
            return self._create_batch(params)
        if rest == ["batches"] and method == "GET":
            with self._lock:
                data = sorted(self.batches.values(), key=lambda b: b["created_at"], reverse=True)
                data = [dict(b) for b in data]
            return 200, _list(data), {}
        if len(rest) >= 2:
            bid = rest[1]
            with self._lock:
                if bid not in self.batches:
                    return self._missing("batch", bid)
            if len(rest) == 2 and method == "GET":
                return 200, self._poll_batch(bid), {}
            if len(rest) == 3 and rest[2] == "cancel" and method == "POST":
                return 200, self._cancel_batch(bid), {}
        return not_found

    def _create_batch(self, params: dict) -> tuple[int, Any, dict]:
        for req in ("input_file_id", "endpoint", "completion_window"):
            if not params.get(req):
                return 400, _error_body(f"Missing required parameter: '{req}'.", "invalid_request_error", param=req), {}
        if params["endpoint"] != "/v1/chat/completions":
            return 400, _error_body("FakeOpenAI only supports endpoint '/v1/chat/completions'.",
                                    "invalid_request_error", param="endpoint"), {}
        if params["completion_window"] != "24h":
            return 400, _error_body("Invalid completion_window: only '24h' is supported.",
                                    "invalid_request_error", param="completion_window"), {}
        with self._lock:
            if params["input_file_id"] not in self.files:
                return self._missing("File", params["input_file_id"])
        now = int(time.time())
        bid = _new_id("batch_")
        batch = {
            "id": bid,
            "object": "batch",
            "endpoint": params["endpoint"],
            "errors": None,
            "input_file_id": params["input_file_id"],
            "completion_window": "24h",
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": now,
            "in_progress_at": None,
            "expires_at": now + 86400,
            "finalizing_at": None,
            "completed_at": None,
            "failed_at": None,
            "expired_at": None,
            "cancelling_at": None,
            "cancelled_at": None,
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
            "metadata": params.get("metadata"),
            "model": None,
        }
        with self._lock:
            self.batches[bid] = batch
            self._batch_polls[bid] = 0
            self.batches_created += 1
            if self.batch_polls_to_complete <= 0:
                self._run_batch(bid)
            return 200, dict(batch), {}

    def _poll_batch(self, bid: str) -> dict:
        with self._lock:
            batch = self.batches[bid]
            if batch["status"] in ("validating", "in_progress"):
                self._batch_polls[bid] = self._batch_polls.get(bid, 0) + 1
                if self._batch_polls[bid] >= self.batch_polls_to_complete:
                    self._run_batch(bid)
                else:
                    batch["status"] = "in_progress"
                    batch["in_progress_at"] = batch["in_progress_at"] or int(time.time())
            elif batch["status"] == "cancelling":
                batch["status"] = "cancelled"
                batch["cancelled_at"] = int(time.time())
            return dict(batch)

    def _cancel_batch(self, bid: str) -> dict:
        with self._lock:
            batch = self.batches[bid]
            if batch["status"] in ("validating", "in_progress", "finalizing"):
                batch["status"] = "cancelling"
                batch["cancelling_at"] = int(time.time())
            return dict(batch)

    def _run_batch(self, bid: str) -> None:
        """Process all lines (called with the lock held) and mark the batch completed/failed."""
        batch = self.batches[bid]
        now = int(time.time())
        raw = self.file_bytes.get(batch["input_file_id"], b"")
        lines = []
        errors = []
        seen_ids: set = set()
        for n, line in enumerate(raw.decode("utf-8", "replace").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                if not isinstance(item, dict) or not isinstance(item.get("body"), dict):
                    raise ValueError("missing body")
            except (ValueError, json.JSONDecodeError):
                errors.append({"code": "invalid_json_line", "message": f"Line {n} is not a valid request.", "line": n})
                continue
            cid = item.get("custom_id")
            if not isinstance(cid, str) or not cid:
                errors.append({"code": "missing_custom_id", "message": f"Line {n} has no custom_id.", "line": n})
                continue
            if cid in seen_ids:
                errors.append({"code": "duplicate_custom_id", "message": f"Duplicate custom_id {cid!r}.", "line": n})
                continue
            seen_ids.add(cid)
            if item.get("url") not in (batch["endpoint"], batch["endpoint"][3:]):
                errors.append({"code": "invalid_url", "message": f"Line {n}: url must be {batch['endpoint']}.", "line": n})
                continue
            lines.append(item)
        if errors or not lines:
            if not errors:
                errors.append({"code": "empty_file", "message": "The input file has no requests.", "line": None})
            batch.update(status="failed", failed_at=now, in_progress_at=batch["in_progress_at"],
                         errors={"object": "list", "data": [{**e, "param": None} for e in errors]})
            return

        out_lines, err_lines = [], []
        usage_in = usage_out = usage_cached = 0
        for item in lines:
            body = item["body"]
            self.batch_requests.append(item)
            behavior = self._match_rule([item["custom_id"], _all_user_text(body)]) or ok()
            status, payload, _ = self._render(body, behavior, {})
            rec: dict = {"id": _new_id("batch_req_"), "custom_id": item["custom_id"]}
            if status == -1:
                kind = payload["kind"]
                rec["response"] = None
                rec["error"] = (
                    {"code": "batch_expired",
                     "message": "This request could not be executed before the completion window expired."}
                    if kind == "timeout" else {"code": "server_error", "message": "The request failed."}
                )
                err_lines.append(rec)
                continue
            rec["response"] = {"status_code": status, "request_id": _new_id("req_"), "body": payload}
            rec["error"] = None
            if status == 200:
                u = payload.get("usage") or {}
                usage_in += u.get("prompt_tokens", 0)
                usage_out += u.get("completion_tokens", 0)
                usage_cached += (u.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
                out_lines.append(rec)
            else:
                err_lines.append(rec)

        def jsonl(recs: list) -> bytes:
            return "".join(json.dumps(r) + "\n" for r in recs).encode("utf-8")

        out = self._store_file(jsonl(out_lines), f"batch_{bid}_output.jsonl", "batch_output")
        batch["output_file_id"] = out["id"]
        if err_lines:
            err = self._store_file(jsonl(err_lines), f"batch_{bid}_error.jsonl", "batch_output")
            batch["error_file_id"] = err["id"]
        batch.update(
            status="completed",
            in_progress_at=batch["in_progress_at"] or now,
            finalizing_at=now,
            completed_at=now,
            model=lines[0]["body"].get("model"),
            request_counts={"total": len(lines), "completed": len(out_lines), "failed": len(err_lines)},
            usage={
                "input_tokens": usage_in,
                "input_tokens_details": {"cached_tokens": usage_cached},
                "output_tokens": usage_out,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": usage_in + usage_out,
            },
        )


def _list(data: list) -> dict:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": False,
    }


def _parse_multipart(body: bytes, content_type: str) -> dict[str, tuple[str | None, bytes]]:
    """Minimal multipart/form-data parser: {field name: (filename, bytes)}."""
    boundary = None
    for piece in content_type.split(";")[1:]:
        k, _, v = piece.strip().partition("=")
        if k.lower() == "boundary":
            boundary = v.strip().strip('"')
    if not boundary:
        return {}
    delim = b"--" + boundary.encode("latin-1")
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in body.split(delim)[1:]:
        if part.startswith(b"--"):
            break
        if part.startswith(b"\r\n"):
            part = part[2:]
        head, sep, data = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        if data.endswith(b"\r\n"):
            data = data[:-2]
        name = filename = None
        for hline in head.decode("utf-8", "replace").split("\r\n"):
            hk, _, hv = hline.partition(":")
            if hk.strip().lower() != "content-disposition":
                continue
            for param in hv.split(";")[1:]:
                pk, _, pv = param.strip().partition("=")
                pv = pv.strip().strip('"')
                if pk.lower() == "name":
                    name = pv
                elif pk.lower() == "filename":
                    filename = pv
        if name is not None:
            fields[name] = (filename, data)
    return fields
