"""Hostile dialogue imports on PostgreSQL: every input a careless or malicious file can hold is refused with
its line number and nothing is written (docs/import-schema.md, "Limits and refusals"); a Hypothesis fuzz
test throws arbitrary JSON at every field and checks that no exception escapes."""

import copy
import json
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotation.models import Dialogue, Guideline, Message, NegotiationCase, PreferencePair, Project
from annotation.services.demo import demo_users_ensure, sop_from_document
from annotation.services.imports import dialogues_import
from engine.demo import default_sop, generate_world
from kernel.models import AuditEvent

WORLD = generate_world(seed=0, n_dialogues=3)
HOLE = "__HOSTILE__"


@pytest.fixture
def project(db):
    assert connection.vendor == "postgresql"  # the refusals that matter are PostgreSQL's (NUL, column widths)
    project = Project.objects.create(name="Hostile import")
    sop_from_document(project=project, document=default_sop())
    Guideline.objects.create(project=project, version=1, title="g", body_markdown="...")
    demo_users_ensure(password="x")
    return project


def _dialogue(i: int) -> dict:
    return copy.deepcopy(WORLD["dialogues"][i])


def _line(d: dict) -> str:
    return json.dumps(d, ensure_ascii=False)


def _with(path: str, raw: str) -> str:
    """Dialogue 1 (it has a pair) as a JSON line with the value at ``path`` replaced by the raw JSON ``raw``."""
    d = _dialogue(1)
    target = d
    *parents, last = path.split(".")
    for key in parents:
        target = target[int(key) if key.isdigit() else key]
    target[int(last) if last.isdigit() else last] = HOLE
    return _line(d).replace(json.dumps(HOLE), raw)


HOSTILE = {
    "deep nesting (100k)": (_with("outcome", "[" * 100_000 + "]" * 100_000), "nested more than 20 deep"),
    "deep nesting (25)": (_with("case.tickets.0.competitors.0.extra", "[" * 25 + "]" * 25), "nested more than 20"),
    "5000-digit integer price": (_with("case.tickets.0.current_price", "9" * 5000), "numbers may have at most 40"),
    "5000-digit decimal price": (_with("case.tickets.0.current_price", "1." + "1" * 5000), "numbers may have at most"),
    "NaN price": (_with("case.tickets.0.current_price", "NaN"), "NaN is not a number"),
    "price overflowing the column": (
        _with("case.tickets.0.current_price", "9999999999.999"),
        "must be below 10000000000 once rounded to cents",
    ),
    "competitor price overflowing": (_with("case.tickets.0.competitors.0.price", "1e300"), "must be below"),
    "agreement overflowing": (_with("pairs.0.agreement", "1" + "0" * 400), "numbers may have at most 40"),
    "agreement out of range": (_with("pairs.0.agreement", "1e300"), "agreement: must be a number from 0 to 1"),
    "outcome integer overflowing": (_with("outcome.tickets_closed", "9" * 30), "out of range"),
    "lone surrogate in a message": (_with("messages.0.content", '"hi \\ud800"'), "lone surrogate (U+D800)"),
    "lone surrogate in a key": (_with("outcome", '{"\\udfff": 1}'), "lone surrogate"),
    "NUL in a message (text)": (_with("messages.0.content", '"hi \\u0000 there"'), "NUL character"),
    "NUL in a benefit (jsonb)": (_with("case.benefits.0", '"free \\u0000 breakfast"'), "NUL character"),
    "NUL in a competitor (jsonb)": (_with("case.tickets.0.competitors.0.name", '"A\\u0000"'), "NUL character"),
    "bare CR inside the line": (_with("source", '\r"production"'), "carriage return (\\r) inside the line"),
    "escaped bare CR in a message": (_with("messages.0.content", '"a\\rb"'), "carriage return (\\r) that does not"),
    "bidi override in a message": (_with("messages.0.content", '"price \\u202e0001"'), "bidirectional control"),
    "bidi isolate in a hotel name": (_with("case.hotel.name", '"Lotus \\u2067x"'), "bidirectional control"),
    "zero-width space in a benefit": (_with("case.benefits.0", '"home\\u200bpage"'), "zero-width character"),
    "control character in a note": (_with("pairs.0.note", '"bell \\u0007"'), "control character U+0007"),
    "1 MB benefit": (_with("case.benefits.0", json.dumps("x" * 2**20)), "the limit is 300"),
    "21 benefits": (_with("case.benefits", json.dumps(["b"] * 21)), "benefits: at most 20"),
    "long pair note": (_with("pairs.0.note", json.dumps("n" * 5000)), "note: 5000 characters, the limit is 2000"),
    "a list where a clause belongs (found by the fuzz test)": (_with("bad_cases.0.clause", "[]"), "is not a clause"),
    "a list where a provenance belongs (found by the fuzz test)": (_with("pairs.0.provenance", "[1]"), "provenance"),
    "long competitor name": (_with("case.tickets.0.competitors.0.name", json.dumps("c" * 201)), "the limit is 200"),
}


