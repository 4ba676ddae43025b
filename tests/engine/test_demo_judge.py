"""The demo judge: ground truth by construction, the build, and better-than-trivial verdicts held out.

The build (a LoRA adapter of the tiny base, ``engine.tinymodel.judge``) is cached once per machine by
``engine.bootstrap.ensure_demo_judge``; the slow tests share it. Figures: ``benchmarks/bench_demo_judge.py``.
"""

from __future__ import annotations

import json

import jsonschema
import pytest

from engine.demo.judge_data import CATEGORY_RULES, always_clean, examples, rule_figures
from engine.rewards.rubric import default_rubric

RUBRIC = default_rubric()
RUBRIC_IDS = {r.id for r in RUBRIC.rules}
HELDOUT_DIALOGUES = 8
# Balanced accuracy of "always clean" is 0.5 on every rule; a judge that learnt nothing scores about that.
# Builds selected on validation read 0.85 and 0.86 on 40 held-out dialogues on two kernel platforms (docs/engine.md,
# "The demo judge"); the bar sits well below, and a build whose every attempt stayed on its plateau fails it.
MARGIN = 0.15


def test_ground_truth_fits_the_schema_and_splits_by_dialogue():
    train = examples(seed=0, n_dialogues=30)
    heldout = examples(seed=0, n_dialogues=10, heldout=True)
    validation = examples(seed=0, n_dialogues=10, validation=True)
    splits = [{e.dialogue for e in split} for split in (train, validation, heldout)]
    assert all(a.isdisjoint(b) for i, a in enumerate(splits) for b in splits[i + 1 :])
    with pytest.raises(ValueError):
        examples(seed=0, n_dialogues=1, heldout=True, validation=True)
    for example in train + heldout:
        schema = RUBRIC.schema(example.stage, evidence_chars=0)
        assert list(example.rules) == schema["required"]
        jsonschema.validate(json.loads(example.verdict_text()), schema)
        assert example.hits <= set(example.rules)
        assert " " not in example.verdict_text()  # what xgrammar writes without whitespace
    shown = {e.category for e in train if e.category}
    assert shown == set(CATEGORY_RULES)  # every mapped category appears in 30 dialogues
    for example in train:
        if example.category is not None:
            assert example.hits == set(CATEGORY_RULES[example.category]) & set(example.rules)
            assert example.hits, example.category  # a bad reply is only written where its rule is asked


def test_always_clean_is_the_trivial_baseline():
    heldout = examples(seed=0, n_dialogues=10, heldout=True)
    figures = rule_figures(heldout, always_clean(heldout))
    assert figures["macro_balanced_accuracy"] == 0.5
    assert figures["micro_f1"] == 0.0
    truth = [{r: r in e.hits for r in e.rules} for e in heldout]
    perfect = rule_figures(heldout, truth)
    assert perfect["macro_balanced_accuracy"] == 1.0 and perfect["micro_f1"] == 1.0


@pytest.mark.slow
def test_demo_judge_beats_always_clean_on_heldout_dialogues(demo_judge):
    from engine.tinymodel.judge import META_FILE, load_judge, predict

    meta = json.loads((demo_judge / META_FILE).read_text())
    assert meta["final_loss"] < meta["first_loss"]
    assert meta["validation"]["macro_balanced_accuracy"] > 0.5 + MARGIN, meta["validation"]
    model, tok = load_judge(demo_judge)
    heldout = examples(seed=0, n_dialogues=HELDOUT_DIALOGUES, heldout=True)
    figures = rule_figures(heldout, predict(model, tok, heldout, rubric=RUBRIC))
    baseline = rule_figures(heldout, always_clean(heldout))
    assert figures["macro_balanced_accuracy"] >= baseline["macro_balanced_accuracy"] + MARGIN, figures
    assert figures["micro_f1"] >= 0.3, figures


