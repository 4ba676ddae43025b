"""REST routes for reward documents (mounted at /api/jobs/rewards/ by ``parley.api_urls``)."""

from django.urls import path

from rewards import api

RULE_SET, RUBRIC = {"kind": "rule_set"}, {"kind": "rubric"}

urlpatterns = [
    path(
        "rule-sets/<slug:name>/versions/",
        api.DocumentVersions.as_view(**RULE_SET),
        name="api-rule-set-versions",
    ),
    path(
        "rule-sets/<slug:name>/versions/<int:version>/",
        api.DocumentVersionDetail.as_view(**RULE_SET),
        name="api-rule-set-version",
    ),
    path("rule-sets/<slug:name>/latest/", api.DocumentVersionDetail.as_view(**RULE_SET), name="api-rule-set-latest"),
    path("rubrics/<slug:name>/versions/", api.DocumentVersions.as_view(**RUBRIC), name="api-rubric-versions"),
    path(
        "rubrics/<slug:name>/versions/<int:version>/",
        api.DocumentVersionDetail.as_view(**RUBRIC),
        name="api-rubric-version",
    ),
    path("rubrics/<slug:name>/latest/", api.DocumentVersionDetail.as_view(**RUBRIC), name="api-rubric-latest"),
    path("score/", api.RuleScore.as_view(), name="api-reward-score"),
]
