"""Pages of the deploy app (the model pages are the registry's). Mounted at /deploy/ beside the registry's
pages."""

from django.urls import path

from deploy import playground_views, serving_views, slot_views, views

app_name = "deploy"
urlpatterns: list = [
    path("versions/<int:pk>/lineage/", views.version_lineage_view, name="version_lineage"),
    path("bad-cases/<int:pk>/lineage/", views.bad_case_lineage_view, name="bad_case_lineage"),
    path("keys/", views.key_list, name="key_list"),
    path("keys/<int:pk>/revoke/", views.key_revoke, name="key_revoke"),
    path("ab/", views.ab_list, name="ab_list"),
    path("ab/<str:slot>/", views.ab_report_view, name="ab_report"),
    path("ab/<str:slot>/promote/<int:pk>/", views.ab_promote, name="ab_promote"),
    path("deployments/", serving_views.deployment_list, name="deployment_list"),
    path("deployments/new/", serving_views.deployment_new, name="deployment_new"),
    path("deployments/<int:pk>/", serving_views.deployment_detail, name="deployment_detail"),
    path("deployments/<int:pk>/stop/", serving_views.deployment_stop_view, name="deployment_stop"),
    path("deployments/<int:pk>/adapters/", serving_views.deployment_adapter_add, name="deployment_adapter_add"),
    path(
        "deployments/<int:pk>/adapters/<int:adapter_pk>/replace/",
        serving_views.deployment_adapter_replace,
        name="deployment_adapter_replace",
    ),
    path(
        "deployments/<int:pk>/adapters/<int:adapter_pk>/remove/",
        serving_views.deployment_adapter_remove,
        name="deployment_adapter_remove",
    ),
    path("slots/", slot_views.slot_list, name="slot_list"),
    path("slots/<str:slot>/", slot_views.slot_detail, name="slot_detail"),
    path("slots/<str:slot>/routes/", slot_views.slot_routes_post, name="slot_routes"),
    path("slots/<str:slot>/guardrail/", slot_views.slot_guardrail_post, name="slot_guardrail"),
    path("playground/", playground_views.playground, name="playground"),
    path("playground/bad-case/", playground_views.playground_bad_case_view, name="playground_bad_case"),
    path("playground/branch/", playground_views.playground_branch_view, name="playground_branch"),
]
