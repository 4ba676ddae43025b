"""The playground's RM score from a real (tiny) trained reward model, scored by ``python -m engine score``."""

import json

import pytest
from django.urls import reverse

from registry.models import ModelVersion
from rewards.models import RewardConfig, RuleSetVersion
from rewards.services.seed import reward_defaults_seed
from tests.rewards import factories as f

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


@pytest.fixture(scope="module")
def trained_rm(tiny_model, tmp_path_factory):
    """A tiny RM trained for two steps on demo preference rows (the engine's own training entry point).

    The engine's tests have a similar session fixture in ``tests/engine/rewards/conftest.py``, out of
    reach of this directory; moving it to ``tests/fixtures/engine.py`` would let both share one run."""
    from engine.config import RMConfig
    from engine.demo import generate_world
    from engine.demo.datasets import preference_rows
    from engine.rewards.rm import train_reward_model

    data = tmp_path_factory.mktemp("rm-data") / "preferences.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in preference_rows(generate_world(seed=0))[:24]))
    run_dir = tmp_path_factory.mktemp("rm-run")
    config = RMConfig.preset(
        "tiny",
        base_model=str(tiny_model),
        dataset=str(data),
        max_prompt_length=976,
        max_response_length=48,
        max_steps=2,
    )
    train_reward_model(config, run_dir=run_dir)
    return run_dir


def test_rm_score_and_r_total_from_a_trained_rm(client_for, trained_rm, settings):
    run_dir = trained_rm
    settings.PARLEY_RM_SCORE_TIMEOUT_S = 600  # loading torch + the model took 76 s on the loaded CI box
    reward_defaults_seed()
    rm = ModelVersion.objects.create(
        name="rm-tiny",
        base_model="tiny",
        adapter_path=str(run_dir / "adapter"),
        method="rm",
        lineage={"run_dir": str(run_dir)},
    )
    config = RewardConfig.objects.create(name="rm-only", reward_model=rm, rule_set=RuleSetVersion.objects.first())
    dialogue = f.dialogue(messages=f.MESSAGES_EN[:3])
    response = client_for("ml_engineer").post(
        reverse("rewards:playground"),
        {"dialogue": dialogue.external_id, "turn": "2", "rule_set": "default@1", "config": config.pk},
    )
    result = response.context["result"]
    assert result.rm.available, result.rm.note
    assert result.r_model == result.rm.score and not result.r_model_assumed
    assert result.r_total == pytest.approx(result.r_model + abs(result.r_model) * result.e_enh / 100.0)
    assert "Score <b>" in response.content.decode()
