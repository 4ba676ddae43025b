"""Dialogue import: the demo world goes in whole; any bad line keeps everything out and is reported."""

import copy
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from annotation.models import BadCase, Candidate, Dialogue, Guideline, Message, PreferencePair, Project
from annotation.services.demo import demo_users_ensure, sop_from_document
from annotation.services.imports import dialogues_import
from engine.demo import default_sop, generate_world
from kernel.models import AuditEvent

WORLD = generate_world(seed=0, n_dialogues=12)


@pytest.fixture
def project(db):
    project = Project.objects.create(name="Import test")
    sop_from_document(project=project, document=default_sop())
    Guideline.objects.create(project=project, version=1, title="g", body_markdown="...")
    demo_users_ensure(password="x")  # the demo pairs name the annotators `language` and `bd`
    return project


def _line(dialogue: dict) -> str:
    return json.dumps(dialogue, ensure_ascii=False)


def _dialogue(i: int = 0) -> dict:
    return copy.deepcopy(WORLD["dialogues"][i])


def test_the_demo_world_imports_whole(project):
    dialogues = WORLD["dialogues"]
    result = dialogues_import(lines=[_line(d) for d in dialogues], project=project, user=None)
    assert result.ok, result.errors
    assert result.counts["dialogues"] == Dialogue.objects.count() == len(dialogues)
    assert Message.objects.count() == sum(len(d["messages"]) for d in dialogues)
    assert Candidate.objects.count() == sum(len(d["candidates"]) for d in dialogues)
    assert PreferencePair.objects.count() == sum(len(d["pairs"]) for d in dialogues)
    bad = BadCase.objects.select_related("clause").first()
    assert bad.clause.code and bad.status in ("open", "gold_written")
    pair = PreferencePair.objects.filter(provenance="bd_expert").select_related("annotator", "sop").first()
    assert pair.annotator.username == "bd" and pair.sop.version == 1 and pair.chosen.turn == pair.turn
    assert AuditEvent.objects.filter(action="import").count() == 1


def _mutate(path: str, value):
    def apply(d: dict) -> dict:
        target = d
        *parents, last = path.split(".")
        for key in parents:
            target = target[int(key) if key.isdigit() else key]
        target[int(last) if last.isdigit() else last] = value
        return d

    return apply


BAD_LINES = {
    "malformed JSON": (lambda d: '{"external_id": "x", "messages": [', "malformed JSON"),
    "not an object": (lambda d: "[1, 2]", "must be a JSON object"),
    "invalid UTF-8": (lambda d: b'{"external_id": "\xff\xfe"}', "invalid UTF-8"),
    "wrong type": (_mutate("messages", "hello"), "messages: a dialogue needs at least one message"),
    "unknown role": (_mutate("messages.0.role", "bot"), "messages[0].role: must be one of"),
    "negative price": (_mutate("case.tickets.0.current_price", -5), "current_price: must be a positive number"),
    "non-numeric price": (_mutate("case.tickets.0.net_price", "cheap"), "net_price: must be a positive number"),
    "target above current": (_mutate("case.tickets.0.target_price", 99999.0), "must be below current_price"),
    "empty dialogue": (_mutate("messages", []), "at least one message"),
    "long message": (_mutate("messages.0.content", "x" * 9000), "the limit is 8000"),
    "10 MB message": (_mutate("messages.0.content", "x" * (10 * 2**20)), "10.0 MB"),
    "unknown candidate key": (_mutate("pairs.0.chosen", "nope"), "'nope' is not a candidate key"),
    "turn out of range": (_mutate("pairs.0.turn", 99), "turn: must be an integer from 0 to"),
    "unknown clause": (_mutate("bad_cases.0.clause", "9.9"), "'9.9' is not a clause of the SOP"),
    "unknown stage": (_mutate("messages.0.stage", "haggle"), "'haggle' is not a stage"),
    "unknown annotator": (_mutate("pairs.0.annotator", "ghost"), "annotator 'ghost' is not a user"),
    "unknown category": (_mutate("bad_cases.0.category", "rude"), "category: 'rude' is not one of"),
    "missing external id": (_mutate("external_id", ""), "external_id: required string"),
}


