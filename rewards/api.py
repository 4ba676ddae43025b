"""REST API for reward documents (token auth, under /api/jobs/rewards/): list versions of a rule set or
rubric, read one, save a new one, and score a reply with the rules. Adapters over the same services
as the pages: a refused save is a 400 listing every problem, nothing written."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from engine.task import message_errors, task_errors
from kernel.fields import NOTE_CHARS
from kernel.roles import Role
from rewards.models import RubricVersion, RuleSetVersion
from rewards.selectors import DEFAULT_NAME, document_version_get, document_versions
from rewards.services.playground import playground_evaluate
from rewards.services.versions import rubric_version_create, rule_set_version_create

ML = (Role.ML_ENGINEER,)
KINDS = {"rule_set": (RuleSetVersion, rule_set_version_create), "rubric": (RubricVersion, rubric_version_create)}


class VersionSerializer(serializers.Serializer):
    name = serializers.CharField()
    version = serializers.IntegerField()
    note = serializers.CharField()
    created_by = serializers.CharField(allow_null=True, source="created_by.username", default=None)
    created_at = serializers.DateTimeField()


class VersionDetailSerializer(VersionSerializer):
    document = serializers.JSONField()


class VersionCreateSerializer(serializers.Serializer):
    document = serializers.JSONField()
    note = serializers.CharField(allow_blank=True, max_length=NOTE_CHARS)
    base_version = serializers.IntegerField(required=False, allow_null=True, min_value=1)


class ScoreRequestSerializer(serializers.Serializer):
    reply = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=8000)
    task = serializers.JSONField()
    history = serializers.ListField(child=serializers.DictField(), required=False, default=list)
    rule_set = serializers.CharField(
        required=False, default=DEFAULT_NAME, max_length=200, help_text="name, or name@version"
    )

    def validate_task(self, value):
        if problems := task_errors(value):
            raise ValidationError(problems)
        return value

    def validate_history(self, value):
        if problems := [f"#{i}: {e}" for i, message in enumerate(value) for e in message_errors(message)]:
            raise ValidationError(problems)
        return value


class RuleVerdictSerializer(serializers.Serializer):
    rule = serializers.CharField()
    fired = serializers.BooleanField()
    points = serializers.FloatField()
    evidence = serializers.CharField()
    span = serializers.ListField(child=serializers.IntegerField(), allow_null=True)


class ScoreSerializer(serializers.Serializer):
    rule_set = serializers.CharField()
    e_func = serializers.FloatField()
    rules = RuleVerdictSerializer(many=True)


class DocumentVersions(APIView):
    """GET: the versions of one rule set or rubric, newest first. POST: save a new version."""

    required_roles = ML
    kind = "rule_set"

    @extend_schema(responses=VersionSerializer(many=True))
    def get(self, request, name: str):
        rows = document_versions(model=KINDS[self.kind][0], name=name)
        return Response(VersionSerializer(rows, many=True).data)

    @extend_schema(request=VersionCreateSerializer, responses={201: VersionDetailSerializer})
    def post(self, request, name: str):
        payload = VersionCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        row = KINDS[self.kind][1](name=name, user=request.user, **payload.validated_data)  # refusals: 400 + errors
        return Response(VersionDetailSerializer(row).data, status=status.HTTP_201_CREATED)


class DocumentVersionDetail(APIView):
    """One version with its document (``latest`` in place of the number for the newest)."""

    required_roles = ML
    kind = "rule_set"

    @extend_schema(responses=VersionDetailSerializer)
    def get(self, request, name: str, version: int | None = None):
        row = document_version_get(model=KINDS[self.kind][0], name=name, version=version)
        return Response(VersionDetailSerializer(row).data)


class RuleScore(APIView):
    """Score a reply with a stored rule set (the playground's rules, without the judge or the RM)."""

    required_roles = ML

    @extend_schema(request=ScoreRequestSerializer, responses=ScoreSerializer)
    def post(self, request):
        payload = ScoreRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        name, _, version = data["rule_set"].partition("@")
        if version and not version.isdigit():
            raise ValidationError({"rule_set": ["use name or name@version"]})
        row = document_version_get(model=RuleSetVersion, name=name, version=int(version) if version else None)
        result = playground_evaluate(
            reply=data["reply"], task=data["task"], history=data["history"], rule_document=row.document
        )
        rules = [
            {
                "rule": v.rule,
                "fired": v.fired,
                "points": v.points if v.fired else 0.0,
                "evidence": v.evidence,
                "span": list(v.span) if v.span else None,
            }
            for v in result.rules
        ]
        return Response({"rule_set": f"{row.name}@{row.version}", "e_func": result.e_func, "rules": rules})
