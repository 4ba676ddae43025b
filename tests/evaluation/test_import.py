"""``import_judgments``: the paper's counts come back as its percentages; bad lines import nothing."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from engine.vocab import SKILLS
from evaluation.models import EvalItem, EvalSet, EvalSystem, Judgment
from evaluation.services import judgment_import as ji
from kernel.models import AuditEvent

from .factories import ALL_SKILLS, jsonl, make_dialogue

pytestmark = pytest.mark.django_db
RATERS = ("task_expert", "ling_expert", "cs_expert")


def bad_case_lines(system: str = "REPO") -> list[dict]:
    """The paper's REPO row on the 45-item bad-case set: 34 clean, 6 minor, 2 major, 3 unresolved."""
    statuses = ["clean"] * 34 + ["minor_issues"] * 6 + ["major_issues"] * 2 + ["unresolved"] * 3
    rows = []
    for i, status in enumerate(statuses):
        base = {"eval_set": "bad-case-45", "kind": "bad_case", "dialogue": f"bc-{i:02d}", "system": system}
        for rater in RATERS:
            rows.append({**base, "rater": rater, "consensus": False, "fix_status": status})
        rows.append({**base, "rater": "lead", "consensus": True, "fix_status": status})
    return rows


def online_lines(system: str = "REPO") -> list[dict]:
    """REPO on the 30-dialogue online set: ratings summing to 139 (avg 4.633), 20 with an excellent turn."""
    ratings = [5] * 20 + [4] * 9 + [3]
    rows = []
    for i, rating in enumerate(ratings):
        base = {"eval_set": "online-30", "kind": "online", "dialogue": f"on-{i:02d}", "system": system}
        turns = [2] if i < 20 else []
        skills = {**ALL_SKILLS, "scope_understanding": i % 2 == 0}
        for rater in RATERS:
            rows.append({**base, "rater": rater, "rating": rating, "excellent_turns": turns, "skills": skills})
        rows.append(
            {**base, "rater": "lead", "consensus": True, "rating": rating, "excellent_turns": turns, "skills": skills}
        )
    return rows


def write(tmp_path, rows, name="judgments.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" if isinstance(r, dict) else r for r in rows))
    return path


def report(name: str) -> dict:
    from io import StringIO

    out = StringIO()
    call_command("eval_report", "--eval-set", name, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_bad_case_set_reproduces_the_papers_repo_percentages(tmp_path):
    call_command("import_judgments", str(write(tmp_path, bad_case_lines())))
    data = report("bad-case-45")
    assert data["eval_set"] == "bad-case-45" and data["kind"] == "bad_case"
    repo = data["systems"]["REPO"]
    assert repo["n"] == 45
    assert repo["fix_rate"] == pytest.approx(93.33333333333333)
    assert repo["clean_fix_rate"] == pytest.approx(75.55555555555556)
    assert repo["minor_issue_rate"] == pytest.approx(13.333333333333334)
    assert repo["major_issue_rate"] == pytest.approx(4.444444444444445)
    assert repo["unresolved_rate"] == pytest.approx(6.666666666666667)
    assert repo["severe_unresolved_rate"] == 0.0
    assert repo["avg_rating"] is None and repo["excellent_share"] is None
    assert data["pending"] == {"REPO": 0}
    assert Judgment.objects.filter(consensus=True).count() == 45
    assert Judgment.objects.filter(consensus=False).count() == 135


def test_online_set_reproduces_the_papers_repo_rating(tmp_path):
    call_command("import_judgments", str(write(tmp_path, online_lines())))
    repo = report("online-30")["systems"]["REPO"]
    assert repo["n"] == 30
    assert repo["avg_rating"] == pytest.approx(139 / 30)
    assert round(repo["avg_rating"], 2) == 4.63
    assert repo["excellent_share"] == pytest.approx(66.66666666666667)
    assert repo["fix_rate"] is None
    assert repo["skills"] == {**dict.fromkeys(SKILLS, 100.0), "scope_understanding": 50.0}


def test_json_shape_is_exactly_the_issues(tmp_path):
    call_command("import_judgments", str(write(tmp_path, online_lines())))
    data = report("online-30")
    assert set(data) == {"eval_set", "kind", "systems", "pending"}
    assert set(data["systems"]["REPO"]) == {
        "n",
        "avg_rating",
        "excellent_share",
        "fix_rate",
        "clean_fix_rate",
        "minor_issue_rate",
        "major_issue_rate",
        "unresolved_rate",
        "severe_unresolved_rate",
        "skills",
    }


def test_items_without_consensus_are_pending(tmp_path):
    rows = [r for r in online_lines() if not (r.get("consensus") and r["dialogue"] in ("on-00", "on-01"))]
    call_command("import_judgments", str(write(tmp_path, rows)))
    data = report("online-30")
    assert data["systems"]["REPO"]["n"] == 28
    assert data["pending"]["REPO"] == 2


def test_missing_sets_systems_and_dialogues_are_created_and_linked(tmp_path):
    dialogue = make_dialogue(external_id="on-00")
    call_command("import_judgments", str(write(tmp_path, online_lines()[:8])))
    assert EvalSet.objects.get(name="online-30").kind == "online"
    assert EvalSystem.objects.filter(name="REPO").exists()
    assert EvalItem.objects.get(external_id="on-00").dialogue == dialogue
    assert EvalItem.objects.get(external_id="on-01").dialogue is None
    assert AuditEvent.objects.filter(object_type="evaluation.judgment", action="import").count() == 1


BASE = {"eval_set": "s", "kind": "online", "dialogue": "d1", "system": "A", "rater": "r1", "rating": 4}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ({**BASE, "rating": 0}, ji.ERR_RATING.format(0)),
        ({**BASE, "rating": 6}, ji.ERR_RATING.format(6)),
        ({**BASE, "rating": "5"}, ji.ERR_RATING.format("5")),
        ({**BASE, "rating": None}, ji.ERR_RATING_REQUIRED),
        ({**BASE, "kind": "bad_case", "rating": None, "fix_status": "fixed"}, ji.ERR_FIX_STATUS.format("fixed")),
        ({**BASE, "kind": "bad_case", "rating": None}, ji.ERR_FIX_REQUIRED),
        ({**BASE, "kind": "offline"}, ji.ERR_KIND.format("offline")),
        ({**BASE, "skills": {"fluency": True}}, ji.ERR_SKILLS),
        ({**BASE, "excellent_turns": [-1]}, ji.ERR_TURNS),
        ({**BASE, "consensus": "yes"}, ji.ERR_CONSENSUS_TYPE),
        ({**BASE, "fix_status": "clean"}, ji.ERR_WRONG_FIELD.format("fix_status", "online")),
        ({**BASE, "colour": "red"}, ji.ERR_UNKNOWN.format("colour")),
        ({k: v for k, v in BASE.items() if k != "system"}, ji.ERR_MISSING.format("system")),
        ({**BASE, "rater": " "}, ji.ERR_TEXT.format("rater")),
    ],
)
def test_a_bad_line_is_reported_and_nothing_is_imported(tmp_path, line, reason):
    good = {**BASE, "dialogue": "d0"}
    with pytest.raises(ji.JudgmentImportError) as exc:
        ji.judgments_import(lines=jsonl([good, line]))
    assert (2, reason) in exc.value.errors
    assert not Judgment.objects.exists() and not EvalSet.objects.exists() and not EvalSystem.objects.exists()


