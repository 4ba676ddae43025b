"""The supervisor's pieces: the engine arguments, chart series, the run directory's name."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from training_jobs.services.runner import engine_command


def test_engine_command_resumes_only_when_asked(tmp_path):
    job = SimpleNamespace(method="repo", processes=1)
    args = ["train", "repo", "--config", str(tmp_path / "config.json"), "--run-dir", str(tmp_path)]
    assert engine_command(job=job, run_dir=tmp_path, resume=False) == args
    assert engine_command(job=job, run_dir=tmp_path, resume=True) == [*args, "--resume"]


def test_nested_metrics_are_flattened_for_the_charts():
    from training_jobs.selectors import flat_metrics

    line = {"step": 3, "time": 1.0, "loss": 0.5, "rule_hits": {"leak": 0.25, "format": 0}, "note": "x", "ok": True}
    assert flat_metrics(line) == {"loss": 0.5, "rule_hits/leak": 0.25, "rule_hits/format": 0.0}


def test_run_dir_never_reuses_an_old_run_of_the_same_job_id(settings, tmp_path):
    from datetime import UTC, datetime

    from training_jobs.services.runner import run_dir_for

    settings.ARTIFACTS_ROOT = tmp_path
    old = SimpleNamespace(pk=1, run_dir="", created_at=datetime(2026, 1, 1, tzinfo=UTC))
    new = SimpleNamespace(pk=1, run_dir="", created_at=datetime(2026, 11, 25, tzinfo=UTC))
    assert run_dir_for(old) != run_dir_for(new) and run_dir_for(new).parent == tmp_path / "runs"
    assert run_dir_for(SimpleNamespace(pk=1, run_dir="/shared/x", created_at=None)) == Path("/shared/x")
