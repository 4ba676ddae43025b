"""Production-log intake: conversations become production dialogues, idempotently, all or nothing; hostile
input gets a 4xx naming the conversation's index; guardrail hits and failed outcomes open bad cases
linked to the version; the slot's sampling rule fills an annotation queue."""

import pytest

from annotation.kinds.pairwise import pair_provenance
from annotation.models import AnnotationItem, AnnotationQueue, BadCase, Dialogue, Project
from deploy.models import ProductionConversation, SamplingRule
from deploy.services.intake import IntakeError, intake_conversations, sampled_by_share
from kernel.errors import ApplicationError
from kernel.models import AuditEvent
from registry.services import version_register
from tests.deploy.conftest import conversation

pytestmark = pytest.mark.django_db
URL = "/api/deploy/conversations/"


def nothing_written():
    return not (Dialogue.objects.exists() or ProductionConversation.objects.exists() or BadCase.objects.exists())


def test_a_posted_conversation_lands_as_a_production_dialogue_with_its_outcome_and_version(api, policy):
    answer = api.post(URL, [conversation("c-1", policy)], format="json")
    assert answer.status_code == 201, answer.content
    row = ProductionConversation.objects.get(external_id="c-1")
    assert (row.version, row.slot, row.hotel_id, row.source) == (policy, "chase", "H-1", "api")
    assert (row.hotel_replied, row.price_reduced_to_target, row.ticket_closed) == (True, False, False)
    dialogue = row.dialogue
    assert dialogue.source == "production" and dialogue.external_id == "c-1"
    assert dialogue.outcome == {"hotel_replied": True, "tickets_closed": 0}
    assert [m.role for m in dialogue.messages.order_by("index")] == ["agent", "hotel", "agent"]
    assert dialogue.case.tickets.count() == 2 and dialogue.case.hotel_name == "Harbour View Hotel"
    assert AuditEvent.objects.filter(action="intake", object_id=str(row.pk)).exists()


def test_intake_is_idempotent_by_external_id(api, policy):
    assert api.post(URL, [conversation("c-1", policy)], format="json").status_code == 201
    again = api.post(URL, {"conversations": [conversation("c-1", policy), conversation("c-2", policy)]}, format="json")
    assert again.status_code == 201
    assert again.json()["existing"] == ["c-1"] and [c["external_id"] for c in again.json()["created"]] == ["c-2"]
    same = api.post(URL, [conversation("c-1", policy)], format="json")
    assert same.status_code == 200 and same.json()["created"] == []
    assert ProductionConversation.objects.count() == 2 and Dialogue.objects.count() == 2


def test_the_version_may_be_named_and_the_gateway_calls_the_service(policy):
    result = intake_conversations([conversation("g-1", "repo-v1")], source="gateway")
    assert result.created[0].version == policy and result.created[0].source == "gateway"


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        ("not a list", 400, "The body must be a list of conversations"),
        ([], 400, "The batch holds no conversation."),
        (["x"], 400, "conversations[0]: must be an object"),
        ([{"external_id": "a"}], 400, "conversations[0].version: None is not a registered version"),
    ],
)
def test_malformed_batches_are_refused_whole(api, policy, body, status, expected):
    answer = api.post(URL, body, format="json")
    assert answer.status_code == status and expected in answer.json()["detail"]
    assert nothing_written()


def test_every_problem_names_its_conversation_and_nothing_is_written(api, policy):
    bad_messages = conversation("c-3", policy, messages=[{"role": "robot", "content": "hi"}])
    batch = [
        conversation("c-1", policy),
        conversation("c-2", 9999),
        bad_messages,
        conversation("c-1", policy),
        conversation("c-5", policy, outcome={"hotel_replied": "yes"}),
        conversation("c-6", policy, case={"hotel": {}}),
        conversation(
            "c-7", policy, guardrail_hits=[{"rule": "made_up", "evidence": "x"}, {"rule": "too_long", "turn": 1}]
        ),
        conversation("c-8", policy, latency_ms=-1),
        conversation("c-9", policy, messages=[{"role": "hotel", "content": "anyone?"}]),
    ]
    answer = api.post(URL, batch, format="json")
    assert answer.status_code == 400
    errors = answer.json()["errors"]
    for expected in (
        "conversations[1].version: 9999 is not a registered version (give its id or name)",
        "conversations[2].messages[0].role: must be one of agent, hotel, system (got 'robot')",
        "conversations[3].external_id: 'c-1' repeats conversations[0]",
        "conversations[4].outcome.hotel_replied: required true or false",
        "conversations[4].outcome.price_reduced_to_target: required true or false",
        "conversations[5].case.hotel.name: required string",
        "conversations[6].guardrail_hits[0].rule: 'made_up' is not a known rule or bad-case category",
        "conversations[6].guardrail_hits[1].turn: the index of an agent message",
        "conversations[7].latency_ms: a non-negative number",
        "conversations[8].messages: no agent reply (nothing a version produced)",
    ):
        assert expected in errors, (expected, errors)
    assert nothing_written()


def test_oversized_input_is_refused(api, policy, monkeypatch):
    long = conversation("c-1", policy, messages=[{"role": "agent", "content": "x" * 8001}])
    answer = api.post(URL, [long], format="json")
    assert answer.status_code == 400
    assert "conversations[0].messages[0].content: 8001 characters, the limit is 8000" in answer.json()["errors"]
    monkeypatch.setattr("deploy.services.intake.MAX_BATCH", 2)
    too_many = api.post(URL, [conversation(f"c-{i}", policy) for i in range(3)], format="json")
    assert too_many.status_code == 413 and nothing_written()


