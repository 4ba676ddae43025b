"""Pages of the deploy app (deployments and the gateway land here; the model pages are the registry's).
Mounted at /deploy/ beside the registry's pages."""

from django.urls import path

from deploy import views

app_name = "deploy"
urlpatterns: list = [
    path("versions/<int:pk>/lineage/", views.version_lineage_view, name="version_lineage"),
    path("bad-cases/<int:pk>/lineage/", views.bad_case_lineage_view, name="bad_case_lineage"),
    path("keys/", views.key_list, name="key_list"),
    path("keys/<int:pk>/revoke/", views.key_revoke, name="key_revoke"),
    path("ab/", views.ab_list, name="ab_list"),
    path("ab/<str:slot>/", views.ab_report_view, name="ab_report"),
    path("ab/<str:slot>/promote/<int:pk>/", views.ab_promote, name="ab_promote"),
]
