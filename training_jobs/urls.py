"""Pages of the training_jobs app: jobs, snapshots, runs (urls_jobs) and reward configuration (urls_rewards)."""

from django.urls import include, path

app_name = "training_jobs"
urlpatterns = [
    path("rewards/", include("training_jobs.urls_rewards")),
    path("", include("training_jobs.urls_jobs")),
]
