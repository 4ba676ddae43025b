"""Reward configuration pages: rule sets, rubrics, the reward playground (mounted at /jobs/rewards/)."""

from django.urls import path

from training_jobs.views import rewards, rewards_playground

RULE_SET = {"kind": "rule_set"}
RUBRIC = {"kind": "rubric"}

urlpatterns = [
    path("", rewards.reward_config_list, name="reward_config_list"),
    path("configs/new/", rewards.reward_config_new, name="reward_config_new"),
    path("rule-sets/<slug:name>/", rewards.document_detail, RULE_SET, name="rule_set_detail"),
    path("rule-sets/<slug:name>/v<int:version>/", rewards.document_detail, RULE_SET, name="rule_set_version"),
    path("rule-sets/<slug:name>/edit/", rewards.document_edit, RULE_SET, name="rule_set_edit"),
    path("rule-sets/<slug:name>/diff/", rewards.document_diff_view, RULE_SET, name="rule_set_diff"),
    path("rubrics/<slug:name>/", rewards.document_detail, RUBRIC, name="rubric_detail"),
    path("rubrics/<slug:name>/v<int:version>/", rewards.document_detail, RUBRIC, name="rubric_version"),
    path("rubrics/<slug:name>/edit/", rewards.document_edit, RUBRIC, name="rubric_edit"),
    path("rubrics/<slug:name>/diff/", rewards.document_diff_view, RUBRIC, name="rubric_diff"),
    path("playground/", rewards_playground.reward_playground, name="reward_playground"),
    path("playground/dialogues/", rewards_playground.playground_dialogues, name="reward_playground_dialogues"),
    path("playground/turns/", rewards_playground.playground_turns, name="reward_playground_turns"),
    path("examples/bad-case/<int:pk>/", rewards_playground.example_from_bad_case, name="reward_example_from_bad_case"),
    path(
        "examples/excellent/<int:pk>/",
        rewards_playground.example_from_excellent,
        name="reward_example_from_excellent",
    ),
]
