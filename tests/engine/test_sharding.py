"""``parallel: ddp | fsdp`` in the PPO / REPO loop, two gloo ranks on the CPU against one process.

The update-level tests feed the same fixed experience (4 rows: all of them to one process, two to
each rank) through ``ppo_update`` and compare the trained weights; the checkpoint test saves the whole
(gathered) state after two steps under one layout and resumes it under another. The loop test runs
``python -m engine train repo`` with ``parallel: fsdp`` under torchrun and resumes its checkpoint in one
process.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from engine.config import ConfigError, SFTConfig, save_config
from engine.train.ppo_config import REPOConfig
from tests.engine.ppo_support import assert_finite_metrics, tiny_config
from tests.fixtures.engine import free_port, torchrun_train_command

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
ROWS, PROMPT, REPLY = 4, 6, 5
TOLERANCE = 2e-5  # float32 sums in another order; a step moves the weights by ~1e-3
# mode: (parallel, shard_actor_critic's switches); fsdp's defaults on the CPU are whole layers, no prefetch
MODES = {"ddp": ("ddp", {}), "fsdp": ("fsdp", {}), "fsdp-linear": ("fsdp", {"unit": "linear", "prefetch": True})}


def _config(model: str) -> REPOConfig:
    return REPOConfig.preset(
        "tiny", base_model=model, dataset="-", per_device_batch_size=2, target_kl=None, lora_r=4, lora_alpha=8
    )


def _experience(vocab: int, rank: int, world: int):
    """A fixed batch (the same on every process), this rank's rows of it."""
    from engine.train.ppo_update import Experience

    gen = torch.Generator().manual_seed(123)
    ids = torch.randint(3, vocab, (ROWS, PROMPT + REPLY), generator=gen)
    shape = (ROWS, REPLY)
    exp = Experience(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        start=PROMPT,
        mask=torch.ones(shape),  # full rows: a micro-batch's token mean does not depend on the grouping
        old_logprobs=-torch.rand(shape, generator=gen) - 8.0,
        old_values=torch.randn(shape, generator=gen) * 0.1,
        advantages=torch.randn(shape, generator=gen),
        returns=torch.randn(shape, generator=gen),
        kl=None,
    )
    rows = slice(rank * ROWS // world, (rank + 1) * ROWS // world)
    return Experience(
        exp.input_ids[rows], exp.attention_mask[rows], exp.start, exp.mask[rows], exp.old_logprobs[rows],
        exp.old_values[rows], exp.advantages[rows], exp.returns[rows], None,
    )  # fmt: skip


def _train(model: str, ctx, *, steps: int, start: dict | None = None, shard_options: dict | None = None) -> dict:
    """``steps`` updates on the fixed batch from the seed's adapters (or from ``start``, a saved
    state); returns the whole trainable and optimiser state after each step (0 = before any), the
    all-reduce calls of the last update and the trainable tensor count."""
    import torch.distributed as dist

    from engine.checkpoint import seed_everything
    from engine.train.ppo import build_optimizer
    from engine.train.ppo_model import build_actor_critic
    from engine.train.ppo_update import ppo_update
    from engine.train.sharding import full_optimizer_state, load_optimizer_state, shard_actor_critic

    config = _config(model)
    seed_everything(config.seed)
    ac = build_actor_critic(config)
    if ctx.sharded:
        shard_actor_critic(ac, world_size=ctx.world_size, **(shard_options or {}))
    optimizer = build_optimizer(ac, config)
    if start is not None:
        ac.load_trainable_state(start["trainable"])
        load_optimizer_state(optimizer, start["optimizer"])
    exp = _experience(len(ac.tokenizer), ctx.rank, ctx.world_size)
    calls = []
    real = dist.all_reduce

    def counting(*args, **kwargs):
        # the default group's; the vocabulary-parallel embedding and head use a group of their own
        if kwargs.get("group") in (None, dist.group.WORLD):
            calls.append(1)
        return real(*args, **kwargs)

    def snapshot() -> dict:  # copies: the optimiser's step counters are updated in place
        return copy.deepcopy({"trainable": ac.trainable_state(), "optimizer": full_optimizer_state(optimizer)})

    snapshots = [snapshot()]
    for _ in range(steps):
        calls.clear()
        dist.all_reduce = counting
        try:
            ppo_update(ac, exp, optimizer, config=config, micro_batch=config.per_device_batch_size, ctx=ctx)
        finally:
            dist.all_reduce = real
        snapshots.append(snapshot())
    return {
        "after": snapshots,
        "all_reduce_calls": len(calls),
        "tensors": len(ac.trainable_parameters()),
        "head_rows": ac.lm_head.weight.shape[0],  # this rank's slice of the vocabulary under fsdp
        "vocab": ac.model.get_base_model().config.get_text_config().vocab_size,
    }


def _worker(rank: int, world: int, port: int, model: str, mode: str, steps: int, start_path: str, out: str):
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world), PARLEY_DEVICE="cpu",
    )  # fmt: skip
    torch.set_num_threads(1)
    from engine.train.ppo_dist import init_distributed, shutdown_distributed

    parallel, shard_options = MODES[mode]
    ctx = init_distributed(parallel=parallel)
    try:
        start = torch.load(start_path, weights_only=False) if start_path else None
        result = _train(model, ctx, steps=steps, start=start, shard_options=shard_options)
        if rank == 0:
            torch.save(result, out)
    finally:
        shutdown_distributed(ctx)


