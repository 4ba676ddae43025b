"""Dataset snapshots, training jobs and what a running job reports (metrics, samples).

A job is a status row (``kernel.status``): only the kernel's guarded transitions change ``status``. The
engine never sees these rows; it reads ``config.json`` and writes files into ``run_dir`` (ADR 0003,
``engine.rundir``), which the Celery task tails back in here.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation.services.exports import export_kind_choices
from kernel.fields import JSON_DOCUMENT_BYTES, JSON_SMALL_BYTES, NOTE_CHARS, JSONLimitValidator, LimitedTextField
from kernel.status import Status, StatusRow


class DatasetSnapshot(models.Model):
    """An immutable training file: written once under ``ARTIFACTS_ROOT``, never edited, named by sha256."""

    name = models.CharField(max_length=200)
    # A snapshot is a frozen export: its kinds are the export kinds (a new one needs no migration).
    kind = models.CharField(max_length=30, choices=export_kind_choices)
    filters = models.JSONField(default=dict, blank=True, validators=[JSONLimitValidator(JSON_SMALL_BYTES)])
    path = models.CharField(max_length=500, help_text="The JSONL training file.")
    sidecar_path = models.CharField(max_length=500, help_text="Provenance JSONL joined by row number.")
    sha256 = models.CharField(max_length=64, db_index=True)
    row_count = models.PositiveIntegerField(default=0)
    counts_by_provenance = models.JSONField(default=dict, blank=True)
    pairs = models.ManyToManyField("annotation.PreferencePair", blank=True, related_name="snapshots")
    bad_cases = models.ManyToManyField("annotation.BadCase", blank=True, related_name="snapshots")
    note = LimitedTextField(max_length=NOTE_CHARS, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=~Q(sha256=""), name="snapshot_sha256_required")]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind}, {self.row_count} rows)"


class Method(models.TextChoices):
    RM = "rm", "Reward model (RM)"
    SFT = "sft", "SFT"
    DPO = "dpo", "DPO"
    PPO = "ppo", "PPO"
    GRPO = "grpo", "GRPO"
    REPO = "repo", "REPO"


class TrainingJob(StatusRow):
    """One engine run: its inputs (lineage), its engine config and its life on a GPU worker (the
    status, lease, worker, run directory, error, final ``metrics`` and times of ``StatusRow``)."""

    task_name = "training_jobs.run_training_job"
    # A crash resumes from the last checkpoint, so a job may take a few more tries than a short run.
    max_attempts = 5

    name = models.CharField(max_length=200)
    method = models.CharField(max_length=10, choices=Method.choices)
    # -- inputs (what the output model's lineage names) -----------------------------------------
    base_model = models.ForeignKey("registry.ModelVersion", on_delete=models.PROTECT, related_name="+")
    snapshots = models.ManyToManyField(DatasetSnapshot, related_name="jobs")
    reward_config = models.ForeignKey(
        "rewards.RewardConfig", null=True, blank=True, on_delete=models.PROTECT, related_name="jobs"
    )
    config = models.JSONField(
        default=dict,
        validators=[JSONLimitValidator(JSON_DOCUMENT_BYTES)],
        help_text="The engine config.json as written (preset auto: the chosen values until a worker claims it).",
    )
    preset = models.CharField(
        max_length=10,
        default="auto",
        help_text="tiny or paper: the preset the job ran with; auto until the worker that claims it decides.",
    )
    budget_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The run whose budget (steps, batch, epochs) this one copied for a fair baseline.",
    )
    processes = models.PositiveSmallIntegerField(default=1, help_text="torchrun processes (GPUs) per node.")
    nodes = models.PositiveSmallIntegerField(
        default=1, help_text="Machines (workers of the job's queue), each running one rank group of `processes`."
    )
    rendezvous = models.CharField(
        max_length=300, blank=True, help_text="host:port of the rendezvous the rank-0 worker published (multi-node)."
    )
    priority = models.SmallIntegerField(default=0, help_text="Higher runs first among queued jobs.")
    # -- execution (beside StatusRow's) ----------------------------------------------------------
    progress = models.JSONField(default=dict, blank=True)
    output_model = models.ForeignKey(
        "registry.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="produced_by"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "queue"]),
            models.Index(fields=["-created_at", "-id"], name="job_list_order"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(processes__gte=1), name="job_processes_positive"),
            models.CheckConstraint(condition=Q(nodes__gte=1), name="job_nodes_positive"),
            models.CheckConstraint(condition=Q(status__in=Status.values), name="job_status_valid"),
        ]

    def __str__(self) -> str:
        return f"job {self.pk} {self.name} ({self.method}, {self.status})"


class JobNode(models.Model):
    """One node (one worker and its rank group) of a multi-node job, for one attempt of the job.

    The rank-0 worker, which holds the job's own lease, creates the rows of an attempt; each other node's
    delivery claims its row and holds a lease on it like a status row (``lease_owner``, ``heartbeat_at``,
    ``kernel.status``'s style). The group lives and dies as a whole: a node that stops beating or fails
    ends the attempt on every node (``training_jobs.services.nodes``)."""

    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="node_rows")
    index = models.PositiveSmallIntegerField(help_text="0 hosts the rendezvous and holds the job's lease.")
    attempt = models.PositiveSmallIntegerField(help_text="The job's attempt this node belongs to.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    lease_owner = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker_host = models.CharField(max_length=200, blank=True)
    worker_pid = models.IntegerField(null=True, blank=True)
    engine_pid = models.IntegerField(null=True, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "index"]
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="job_node_unique_index")]

    def __str__(self) -> str:
        return f"job {self.job_id} node {self.index} (attempt {self.attempt}, {self.status})"


class JobMetric(models.Model):
    """One ``metrics.jsonl`` line: every metric the engine logged at ``step``."""

    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="metric_lines")
    step = models.PositiveIntegerField()
    data = models.JSONField(default=dict)

    class Meta:
        ordering = ["job", "step"]
        constraints = [models.UniqueConstraint(fields=["job", "step"], name="job_metric_unique_step")]

    def __str__(self) -> str:
        return f"job {self.job_id} step {self.step}"


class JobSample(models.Model):
    """A generated reply the engine logged during training, with its reward breakdown."""

    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="samples")
    step = models.PositiveIntegerField()
    index = models.PositiveIntegerField(default=0)
    data = models.JSONField(default=dict)

    class Meta:
        ordering = ["job", "step", "index"]
        constraints = [
            models.UniqueConstraint(fields=["job", "step", "index"], name="job_sample_unique"),
        ]

    def __str__(self) -> str:
        return f"job {self.job_id} step {self.step} sample {self.index}"
