"""Does it learn? A short REPO run on the tiny model and the demo prompts lowers the rate of rule
(RF) violations on held-out prompts and raises mean R_total versus the starting policy, while the
base weights stay as they were (LoRA). A second test runs a couple of steps with the real judge on
the vLLM server."""

import hashlib
import json

import pytest
import torch

from engine.checkpoint import latest_checkpoint, load_checkpoint
from engine.train.ppo import train
from engine.train.ppo_data import read_prompt_rows
from engine.train.ppo_model import build_actor_critic
from engine.train.ppo_rewards import build_reward_source
from tests.engine.ppo_support import assert_finite_metrics, sampled_quality, tiny_config

pytestmark = pytest.mark.slow


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_short_repo_run_reduces_rule_violations_and_raises_reward(tiny_model, tmp_path):
    config = tiny_config(tiny_model, tmp_path / "data", probe_every=4, probe_size=16)
    held_out = read_prompt_rows([config.probe_dataset])
    rewards = build_reward_source(config)
    base_hash = _sha(tiny_model / "model.safetensors")

    torch.manual_seed(config.seed)
    ac = build_actor_critic(config)
    quality = {"max_new_tokens": config.max_response_length, "samples": 4, "seed": 123}
    before = sampled_quality(ac, held_out, rewards=rewards, **quality)

    result = train(config, run_dir=tmp_path / "run")
    ac.load_trainable_state(load_checkpoint(latest_checkpoint(tmp_path / "run"))["trainable"])
    after = sampled_quality(ac, held_out, rewards=rewards, **quality)

    print(json.dumps({"before": before, "after": after}))
    assert result["steps"] == config.max_steps
    assert after["violation_rate"] < before["violation_rate"]
    assert after["r_total"] > before["r_total"]
    assert _sha(tiny_model / "model.safetensors") == base_hash
    rows = assert_finite_metrics(tmp_path / "run")
    assert rows[0]["step"] == 0 and "probe/score" in rows[0]  # the starting policy's probe
    assert any("probe/score" in r for r in rows[1:])
