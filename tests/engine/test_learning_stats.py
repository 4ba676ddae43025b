"""The learning test's statistics: paired and clustered by prompt, pooled over training seeds."""

import doctest
import math
import random
import statistics

import pytest

from engine import evalstats as learning_stats
from engine.evalstats import learned, pooled_difference, pooled_improvement, prompt_means, repo_claim


def test_doctests():
    assert doctest.testmod(learning_stats).failed == 0


def test_replies_are_grouped_by_prompt_in_sampling_order():
    # 2 prompts x 3 samples, laid out prompts * samples: reply i answers prompt i % 2
    assert prompt_means([1, 0, 1, 0, 0, 0], 2) == pytest.approx([2 / 3, 0.0])
    with pytest.raises(ValueError, match="divide"):
        prompt_means([1, 0, 1], 2)


def test_the_standard_error_is_over_prompts_not_replies():
    """Eight identical replies per prompt carry one prompt's worth of information: the clustered s.e.
    must not shrink by sqrt(8) as a per-reply s.e. would."""
    rng = random.Random(0)
    n_prompts, samples = 30, 8
    per_prompt_before = [rng.random() < 0.5 for _ in range(n_prompts)]
    per_prompt_after = [rng.random() < 0.4 for _ in range(n_prompts)]
    before = [float(per_prompt_before[i % n_prompts]) for i in range(n_prompts * samples)]
    after = [float(per_prompt_after[i % n_prompts]) for i in range(n_prompts * samples)]
    one = pooled_improvement(before[:n_prompts], [after[:n_prompts]], n_prompts=n_prompts, lower_is_better=True)
    many = pooled_improvement(before, [after], n_prompts=n_prompts, lower_is_better=True)
    assert many["se"] == pytest.approx(one["se"])  # copies of a prompt's reply add nothing
    naive = statistics.stdev([a - b for a, b in zip(after, before, strict=True)]) / math.sqrt(len(after))
    assert many["se"] > 2 * naive  # what treating the 8 samples as independent would claim


def test_a_real_improvement_passes_and_noise_or_one_lucky_seed_does_not():
    rng = random.Random(1)
    n_prompts, samples = 40, 8

    def draw(rate_of_prompt):
        return [float(rng.random() < rate_of_prompt[i % n_prompts]) for i in range(n_prompts * samples)]

    base_rates = [rng.uniform(0.1, 0.5) for _ in range(n_prompts)]
    before = draw(base_rates)
    better = [draw([r * 0.4 for r in base_rates]) for _ in range(3)]
    same = [draw(base_rates) for _ in range(3)]
    result = pooled_improvement(before, better, n_prompts=n_prompts, lower_is_better=True)
    assert learned(result) and result["ci95"][0] > 0 and result["p_value"] < 0.05
    assert all(x > 0 for x in result["per_seed"])

    assert not learned(pooled_improvement(before, same, n_prompts=n_prompts, lower_is_better=True))
    # one seed that learned a lot, two that got worse: the pooled mean may look fine, the median seed does not
    worse = [draw([min(1.0, r * 1.8) for r in base_rates]) for _ in range(2)]
    lucky = pooled_improvement(before, [draw([0.0] * n_prompts), *worse], n_prompts=n_prompts, lower_is_better=True)
    assert lucky["median_seed"] < 0 and not learned(lucky)


def test_higher_is_better_flips_the_sign():
    result = pooled_improvement([0.9, 0.8], [[1.0, 0.9]], n_prompts=2, lower_is_better=False)
    assert result["improvement"] == pytest.approx(0.1)
    assert result["ci95"][0] == pytest.approx(0.1) and result["ci95"][1] == pytest.approx(0.1)
    down = pooled_improvement([0.9, 0.8], [[0.8, 0.7]], n_prompts=2, lower_is_better=False)
    assert down["improvement"] == pytest.approx(-0.1) and not learned(down)


