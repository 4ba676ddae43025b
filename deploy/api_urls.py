"""REST routes of the deploy app (mounted at /api/deploy/)."""

from django.urls import path

from deploy import api

urlpatterns: list = [
    path("conversations/", api.ConversationIntake.as_view(), name="api-deploy-conversations"),
    path("versions/<int:pk>/lineage/", api.VersionLineage.as_view(), name="api-deploy-version-lineage"),
    path("versions/<int:pk>/stage/", api.VersionStage.as_view(), name="api-deploy-version-stage"),
    path("bad-cases/<int:pk>/lineage/", api.BadCaseLineage.as_view(), name="api-deploy-bad-case-lineage"),
    path("slots/<str:slot>/routes/", api.SlotRoutes.as_view(), name="api-deploy-slot-routes"),
    path("slots/<str:slot>/guardrail/", api.SlotGuardrailView.as_view(), name="api-deploy-slot-guardrail"),
    path("ab/<str:slot>/", api.ABReport.as_view(), name="api-deploy-ab"),
    path("ab/<str:slot>/promote/", api.ABPromote.as_view(), name="api-deploy-ab-promote"),
]
