"""``python -m engine``: one-line errors, train/bootstrap/generate/score as the web app calls them."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.bootstrap import DONE_MARKER
from engine.cli import TRAINERS, main
from engine.config import SFTConfig, config_class, save_config
from engine.configio import config_fields
from engine.demo import generate_world
from engine.demo.datasets import prompt_rows, sft_rows
from engine.generate import generate_file
from engine.score import score_file
from tests.fixtures.engine import TINY_SEED

ROOT = Path(__file__).resolve().parents[2]
torch.set_num_threads(1)


def engine(*args, check=False):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run(
        [sys.executable, "-m", "engine", *map(str, args)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def world():
    return generate_world(seed=5, n_dialogues=12)


@pytest.fixture(scope="module")
def prompts_file(world, tmp_path_factory):
    rows = [{"id": f"p{i}", **row} for i, row in enumerate(prompt_rows(world)[:3])]
    path = tmp_path_factory.mktemp("prompts") / "prompts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


# ---------------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("config", "method", "message"),
    [
        ({"method": "sft", "base_model": "m", "dataset": "d", "lr": 1}, "sft", "unknown key 'lr'"),
        ({"method": "sft", "base_model": "m", "dataset": "d"}, "dpo", "for method 'sft', not 'dpo'"),
        ("{not json", "sft", "not valid JSON"),
    ],
)
def test_a_bad_config_exits_2_with_one_line(tmp_path, config, method, message):
    path = tmp_path / "config.json"
    path.write_text(config if isinstance(config, str) else json.dumps(config))
    result = engine("train", method, "--config", path)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------------------------------------------
# train METHOD --help: what the config file may contain
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", sorted(TRAINERS))
def test_train_help_names_every_key_of_the_methods_config(method, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["train", method, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    flat = " ".join(out.split())
    assert "--config FILE" in out and f'"method": "{method}"' in out
    for doc in config_fields(config_class(method)):
        assert f"  {doc.name}  ({doc.type}, default {doc.default})" in out
        assert " ".join(doc.help.split()) in flat


def test_train_help_from_the_command_line():
    result = engine("train", "repo", "--help", check=True)
    assert "rewards.judge.evidence_chars" in result.stdout and "kl_coef" in result.stdout
    without_method = engine("train", "--help", check=True)
    assert "python -m engine train METHOD --help" in without_method.stdout


@pytest.mark.slow  # the subprocess loads torch and TRL before it reads the dataset
def test_a_missing_dataset_is_a_clear_error(tiny_model, tmp_path):
    config = SFTConfig.preset("tiny", base_model=str(tiny_model), dataset=str(tmp_path / "missing.jsonl"))
    result = engine("train", "sft", "--config", save_config(config, tmp_path / "config.json"))
    assert result.returncode == 2 and "dataset not found" in result.stderr.splitlines()[-1]


# ---------------------------------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_train_sft_writes_the_run_dir(tiny_model, world, tmp_path):
    data = _write(tmp_path / "sft.jsonl", sft_rows(world))
    config = SFTConfig.preset("tiny", base_model=str(tiny_model), dataset=str(data), max_steps=2)
    run_dir = tmp_path / "run"
    save_config(config, run_dir / "config.json")
    result = engine("train", "sft", "--config", run_dir / "config.json", check=True)
    assert "sft: done, 2 steps" in result.stdout
    for name in ("metrics.jsonl", "progress.json", "result.json", "adapter/adapter_model.safetensors"):
        assert (run_dir / name).exists(), name


@pytest.mark.slow
def test_bootstrap_copies_the_cached_model(tiny_model, tmp_path):
    engine("bootstrap", "--out", tmp_path / "tiny", "--seed", TINY_SEED, check=True)
    assert (tmp_path / "tiny" / DONE_MARKER).exists()
    assert (tmp_path / "tiny" / "model.safetensors").read_bytes() == (tiny_model / "model.safetensors").read_bytes()


@pytest.mark.slow
def test_generate_greedy_is_deterministic_and_an_adapter_changes_it(tiny_model, prompts_file, tmp_path):
    engine("generate", "--model", tiny_model, "--prompts", prompts_file, "--out", tmp_path / "a.jsonl",
           "--max-new-tokens", 24, check=True)  # fmt: skip
    rows = _read(tmp_path / "a.jsonl")
    assert [r["id"] for r in rows] == ["p0", "p1", "p2"]
    for row in rows:
        assert row["finish_reason"] in ("stop", "length") and 0 < row["tokens"] <= 24 and row["reply"]
    generate_file(model=str(tiny_model), prompts=prompts_file, out=tmp_path / "b.jsonl", max_new_tokens=24)
    assert _read(tmp_path / "b.jsonl") == rows

    adapter = _random_adapter(tiny_model, tmp_path / "adapter")
    generate_file(
        model=str(tiny_model), adapter=str(adapter), prompts=prompts_file, out=tmp_path / "c.jsonl", max_new_tokens=24
    )
    assert [r["reply"] for r in _read(tmp_path / "c.jsonl")] != [r["reply"] for r in rows]


def _random_adapter(tiny_model, out):
    """A LoRA adapter with random (non-identity) weights: enough to show the adapter is applied."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    config = LoraConfig(r=8, lora_alpha=64, target_modules="all-linear", init_lora_weights=False)
    get_peft_model(model, config).save_pretrained(out)
    return out


