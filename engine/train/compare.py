"""Does a policy trained by one method do better than the start policy, or than another method's?

The harness of the learning benchmarks (``benchmarks/bench_repo_learns.py``,
``benchmarks/bench_repo_vs_ppo_learning.py``) and of the multi-seed learning test: held-out prompts
from *other dialogues* than the training prompts (:func:`split_prompts`), fresh replies sampled with
one fixed sampling seed from each policy (:func:`sampled_quality`: ``samples`` per prompt, laid out
``prompts * samples``), scored by one reward source, and the comparisons of ``engine.evalstats``
(paired and clustered by prompt, pooled over training seeds).

:func:`learning_runs` is the REPO-only demo (the start policy against REPO runs on several seeds);
:func:`method_runs` trains several configs per seed from the same start policy and the same prompts
and evaluates them all with the same reward source and sampling seed.

:func:`add_run_arguments` and :func:`run_overrides` are the command-line options every runner of this
harness takes (training seeds, evaluation samples and seed, torch threads, ``--set KEY=VALUE`` config
overrides) and their mapping onto the run config's fields.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from engine.demo.datasets import prompt_rows
from engine.demo.world import generate_world
from engine.evalstats import pooled_difference, pooled_improvement, prompt_means, repo_claim

# The learning demo (docs/engine.md, "Does it learn?"): the tiny preset with 32 rollouts per update and
# prompts that keep the system message with the case (the oldest turns are dropped first), so that ten
# REPO steps per seed fit about a minute and a half on two quiet CPU cores.
LEARNING_DEMO: dict = {
    "per_device_batch_size": 32,
    "max_steps": 10,
    "max_prompt_length": 384,
    "save_every": 10,
    "probe_every": 0,
}
LEARNING_SEEDS = (0, 1, 2)

# The comparison's size (docs/engine.md, "REPO against PPO"): the learning demo's batch and prompts,
# with the trust region (two passes of two mini-batches, target_kl) on for both methods.
REPO_VS_PPO: dict = {
    "per_device_batch_size": 32,
    "max_steps": 10,
    "max_prompt_length": 384,
    "save_every": 10_000,
    "probe_every": 0,
    "learning_rate": 1e-3,
    "ppo_epochs": 2,
    "num_mini_batches": 2,
    "target_kl": 0.02,
    "kl_coef": 0.0,
}
# The preference reason codes whose bad replies a default rule checks programmatically (leaks, wrong
# prices, the wrong language, length): an RM "blind" to them (``--rm-blind rules``) leaves those
# constraints to the rules, the division of labour REPO is built for (docs/engine.md, "An RM that
# leaves the hard constraints to the rules").
RULE_REASONS = ("leak", "price_error", "language", "too_long")
REPO_VS_PPO_QUICK: dict = {"per_device_batch_size": 4, "max_steps": 2, "num_mini_batches": 2, "max_prompt_length": 192}


def add_run_arguments(parser: argparse.ArgumentParser, *, set_help: str = "config overrides (JSON values)") -> None:
    """The options of a learning run: ``--seeds`` (training seeds), ``--eval-samples`` and ``--eval-seed``
    (the held-out sampling), ``--threads`` (torch's) and ``--set KEY=VALUE ...`` (:func:`run_overrides`)."""
    parser.add_argument("--seeds", type=int, nargs="+", default=list(LEARNING_SEEDS))
    parser.add_argument("--eval-samples", type=int, default=8, help="sampled replies per held-out prompt")
    parser.add_argument("--eval-seed", type=int, default=1234)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (one process; 1 on a shared machine)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help=set_help)


def run_overrides(args: argparse.Namespace) -> dict:
    """``--set KEY=VALUE ...`` as config fields: a value that parses as JSON is that value (``2``,
    ``1e-3``, ``null``, ``true``), any other is the string itself; the first ``=`` splits key from value."""
    out = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE")
        out[key] = _json_or_text(value)
    return out


