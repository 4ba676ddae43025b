"""The shared-base actor-critic: one frozen base, policy and value adapters, the disabled-adapter
reference, and one PPO update that moves the adapters and the head but never the base."""

import dataclasses

import pytest
import torch

from engine.rl import logprobs_from_logits
from engine.rollout.hf import generate_hf
from engine.train.ppo import warmup_schedule
from engine.train.ppo_config import PPOConfig, REPOConfig
from engine.train.ppo_dist import Distributed
from engine.train.ppo_model import POLICY, VALUE, build_actor_critic, critic_values, policy_logits
from engine.train.ppo_update import experience_metrics, make_experience, ppo_update

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rollout_setup(tiny_model):
    torch.manual_seed(0)
    config = REPOConfig.preset("tiny", base_model=str(tiny_model), dataset="unused.jsonl")
    ac = build_actor_critic(config)
    chats = [[{"role": "user", "content": f"hi, the room is {p} now."}] for p in (780, 650, 910, 1200)]
    prompts = []
    for chat in chats:
        ids = ac.tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=True)
        prompts.append(list(ids["input_ids"] if hasattr(ids, "keys") else ids))
    sample = generate_hf(ac.model, ac.tokenizer, prompts, max_new_tokens=10)
    return config, ac, sample


def _base_weights(ac):
    return {n: p.detach().clone() for n, p in ac.model.named_parameters() if "lora_" not in n}


def test_one_base_with_policy_and_value_adapters(rollout_setup):
    _, ac, _ = rollout_setup
    assert set(ac.model.peft_config) == {POLICY, VALUE}
    base_params = [p for n, p in ac.model.named_parameters() if "lora_" not in n]
    assert not any(p.requires_grad for p in base_params)
    # No second copy: the model holds exactly one set of base weights.
    fresh = type(ac.model.get_base_model()).from_pretrained(ac.model.get_base_model().name_or_path)
    assert sum(p.numel() for p in base_params) == sum(p.numel() for p in fresh.parameters())
    trainable = ac.trainable_parameters()
    assert trainable and all("lora_" in n or n.startswith("value_head") for n in ac.trainable_state())


def test_fresh_policy_equals_the_disabled_adapter_reference(rollout_setup):
    _, ac, sample = rollout_setup
    start = sample.query_ids.shape[1]
    with torch.no_grad():
        policy = logprobs_from_logits(
            policy_logits(ac, sample.input_ids, sample.attention_mask, start=start), sample.response_ids
        )
        ref = logprobs_from_logits(
            policy_logits(ac, sample.input_ids, sample.attention_mask, start=start, adapter=None), sample.response_ids
        )
        values = critic_values(ac, sample.input_ids, sample.attention_mask, start=start)
    # LoRA's B starts at zero, so the initial policy is the base itself: KL to the reference is 0.
    torch.testing.assert_close(policy * sample.response_mask, ref * sample.response_mask)
    assert values.shape == sample.response_ids.shape and torch.isfinite(values).all()


@pytest.mark.parametrize("config_cls", [REPOConfig, PPOConfig])
def test_one_update_moves_adapters_and_head_not_the_base(tiny_model, config_cls):
    torch.manual_seed(0)
    config = config_cls.preset("tiny", base_model=str(tiny_model), dataset="unused.jsonl")
    ac = build_actor_critic(config)
    ids = ac.tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi, yes?"}], add_generation_prompt=True, tokenize=True
    )
    prompt = list(ids["input_ids"] if hasattr(ids, "keys") else ids)
    sample = generate_hf(ac.model, ac.tokenizer, [prompt] * 4, max_new_tokens=8)
    base_before, trainable_before = _base_weights(ac), ac.trainable_state()

    exp = make_experience(ac, sample, torch.tensor([1.0, -1.0, 0.5, -0.5]), config=config, micro_batch=2)
    assert (exp.kl is not None) == (config.kl_coef > 0 or config.log_kl)
    optimizer = torch.optim.AdamW(ac.trainable_parameters(), lr=1e-2)
    stats = ppo_update(ac, exp, optimizer, config=config, micro_batch=2, ctx=Distributed())
    stats.update(experience_metrics(exp))

    assert all(torch.isfinite(torch.tensor(v)) for k, v in stats.items() if k != "ppo/explained_variance")
    after = ac.trainable_state()
    moved = {n for n in after if not torch.equal(after[n], trainable_before[n])}
    assert any(".policy." in n for n in moved) and any(".value." in n for n in moved)
    assert any(n.startswith("value_head") for n in moved)
    for name, weight in _base_weights(ac).items():
        assert torch.equal(weight, base_before[name]), f"base weight {name} changed"


