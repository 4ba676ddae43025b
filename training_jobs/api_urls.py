"""REST routes of the training_jobs app (under /api/jobs/)."""

from django.urls import path

from training_jobs import api

urlpatterns = [
    path("snapshots/", api.SnapshotListCreate.as_view(), name="api-snapshot-list"),
    path("snapshots/<int:pk>/", api.SnapshotDetail.as_view(), name="api-snapshot-detail"),
    path("jobs/", api.JobListCreate.as_view(), name="api-job-list"),
    path("jobs/<int:pk>/", api.JobDetail.as_view(), name="api-job-detail"),
    path("jobs/<int:pk>/cancel/", api.JobCancel.as_view(), name="api-job-cancel"),
    path("jobs/<int:pk>/metrics/", api.JobMetrics.as_view(), name="api-job-metrics"),
]