def _json_or_text(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def split_prompts(
    directory: Path, *, n_dialogues: int = 32, heldout_dialogues: int = 6, seed: int = 0,
    match_languages: bool = False,
) -> tuple[Path, Path]:  # fmt: skip
    """Train and held-out prompt files from *different dialogues* of the demo world (the last
    ``heldout_dialogues``): no held-out prompt, nor any turn of its conversation, is trained on.
    ``match_languages``: the training prompts get dialogues of other demo worlds in the languages the
    held-out set has more of (:func:`language_matched`), so that each case language is at least as
    common in training as in the evaluation; the held-out file is the same either way."""
    world = generate_world(seed=seed, n_dialogues=n_dialogues)
    cut = len(world["dialogues"]) - heldout_dialogues
    train = prompt_rows({**world, "dialogues": world["dialogues"][:cut]})
    heldout = prompt_rows({**world, "dialogues": world["dialogues"][cut:]})
    if match_languages:
        train = language_matched(train, heldout, seed=seed)
    parts = {"train.jsonl": train, "heldout.jsonl": heldout}
    directory.mkdir(parents=True, exist_ok=True)
    for name, rows in parts.items():
        (directory / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return directory / "train.jsonl", directory / "heldout.jsonl"


def case_language(row: dict) -> str:
    """The case language of a prompt row (English where the case does not say)."""
    return row["task"].get("language", "en")


def language_shares(rows: list[dict]) -> dict[str, float]:
    """The share of prompts per case language."""
    counts = Counter(case_language(r) for r in rows)
    return {k: counts[k] / len(rows) for k in sorted(counts)}


def language_matched(train: list[dict], heldout: list[dict], *, seed: int = 0, max_worlds: int = 20) -> list[dict]:
    """``train`` plus, for each case language whose share of ``heldout`` is larger than its share of
    ``train``, the prompts of whole dialogues in that language from other demo worlds (seeds
    ``1000 + seed + k``: other hotels, never a held-out conversation) until its training share is at
    least its held-out share. The demo world writes one dialogue in twelve in Chinese, so a held-out
    set of six dialogues holding one Chinese dialogue asks for about four times the Chinese prompts a
    26-dialogue training split has; without this the training signal for that language is one or two
    rollouts a batch (docs/engine.md, "Training prompts with the held-out language mix")."""
    out = list(train)
    have = language_shares(train)
    want = {lang: share for lang, share in language_shares(heldout).items() if have.get(lang, 0.0) < share}

    def short() -> list[str]:
        shares = language_shares(out)
        return [lang for lang, share in want.items() if shares.get(lang, 0.0) < share]

    for k in range(max_worlds):
        if not short():
            return out
        world = generate_world(seed=1000 + seed + k, n_dialogues=24)
        for dialogue in world["dialogues"]:
            if dialogue["case"].get("language", "en") in short():
                out += prompt_rows({**world, "dialogues": [dialogue]})
    if short():
        raise ValueError(f"{max_worlds} demo worlds do not hold enough dialogues to reach the shares {want}")
    return out


def sampled_quality(
    ac, rows: list[dict], *, rewards, samples: int, max_new_tokens: int, seed: int, max_prompt_length: int = 384
) -> dict:
    """``samples`` sampled replies per held-out prompt from ``ac``'s policy adapter, scored by
    ``rewards``: per reply R_total, R_model, E_judge, E_func, whether a rule fired (``violated``) and
    whether the judge deducted (``deducted``); their means; how often each rule and rubric item fired.
    The sampling seed is fixed so that two policies are compared on the same random numbers. Replies
    are laid out ``prompts * samples`` (reply ``i`` answers prompt ``i % len(rows)``)."""
    import torch

    from engine.rollout.hf import generate_hf
    from engine.train.ppo_data import encode_prompt
    from engine.train.ppo_model import POLICY

    ac.model.set_adapter(POLICY)
    torch.manual_seed(seed)
    prompts = [encode_prompt(ac.tokenizer, r["prompt"], max_length=max_prompt_length) for r in rows] * samples
    texts = []
    for i in range(0, len(prompts), 16):
        texts += generate_hf(ac.model, ac.tokenizer, prompts[i : i + 16], max_new_tokens=max_new_tokens).texts
    scored = rewards.score(
        prompts=[r["prompt"] for r in rows] * samples,
        replies=texts,
        tasks=[r["task"] for r in rows] * samples,
        stages=[r.get("stage") for r in rows] * samples,
    )
    n = len(texts)
    violated = [1.0 if hits else 0.0 for hits in scored.rule_hits]
    deducted = [1.0 if hits else 0.0 for hits in scored.judge_hits]
    has_judge = bool(scored.judge_ids)
    return {
        "n": n,
        "n_prompts": len(rows),
        "r_total": sum(scored.r_total) / n,
        "r_model": sum(scored.r_model) / n,
        "e_func": sum(scored.e_func) / n,
        "e_judge": sum(scored.e_judge) / n,
        "violation_rate": sum(violated) / n,
        "judge_deduction_rate": sum(deducted) / n if has_judge else None,
        "judge_failures": scored.judge_failures,
        "violated": violated,
        "deducted": deducted if has_judge else None,
        "r_totals": list(scored.r_total),
        "r_models": list(scored.r_model),
        "rules": dict(Counter(rule for hits in scored.rule_hits for rule in hits)),
        "judge_rules": dict(Counter(rule for hits in scored.judge_hits for rule in hits)),
        "replies": texts,
    }


# Per-reply lists of ``sampled_quality`` compared by the benchmarks: key, and whether lower is better.
METRICS = {
    "violation_rate": ("violated", True),
    "judge_deduction_rate": ("deducted", True),
    "rm_score": ("r_models", False),
    "r_total": ("r_totals", False),
}


def compare(baselines: list[dict], candidates: list[dict], *, metrics=tuple(METRICS)) -> dict:
    """``engine.evalstats.pooled_difference`` of each metric, candidate against baseline, one pair of
    ``sampled_quality`` results per seed (> 0 is better); None for a metric one side lacks (no judge)."""
    out = {}
    for name in metrics:
        key, lower = METRICS[name]
        if any(q[key] is None for q in baselines + candidates):
            out[name] = None
            continue
        out[name] = pooled_difference(
            [q[key] for q in baselines],
            [q[key] for q in candidates],
            n_prompts=baselines[0]["n_prompts"],
            lower_is_better=lower,
        )
    return out


def per_prompt(qualities: dict[str, dict], *, digits: int = 6) -> dict:
    """Each metric's per-prompt means (``name -> sampled_quality result``): ``{key: {name: [mean per
    prompt]}}``, for the metrics every side has. What :func:`pool_seed_lines` needs to pool seeds run
    apart exactly as :func:`compare` pools them (a prompt's mean is all a comparison reads of it)."""
    out = {}
    for key, _ in METRICS.values():
        if any(q[key] is None for q in qualities.values()):
            continue
        out[key] = {
            name: [round(x, digits) for x in prompt_means(q[key], q["n_prompts"])] for name, q in qualities.items()
        }
    return out


def pool_seed_lines(lines: list[dict]) -> dict:
    """REPO against PPO pooled over per-seed records (``{"seed", "by_prompt"}`` with ``start``, ``ppo``
    and ``repo`` per-prompt means, as ``bench_repo_vs_ppo_learning.py`` prints them), possibly from
    separate runs: the comparisons and the claim of :func:`repo_vs_ppo_runs`. The records must have
    different seeds and one start policy on one held-out set; ValueError otherwise."""
    if not lines:
        raise ValueError("no per-seed lines")
    seeds = [line["seed"] for line in lines]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"a seed appears more than once: {seeds}")
    start = lines[0]["by_prompt"]["violated"]["start"]  # every evaluation has a violation rate
    if any(line["by_prompt"]["violated"]["start"] != start for line in lines):
        raise ValueError("the lines do not share one start policy and held-out set")

    def quality(line: dict, name: str) -> dict:
        means = {key: sides[name] for key, sides in line["by_prompt"].items()}
        return {"n_prompts": len(means["violated"]), **{key: means.get(key) for key, _ in METRICS.values()}}

    ppo, repo, starts = ([quality(line, name) for line in lines] for name in ("ppo", "repo", "start"))
    return {"seeds": seeds, **repo_vs_ppo_pooled(ppo, repo, starts)}


def repo_vs_ppo_pooled(ppo: list[dict], repo: list[dict], starts: list[dict]) -> dict:
    """The three comparisons pooled over seeds (one ``sampled_quality`` result per seed on each side)
    and the paper's claim on them (``engine.evalstats.repo_claim``)."""
    pooled = {"repo_vs_ppo": compare(ppo, repo), "repo_vs_start": compare(starts, repo),
              "ppo_vs_start": compare(starts, ppo)}  # fmt: skip
    claim = repo_claim(
        pooled["repo_vs_ppo"]["violation_rate"], pooled["repo_vs_start"]["violation_rate"],
        pooled["repo_vs_ppo"]["rm_score"],
    )  # fmt: skip
    return {"pooled": pooled, "claim": claim}


def evaluate_checkpoint(ac, run_dir: Path, rows: list[dict], **quality) -> dict:
    """Load the last checkpoint of ``run_dir`` into ``ac`` (policy and value adapters) and sample."""
    from engine.checkpoint import load_checkpoint
    from engine.rundir import latest_checkpoint

    ac.load_trainable_state(load_checkpoint(latest_checkpoint(run_dir).path)["trainable"])
    return sampled_quality(ac, rows, **quality)


def method_runs(
    configs: dict, rows: list[dict], work: Path, *, seeds, eval_rewards, eval_samples: int, eval_seed: int,
    on_seed=None, on_start=None, reuse: bool = False,
) -> dict:  # fmt: skip
    """Train every config of ``configs`` (``name -> seed -> config``) on every seed and evaluate all of
    them, and the start policy once, on ``rows`` with ``eval_rewards`` and one sampling seed. The start
    policy is the base (LoRA's B starts at 0), the same whatever the method or seed. ``reuse``: a run
    whose directory in ``work`` already holds its ``result.json`` is evaluated again, not retrained
    (its ``train_s`` is None): to add figures to, or change the reward source of, finished runs."""
    import torch

    from engine.train.ppo import train
    from engine.train.ppo_model import build_actor_critic

    first = next(iter(configs.values()))(seeds[0])
    quality = {
        "rewards": eval_rewards, "samples": eval_samples, "seed": eval_seed,
        "max_new_tokens": first.max_response_length, "max_prompt_length": first.max_prompt_length,
    }  # fmt: skip
    torch.manual_seed(0)
    # An evaluation model without the RM adapter: the checkpoints' policy and value adapters load into it.
    ac = build_actor_critic(_without_rm(first))
    start = sampled_quality(ac, rows, **quality)
    if on_start is not None:
        on_start(start)
    runs = []
    for seed in seeds:
        run = {"seed": seed}
        for name, config_of in configs.items():
            config = config_of(seed)
            run_dir = work / f"{name}-s{seed}"
            result, train_s = train_or_reuse(config, run_dir, reuse=reuse, train=train)
            run[name] = {
                "train_s": train_s,
                "result": result,
                "quality": evaluate_checkpoint(ac, run_dir, rows, **quality),
            }
        runs.append(run)
        if on_seed is not None:
            on_seed(run, start)
    return {"start": start, "runs": runs, "config": first}


def train_or_reuse(config, run_dir: Path, *, reuse: bool, train) -> tuple[dict, float | None]:
    """``train(config, run_dir=run_dir)``'s result and its seconds; with ``reuse``, a run whose
    ``result.json`` is already in ``run_dir`` is not trained again (its result, and None seconds)."""
    from engine.rundir import RunTail

    result = RunTail(run_dir).result() if reuse else None
    if result is not None:
        return result, None
    t0 = time.perf_counter()
    result = train(config, run_dir=run_dir)
    return result, time.perf_counter() - t0


def _without_rm(config):
    import dataclasses

    return dataclasses.replace(config, rewards=dataclasses.replace(config.rewards, rm_path=None, judge=None))


def learning_runs(
    tiny_model: Path,
    work: Path,
    *,
    seeds=LEARNING_SEEDS,
    eval_samples: int = 8,
    eval_seed: int = 1234,
    on_seed=None,
    **overrides,
) -> dict:
    """The multi-seed REPO learning demo: REPO runs through ``engine.train.ppo.train`` from one start
    policy on the same training prompts, one per training seed, and the sampled quality of the start
    policy and of each trained one on held-out prompts (other dialogues), with one sampling seed.
    ``pooled`` holds the violation rate's and R_total's improvement pooled over the seeds, paired and
    clustered by prompt (``engine.evalstats``)."""
    from engine.train.ppo_config import REPOConfig
    from engine.train.ppo_data import read_prompt_rows
    from engine.train.ppo_rewards import build_reward_source

    train_path, heldout_path = split_prompts(work / "data")
    fields = {"base_model": str(tiny_model), "dataset": str(train_path), **LEARNING_DEMO, **overrides}
    base_config = REPOConfig.preset("tiny", **{**fields, "seed": seeds[0]})
    rows = read_prompt_rows([str(heldout_path)])

    def on_run(run, start):
        if on_seed is not None:
            on_seed({"seed": run["seed"], "after": run["repo"]["quality"], **run["repo"]}, start)

    out = method_runs(
        {"repo": lambda seed: REPOConfig.preset("tiny", **{**fields, "seed": seed})}, rows, work, seeds=seeds,
        eval_rewards=build_reward_source(base_config), eval_samples=eval_samples, eval_seed=eval_seed, on_seed=on_run,
    )  # fmt: skip
    before = out["start"]
    runs = [{"seed": r["seed"], "after": r["repo"]["quality"], **r["repo"]} for r in out["runs"]]
    n = len(rows)
    pooled = {
        "violation_rate": pooled_improvement(
            before["violated"], [r["after"]["violated"] for r in runs], n_prompts=n, lower_is_better=True
        ),
        "r_total": pooled_improvement(
            before["r_totals"], [r["after"]["r_totals"] for r in runs], n_prompts=n, lower_is_better=False
        ),
    }
    return {"config": base_config, "before": before, "runs": runs, "pooled": pooled,
            "train_path": str(train_path), "heldout_path": str(heldout_path),
            "train_rows": len(read_prompt_rows([str(train_path)])), "heldout_rows": n}  # fmt: skip


def _last_turns(rows: list[dict], keep: int = 2) -> list[dict]:
    """The RM's training prompts: the dialogue's last ``keep`` messages (tests/engine/rewards/test_rm_learns.py:
    the demo pairs are told apart by their replies, and full prompts make the run ten times slower)."""
    out = [{**r, "prompt": [m for m in r["prompt"] if m["role"] != "system"][-keep:]} for r in rows]
    return [r for r in out if r["prompt"]]


def train_rm(model: Path, work: Path, *, steps: int, dialogues: int, blind: Iterable[str] = ()) -> tuple[Path, float]:
    """A tiny RM on preference pairs of demo world 1 (the policy trains and is evaluated on world 0).
    ``blind``: reason codes whose pairs the RM never trains on (:data:`RULE_REASONS`: the preferences a
    rule checks); its held-out accuracy is still measured on every pair, so it shows what it misses."""
    from engine.config import RMConfig
    from engine.demo import generate_world
    from engine.demo.datasets import preference_rows
    from engine.rewards.rm import train_reward_model

    world = generate_world(seed=1, n_dialogues=dialogues)
    cut = len(world["dialogues"]) * 3 // 4
    for name, part in (("rm_train", world["dialogues"][:cut]), ("rm_heldout", world["dialogues"][cut:])):
        exclude = blind if name == "rm_train" else ()
        rows = _last_turns(preference_rows({**world, "dialogues": part}, exclude_reasons=exclude))
        (work / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    config = RMConfig.preset(
        "tiny", base_model=str(model), dataset=str(work / "rm_train.jsonl"),
        eval_dataset=str(work / "rm_heldout.jsonl"), max_prompt_length=192, max_response_length=64,
        per_device_batch_size=8, learning_rate=1e-3, max_steps=steps, save_every=100_000,
    )  # fmt: skip
    result = train_reward_model(config, run_dir=work / "rm")
    return work / "rm", float(result.get("heldout_accuracy", float("nan")))


def repo_vs_ppo_runs(
    model: Path, work: Path, *, seeds, size: dict, rm: Path | None = None, rm_steps: int = 60,
    rm_dialogues: int = 180, judge=None, eval_samples: int = 8, eval_seed: int = 1234, max_heldout: int | None = None,
    on_seed=None, on_start=None, repo_n: float | None = None, rm_blind: Iterable[str] = (),
    match_languages: bool = False, reuse: bool = False,
) -> dict:  # fmt: skip
    """PPO (reward: the RM alone) against REPO (R_total: the RM enhanced by the rules and ``judge``)
    from the same start policy on the same prompts, at the same ``size`` (batch, steps, learning rate,
    passes, mini-batches, ``kl_coef``: everything but the reward), one run of each per seed; all
    policies evaluated with one reward source (RM + rules [+ judge]) and one sampling seed. Without
    ``rm`` a tiny RM is trained first on another demo world. Returns the start figures, the runs, the
    comparisons pooled over seeds (``engine.evalstats.pooled_difference``) and the claim
    (``engine.evalstats.repo_claim``). ``repo_n``: REPO's enhancement clip ``n`` (default the paper's
    100; smaller = each rule or rubric point scales R_model more), a REPO hyperparameter that PPO, whose
    reward has no enhancement, does not have; the evaluation's R_total keeps the default. ``rm_blind``:
    the trained RM never sees pairs with these reason codes (:func:`train_rm`; ignored with ``rm``).
    ``match_languages``: training prompts with the held-out set's language mix (:func:`split_prompts`).
    ``reuse``: finished runs in ``work`` are evaluated again, not retrained (:func:`method_runs`)."""
    from engine.config import RewardSourcesConfig
    from engine.rewards import RepoReward
    from engine.train.ppo_config import PPOConfig, REPOConfig
    from engine.train.ppo_data import read_prompt_rows

    work.mkdir(parents=True, exist_ok=True)
    rm_accuracy = None
    if rm is None:
        rm, rm_accuracy = train_rm(model, work, steps=rm_steps, dialogues=rm_dialogues, blind=rm_blind)
    train_path, heldout_path = split_prompts(work / "data", match_languages=match_languages)
    rows = read_prompt_rows([str(heldout_path)])[:max_heldout]
    common = {"base_model": str(model), "dataset": str(train_path), **size}
    repo_rewards = {} if repo_n is None else {"n": repo_n}
    configs = {
        "ppo": lambda seed: PPOConfig.preset(
            "tiny", **common, seed=seed, rewards=RewardSourcesConfig(rm_path=str(rm), use_rules=False)
        ),
        "repo": lambda seed: REPOConfig.preset(
            "tiny", **common, seed=seed, rewards=RewardSourcesConfig(rm_path=str(rm), judge=judge, **repo_rewards)
        ),
    }
    eval_rewards = RepoReward.from_config(RewardSourcesConfig(rm_path=str(rm), judge=judge))
    out = method_runs(
        configs, rows, work, seeds=seeds, eval_rewards=eval_rewards, eval_samples=eval_samples, eval_seed=eval_seed,
        on_seed=on_seed, on_start=on_start, reuse=reuse,
    )  # fmt: skip
    ppo = [r["ppo"]["quality"] for r in out["runs"]]
    repo = [r["repo"]["quality"] for r in out["runs"]]
    starts = [out["start"]] * len(out["runs"])
    return {**out, **repo_vs_ppo_pooled(ppo, repo, starts), "rm": str(rm), "rm_accuracy": rm_accuracy, "rows": rows,
            "train_path": str(train_path), "heldout_path": str(heldout_path)}  # fmt: skip
