"""API writes on PostgreSQL: hostile text anywhere in a body (NUL, lone surrogates, controls, bidi and
zero-width characters) is a 400 naming the field, an oversized body a 413, an over-long note a 400 naming
the field; a Hypothesis test posts arbitrary JSON to every write endpoint and asserts no 5xx and nothing
written on refusal (docs/operations.md, "API input" and "Length limits")."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from annotation.models import Dialogue, Message
from deploy.models import ProductionConversation
from kernel.fields import NOTE_CHARS
from kernel.models import AuditEvent
from registry.models import ModelVersion
from registry.services import version_register
from rewards.models import RuleSetVersion
from rewards.services.seed import reward_defaults_seed
from tests.deploy.conftest import conversation
from tests.fixtures.services import token_client
from training_jobs.models import DatasetSnapshot, TrainingJob
from training_jobs.services import jobs

pytestmark = pytest.mark.django_db

INTAKE = "/api/deploy/conversations/"
RULE_SETS = "/api/jobs/rewards/rule-sets/default/versions/"
SCORE = "/api/jobs/rewards/score/"
SNAPSHOTS = "/api/jobs/snapshots/"
JOBS = "/api/jobs/jobs/"


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr(jobs, "row_enqueue", lambda row: None)


@pytest.fixture
def api(role_users) -> APIClient:
    assert connection.vendor == "postgresql"
    reward_defaults_seed()
    version_register(name="repo-v1", kind="policy", base_model="/m/base", method="repo")
    return token_client(role_users["ml_engineer"])


def counts() -> tuple[int, ...]:
    models = (Dialogue, Message, ProductionConversation, RuleSetVersion, DatasetSnapshot, TrainingJob, ModelVersion)
    return (*(m.objects.count() for m in models), AuditEvent.objects.count())


def raw_post(api: APIClient, url: str, body: str | bytes, content_type: str = "application/json"):
    return api.generic("POST", url, body, content_type=content_type)


HOSTILE = {  # raw JSON string escapes, and what the refusal says
    "NUL": ("\\u0000", "NUL character"),
    "lone surrogate": ("\\ud800", "lone surrogate (U+D800)"),
    "control": ("\\u0007", "control character U+0007"),
    "bidi override": ("\\u202e", "bidirectional control"),
    "zero-width space": ("\\u200b", "zero-width character"),
    "bare CR": ("\\r", "carriage return"),
}
HOLE = "__HOLE__"


def _bodies(snippet: str) -> dict[str, tuple[str, str, str]]:
    """Each endpoint's body with ``snippet`` inside one text field, and that field's name in the refusal."""
    ok = conversation("c-1", "repo-v1")
    ok["messages"][1]["content"] = f"We can do 720{HOLE}."
    bodies = {
        "intake": (INTAKE, [ok], "[0].messages[1].content"),
        "rule set": (RULE_SETS, {"document": {"rules": []}, "note": f"why{HOLE}"}, "note"),
        "score": (SCORE, {"reply": f"ok{HOLE}", "task": {}}, "reply"),
        "snapshot": (SNAPSHOTS, {"name": "s", "kind": "prompts", "note": f"n{HOLE}"}, "note"),
        "job": (JOBS, {"name": f"j{HOLE}", "method": "repo", "base_model": 1, "snapshots": []}, "name"),
        "stage": ("/api/deploy/versions/1/stage/", {"stage": "staging", "slot": f"s{HOLE}"}, "slot"),
    }
    return {k: (url, json.dumps(body).replace(HOLE, snippet), field) for k, (url, body, field) in bodies.items()}


@pytest.mark.parametrize("hostile", HOSTILE, ids=list(HOSTILE))
def test_hostile_text_anywhere_in_a_body_is_a_400_naming_the_field(api, hostile):
    snippet, words = HOSTILE[hostile]
    before = counts()
    for endpoint, (url, body, field) in _bodies(snippet).items():
        answer = raw_post(api, url, body)
        assert answer.status_code == 400, (endpoint, answer.content)
        errors = answer.json()["errors"]
        assert any(e.startswith(f"{field}: ") and words in e for e in errors), (endpoint, errors)
    assert counts() == before


def test_a_raw_nul_byte_and_invalid_utf8_are_400s(api):
    assert raw_post(api, SCORE, b'{"reply": "a\x00b", "task": {}}').status_code == 400
    answer = raw_post(api, SCORE, b'{"reply": "\xed\xa0\x80", "task": {}}')  # a surrogate encoded as bytes
    assert answer.status_code == 400 and "not UTF-8" in answer.json()["detail"]


def test_deep_nesting_and_huge_numbers_are_400s_not_500s(api):
    deep = raw_post(api, SCORE, '{"reply": "x", "task": ' + "[" * 50_000 + "]" * 50_000 + "}")
    assert deep.status_code == 400 and "nested more than 20 deep" in deep.json()["detail"]
    huge = raw_post(api, SCORE, '{"reply": "x", "task": {"n": ' + "9" * 5000 + "}}")
    assert huge.status_code == 400 and "numbers may have at most 40" in huge.json()["detail"]
    nan = raw_post(api, SCORE, '{"reply": "x", "task": NaN}')
    assert nan.status_code == 400 and "NaN is not a number" in nan.json()["detail"]


def test_an_oversized_body_is_a_413(api, settings):
    settings.PARLEY_API_MAX_BODY_BYTES = 10_000
    before = counts()
    body = json.dumps({"document": {"rules": []}, "note": "x" * 20_000})
    answer = raw_post(api, RULE_SETS, body)
    assert answer.status_code == 413 and "larger than 10000 bytes" in answer.json()["detail"]
    assert counts() == before


def test_form_encoded_writes_are_checked_too(api):
    answer = api.post(SNAPSHOTS, {"name": "s\u202e", "kind": "prompts"})  # multipart, DRF's default test format
    assert answer.status_code == 400 and answer.json()["errors"][0].startswith("name: contains U+202E")
    answer = api.generic("POST", SNAPSHOTS, "name=s%00&kind=prompts", content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 400 and "name: contains a NUL character" in answer.json()["detail"]


def test_a_1mb_note_is_a_400_naming_the_field(api):
    before = counts()
    for url, body in (
        (RULE_SETS, {"document": {"rules": []}, "note": "n" * 2**20}),
        (SNAPSHOTS, {"name": "s", "kind": "prompts", "note": "n" * 2**20}),
    ):
        answer = api.post(url, body, format="json")
        assert answer.status_code == 400, answer.content
        assert f"no more than {NOTE_CHARS} characters" in str(answer.json()["note"]), answer.json()
    assert counts() == before


def test_the_models_refuse_what_the_forms_refuse(db):
    """The limits live on the models too: ``full_clean`` (which the services call) names the field."""
    row = RuleSetVersion(name="x", version=1, document={"rules": []}, note="n" * (NOTE_CHARS + 1))
    with pytest.raises(ValidationError) as refused:
        row.full_clean()
    assert list(refused.value.message_dict) == ["note"]
    row = RuleSetVersion(name="x", version=1, document={"rules": ["a\u0000"]}, note="")
    with pytest.raises(ValidationError) as refused:
        row.full_clean()
    assert "document" in refused.value.message_dict and "NUL" in str(refused.value)
    row = ModelVersion(name="m", base_model="/m", description="d\u200b")
    with pytest.raises(ValidationError) as refused:
        row.full_clean()
    assert "zero-width" in str(refused.value.message_dict["description"])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
FIELD_NAMES = ["name", "note", "document", "reply", "task", "kind", "method", "snapshots", "messages", "version"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    url=st.sampled_from([INTAKE, RULE_SETS, SCORE, SNAPSHOTS, JOBS, "/api/deploy/versions/1/stage/"]),
    body=st.one_of(
        st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, max_size=5),
        st.lists(st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, max_size=5), max_size=3),
        json_values,
    ),
)
def test_fuzz_every_write_endpoint_never_5xx_and_writes_nothing_on_refusal(api, url, body):
    before = counts()
    answer = raw_post(api, url, json.dumps(body, ensure_ascii=True))
    assert answer.status_code < 500, (url, body, answer.content[:500])
    if answer.status_code >= 400:
        assert counts() == before, (url, body)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    answers=st.one_of(
        st.dictionaries(st.sampled_from(["A", "B", "C", "\u202eA", "A\u0000"]), json_values, max_size=3),
        json_values,
    )
)
def test_fuzz_the_evaluators_panel_submit_never_5xx_and_writes_nothing_on_refusal(panel, answers):
    from evaluation.models import Judgment

    api, url = panel
    before = (Judgment.objects.count(), AuditEvent.objects.count())
    answer = raw_post(api, url, json.dumps({"answers": answers}, ensure_ascii=True))
    assert answer.status_code < 500, (answers, answer.content[:500])
    if answer.status_code >= 400:
        assert (Judgment.objects.count(), AuditEvent.objects.count()) == before


@pytest.fixture
def panel(db):
    from evaluation.services.panels import panel_assignment_next, panel_member_set
    from tests.evaluation.factories import add_responses, make_set, make_system
    from tests.fixtures.services import make_user

    eval_set = make_set(kind="online", n=2)
    add_responses(eval_set, make_system("s1"), make_system("s2"))
    user = make_user("fuzz-evaluator", "evaluator")
    panel_member_set(user=user, expertise="linguistics")
    assignment = panel_assignment_next(user=user)
    return token_client(user), f"/api/eval/panel/{assignment.pk}/"


def test_a_nul_in_any_posted_page_form_is_a_400_naming_the_field(client_for):
    """Pages that read ``request.POST`` themselves (the eval set form) would hand a NUL on to PostgreSQL."""
    from evaluation.models import EvalSet

    client = client_for("ml_engineer")
    answer = client.post("/eval/sets/new/", {"name": "set\x00", "kind": "online", "refs": "x"})
    assert answer.status_code == 400 and "name: contains a NUL character" in answer.content.decode()
    assert not EvalSet.objects.exists()
    answer = client.post("/eval/sets/new/", {"name": "set", "kind": "online", "refs": "x", "description": "\x00"})
    assert answer.status_code == 400 and "description: contains a NUL" in answer.content.decode()


def test_logged_text_keeps_what_a_model_wrote_but_not_what_the_database_cannot_store():
    """A conversation's messages and a model's reply are a record: a bidi or zero-width character a model
    produced is kept (and shown), only NUL and lone surrogates are refused; people's notes refuse all."""
    from annotation.models import BadCase, Message

    content = Message._meta.get_field("content")
    content.run_validators("price \u202e0001 \u200b")  # kept
    for bad in ("a\x00b", "a\ud800b"):
        with pytest.raises(ValidationError):
            content.run_validators(bad)
    with pytest.raises(ValidationError):
        BadCase._meta.get_field("model_reply").run_validators("x" * 8001)
    with pytest.raises(ValidationError, match="bidirectional"):
        BadCase._meta.get_field("gold_reply").run_validators("price \u202e0001")


