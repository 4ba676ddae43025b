"""Database constraints of the data model: the database refuses what the schema forbids."""

import pytest
from django.db import IntegrityError, transaction

from annotation.models import Candidate, Dialogue, NegotiationCase, PreferencePair, Project, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def dialogue():
    project = Project.objects.create(name="p")
    case = NegotiationCase.objects.create(project=project, hotel_name="H", hotel_type="resort")
    Ticket.objects.create(case=case, room_type="King", current_price=800, net_price=680, target_price=700)
    return Dialogue.objects.create(project=project, case=case, external_id="d1")


@pytest.mark.parametrize(
    "prices",
    [
        {"current_price": 800, "net_price": 680, "target_price": 900},  # target above current
        {"current_price": 800, "net_price": 900, "target_price": 700},  # net above current
        {"current_price": -5, "net_price": -9, "target_price": -8},  # negative
    ],
)
def test_ticket_prices_are_checked_by_the_database(dialogue, prices):
    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.create(case=dialogue.case, position=1, room_type="Twin", **prices)


def test_pair_chosen_must_differ_from_rejected(dialogue):
    cand = Candidate.objects.create(dialogue=dialogue, turn=1, text="hi", source="human")
    with pytest.raises(IntegrityError), transaction.atomic():
        PreferencePair.objects.create(dialogue=dialogue, turn=1, chosen=cand, rejected=cand, provenance="bd_expert")


def test_case_to_task_is_a_valid_engine_task(dialogue):
    from engine.task import task_errors

    task = dialogue.case.to_task()
    assert task_errors(task) == []
    assert task["tickets"][0]["target_price"] == 700.0
