"""The model's answer: a Pydantic model, its strict JSON schema, and the validation of answers.

Chat Completions with `response_format={"type": "json_schema", "strict": true}` is the
portable choice: OpenAI enforces it by constrained decoding, and llama.cpp, Ollama and
vLLM accept the same request shape (they compile the schema to a grammar).

Two wire variants of one schema (the answer model, and so SCHEMA_VERSION, is the same):

* ``openai`` - only keywords OpenAI documents for strict mode: type, properties, required,
  additionalProperties: false, enum, description, minimum/maximum (numbers), maxItems
  (arrays). String lengths are not in OpenAI's documented list, so strings are bounded by
  the prompt, max_completion_tokens and the validation below.
* ``full`` - adds maxLength to the strings, for local constrained decoders (llama.cpp's
  grammar, Ollama, vLLM/xgrammar), which otherwise may run a string on until max_tokens
  and cut the JSON.

Whatever the server did, every answer is validated here: the score must be an integer in
0..100 (else the answer is rejected - never clamped into a plausible lead), the category
and contact priority must come from their enums (else they fall back to the rules'
values and the lead carries a flag), strings are cleaned and capped, flags come from a
closed list, and any "tier" the model may add is ignored: tiers come from the score.
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lead_assets.leads.taxonomy import CATEGORIES, CONTACT_PRIORITIES

REASONING_MAX = 400
IDEAL_MAX = 80
MAX_FLAGS = 4
FLAG_MAX = 32

# The flags a model may raise (closed list: an enum in the schema, checked again here).
MODEL_FLAGS: tuple[str, ...] = (
    "suspected_injection",   # the permit text tries to instruct the assessor
    "vague_description",     # too little text to judge the work
    "commercial_property",   # a business property, not a household
    "not_a_sales_lead",      # no buyer would want it (demolition, removal, inspection only, ...)
    "insurance_claim",       # storm / hail / insurance work: urgent, competitive
    "high_value_job",
    "needs_human_review",    # the assessor is unsure; a person should look
)

Category = Literal[CATEGORIES]                       # type: ignore[valid-type]
ContactPriority = Literal[CONTACT_PRIORITIES]        # type: ignore[valid-type]
Flag = Literal[MODEL_FLAGS]                          # type: ignore[valid-type]


class LeadAnswer(BaseModel):
    """One building permit assessed as a sales lead for contractors."""

    # Property order is generation order: the model writes its reasoning before it commits
    # to a category and a score (a small model otherwise picks first and justifies after).

    model_config = ConfigDict(extra="forbid")

    reasoning: str = Field(max_length=REASONING_MAX,
                           description="One or two sentences on why the lead scores as it does.")
    category: Category = Field(description="The trade category of the work, from the list.")
    score: int = Field(ge=0, le=100, description="Lead value 0-100: A 80-100, B 50-79, C 0-49.")
    contact_priority: ContactPriority = Field(description="call, email or skip.")
    ideal_contractor: str = Field(max_length=IDEAL_MAX,
                                  description="The kind of contractor who should buy this lead, a short phrase.")
    flags: list[Flag] = Field(max_length=MAX_FLAGS, description="Zero or more flags from the list.")


class Verdict(BaseModel):
    """A validated answer as the scorer uses it and the cache stores it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    score: int = Field(ge=0, le=100)
    category: Optional[Category] = None               # None: rejected, the rules' category stands
    reasoning: str = Field(max_length=REASONING_MAX)
    ideal_contractor: Optional[str] = Field(default=None, max_length=IDEAL_MAX)
    contact_priority: Optional[ContactPriority] = None
    flags: tuple[Flag, ...] = Field(default=(), max_length=MAX_FLAGS)
    notes: tuple[str, ...] = ()                       # what validation had to fix, e.g. category_rejected


# ---------------------------------------------------------------------- JSON schema

_OPENAI_KEYWORDS = {"type", "properties", "required", "additionalProperties", "enum", "description",
                    "items", "minimum", "maximum", "maxItems", "minItems"}


