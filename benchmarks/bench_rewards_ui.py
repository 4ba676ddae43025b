"""What the reward pages add on top of the engine's rules, per action a person waits for.

    python benchmarks/bench_rewards_ui.py [--repeat 50]

1. Saving a rule set: full validation (compile + every rule's examples run through the whole set)
   against compiling alone (the baseline): the price of "examples run on save".
2. Scoring one reply in the playground, rules only (find the stored version's compiled set in the
   cache, check, highlight spans, the enhancement): against ``rules.check`` on a compiled set.
3. The field-level diff of two versions of the default rule set.
No database: these are the services' pure parts; the page adds a few primary-key queries.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "parley.settings.test")
os.environ.setdefault("OMP_NUM_THREADS", "1")


def timed(fn, repeat: int) -> float:
    """Median milliseconds of ``fn()`` over ``repeat`` runs (after one warm-up)."""
    fn()
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    import django

    django.setup()
    from engine.rewards.rules import EXAMPLE_TASKS, RuleSet, compile_rules
    from rewards.services.diff import document_diff
    from rewards.services.playground import playground_evaluate
    from rewards.services.seed import default_rule_set_document
    from rewards.services.validation import rule_set_errors

    document = default_rule_set_document()
    examples = sum(len(r["examples"]["trigger"]) + len(r["examples"]["clean"]) for r in document["rules"])
    assert rule_set_errors(document) == []

    save_ms = timed(lambda: rule_set_errors(document), args.repeat)
    compile_ms = timed(lambda: RuleSet.from_dict(document).validate(), args.repeat)
    print(
        f"save validation ({examples} examples): {save_ms:.2f} ms vs compile only {compile_ms:.2f} ms "
        f"({save_ms / compile_ms:.1f}x)"
    )

    task = EXAMPLE_TASKS["en"]
    history = [
        {"role": "agent", "content": "Could 690 work for the Deluxe King?"},
        {"role": "hotel", "content": "ok 680"},
    ]
    reply = "Thanks! Could you go a bit lower, say 650? Our target price is 650."
    compiled = compile_rules(document)
    page_ms = timed(
        lambda: playground_evaluate(reply=reply, task=task, history=history, rule_document=document), args.repeat
    )
    check_ms = timed(lambda: compiled.check(reply, task=task, history=history), args.repeat * 20)
    print(
        f"playground score (rules only): {page_ms:.2f} ms vs precompiled rules.check {check_ms:.3f} ms "
        f"({page_ms / check_ms:.0f}x, each stored version compiled once and cached)"
    )

    edited = copy.deepcopy(document)
    edited["rules"][6]["params"]["terms"].append("promise you")
    edited["rules"][5]["points"] = -12
    diff_ms = timed(lambda: document_diff(old=document, new=edited), args.repeat)
    print(f"field-level diff of two versions: {diff_ms:.2f} ms")


if __name__ == "__main__":
    main()
