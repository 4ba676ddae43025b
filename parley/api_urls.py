"""REST API (DRF, token auth for scripts). Each app adds its routes in ``<app>/api_urls.py``."""

from django.urls import include, path

urlpatterns = [
    path("annotation/", include("annotation.api_urls")),
    path("jobs/rewards/", include("rewards.api_urls")),  # reward documents, where they have always been
    path("jobs/", include("training_jobs.api_urls")),
    path("eval/", include("evaluation.api_urls")),
    path("deploy/", include("deploy.api_urls")),
]
