"""The run directory (engine.rundir): the writers (metrics lines, atomic progress with ETA, result,
rank-0-only writing), the tolerant readers the web app uses, and both trainer families' checkpoint
layouts. The names are spelled out here on purpose: the test pins the contract, not the constants."""

import json
import subprocess
import sys

from engine.rundir import (
    LOOP_LAYOUT,
    TRL_LAYOUT,
    JsonlTail,
    RunWriter,
    has_checkpoint,
    latest_checkpoint,
    log_tail,
    read_metrics,
    result_adapter,
    trim_metrics,
)


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


def test_trim_drops_the_steps_a_resumed_run_logs_again(tmp_path):
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps({"step": s}) + "\n" for s in (1, 2, 3)) + '{"st')
    assert trim_metrics(tmp_path, after_step=2) == 2
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2]


def test_log_tail(tmp_path):
    (tmp_path / "engine.log").write_text("".join(f"line {i}\n" for i in range(100)))
    assert log_tail(tmp_path, lines=2) == "line 98\nline 99\n"
    assert log_tail(tmp_path / "missing") == ""


def test_checkpoints_of_both_trainer_families_are_found_once_complete(tmp_path):
    assert not has_checkpoint(tmp_path) and latest_checkpoint(tmp_path) is None
    trl = tmp_path / "checkpoints" / "checkpoint-4"
    trl.mkdir(parents=True)
    assert not has_checkpoint(tmp_path), "a TRL save without trainer_state.json is half-written"
    (trl / "trainer_state.json").write_text("{}")
    found = latest_checkpoint(tmp_path)
    assert (found.path, found.step, found.layout) == (trl, 4, TRL_LAYOUT)
    (tmp_path / "checkpoint-9").mkdir()  # the old guess (next to checkpoints/) is not a layout anyone writes
    assert latest_checkpoint(tmp_path).step == 4

    loop = tmp_path / "checkpoints" / "step-000012"
    loop.mkdir()
    (loop / "state.pt").write_bytes(b"")
    (tmp_path / "checkpoints" / ".step-000013.tmp").mkdir()  # a save in progress
    assert latest_checkpoint(tmp_path).step == 4
    (loop / "meta.json").write_text("{}")
    assert latest_checkpoint(tmp_path).layout is LOOP_LAYOUT and latest_checkpoint(tmp_path).step == 12
    assert latest_checkpoint(tmp_path, layout=TRL_LAYOUT).step == 4
    assert LOOP_LAYOUT.path(tmp_path, 12) == loop and TRL_LAYOUT.path(tmp_path, 4) == trl


def test_result_adapter_is_resolved_inside_the_run_dir(tmp_path):
    assert result_adapter({"adapter": "adapter"}, run_dir=tmp_path) == str(tmp_path / "adapter")
    assert result_adapter({"adapter": "/abs/a"}, run_dir=tmp_path) == "/abs/a"
    assert result_adapter({}, run_dir=tmp_path) == ""
    (tmp_path / "adapter").mkdir()
    assert result_adapter({}, run_dir=tmp_path) == str(tmp_path / "adapter")


def test_the_web_app_can_import_it_without_torch():
    heavy = "{'torch', 'transformers', 'django'}"
    code = f"import sys, engine.rundir; print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
