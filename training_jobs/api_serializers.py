"""Serializers of the jobs REST API: output shapes, and input shapes the services validate further."""

from rest_framework import serializers

from annotation.services.exports import export_kind_choices
from kernel.fields import NOTE_CHARS
from registry.models import ModelVersion
from rewards.models import RewardConfig
from training_jobs.models import DatasetSnapshot, JobNode, Method, TrainingJob
from training_jobs.services.engine_config import PRESET_AUTO, PRESET_CHOICES


class SnapshotSerializer(serializers.ModelSerializer):
    class Meta:
        model = DatasetSnapshot
        fields = [
            "id",
            "name",
            "kind",
            "filters",
            "path",
            "sidecar_path",
            "sha256",
            "row_count",
            "counts_by_provenance",
            "note",
            "created_at",
        ]
        read_only_fields = fields


class SnapshotCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=export_kind_choices())
    filters = serializers.DictField(required=False, default=dict)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=NOTE_CHARS)


class JobNodeSerializer(serializers.ModelSerializer):
    """One node of a multi-node job's current attempt."""

    class Meta:
        model = JobNode
        fields = [
            "index",
            "attempt",
            "status",
            "worker_host",
            "worker_pid",
            "engine_pid",
            "heartbeat_at",
            "exit_code",
            "error",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class JobSerializer(serializers.ModelSerializer):
    snapshots = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    node_rows = JobNodeSerializer(many=True, read_only=True)
    output_model = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = TrainingJob
        fields = [
            "id",
            "name",
            "method",
            "status",
            "base_model",
            "snapshots",
            "reward_config",
            "budget_from",
            "processes",
            "nodes",
            "rendezvous",
            "node_rows",
            "queue",
            "priority",
            "config",
            "preset",
            "progress",
            "metrics",
            "error",
            "attempts",
            "worker_host",
            "worker_pid",
            "engine_pid",
            "heartbeat_at",
            "run_dir",
            "output_model",
            "cancel_requested",
            "created_at",
            "queued_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class JobCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    method = serializers.ChoiceField(choices=Method.choices)
    base_model = serializers.PrimaryKeyRelatedField(queryset=ModelVersion.objects.all())
    snapshots = serializers.PrimaryKeyRelatedField(queryset=DatasetSnapshot.objects.all(), many=True)
    reward_config = serializers.PrimaryKeyRelatedField(
        queryset=RewardConfig.objects.all(), required=False, allow_null=True, default=None
    )
    hyperparameters = serializers.DictField(required=False, default=dict)
    preset = serializers.ChoiceField(choices=PRESET_CHOICES, required=False, default=PRESET_AUTO)
    processes = serializers.IntegerField(required=False, default=1, help_text="torchrun processes (GPUs) per node.")
    nodes = serializers.IntegerField(
        required=False, default=1, help_text="Machines (workers of the queue), one rank group of `processes` each."
    )
    queue = serializers.CharField(required=False, default="gpu", max_length=50)
    priority = serializers.IntegerField(required=False, default=0)
    budget_from = serializers.PrimaryKeyRelatedField(
        queryset=TrainingJob.objects.all(), required=False, allow_null=True, default=None
    )


class MetricsSerializer(serializers.Serializer):
    status = serializers.CharField()
    steps = serializers.ListField(child=serializers.IntegerField())
    series = serializers.DictField(child=serializers.ListField(child=serializers.FloatField(allow_null=True)))
