"""A scripted stand-in for ``python -m engine train`` with the same command line and run-dir files.

The reliability tests need a run whose timing they control (kill it at step 3, cancel it mid-step,
make it crash); the real trainers on the tiny model are exercised by the end-to-end test. It writes
through the engine's own ``RunWriter`` so metrics.jsonl / progress.json / result.json are the real
format, checkpoints like the PPO loop (``checkpoints/step-N``) and honours ``--resume``.

Environment: FAKE_ENGINE_STEPS (6), FAKE_ENGINE_STEP_S (0.2), FAKE_ENGINE_FAIL_AT (a step: print an
error and exit 3 there). Every start appends a line to ``RUN/starts.log``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from engine.runio import METRICS_FILE, RunWriter


def latest_step(run_dir: Path) -> int:
    steps = [int(p.name.split("-")[1]) for p in (run_dir / "checkpoints").glob("step-*")]
    return max(steps, default=0)


def trim(run_dir: Path, step: int) -> None:
    path = run_dir / METRICS_FILE
    if path.exists():
        kept = [line for line in path.read_text().splitlines() if json.loads(line)["step"] <= step]
        path.write_text("".join(line + "\n" for line in kept))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command")
    parser.add_argument("method")
    parser.add_argument("--config", required=True)
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    run_dir = Path(args.run_dir)
    json.loads(Path(args.config).read_text())  # a bad config fails like the engine's would
    steps = int(os.environ.get("FAKE_ENGINE_STEPS", "6"))
    step_s = float(os.environ.get("FAKE_ENGINE_STEP_S", "0.2"))
    fail_at = int(os.environ.get("FAKE_ENGINE_FAIL_AT", "0"))
    start = latest_step(run_dir) if args.resume else 0
    trim(run_dir, start)
    with (run_dir / "starts.log").open("a") as log:
        log.write(f"pid={os.getpid()} resume={args.resume} from={start}\n")
    print(f"fake {args.method}: steps {start + 1}..{steps}", flush=True)
    with RunWriter(run_dir, total_steps=steps) as writer:
        writer.advance(start)
        for step in range(start + 1, steps + 1):
            time.sleep(step_s)
            if step == fail_at:
                print("RuntimeError: CUDA out of memory (scripted)", file=sys.stderr, flush=True)
                return 3
            writer.log(step, {"loss": 1.0 / step, "r_model": 0.1 * step, "kl": 0.01})
            with (run_dir / "samples.jsonl").open("a") as samples:
                samples.write(json.dumps({"step": step, "index": 0, "reply": f"reply {step}", "r_total": 0.1}) + "\n")
            (run_dir / "checkpoints" / f"step-{step:06d}").mkdir(parents=True, exist_ok=True)
            print(f"step {step}", flush=True)
        (run_dir / "adapter").mkdir(exist_ok=True)
        writer.finish({"steps": steps, "resumed_from": start, "adapter": "adapter", "metrics": {"loss": 1 / steps}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
