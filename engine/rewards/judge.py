"""The LLM reward judge (RJ): an async client for any OpenAI-compatible chat endpoint.

One call per reply: the rubric's applicable rules go in the system message, the case, dialogue and
reply go fenced as data (:mod:`engine.rewards.judge_prompt`), and the answer is forced through a JSON
schema (structured outputs) so it always parses. E_judge = the points of the rules found hit.

Never an exception into the training step: a call that fails after its retries, times out, stops for
any ``finish_reason`` but ``stop`` or returns something that does not fit the schema gives a neutral
verdict (E_judge = 0, ``ok=False``) that is counted in :class:`JudgeStats` and logged.

Never a prompt the server must refuse, never a verdict cut off (:mod:`engine.rewards.judge_budget`):
``max_tokens`` defaults to the longest verdict the schema allows, and a prompt that would not leave that
much room in the server's context loses its oldest dialogue messages (``truncated``) or, when even the
reply alone does not fit, is not sent at all (a failure of kind ``too_long``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.prompting import template_kwargs
from engine.rewards import judge_prompt
from engine.rewards.judge_budget import ContextBudget, verdict_max_tokens
from engine.rewards.judge_prompt import judge_messages
from engine.rewards.rubric import EVIDENCE_MAX_CHARS, Rubric, default_rubric

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JudgeItem:
    """One reply to judge: the case, the dialogue before it, the reply and the SOP stage (if known)."""

    task: dict
    history: Sequence[dict]
    reply: str
    stage: str | None = None


# Why a call failed (``JudgeVerdict.kind``): the prompt did not fit the context even without the dialogue,
# the verdict was cut by an explicit ``max_tokens``, the server or network failed, or the answer was invalid.
FAIL_TOO_LONG, FAIL_CUT, FAIL_SERVER, FAIL_INVALID = "too_long", "cut", "server", "invalid"


@dataclass
class JudgeVerdict:
    ok: bool  # False = a failed call: e_judge 0 here, the batch mean of successes in the reward (judge_terms)
    e_judge: float
    hits: list[str] = field(default_factory=list)  # rule ids found hit (deductions and bonuses)
    evidence: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    cached: bool = False
    latency_s: float = 0.0
    kind: str | None = None  # for a failed call: FAIL_TOO_LONG, FAIL_CUT, FAIL_SERVER or FAIL_INVALID
    dropped_messages: int = 0  # oldest dialogue messages left out so that the prompt fits the context

    @classmethod
    def failed(cls, error: str, latency_s: float = 0.0, *, kind: str = FAIL_SERVER) -> JudgeVerdict:
        return cls(ok=False, e_judge=0.0, error=error, latency_s=latency_s, kind=kind)


@dataclass
class JudgeStats:
    calls: int = 0  # requests sent (retries included)
    verdicts: int = 0  # verdicts returned (cache hits included)
    failures: int = 0  # neutral verdicts after a failed call
    retries: int = 0
    cache_hits: int = 0
    latency_s: float = 0.0  # summed over successful calls
    too_long: int = 0  # failures: the prompt did not fit the context even without the dialogue (not sent)
    truncated: int = 0  # verdicts whose prompt lost its oldest dialogue messages to fit the context

    def as_dict(self) -> dict[str, float]:
        out = asdict(self)
        succeeded = self.verdicts - self.failures - self.cache_hits
        out["mean_latency_s"] = self.latency_s / succeeded if succeeded > 0 else 0.0
        return out


class _Retryable(Exception):
    """A transient failure worth another try (connection, timeout, 429, 5xx)."""


class _Refused(Exception):
    """A call that must not be retried; ``kind`` says why (``FAIL_*``)."""

    def __init__(self, message: str, *, kind: str):
        super().__init__(message)
        self.kind = kind


class RewardJudge:
    """Score replies against a :class:`~engine.rewards.rubric.Rubric` with an OpenAI-compatible model.

    ``concurrency`` calls run at once (measured: 16 concurrent calls were 12x faster than serial on
    vLLM); each call gets ``timeout`` seconds and up to ``retries`` retries with exponential backoff.
    Verdicts are cached in memory (LRU, ``cache_size``) and, with ``cache_dir``, on disk, keyed by the
    rubric's version and content, the prompt template's version, the model and the inputs.

    ``max_tokens`` 0 (the default) = the longest verdict the schema allows, so no verdict is cut off;
    ``context_tokens`` 0 = ask the server for its context length (see :mod:`engine.rewards.judge_budget`).
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        rubric: Rubric | dict | None = None,
        concurrency: int = 16,
        timeout: float = 30.0,
        max_tokens: int = 0,
        context_tokens: int = 0,
        evidence_chars: int = EVIDENCE_MAX_CHARS,
        retries: int = 2,
        backoff: float = 0.5,
        cache_size: int = 4096,
        cache_dir: str | Path | None = None,
        api_key: str = "EMPTY",
    ):
        self.base_url, self.model, self.api_key = base_url, model, api_key
        self.rubric = Rubric.from_dict(rubric) if isinstance(rubric, dict) else rubric or default_rubric()
        self.concurrency, self.timeout, self.max_tokens = concurrency, timeout, max_tokens
        self.evidence_chars = evidence_chars  # bounds each evidence string: the verdict must fit max_tokens
        self.retries, self.backoff = retries, backoff
        self.cache_size = cache_size
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.stats = JudgeStats()
        self.budget = ContextBudget(
            base_url=base_url, model=model, api_key=api_key, context_tokens=context_tokens, timeout=timeout
        )
        self._cache: OrderedDict[str, JudgeVerdict] = OrderedDict()
        self._lock = threading.Lock()  # the cache and stats are shared by the loops of judge_batch threads

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> RewardJudge:
        """From :class:`engine.config.JudgeConfig` (its rubric may be inline or a path to a JSON file)."""
        kwargs = dict(
            base_url=config.base_url,
            model=config.model,
            rubric=config_rubric(config),
            concurrency=config.concurrency,
            timeout=config.timeout,
            max_tokens=config.max_tokens,
            context_tokens=config.context_tokens,
            evidence_chars=config.evidence_chars,
            retries=config.retries,
        )
        return cls(**{**kwargs, **overrides})

    # -- public API ----------------------------------------------------------------------------------
    async def judge_many(self, items: Sequence[JudgeItem | dict]) -> list[JudgeVerdict]:
        """Verdicts in input order; at most ``concurrency`` requests in flight."""
        import httpx
        from openai import AsyncOpenAI

        items = [i if isinstance(i, JudgeItem) else JudgeItem(**i) for i in items]
        semaphore = asyncio.Semaphore(self.concurrency)  # per call: a semaphore binds to one event loop
        self.budget.bind_loop()
        client = AsyncOpenAI(base_url=self.base_url, api_key=self.api_key, timeout=self.timeout, max_retries=0)
        http = httpx.AsyncClient(timeout=self.timeout)  # context length and token counts (judge_budget)
        try:
            return list(await asyncio.gather(*(self._judge_one(client, http, semaphore, i) for i in items)))
        finally:
            await client.close()
            await http.aclose()

    def judge_batch(self, items: Sequence[JudgeItem | dict]) -> list[JudgeVerdict]:
        """:meth:`judge_many` for callers without an event loop (or inside one: then on a thread)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.judge_many(items))
        result: list[JudgeVerdict] = []
        thread = threading.Thread(target=lambda: result.extend(asyncio.run(self.judge_many(items))))
        thread.start()
        thread.join()
        return result

    def cache_key(self, item: JudgeItem) -> str:
        payload = json.dumps(
            [
                self.rubric.version,
                self.rubric.fingerprint(),
                judge_prompt.PROMPT_VERSION,
                self.model,
                item.task,
                list(item.history),
                item.reply,
                item.stage,
            ],
            sort_keys=True,
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    # -- one reply -----------------------------------------------------------------------------------
    async def _judge_one(self, client, http, semaphore: asyncio.Semaphore, item: JudgeItem) -> JudgeVerdict:
        key = self.cache_key(item)
        cached = self._cache_get(key)
        if cached is not None:
            return cached
        async with semaphore:
            verdict = await self._call_with_retries(client, http, item)
        with self._lock:
            self.stats.verdicts += 1
            if verdict.ok:
                self.stats.latency_s += verdict.latency_s
                self.stats.truncated += verdict.dropped_messages > 0
            else:
                self.stats.failures += 1
                self.stats.too_long += verdict.kind == FAIL_TOO_LONG
        if verdict.ok:
            self._cache_put(key, verdict)
        else:
            log.warning("judge: neutral verdict (E_judge=0) after a failed call: %s", verdict.error)
        return verdict

    async def _call_with_retries(self, client, http, item: JudgeItem) -> JudgeVerdict:
        start = time.perf_counter()
        error = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                with self._lock:
                    self.stats.retries += 1
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1) * (1 + random.random() / 2))
            try:
                return await asyncio.wait_for(self._call(client, http, item, start), timeout=self.timeout)
            except _Retryable as exc:
                error = str(exc)
            except TimeoutError:
                error = f"timed out after {self.timeout}s"
            except _Refused as exc:
                return JudgeVerdict.failed(str(exc), time.perf_counter() - start, kind=exc.kind)
            except Exception as exc:  # a bad answer or a 4xx: retrying at temperature 0 would repeat it
                return JudgeVerdict.failed(
                    f"{type(exc).__name__}: {exc}", time.perf_counter() - start, kind=FAIL_INVALID
                )
        return JudgeVerdict.failed(error, time.perf_counter() - start)

    def verdict_tokens(self, stage: str | None) -> int:
        """The ``max_tokens`` of a call at ``stage``: the explicit setting, else the schema's longest verdict."""
        return self.max_tokens or verdict_max_tokens(self.rubric.schema(stage, evidence_chars=self.evidence_chars))

    def _messages(self, item: JudgeItem, history: Sequence[dict]) -> list[dict]:
        return judge_messages(
            rubric=self.rubric,
            task=item.task,
            history=history,
            reply=item.reply,
            stage=item.stage,
            evidence=self.evidence_chars > 0,
        )

    async def _fitted_messages(self, http, item: JudgeItem, max_tokens: int) -> tuple[list[dict], int]:
        """The call's messages and how many of the oldest dialogue messages were left out so that the prompt
        and ``max_tokens`` fit the server's context; the rubric, the case and the reply always stay."""
        context = await self.budget.context(http)
        if context is None:
            return self._messages(item, item.history), 0
        room = context - max_tokens
        history = list(item.history)

        async def fits(dropped: int) -> bool:
            return await self.budget.prompt_tokens(http, self._messages(item, history[dropped:]), room=room) <= room

        if await fits(0):
            return self._messages(item, history), 0
        if not await fits(len(history)):
            raise _Refused(
                f"prompt too long: even without the dialogue it leaves less than the {max_tokens} tokens a "
                f"verdict needs in the judge's {context}-token context",
                kind=FAIL_TOO_LONG,
            )
        low, high = 0, len(history)  # fits(high) and not fits(low): the fewest messages to drop
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (low, middle) if await fits(middle) else (middle, high)
        return self._messages(item, history[high:]), high

    async def _call(self, client, http, item: JudgeItem, start: float) -> JudgeVerdict:
        import openai

        schema = self.rubric.schema(item.stage, evidence_chars=self.evidence_chars)
        max_tokens = self.verdict_tokens(item.stage)
        messages, dropped = await self._fitted_messages(http, item, max_tokens)
        with self._lock:
            self.stats.calls += 1
        try:
            response = await client.chat.completions.create(
                model=self.model,
                messages=messages,
                temperature=0.0,
                max_tokens=max_tokens,
                # vLLM 0.32 maps OpenAI's json_schema response_format onto its structured outputs
                # (vllm/entrypoints/generate/base/protocol.py: structured_outputs_from_response_format).
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "judge_verdict", "schema": schema, "strict": True},
                },
                extra_body={"chat_template_kwargs": template_kwargs(None)},
            )
        except (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError) as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
        except openai.BadRequestError as exc:  # e.g. a context the server counts differently: not retried
            kind = FAIL_TOO_LONG if "context length" in str(exc) else FAIL_INVALID
            raise _Refused(f"{type(exc).__name__}: {exc}", kind=kind) from exc
        choice = response.choices[0]
        if choice.finish_reason != "stop":
            raise _Refused(f"finish_reason {choice.finish_reason!r} (the verdict may be cut off)", kind=FAIL_CUT)
        verdict = self._parse(choice.message.content or "", list(schema["required"]), time.perf_counter() - start)
        verdict.dropped_messages = dropped
        return verdict

    def _parse(self, content: str, rule_ids: list[str], latency_s: float) -> JudgeVerdict:
        data = json.loads(content)
        if not isinstance(data, dict) or sorted(data) != sorted(rule_ids):
            raise ValueError(f"verdict keys {sorted(data) if isinstance(data, dict) else type(data)} != rules")
        hits, evidence = [], {}
        for rule_id in rule_ids:
            verdict = data[rule_id]
            if not isinstance(verdict, dict) or not isinstance(verdict.get("hit"), bool):
                raise ValueError(f"verdict for {rule_id!r} is not {{hit[, evidence]}}")
            if verdict["hit"]:
                hits.append(rule_id)
                evidence[rule_id] = str(verdict.get("evidence", ""))
        return JudgeVerdict(
            ok=True, e_judge=self.rubric.e_judge(hits), hits=hits, evidence=evidence, latency_s=latency_s
        )

    # -- cache ---------------------------------------------------------------------------------------
    def _cache_get(self, key: str) -> JudgeVerdict | None:
        with self._lock:
            verdict = self._cache.get(key)
            if verdict is not None:
                self._cache.move_to_end(key)
        if verdict is None and self.cache_dir is not None:
            path = self.cache_dir / f"{key}.json"
            if path.exists():
                verdict = JudgeVerdict(**json.loads(path.read_text(encoding="utf-8")))
                self._cache_put(key, verdict, to_disk=False)
        if verdict is None:
            return None
        with self._lock:
            self.stats.cache_hits += 1
            self.stats.verdicts += 1
        return JudgeVerdict(**{**asdict(verdict), "cached": True, "latency_s": 0.0})

    def _cache_put(self, key: str, verdict: JudgeVerdict, *, to_disk: bool = True) -> None:
        with self._lock:
            self._cache[key] = verdict
            self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        if to_disk and self.cache_dir is not None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = self.cache_dir / f"{key}.{os.getpid()}.{threading.get_ident()}.tmp"
            tmp.write_text(json.dumps(asdict(verdict)), encoding="utf-8")
            tmp.replace(self.cache_dir / f"{key}.json")


def config_rubric(config: Any) -> dict | None:
    """A :class:`engine.config.JudgeConfig`'s rubric document: inline, read from its path, or None."""
    rubric = config.rubric
    if isinstance(rubric, str):
        rubric = json.loads(Path(rubric).read_text(encoding="utf-8"))
    return rubric


def judge_from_config(config: Any, **overrides: Any):
    """The judge a :class:`engine.config.JudgeConfig` names: a :class:`RewardJudge` calling its server or,
    with ``in_process``, the demo judge in ``model``'s directory read in this process
    (:class:`engine.tinymodel.judge.InProcessJudge`, the same ``judge_batch`` / ``rubric`` / ``stats``)."""
    if getattr(config, "in_process", False):
        from engine.tinymodel.judge import InProcessJudge

        return InProcessJudge(config.model, rubric=config_rubric(config))
    return RewardJudge.from_config(config, **overrides)