def _strict(node: object, bounds: str) -> object:
    if isinstance(node, list):
        return [_strict(n, bounds) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in ("title", "default"):
            continue
        if key in ("maxLength", "minLength") and bounds == "openai":
            continue
        if key == "properties":
            out[key] = {name: _strict(sub, bounds) for name, sub in value.items()}
        else:
            out[key] = _strict(value, bounds)
    if out.get("type") == "object":
        out["additionalProperties"] = False
        out["required"] = list(out.get("properties", {}))
    return out


def json_schema(bounds: str = "openai") -> dict:
    """The strict JSON schema of LeadAnswer (bounds: "openai" or "full", see module doc)."""
    if bounds not in ("openai", "full"):
        raise ValueError(f"bounds must be openai or full, not {bounds!r}")
    schema = _strict(LeadAnswer.model_json_schema(), bounds)
    assert "$defs" not in schema and "$ref" not in json.dumps(schema)   # keep it flat (portable)
    return schema


def response_format(bounds: str = "openai") -> dict:
    return {"type": "json_schema",
            "json_schema": {"name": "permit_lead", "strict": True, "schema": json_schema(bounds)}}


def openai_keywords_ok(schema: dict) -> list[str]:
    """Keywords outside OpenAI's documented strict subset (empty list: fine)."""
    bad: list[str] = []

    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                if path.endswith("properties"):
                    walk(v, f"{path}.{k}")
                    continue
                if k not in _OPENAI_KEYWORDS:
                    bad.append(f"{path}.{k}")
                walk(v, f"{path}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]")
    walk(schema, "$")
    return [b for b in bad if ".enum[" not in b]


SCHEMA_VERSION = "s1-" + hashlib.sha256(
    json.dumps(json_schema("full"), sort_keys=True).encode()).hexdigest()[:10]


# ---------------------------------------------------------------------- validation

class AnswerError(ValueError):
    """The answer cannot be used (a RETRY reason)."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


def clean_text(value: str, limit: int) -> str:
    """NFKC, no control / bidi characters, single spaces, at most `limit` characters."""
    s = unicodedata.normalize("NFKC", value)
    s = _CONTROL.sub(" ", s)
    s = " ".join(s.split())
    return s if len(s) <= limit else s[: limit - 1].rstrip() + "…"


def sanitize_flag(flag: str) -> str:
    return re.sub(r"[^a-z0-9_:-]+", "_", str(flag).lower()).strip("_")[:FLAG_MAX]


def _snippet(text: str, n: int = 40) -> str:
    return " ".join(str(text).split())[:n]


def parse_answer(text: str | None) -> Verdict:
    """Validate the model's JSON text. Raises AnswerError(reason) when it is unusable."""
    if text is None or not str(text).strip():
        raise AnswerError("empty answer")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise AnswerError(f"invalid JSON: {_snippet(text)!r}") from None
    if not isinstance(data, dict):
        raise AnswerError("invalid answer: not a JSON object")
    missing = [k for k in LeadAnswer.model_fields if k not in data]
    if missing:
        raise AnswerError(f"invalid answer: missing {', '.join(missing)}")
    problems = []
    score = data["score"]
    if isinstance(score, bool) or not isinstance(score, (int, float)) or (
            isinstance(score, float) and not score.is_integer()):
        problems.append(f"score {_snippet(repr(score), 20)} is not an integer")
    elif not 0 <= score <= 100:
        problems.append(f"score {int(score) if float(score).is_integer() else score} outside 0-100")
    for key in ("reasoning", "ideal_contractor"):
        if not isinstance(data[key], str):
            problems.append(f"{key} is not a string")
    if problems:
        raise AnswerError("invalid answer: " + "; ".join(problems))

    notes: list[str] = []
    category = data["category"]
    if category not in CATEGORIES:
        notes.append("category_rejected")           # e.g. "../../etc": never a path, never a file
        category = None
    priority = data["contact_priority"]
    if priority not in CONTACT_PRIORITIES:
        notes.append("contact_priority_rejected")
        priority = None
    raw_flags = data["flags"] if isinstance(data["flags"], list) else []
    if not isinstance(data["flags"], list):
        notes.append("flags_rejected")
    flags: list[str] = []
    for f in raw_flags:
        f = sanitize_flag(f) if isinstance(f, str) else ""
        if f in flags:
            continue                                 # a repeated flag is not an error: once is enough
        if f in MODEL_FLAGS:
            flags.append(f)
        elif f and "unknown_flag_dropped" not in notes:
            notes.append("unknown_flag_dropped")
    if len(flags) > MAX_FLAGS:
        flags = flags[:MAX_FLAGS]
        notes.append("flags_truncated")
    if set(data) - set(LeadAnswer.model_fields):
        notes.append("extra_fields_ignored")         # e.g. a "tier": tiers come from the score
    reasoning = clean_text(data["reasoning"], REASONING_MAX)
    if len(data["reasoning"]) > REASONING_MAX:
        notes.append("reasoning_capped")
    ideal = clean_text(data["ideal_contractor"], IDEAL_MAX) or None
    try:
        return Verdict(score=int(score), category=category, reasoning=reasoning or "(no reasoning given)",
                       ideal_contractor=ideal, contact_priority=priority, flags=tuple(flags),
                       notes=tuple(notes))
    except ValidationError as exc:   # pragma: no cover - the checks above are the same rules
        raise AnswerError("invalid answer: " + _snippet(exc, 120)) from None


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0

    def add(self, other: "Usage") -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cached_tokens += other.cached_tokens

    @classmethod
    def of(cls, completion: dict) -> "Usage":
        u = completion.get("usage") or {}
        details = u.get("prompt_tokens_details") or {}
        return cls(int(u.get("prompt_tokens") or 0), int(u.get("completion_tokens") or 0),
                   int(details.get("cached_tokens") or 0))


@dataclass
class Interpreted:
    verdict: Verdict | None = None
    reason: str | None = None
    usage: Usage = field(default_factory=Usage)


def interpret_completion(completion: dict, max_tokens: int) -> Interpreted:
    """One chat completion (as a dict: from the SDK or a Batch API output line) -> verdict or reason."""
    usage = Usage.of(completion)
    choices = completion.get("choices") or []
    if not choices:
        return Interpreted(reason="empty response (no choices)", usage=usage)
    choice = choices[0] or {}
    message = choice.get("message") or {}
    finish = choice.get("finish_reason")
    if message.get("refusal"):
        return Interpreted(reason=f"refusal: {_snippet(message['refusal'], 100)}", usage=usage)
    if finish == "content_filter":
        return Interpreted(reason="content_filter: the provider filtered the answer", usage=usage)
    if finish == "length":
        return Interpreted(reason=f"truncated: answer cut at the {max_tokens}-token limit", usage=usage)
    try:
        return Interpreted(verdict=parse_answer(message.get("content")), usage=usage)
    except AnswerError as exc:
        return Interpreted(reason=str(exc), usage=usage)
