"""Snapshots, jobs, live progress, comparison, queue view."""

urlpatterns: list = []
