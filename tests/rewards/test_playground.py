"""The reward playground: real rules on a demo-like case; judge and RM absent or down → the page still works."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from registry.models import ModelVersion
from rewards.models import RewardConfig, RubricVersion, RuleSetVersion
from rewards.services import remote
from rewards.services.playground import highlight_segments, playground_evaluate
from rewards.services.seed import reward_defaults_seed
from rewards.services.versions import rubric_version_create
from tests.rewards import factories as f

PLAYGROUND = reverse("rewards:playground")


@pytest.fixture
def ml(client_for, db):
    reward_defaults_seed()
    return client_for("ml_engineer")


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"  # nothing listens once the socket is closed


def config(**fields) -> RewardConfig:
    return RewardConfig.objects.create(
        name=fields.pop("name", "cfg"),
        rule_set=RuleSetVersion.objects.get(name="default", version=1),
        rubric=RubricVersion.objects.get(name="default", version=1),
        **fields,
    )


@given(
    st.text(max_size=30),
    st.lists(st.tuples(st.sampled_from("abc"), st.tuples(st.integers(0, 35), st.integers(0, 35))), max_size=4),
)
def test_segments_rebuild_the_reply_and_cover_exactly_the_spans(reply, spans):
    spans = [(rule, (min(a, b), max(a, b))) for rule, (a, b) in spans]
    segments = highlight_segments(reply, spans)
    assert "".join(s.text for s in segments) == reply
    position = 0
    for segment in segments:
        end_of_segment = position + len(segment.text)
        for rule in {rule for rule, _ in spans}:
            inside = any(r == rule and s <= position and end_of_segment <= e for r, (s, e) in spans)
            assert (rule in segment.rules) == inside
        position += len(segment.text)


@pytest.mark.django_db
def test_evaluate_a_dialogue_turn_with_rules_only():
    reward_defaults_seed()
    document = RuleSetVersion.objects.get(name="default").document
    dialogue = f.dialogue()
    history = [{"role": m.role, "content": m.content} for m in dialogue.messages.filter(index__lt=4)]
    reply = f.MESSAGES_EN[4][1]
    result = playground_evaluate(
        reply=reply, task=dialogue.case.to_task(), history=history, rule_document=document, assumed_r_model=2.0
    )
    fired = {v.rule: v for v in result.fired}
    assert set(fired) == {"internal_term_leak", "continued_after_acceptable_offer"}
    assert fired["internal_term_leak"].evidence.lower() == "target price"
    assert result.e_func == -30.0 - 40.0
    assert (result.r_model, result.r_model_assumed, result.e_enh) == (2.0, True, -70.0)
    assert result.r_total == pytest.approx(2.0 * (1 - 0.7))  # REPO: R_model · (1 + E_enh / n)
    assert not result.judge.available and result.judge.note == remote.JUDGE_NOT_CONFIGURED
    assert not result.rm.available and result.rm.note == remote.RM_NOT_CONFIGURED
    marked = [(s.text, s.rules) for s in result.segments if s.rules]
    # every evidence span, not only each rule's first: the push, and both prices below the hotel's 680
    assert marked == [
        ("go a bit lower", ("continued_after_acceptable_offer",)),
        ("650", ("continued_after_acceptable_offer",)),
        ("target price", ("internal_term_leak",)),
        ("650", ("continued_after_acceptable_offer",)),
    ]


@pytest.mark.django_db
def test_page_scores_a_turn_and_highlights_the_evidence(ml):
    dialogue = f.dialogue()
    bad = f.bad_case(dialogue_row=dialogue, turn=4)
    page = ml.get(PLAYGROUND, {"dialogue": dialogue.external_id, "turn": 4})
    assert page.status_code == 200
    html = page.content.decode()
    assert '<mark title="internal_term_leak" data-rules="internal_term_leak">target price</mark>' in html
    assert 'id="verdict-internal_term_leak"' in html and "fired" in html
    assert "No judge endpoint in this config." in html and "No reward model in this config." in html
    assert f'action="/jobs/rewards/examples/bad-case/{bad.pk}/"' in html  # the one-click button
    assert "ok 680 max" in html  # the context


@pytest.mark.django_db
def test_pasted_reply_is_escaped_never_marked_safe(ml):
    reply = "<script>alert(1)</script> As an AI language model, our target price is 690."
    html = ml.post(
        PLAYGROUND, {"reply": reply, "case": "example:en", "rule_set": "default@1", "assumed_r_model": "1"}
    ).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<mark title="system_leak" data-rules="system_leak">as an ai</mark>' in html.replace("As an AI", "as an ai")


@pytest.mark.django_db
def test_htmx_gets_the_partial(ml):
    response = ml.post(
        PLAYGROUND,
        {"reply": "Would 690 work?", "rule_set": "default@1", "assumed_r_model": "1"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html and 'id="r-total">1.000<' in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"dialogue": "no-such-dialogue", "turn": "1"}, "No dialogue has the external id"),
        ({"dialogue": "@dlg", "turn": "1"}, "is not an agent message"),
        ({"dialogue": "@dlg"}, "Pick the agent turn"),
        ({"reply": "   "}, "Paste a reply, or pick a dialogue"),
        ({"reply": "hi", "rule_set": "default@99"}, "Select a valid choice"),
        ({"reply": "hi", "assumed_r_model": "lots"}, "Enter a number"),
    ],
)
def test_bad_input_is_400_with_a_reason(ml, params, message):
    dialogue = f.dialogue()
    params = {
        "rule_set": "default@1",
        "assumed_r_model": "1",
        **{k: dialogue.external_id if v == "@dlg" else v for k, v in params.items()},
    }
    response = ml.post(PLAYGROUND, params)
    assert response.status_code == 400
    assert message in response.content.decode()


@pytest.mark.django_db
def test_judge_down_and_rm_without_adapter_still_render(ml, tmp_path):
    rm = ModelVersion.objects.create(
        name="rm-1", base_model="tiny", adapter_path=str(tmp_path / "missing"), method="rm"
    )
    cfg = config(judge_base_url=closed_port_url(), judge_model="judge", reward_model=rm, n=50)
    html = ml.post(
        PLAYGROUND,
        {
            "reply": "Would 690 work for the Deluxe King?",
            "rule_set": "default@1",
            "config": cfg.pk,
            "assumed_r_model": "1",
        },
    ).content.decode()
    assert "Judge unavailable: " in html
    assert "RM &#x27;rm-1&#x27; has no trained RM directory (rm_meta.json)" in html
    assert 'id="r-total">1.000<' in html


@pytest.mark.slow  # the subprocess imports torch and transformers before it fails
@pytest.mark.django_db
def test_rm_scoring_failure_in_the_subprocess_is_a_note(tmp_path, db):
    reward_defaults_seed()
    (tmp_path / "adapter").mkdir()
    (tmp_path / remote.RM_META_FILE).write_text('{"base_model": "/nonexistent", "offset": 0, "max_length": 64}')
    rm = ModelVersion.objects.create(
        name="rm-2", base_model="tiny", adapter_path=str(tmp_path / "adapter"), method="rm"
    )
    result = remote.rm_score(config=config(reward_model=rm), reply="hi", task=f.case().to_task(), history=[])
    assert not result.available and result.note.startswith("RM unavailable: ")


@pytest.mark.django_db
def test_lookups_for_dialogues_and_turns(ml):
    dialogue = f.dialogue(external_id="PLAY-0001")
    options = ml.get(reverse("rewards:playground_dialogues"), {"dialogue": "play-0"}).content.decode()
    assert 'value="PLAY-0001"' in options
    turns = ml.get(reverse("rewards:playground_turns"), {"dialogue": "PLAY-0001"}).content.decode()
    assert [f'value="{i}"' in turns for i in (0, 2, 4)] == [True, True, True] and 'value="1"' not in turns
    assert "no such dialogue" in ml.get(reverse("rewards:playground_turns"), {"dialogue": "x"}).content.decode()
    assert dialogue.pk


@pytest.mark.slow
@pytest.mark.vllm
@pytest.mark.django_db
def test_judge_verdicts_from_a_real_vllm_server(ml, vllm_server, role_users):
    # The tiny judge's context is 1024 tokens: two short rules and a short dialogue; the verdicts with
    # evidence would not fit beside the prompt, so the playground asks for the hits alone.
    rubric = rubric_version_create(
        name="tiny",
        note="two short rules",
        user=role_users["ml_engineer"],
        document={
            "rules": [
                {"id": "over_promise", "description": "Promises guaranteed bookings or ranking.", "points": -20},
                {
                    "id": "no_empathy",
                    "description": "Ignores the hotel's concern.",
                    "points": -10,
                    "stages": ["persuade"],
                },
            ]
        },
    )
    cfg = config(judge_base_url=vllm_server.base_url, judge_model=vllm_server.model)
    cfg.rubric = rubric
    cfg.save()
    dialogue = f.dialogue(
        messages=[
            ("agent", "Could 690 work for the Deluxe King?", "state_request"),
            ("hotel", "too low", ""),
            ("agent", "We guarantee you the top ranking if you accept 690.", "persuade"),
        ]
    )
    html = ml.post(
        PLAYGROUND,
        {
            "dialogue": dialogue.external_id,
            "turn": "2",
            "rule_set": "default@1",
            "config": cfg.pk,
            "assumed_r_model": "1",
        },
    ).content.decode()
    assert "Judge unavailable" not in html, html[html.find("judge-note") :][:600]
    for rule_id in ("over_promise", "no_empathy"):  # both apply at "persuade": each gets a verdict
        assert f"<code>{rule_id}</code>" in html


NO_TORCH_SCRIPT = """
import sys
import django