def _nothing_written() -> bool:
    return not (
        Dialogue.objects.exists()
        or Message.objects.exists()
        or NegotiationCase.objects.exists()
        or PreferencePair.objects.exists()
        or AuditEvent.objects.filter(action="import").exists()
    )


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_line_is_refused_with_its_number_and_nothing_is_written(project, name):
    bad, expected = HOSTILE[name]
    lines = [_line(_dialogue(0)).encode(), bad.encode("utf-8", "surrogatepass"), _line(_dialogue(2)).encode()]
    result = dialogues_import(lines=lines, project=project, user=None)
    assert not result.ok
    assert {e.line for e in result.errors} == {2}, result.errors
    assert any(expected in e.message for e in result.errors), [e.message for e in result.errors]
    assert _nothing_written()


def test_a_stage_longer_than_its_column_is_refused_without_an_sop(db):
    project = Project.objects.create(name="No SOP")
    bad = _dialogue(0)
    bad["messages"][0]["stage"] = "s" * 60
    bad["pairs"], bad["bad_cases"] = [], []
    result = dialogues_import(lines=[_line(bad)], project=project, user=None)
    assert [str(e) for e in result.errors] == ["line 1: messages[0].stage: 60 characters, the limit is 50"]
    assert _nothing_written()


def test_the_legal_cousins_of_hostile_input_are_accepted(project):
    """CRLF line ends, tabs and newlines in text, CJK, emoji and a price at the top of the column go in."""
    d = _dialogue(0)
    d["messages"][0]["content"] = "你好\tHi 👋\r\nsecond line\nthird"
    d["case"]["tickets"][0]["current_price"] = 9999999999.99
    result = dialogues_import(lines=[(_line(d) + "\r\n").encode()], project=project, user=None)
    assert result.ok, result.errors
    assert Message.objects.filter(content__startswith="你好\tHi 👋").exists()


@pytest.mark.parametrize("name", ["deep nesting (100k)", "NUL in a message (text)", "lone surrogate in a message"])
def test_command_refuses_hostile_lines_by_number(project, tmp_path, capsys, name):
    path = tmp_path / "hostile.jsonl"
    bad, expected = HOSTILE[name]
    path.write_bytes(_line(_dialogue(0)).encode() + b"\n" + bad.encode() + b"\n")
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_dialogues", str(path), project=project.name)
    err = capsys.readouterr().err
    assert "line 2:" in err and expected in err
    assert _nothing_written()


@pytest.mark.parametrize("name", ["bare CR inside the line", "NUL in a benefit (jsonb)", "5000-digit integer price"])
def test_upload_page_refuses_hostile_lines_with_a_400_and_the_line_number(project, client_for, name):
    bad, expected = HOSTILE[name]
    content = "\n".join([_line(_dialogue(0)), bad, _line(_dialogue(2))]).encode() + b"\n"
    upload = SimpleUploadedFile("d.jsonl", content, content_type="application/jsonl")
    response = client_for("ml_engineer").post(
        reverse("annotation:data_import"), {"project": project.pk, "file": upload}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "line 2" in body and "line 3" not in body and "line 4" not in body
    assert _nothing_written()


# --- fuzz: arbitrary JSON anywhere in a good dialogue -------------------------------------------------------

_text = st.text(alphabet=st.characters(codec=None, categories=None), max_size=40)  # surrogates and NUL included
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**60), max_value=10**60)
    | st.floats(allow_nan=True, allow_infinity=True)
    | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=12,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _paths(child, (*prefix, i))


PATHS = [p for p in _paths(_dialogue(1)) if p]


def _raw_json(value) -> str:
    """JSON text for any value: NaN/Infinity as Python writes them, surrogates kept as escapes."""
    return json.dumps(value, ensure_ascii=True)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(PATHS), value=_json, raw_tail=st.binary(max_size=8), mode=st.integers(0, 3))
def test_fuzz_import_never_raises_and_writes_nothing_on_refusal(project, path, value, raw_tail, mode):
    d = _dialogue(1)
    d["external_id"] = f"fuzz-{uuid.uuid4().hex}"
    target = d
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    line = _raw_json(d).encode()
    if mode == 1:
        line += raw_tail  # arbitrary bytes after the object
    elif mode == 2:
        line = line[: len(line) // 2] + raw_tail + line[len(line) // 2 :]
    before = (Dialogue.objects.count(), Message.objects.count(), AuditEvent.objects.count())
    result = dialogues_import(lines=[line], project=project, user=None)  # must not raise
    after = (Dialogue.objects.count(), Message.objects.count(), AuditEvent.objects.count())
    if result.ok:
        assert after[0] == before[0] + 1
    else:
        assert after == before, result.errors
        assert all(e.line == 1 and e.message for e in result.errors)
