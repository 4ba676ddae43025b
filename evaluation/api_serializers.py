"""Shapes of the evaluation API (for validation and the OpenAPI schema)."""

from rest_framework import serializers

from engine.vocab import EVAL_SET_KINDS


class EvalSetSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    version = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=EVAL_SET_KINDS)
    items = serializers.IntegerField()
    frozen = serializers.BooleanField()


class ReportSerializer(serializers.Serializer):
    """``eval_report --json``'s shape; ``?detail=1`` adds ``version``, ``agreement`` and per-system extras."""

    eval_set = serializers.CharField()
    kind = serializers.CharField()
    systems = serializers.DictField(child=serializers.DictField())
    pending = serializers.DictField(child=serializers.IntegerField())


class PanelItemSerializer(serializers.Serializer):
    """One blind item: responses appear under labels only."""

    assignment = serializers.IntegerField()
    kind = serializers.CharField()
    dialogue = serializers.CharField()
    case = serializers.DictField()
    labels = serializers.ListField(child=serializers.CharField())
    turns = serializers.ListField(child=serializers.IntegerField())
    transcript = serializers.ListField(child=serializers.DictField())


class PanelSubmitSerializer(serializers.Serializer):
    """``{"answers": {"A": {"rating": 4, "excellent_turns": [2], "skills": {...}}, "B": {...}}}``
    (bad cases: ``{"fix_status": "clean", "skills": {...}}``)."""

    answers = serializers.DictField(child=serializers.DictField())


class PanelSubmittedSerializer(serializers.Serializer):
    judged = serializers.IntegerField()
