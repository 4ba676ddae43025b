"""The OpenAI-compatible gateway: ``POST /v1/chat/completions`` and ``GET /v1/models``, an async Starlette
app mounted beside Django in ``parley/asgi.py`` (``mount``). One event loop serves every in-flight
request: the call to vLLM goes through one ``aiohttp.ClientSession`` shared by every request (opened at
start-up, closed at shutdown, its connections kept alive), and the few database reads (the key, the
route, the case) run on a small thread pool, so a slow generation holds no worker.

A request: the key (``kernel.api_keys``, with the API's lockout) → the body checked
(``deploy.gateway.core``) → the model name resolved to a version (a slot's weighted routes, sticky per
hotel, else its production version; or a version by name) → its live endpoint
(``deploy.selectors.live_endpoint``) → the prompt from the one template → vLLM, with every sampling
field explicit → the slot's guardrail → the answer, and the exchange handed to the write-behind log
(``deploy.gateway.log``), which the response never waits for.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from deploy.gateway.core import (
    ChatRequest,
    GatewayError,
    Guardrail,
    check_request,
    hotel_bucket,
    parse_body,
    pick_weighted,
    prompt_messages,
    sse,
)
from deploy.gateway.log import ExchangeWriter
from engine.prompting import template_kwargs

log = logging.getLogger("parley.gateway")
DB_THREADS = 8
UPSTREAM_TIMEOUT_S = 120.0
PLAN_CACHE_S = 2.0  # routes, guardrails and live endpoints are re-read at most this often per worker
UPSTREAM_CONNECT_S = 5.0
UPSTREAM_CONNECTIONS = 256
# Every failure of a call to the model server (aiohttp's errors, and a timeout: asyncio's is the builtin).
UPSTREAM_ERRORS = (aiohttp.ClientError, TimeoutError)
# A connection that could not be made or broke: the server is down. A timeout is not (it may be a long
# generation), though aiohttp's read and connect timeouts are connection errors too: see ``_unreachable``.
UNREACHABLE = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError)
ERR_KEY = "Missing API key: send 'Authorization: Bearer pk_…' (create one under API keys)."


@dataclass(frozen=True)
class Target:
    version_id: int
    version_name: str
    slot: str
    base_url: str
    upstream_model: str
    guardrail: Guardrail
    deployment_id: int | None = None


# -- database work, on the gateway's own threads -----------------------------------------------------------
def _db_authenticate(key: str, ip: str):
    from kernel.api_keys import KeyRefused, key_user
    from kernel.security import api_auth_failed, api_locked_message

    locked = api_locked_message(ip)
    if locked:
        raise GatewayError(429, locked, code="locked_out")
    try:
        user = key_user(key)
    except KeyRefused as refused:
        api_auth_failed(ip)
        raise GatewayError(401, refused.message, code="invalid_api_key") from None
    return user.parley_api_key.pk


def _db_guardrail(slot: str) -> Guardrail:
    from deploy.gateway_models import SlotGuardrail

    row = SlotGuardrail.objects.filter(slot=slot).first() if slot else None
    if row is None:
        return Guardrail(mode=SlotGuardrail.Mode.REGENERATE, retries=2)
    return Guardrail(
        mode=row.mode, retries=row.retries, rules=tuple(row.rules or ()), fallback_reply=row.fallback_reply
    )


@dataclass(frozen=True)
class Plan:
    """How a model name is served right now: one target, or weighted targets (a slot's A/B routes)."""

    model: str
    slot: str
    choices: tuple[tuple[Target | None, float, str], ...]  # (target or None when not live, weight, version)
    weighted: bool

    def pick(self, hotel_id: str) -> Target:
        """The target for this hotel (sticky: a hash of slot and hotel id picks among weighted routes)."""
        if self.weighted:
            bucket = hotel_bucket(self.slot, hotel_id) if hotel_id else random.random()
            target, name = pick_weighted([((t, n), w) for t, w, n in self.choices], bucket)
        else:
            target, _, name = self.choices[0]
        if target is None:
            where = f" (slot {self.slot})" if self.slot else ""
            raise GatewayError(
                503, f"No live deployment serves {name}{where}; try again later.", code="model_unavailable"
            )
        return target


def _db_plan(model: str) -> Plan:
    """What ``model`` (a slot or a version name) resolves to, and where each version is served."""
    from deploy import selectors
    from deploy.gateway_models import SlotRoute
    from registry.models import ModelVersion

    routes = [
        (r.version, r.weight) for r in SlotRoute.objects.filter(slot=model).select_related("version").order_by("pk")
    ]
    slot, weighted = model, bool(routes) and any(w > 0 for _, w in routes)
    if not weighted:
        version = ModelVersion.objects.filter(slot=model, stage=ModelVersion.Stage.PRODUCTION).first()
        if version is None:
            version = ModelVersion.objects.filter(name=model).first()
            slot = version.slot if version else ""
        if version is None:
            raise GatewayError(
                404,
                f"The model {model!r} does not exist: name a serving slot or a registered version (GET /v1/models).",
                code="model_not_found",
                param="model",
            )
        routes = [(version, 1.0)]
    guardrail = _db_guardrail(slot)
    choices = []
    for version, weight in routes:
        if version.kind != ModelVersion.Kind.POLICY:
            raise GatewayError(
                404, f"{version.name} is a {version.get_kind_display().lower()}, not a policy.", code="model_not_found"
            )
        endpoint = selectors.live_endpoint(version) if weight > 0 or not weighted else None
        target = None
        if endpoint is not None:
            target = Target(
                version.pk,
                version.name,
                slot,
                endpoint.base_url.rstrip("/"),
                endpoint.model,
                guardrail,
                endpoint.deployment_id,
            )
        choices.append((target, float(weight), version.name))
    return Plan(model, slot, tuple(choices), weighted)


def _db_case(case_id: int) -> dict:
    from annotation.models import NegotiationCase

    case = NegotiationCase.objects.prefetch_related("tickets").filter(pk=case_id).first()
    if case is None:
        raise GatewayError(404, f"case_id: there is no case {case_id}.", code="case_not_found", param="case_id")
    return case.to_task()


def _db_models() -> list[str]:
    from deploy.gateway_models import SlotRoute
    from registry.models import ModelVersion

    slots = set(SlotRoute.objects.filter(weight__gt=0).values_list("slot", flat=True))
    slots |= set(
        ModelVersion.objects.filter(stage=ModelVersion.Stage.PRODUCTION).exclude(slot="").values_list("slot", flat=True)
    )
    names = ModelVersion.objects.filter(kind=ModelVersion.Kind.POLICY).exclude(stage=ModelVersion.Stage.RETIRED)
    return sorted(slots) + sorted(set(names.values_list("name", flat=True)) - slots)


class DbThreads:
    """A fixed pool for the gateway's database reads; at shutdown the connections its threads opened are
    closed (from the closing thread, with Django's thread-sharing guard lifted for that)."""

    def __init__(self, size: int = DB_THREADS):
        self.pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="gateway-db")
        self.connections: dict[int, object] = {}

    def _call(self, fn, *args):
        from django.db import connections

        try:
            return fn(*args)
        finally:
            self.connections[threading.get_ident()] = connections["default"]  # this thread's wrapper

    async def run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.pool, self._call, fn, *args)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        for wrapper in self.connections.values():
            wrapper.inc_thread_sharing()
            try:
                wrapper.close()
            finally:
                wrapper.dec_thread_sharing()
        self.connections.clear()


