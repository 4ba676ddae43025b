"""The playground's RM score from a real (tiny) trained reward model, scored by ``python -m engine score``."""

import pytest
from django.urls import reverse

from deploy.models import ModelVersion
from tests.engine.rewards.test_rm import preference_file, trained_rm  # noqa: F401  (session fixtures)
from training_jobs.models import RewardConfig, RuleSetVersion
from training_jobs.services.rewards_seed import reward_defaults_seed

from . import rewards_factories as f

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def test_rm_score_and_r_total_from_a_trained_rm(client_for, trained_rm):  # noqa: F811
    run_dir, _, _ = trained_rm
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
        reverse("training_jobs:reward_playground"),
        {"dialogue": dialogue.external_id, "turn": "2", "rule_set": "default@1", "config": config.pk},
    )
    result = response.context["result"]
    assert result.rm.available, result.rm.note
    assert result.r_model == result.rm.score and not result.r_model_assumed
    assert result.r_total == pytest.approx(result.r_model + abs(result.r_model) * result.e_enh / 100.0)
    assert "Score <b>" in response.content.decode()
