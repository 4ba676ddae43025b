"""The judge's token budget: a verdict can never be cut off and a prompt never exceeds the context.

Two facts make this exact rather than hopeful:

- **The verdict is bounded by its schema.** Structured outputs hold the judge to a closed JSON schema
  (:meth:`engine.rewards.rubric.Rubric.schema`) with no free whitespace and bounded strings, so the
  longest verdict it can write has a known number of bytes (:func:`verdict_max_bytes`). A tokenizer
  whose every token covers at least one byte (byte-level BPE, as Qwen's and the tiny model's) then needs
  at most that many tokens, plus one for the end of turn: asking for that many ``max_tokens`` means a
  verdict ends with ``finish_reason == "stop"`` whatever the model.
- **The prompt is measured before it is sent.** :class:`ContextBudget` learns the server's context
  length (vLLM reports ``max_model_len``) and counts a prompt's tokens with the server's own tokenizer
  (vLLM's ``/tokenize``) when a cheap bound (bytes) does not already show that it fits. The judge then
  drops the oldest dialogue messages, keeping the rubric, the case and the reply, and refuses the call
  (a counted failure, no request sent) only when even the reply alone does not fit.

Servers that report neither (a hosted API) get no checks: their context is large and a refusal there
is still a counted failure.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from engine.prompting import template_kwargs

log = logging.getLogger(__name__)

# A JSON string character is at most 6 bytes: an escape ``\\u00XX`` (a UTF-8 character is at most 4).
MAX_BYTES_PER_STRING_CHAR = 6
# What a chat template adds around each message (role header, end marker) and at the generation
# prompt, in bytes; generous for ChatML-style templates, used only for the cheap upper bound.
TEMPLATE_BYTES_PER_MESSAGE = 64
TEMPLATE_BYTES_FIXED = 64


def schema_max_bytes(schema: dict[str, Any]) -> int:
    """The most bytes one compact JSON instance of ``schema`` can take (the subset the rubric uses:
    closed objects with required properties, booleans, enums, bounded strings, anyOf).

    >>> schema_max_bytes({"type": "object", "properties": {"a": {"type": "boolean"}}, "additionalProperties": False})
    11
    >>> schema_max_bytes({"type": "string", "maxLength": 3})
    20
    """
    if "anyOf" in schema:
        return max(schema_max_bytes(s) for s in schema["anyOf"])
    if "enum" in schema:
        return max(len(json.dumps(v, ensure_ascii=False).encode()) for v in schema["enum"])
    kind = schema.get("type")
    if kind == "boolean":
        return len(b"false")
    if kind == "string":
        if "maxLength" not in schema:
            raise ValueError("an unbounded string has no longest instance")
        return 2 + MAX_BYTES_PER_STRING_CHAR * int(schema["maxLength"])
    if kind == "object":
        properties = schema.get("properties", {})
        if schema.get("additionalProperties", True) is not False:
            raise ValueError("an open object has no longest instance")
        members = [
            len(json.dumps(k, ensure_ascii=False).encode()) + 1 + schema_max_bytes(v) for k, v in properties.items()
        ]
        return 2 + sum(members) + max(len(members) - 1, 0)
    raise ValueError(f"schema type {kind!r} is not bounded here")


def verdict_max_tokens(schema: dict[str, Any]) -> int:
    """``max_tokens`` that no verdict of ``schema`` can exceed (one token covers at least one byte; one
    more for the end-of-turn token)."""
    return schema_max_bytes(schema) + 1


def bytes_bound(messages: list[dict[str, str]]) -> int:
    """An upper bound on the prompt's tokens from its bytes (no server needed)."""
    content = sum(len(str(m.get("content", "")).encode()) + len(str(m.get("role", ""))) for m in messages)
    return content + TEMPLATE_BYTES_PER_MESSAGE * len(messages) + TEMPLATE_BYTES_FIXED


def root_url(base_url: str) -> str:
    """vLLM serves ``/tokenize`` beside ``/v1``, not under it.

    >>> root_url("http://127.0.0.1:8000/v1/")
    'http://127.0.0.1:8000'
    """
    url = base_url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


class ContextBudget:
    """The judge server's context length and prompt token counts, learnt once and cached.

    ``context_tokens`` > 0 fixes the context (no discovery); 0 asks the server (``GET /v1/models``, vLLM's
    ``max_model_len``). When the server cannot count tokens (no ``/tokenize``), the byte bound stands in:
    it over-counts, so prompts are cut earlier than needed but never sent too long.
    """

    def __init__(self, *, base_url: str, model: str, api_key: str, context_tokens: int = 0, timeout: float = 30.0):
        self.base_url, self.model, self.api_key, self.timeout = base_url.rstrip("/"), model, api_key, timeout
        self._context: int | None = context_tokens or None
        self._discovered = bool(context_tokens)
        self._can_tokenize: bool | None = None
        self._lock = asyncio.Lock()

    def bind_loop(self) -> None:
        """A fresh lock for the event loop about to run (``judge_batch`` runs each batch in a new loop, and an
        asyncio lock belongs to one loop)."""
        self._lock = asyncio.Lock()

    async def context(self, http) -> int | None:
        """The context length in tokens, or None when the server does not say (then nothing is checked)."""
        if not self._discovered:
            async with self._lock:
                if not self._discovered:
                    self._context = await self._discover(http)
                    self._discovered = True
        return self._context

    async def prompt_tokens(self, http, messages: list[dict[str, str]], *, room: int) -> int:
        """The prompt's token count, exact when the server counts, else the byte bound. ``room`` is what
        the prompt may take: a byte bound within it needs no request."""
        bound = bytes_bound(messages)
        if bound <= room or self._can_tokenize is False:
            return bound
        body = {
            "model": self.model,
            "messages": messages,
            "add_generation_prompt": True,
            "chat_template_kwargs": template_kwargs(None),
        }
        try:
            response = await http.post(f"{root_url(self.base_url)}/tokenize", json=body, headers=self._headers())
        except Exception as exc:  # a transient failure: the bound is safe, and the next call asks again
            log.warning("judge: could not count prompt tokens (%s); using the byte bound", exc)
            return bound
        if response.status_code in (404, 405, 501):
            self._can_tokenize = False
            log.info("judge: the server has no /tokenize; prompts are measured by a byte bound")
            return bound
        if response.status_code != 200:
            return bound
        self._can_tokenize = True
        return int(response.json()["count"])

    async def _discover(self, http) -> int | None:
        try:
            response = await http.get(f"{self.base_url}/models", headers=self._headers())
            data = response.json().get("data", []) if response.status_code == 200 else []
        except Exception as exc:
            log.warning("judge: could not read the server's context length (%s); prompts are not checked", exc)
            return None
        lengths = [m.get("max_model_len") for m in data if isinstance(m, dict) and m.get("id") == self.model]
        lengths = lengths or [m.get("max_model_len") for m in data if isinstance(m, dict)]
        found = next((int(n) for n in lengths if isinstance(n, int) and n > 0), None)
        if found is None:
            log.info("judge: the server does not report a context length; prompts are not checked")
        return found

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}
