"""The loop's memory savers (engine/train/memory.py): chunked log-probs give the straightforward
values and gradients; the entropy has a graph only when its coefficient is non-zero; the update's
training-mode forward has dropout 0 and really checkpoints, with the same gradients as without."""

import dataclasses

import pytest
import torch
from torch import nn

from engine.configio import ConfigError
from engine.rollout.hf import generate_hf
from engine.train.memory import chunked_logprobs, plain_logprobs, reply_logprobs, update_mode
from engine.train.ppo_config import PPOConfig, REPOConfig
from engine.train.ppo_dist import Distributed
from engine.train.ppo_model import build_actor_critic
from engine.train.ppo_update import make_experience, ppo_update


def _head_and_inputs(seed=0, batch=3, length=37, hidden=16, vocab=50):
    torch.manual_seed(seed)
    head = nn.Linear(hidden, vocab, bias=False).requires_grad_(False)  # the frozen LM head
    states = torch.randn(batch, length, hidden, dtype=torch.float64).float()
    tokens = torch.randint(0, vocab, (batch, length))
    return head, states, tokens


@pytest.mark.parametrize("chunk_size", [1, 5, 36, 37, 128])
@pytest.mark.parametrize("entropy_grad", [False, True])
def test_chunked_logprobs_match_the_straightforward_values_and_gradients(chunk_size, entropy_grad):
    head, states, tokens = _head_and_inputs()
    weights = torch.randn(tokens.shape)  # a loss that weighs every position differently
    results = {}
    for name, fn, kwargs in (("plain", plain_logprobs, {}), ("chunked", chunked_logprobs, {"chunk_size": chunk_size})):
        hidden = states.clone().requires_grad_(True)
        logprobs, ent = fn(hidden, head, tokens, temperature=0.7, entropy=True, entropy_grad=entropy_grad, **kwargs)
        loss = (logprobs * weights).sum() - (0.3 * ent.sum() if entropy_grad else 0.0)
        loss.backward()
        results[name] = (logprobs.detach(), ent.detach(), hidden.grad.clone(), ent.requires_grad)
    plain, chunked = results["plain"], results["chunked"]
    torch.testing.assert_close(chunked[0], plain[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(chunked[1], plain[1], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(chunked[2], plain[2], rtol=1e-5, atol=1e-6)
    assert chunked[3] == plain[3] == entropy_grad


def test_chunked_logprobs_are_log_softmax_of_the_tokens():
    head, states, tokens = _head_and_inputs(vocab=7)
    with torch.no_grad():
        logprobs, ent = chunked_logprobs(states, head, tokens, chunk_size=4)
        expected = torch.log_softmax(head(states), dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(logprobs, expected)
    assert ent is None and not logprobs.requires_grad
    # A different token gives a different value: the gather is not ignored.
    assert not torch.allclose(chunked_logprobs(states, head, (tokens + 1) % 7, chunk_size=4)[0], logprobs)


def test_chunked_logprobs_keep_no_full_logits_in_the_graph():
    """The autograd graph of the chunked path saves no (B, T, V) tensor: only inputs of the chunks."""
    head, states, tokens = _head_and_inputs(batch=2, length=64, hidden=8, vocab=1000)
    saved: dict[str, list[int]] = {"plain": [], "chunked": []}
    for name, fn, kwargs in (("plain", plain_logprobs, {}), ("chunked", chunked_logprobs, {"chunk_size": 8})):
        hidden = states.clone().requires_grad_(True)

        def pack(tensor, name=name):
            saved[name].append(tensor.numel())
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            fn(hidden, head, tokens, entropy=True, entropy_grad=False, **kwargs)
    full = 2 * 64 * 1000
    assert max(saved["plain"]) >= full  # the straightforward path keeps whole logits / log-softmax
    assert max(saved["chunked"]) < full // 4


def test_ent_coef_zero_leaves_the_entropy_without_a_graph():
    head, states, tokens = _head_and_inputs()
    hidden = states.clone().requires_grad_(True)
    for fn in (plain_logprobs, chunked_logprobs):
        _, ent = fn(hidden, head, tokens, entropy=True, entropy_grad=False)
        assert not ent.requires_grad
        _, ent = fn(hidden, head, tokens, entropy=True, entropy_grad=True)
        assert ent.requires_grad


def test_chunk_size_must_be_positive():
    head, states, tokens = _head_and_inputs()
    with pytest.raises(ValueError, match="chunk_size"):
        chunked_logprobs(states, head, tokens, chunk_size=0)
    with pytest.raises(ConfigError, match="logprob_chunk_size must be >= 0"):
        PPOConfig.preset("tiny", base_model="/m", dataset="/d.jsonl", logprob_chunk_size=-1)


def test_checkpointing_is_on_in_the_paper_preset_and_chunks_too():
    for cls in (PPOConfig, REPOConfig):
        paper = cls.preset("paper", base_model="/m", dataset="/d.jsonl")
        assert paper.gradient_checkpointing is True and paper.logprob_chunk_size > 0


# --------------------------------------------------------------------------------------------------
# the loop's update on the tiny model
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_experience(tiny_model):
    torch.manual_seed(0)
    # lora_dropout 0.05 as in the paper: the training-mode forward must still be deterministic
    config = PPOConfig.preset(
        "tiny", base_model=str(tiny_model), dataset="unused.jsonl", lora_dropout=0.05, ent_coef=0.01
    )
    ac = build_actor_critic(config)
    assert any(isinstance(m, nn.Dropout) and m.p > 0 for m in ac.model.modules())  # what update_mode must zero
    ids = ac.tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi, the rate is 780 now?"}], add_generation_prompt=True, tokenize=True
    )
    prompt = list(ids["input_ids"] if hasattr(ids, "keys") else ids)
    sample = generate_hf(ac.model, ac.tokenizer, [prompt] * 4, max_new_tokens=12)
    exp = make_experience(ac, sample, torch.tensor([1.0, -1.0, 0.5, -0.5]), config=config, micro_batch=2)
    return config, ac, exp


def _update_grads(ac, exp, config):
    start = ac.trainable_state()
    optimizer = torch.optim.AdamW(ac.trainable_parameters(), lr=1e-2)
    torch.manual_seed(1)  # the mini-batch order
    stats = ppo_update(ac, exp, optimizer, config=config, micro_batch=2, ctx=Distributed())
    grads = {n: p.grad.clone() for n, p in zip(ac.trainable_state(), ac.trainable_parameters(), strict=True)}
    after = ac.trainable_state()
    ac.load_trainable_state(start)
    return grads, after, stats


@pytest.mark.slow
def test_gradient_checkpointing_gives_the_same_gradients_and_really_recomputes(tiny_experience):
    config, ac, exp = tiny_experience
    # Count the runs of one decoder layer's MLP (module hooks do not fire in the recomputation).
    mlp = ac.model.get_base_model().model.layers[0].mlp
    calls = []

    def counted(*args, _forward=mlp.forward, **kwargs):
        calls.append(1)
        return _forward(*args, **kwargs)

    mlp.forward = counted
    runs = {}
    try:
        for on in (False, True):
            calls.clear()
            cfg = dataclasses.replace(config, gradient_checkpointing=on, logprob_chunk_size=5)
            runs[on] = (*_update_grads(ac, exp, cfg), len(calls))
    finally:
        del mlp.forward
    (grads_off, after_off, stats_off, calls_off), (grads_on, after_on, stats_on, calls_on) = runs[False], runs[True]
    # (policy + critic) forward passes per micro-batch; checkpointing runs each layer again in backward
    assert calls_off >= 4 and calls_on == 2 * calls_off
    assert any(g.abs().sum() > 0 for g in grads_off.values())
    for name in grads_off:
        torch.testing.assert_close(grads_on[name], grads_off[name], rtol=1e-4, atol=1e-6, msg=name)
        torch.testing.assert_close(after_on[name], after_off[name], rtol=1e-4, atol=1e-6, msg=name)
    assert stats_on["ppo/entropy"] == pytest.approx(stats_off["ppo/entropy"], rel=1e-5)
    assert not ac.model.training  # back in eval() for the next rollout


@pytest.mark.slow
def test_update_mode_trains_with_every_dropout_off(tiny_experience):
    _, ac, exp = tiny_experience
    with update_mode(ac, gradient_checkpointing=True):
        assert ac.model.training
        assert all(m.p == 0 for m in ac.model.modules() if isinstance(m, nn.Dropout))
        rows = slice(0, 2)
        args = (exp.input_ids[rows], exp.attention_mask[rows], exp.input_ids[rows, exp.start :])
        first, _ = reply_logprobs(ac, *args, start=exp.start, chunk_size=4)
        second, _ = reply_logprobs(ac, *args, start=exp.start, chunk_size=4)
    torch.testing.assert_close(first, second, rtol=0, atol=0)  # deterministic: no dropout noise
    with torch.no_grad():
        in_eval, _ = reply_logprobs(ac, *args, start=exp.start)
    torch.testing.assert_close(first.detach(), in_eval, rtol=1e-5, atol=1e-5)  # train() computes what eval() does
    assert not ac.model.get_base_model().model.layers[0].training