def test_a_rater_judging_the_same_item_twice_is_refused(tmp_path):
    with pytest.raises(ji.JudgmentImportError) as exc:
        ji.judgments_import(lines=jsonl([BASE, {**BASE, "rating": 5}]))
    assert exc.value.errors == [(2, ji.ERR_TWICE.format("r1", "d1", "A", " in this file"))]
    ji.judgments_import(lines=jsonl([BASE]))
    with pytest.raises(ji.JudgmentImportError) as exc:
        ji.judgments_import(lines=jsonl([{**BASE, "rating": 2}]))
    assert exc.value.errors == [(1, ji.ERR_TWICE.format("r1", "d1", "A", ""))]
    assert Judgment.objects.get().rating == 4


def test_a_consensus_without_judgments_is_refused():
    with pytest.raises(ji.JudgmentImportError) as exc:
        ji.judgments_import(lines=jsonl([{**BASE, "rater": "lead", "consensus": True}]))
    assert exc.value.errors == [(1, ji.ERR_CONSENSUS_ALONE.format("d1", "A"))]
    assert not EvalSet.objects.exists()


def test_a_second_consensus_is_refused():
    lead = {**BASE, "rater": "lead", "consensus": True}
    ji.judgments_import(lines=jsonl([BASE, lead]))
    with pytest.raises(ji.JudgmentImportError) as exc:
        ji.judgments_import(lines=jsonl([{**lead, "rating": 1}]))
    assert exc.value.errors == [(1, ji.ERR_CONSENSUS_TWICE.format("d1", "A", ""))]


def test_kind_must_match_the_existing_set():
    ji.judgments_import(lines=jsonl([BASE]))
    line = {**BASE, "kind": "bad_case", "rater": "r2", "rating": None, "fix_status": "clean"}
    with pytest.raises(ji.JudgmentImportError) as exc:
        ji.judgments_import(lines=jsonl([line]))
    assert exc.value.errors == [(1, ji.ERR_KIND_MISMATCH.format("s", "online", "bad_case"))]


def test_a_frozen_set_takes_no_new_dialogues():
    from django.utils import timezone

    ji.judgments_import(lines=jsonl([BASE]))
    EvalSet.objects.update(frozen_at=timezone.now())
    ji.judgments_import(lines=jsonl([{**BASE, "rater": "r2"}]))
    with pytest.raises(ji.JudgmentImportError) as exc:
        ji.judgments_import(lines=jsonl([{**BASE, "dialogue": "new"}]))
    assert exc.value.errors == [(1, ji.ERR_FROZEN.format("s", "new"))]


def test_the_command_prints_line_numbers_and_fails(tmp_path, capsys):
    path = write(tmp_path, [BASE, "not json\n", {**BASE, "dialogue": "d2", "rating": 9}])
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_judgments", str(path))
    err = capsys.readouterr().err
    assert "line 2: not valid JSON" in err
    assert f"line 3: {ji.ERR_RATING.format(9)}" in err
    assert not Judgment.objects.exists()


def test_the_command_refuses_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_judgments", str(tmp_path / "nope.jsonl"))


def test_eval_report_refuses_an_unknown_set():
    with pytest.raises(CommandError, match="no eval set"):
        call_command("eval_report", "--eval-set", "nope", "--json")
