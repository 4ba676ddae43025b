"""Run-directory files: metrics lines, atomic progress with ETA, result, rank-0-only writing."""

import json

from engine.runio import RunWriter, read_metrics


def test_metrics_progress_and_result(tmp_path):
    writer = RunWriter(tmp_path, total_steps=4)
    assert json.loads((tmp_path / "progress.json").read_text())["status"] == "running"
    writer.log(1, {"loss": 1.5, "nan": float("nan")})
    writer.log(2, {"loss": 1.0})
    progress = json.loads((tmp_path / "progress.json").read_text())
    assert progress["step"] == 2 and progress["total"] == 4 and progress["fraction"] == 0.5
    assert progress["eta_s"] is not None and progress["eta_s"] >= 0
    assert set(progress) == {"step", "total", "fraction", "elapsed_s", "eta_s", "status", "updated_at"}
    writer.finish({"steps": 2, "adapter": "x"})
    assert json.loads((tmp_path / "result.json").read_text()) == {"steps": 2, "adapter": "x"}
    assert json.loads((tmp_path / "progress.json").read_text())["status"] == "completed"
    rows = read_metrics(tmp_path)
    assert [r["step"] for r in rows] == [1, 2] and rows[0]["nan"] is None and "time" in rows[0]
    assert not list(tmp_path.glob(".progress.json.*")), "no temp files left behind"


def test_only_the_main_process_writes(tmp_path):
    writer = RunWriter(tmp_path / "run", total_steps=2, is_main=False)
    writer.log(1, {"loss": 1.0})
    writer.finish({"steps": 1})
    assert not (tmp_path / "run").exists()


def test_a_crash_marks_the_run_failed(tmp_path):
    try:
        with RunWriter(tmp_path, total_steps=3) as writer:
            writer.log(1, {"loss": 1.0})
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    progress = json.loads((tmp_path / "progress.json").read_text())
    assert progress["status"] == "failed" and "boom" in progress["error"]


def test_read_metrics_skips_a_half_written_line(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "loss": 2}\n{"step": 2, "lo')
    assert read_metrics(tmp_path) == [{"step": 1, "loss": 2}]
