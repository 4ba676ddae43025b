"""The PPO / REPO loop's device: one choice (``ppo_dist.train_device``), the process group's backend
that follows it, checkpoints that load on any device, and, on a GPU, a short REPO run whose models
and metrics live where they should.

The first tests run on the CPU (CUDA is faked where the choice depends on it); the ``gpu`` ones are
skipped without CUDA (CI) and run on a GPU machine (``pytest -m gpu tests/engine/test_ppo_device.py``).
"""

from __future__ import annotations

import json
import math

import pytest
import torch

from engine.train import ppo_dist
from engine.train.ppo_dist import DEVICE_ENV, Distributed, init_distributed, train_device

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (torch sees none)")


@pytest.fixture
def fake_cuda(monkeypatch):
    """Pretend two CUDA devices exist; records the ``set_device`` calls."""
    calls: list[int] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: calls.append(int(index)))
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    return calls


# ---------------------------------------------------------------------------------------------------
# the choice
# ---------------------------------------------------------------------------------------------------
def test_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    assert train_device() == torch.device("cpu")
    monkeypatch.setenv(DEVICE_ENV, "auto")
    assert train_device() == torch.device("cpu")


def test_cuda_local_rank_becomes_the_current_device(fake_cuda, monkeypatch):
    assert train_device() == torch.device("cuda", 0)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert train_device() == torch.device("cuda", 1)
    assert fake_cuda == [0, 1]


def test_parley_device_cpu_forces_the_cpu_on_a_gpu_machine(fake_cuda, monkeypatch):
    monkeypatch.setenv(DEVICE_ENV, "CPU")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert train_device() == torch.device("cpu")
    assert fake_cuda == [], "forcing the CPU must not touch the CUDA device"


def test_bad_choices_fail_loudly(fake_cuda, monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "2")  # two devices: 0 and 1
    with pytest.raises(RuntimeError, match="LOCAL_RANK=2"):
        train_device()
    monkeypatch.setenv(DEVICE_ENV, "tpu")
    with pytest.raises(ValueError, match=DEVICE_ENV):
        train_device()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv(DEVICE_ENV, "cuda")
    with pytest.raises(RuntimeError, match="no CUDA"):
        train_device()


