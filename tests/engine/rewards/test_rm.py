"""Reward-model training on the demo world's preference rows with the tiny model (TRL RewardTrainer)."""

import json
import math

import pytest
import torch

from engine.rewards import rm as rm_module
from engine.rewards.rm import RewardModelScorer, calibrate_offset, pairwise_accuracy
from engine.rundir import RM_META_FILE, TRL_LAYOUT, latest_checkpoint

pytestmark = pytest.mark.slow


def test_training_reports_accuracy_and_stores_the_offset(trained_rm, tiny_model):
    run_dir, result, config = trained_rm
    meta = json.loads((run_dir / RM_META_FILE).read_text())
    assert result["steps"] == config.max_steps
    assert 0.0 <= result["heldout_accuracy"] <= 1.0 and meta["heldout_accuracy"] == result["heldout_accuracy"]
    assert meta["base_model"] == str(tiny_model) and meta["heldout_pairs"] >= 1
    assert math.isfinite(meta["offset"]) and meta["offset"] == result["offset"]
    assert (run_dir / "adapter" / "adapter_config.json").exists()
    assert json.loads((run_dir / "result.json").read_text())["heldout_accuracy"] == result["heldout_accuracy"]
    losses = [m["loss"] for m in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if "loss" in m]
    assert len(losses) >= 2 and losses[0] != losses[-1]
    assert latest_checkpoint(run_dir).layout is TRL_LAYOUT  # where the web app looks before a resume


def test_score_head_is_saved_and_base_weights_are_untouched(trained_rm, tiny_model):
    from safetensors.torch import load_file
    from transformers import AutoModelForSequenceClassification

    run_dir, _, _ = trained_rm
    saved = load_file(str(run_dir / "adapter" / "adapter_model.safetensors"))
    assert any("score" in k for k in saved) and any("lora_A" in k for k in saved)
    scorer = RewardModelScorer.from_dir(run_dir)
    fresh = AutoModelForSequenceClassification.from_pretrained(tiny_model, num_labels=1)
    base = scorer.model.get_base_model()
    name = "model.layers.0.self_attn.q_proj"
    assert torch.equal(base.get_submodule(name).base_layer.weight, fresh.get_submodule(name).weight)
    head = base.score.modules_to_save["default"].weight
    assert not torch.equal(head, base.score.original_module.weight)  # the head was trained, not left random


def test_reloaded_scorer_matches_and_is_centred_on_the_reference(trained_rm, preference_file):
    run_dir, _, _ = trained_rm
    _, rows = preference_file
    scorer = RewardModelScorer.from_dir(run_dir, batch_size=4)
    heldout = rm_module._split(rows, seed=0)[1]
    prompts, replies = rm_module._reference(heldout)
    centred = scorer.score(prompts=prompts, replies=replies)
    assert abs(sum(centred) / len(centred)) < 1e-3
    one_by_one = [scorer.score(prompts=[p], replies=[r])[0] for p, r in zip(prompts[:3], replies[:3], strict=True)]
    assert one_by_one == pytest.approx(centred[:3], abs=1e-4)  # padding does not change a score
    assert calibrate_offset(scorer, prompts=prompts, replies=replies) == pytest.approx(scorer.offset, abs=1e-4)


def test_pairwise_accuracy():
    assert pairwise_accuracy([1.0, 2.0], [0.0, 3.0]) == 0.5
    assert math.isnan(pairwise_accuracy([], []))


def test_over_long_inputs_keep_the_case_and_are_counted(tiny_model):
    """RM scoring truncates like the RL prompts: the oldest whole turns go, the system message with the
    case and the reply stay; a plain tail cut would score the reply without its case."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model, num_labels=1)
    model.config.pad_token_id = tokenizer.pad_token_id
    prompt = [{"role": "system", "content": "CASE: Deluxe King now 780, target 690."}]
    prompt += [{"role": "user" if i % 2 else "assistant", "content": f"turn {i}: " + "words " * 20} for i in range(10)]
    wide = RewardModelScorer(model=model, tokenizer=tokenizer, max_length=100_000)
    full = wide.encode(prompt, "Could 690 work?")
    assert wide.truncated == 0
    scorer = RewardModelScorer(model=model, tokenizer=tokenizer, max_length=len(full) // 2)
    text = tokenizer.decode(scorer.encode(prompt, "Could 690 work?"))
    assert "CASE: Deluxe King now 780" in text and "Could 690 work?" in text and "turn 9:" in text
    assert "turn 0:" not in text and scorer.truncated == 1
    scores = scorer.raw_scores(prompts=[prompt, prompt[:2]], replies=["Could 690 work?", "Hi"])
    assert len(scores) == 2 and scorer.truncated == 2  # the long one again, the short one fits