def test_a_reward_model_is_not_a_version_that_served(api):
    rm = version_register(name="rm-1", kind="reward_model", base_model="/m/b", method="rm")
    answer = api.post(URL, [conversation("c-1", rm)], format="json")
    assert answer.status_code == 400
    assert answer.json()["errors"] == ["conversations[0].version: rm-1 is a reward model, not a policy"]


def test_a_guardrail_hit_opens_a_bad_case_linked_to_its_version(api, policy):
    leaked = conversation(
        "c-1",
        policy,
        messages=[
            {"role": "agent", "content": "Hello, could you do 700?"},
            {"role": "hotel", "content": "Why 700?"},
            {"role": "agent", "content": "Our target price is 690, so 700 is close."},
        ],
        outcome={"hotel_replied": True, "price_reduced_to_target": True, "ticket_closed": True},
        guardrail_hits=[{"rule": "internal_term_leak", "evidence": "target price"}],
    )
    assert api.post(URL, [leaked], format="json").status_code == 201
    bad = BadCase.objects.get()
    assert (bad.model_version, bad.category, bad.turn, bad.status) == (policy, "internal_term_leak", 2, "open")
    assert bad.model_reply == "Our target price is 690, so 700 is close."
    assert bad.dialogue.production_conversation.guardrail_hits == [
        {"rule": "internal_term_leak", "evidence": "target price", "turn": 2}
    ]


def test_a_failed_outcome_with_a_rule_hit_opens_a_bad_case_and_a_success_without_hits_does_not(policy):
    failed = conversation(
        "c-1",
        policy,
        messages=[{"role": "agent", "content": "Our target price is 690 for the Deluxe King."}],
        outcome={"hotel_replied": False, "price_reduced_to_target": False, "ticket_closed": False},
    )
    fine = conversation(
        "c-2", policy, outcome={"hotel_replied": True, "price_reduced_to_target": True, "ticket_closed": True}
    )
    result = intake_conversations([failed, fine], source="api")
    assert result.bad_cases == 1
    bad = BadCase.objects.get()
    assert (bad.dialogue.external_id, bad.category, bad.model_version) == ("c-1", "internal_term_leak", policy)
    assert bad.dialogue.outcome == {"hotel_replied": False, "tickets_closed": 0, "price_reduced": "none"}


def test_the_sampling_rule_sends_hits_failures_and_a_share_to_its_queue(policy):
    project = Project.objects.create(name="ops")
    queue = AnnotationQueue.objects.create(project=project, name="production review", kind="rating", lens="bd")
    SamplingRule.objects.create(
        slot="chase", queue=queue, share=0.0, all_guardrail_hits=True, all_failed_outcomes=False
    )
    ok = {"hotel_replied": True, "price_reduced_to_target": True, "ticket_closed": True}
    batch = [
        conversation("plain", policy, outcome=ok),
        conversation("hit", policy, outcome=ok, guardrail_hits=[{"rule": "too_long", "evidence": ""}]),
        conversation("failed", policy),
    ]
    result = intake_conversations(batch, source="api")
    sampled = dict(ProductionConversation.objects.values_list("external_id", "sampled"))
    assert sampled == {"plain": False, "hit": True, "failed": False}
    assert result.queued == 1
    item = AnnotationItem.objects.get()
    assert (item.queue, item.dialogue.external_id, item.turn) == (queue, "hit", 2)
    assert item.dialogue.project == project
    rule = SamplingRule.objects.get()
    rule.all_failed_outcomes, rule.share = True, 1.0
    rule.save()
    intake_conversations([conversation("failed-2", policy), conversation("share", policy, outcome=ok)], source="api")
    assert AnnotationItem.objects.count() == 3


def test_the_share_is_stable_per_id():
    ids = [f"conv-{i}" for i in range(400)]
    chosen = [i for i in ids if sampled_by_share(i, 0.25)]
    assert chosen == [i for i in ids if sampled_by_share(i, 0.25)]
    assert 60 <= len(chosen) <= 140
    assert not any(sampled_by_share(i, 0.0) for i in ids) and all(sampled_by_share(i, 1.0) for i in ids)


def test_a_dialogue_id_taken_outside_intake_is_a_conflict(policy):
    from tests.annotation.factories import make_dialogue, make_world

    world = make_world(project_name="Production")
    existing = make_dialogue(world)
    with pytest.raises(ApplicationError) as refused:
        intake_conversations([conversation(existing.external_id, policy)], source="api")
    assert refused.value.status == 409 and isinstance(refused.value, IntakeError)
    assert not ProductionConversation.objects.exists()


def test_pairs_on_production_dialogues_get_the_production_provenance():
    assert pair_provenance(dialogue_source="production", lens="language") == "production"
    assert pair_provenance(dialogue_source="curated", lens="bd") == "bd_expert"


def test_annotators_and_evaluators_cannot_post(client_for, policy):
    for role in ("language_expert", "bd_expert", "reviewer", "evaluator"):
        answer = client_for(role).post(URL, [conversation("c-1", policy)], content_type="application/json")
        assert answer.status_code == 403
    assert nothing_written()