def _run(model: Path, tmp_path: Path, *, world: int, mode: str, steps: int, start: dict | None = None) -> dict:
    """``_train`` on ``world`` spawned processes (one process: in a spawned child as well, so that
    every run starts from the same fresh interpreter state)."""
    start_path = ""
    if start is not None:
        start_path = str(tmp_path / f"start-{mode}-{world}-{steps}.pt")
        torch.save(start, start_path)
    out = tmp_path / f"out-{mode}-{world}-{steps}.pt"
    mp.spawn(_worker, args=(world, free_port(), str(model), mode, steps, start_path, str(out)), nprocs=world)
    return torch.load(out, weights_only=False)


def _max_diff(a: dict | torch.Tensor, b: dict | torch.Tensor) -> float:
    if isinstance(a, torch.Tensor):
        return float((a - b).abs().max())
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


@pytest.fixture(scope="module")
def single(tiny_model, tmp_path_factory):
    """One process, three updates on the whole batch: the reference."""
    return _run(tiny_model, tmp_path_factory.mktemp("single"), world=1, mode="ddp", steps=3)["after"]


@pytest.fixture(scope="module", params=list(MODES))
def two_ranks(request, tiny_model, tmp_path_factory):
    """Two gloo ranks, two updates, each rank on its half of the batch (under fsdp-linear each
    projection its own FSDP group, with FSDP's prefetch: the same result, less gathered at once)."""
    mode = request.param
    return mode, _run(tiny_model, tmp_path_factory.mktemp(mode), world=2, mode=mode, steps=2)


def test_two_ranks_end_with_the_weights_of_one_process(two_ranks, single):
    mode, two = two_ranks
    assert _max_diff(two["after"][2]["trainable"], single[2]["trainable"]) < TOLERANCE
    assert (
        _max_diff(
            two["after"][2]["optimizer"]["state"][0]["exp_avg_sq"], single[2]["optimizer"]["state"][0]["exp_avg_sq"]
        )
        < TOLERANCE
    )
    # the test can fail: the updates moved the weights far more than the tolerance
    assert _max_diff(single[0]["trainable"], single[2]["trainable"]) > 50 * TOLERANCE
    if MODES[mode][0] == "ddp":  # gradients averaged in buckets, not one all-reduce per LoRA tensor
        assert 1 <= two["all_reduce_calls"] < two["tensors"] / 10, two["all_reduce_calls"]
    else:  # FSDP reduce-scatters them itself; the loop's only all-reduces are the gradient-norm clips'
        assert two["all_reduce_calls"] <= 2, two["all_reduce_calls"]
        # the embedding and the head were vocabulary-parallel: rank 0 held its half of the rows
        assert two["head_rows"] == -(-two["vocab"] // 2) < two["vocab"], (two["head_rows"], two["vocab"])


def test_checkpoint_resumes_on_another_world_size(two_ranks, single, tiny_model, tmp_path):
    """The whole (gathered) state of two ranks after two steps, resumed on one process for the third;
    and for FSDP also one process's state resumed on two sharded ranks: all end where three steps on
    one process end."""
    mode, two = two_ranks
    reference = single[3]["trainable"]
    on_one = _run(tiny_model, tmp_path, world=1, mode="ddp", steps=1, start=two["after"][2])
    assert _max_diff(on_one["after"][1]["trainable"], reference) < TOLERANCE
    if MODES[mode][0] == "fsdp":
        on_two = _run(tiny_model, tmp_path, world=2, mode=mode, steps=1, start=single[2])
        assert _max_diff(on_two["after"][1]["trainable"], reference) < TOLERANCE
    assert _max_diff(single[2]["trainable"], reference) > 50 * TOLERANCE


def test_fsdp_loop_under_torchrun_then_resumed_on_one_process(tiny_model, tmp_path):
    """The whole loop sharded: rollouts with every rank in generate, the probe, checkpoints and the
    final adapter from gathered weights; its checkpoint then resumes in one plain process."""
    run_dir = tmp_path / "run"
    config = tiny_config(
        tiny_model, tmp_path / "data", per_device_batch_size=2, max_prompt_length=128, max_response_length=8,
        max_steps=2, save_every=1, probe_every=2, probe_size=2, parallel="fsdp",
    )  # fmt: skip
    save_config(config, run_dir / "config.json")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "PARLEY_DEVICE": "cpu"}
    command = torchrun_train_command("repo", run_dir / "config.json")
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    result = json.loads((run_dir / "result.json").read_text())
    assert result["world_size"] == 2 and result["replicas_in_sync"]
    assert (run_dir / "adapter").exists() and any((run_dir / "adapter").rglob("adapter_model.safetensors"))
    rows = assert_finite_metrics(run_dir)
    assert any("probe/score" in row for row in rows)

    more = {**json.loads((run_dir / "config.json").read_text()), "max_steps": 3}
    (run_dir / "config.json").write_text(json.dumps(more))
    command = [sys.executable, "-m", "engine", "train", "repo", "--config", str(run_dir / "config.json"), "--resume"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    result = json.loads((run_dir / "result.json").read_text())
    assert result["world_size"] == 1 and result["resumed_from"] == 2 and result["steps"] == 3


def test_fsdp_is_refused_for_the_trl_trainers_in_words():
    with pytest.raises(ConfigError, match="parallel fsdp is not available for sft"):
        SFTConfig.preset("tiny", base_model="/m", dataset="/d.jsonl", parallel="fsdp")
    with pytest.raises(ConfigError, match="parallel must be ddp or fsdp"):
        REPOConfig.preset("tiny", base_model="/m", dataset="/d.jsonl", parallel="zero3")
