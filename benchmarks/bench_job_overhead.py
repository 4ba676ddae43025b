"""Platform overhead around a training job: dashboard service + Celery worker vs the engine by hand.

    python benchmarks/bench_job_overhead.py [--method repo] [--steps 20] [--pairs 1] [--keep]

Target: wall time of a job launched through ``job_create`` (queue, worker pickup, config.json,
subprocess, tailing metrics/progress into PostgreSQL every second, ingesting the result as a model
version) over the same ``python -m engine train`` command run by hand on the same config, at most 1.05
for a run of a few minutes. The worker is started (and ready) before the clock starts: workers are
long-lived. ``--pairs`` pairs, the order alternating (platform first, then by hand first); the ratio
is of the medians.
Throwaway database ``BENCH_DATABASE_URL`` (default ``parley_bench_jobs_overhead``), Redis db 14.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/parley_bench_jobs_overhead")
os.environ["CELERY_BROKER_URL"] = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("ARTIFACTS_ROOT", tempfile.mkdtemp(prefix="parley-bench-artifacts-"))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from _data_db import ROOT, drop_database, setup_django  # noqa: E402

from engine import rundir  # noqa: E402

KIND = {"rm": "preference", "dpo": "preference", "sft": "sft", "ppo": "prompts", "grpo": "prompts", "repo": "prompts"}


def start_worker(url: str, log: Path) -> subprocess.Popen:
    import redis

    from tests.fixtures.workers import worker_command  # importable once setup_django has put ROOT first

    redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).flushdb()
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "parley.settings.test", "PYTHONPATH": str(ROOT)}
    cmd = worker_command("gpu", concurrency=1)
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )
    while "ready." not in log.read_text(errors="replace"):
        if proc.poll() is not None:
            raise SystemExit(f"worker died:\n{log.read_text()[-2000:]}")
        time.sleep(0.5)
    return proc


def inputs(method: str, steps: int):
    from annotation.services.demo import demo_world_seed
    from engine.bootstrap import ensure_tiny_model
    from registry.models import ModelVersion
    from rewards.models import RewardConfig
    from training_jobs.services.snapshots import snapshot_create

    demo_world_seed(scale=24, seed=0, password="bench-demo-password")
    base, _ = ModelVersion.objects.get_or_create(
        name="bench-tiny", defaults={"base_model": str(ensure_tiny_model(seed=0)), "method": "base"}
    )
    snap = snapshot_create(name=f"bench {KIND[method]}", kind=KIND[method])
    reward = RewardConfig.objects.get_or_create(name="bench rules")[0] if KIND[method] == "prompts" else None
    return base, snap, reward, {"max_steps": str(steps), "save_every": str(steps)}


def via_platform(method: str, base, snap, reward, hyper) -> tuple[float, dict]:
    from training_jobs.services.jobs import job_create

    start = time.perf_counter()
    job = job_create(
        name="bench", method=method, base_model=base, snapshots=[snap], reward_config=reward, hyperparameters=hyper
    )
    while True:
        job.refresh_from_db()
        if job.is_terminal:
            break
        time.sleep(0.1)
    wall = time.perf_counter() - start
    if job.status != "succeeded":
        raise SystemExit(f"platform job {job.status}:\n{job.error}")
    # The platform's own time, robust to the machine's load: before the engine starts (queue, pickup,
    # claim, config.json) and after it wrote result.json (last tail, ingest, status).
    engine_done = (Path(job.run_dir) / rundir.RESULT_FILE).stat().st_mtime
    before = (job.started_at - job.created_at).total_seconds()  # the engine starts right after the claim
    after = job.finished_at.timestamp() - engine_done
    print(f"  platform's own time: {before:.2f} s before the engine, {after:.2f} s after it", flush=True)
    return wall, job.config


def by_hand(method: str, config: dict) -> float:
    import json

    run_dir = Path(tempfile.mkdtemp(prefix="parley-bench-hand-"))
    (run_dir / rundir.CONFIG_FILE).write_text(json.dumps(config))
    cmd = [
        sys.executable,
        "-m",
        "engine",
        "train",
        method,
        "--config",
        str(run_dir / rundir.CONFIG_FILE),
        "--run-dir",
        str(run_dir),
    ]
    start = time.perf_counter()
    with (run_dir / rundir.LOG_FILE).open("wb") as log:
        subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, check=True)
    wall = time.perf_counter() - start
    shutil.rmtree(run_dir, ignore_errors=True)
    return wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--method", default="repo", choices=sorted(KIND))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--pairs", type=int, default=1)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up below on `timeout`/kill
    url = setup_django(fresh=not args.keep)
    base, snap, reward, hyper = inputs(args.method, args.steps)
    worker = start_worker(url, Path(tempfile.mkdtemp()) / "worker.log")
    platform, hand = [], []
    try:
        config = None
        for pair in range(args.pairs):
            # alternate the order so that a change in the machine's load does not favour one side
            if pair % 2 and config is not None:
                hand.append(by_hand(args.method, config))
                platform.append(via_platform(args.method, base, snap, reward, hyper)[0])
            else:
                wall, config = via_platform(args.method, base, snap, reward, hyper)
                platform.append(wall)
                hand.append(by_hand(args.method, config))
            print(f"pair {pair + 1}: platform {platform[-1]:.1f} s, by hand {hand[-1]:.1f} s", flush=True)
    finally:
        # SIGKILL: a warm shutdown would wait for a running job; the engine dies with its worker
        # (PR_SET_PDEATHSIG in training_jobs.services.runner).
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    ratio = statistics.median(platform) / statistics.median(hand)
    print(
        f"{args.method}, {args.steps} steps: platform median {statistics.median(platform):.1f} s, "
        f"by hand median {statistics.median(hand):.1f} s"
    )
    print(f"ratio platform/by-hand: {ratio:.3f} (target <= 1.05: {'PASS' if ratio <= 1.05 else 'FAIL'})")
    if not args.keep:
        drop_database(url)
        shutil.rmtree(os.environ["ARTIFACTS_ROOT"], ignore_errors=True)


if __name__ == "__main__":
    main()