def test_each_seed_is_paired_with_its_own_baseline():
    """REPO against PPO: seed s of REPO against seed s of PPO, not against one start policy."""
    ppo = [[1, 1, 0, 0], [0, 0, 0, 0]]
    repo = [[0, 1, 0, 0], [0, 0, 0, 0]]
    result = pooled_difference(ppo, repo, n_prompts=2, lower_is_better=True)
    assert result["per_seed"] == [0.25, 0.0]  # the second seed's baseline is already clean
    assert result["seeds_better"] == 1 and result["seeds_worse"] == 0
    assert [s["improvement"] for s in result["per_seed_detail"]] == result["per_seed"]
    with pytest.raises(ValueError, match="one each"):
        pooled_difference(ppo, repo[:1], n_prompts=2, lower_is_better=True)


def test_the_repo_claim_needs_every_seed_and_no_rm_loss():
    rng = random.Random(2)
    n_prompts, samples = 40, 8

    def draw(rates):
        return [float(rng.random() < rates[i % n_prompts]) for i in range(n_prompts * samples)]

    base = [rng.uniform(0.2, 0.5) for _ in range(n_prompts)]
    start, ppo = draw(base), [draw(base) for _ in range(3)]
    repo = [draw([r * 0.3 for r in base]) for _ in range(3)]
    rm_same = pooled_difference(ppo, [draw([0.5] * n_prompts) for _ in range(3)], n_prompts=n_prompts,
                                lower_is_better=False)  # fmt: skip
    vs_ppo = pooled_difference(ppo, repo, n_prompts=n_prompts, lower_is_better=True)
    vs_start = pooled_difference([start] * 3, repo, n_prompts=n_prompts, lower_is_better=True)
    assert repo_claim(vs_ppo, vs_start, {"improvement": 0.0, "se": 0.01})["holds"]
    # an RM score clearly below PPO's breaks it
    assert not repo_claim(vs_ppo, vs_start, {"improvement": -0.1, "se": 0.01})["holds"]
    # a REPO no better than PPO on any seed does not pass, whatever the RM does
    same = pooled_difference(ppo, [draw(base) for _ in range(3)], n_prompts=n_prompts, lower_is_better=True)
    claim = repo_claim(same, vs_start, rm_same)
    assert not claim["holds"] and not claim["pooled_beyond_z_vs_ppo"]


def test_compare_marks_a_missing_judge_as_not_available():
    from engine.train.compare import compare

    def quality(violated, deducted):
        return {"n_prompts": 2, "violated": violated, "deducted": deducted, "r_models": [0.0] * 4,
                "r_totals": [1.0] * 4}  # fmt: skip

    out = compare([quality([1, 1, 0, 0], None)], [quality([0, 0, 0, 0], None)])
    assert out["judge_deduction_rate"] is None
    assert out["violation_rate"]["improvement"] == 0.5 and out["rm_score"]["improvement"] == 0.0
    with_judge = compare([quality([1, 0, 0, 0], [1, 1, 0, 0])], [quality([1, 0, 0, 0], [0, 1, 0, 0])])
    assert with_judge["judge_deduction_rate"]["improvement"] == 0.25


def test_the_runners_options_map_onto_config_fields():
    """The learning benchmarks take their run options from one place: ``--set`` values are JSON where
    they parse, text otherwise, split at the first ``=``."""
    import argparse

    from engine.train.compare import LEARNING_SEEDS, add_run_arguments, run_overrides

    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    defaults = parser.parse_args([])
    assert defaults.seeds == list(LEARNING_SEEDS) and (defaults.eval_samples, defaults.eval_seed) == (8, 1234)
    assert defaults.threads == 1 and run_overrides(defaults) == {}
    args = parser.parse_args(
        ["--seeds", "3", "--set", "max_steps=2", "learning_rate=1e-3", "target_kl=null", "dataset=a=b.jsonl"]
    )
    assert args.seeds == [3]
    assert run_overrides(args) == {"max_steps": 2, "learning_rate": 1e-3, "target_kl": None, "dataset": "a=b.jsonl"}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        run_overrides(parser.parse_args(["--set", "max_steps"]))