@pytest.mark.slow
def test_the_build_keeps_the_best_on_validation_and_tries_again_below_the_bar(tiny_model, tmp_path, monkeypatch):
    """An adapter that stays on its plateau is not the build's answer: the build reads its decisions on a
    validation split every few steps, keeps the best, and starts a fresh adapter while the best is below
    ``GOOD_ENOUGH`` (a CPU whose floats kept the first attempt on the plateau failed the held-out bar)."""
    from engine.tinymodel import judge

    monkeypatch.setattr(judge, "EVAL_EVERY", 2)
    small = {"base": tiny_model, "seed": 0, "steps": 4, "dialogues": 2, "validation_dialogues": 2}
    monkeypatch.setattr(judge, "GOOD_ENOUGH", 1.01)  # never reached: every attempt runs
    stats = judge.train_judge(out=tmp_path / "all", attempts=3, **small)
    curve = stats["validation"]["curve"]
    assert [(attempt, step) for attempt, step, _, _ in curve] == [(a, s) for a in range(3) for s in (2, 4)]
    best = max(curve, key=lambda row: row[3])
    assert stats["validation"]["macro_balanced_accuracy"] == best[3]
    assert (stats["validation"]["attempt"], stats["validation"]["step"]) == (best[0], best[1])
    assert stats["validation"]["attempts"] == 3

    # what is saved is that best adapter: read again on the same split, it scores what the build recorded
    (tmp_path / "all" / judge.META_FILE).write_text(json.dumps({"base": str(tiny_model)}))
    model, tok = judge.load_judge(tmp_path / "all")
    validation = examples(seed=0, n_dialogues=2, validation=True, rubric=RUBRIC)
    prefixes = judge._PrefixCache(model, tok)
    with model.disable_adapter():
        held = [judge.features(model, tok, prefixes, judge.encode(tok, x, rubric=RUBRIC).prompt, x.verdict_text())
                for x in validation]  # fmt: skip
    true_id, false_id = judge._first_token(tok, "true"), judge._first_token(tok, "false")
    assert judge.validation_score(model, held, validation, true_id, false_id) == pytest.approx(best[3], abs=1e-4)

    monkeypatch.setattr(judge, "GOOD_ENOUGH", 0.0)  # the first attempt is good enough: no second
    stats = judge.train_judge(out=tmp_path / "one", attempts=3, **small)
    assert {row[0] for row in stats["validation"]["curve"]} == {0} and stats["validation"]["attempts"] == 1


@pytest.mark.slow
def test_training_on_cached_features_is_the_whole_adapted_model(tiny_model):
    """The build trains the last layer on cached inputs; that must be the function the server runs."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engine.tinymodel import judge

    tok = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32).eval()
    example = examples(seed=0, n_dialogues=1)[2]
    encoded = judge.encode(tok, example, rubric=RUBRIC)
    feat = judge.features(model, tok, judge._PrefixCache(model, tok), encoded.prompt, example.verdict_text())
    config = LoraConfig(task_type="CAUSAL_LM", target_modules=judge.ADAPTED, layers_to_transform=[3], r=8)
    adapted = get_peft_model(model, LoraConfig(**{**config.to_dict(), "init_lora_weights": False})).eval()
    with torch.no_grad():
        ours = judge.last_layer_logits(adapted, feat)
        ids = torch.tensor([encoded.prompt + feat.labels.tolist()])
        whole = adapted(input_ids=ids).logits[0, len(encoded.prompt) - 1 : -1]
    assert ours.shape == whole.shape
    assert (ours - whole).abs().max().item() < 0.05 * whole.abs().max().item()  # inputs cached in bf16


@pytest.mark.slow
def test_every_spelling_of_a_verdict_reads_the_same_and_finds_each_decision(tiny_model):
    """The build trains each verdict in a second, random spelling (what a server under a grammar may
    write); each spelling must be the same text, and the decision positions must be each rule's t/f."""
    import random

    from transformers import AutoTokenizer

    from engine.tinymodel import judge

    tok = AutoTokenizer.from_pretrained(tiny_model)
    rng = random.Random(0)
    true_id, false_id = judge._first_token(tok, "true"), judge._first_token(tok, "false")
    for example in examples(seed=0, n_dialogues=2):
        canonical = tok(example.verdict_text(), add_special_tokens=False)["input_ids"]
        for ids in (canonical, *(judge.split_tokens(tok, canonical, rng, rate=rate) for rate in (0.5, 1.0))):
            assert tok.decode(ids) == example.verdict_text()
            positions = judge._decision_positions(tok, ids)
            assert len(positions) == len(example.rules)
            choices = [ids[i] for i in positions]
            assert all(c in (true_id, false_id) for c in choices), [tok.decode([c]) for c in choices]
            assert [c == true_id for c in choices] == [r in example.hits for r in example.rules]
        assert len(judge.split_tokens(tok, canonical, rng, rate=1.0)) > len(canonical)  # it did re-spell


