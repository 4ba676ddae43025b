"""A scripted stand-in for ``python -m engine train`` with the same command line and run-dir files.

The reliability tests need a run whose timing they control (kill it at step 3, cancel it mid-step,
make it crash); the real trainers on the tiny model are exercised by the end-to-end test. It writes
through the engine's own ``RunWriter`` so metrics.jsonl / progress.json / result.json are the real
format, checkpoints in the layout of the method's trainer family (TRL's ``checkpoints/checkpoint-N``,
our loop's ``checkpoints/step-NNNNNN``; ``engine.rundir`` names both and the trainer tests hold the
real trainers to them) and honours ``--resume``.

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

from engine.rundir import METHOD_LAYOUT, RunWriter, latest_checkpoint, trim_metrics


def save_checkpoint(run_dir: Path, method: str, step: int) -> None:
    layout = METHOD_LAYOUT[method]
    folder = layout.path(run_dir, step)
    folder.mkdir(parents=True, exist_ok=True)
    for name in layout.complete_when:
        (folder / name).write_text(json.dumps({"global_step": step}))


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
    checkpoint = latest_checkpoint(run_dir, layout=METHOD_LAYOUT[args.method]) if args.resume else None
    start = checkpoint.step if checkpoint else 0
    trim_metrics(run_dir, after_step=start)
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
            save_checkpoint(run_dir, args.method, step)
            print(f"step {step}", flush=True)
        (run_dir / "adapter").mkdir(exist_ok=True)
        writer.finish({"steps": steps, "resumed_from": start, "adapter": "adapter", "metrics": {"loss": 1 / steps}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
