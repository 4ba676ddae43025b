"""Shared pieces of the deploy tests: a valid production conversation and an authenticated API client."""

import copy

import pytest

from engine.rewards.rules.defaults import EXAMPLE_TASKS
from registry.services import version_register


def conversation(external_id: str, version, **extra) -> dict:
    """A valid conversation of ``version`` (the hotel replied, the price did not reach the target)."""
    body = {
        "external_id": external_id,
        "version": version if isinstance(version, int | str) else version.pk,
        "slot": "chase",
        "hotel_id": "H-1",
        "case": copy.deepcopy(EXAMPLE_TASKS["en"]),
        "messages": [
            {"role": "agent", "content": "Hello, could the Deluxe King come down a little for our guests?"},
            {"role": "hotel", "content": "We can do 720."},
            {"role": "agent", "content": "Thank you, 720 works for us. I will update the listing."},
        ],
        "outcome": {"hotel_replied": True, "price_reduced_to_target": False, "ticket_closed": False},
        "latency_ms": 800.0,
    }
    body.update(extra)
    return body


@pytest.fixture
def policy(db):
    return version_register(name="repo-v1", kind="policy", base_model="/m/base", method="repo")