@pytest.mark.slow
def test_the_in_process_judge_reads_what_decide_reads_behind_the_rewards_interface(demo_judge):
    """``JudgeConfig.in_process``: the reward gets the demo judge without a server, and its verdicts are
    the greedy verdicts ``decide`` reads; a reply too long for the context is a failed verdict, not a crash."""
    from engine.config import JudgeConfig, RewardSourcesConfig
    from engine.rewards import RepoReward
    from engine.rewards.judge import FAIL_TOO_LONG, JudgeItem, judge_from_config
    from engine.tinymodel.judge import InProcessJudge, load_judge, predict

    config = JudgeConfig(model=str(demo_judge), in_process=True, evidence_chars=0)
    assert config.errors() == []
    assert JudgeConfig(in_process=True).errors()  # the directory is still needed
    judge = judge_from_config(config)
    assert isinstance(judge, InProcessJudge)
    assert isinstance(RepoReward.from_config(RewardSourcesConfig(judge=config)).judge, InProcessJudge)
    picked = examples(seed=0, n_dialogues=2, heldout=True)[:8]
    verdicts = judge.judge_batch([JudgeItem(**e.item()) for e in picked] + [{**picked[0].item(), "reply": "x " * 4000}])
    model, tok = load_judge(demo_judge)
    expected = predict(model, tok, picked, rubric=RUBRIC)
    assert [sorted(v.hits) for v in verdicts[:-1]] == [sorted(r for r, hit in d.items() if hit) for d in expected]
    assert all(v.ok and v.e_judge == RUBRIC.e_judge(v.hits) for v in verdicts[:-1])
    assert not verdicts[-1].ok and verdicts[-1].kind == FAIL_TOO_LONG
    assert judge.stats.verdicts == len(picked) + 1 and judge.stats.too_long == 1


@pytest.mark.slow
def test_a_repo_step_with_the_in_process_judge_from_a_config_file(demo_judge, tiny_model, tmp_path):
    """The in-process judge through a job's config file (what ``python -m engine train`` reads): every
    reply judged, none failed, E_judge in the reward and the judge's columns in the metrics."""
    from engine.config import JudgeConfig, RewardSourcesConfig
    from engine.train.ppo import train
    from engine.train.ppo_config import REPOConfig
    from tests.engine.ppo_support import assert_finite_metrics, tiny_config

    judge = JudgeConfig(model=str(demo_judge), in_process=True, evidence_chars=0)
    config = tiny_config(
        tiny_model, tmp_path / "data", per_device_batch_size=4, max_steps=1, probe_every=0,
        max_prompt_length=256, max_response_length=16, rewards=RewardSourcesConfig(judge=judge),
    )  # fmt: skip
    path = tmp_path / "repo.json"
    path.write_text(json.dumps(config.to_dict()))
    loaded = REPOConfig.load(path)
    assert loaded.rewards.judge.in_process and loaded.rewards.judge.model == str(demo_judge)
    assert train(loaded, run_dir=tmp_path / "run")["steps"] == 1
    step = [r for r in assert_finite_metrics(tmp_path / "run") if r["step"] > 0][-1]
    assert step["judge/failures"] == 0 and step["judge/too_long"] == 0, step
    assert "reward/e_judge" in step and {f"judge/{rule}" for rule in RUBRIC_IDS} & set(step), step
