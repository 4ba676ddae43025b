"""Realistic shapes without downloads (engine/shapes.py): the dimensions build models of the published
sizes, the parameter and activation formulas of the memory model match what torch allocates, and a
shape model written to disk loads into the PPO loop's actor-critic."""

import subprocess
import sys

import pytest
import torch
from peft import LoraConfig, get_peft_model

from engine.shapes import GIB, SHAPES, estimate, get_shape, random_model, write_shape_model

SMALL = {"layers": 2, "width": 8, "vocab": 512}


@pytest.mark.parametrize(("name", "billions"), [("qwen3-0.6b", 0.596), ("qwen2.5-7b", 7.616), ("qwen3-32b", 32.76)])
def test_parameter_counts_are_the_published_sizes(name, billions):
    assert get_shape(name).params() / 1e9 == pytest.approx(billions, rel=0.003)


@pytest.mark.parametrize("name", ["qwen3-0.6b", "qwen2.5-1.5b", "qwen3-32b"])
def test_a_scaled_down_shape_builds_a_model_with_the_counted_parameters(name):
    shape = get_shape(name).scaled(**SMALL)
    model = random_model(shape)
    assert type(model).__name__ == ("Qwen3ForCausalLM" if shape.family == "qwen3" else "Qwen2ForCausalLM")
    config = model.config
    assert (config.hidden_size, config.num_hidden_layers, config.vocab_size) == (shape.hidden, 2, 512)
    assert (config.num_attention_heads, config.num_key_value_heads) == (shape.heads, shape.kv_heads)
    assert sum(p.numel() for p in model.parameters()) == shape.params()
    model.requires_grad_(False)
    peft_model = get_peft_model(model, LoraConfig(r=8, target_modules="all-linear"))
    lora = sum(p.numel() for n, p in peft_model.named_parameters() if "lora_" in n)
    assert lora == shape.lora_params(8)


def test_unknown_shape_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match="qwen3-0.6b"):
        get_shape("llama-9000")
    cli = subprocess.run(
        [sys.executable, "-m", "engine", "bootstrap", "--out", "/nonexistent/x", "--shape", "llama-9000"],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 2 and "unknown shape" in cli.stderr


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_activation_model_matches_the_saved_tensors(dtype):
    """The memory model's activation bytes per token are what autograd keeps (saved-tensor hooks)."""
    from engine.shapes import activation_bytes_per_token

    shape = get_shape("qwen3-0.6b").scaled(layers=3, width=4, vocab=512)
    model = random_model(shape, dtype=dtype).requires_grad_(False)
    model = get_peft_model(model, LoraConfig(r=8, target_modules="all-linear", lora_dropout=0.0)).train()
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved = {}

    def pack(tensor):
        saved[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    tokens = 96
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model.get_base_model().model(input_ids=torch.randint(0, 512, (1, tokens)), use_cache=False)
    measured = sum(v for k, v in saved.items() if k not in params) / tokens
    predicted = activation_bytes_per_token(shape, checkpointing=False, base_bytes=dtype.itemsize)
    assert measured == pytest.approx(predicted, rel=0.08)


def test_memory_model_corrects_the_32b_on_80gb_claim():
    shape = SHAPES["qwen3-32b"]
    one = estimate(shape, ranks=1, parallel="ddp")
    assert one.base / 1e9 == pytest.approx(65.5, rel=0.01)
    assert (one.base + one.adapters) / 1e9 > 80  # before activations: does not fit one 80 GB card
    sharded = estimate(shape, ranks=8, parallel="fsdp")
    assert sharded.total < one.total / 3 and sharded.total / GIB < 72
    # CUDA's prefetch holds the next layer gathered too: one layer's bytes more than without it.
    unprefetched = estimate(shape, ranks=8, parallel="fsdp", prefetch=False)
    assert sharded.base - unprefetched.base == shape.layer_params() * 2
    # Checkpointing and chunking are what make the activations and logits small.
    full = estimate(shape, checkpointing=False, chunk_tokens=0)
    assert full.activations > 10 * one.activations and full.logits > 3 * one.logits


def test_a_written_shape_model_loads_into_the_actor_critic(tmp_path, tiny_model):
    from engine.train.ppo_config import REPOConfig
    from engine.train.ppo_model import build_actor_critic

    shape = get_shape("qwen3-0.6b").scaled(layers=2, width=8)  # the full vocabulary: the tiny ids fit
    out = write_shape_model(shape, out=tmp_path / "m", tokenizer_dir=tiny_model)
    ac = build_actor_critic(REPOConfig.preset("tiny", base_model=str(out), dataset="unused.jsonl"))
    assert ac.model.get_base_model().config.vocab_size == 151936
    assert ac.lm_head.weight.shape == (151936, shape.hidden)
