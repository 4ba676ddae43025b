"""Pages of the training_jobs app: snapshots, jobs, live progress, comparison, queue view (under /jobs/;
reward configuration is the rewards app's, at /jobs/rewards/)."""

from django.urls import path

from training_jobs.views import jobs, runs

app_name = "training_jobs"
urlpatterns = [
    path("", jobs.job_list, name="job_list"),
    path("new/", jobs.job_new, name="job_new"),
    path("new/hyperparameters/", jobs.job_hyperparameters, name="job_hyperparameters"),
    path("compare/", runs.job_compare, name="job_compare"),
    path("queue/", runs.queue_view, name="queue"),
    path("snapshots/", runs.snapshot_list, name="snapshot_list"),
    path("snapshots/<int:pk>/", runs.snapshot_detail, name="snapshot_detail"),
    path("snapshots/<int:pk>/download/", runs.snapshot_download, name="snapshot_download"),
    path("<int:pk>/", jobs.job_detail, name="job_detail"),
    path("<int:pk>/metrics/", jobs.job_metrics, name="job_metrics"),
    path("<int:pk>/cancel/", jobs.job_cancel_view, name="job_cancel"),
    path("<int:pk>/priority/", runs.job_priority, name="job_priority"),
]
