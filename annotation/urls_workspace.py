"""The annotation workspace: queues, tasks, review, agreement, dashboards."""

urlpatterns: list = []
