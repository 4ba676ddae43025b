"""REST API of the production loop (token auth as the rest of the API; ML engineers and admins):
production-log intake, lineage both ways, registry stages, and the A/B report. Views are adapters: one
service call each; refusals become 4xx in ``kernel.refusals.api_exception_handler``."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import BadCase
from deploy.gateway_models import SlotGuardrail, SlotRoute
from deploy.services.abtest import ab_report, ab_report_json
from deploy.services.gateway_config import slot_guardrail_set, slot_routes_set
from deploy.services.intake import IntakeError, intake_conversations
from deploy.services.lineage import bad_case_lineage, version_lineage
from kernel.roles import Role
from registry.models import ModelVersion
from registry.services import version_promote, version_stage_set

ML = (Role.ML_ENGINEER,)
MAX_BODY_BYTES = 20 * 1024 * 1024
TOO_LARGE = f"The body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB: send smaller batches."


class IntakeResultSerializer(serializers.Serializer):
    created = serializers.ListField(child=serializers.DictField())
    existing = serializers.ListField(child=serializers.CharField())
    bad_cases = serializers.IntegerField()
    queued = serializers.IntegerField()


class ConversationIntake(APIView):
    """POST a batch of production conversations (docs/deploy.md, "Production-log intake")."""

    required_roles = ML

    @extend_schema(request=None, responses={201: IntakeResultSerializer, 200: IntakeResultSerializer})
    def post(self, request):
        if int(request.headers.get("Content-Length") or 0) > MAX_BODY_BYTES:
            raise IntakeError([TOO_LARGE], status=413)
        result = intake_conversations(
            request.data, source=request.query_params.get("source") or "api", user=request.user
        )
        body = {
            "created": [
                {"external_id": c.external_id, "id": c.pk, "dialogue": c.dialogue_id, "sampled": c.sampled}
                for c in result.created
            ],
            "existing": result.existing,
            "bad_cases": result.bad_cases,
            "queued": result.queued,
        }
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class VersionLineage(APIView):
    required_roles = ML

    @extend_schema(responses={200: dict})
    def get(self, request, pk: int):
        return Response(version_lineage(get_object_or_404(ModelVersion, pk=pk)))


class BadCaseLineage(APIView):
    required_roles = ML

    @extend_schema(responses={200: dict})
    def get(self, request, pk: int):
        return Response(bad_case_lineage(get_object_or_404(BadCase, pk=pk)))


class StageSerializer(serializers.Serializer):
    stage = serializers.CharField(max_length=20)
    slot = serializers.CharField(required=False, allow_blank=True, max_length=100)


class VersionStage(APIView):
    """Move a version to a stage (409 when the move is not allowed or the slot has a production version)."""

    required_roles = ML

    @extend_schema(request=StageSerializer, responses={200: dict})
    def post(self, request, pk: int):
        data = StageSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = get_object_or_404(ModelVersion, pk=pk)
        version = version_stage_set(
            version=version,
            stage=data.validated_data["stage"],
            slot=data.validated_data.get("slot"),
            actor=request.user,
        )
        return Response({"id": version.pk, "name": version.name, "stage": version.stage, "slot": version.slot})


class ABReport(APIView):
    required_roles = ML

    @extend_schema(responses={200: dict})
    def get(self, request, slot: str):
        return Response(ab_report_json(ab_report(slot)))


class PromoteSerializer(serializers.Serializer):
    version = serializers.IntegerField()


class ABPromote(APIView):
    required_roles = ML

    @extend_schema(request=PromoteSerializer, responses={200: dict})
    def post(self, request, slot: str):
        data = PromoteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = get_object_or_404(ModelVersion, pk=data.validated_data["version"])
        version = version_promote(version=version, slot=slot, actor=request.user, note="A/B report")
        return Response({"id": version.pk, "name": version.name, "stage": version.stage, "slot": version.slot})


class SlotRoutes(APIView):
    """GET / PUT a slot's A/B routes: ``[{"version": ID or name, "weight": 1}, ...]`` (docs/deploy.md)."""

    required_roles = ML

    def _answer(self, slot: str) -> Response:
        rows = SlotRoute.objects.filter(slot=slot).select_related("version")
        return Response({"slot": slot, "routes": [{"version": r.version.name, "weight": r.weight} for r in rows]})

    @extend_schema(request=None, responses={200: dict})
    def get(self, request, slot: str):
        return self._answer(slot)

    @extend_schema(request=None, responses={200: dict})
    def put(self, request, slot: str):
        routes = request.data.get("routes") if isinstance(request.data, dict) else request.data
        slot_routes_set(slot=slot, routes=routes, actor=request.user)
        return self._answer(slot)


class SlotGuardrailView(APIView):
    """GET / PUT a slot's guardrail: ``{"mode": "regenerate", "retries": 2, "rules": [], "fallback_reply": ""}``."""

    required_roles = ML

    @staticmethod
    def _body(row) -> dict:
        return {"slot": row.slot, "mode": row.mode, "retries": row.retries, "rules": row.rules,
                "fallback_reply": row.fallback_reply}  # fmt: skip

    @extend_schema(request=None, responses={200: dict})
    def get(self, request, slot: str):
        return Response(self._body(SlotGuardrail.objects.filter(slot=slot).first() or SlotGuardrail(slot=slot)))

    @extend_schema(request=None, responses={200: dict})
    def put(self, request, slot: str):
        return Response(self._body(slot_guardrail_set(slot=slot, data=request.data, actor=request.user)))
