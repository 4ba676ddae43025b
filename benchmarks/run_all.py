"""Run every benchmark in turn, at a quick size (what ``make bench`` runs) or at full size.

    python benchmarks/run_all.py [--full] [--only bench_rules ...]

Quick (the default): each script at a size that finishes in a few minutes on a 2-core machine with no GPU,
enough to show it works and to give a rough ratio. ``--full`` (``make bench FULL=1``): the scripts' own
defaults, the sizes the figures in docs/benchmarks.md were measured at (the whole set takes hours there).

Each script runs in its own process from the repository root with this checkout first on the import path
(a virtualenv shared by several checkouts has the project installed from only one of them). A failing
script does not stop the others; the exit status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Every bench_*.py has an entry (tests/test_packaging.py checks), so a new benchmark picks its quick size.
QUICK: dict[str, list[str]] = {
    "bench_adapter_push": [],
    "bench_demo_judge": [],
    "bench_multi_lora": [],
    "bench_sharding": [],
    "bench_adapter_swap": ["--swaps", "2", "--restarts", "1"],
    "bench_api_input": ["--conversations", "100", "--repeat", "3"],
    "bench_eval_bootstrap": ["--resamples", "500"],
    "bench_export": ["--rows", "5000"],
    "bench_gateway": ["--requests", "8", "--max-tokens", "16"],
    "bench_import": ["--dialogues", "500"],
    "bench_job_list": ["--jobs", "1000", "--repeat", "5"],
    "bench_job_overhead": ["--steps", "2"],
    "bench_judge": ["--calls", "8"],
    "bench_memory": [
        "--batch",
        "1",
        "--prompt",
        "8",
        "--reply",
        "8",
        "--chunk",
        "4",
        "--steps",
        "1",
        "--variants",
        "before,ckpt+chunk",
    ],
    "bench_next_task": ["--dialogues", "2000", "--annotators", "4", "--tasks", "5", "--think-ms", "50"],
    "bench_repo_learns": ["--seeds", "0", "--eval-samples", "2", "--set", "max_steps=2"],
    "bench_repo_vs_ppo": ["--steps", "2", "--batch", "4"],
    "bench_repo_vs_ppo_learning": ["--quick"],
    "bench_rewards_ui": ["--repeat", "5"],
    "bench_rm_scoring": ["--pairs", "4"],
    "bench_rollout": ["--prompts", "4", "--new-tokens", "16", "--batch", "4"],
    "bench_rules": ["--seconds", "0.5"],
    "bench_shared_base_memory": [],
    "bench_turn_page": ["--dialogues", "2000", "--requests", "20"],
}


def benchmarks() -> list[Path]:
    return sorted((ROOT / "benchmarks").glob("bench_*.py"))


def run(script: Path, *, full: bool) -> tuple[int, float]:
    args = [] if full else QUICK.get(script.stem, [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    print(f"== {script.relative_to(ROOT)} {' '.join(args)}", flush=True)
    start = time.monotonic()
    done = subprocess.run([sys.executable, str(script), *args], cwd=ROOT, env=env)
    return done.returncode, time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the scripts' own default sizes (hours in all)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run these benchmarks only (bench_rules ...)")
    args = parser.parse_args()
    chosen = [s for s in benchmarks() if not args.only or s.stem in args.only]
    results = {script.stem: run(script, full=args.full) for script in chosen}
    print("\n== summary (" + ("full" if args.full else "quick") + " sizes)")
    for name, (code, seconds) in results.items():
        print(f"{'ok  ' if code == 0 else 'FAIL'} {name:<28} {seconds:7.1f} s")
    return 0 if all(code == 0 for code, _ in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