# -- the app -----------------------------------------------------------------------------------------------
class Gateway:
    def __init__(self, *, writer: ExchangeWriter | None = None):
        self.writer = writer or ExchangeWriter()
        self.plans: dict[str, tuple[float, Plan]] = {}  # model name → (good until, plan)
        self.keys: dict[str, tuple[float, int]] = {}  # key that worked → (good until, key id)
        self.db: DbThreads | None = None
        self.http: aiohttp.ClientSession | None = None
        self.reports: set[asyncio.Task] = set()  # "server unreachable" reports in flight

    @asynccontextmanager
    async def lifespan(self, app) -> AsyncIterator[None]:
        self.db = DbThreads()
        # No total limit (a stream lasts as long as the generation): at most UPSTREAM_TIMEOUT_S waiting for a
        # pooled connection and between two reads, UPSTREAM_CONNECT_S to open a connection.
        self.http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(
                total=None, connect=UPSTREAM_TIMEOUT_S, sock_connect=UPSTREAM_CONNECT_S, sock_read=UPSTREAM_TIMEOUT_S
            ),
            connector=aiohttp.TCPConnector(limit=UPSTREAM_CONNECTIONS),
        )
        self.writer.start()
        try:
            yield
        finally:
            await self.http.close()
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, self.writer.stop)  # writes what is still queued
            await loop.run_in_executor(None, self.db.close)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/v1/models", self.models, methods=["GET"]),
            ],
            lifespan=self.lifespan,
            exception_handlers={404: self.not_found, 405: self.not_allowed},
        )

    async def not_found(self, request, exc) -> Response:
        return _error(GatewayError(404, f"No such endpoint: {request.url.path}.", code="not_found"))

    async def not_allowed(self, request, exc) -> Response:
        return _error(GatewayError(405, f"{request.method} is not allowed here.", code="method_not_allowed"))

    async def _auth(self, request: Request) -> int:
        """The key's id. A key that worked is trusted for ``PARLEY_GATEWAY_KEY_CACHE_S`` (2 s) in this
        process, so a busy client costs one key check per interval; a revoke bites within that time."""
        from django.conf import settings

        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise GatewayError(401, ERR_KEY, code="invalid_api_key")
        now, ttl = time.monotonic(), getattr(settings, "PARLEY_GATEWAY_KEY_CACHE_S", 2.0)
        cached = self.keys.get(key)
        if cached and cached[0] > now:
            return cached[1]
        key_id = await self.db.run(_db_authenticate, key, _client_ip(request))
        if ttl > 0:
            if len(self.keys) > 1000:
                self.keys.clear()
            self.keys[key] = (now + ttl, key_id)
        return key_id

    async def _plan(self, model: str) -> Plan:
        """The model's plan, read at most every ``PLAN_CACHE_S`` (a plan with a version not live is not kept)."""
        now = time.monotonic()
        cached = self.plans.get(model)
        if cached and cached[0] > now:
            return cached[1]
        plan = await self.db.run(_db_plan, model)
        if all(target is not None for target, weight, _ in plan.choices if weight > 0):
            if len(self.plans) > 1000:
                self.plans.clear()
            self.plans[model] = (now + PLAN_CACHE_S, plan)
        return plan

    async def models(self, request: Request) -> Response:
        try:
            await self._auth(request)
            names = await self.db.run(_db_models)
        except GatewayError as error:
            return _error(error)
        now = int(time.time())
        data = [{"id": n, "object": "model", "created": now, "owned_by": "parley"} for n in names]
        return JSONResponse({"object": "list", "data": data})

    async def chat(self, request: Request) -> Response:
        started = time.perf_counter()
        record: dict = {}
        try:
            key_id = await self._auth(request)
            body = await _read_body(request)
            chat = check_request(parse_body(body))
            case = chat.case if chat.case is not None else await self.db.run(_db_case, chat.case_id)
            target = (await self._plan(chat.model)).pick(chat.hotel_id)
        except GatewayError as error:
            return _error(error)
        exchange_id = uuid.uuid4().hex
        record = {
            "exchange_id": exchange_id,
            "key_id": key_id,
            "chat": chat,
            "case": case,
            "target": target,
            "started": started,
            "at": time.time(),
        }
        prompt = prompt_messages(chat, case)
        if chat.stream and target.guardrail.mode in ("flag", "off"):
            return StreamingResponse(self._stream_through(chat, prompt, target, record), media_type="text/event-stream")
        try:
            text, finish, usage, verdicts, retries, fallback = await self._guarded_reply(chat, prompt, case, target)
        except GatewayError as error:
            self._log(record, status=error.status, error=error.message)
            return _error(error)
        self._log(record, reply=text, verdicts=verdicts, retries=retries, fallback=fallback)
        extra = _parley(target, exchange_id, verdicts, retries, fallback)
        if chat.stream:
            return StreamingResponse(
                _replay_stream(exchange_id, chat.model, text, finish, extra), media_type="text/event-stream"
            )
        return JSONResponse(
            {
                "id": f"chatcmpl-{exchange_id}",
                "object": "chat.completion",
                "created": int(record["at"]),
                "model": chat.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
                "usage": usage,
                "parley": extra,
            }
        )

    # -- upstream ------------------------------------------------------------------------------------------
    def _payload(self, chat: ChatRequest, prompt: list[dict], target: Target, *, stream: bool, seed=None) -> dict:
        sampling = dict(chat.sampling)
        if seed is not None:
            sampling["seed"] = seed
        return {
            "model": target.upstream_model,
            "messages": prompt,
            "max_tokens": chat.max_tokens,
            "n": 1,
            "stream": stream,
            "chat_template_kwargs": template_kwargs(None),  # the template's switches, as the models trained
            **sampling,
        }

    async def _complete(self, payload: dict, target: Target) -> tuple[str, str, dict]:
        try:
            async with self.http.post(f"{target.base_url}/chat/completions", json=payload) as answer:
                status, raw = answer.status, await answer.read()
        except UPSTREAM_ERRORS as exc:
            raise self._down(target, exc) from None
        _raise_upstream(status, raw, target)
        try:
            data = json.loads(raw)
            choice = data["choices"][0]
            return (
                choice["message"].get("content") or "",
                choice.get("finish_reason") or "stop",
                data.get("usage") or {},
            )
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise GatewayError(
                503,
                f"The model server for {target.version_name} answered something that is not a chat completion.",
                code="model_unavailable",
            ) from None

    async def _guarded_reply(self, chat: ChatRequest, prompt: list[dict], case: dict, target: Target):
        guard = target.guardrail
        payload = self._payload(chat, prompt, target, stream=False)
        text, finish, usage = await self._complete(payload, target)
        verdicts, retries = [], 0
        hits = guard.hits(text, case=case, history=chat.history)
        verdicts += [{"attempt": 0, **h, "reply": text} for h in hits]  # the reply stays in the log only
        if not hits or guard.mode == "flag":
            return text, finish, usage, verdicts, 0, False
        if guard.mode == "regenerate":
            while hits and retries < guard.retries:
                retries += 1
                seed = random.randrange(2**31)
                text, finish, usage = await self._complete(
                    self._payload(chat, prompt, target, stream=False, seed=seed), target
                )
                hits = guard.hits(text, case=case, history=chat.history)
                verdicts += [{"attempt": retries, **h, "reply": text} for h in hits]
            if not hits:
                return text, finish, usage, verdicts, retries, False
        return guard.fallback(case), "stop", usage, verdicts, retries, True

    async def _stream_through(self, chat: ChatRequest, prompt: list[dict], target: Target, record: dict):
        """Flag mode, streaming: vLLM's chunks pass through as they come; the rules run on the whole reply
        at the end (a final chunk carries the verdicts). A client that goes away mid-stream is logged
        with status 499 and what it had been sent."""
        parts: list[str] = []
        try:
            async for chunk in self._stream_chunks(chat, prompt, target, record, parts):
                yield chunk
        except (GeneratorExit, asyncio.CancelledError):
            if "status" not in record:
                self._log(record, reply="".join(parts), status=499, error="client closed the stream")
            raise

    async def _stream_chunks(self, chat, prompt, target: Target, record: dict, parts: list[str]):
        exchange_id = record["exchange_id"]
        payload = self._payload(chat, prompt, target, stream=True)
        try:
            async with self.http.post(f"{target.base_url}/chat/completions", json=payload) as answer:
                if answer.status != 200:
                    _raise_upstream(answer.status, await answer.read(), target)
                async for line in _lines(answer.content):
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    chunk = json.loads(line[6:])
                    for choice in chunk.get("choices", []):
                        parts.append((choice.get("delta") or {}).get("content") or "")
                    chunk.update(id=f"chatcmpl-{exchange_id}", model=chat.model)
                    yield sse(chunk)
        except GatewayError as error:
            self._log(record, status=error.status, error=error.message)
            yield sse(error.body())
            yield sse("[DONE]")
            return
        except UPSTREAM_ERRORS as exc:
            error = self._down(target, exc)
            self._log(record, status=error.status, error=error.message)
            yield sse(error.body())
            yield sse("[DONE]")
            return
        text = "".join(parts)
        hits = target.guardrail.hits(text, case=record["case"], history=chat.history)
        verdicts = [{"attempt": 0, **h} for h in hits]
        self._log(record, reply=text, verdicts=verdicts)
        yield sse(
            {
                "id": f"chatcmpl-{exchange_id}",
                "object": "chat.completion.chunk",
                "created": int(record["at"]),
                "model": chat.model,
                "choices": [],
                "parley": _parley(target, exchange_id, verdicts, 0, False),
            }
        )
        yield sse("[DONE]")

    def _down(self, target: Target, exc: Exception) -> GatewayError:
        """The 503 for a server that cannot be reached; a connection that fails (not a slow generation)
        also marks its deployment unhealthy at once, so the page shows it and the plan cache forgets the
        endpoint. The supervisor's next health check (``PARLEY_SERVE_HEALTH_S``) confirms or clears it."""
        if target.deployment_id is not None and _unreachable(exc):
            for model, (_, plan) in list(self.plans.items()):
                if any(t is not None and t.deployment_id == target.deployment_id for t, _, _ in plan.choices):
                    self.plans.pop(model, None)
            reason = f"the gateway could not reach the server ({type(exc).__name__})"
            task = asyncio.get_running_loop().create_task(self._report_unreachable(target.deployment_id, reason))
            self.reports.add(task)  # a reference until it is done (the loop keeps only weak ones)
            task.add_done_callback(self.reports.discard)
        return _down(target, exc)

    async def _report_unreachable(self, deployment_id: int, reason: str) -> None:
        from deploy.services.serving import deployment_report_unreachable

        try:
            await self.db.run(deployment_report_unreachable, deployment_id, reason)
        except Exception:  # the answer went out already; a failed report only waits for the health check
            log.exception("could not mark deployment %s unhealthy", deployment_id)

    def _log(self, record: dict, *, reply: str = "", status: int = 200, error: str = "", **extra) -> None:
        record.update(
            reply=reply,
            status=status,
            error=error,
            latency_ms=(time.perf_counter() - record["started"]) * 1000.0,
            verdicts=extra.get("verdicts", []),
            retries=extra.get("retries", 0),
            fallback=extra.get("fallback", False),
        )
        self.writer.put(record)


