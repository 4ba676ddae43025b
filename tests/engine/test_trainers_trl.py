"""SFT, DPO and GRPO through TRL on the tiny model: a few steps each in tmp_path.

Each asserts what docs/engine.md asks of an ML test: the loss (or reward signal) moved, the LoRA parameters
changed, the base weights did not, and the run directory holds what the web app reads.
"""

import hashlib
import json

import pytest
import torch
from safetensors.torch import load_file

from engine.config import DPOConfig, GRPOConfig, SFTConfig
from engine.demo import generate_world
from engine.demo.datasets import preference_rows, prompt_rows, sft_rows
from engine.rundir import TRL_LAYOUT, has_checkpoint, latest_checkpoint, read_metrics

pytestmark = pytest.mark.slow
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory):
    world = generate_world(seed=11, n_dialogues=30)
    folder = tmp_path_factory.mktemp("demo-data")
    files = {}
    for name, rows in (("sft", sft_rows(world)), ("dpo", preference_rows(world)), ("prompts", prompt_rows(world))):
        assert rows, name
        files[name] = folder / f"{name}.jsonl"
        files[name].write_text("".join(json.dumps(r) + "\n" for r in rows))
    return files


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _assert_run_dir(run_dir, *, steps):
    for name in ("metrics.jsonl", "progress.json", "result.json", "adapter/adapter_config.json"):
        assert (run_dir / name).exists(), name
    progress = json.loads((run_dir / "progress.json").read_text())
    assert progress["status"] == "completed" and progress["step"] == steps and progress["fraction"] == 1.0
    result = json.loads((run_dir / "result.json").read_text())
    assert result["steps"] == steps and result["adapter"] == str(run_dir / "adapter")
    metrics = read_metrics(run_dir)
    assert [m["step"] for m in metrics] == list(range(1, steps + 1))
    # The checkpoint lands where the web app looks before it resumes a job (engine.rundir owns both).
    assert latest_checkpoint(run_dir).layout is TRL_LAYOUT
    return result, metrics


def _assert_only_lora_trained(run_dir, tiny_model, base_sha):
    weights = load_file(run_dir / "adapter" / "adapter_model.safetensors")
    assert weights and all("lora_" in key for key in weights), "the adapter must hold LoRA weights only"
    lora_b = [t for k, t in weights.items() if "lora_B" in k]
    # peft initialises B to zero: any non-zero B means the optimiser moved the adapter
    assert any(t.abs().sum() > 0 for t in lora_b)
    assert _sha(tiny_model / "model.safetensors") == base_sha


def test_sft_trains_the_adapter_and_lowers_the_loss(tiny_model, demo_data, tmp_path):
    from engine.train.sft import train

    base_sha = _sha(tiny_model / "model.safetensors")
    config = SFTConfig.preset("tiny", base_model=str(tiny_model), dataset=str(demo_data["sft"]), max_steps=6)
    result = train(config, run_dir=tmp_path)
    _, metrics = _assert_run_dir(tmp_path, steps=6)
    assert metrics[-1]["loss"] < metrics[0]["loss"]
    assert result["metrics"]["train_loss"] > 0
    _assert_only_lora_trained(tmp_path, tiny_model, base_sha)


def test_dpo_separates_chosen_from_rejected(tiny_model, demo_data, tmp_path):
    from engine.train.dpo import train

    base_sha = _sha(tiny_model / "model.safetensors")
    config = DPOConfig.preset("tiny", base_model=str(tiny_model), dataset=str(demo_data["dpo"]), max_steps=5)
    train(config, run_dir=tmp_path)
    _, metrics = _assert_run_dir(tmp_path, steps=5)
    # step 1 starts at the reference (adapter = identity): loss log(2), margin 0
    assert metrics[0]["loss"] == pytest.approx(0.6931, abs=1e-3)
    assert metrics[-1]["rewards/margins"] > 0 and metrics[-1]["loss"] < metrics[0]["loss"]
    _assert_only_lora_trained(tmp_path, tiny_model, base_sha)


def test_grpo_with_rules_only_reward(tiny_model, demo_data, tmp_path):
    from engine.train.grpo import train

    # A rule that fires on some samples and not others, so each group has a reward spread to learn from.
    rules = {
        "version": "test",
        "rules": [{"id": "forbidden_word", "kind": "forbidden_word", "points": -20, "params": {"terms": ["the"]}}],
    }
    base_sha = _sha(tiny_model / "model.safetensors")
    config = GRPOConfig.preset(
        "tiny",
        base_model=str(tiny_model),
        dataset=str(demo_data["prompts"]),
        num_generations=4,
        max_steps=3,
        rewards={"rules": rules},
    )
    train(config, run_dir=tmp_path)
    _, metrics = _assert_run_dir(tmp_path, steps=3)
    for key in ("reward/r_model", "reward/e_judge", "reward/e_func", "reward/r_total", "reward"):
        assert key in metrics[-1], key
    assert any(m["reward/e_func"] < 0 for m in metrics), "the rule never fired"
    assert any(m["reward_std"] > 0 for m in metrics)
    _assert_only_lora_trained(tmp_path, tiny_model, base_sha)


def test_sft_resume_continues_from_the_last_checkpoint(tiny_model, demo_data, tmp_path):
    from engine.train.sft import train

    config = SFTConfig.preset("tiny", base_model=str(tiny_model), dataset=str(demo_data["sft"]), save_every=2)
    train(config.replace(max_steps=2), run_dir=tmp_path)
    checkpoint = latest_checkpoint(tmp_path)  # what the web app asks before it passes --resume
    assert checkpoint.layout is TRL_LAYOUT and checkpoint.step == 2 and has_checkpoint(tmp_path)
    result = train(config.replace(max_steps=4), run_dir=tmp_path, resume=True)
    assert result["resumed_from"] == 2 and result["steps"] == 4
