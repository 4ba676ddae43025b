"""The gateway's decisions, as plain synchronous functions (the ASGI app in ``deploy.gateway.app`` runs the
ones that touch the database in a thread): check a request, resolve the model name to a version (slot
routing, A/B by a hash of the hotel), build the prompt with the one template, apply the slot's guardrail.

Nothing here talks to vLLM; everything here is testable without a server.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from engine.prompting import to_chat
from engine.rewards.rules import RULE_IDS, check
from engine.task import MAX_MESSAGE_CHARS, task_errors
from kernel.text import json_line, json_problems

MAX_BODY_BYTES = 256 * 1024
MAX_MESSAGES = 200
MAX_TOKENS_LIMIT = 512  # the most a reply may ask for (the served context is small; vLLM checks the sum)
DEFAULT_MAX_TOKENS = 256
MAX_RETRIES = 5
# Sent on every call, so that what is served is what was trained and evaluated: vLLM runs with
# --generation-config vllm and nothing is left to a model's generation_config.json (docs/engine.md).
NEUTRAL_SAMPLING: dict[str, float | int] = {
    "temperature": 1.0,
    "top_p": 1.0,
    "top_k": 0,
    "min_p": 0.0,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "repetition_penalty": 1.0,
}
CLIENT_SAMPLING = ("temperature", "top_p", "seed")  # what a caller may set; the rest stays neutral
CHAT_ROLES = ("user", "assistant")
DEFAULT_FALLBACK = "Thank you for your reply. Let me check the details with my team and come back to you shortly."


class GatewayError(Exception):
    """An OpenAI-style error: ``{"error": {"message", "type", "param", "code"}}`` with an HTTP status."""

    def __init__(self, status: int, message: str, *, code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param

    @property
    def type(self) -> str:
        return {
            401: "authentication_error",
            403: "permission_error",
            404: "invalid_request_error",
            413: "invalid_request_error",
            429: "rate_limit_error",
        }.get(self.status, "invalid_request_error" if self.status < 500 else "server_error")

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def _bad(message: str, *, param: str | None = None, code: str = "invalid_request") -> GatewayError:
    return GatewayError(400, message, code=code, param=param)


@dataclass
class ChatRequest:
    """A checked ``/v1/chat/completions`` body."""

    model: str
    history: list[dict]  # engine messages: {"role": "agent"|"hotel", "content", "stage": None}
    case: dict | None
    case_id: int | None
    hotel_id: str
    stream: bool
    max_tokens: int
    sampling: dict[str, Any]
    outcome: dict | None
    raw: dict = field(repr=False, default_factory=dict)


def parse_body(body: bytes) -> dict:
    """The JSON body, bounded: size, depth, digits, NUL / surrogates / controls in every string."""
    if len(body) > MAX_BODY_BYTES:
        raise GatewayError(413, f"The request body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad(f"The body is not UTF-8 (byte {exc.start}).") from None
    try:
        data = json_line(text.replace("\r", " "))  # a raw CR can only be whitespace in valid JSON
    except ValueError as exc:
        raise _bad(f"Invalid JSON body: {exc}.") from None
    if not isinstance(data, dict):
        raise _bad("The body must be a JSON object.")
    problems = json_problems(data)
    if problems:
        raise _bad("; ".join(problems[:5]), param=problems[0].split(":")[0])
    return data


def _number(data: dict, name: str, low: float, high: float, default: Any) -> Any:
    value = data.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise _bad(f"{name}: a number from {low:g} to {high:g}.", param=name)
    return value


def check_request(data: dict) -> ChatRequest:
    """Every field of a chat request checked, or a 400 naming the field (and the message's index)."""
    model = data.get("model")
    if not isinstance(model, str) or not model.strip() or len(model) > 200:
        raise _bad("model: required, a slot name or a version name.", param="model")
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("messages: a non-empty list.", param="messages")
    if len(messages) > MAX_MESSAGES:
        raise _bad(f"messages: {len(messages)} messages; at most {MAX_MESSAGES}.", param="messages")
    history = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise _bad(f"messages[{i}]: must be an object.", param=f"messages[{i}]")
        role, content = m.get("role"), m.get("content")
        if role == "system":
            raise _bad(
                f"messages[{i}].role: the system message is rendered by Parley from the case; "
                "send user (hotel) and assistant (agent) messages only.",
                param=f"messages[{i}].role",
            )
        if role not in CHAT_ROLES:
            raise _bad(f"messages[{i}].role: must be user or assistant (got {role!r}).", param=f"messages[{i}].role")
        if not isinstance(content, str) or not content.strip():
            raise _bad(f"messages[{i}].content: must be a non-empty string.", param=f"messages[{i}].content")
        if len(content) > MAX_MESSAGE_CHARS:
            raise GatewayError(
                400,
                f"messages[{i}].content: {len(content)} characters; the limit is {MAX_MESSAGE_CHARS}.",
                code="context_length_exceeded",
                param=f"messages[{i}].content",
            )
        history.append({"role": "agent" if role == "assistant" else "hotel", "content": content, "stage": None})
    if history[-1]["role"] != "hotel":
        raise _bad("messages: the last message must be the hotel's (role user).", param="messages")
    case, case_id = data.get("case"), data.get("case_id")
    if (case is None) == (case_id is None):
        raise _bad("Give exactly one of case_id (a case in Parley) and case (the case data).", param="case")
    if case_id is not None and (isinstance(case_id, bool) or not isinstance(case_id, int) or case_id < 1):
        raise _bad("case_id: a positive integer.", param="case_id")
    if case is not None:
        errors = task_errors(case)
        if errors:
            raise GatewayError(400, "Invalid case: " + "; ".join(errors), code="invalid_case", param="case")
    hotel_id = data.get("hotel_id", data.get("user", ""))
    if hotel_id is None:
        hotel_id = ""
    if not isinstance(hotel_id, str | int) or isinstance(hotel_id, bool) or len(str(hotel_id)) > 200:
        raise _bad("hotel_id: a string of at most 200 characters.", param="hotel_id")
    max_tokens = data.get("max_completion_tokens", data.get("max_tokens"))
    if max_tokens is None:
        max_tokens = DEFAULT_MAX_TOKENS
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise _bad("max_tokens: a positive integer.", param="max_tokens")
    if max_tokens > MAX_TOKENS_LIMIT:
        raise GatewayError(
            400,
            f"max_tokens: {max_tokens} is too many tokens; the gateway allows at most {MAX_TOKENS_LIMIT}.",
            code="context_length_exceeded",
            param="max_tokens",
        )
    if data.get("n", 1) != 1:
        raise _bad("n: the gateway returns one choice.", param="n")
    sampling = dict(NEUTRAL_SAMPLING)
    sampling["temperature"] = _number(data, "temperature", 0, 2, sampling["temperature"])
    sampling["top_p"] = _number(data, "top_p", 0.01, 1, sampling["top_p"])
    seed = data.get("seed")
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
            raise _bad("seed: an integer from 0 to 2^31-1.", param="seed")
        sampling["seed"] = seed
    outcome = data.get("outcome")
    if outcome is not None and (
        not isinstance(outcome, dict)
        or set(outcome) - {"hotel_replied", "price_reduced_to_target", "ticket_closed"}
        or not all(isinstance(v, bool) for v in outcome.values())
    ):
        raise _bad("outcome: an object of hotel_replied, price_reduced_to_target, ticket_closed booleans.")
    stream = data.get("stream", False)
    if not isinstance(stream, bool):
        raise _bad("stream: true or false.", param="stream")
    return ChatRequest(
        model=model.strip(),
        history=history,
        case=case,
        case_id=case_id,
        hotel_id=str(hotel_id),
        stream=stream,
        max_tokens=max_tokens,
        sampling=sampling,
        outcome=outcome,
        raw=data,
    )


def prompt_messages(request: ChatRequest, case: dict) -> list[dict]:
    """The chat sent to vLLM: the system message of ``engine.prompting`` (the training template), then the
    dialogue (hotel → user, agent → assistant)."""
    return to_chat(request.history, case=case, sop=None)


# -- routing -----------------------------------------------------------------------------------------------
def hotel_bucket(slot: str, hotel_id: str) -> float:
    """A hotel's stable place in [0, 1) for a slot: the same hotel always lands on the same version."""
    digest = hashlib.sha256(f"{slot}\x1f{hotel_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def pick_weighted(routes: list[tuple[Any, float]], bucket: float) -> Any:
    """The route whose cumulative share holds ``bucket`` (routes in a fixed order, weights ≥ 0)."""
    total = sum(w for _, w in routes)
    point, upto = bucket * total, 0.0
    for target, weight in routes:
        upto += weight
        if weight > 0 and point < upto:
            return target
    return next(t for t, w in reversed(routes) if w > 0)


# -- guardrails --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Guardrail:
    mode: str  # flag | regenerate | fallback | off
    retries: int = 2
    rules: tuple[str, ...] = ()
    fallback_reply: str = ""

    def hits(self, reply: str, *, case: dict, history: list[dict]) -> list[dict]:
        """The rule hits of ``reply`` this guardrail acts on: ``[{"rule", "evidence"}]``."""
        if self.mode == "off":
            return []
        found = check(reply, task=case, history=history)
        return [{"rule": v.rule, "evidence": v.evidence} for v in found if not self.rules or v.rule in self.rules]

    def fallback(self, case: dict) -> str:
        return (self.fallback_reply or DEFAULT_FALLBACK).replace("{hotel}", case["hotel"]["name"])


GUARDRAIL_OFF = Guardrail(mode="off")
KNOWN_RULES = RULE_IDS


def sse(data: dict | str) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"data: {payload}\n\n".encode()