django.setup()
import rewards.urls
from engine.rewards.rules import EXAMPLE_TASKS
from rewards.services.playground import playground_evaluate
from rewards.services.seed import default_rule_set_document

result = playground_evaluate(
    reply="Our target price is 690.", task=EXAMPLE_TASKS["en"], history=[],
    rule_document=default_rule_set_document(),
)
assert result.fired and "torch" not in sys.modules, "torch was imported"
"""


def test_the_web_side_never_imports_torch():
    """Rules, the judge client and R_total run in the web process; torch (the RM) only in a subprocess."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "parley.settings.test"}
    done = subprocess.run([sys.executable, "-c", NO_TORCH_SCRIPT], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.django_db
def test_a_config_link_preselects_the_config_and_its_rule_set(ml):
    cfg = config(name="linked")
    form = ml.get(PLAYGROUND, {"config": cfg.pk}).context["form"]
    assert form.initial["rule_set"] == "default@1" and str(form.initial["config"]) == str(cfg.pk)
    assert not form.is_bound  # a link only preselects; nothing is scored until asked


@pytest.mark.django_db
def test_every_evidence_span_of_a_rule_is_highlighted_not_only_the_first(ml):
    reward_defaults_seed()
    document = RuleSetVersion.objects.get(name="default").document
    reply = "The target price is 500; the ticket says so, and the target price will not move."
    from engine.rewards.rules import EXAMPLE_TASKS

    result = playground_evaluate(reply=reply, task=EXAMPLE_TASKS["en"], history=[], rule_document=document)
    leak = {v.rule: v for v in result.fired}["internal_term_leak"]
    assert [text.lower() for text, _, _ in leak.pieces] == ["target price", "ticket", "target price"]
    assert leak.span == leak.spans[0]  # the first span is still the one training logs
    marked = [s.text.lower() for s in result.segments if "internal_term_leak" in s.rules]
    assert marked == ["target price", "ticket", "target price"]
    page = ml.post(PLAYGROUND, {"reply": reply, "case": "example:en", "rule_set": "default@1"}).content.decode()
    assert page.count('data-rules="internal_term_leak"') == 3 and "3 places" in page


def test_evidence_spans_stop_at_blank_rest_and_respect_the_limit():
    from engine.rewards.rules import EXAMPLE_TASKS, RuleSet

    rules = RuleSet.from_dict(
        {"version": "t", "rules": [{"id": "p", "kind": "pattern", "points": -1, "params": {"terms": ["x"]}}]}
    ).compiled()
    task = EXAMPLE_TASKS["en"]
    assert rules.evidence_spans("x y x  ", task=task) == {"p": [(0, 1), (4, 5)]}
    assert len(rules.evidence_spans(" ".join(["x"] * 50), task=task, limit=5)["p"]) == 5
    assert rules.evidence_spans("nothing", task=task) == {}
