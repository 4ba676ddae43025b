"""Deployments: one vLLM OpenAI-compatible server (a base model plus LoRA adapters of that base) owned by
a task on the ``serve`` queue.

A ``Deployment`` is a status row (``kernel.status``): ``status`` is the kernel's lifecycle (queued → running
while a supervisor holds its lease → cancelled when stopped, failed when it gave up) and ``state`` is what
the server does (starting / healthy / unhealthy / stopped). A ``DeploymentAdapter`` is the wish that one
policy version be served under ``served_name``; the supervisor loads it into the running server (and again
after every restart) and records ``state``. Written by ``deploy.services.serving`` and the supervisor only.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from kernel.status import StatusRow


class Deployment(StatusRow):
    class State(models.TextChoices):
        STARTING = "starting", "Starting"
        HEALTHY = "healthy", "Healthy"
        UNHEALTHY = "unhealthy", "Unhealthy"
        STOPPED = "stopped", "Stopped"

    base = models.ForeignKey("registry.ModelVersion", on_delete=models.PROTECT, related_name="deployments")
    slot = models.CharField(max_length=100, help_text="A name for the server; one active deployment per slot.")
    state = models.CharField(max_length=12, choices=State.choices, default=State.STARTING, db_index=True)
    node = models.CharField(max_length=200, blank=True, help_text="Host the server runs on.")
    port = models.PositiveIntegerField(null=True, blank=True)
    log_path = models.CharField(max_length=500, blank=True)
    restarts = models.PositiveIntegerField(default=0, help_text="Server restarts after a crash or a hang.")
    health_at = models.DateTimeField(null=True, blank=True, help_text="Last time /health answered 200.")
    health_error = models.TextField(blank=True)
    health_history = models.JSONField(default=list, blank=True, help_text='[{"at", "state", "note"}], newest last.')
    max_loras = models.PositiveSmallIntegerField(default=4)
    max_lora_rank = models.PositiveSmallIntegerField(default=64)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    task_name = "deploy.serve_deployment"
    max_attempts = 20  # a server runs for weeks: each claim after a lost worker counts

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["slot"], condition=Q(status__in=["queued", "running"]), name="deployment_one_active_per_slot"
            ),
        ]

    def __str__(self) -> str:
        return f"deployment {self.pk} ({self.slot})"

    @property
    def root_url(self) -> str:
        return f"http://{settings.PARLEY_SERVE_HOST}:{self.port}" if self.port else ""

    @property
    def served_base_name(self) -> str:
        """The model name the server answers to for the bare base."""
        return self.base.name


class DeploymentAdapter(models.Model):
    class State(models.TextChoices):
        LOADING = "loading", "Loading"
        LOADED = "loaded", "Loaded"
        FAILED = "failed", "Failed"
        REMOVING = "removing", "Removing"

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="adapters")
    version = models.ForeignKey("registry.ModelVersion", on_delete=models.PROTECT, related_name="deployed_as")
    served_name = models.CharField(max_length=200)
    state = models.CharField(max_length=12, choices=State.choices, default=State.LOADING)
    loaded_path = models.CharField(max_length=500, blank=True, help_text="The adapter the server holds now.")
    loaded_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["served_name"]
        constraints = [
            models.UniqueConstraint(fields=["deployment", "served_name"], name="deploymentadapter_name"),
        ]

    def __str__(self) -> str:
        return f"{self.served_name} on {self.deployment}"
