"""Reward configuration: versioned rule sets (RF) and judge rubrics (RJ), reward configs (which RM, judge
and rules a job combines), the reward playground and one-click rule examples. Above annotation (examples
come from its bad cases and excellent turns), below training_jobs (a job names its reward config)."""

from django.apps import AppConfig


class RewardsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "rewards"
    verbose_name = "Reward configuration"
