"""Reward configuration pages: rule sets, rubrics, the reward playground (mounted at /jobs/rewards/)."""

from django.urls import path

from rewards.views import documents, playground

app_name = "rewards"

RULE_SET = {"kind": "rule_set"}
RUBRIC = {"kind": "rubric"}

urlpatterns = [
    path("", documents.reward_config_list, name="config_list"),
    path("configs/new/", documents.reward_config_new, name="config_new"),
    path("rule-sets/<slug:name>/", documents.document_detail, RULE_SET, name="rule_set_detail"),
    path("rule-sets/<slug:name>/v<int:version>/", documents.document_detail, RULE_SET, name="rule_set_version"),
    path("rule-sets/<slug:name>/edit/", documents.document_edit, RULE_SET, name="rule_set_edit"),
    path("rule-sets/<slug:name>/rows/", documents.document_edit_rows, RULE_SET, name="rule_set_rows"),
    path("rule-sets/<slug:name>/diff/", documents.document_diff_view, RULE_SET, name="rule_set_diff"),
    path("rubrics/<slug:name>/", documents.document_detail, RUBRIC, name="rubric_detail"),
    path("rubrics/<slug:name>/v<int:version>/", documents.document_detail, RUBRIC, name="rubric_version"),
    path("rubrics/<slug:name>/edit/", documents.document_edit, RUBRIC, name="rubric_edit"),
    path("rubrics/<slug:name>/rows/", documents.document_edit_rows, RUBRIC, name="rubric_rows"),
    path("rubrics/<slug:name>/diff/", documents.document_diff_view, RUBRIC, name="rubric_diff"),
    path("playground/", playground.reward_playground, name="playground"),
    path("playground/dialogues/", playground.playground_dialogues, name="playground_dialogues"),
    path("playground/turns/", playground.playground_turns, name="playground_turns"),
    path("examples/bad-case/<int:pk>/", playground.example_from_bad_case, name="example_from_bad_case"),
    path("examples/excellent/<int:pk>/", playground.example_from_excellent, name="example_from_excellent"),
]
