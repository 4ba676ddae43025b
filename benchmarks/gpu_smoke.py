"""GPU smoke test of the engine: SFT through TRL, then our own REPO loop on CUDA and on the CPU.

    python benchmarks/gpu_smoke.py --model TINY_MODEL_DIR --out OUT_DIR [--cpu-only]

No Django and no pytest: it imports the engine, torch, transformers, peft and trl only. It writes the
demo prompt files into ``OUT/data``, an untrained RM (random LoRA and score head on the tiny base; what
is under test is where it runs, not what it learned) into ``OUT/rm``, then runs each phase in a child
process with a timeout and prints one JSON line per phase (also in ``OUT/summary.json``):

``env``        torch / CUDA / library versions and the GPU's name
``sft``        ``--sft-steps`` SFT steps through the engine's entry (``python -m engine train sft``,
               called in the child): seconds per step and whether CUDA was used
``repo_cuda``  the tiny REPO preset (RM on the shared base, no judge) for ``--repo-steps`` steps on the
               loop's default device: seconds per step, peak CUDA memory, the parameters' devices,
               finite metrics, CPU-only checkpoint tensors
``repo_cpu``   the same steps with ``PARLEY_DEVICE=cpu``: the baseline; ``cpu_over_cuda`` is the ratio
``resume_cpu`` the CUDA run's last checkpoint resumed for one more step with ``PARLEY_DEVICE=cpu``

Without trl and datasets (SFT and the RM scorer's tokenisation need them; the loop does not) the SFT
phase is skipped and REPO runs on the rules alone (``--skip-sft``, ``--no-rm`` do the same by hand);
``summary.json`` lists what was skipped. Without CUDA (or with ``--cpu-only``) the CUDA phase is
skipped, the step counts shrink and the resume runs on the CPU checkpoint: the script still proves the
whole path works. Exit status 0 when every phase that ran passed. Target on one GPU: a few minutes in
all (the tiny model is ~16 MB).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine import rundir  # noqa: E402  (torch-free: the file names of a run directory)

RESULT_PREFIX = "RESULT "
REQUIRED_METRICS = ("reward/score", "reward/r_model", "ppo/policy_loss", "ppo/value_loss", "ppo/entropy")


def log(message: str) -> None:
    print(f"[gpu_smoke {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------
# inputs: demo prompt files and an untrained RM
# ---------------------------------------------------------------------------------------------------
def write_demo_data(out: Path, *, n_dialogues: int = 24, n_probe: int = 16) -> dict[str, str]:
    """SFT rows and REPO train / probe prompt rows from the demo world (``engine.demo``)."""
    from engine.demo import generate_world
    from engine.demo.datasets import prompt_rows, sft_rows

    world = generate_world(seed=0, n_dialogues=n_dialogues)
    out.mkdir(parents=True, exist_ok=True)
    prompts = prompt_rows(world)
    files = {"sft": sft_rows(world), "train": prompts[:-n_probe], "probe": prompts[-n_probe:]}
    paths = {}
    for name, rows in files.items():
        path = out / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        paths[name] = str(path)
    return paths


def write_untrained_rm(base_model: str | Path, out: Path, *, seed: int = 1, offset: float = 0.0) -> Path:
    """An RM run directory in the layout ``engine.rewards.rm`` writes (``rm_meta.json`` + ``adapter/``
    with a LoRA and a ``score`` head), with random non-zero weights instead of trained ones."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(seed)
    out = Path(out)
    tokenizer = AutoTokenizer.from_pretrained(base_model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    base = AutoModelForSequenceClassification.from_pretrained(base_model, num_labels=1, dtype=torch.float32)
    base.config.pad_token_id = tokenizer.pad_token_id
    lora = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="SEQ_CLS", modules_to_save=["score"])
    model = get_peft_model(base, lora)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name or "score" in name:
                param.normal_(std=0.1)
    model.save_pretrained(out / rundir.ADAPTER_DIR)
    tokenizer.save_pretrained(out / rundir.ADAPTER_DIR)
    meta = {"base_model": str(base_model), "offset": offset, "max_length": 1024, "dtype": "float32"}
    meta["adapter"] = rundir.ADAPTER_DIR
    (out / rundir.RM_META_FILE).write_text(json.dumps(meta), encoding="utf-8")
    return out


