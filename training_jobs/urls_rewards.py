"""Reward configuration pages: rule sets, rubrics, the reward playground."""

urlpatterns: list = []
