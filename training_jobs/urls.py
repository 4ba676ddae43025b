"""Pages of the training_jobs app."""

app_name = "training_jobs"
urlpatterns: list = []
