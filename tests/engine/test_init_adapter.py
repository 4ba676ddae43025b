"""RL can start from an SFT or DPO adapter (``init_adapter``), whose frozen copy is then the KL
reference; and an adapter trained on another base (the init adapter, the RM on the shared base) is
refused in words instead of computing nonsense on the policy's weights."""

import json
import shutil

import pytest
import torch

from engine.base_identity import BaseMismatchError, base_fingerprint, check_same_base
from engine.rundir import RM_META_FILE, read_metrics
from engine.train.ppo import train
from engine.train.ppo_model import POLICY, REFERENCE, build_actor_critic, policy_logits, save_policy_adapter
from tests.engine.ppo_support import tiny_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def other_base(tiny_model, tmp_path_factory):
    """The tiny model's architecture with other weights: what a different base looks like."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path_factory.mktemp("other-base")
    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    torch.manual_seed(1)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.01 * torch.randn_like(param))
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def sft_adapter(tiny_model, tmp_path_factory):
    """A policy adapter trained on the tiny base (its LoRA B made non-zero, as training would)."""
    out = tmp_path_factory.mktemp("sft")
    config = tiny_config(tiny_model, out / "data", lora_r=4, lora_alpha=8)
    torch.manual_seed(5)
    ac = build_actor_critic(config)
    with torch.no_grad():
        for name, param in ac.model.named_parameters():
            if f"lora_B.{POLICY}." in name:
                param.normal_(std=0.05)
    return save_policy_adapter(ac, out / "adapter"), config


def test_fingerprints_tell_bases_apart(tiny_model, other_base, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model, copy)
    assert base_fingerprint(copy) == base_fingerprint(tiny_model)  # moved, still the same base
    assert base_fingerprint(other_base) != base_fingerprint(tiny_model)
    assert base_fingerprint("Qwen/Qwen3-8B") == "name:Qwen/Qwen3-8B"
    check_same_base(what="x", trained_on=str(copy), policy_base=tiny_model)
    with pytest.raises(BaseMismatchError, match="not on the policy's base"):
        check_same_base(what="x", trained_on=str(other_base), policy_base=tiny_model)


def test_the_policy_starts_from_the_init_adapter_and_it_is_the_reference(tiny_model, sft_adapter, tmp_path):
    adapter_dir, _ = sft_adapter
    config = tiny_config(tiny_model, tmp_path / "data", init_adapter=adapter_dir)
    torch.manual_seed(0)
    ac = build_actor_critic(config)
    assert ac.reference_adapter == REFERENCE
    params = dict(ac.model.named_parameters())
    policy_b = [n for n in params if f"lora_B.{POLICY}." in n]
    assert policy_b and all(params[n].abs().sum() > 0 for n in policy_b)  # not the fresh B = 0
    for name in policy_b:
        assert torch.equal(params[name], params[name.replace(f".{POLICY}.", f".{REFERENCE}.")])
    assert not any(p.requires_grad for n, p in params.items() if f".{REFERENCE}." in n)
    assert all(f".{REFERENCE}." not in n for n in ac.trainable_state())  # only the policy and critic train
    ids = torch.tensor([ac.tokenizer.encode("The price is 780 now, ok?")])
    att = torch.ones_like(ids)
    with torch.no_grad():
        started = policy_logits(ac, ids, att, start=2)
        base = policy_logits(ac, ids, att, start=2, adapter=None)
    assert not torch.allclose(started, base, atol=1e-4)  # the adapter changes the policy


def test_a_run_from_the_init_adapter_has_no_kl_to_its_start_at_the_first_step(tiny_model, sft_adapter, tmp_path):
    adapter_dir, _ = sft_adapter
    fields = {"max_steps": 1, "save_every": 1, "probe_every": 0, "max_prompt_length": 128, "log_kl": True}
    config = tiny_config(tiny_model, tmp_path / "data", init_adapter=str(adapter_dir), **fields)
    train(config, run_dir=tmp_path / "run")
    row = [r for r in read_metrics(tmp_path / "run") if r["step"] == 1][0]
    # the rollout-time policy is the init adapter itself: KL 0 to the reference (to the bare base it is not)
    assert abs(row["kl/to_initial"]) < 1e-4


def test_an_init_adapter_of_another_base_is_refused(tiny_model, other_base, sft_adapter, tmp_path):
    adapter_dir, _ = sft_adapter
    config = tiny_config(other_base, tmp_path / "data", init_adapter=adapter_dir)
    with pytest.raises(BaseMismatchError, match="init_adapter .* was trained on the base model"):
        build_actor_critic(config)


def test_an_rm_of_another_base_is_not_attached_to_the_policy(tiny_model, other_base, tmp_path):
    from engine.train.ppo_reward_model import attach_reward_model

    rm_dir = tmp_path / "rm"
    rm_dir.mkdir()
    meta = {"base_model": str(other_base), "base_fingerprint": base_fingerprint(other_base), "offset": 0.0}
    (rm_dir / RM_META_FILE).write_text(json.dumps(meta), encoding="utf-8")
    config = tiny_config(tiny_model, tmp_path / "data")
    torch.manual_seed(0)
    ac = build_actor_critic(config)
    with pytest.raises(BaseMismatchError, match="reward model .* not on the policy's base"):
        attach_reward_model(ac, rm_dir)
