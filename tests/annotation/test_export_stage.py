"""Prompt rows carry the SOP stage of the turn being written, so that the judge applies stage-scoped
rubric rules only at their stages (the loop passes each row's stage to the reward)."""

import io
import json

import pytest

from annotation.models import Message
from annotation.services import exports
from annotation.services.demo import demo_world_seed


@pytest.fixture
def demo(db):
    return demo_world_seed(scale=8, seed=0, password="x")


def test_prompt_rows_carry_the_stage_of_the_turn_being_written(demo):
    out = io.StringIO()
    exports.dataset_export(kind="prompts", filters=None, out=out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert rows and all("stage" in row for row in rows)
    agent_stages = set(Message.objects.filter(role="agent").exclude(stage="").values_list("stage", flat=True))
    exported = {row["stage"] for row in rows}
    assert len(agent_stages) > 1 and exported == agent_stages  # every agent stage, nothing else