def test_several_mini_batches_and_epochs_make_the_clip_active_and_target_kl_stops_them(rollout_setup):
    """With one pass and one mini-batch the ratio is always 1 (clip fraction 0); several passes in
    mini-batches move the policy between steps, so the clip engages, and ``target_kl`` stops the passes
    once the policy has moved too far."""
    config, ac, sample = rollout_setup
    saved = ac.trainable_state()
    scores = torch.tensor([1.0, -1.0, 0.5, -0.5])
    runs = {}
    for name, fields in {
        "single": {"ppo_epochs": 1, "num_mini_batches": 1, "target_kl": None},
        "trust_region": {"ppo_epochs": 4, "num_mini_batches": 2, "target_kl": None},
        "early_stop": {"ppo_epochs": 4, "num_mini_batches": 2, "target_kl": 1e-9},
    }.items():
        ac.load_trainable_state(saved)
        cfg = dataclasses.replace(config, **fields)
        torch.manual_seed(0)
        exp = make_experience(ac, sample, scores, config=cfg, micro_batch=2)
        optimizer = torch.optim.AdamW(ac.trainable_parameters(), lr=1e-2)
        runs[name] = ppo_update(ac, exp, optimizer, config=cfg, micro_batch=2, ctx=Distributed())
    ac.load_trainable_state(saved)
    assert runs["single"]["ppo/clip_fraction"] == 0 and runs["single"]["ppo/optimizer_steps"] == 1
    assert runs["trust_region"]["ppo/clip_fraction"] > 0
    assert runs["trust_region"]["ppo/optimizer_steps"] == 8 and runs["trust_region"]["ppo/early_stopped"] == 0
    assert runs["early_stop"]["ppo/optimizer_steps"] == 1 and runs["early_stop"]["ppo/early_stopped"] == 1


def test_mini_batches_must_divide_the_rollout_batch_not_the_forward_pass():
    fields = {"base_model": "m", "dataset": "d.jsonl"}
    ok = PPOConfig.preset("tiny", per_device_batch_size=2, gradient_accumulation_steps=2, num_mini_batches=4, **fields)
    assert not [e for e in ok.errors() if "num_mini_batches" in e]
    bad = dataclasses.replace(ok, per_device_batch_size=4, gradient_accumulation_steps=1, num_mini_batches=3)
    assert [e for e in bad.errors() if "num_mini_batches" in e]


def test_ppo_baseline_and_repo_share_the_kl_setting_by_default():
    assert PPOConfig().kl_coef == REPOConfig().kl_coef == 0.0
    assert PPOConfig().target_kl == REPOConfig().target_kl and PPOConfig().num_mini_batches > 1


def test_the_first_warm_up_step_learns():
    import doctest

    import engine.train.ppo

    assert doctest.testmod(engine.train.ppo).failed == 0
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    warmup_schedule(optimizer, warmup_steps=2)
    assert optimizer.param_groups[0]["lr"] > 0  # transformers' constant-with-warm-up starts at 0


def test_the_critic_has_its_own_learning_rate_and_gradient_clip(rollout_setup):
    from engine.train.ppo import build_optimizer

    config, ac, sample = rollout_setup
    saved = ac.trainable_state()
    cfg = dataclasses.replace(config, learning_rate=1e-2, critic_learning_rate=1e-7, max_grad_norm=0.5)
    optimizer = build_optimizer(ac, cfg)
    assert [g["lr"] for g in optimizer.param_groups] == [1e-2, 1e-7]
    assert len(ac.policy_parameters()) + len(ac.critic_parameters()) == len(ac.trainable_parameters())
    policy_before = [p.detach().clone() for p in ac.policy_parameters()]
    critic_before = [p.detach().clone() for p in ac.critic_parameters()]
    exp = make_experience(ac, sample, torch.tensor([1.0, -1.0, 0.5, -0.5]), config=cfg, micro_batch=2)
    stats = ppo_update(ac, exp, optimizer, config=cfg, micro_batch=2, ctx=Distributed())
    policy_move = max(float((p - q).abs().max()) for p, q in zip(ac.policy_parameters(), policy_before, strict=True))
    critic_move = max(float((p - q).abs().max()) for p, q in zip(ac.critic_parameters(), critic_before, strict=True))
    ac.load_trainable_state(saved)
    assert policy_move > 1e-3 > 1e-5 > critic_move > 0
    assert "ppo/critic_grad_norm" in stats and stats["ppo/grad_norm"] > 0
