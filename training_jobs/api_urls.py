"""REST routes of the training_jobs app."""

urlpatterns: list = []
