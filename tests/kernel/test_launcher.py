"""The engine launcher (kernel.launcher): the command line, the environment, the log, the process group,
the timeout and the heartbeat callback; every run-to-completion caller goes through it (the reward
playground's RM score used to ignore PARLEY_PYTHON)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from kernel.launcher import EngineError, EngineTimeout, engine_argv, engine_env, engine_generate, engine_run

ROWS = [{"id": "a", "prompt": [{"role": "user", "content": "hi"}], "task": {}}]


def test_argv_takes_the_configured_interpreter_and_torchrun_for_several_processes(settings):
    settings.PARLEY_PYTHON = "/opt/py"
    assert engine_argv(["train", "rm"]) == ["/opt/py", "-m", "engine", "train", "rm"]
    two = engine_argv(["train", "rm"], processes=2)
    assert two == ["/opt/py", "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "engine"] + [
        "train",
        "rm",
    ]


def test_env_is_unbuffered_with_bounded_threads(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    env = engine_env()
    assert env["PYTHONUNBUFFERED"] == "1" and env["OMP_NUM_THREADS"] == "1"
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    assert engine_env()["OMP_NUM_THREADS"] == "4"


def test_generate_writes_the_prompts_runs_the_engine_and_reads_the_replies(fake_engine, tmp_path):
    replies = engine_generate(rows=ROWS, run_dir=tmp_path, model="/m", adapter="/a", max_new_tokens=8, seed=3)
    assert replies == {"a": "Reply 0: could you do 700?"}
    args = fake_engine.last_args()
    assert args[:3] == ["generate", "--model", "/m"] and args[args.index("--adapter") + 1] == "/a"
    assert args[args.index("--prompts") + 1] == str(tmp_path / "prompts.jsonl")
    assert (tmp_path / "engine.log").read_text().startswith(f"$ {fake_engine.python} -m engine generate")


def test_a_failure_carries_the_log_tail(fake_engine, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_FAIL", "ValueError: no such model")
    with pytest.raises(EngineError, match="(?s)exited with 2: .*ValueError: no such model"):
        engine_generate(rows=ROWS, run_dir=tmp_path, model="/m", max_new_tokens=8)


def test_timeout_stops_the_whole_group(fake_engine, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_GENERATE_S", "30")
    started, pids = time.monotonic(), []
    with pytest.raises(EngineTimeout):
        engine_generate(
            rows=ROWS, run_dir=tmp_path, model="/m", max_new_tokens=8, timeout_s=1, poll_s=0.1, beat=pids.append
        )
    assert time.monotonic() - started < 10
    assert_gone(pids[0])


def test_a_beat_that_raises_stops_the_engine(fake_engine, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_GENERATE_S", "30")
    pids = []

    def beat(pid: int) -> None:
        pids.append(pid)
        if len(pids) == 3:
            raise RuntimeError("lease lost")

    with pytest.raises(RuntimeError, match="lease lost"):
        engine_generate(rows=ROWS, run_dir=tmp_path, model="/m", max_new_tokens=8, beat=beat, poll_s=0.1)
    assert len(set(pids)) == 1
    assert_gone(pids[0])


def test_run_to_completion_returns_quietly_on_success(fake_engine, tmp_path):
    (tmp_path / "p.jsonl").write_text('{"id": 1, "prompt": [], "task": {}}\n')
    engine_run(
        ["generate", "--prompts", str(tmp_path / "p.jsonl"), "--out", str(tmp_path / "o.jsonl")], log=tmp_path / "l"
    )
    assert (tmp_path / "o.jsonl").exists()


@pytest.mark.django_db
def test_the_playground_rm_score_runs_through_the_launcher(fake_engine, tmp_path):
    from registry.models import ModelVersion
    from rewards.models import RewardConfig
    from rewards.services import remote as rewards_remote
    from tests.rewards import factories as f

    (tmp_path / "rm" / "adapter").mkdir(parents=True)
    (tmp_path / "rm" / "rm_meta.json").write_text("{}")
    rm = ModelVersion.objects.create(name="rm", base_model="/m", adapter_path=str(tmp_path / "rm" / "adapter"))
    result = rewards_remote.rm_score(
        config=RewardConfig(reward_model=rm), reply="hi", task=f.case().to_task(), history=[]
    )
    assert result.available and result.score == 0.5
    args = fake_engine.last_args()
    assert args[0] == "score" and args[args.index("--rm") + 1] == str(tmp_path / "rm")


def assert_gone(pid: int) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return
        if "\nState:\tZ" in state:
            return
        time.sleep(0.1)
    os.kill(pid, 9)
    raise AssertionError(f"engine process {pid} still running")