hostile_text = st.text(
    alphabet=st.one_of(
        st.characters(codec=None),  # any code point, lone surrogates included
        st.sampled_from(["\x00", "\x07", "\x7f", "\x85", "\r", "\u202e", "\u200b", "\ufeff", "\\", '"', "[", "{"]),
    ),
    max_size=12,
)
hostile_json = st.recursive(
    st.none() | st.integers() | hostile_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(hostile_text, children, max_size=3),
    max_leaves=30,
)


@settings(max_examples=1500, deadline=None)
@given(value=hostile_json, ascii_only=st.booleans(), indent=st.sampled_from([None, 1]))
def test_the_parsers_fast_path_never_passes_what_the_walk_refuses(value, ascii_only, indent):
    """``json_text_is_clean`` (regular expressions over the body) may send a clean body the slow way, but
    must never call clean a body in which ``json_problems`` finds anything."""
    from kernel.text import json_problems, json_text_is_clean

    text = json.dumps(value, ensure_ascii=ascii_only, indent=indent)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return  # a raw lone surrogate: not UTF-8, the parser refuses the bytes before this point
    if json_text_is_clean(text):
        assert json_problems(json.loads(text)) == [], text


def test_the_fast_path_and_the_walk_agree_on_the_nesting_limit():
    from kernel.text import MAX_DEPTH, json_problems, json_text_is_clean

    for depth in (MAX_DEPTH, MAX_DEPTH + 1):
        text = "[" * depth + "]" * depth
        assert json_text_is_clean(text) == (json_problems(json.loads(text)) == []) == (depth <= MAX_DEPTH)
    assert json_text_is_clean('{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\"]]"}')  # brackets inside a string do not count
