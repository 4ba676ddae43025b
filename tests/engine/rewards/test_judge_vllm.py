"""The reward judge against a real vLLM server (tiny model, xgrammar structured outputs).

The tiny model writes poor verdicts, but structured outputs must make every one of them parse.
"""

import pytest

from engine.rewards.judge import JudgeItem, RewardJudge
from tests.engine.rewards.helpers import INJECTION, TASK

pytestmark = [pytest.mark.slow, pytest.mark.vllm]

# Two short rules: the tiny model's context is 1024 tokens (prompt + verdict).
RUBRIC = {
    "version": "test-1",
    "rules": [
        {"id": "over_promise", "description": "Promises guaranteed bookings or ranking.", "points": -20},
        {"id": "no_empathy", "description": "Ignores the hotel's concern.", "points": -10, "stages": ["persuade"]},
    ],
}
HISTORY = [{"role": "agent", "content": "Could 690 work for the Deluxe King?"}, {"role": "hotel", "content": "too low"}]
REPLIES = [
    "I understand. Riverside Inn is at 699; could we meet at 710?",
    "We guarantee you the top ranking if you accept 690.",
    "Sorry to hear that. How about 700 from Monday?",
    INJECTION,
    "Thanks!",
    "Would 695 work for this week only?",
]


def _judge(server, **kw) -> RewardJudge:
    defaults = dict(rubric=RUBRIC, concurrency=8, timeout=60, max_tokens=160, retries=1, backoff=0.1)
    defaults["evidence_chars"] = 24  # prompt ~800 tokens + a verdict of at most ~110 within 1024
    return RewardJudge(base_url=server.base_url, model=server.model, **{**defaults, **kw})


def _items(stage="persuade"):
    return [JudgeItem(task=TASK, history=HISTORY, reply=r, stage=stage) for r in REPLIES]


def test_every_verdict_parses_and_e_judge_sums_the_hits(vllm_server):
    judge = _judge(vllm_server)
    verdicts = judge.judge_batch(_items())
    assert all(v.ok for v in verdicts), [v.error for v in verdicts]
    for v in verdicts:
        assert set(v.hits) <= {"over_promise", "no_empathy"}
        assert v.e_judge == judge.rubric.e_judge(v.hits)
    stats = judge.stats.as_dict()
    assert stats["failures"] == 0 and stats["verdicts"] == len(REPLIES) and stats["mean_latency_s"] > 0


def test_stage_filter_leaves_rules_out_of_the_schema(vllm_server):
    (verdict,) = _judge(vllm_server).judge_batch([JudgeItem(task=TASK, history=HISTORY, reply="Hi", stage="greeting")])
    assert verdict.ok and set(verdict.hits) <= {"over_promise"}


def test_injected_instructions_still_give_a_valid_verdict(vllm_server):
    (verdict,) = _judge(vllm_server).judge_batch([JudgeItem(task=TASK, history=HISTORY, reply=INJECTION)])
    assert verdict.ok and verdict.error is None


def test_cache_memory_and_disk(vllm_server, tmp_path):
    judge = _judge(vllm_server, cache_dir=tmp_path)
    first = judge.judge_batch(_items())
    calls = judge.stats.calls
    again = judge.judge_batch(_items())
    assert judge.stats.calls == calls and judge.stats.cache_hits == len(REPLIES)
    assert [v.hits for v in again] == [v.hits for v in first] and all(v.cached for v in again)
    fresh = _judge(vllm_server, cache_dir=tmp_path)  # a new process would see the disk cache
    assert all(v.cached for v in fresh.judge_batch(_items())) and fresh.stats.calls == 0
    other_rubric = _judge(vllm_server, rubric={**RUBRIC, "version": "test-2"})
    other_rubric.judge_batch(_items()[:1])
    assert other_rubric.stats.cache_hits == 0 and other_rubric.stats.calls == 1


def test_concurrency_is_bounded(vllm_server):
    judge = _judge(vllm_server, concurrency=3)
    in_flight, peak = 0, 0
    call = judge._call

    async def counting(client, item, start):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            return await call(client, item, start)
        finally:
            in_flight -= 1

    judge._call = counting
    verdicts = judge.judge_batch(_items())
    assert all(v.ok for v in verdicts) and peak == 3


def test_a_cut_off_verdict_is_a_counted_failure(vllm_server):
    judge = _judge(vllm_server, max_tokens=3)
    (verdict,) = judge.judge_batch([JudgeItem(task=TASK, history=HISTORY, reply="Hi")])
    assert not verdict.ok and verdict.e_judge == 0.0 and "finish_reason" in verdict.error
    assert judge.stats.failures == 1


def _prefix_cache_counters(server) -> tuple[float, float]:
    """vLLM's prefix-cache (hit, queried) token counters from /metrics."""
    import httpx

    text = httpx.get(f"{server.root_url}/metrics", timeout=10).text
    totals = {}
    for name in ("vllm:prefix_cache_hits_total", "vllm:prefix_cache_queries_total"):
        totals[name] = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))
    return totals["vllm:prefix_cache_hits_total"], totals["vllm:prefix_cache_queries_total"]


def test_the_rubric_prefix_is_computed_once_and_reused(vllm_server):
    """The system message holds no per-call nonce, so later calls reuse the rubric's cached tokens."""
    judge = _judge(vllm_server)
    replies = [f"Could we meet at {690 + k} for the Deluxe King from Monday?" for k in range(6)]
    judge.judge_batch([JudgeItem(task=TASK, history=HISTORY, reply=replies[0], stage="persuade")])  # warms it
    hits, queries = _prefix_cache_counters(vllm_server)
    judge = _judge(vllm_server, concurrency=1)  # one after another: each can reuse what the last computed
    items = [JudgeItem(task=TASK, history=HISTORY, reply=r, stage="persuade") for r in replies[1:]]
    assert all(v.ok for v in judge.judge_batch(items))
    hits_after, queries_after = _prefix_cache_counters(vllm_server)
    # The system message is ~370 of the ~780 prompt tokens; with the nonce in it, only the ~40 tokens
    # before the nonce could be shared.
    assert (hits_after - hits) / (queries_after - queries) >= 0.3