@pytest.mark.parametrize("name", BAD_LINES)
def test_a_bad_line_is_reported_by_number_and_nothing_is_written(project, name):
    make, expected = BAD_LINES[name]
    bad = make(_dialogue(1))  # dialogue 1 carries a pair and a bad case
    lines = [_line(_dialogue(0)), bad if isinstance(bad, str | bytes) else _line(bad), _line(_dialogue(2))]
    result = dialogues_import(lines=lines, project=project, user=None)
    assert not result.ok
    assert {e.line for e in result.errors} == {2}, result.errors
    assert any(expected in e.message for e in result.errors), [e.message for e in result.errors]
    assert Dialogue.objects.count() == 0 and Message.objects.count() == 0
    assert not AuditEvent.objects.filter(action="import").exists()


def test_every_bad_line_is_reported(project):
    duplicate = _dialogue(0)
    lines = [_line(_dialogue(0)), "{", _line(_dialogue(2)), _line(duplicate), "null"]
    result = dialogues_import(lines=lines, project=project, user=None)
    assert [e.line for e in result.errors] == [2, 4, 5]
    assert "already appears on line 1" in result.errors[1].message


def test_an_external_id_already_in_the_database_is_refused(project):
    assert dialogues_import(lines=[_line(_dialogue(0))], project=project, user=None).ok
    result = dialogues_import(lines=[_line(_dialogue(1)), _line(_dialogue(0))], project=project, user=None)
    expected = "line 2: external_id: 'demo-0-000000' is already imported in this project"
    assert [str(e) for e in result.errors] == [expected]
    assert Dialogue.objects.count() == 1


def test_blank_lines_a_bom_and_crlf_are_accepted(project):
    lines = ["\ufeff" + _line(_dialogue(0)) + "\r\n", "\n", (_line(_dialogue(1)) + "\n").encode()]
    result = dialogues_import(lines=lines, project=project, user=None)
    assert result.ok and result.counts["dialogues"] == 2


def test_command_reports_each_bad_line_and_fails(project, tmp_path, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(_line(_dialogue(0)).encode() + b"\n{oops\n")
    with pytest.raises(CommandError, match="1 errors; nothing was imported"):
        call_command("import_dialogues", str(path), project=project.name)
    assert "line 2: malformed JSON" in capsys.readouterr().err
    good = tmp_path / "good.jsonl"
    good.write_text(_line(_dialogue(0)) + "\n", encoding="utf-8")
    call_command("import_dialogues", str(good), project=project.name)
    assert Dialogue.objects.count() == 1


def test_command_with_a_missing_file_fails_cleanly(project):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_dialogues", "/nonexistent/file.jsonl", project=project.name)


def _upload(client, project, content: bytes):
    upload = SimpleUploadedFile("dialogues.jsonl", content, content_type="application/jsonl")
    return client.post(reverse("annotation:data_import"), {"project": project.pk, "file": upload})


def test_upload_page_imports_a_good_file(project, client_for):
    client = client_for("ml_engineer")
    assert client.get(reverse("annotation:data_import")).status_code == 200
    response = _upload(client, project, ("\n".join(_line(d) for d in WORLD["dialogues"][:3]) + "\n").encode())
    assert response.status_code == 200 and b"Imported" in response.content
    assert Dialogue.objects.count() == 3


@pytest.mark.parametrize("content", [b'{"external_id": 1}\n\xff\xfe\n', b"not json\n"])
def test_upload_page_answers_bad_input_with_400_and_the_errors(project, client_for, content):
    response = _upload(client_for("admin"), project, content)
    assert response.status_code == 400
    assert b"nothing was imported" in response.content and b"line 1" in response.content
    assert Dialogue.objects.count() == 0


def test_upload_page_without_a_file_is_a_400(project, client_for):
    response = client_for("ml_engineer").post(reverse("annotation:data_import"), {"project": project.pk})
    assert response.status_code == 400


def test_upload_page_is_for_admins_and_ml_engineers_only(project, client_for, client):
    assert client.get(reverse("annotation:data_import")).status_code == 302  # to the login page
    assert client_for("reviewer").get(reverse("annotation:data_import")).status_code == 403
