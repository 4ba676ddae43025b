"""Rollout helpers and the HF backend on the tiny model."""

import doctest

import pytest
import torch

import engine.rollout
from engine.rollout import RolloutBatch, concat_rollouts, cut_replies, left_pad


def test_doctests():
    assert doctest.testmod(engine.rollout).failed == 0


def test_left_pad_aligns_prompt_ends():
    ids, mask = left_pad([[1, 2, 3], [4]], pad_id=0)
    assert ids.tolist() == [[1, 2, 3], [0, 0, 4]]
    assert mask.tolist() == [[1, 1, 1], [0, 0, 1]]


def test_cut_replies_keeps_eos_and_drops_what_follows():
    ids, mask, ended = cut_replies([[7, 8, 2, 9, 9], [7], []], eos_id=2, pad_id=0, max_tokens=4)
    assert ids.tolist() == [[7, 8, 2], [7, 0, 0], [0, 0, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    assert ended.tolist() == [True, False, False]


def test_concat_rollouts_repads_both_sides():
    def part(q, r):
        q_ids, q_mask = left_pad(q, pad_id=0)
        r_ids, r_mask, ended = cut_replies(r, eos_id=2, pad_id=0, max_tokens=9)
        return RolloutBatch(q_ids, q_mask, r_ids, r_mask, ["x"] * len(q), ended)

    joined = concat_rollouts([part([[5]], [[6, 2]]), part([[5, 5, 5]], [[6, 6, 6, 6]])], pad_id=0)
    assert joined.query_ids.tolist() == [[0, 0, 5], [5, 5, 5]]
    assert joined.response_ids.tolist() == [[6, 2, 0, 0], [6, 6, 6, 6]]
    assert joined.attention_mask.tolist() == [[0, 0, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1]]
    assert joined.ended.tolist() == [True, False]
    assert joined.lengths.tolist() == [2.0, 4.0]


@pytest.mark.slow
def test_hf_generate_on_tiny_model(tiny_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engine.rollout.hf import generate_hf

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    chats = [[{"role": "user", "content": "hi, yes?"}], [{"role": "user", "content": "The price is 780 now."}]]
    prompts = [tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=True) for c in chats]
    prompts = [list(p["input_ids"] if hasattr(p, "keys") else p) for p in prompts]
    torch.manual_seed(0)
    batch = generate_hf(model, tokenizer, prompts, max_new_tokens=12)
    assert batch.query_ids.shape[0] == 2 and batch.response_ids.shape[1] <= 12
    for i in range(2):
        n = int(batch.lengths[i])
        assert n >= 1
        assert batch.response_mask[i, :n].all() and not batch.response_mask[i, n:].any()
        if batch.ended[i]:
            assert batch.response_ids[i, n - 1] == tokenizer.eos_token_id
    # Greedy is deterministic, and the same prompt alone gives the same reply as in a padded batch.
    greedy = generate_hf(model, tokenizer, prompts, max_new_tokens=8, greedy=True)
    alone = generate_hf(model, tokenizer, prompts[:1], max_new_tokens=8, greedy=True)
    assert greedy.texts[0] == alone.texts[0]


def test_hf_rollouts_ignore_the_checkpoints_generation_defaults(tiny_model):
    """A checkpoint's generation_config.json (Qwen3: top_k 20; others: a repetition penalty) must not
    reshape the rollout distribution: the sampler draws exactly what the loss's log-probs assume."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engine.rollout.hf import generate_hf

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    chats = [[{"role": "user", "content": "hi, yes?"}], [{"role": "user", "content": "The price is 780 now."}]]
    prompts = [tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=True) for c in chats]
    prompts = [list(p["input_ids"] if hasattr(p, "keys") else p) for p in prompts] * 4

    def sample():
        torch.manual_seed(0)
        return generate_hf(model, tokenizer, prompts, max_new_tokens=16).response_ids.tolist()

    clean = sample()
    model.generation_config.repetition_penalty = 3.0
    model.generation_config.no_repeat_ngram_size = 1
    model.generation_config.top_k = 2
    model.generation_config.min_new_tokens = 16
    assert sample() == clean
    assert model.generation_config.repetition_penalty == 3.0  # the model's own config is left as it was


def test_vllm_rollout_requests_name_every_sampling_field():
    """Unset fields would be filled from the server's or the checkpoint's defaults (Qwen3: top_k 20)."""
    import engine.rollout.vllm as vllm_rollout

    assert doctest.testmod(vllm_rollout).failed == 0
    sampled = vllm_rollout.sampling_fields(greedy=False, temperature=0.7, top_p=0.9, seed=3)
    assert sampled == {
        "n": 1, "top_k": -1, "min_p": 0.0, "repetition_penalty": 1.0, "presence_penalty": 0.0,
        "frequency_penalty": 0.0, "min_tokens": 0, "ignore_eos": False, "temperature": 0.7, "top_p": 0.9, "seed": 3,
    }  # fmt: skip
    greedy = vllm_rollout.sampling_fields(greedy=True, temperature=0.7, top_p=0.9, seed=None)
    assert greedy["temperature"] == 0.0 and greedy["top_k"] == -1 and "seed" not in greedy
