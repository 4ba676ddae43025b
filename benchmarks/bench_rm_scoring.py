"""Reward-model scoring throughput in-process: batches of 16 over one reply at a time (same run).

    python benchmarks/bench_rm_scoring.py [--rm RUN_DIR] [--pairs 32]

With ``--rm`` a trained RM run directory is scored; without, the tiny base model gets a fresh LoRA
adapter and score head, which costs the same forward passes as a trained one. Replies are the demo
world's preference replies with their prompts (~260-900 tokens each); each setting gets one untimed
warm-up batch, then the best of three passes in process CPU time. Torch runs on one thread, so the
figure is per core.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def scorer_for(rm_dir: str | None):
    from engine.rewards.rm import RewardModelScorer

    if rm_dir:
        return RewardModelScorer.from_dir(rm_dir)
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from engine.bootstrap import ensure_tiny_model

    base_dir = ensure_tiny_model(seed=0)
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModelForSequenceClassification.from_pretrained(base_dir, num_labels=1)
    model.config.pad_token_id = tokenizer.pad_token_id
    lora = LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type="SEQ_CLS", modules_to_save=["score"])
    return RewardModelScorer(model=get_peft_model(model, lora), tokenizer=tokenizer, max_length=1024)


def replies_per_s(scorer, prompts, replies, *, batch_size: int, repeats: int = 3) -> float:
    """Replies per CPU-second (one torch thread), best of ``repeats`` passes over all the pairs."""
    scorer.batch_size = batch_size
    scorer.raw_scores(prompts=prompts[:batch_size], replies=replies[:batch_size])  # warm-up
    best = 0.0
    for _ in range(repeats):
        start = time.process_time()
        scorer.raw_scores(prompts=prompts, replies=replies)
        best = max(best, len(replies) / (time.process_time() - start))
    return best


def main() -> None:
    import torch

    from engine.demo.datasets import preference_rows
    from engine.demo.world import generate_world

    parser = argparse.ArgumentParser()
    parser.add_argument("--rm", help="trained RM run dir (default: tiny base + fresh adapter)")
    parser.add_argument("--pairs", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = preference_rows(generate_world(seed=0))[: args.pairs]
    prompts = [r["prompt"] for r in rows]
    replies = [r["chosen"][-1]["content"] for r in rows]
    scorer = scorer_for(args.rm)
    one = replies_per_s(scorer, prompts, replies, batch_size=1)
    sixteen = replies_per_s(scorer, prompts, replies, batch_size=16)
    print(f"RM scoring: {len(replies)} demo (prompt, reply) pairs, 1 torch thread, CPU time")
    print(f"batch 1 (baseline): {one:7.2f} replies/s")
    print(f"batch 16:           {sixteen:7.2f} replies/s")
    print(f"ratio:              {sixteen / one:7.2f}x")


if __name__ == "__main__":
    main()
