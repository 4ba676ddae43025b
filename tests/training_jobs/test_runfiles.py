"""Reading a run directory while the engine writes it, and the engine command line."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from training_jobs.services.runfiles import JsonlTail, has_checkpoint, log_tail
from training_jobs.services.runner import engine_command


def test_tail_waits_for_complete_lines_and_restarts_after_a_trim(tmp_path):
    path = tmp_path / "metrics.jsonl"
    tail = JsonlTail(path)
    assert tail.read_new() == []  # not written yet
    path.write_text(json.dumps({"step": 1}) + "\n" + '{"step": 2, "lo')
    assert tail.read_new() == [{"step": 1}]
    with path.open("a") as handle:
        handle.write('ss": 0.5}\n')
    assert tail.read_new() == [{"step": 2, "loss": 0.5}]
    assert tail.read_new() == []
    path.write_text(json.dumps({"step": 1, "resumed": True}) + "\n")  # a resumed run trimmed the file
    assert tail.read_new() == [{"step": 1, "resumed": True}]


def test_log_tail_and_checkpoint_detection(tmp_path):
    (tmp_path / "engine.log").write_text("".join(f"line {i}\n" for i in range(100)))
    assert log_tail(tmp_path, lines=2) == "line 98\nline 99\n"
    assert log_tail(tmp_path / "missing") == ""
    assert not has_checkpoint(tmp_path)
    (tmp_path / "checkpoints" / "step-000003").mkdir(parents=True)
    assert has_checkpoint(tmp_path)


def test_engine_command_uses_torchrun_for_several_processes(tmp_path, settings):
    settings.PARLEY_PYTHON = "/opt/py"
    one = engine_command(job=SimpleNamespace(method="repo", processes=1), run_dir=tmp_path, resume=True)
    assert one == [
        "/opt/py",
        "-m",
        "engine",
        "train",
        "repo",
        "--config",
        str(tmp_path / "config.json"),
        "--run-dir",
        str(tmp_path),
        "--resume",
    ]
    two = engine_command(job=SimpleNamespace(method="rm", processes=2), run_dir=tmp_path, resume=False)
    assert two[:5] == ["/opt/py", "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    assert two[5:9] == ["-m", "engine", "train", "rm"]


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