@pytest.mark.parametrize(("forced", "backend", "device"), [("", "nccl", "cuda:1"), ("cpu", "gloo", "cpu")])
def test_process_group_backend_follows_the_device(fake_cuda, monkeypatch, forced, backend, device):
    seen = {}
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv(DEVICE_ENV, forced)
    monkeypatch.setattr(ppo_dist.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(ppo_dist.dist, "init_process_group", lambda backend: seen.setdefault("backend", backend))
    monkeypatch.setattr(ppo_dist.dist, "get_rank", lambda: 1)
    monkeypatch.setattr(ppo_dist.dist, "get_world_size", lambda: 2)
    ctx = init_distributed()
    assert seen["backend"] == backend
    assert ctx == Distributed(rank=1, world_size=2, device=torch.device(device))


def test_single_process_carries_the_device(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    assert init_distributed() == Distributed(rank=0, world_size=1, device=torch.device("cpu"))


# ---------------------------------------------------------------------------------------------------
# tensors and checkpoints
# ---------------------------------------------------------------------------------------------------
def test_rollout_batch_moves_whole_and_concat_keeps_the_device():
    from engine.rollout import RolloutBatch, concat_rollouts

    def batch(width):
        ids = torch.ones(1, width, dtype=torch.long)
        return RolloutBatch(ids, ids, ids, ids.float(), ["x"], torch.tensor([True]), ids.float())

    moved = batch(2).to("cpu")
    assert moved.texts == ["x"] and moved.sampler_logprobs is not None
    joined = concat_rollouts([batch(2), batch(3)], pad_id=0)
    assert joined.query_ids.shape == (2, 3) and joined.query_ids.device == torch.device("cpu")


def test_scores_and_token_rewards_follow_the_rollout_device():
    from types import SimpleNamespace

    from engine.rl import last_token_rewards
    from engine.train.ppo_rewards import reply_scores

    config = SimpleNamespace(
        use_enhanced_reward=True, reward_scale=1.0, missing_eos_penalty=0.5, r_model_without_rm=1.0,
        rewards=SimpleNamespace(rm_path="rm", n=100.0),
    )  # fmt: skip
    ended = torch.tensor([True, False])
    scored = SimpleNamespace(r_model=[2.0, 2.0], e_judge=[-10.0, 0.0], e_func=[-40.0, 0.0])  # R_total 1.0 and 2.0
    scores = reply_scores(scored, ended, config=config)
    assert scores.device == ended.device and scores.tolist() == [1.0, 1.5]
    rewards = last_token_rewards(scores, torch.tensor([[1.0, 1.0], [1.0, 0.0]]))
    assert rewards.tolist() == [[0.0, 1.0], [1.5, 0.0]]


def test_to_cpu_moves_nested_tensors_and_keeps_the_rest():
    from engine.train.ppo_checkpoint import to_cpu

    state = {"a": torch.ones(2), "b": [torch.zeros(1), 3], "c": (torch.ones(1), "x"), "d": {"e": 1.5}}
    out = to_cpu(state)
    assert out["b"][1] == 3 and out["c"][1] == "x" and out["d"] == {"e": 1.5}
    assert isinstance(out["c"], tuple) and torch.equal(out["a"], state["a"])


def test_checkpoint_loads_onto_the_cpu_whatever_it_was_saved_from(tmp_path, monkeypatch):
    """``load_checkpoint`` must map to the CPU: a GPU run's checkpoint resumes on a CPU worker (and
    the loop then copies it onto its own device)."""
    from engine.checkpoint import load_checkpoint, save_checkpoint

    path = save_checkpoint(run_dir=tmp_path, step=1, state={"trainable": {"w": torch.arange(3.0)}})
    seen = {}
    real_load = torch.load

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    state = load_checkpoint(path)
    assert str(seen.get("map_location")) == "cpu"
    assert state["trainable"]["w"].device == torch.device("cpu")


@pytest.mark.slow
def test_a_bf16_base_trains_float32_adapters_and_heads(tiny_model):
    """On a GPU the base is bf16 ("auto"); what the optimiser steps (LoRA adapters, value head) stays
    float32, and values and log-probs come out float32."""
    from engine.train.ppo_config import REPOConfig
    from engine.train.ppo_model import VALUE, build_actor_critic, critic_values, policy_logits, response_hidden

    config = REPOConfig.preset("tiny", base_model=str(tiny_model), dataset="unused.jsonl")
    torch.manual_seed(0)
    ac = build_actor_critic(config, dtype=torch.bfloat16, device="cpu")
    ids = torch.tensor([[5, 6, 7, 8]])
    hidden = response_hidden(ac, ids, torch.ones_like(ids), start=2, adapter=VALUE)
    assert hidden.dtype == torch.bfloat16 and ac.value_head.weight.dtype == torch.float32
    assert {p.dtype for p in ac.trainable_parameters()} == {torch.float32}
    assert {p.dtype for n, p in ac.model.named_parameters() if "lora_" not in n} == {torch.bfloat16}
    values = critic_values(ac, ids, torch.ones_like(ids), start=2)
    assert values.dtype == torch.float32 and values.shape == (1, 2) and torch.isfinite(values).all()
    assert policy_logits(ac, ids, torch.ones_like(ids), start=2).dtype == torch.float32
    assert ac.device == hidden.device == torch.device("cpu")
    assert {p.device for p in ac.model.parameters()} == {ac.device}


@pytest.mark.parametrize(
    ("dtype", "device", "expected"),
    [
        ("auto", "cuda:0", torch.bfloat16),
        ("auto", "cpu", torch.float32),  # also PARLEY_DEVICE=cpu on a GPU machine
        ("float16", "cuda:0", torch.float16),
        ("float32", "cuda:0", torch.float32),
        ("bfloat16", "cpu", torch.bfloat16),
    ],
)
def test_the_base_dtype_follows_the_config_and_the_loop_device(dtype, device, expected):
    from types import SimpleNamespace

    from engine.train.ppo_model import base_dtype

    assert base_dtype(SimpleNamespace(dtype=dtype), device=device) == expected


@pytest.mark.slow
def test_repo_steps_with_a_bf16_base_on_the_cpu(tiny_model, tmp_path, monkeypatch):
    """The whole loop with ``dtype: bfloat16`` (what "auto" gives on a GPU): it runs, the metrics are
    finite and the policy moves."""
    from engine.train import ppo
    from tests.engine.ppo_support import assert_finite_metrics, tiny_config

    monkeypatch.setenv(DEVICE_ENV, "cpu")
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    built = {}

    def capture(config, **kwargs):
        built["ac"] = ppo_build(config, **kwargs)
        built["start"] = {k: v.clone() for k, v in built["ac"].trainable_state().items()}
        return built["ac"]

    ppo_build = ppo.build_actor_critic
    monkeypatch.setattr(ppo, "build_actor_critic", capture)
    config = tiny_config(tiny_model, tmp_path / "data", max_steps=2, dtype="bfloat16", **SMALL)
    assert ppo.train(config, run_dir=tmp_path / "run")["steps"] == 2
    ac = built["ac"]
    assert next(ac.backbone.parameters()).dtype == torch.bfloat16
    assert [r["step"] for r in assert_finite_metrics(tmp_path / "run")] == [1, 2]
    moved = [k for k, v in ac.trainable_state().items() if not torch.equal(v, built["start"][k])]
    assert moved, "no trainable weight changed in two updates"


# ---------------------------------------------------------------------------------------------------
# on a GPU: skipped without CUDA (CI); the lead runs them on a GPU machine
# ---------------------------------------------------------------------------------------------------
SMALL = {"per_device_batch_size": 2, "max_prompt_length": 128, "max_response_length": 8, "probe_every": 0}


@pytest.fixture
def untrained_rm(tiny_model, tmp_path):
    from benchmarks.gpu_smoke import write_untrained_rm

    return write_untrained_rm(tiny_model, tmp_path / "rm")


def _devices(model: torch.nn.Module) -> set[str]:
    return {p.device.type for p in model.parameters()}


@pytest.mark.gpu
@pytest.mark.slow
@requires_cuda
def test_repo_steps_run_on_cuda_with_the_rm_on_the_shared_base(tiny_model, tmp_path, untrained_rm, monkeypatch):
    from engine.rundir import read_metrics
    from engine.train import ppo
    from tests.engine.ppo_support import assert_finite_metrics, tiny_config

    monkeypatch.delenv(DEVICE_ENV, raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    built = {}

    def capture(config, **kwargs):
        built["ac"] = ppo_build(config, **kwargs)
        return built["ac"]

    def capture_rewards(config, **kwargs):
        built["rewards"] = ppo_rewards(config, **kwargs)
        return built["rewards"]

    ppo_build, ppo_rewards = ppo.build_actor_critic, ppo.build_reward_source
    monkeypatch.setattr(ppo, "build_actor_critic", capture)
    monkeypatch.setattr(ppo, "build_reward_source", capture_rewards)
    config = tiny_config(
        tiny_model, tmp_path / "data", max_steps=2, save_every=1, rewards={"rm_path": str(untrained_rm)}, **SMALL
    )
    result = ppo.train(config, run_dir=tmp_path / "run")

    assert result["steps"] == 2 and result["replicas_in_sync"]
    ac = built["ac"]
    assert ac.device.type == "cuda"
    assert _devices(ac.model) == {"cuda"} and _devices(ac.value_head) == {"cuda"}
    assert _devices(built["rewards"].rm.model.head) == {"cuda"}  # the RM's score head beside the base
    rows = assert_finite_metrics(tmp_path / "run")
    assert [r["step"] for r in rows] == [1, 2]
    assert all(math.isfinite(r["reward/r_model"]) for r in read_metrics(tmp_path / "run"))
    state = torch.load(tmp_path / "run" / "checkpoints" / "step-000002" / "state.pt", weights_only=False)
    saved = [*state["trainable"].values(), *state["optimizer"]["state"][0].values()]
    assert {t.device.type for t in saved} == {"cpu"}, "checkpoints must hold CPU tensors"
    assert "cuda" in state["rng"][0]


@pytest.mark.gpu
@pytest.mark.slow
@requires_cuda
def test_a_gpu_checkpoint_resumes_on_the_cpu(tiny_model, tmp_path, monkeypatch):
    from engine.train.ppo import train
    from tests.engine.ppo_support import assert_finite_metrics, tiny_config

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    config = tiny_config(tiny_model, tmp_path / "data", max_steps=2, save_every=1, **SMALL)
    train(config, run_dir=tmp_path / "run")
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    config = tiny_config(tiny_model, tmp_path / "data", max_steps=3, save_every=1, **SMALL)
    result = train(config, run_dir=tmp_path / "run", resume=True)
    assert result["resumed_from"] == 2 and result["steps"] == 3
    assert [r["step"] for r in assert_finite_metrics(tmp_path / "run")] == [1, 2, 3]
    assert json.loads((tmp_path / "run" / "result.json").read_text())["steps"] == 3