def test_training_prompts_can_carry_the_held_out_language_mix(tmp_path):
    """``split_prompts(match_languages=True)``: the held-out file is unchanged, the training file keeps
    every prompt it had and gains whole dialogues of other demo worlds in the language the held-out set
    has more of, until that language is at least as common in training; no held-out conversation is
    trained on."""
    import json

    from engine.train.compare import language_shares, split_prompts

    def read(path):
        return [json.loads(line) for line in path.read_text().splitlines()]

    train, heldout = (read(p) for p in split_prompts(tmp_path / "plain"))
    matched_train, matched_heldout = (read(p) for p in split_prompts(tmp_path / "matched", match_languages=True))
    assert matched_heldout == heldout
    want, before, after = language_shares(heldout), language_shares(train), language_shares(matched_train)
    assert before["zh"] < want["zh"] <= after["zh"] < want["zh"] + 0.05  # one dialogue of overshoot at most
    assert matched_train[: len(train)] == train
    held_cases = {json.dumps(r["task"], sort_keys=True) for r in heldout}
    assert not held_cases & {json.dumps(r["task"], sort_keys=True) for r in matched_train}
    assert {r["task"]["language"] for r in matched_train[len(train) :]} == {"zh"}


def test_seeds_run_apart_pool_exactly_as_one_run_pools_them():
    """``per_prompt`` keeps what a comparison reads (each prompt's mean), so ``pool_seed_lines`` over
    per-seed records equals ``compare`` over the full per-reply lists; records that repeat a seed or do
    not share a start policy are refused."""
    from engine.train.compare import compare, per_prompt, pool_seed_lines

    rng = random.Random(7)
    n_prompts, samples = 5, 4

    def quality(p_violation):
        violated = [1.0 if rng.random() < p_violation else 0.0 for _ in range(n_prompts * samples)]
        r_models = [rng.gauss(1.0 - v, 0.5) for v in violated]
        return {"n_prompts": n_prompts, "violated": violated, "deducted": None, "r_models": r_models,
                "r_totals": [r * 0.9 for r in r_models]}  # fmt: skip

    start = quality(0.4)
    runs = [{"seed": s, "ppo": quality(0.3), "repo": quality(0.2)} for s in range(3)]
    lines = [{"seed": r["seed"], "by_prompt": per_prompt({"start": start, "ppo": r["ppo"], "repo": r["repo"]})}
             for r in runs]  # fmt: skip
    assert "deducted" not in lines[0]["by_prompt"]  # no judge: no column
    out = pool_seed_lines(lines)
    whole = compare([r["ppo"] for r in runs], [r["repo"] for r in runs])
    assert out["seeds"] == [0, 1, 2] and out["pooled"]["repo_vs_ppo"]["judge_deduction_rate"] is None
    for metric in ("violation_rate", "rm_score", "r_total"):
        got, want = out["pooled"]["repo_vs_ppo"][metric], whole[metric]
        assert got["improvement"] == pytest.approx(want["improvement"], abs=1e-5)
        assert got["se"] == pytest.approx(want["se"], abs=1e-5)
        assert got["per_seed"] == pytest.approx(want["per_seed"], abs=1e-5)
    assert set(out["claim"]) >= {"holds", "every_seed_below_ppo", "pooled_beyond_z_vs_ppo"}
    with pytest.raises(ValueError, match="more than once"):
        pool_seed_lines([lines[0], lines[0]])
    other = {
        **lines[1],
        "by_prompt": per_prompt({"start": quality(0.5), "ppo": runs[1]["ppo"], "repo": runs[1]["repo"]}),
    }
    with pytest.raises(ValueError, match="one start policy"):
        pool_seed_lines([lines[0], other])
    with pytest.raises(ValueError, match="no per-seed"):
        pool_seed_lines([])


def test_a_finished_run_is_reused_only_when_asked(tmp_path):
    """``train_or_reuse``: with ``reuse`` a run directory holding its ``result.json`` is not trained
    again (its result, no seconds); without it, or with no result yet, the trainer runs."""
    import json

    from engine.train.compare import train_or_reuse

    calls = []

    def train(config, *, run_dir):
        calls.append(run_dir)
        return {"trained": config}

    done = tmp_path / "ppo-s0"
    done.mkdir()
    (done / "result.json").write_text(json.dumps({"steps": 10}))
    assert train_or_reuse("c", done, reuse=True, train=train) == ({"steps": 10}, None)
    assert calls == []
    result, seconds = train_or_reuse("c", done, reuse=False, train=train)
    assert result == {"trained": "c"} and seconds >= 0 and calls == [done]
    fresh = tmp_path / "repo-s0"
    assert train_or_reuse("d", fresh, reuse=True, train=train)[0] == {"trained": "d"} and calls[-1] == fresh