def _parley(target: Target, exchange_id: str, verdicts: list, retries: int, fallback: bool) -> dict:
    return {
        "exchange_id": exchange_id,
        "version": target.version_name,
        "slot": target.slot,
        "guardrail": {
            "mode": target.guardrail.mode,
            "hits": [{k: v for k, v in h.items() if k != "reply"} for h in verdicts],  # never the blocked text
            "retries": retries,
            "fallback": fallback,
        },
    }


async def _replay_stream(exchange_id: str, model: str, text: str, finish: str, extra: dict):
    """A checked reply sent as OpenAI chunks (regenerate / fallback modes hold the reply until it passed)."""
    base = {"id": f"chatcmpl-{exchange_id}", "object": "chat.completion.chunk", "created": int(time.time())}
    base["model"] = model
    first = {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
    yield sse({**base, "choices": [first]})
    words = text.split(" ")
    for i in range(0, len(words), 8):
        piece = " ".join(words[i : i + 8]) + (" " if i + 8 < len(words) else "")
        yield sse({**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
    yield sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    yield sse({**base, "choices": [], "parley": extra})
    yield sse("[DONE]")


def _down(target: Target, exc: Exception) -> GatewayError:
    return GatewayError(
        503,
        f"The model server for {target.version_name} is not reachable ({type(exc).__name__}); try again later.",
        code="model_unavailable",
    )


def _unreachable(exc: Exception) -> bool:
    """The server is down: the connection could not be made or broke (not a timeout, not an HTTP status)."""
    return isinstance(exc, UNREACHABLE) and not isinstance(exc, TimeoutError)


async def _lines(content: aiohttp.StreamReader) -> AsyncIterator[str]:
    """The lines of a streamed body as they arrive (``\n`` or ``\r\n``), whatever their length (aiohttp's own
    line iterator raises ``LineTooLong`` past twice its read buffer, and an SSE chunk with logprobs can be)."""
    pending: list[bytes] = []  # the pieces of the line not finished yet
    async for data in content.iter_any():
        *ends, rest = data.split(b"\n")
        for end in ends:
            yield _line(b"".join((*pending, end)))
            pending.clear()
        if rest:
            pending.append(rest)
    if pending:
        yield _line(b"".join(pending))


def _line(raw: bytes) -> str:
    return raw.removesuffix(b"\r").decode("utf-8", "replace")


def _raise_upstream(status: int, raw: bytes, target: Target) -> None:
    """An OpenAI-style error for an upstream answer that is not a 200 (the upstream's message kept)."""
    if status == 200:
        return
    text = raw.decode("utf-8", "replace")
    try:
        message = json.loads(raw).get("error", {}).get("message") or text
    except (ValueError, AttributeError):
        message = text
    message = str(message)[:500]
    if status == 400:
        too_long = "context length" in message or "maximum" in message or "too long" in message
        raise GatewayError(
            400, f"The model refused the request: {message}", code="context_length_exceeded" if too_long else None
        )
    raise GatewayError(
        503,
        f"The model server for {target.version_name} answered {status}: {message}",
        code="model_unavailable",
    )


async def _read_body(request: Request) -> bytes:
    from deploy.gateway.core import MAX_BODY_BYTES

    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise GatewayError(413, f"The request body is {declared} bytes; the limit is {MAX_BODY_BYTES}.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise GatewayError(413, f"The request body is over the limit of {MAX_BODY_BYTES} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def _client_ip(request: Request) -> str:
    from kernel.security import client_ip

    class _Meta:
        META = {
            "REMOTE_ADDR": request.client.host if request.client else "",
            "HTTP_X_FORWARDED_FOR": request.headers.get("x-forwarded-for", ""),
        }

    return client_ip(_Meta)


def _error(error: GatewayError) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


def mount(django_app, gateway: Gateway | None = None):
    """One ASGI application: ``/v1/…`` (and the lifespan events) to the gateway, everything else to Django."""
    app = (gateway or Gateway()).app()

    async def application(scope, receive, send):
        if scope["type"] == "lifespan" or (scope["type"] == "http" and scope["path"].startswith("/v1/")):
            await app(scope, receive, send)
        else:
            await django_app(scope, receive, send)

    application.gateway = app
    return application
