"""The reward judge against a real vLLM server (tiny model, xgrammar structured outputs).

The tiny model writes poor verdicts, but structured outputs must make every one of them parse, and the
judge's budget (``engine.rewards.judge_budget``) must keep every call within the 1024-token context:
nothing here depends on what a particular build of the tiny model happens to write.
"""

import pytest

from engine.rewards.judge import FAIL_CUT, FAIL_TOO_LONG, JudgeItem, RewardJudge
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
    # Hits only: the prompts here take ~860 of the tiny model's 1024 tokens, the longest hits-only verdict
    # of two rules 58 (max_tokens is left to the judge: the schema's bound).
    defaults = dict(rubric=RUBRIC, concurrency=8, timeout=60, retries=1, backoff=0.1, evidence_chars=0)
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

    async def counting(client, http, item, start):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            return await call(client, http, item, start)
        finally:
            in_flight -= 1

    judge._call = counting
    verdicts = judge.judge_batch(_items())
    assert all(v.ok for v in verdicts) and peak == 3


def test_a_cut_off_verdict_is_a_counted_failure(vllm_server):
    judge = _judge(vllm_server, max_tokens=3)
    (verdict,) = judge.judge_batch([JudgeItem(task=TASK, history=HISTORY, reply="Hi")])
    assert not verdict.ok and verdict.e_judge == 0.0 and "finish_reason" in verdict.error
    assert verdict.kind == FAIL_CUT and judge.stats.failures == 1


def _tokens(server, messages) -> int:
    import httpx

    body = {"model": server.model, "messages": messages, "add_generation_prompt": True}
    return httpx.post(f"{server.root_url}/tokenize", json=body, timeout=30).json()["count"]


def test_the_context_length_comes_from_the_server(vllm_server):
    judge = _judge(vllm_server)
    judge.judge_batch([JudgeItem(task=TASK, history=HISTORY, reply="Hi", stage="greeting")])
    assert judge.budget._context == 1024  # the server's --max-model-len


def test_evidence_fits_when_the_budget_is_sized_from_the_context(vllm_server):
    """Evidence strings as long as the context affords for this prompt: the verdict always parses."""
    item = JudgeItem(task=TASK, history=HISTORY, reply="We guarantee you the top ranking.", stage="greeting")
    for chars in (24, 16, 8, 4, 2, 1):  # the longest evidence whose worst-case verdict still fits
        judge = _judge(vllm_server, evidence_chars=chars)
        if _tokens(vllm_server, judge._messages(item, HISTORY)) + judge.verdict_tokens("greeting") <= 1024:
            break
    (verdict,) = judge.judge_batch([item])
    assert verdict.ok and verdict.dropped_messages == 0, verdict.error
    assert all(len(text) <= chars for text in verdict.evidence.values())


def test_a_prompt_that_cannot_fit_is_refused_without_a_request(vllm_server):
    # 80 evidence characters for two rules: the longest verdict alone is over the 1024-token context.
    judge = _judge(vllm_server, evidence_chars=80)
    assert judge.verdict_tokens("persuade") > 1024
    (verdict,) = judge.judge_batch([JudgeItem(task=TASK, history=HISTORY, reply="Hi", stage="persuade")])
    assert not verdict.ok and verdict.kind == FAIL_TOO_LONG and "too long" in verdict.error
    assert judge.stats.calls == 0 and judge.stats.too_long == judge.stats.failures == 1


def test_a_long_dialogue_loses_its_oldest_messages_and_keeps_the_case_and_reply(vllm_server):
    history = [
        {"role": "agent" if k % 2 == 0 else "hotel", "content": f"Message {k}: could 690 work for the Deluxe King?"}
        for k in range(40)
    ]
    judge = _judge(vllm_server)
    item = JudgeItem(task=TASK, history=history, reply="Would 695 work for this week only?", stage="persuade")
    assert _tokens(vllm_server, judge._messages(item, history)) > 1024  # the whole dialogue would not fit
    (verdict,) = judge.judge_batch([item])
    assert verdict.ok and 0 < verdict.dropped_messages < len(history), verdict.error
    kept = judge._messages(item, history[verdict.dropped_messages :])
    assert _tokens(vllm_server, kept) + judge.verdict_tokens("persuade") <= 1024
    assert "Message 39" in kept[1]["content"] and "Would 695" in kept[1]["content"]  # newest and the reply
    assert (
        _tokens(vllm_server, judge._messages(item, history[verdict.dropped_messages - 1 :]))
        + judge.verdict_tokens("persuade")
        > 1024
    )  # and no more was dropped than needed
    assert judge.stats.truncated == 1 and judge.stats.failures == 0


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