# ---------------------------------------------------------------------------------------------------
# the phases (each in its own child process)
# ---------------------------------------------------------------------------------------------------
def phase_env(args) -> dict[str, Any]:
    import peft
    import torch
    import transformers

    info = {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "cuda_available": torch.cuda.is_available(),
        "torch_cuda": torch.version.cuda,
        "PARLEY_DEVICE": os.environ.get("PARLEY_DEVICE"),
        "ok": True,
    }
    for name in ("trl", "datasets", "accelerate", "httpx"):  # SFT needs trl + datasets; the loop httpx
        try:
            info[name] = getattr(importlib.import_module(name), "__version__", "?")
        except ImportError as exc:
            info[name] = f"missing: {exc}"
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["gpu_count"] = torch.cuda.device_count()
    return info


def _cuda_peak_mib() -> float | None:
    import torch

    if not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return None
    return round(torch.cuda.max_memory_allocated() / 2**20, 1)


def phase_sft(args) -> dict[str, Any]:
    import torch

    from engine.cli import main as engine_main
    from engine.config import SFTConfig, save_config
    from engine.rundir import read_metrics

    run_dir = Path(args.out) / "sft"
    config = SFTConfig.preset(
        "tiny",
        base_model=args.model,
        dataset=args.data["sft"],
        max_steps=args.sft_steps,
        save_every=args.sft_steps,
        logging_every=1,
    )
    save_config(config, run_dir / rundir.CONFIG_FILE)
    t0 = time.perf_counter()
    code = engine_main(["train", "sft", "--config", str(run_dir / rundir.CONFIG_FILE)])  # `python -m engine train sft`
    total = time.perf_counter() - t0
    if code != 0:
        raise RuntimeError(f"engine train sft exited {code}")
    rows = read_metrics(run_dir)
    result = json.loads((run_dir / rundir.RESULT_FILE).read_text(encoding="utf-8"))
    times = [r["time"] for r in rows if "time" in r]
    per_step = (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else None
    return {
        "steps": result["steps"],
        "seconds_total": round(total, 2),  # includes loading the model and TRL's set-up
        "seconds_per_step": None if per_step is None else round(per_step, 4),  # logged steps, first excluded
        "train_runtime": result["metrics"].get("train_runtime"),
        "used_cuda": bool(torch.cuda.is_available() and torch.cuda.is_initialized() and _cuda_peak_mib()),
        "cuda_peak_mib": _cuda_peak_mib(),
        "dtype": str(config.dtype),
        "loss_first_last": [rows[0].get("loss"), rows[-1].get("loss")] if rows else None,
        "ok": result["steps"] == args.sft_steps,
    }


def phase_repo(args) -> dict[str, Any]:
    """The tiny REPO preset for ``args.steps`` steps on the loop's device (``PARLEY_DEVICE`` is set by
    the parent); ``args.resume`` continues ``args.run`` for one more step."""
    import torch

    from engine.rundir import read_metrics
    from engine.train import ppo
    from engine.train.ppo_config import REPOConfig

    seen: dict[str, Any] = {}
    build_ac, build_rewards = ppo.build_actor_critic, ppo.build_reward_source

    def capture_ac(config, **kwargs):
        seen["ac"] = build_ac(config, **kwargs)
        return seen["ac"]

    def capture_rewards(config, **kwargs):
        seen["rewards"] = build_rewards(config, **kwargs)
        return seen["rewards"]

    ppo.build_actor_critic, ppo.build_reward_source = capture_ac, capture_rewards
    run_dir = Path(args.out) / args.run
    config = REPOConfig.preset(
        "tiny",
        base_model=args.model,
        dataset=args.data["train"],
        probe_dataset=args.data["probe"],
        max_steps=args.steps,
        save_every=1,
        probe_every=0,
        rewards={} if args.no_rm else {"rm_path": str(Path(args.out) / "rm")},
    )
    t0 = time.perf_counter()
    result = ppo.train(config, run_dir=run_dir, resume=args.resume)
    total = time.perf_counter() - t0
    ac = seen["ac"]
    rows = [r for r in read_metrics(run_dir) if r["step"] > 0]
    new = [r for r in rows if r["step"] > result["resumed_from"]]
    step_s = [round(r["time/step_s"], 4) for r in new]
    finite = all(
        isinstance(r.get(k), int | float) and math.isfinite(r[k]) for r in new for k in REQUIRED_METRICS
    )  # the writer turns NaN and inf into null
    state = torch.load(rundir.LOOP_LAYOUT.path(run_dir, args.steps) / rundir.LOOP_STATE_FILE, weights_only=False)
    saved = [*state["trainable"].values(), *(t for s in state["optimizer"]["state"].values() for t in s.values())]
    rm = getattr(seen["rewards"], "rm", None)
    head = getattr(getattr(rm, "model", None), "head", None)
    devices = sorted({str(p.device) for p in [*ac.model.parameters(), *ac.value_head.parameters()]})
    out = {
        "device": str(ac.device),
        "parameter_devices": devices,
        "rm_head_device": None if head is None else str(head.weight.device),
        "base_dtype": str(next(ac.backbone.parameters()).dtype),
        "trainable_dtypes": sorted({str(p.dtype) for p in ac.trainable_parameters()}),
        "steps": result["steps"],
        "resumed_from": result["resumed_from"],
        "seconds_total": round(total, 2),
        "seconds_per_step": step_s,
        "mean_step_s": round(sum(step_s) / len(step_s), 4) if step_s else None,
        "mean_step_s_after_first": round(sum(step_s[1:]) / len(step_s[1:]), 4) if len(step_s) > 1 else None,
        "cuda_peak_mib": _cuda_peak_mib(),
        "metrics_finite": finite,
        "last_metrics": {k: new[-1].get(k) for k in REQUIRED_METRICS} if new else {},
        "checkpoint_tensors_on_cpu": all(t.device.type == "cpu" for t in saved if isinstance(t, torch.Tensor)),
        "checkpoint_has_cuda_rng": "cuda" in state["rng"][0],
    }
    expect = os.environ.get("GPU_SMOKE_EXPECT_DEVICE", "")
    out["ok"] = bool(
        finite
        and out["checkpoint_tensors_on_cpu"]
        and result["steps"] == args.steps
        and len(new) == args.steps - result["resumed_from"]
        and (not expect or all(d.split(":")[0] == expect for d in devices))
        and (head is None or str(head.weight.device) == str(ac.device))
    )
    return out


PHASES = {"env": phase_env, "sft": phase_sft, "repo": phase_repo}


def child_main(args) -> int:
    args.data = json.loads(args.data_json)
    try:
        result = PHASES[args.phase](args)
    except Exception as exc:  # reported to the parent as a failed phase, with the traceback above it
        import traceback

        traceback.print_exc()
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    print(RESULT_PREFIX + json.dumps(result, default=str), flush=True)
    return 0


# ---------------------------------------------------------------------------------------------------
# the parent: runs the phases with timeouts, prints one JSON line each
# ---------------------------------------------------------------------------------------------------
def run_phase(name: str, argv: list[str], *, env: dict[str, str], timeout: float, out: Path) -> dict[str, Any]:
    log(f"{name}: start (timeout {timeout:.0f}s)")
    log_path = out / f"{name}.log"
    command = [sys.executable, "-u", str(Path(__file__).resolve()), *argv]
    t0 = time.perf_counter()
    with log_path.open("w", encoding="utf-8") as log_file:
        child = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log_file, text=True, start_new_session=True
        )
        try:
            stdout, _ = child.communicate(timeout=max(timeout, 1))
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)  # the child's own session: it and whatever it started
            child.communicate()
            result = {"ok": False, "error": f"timed out after {timeout:.0f}s", "log": str(log_path)}
            log(f"{name}: TIMEOUT")
            return {"phase": name, **result, "wall_s": round(time.perf_counter() - t0, 1)}
    lines = [line for line in stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if lines:
        result = json.loads(lines[-1][len(RESULT_PREFIX) :])
    else:
        result = {"ok": False, "error": f"no result (exit {child.returncode})"}
    if not result.get("ok", True):
        result["log"] = str(log_path)
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        log(f"{name}: FAILED; last lines of {log_path}:\n" + "\n".join(tail))
    result = {"phase": name, **result, "wall_s": round(time.perf_counter() - t0, 1)}
    log(f"{name}: done in {result['wall_s']}s")
    return result


def parent_main(args) -> int:
    t_start = time.monotonic()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    model = str(Path(args.model).resolve())
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    env.pop("PARLEY_DEVICE", None)
    env.pop("WORLD_SIZE", None)  # one process: never a torchrun rank by accident

    import torch  # CUDA availability only; the parent runs no model

    cuda = torch.cuda.is_available() and not args.cpu_only
    sft_steps = args.sft_steps if cuda else min(args.sft_steps, 3)
    repo_steps = args.repo_steps if cuda else min(args.repo_steps, 2)
    log(f"model {model}; out {out}; cuda {cuda}; sft {sft_steps} steps, repo {repo_steps} steps")

    # TRL (and datasets, pyarrow) run SFT and the RM scorer's tokenisation; the loop itself needs neither.
    have_trl = all(importlib.util.find_spec(name) is not None for name in ("trl", "datasets"))
    skipped = []
    if args.skip_sft or not have_trl:
        skipped.append("sft: " + ("--skip-sft" if args.skip_sft else "trl or datasets not installed"))
    use_rm = not args.no_rm and have_trl
    if not use_rm:
        why = "--no-rm" if args.no_rm else "trl or datasets not installed"
        skipped.append(f"rm: {why} (REPO on the rules only)")
    for note in skipped:
        log(f"skipped {note}")

    data = write_demo_data(out / "data")
    log("demo data written")
    if use_rm:
        write_untrained_rm(model, out / "rm")
        log("untrained RM written")
    common = ["--model", model, "--out", str(out), "--data-json", json.dumps(data)]

    def remaining() -> float:
        return min(args.phase_timeout, args.budget - (time.monotonic() - t_start))

    results: list[dict[str, Any]] = []

    def record(result: dict[str, Any]) -> dict[str, Any]:
        results.append(result)
        print(json.dumps(result, default=str), flush=True)
        return result

    record(run_phase("env", ["--phase", "env", *common], env=env, timeout=remaining(), out=out))
    if not any(note.startswith("sft") for note in skipped):
        sft = ["--phase", "sft", "--sft-steps", str(sft_steps), *common]
        record(run_phase("sft", sft, env=env, timeout=remaining(), out=out))
    no_rm = [] if use_rm else ["--no-rm"]
    repo = ["--phase", "repo", "--steps", str(repo_steps), *no_rm, *common]
    gpu = None
    if cuda:
        gpu_env = {**env, "GPU_SMOKE_EXPECT_DEVICE": "cuda"}
        gpu = record(run_phase("repo_cuda", [*repo, "--run", "repo_cuda"], env=gpu_env, timeout=remaining(), out=out))
    cpu_env = {**env, "PARLEY_DEVICE": "cpu", "GPU_SMOKE_EXPECT_DEVICE": "cpu"}
    cpu = record(run_phase("repo_cpu", [*repo, "--run", "repo_cpu"], env=cpu_env, timeout=remaining(), out=out))
    # One more step on the CPU from the last checkpoint: the CUDA run's when there is one.
    resumed = "repo_cuda" if cuda else "repo_cpu"
    resume = ["--phase", "repo", "--steps", str(repo_steps + 1), "--resume", "--run", resumed, *no_rm, *common]
    record(run_phase("resume_cpu", resume, env=cpu_env, timeout=remaining(), out=out))

    summary: dict[str, Any] = {
        "phases": results,
        "cuda": cuda,
        "skipped": skipped,
        "wall_s": round(time.monotonic() - t_start, 1),
    }
    if gpu is not None and gpu.get("ok") and cpu.get("ok"):
        key = "mean_step_s_after_first" if gpu.get("mean_step_s_after_first") else "mean_step_s"
        if gpu.get(key) and cpu.get(key):
            summary["cpu_over_cuda"] = round(cpu[key] / gpu[key], 2)
            summary["cpu_over_cuda_basis"] = key
    summary["ok"] = all(r.get("ok", False) for r in results)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    print(json.dumps({"phase": "summary", **{k: v for k, v in summary.items() if k != "phases"}}), flush=True)
    log(f"summary in {out / 'summary.json'}: ok={summary['ok']}")
    return 0 if summary["ok"] else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="the tiny base model's directory")
    parser.add_argument("--out", required=True, help="a folder for the data, the runs and summary.json")
    parser.add_argument("--cpu-only", action="store_true", help="skip CUDA even when it is there")
    parser.add_argument("--sft-steps", type=int, default=20)
    parser.add_argument("--repo-steps", type=int, default=3)
    parser.add_argument("--skip-sft", action="store_true", help="no SFT phase (automatic without trl/datasets)")
    parser.add_argument("--no-rm", action="store_true", help="REPO on rules only (automatic without trl/datasets)")
    parser.add_argument("--phase-timeout", type=float, default=180.0, help="seconds per phase")
    parser.add_argument("--budget", type=float, default=420.0, help="seconds for all phases together")
    # -- internal: one phase in a child process
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--data-json", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=3, help=argparse.SUPPRESS)
    parser.add_argument("--run", default="repo", help=argparse.SUPPRESS)
    parser.add_argument("--resume", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    return child_main(args) if args.phase else parent_main(args)


if __name__ == "__main__":
    sys.exit(main())
