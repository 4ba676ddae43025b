"""Pages of the annotation app: data import/export (urls_data) and the workspace (urls_workspace)."""

from django.urls import include, path

app_name = "annotation"
urlpatterns = [
    path("data/", include("annotation.urls_data")),
    path("", include("annotation.urls_workspace")),
]