@pytest.mark.slow
@pytest.mark.vllm
def test_generate_through_vllm(vllm_server, tiny_model, prompts_file, tmp_path):
    engine("generate", "--model", tiny_model, "--prompts", prompts_file, "--out", tmp_path / "v.jsonl",
           "--backend", "vllm", "--base-url", vllm_server.base_url, "--served-model", vllm_server.model,
           "--max-new-tokens", 24, check=True)  # fmt: skip
    rows = _read(tmp_path / "v.jsonl")
    assert len(rows) == 3 and all(r["finish_reason"] in ("stop", "length") and r["tokens"] for r in rows)


def test_score_rules_only_flags_a_leak_and_passes_a_clean_reply(world, tmp_path):
    row = prompt_rows(world)[0]
    ticket = row["task"]["tickets"][0]
    clean = f"Would {ticket['target_price']:g} work for the {ticket['room_type']}?"
    leak = f"Our target price for the {ticket['room_type']} is {ticket['target_price']:g}."
    replies = _write(tmp_path / "replies.jsonl", [{"id": 1, **row, "reply": clean}, {"id": 2, **row, "reply": leak}])
    assert score_file(replies=replies, out=tmp_path / "scores.jsonl") == 2
    good, bad = _read(tmp_path / "scores.jsonl")
    assert good["e_func"] == 0 and good["violations"] == []
    assert bad["e_func"] < 0 and "internal_term_leak" in {v["rule"] for v in bad["violations"]}
    assert set(good) >= {"id", "r_model", "e_judge", "e_func", "r_total", "violations"}


@pytest.mark.slow
def test_sigterm_marks_the_run_failed(tiny_model, world, tmp_path):
    import signal
    import time

    data = _write(tmp_path / "sft.jsonl", sft_rows(world))
    config = SFTConfig.preset("tiny", base_model=str(tiny_model), dataset=str(data), max_steps=500, save_every=500)
    run_dir = tmp_path / "run"
    save_config(config, run_dir / "config.json")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", "train", "sft", "--config", str(run_dir / "config.json")],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while not (run_dir / "metrics.jsonl").exists() and time.monotonic() < deadline:
            assert process.poll() is None, "the run ended before it was cancelled"
            time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        process.kill()
    progress = json.loads((run_dir / "progress.json").read_text())
    assert progress["status"] == "failed" and "Terminated" in progress["error"]


@pytest.mark.slow
@pytest.mark.vllm
def test_score_with_the_judge_on_vllm(vllm_server, world, tmp_path):
    reply = "Hello, would 600 work for the room?"
    rows = [{"id": i, **row, "reply": reply} for i, row in enumerate(prompt_rows(world)[:2])]
    replies = _write(tmp_path / "replies.jsonl", rows)
    result = engine("score", "--replies", replies, "--out", tmp_path / "s.jsonl", "--no-rules",
                    "--judge-url", vllm_server.base_url, check=True)  # fmt: skip
    assert "scored 2 replies" in result.stdout
    for row in _read(tmp_path / "s.jsonl"):
        assert isinstance(row["e_judge"], float) and row["e_func"] == 0 and row["violations"] == []
