"""REST endpoints (token auth for scripts): reports for leads, the blind panel for evaluators.

The panel endpoints answer with labels only; the label → system map never leaves the server."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response as ApiResponse
from rest_framework.views import APIView

from evaluation.api_serializers import (
    EvalSetSerializer,
    PanelItemSerializer,
    PanelSubmitSerializer,
    PanelSubmittedSerializer,
    ReportSerializer,
)
from evaluation.models import EvalSet, PanelAssignment
from evaluation.selectors.panels import panel_view
from evaluation.selectors.reports import eval_report, eval_report_detail
from evaluation.selectors.sets import eval_set_list
from evaluation.services.panels import panel_assignment_next, panel_judgments_submit
from kernel.roles import Role

LEADS = (Role.REVIEWER, Role.ML_ENGINEER)


class EvalSetListApi(APIView):
    required_roles = LEADS

    @extend_schema(responses={200: EvalSetSerializer(many=True)})
    def get(self, request):
        rows = [
            {
                "id": s.pk,
                "name": s.name,
                "version": s.version,
                "kind": s.kind,
                "items": s.n_items,
                "frozen": s.is_frozen,
            }
            for s in eval_set_list()
        ]
        return ApiResponse(rows)


class EvalReportApi(APIView):
    """``?detail=1`` adds intervals, agreement and pre-scores to the ``eval_report --json`` shape."""

    required_roles = LEADS

    @extend_schema(responses={200: ReportSerializer})
    def get(self, request, pk: int):
        eval_set = get_object_or_404(EvalSet, pk=pk)
        if request.query_params.get("detail"):
            return ApiResponse(eval_report_detail(eval_set=eval_set))
        return ApiResponse(eval_report(eval_set=eval_set))


def _blind(assignment: PanelAssignment) -> dict:
    view = panel_view(assignment=assignment)
    transcript = []
    for row in view["transcript"]:
        if "message" in row:
            transcript.append({"turn": row["turn"], "role": row["message"].role, "content": row["message"].content})
        else:
            transcript.append({"turn": row["turn"], "responses": row["responses"]})
    return {
        "assignment": assignment.pk,
        "kind": view["eval_set"].kind,
        "dialogue": view["item"].external_id,
        "case": view["case"],
        "labels": view["labels"],
        "turns": view["turns"],
        "transcript": transcript,
    }


class PanelNextApi(APIView):
    required_roles = (Role.EVALUATOR,)

    @extend_schema(request=None, responses={200: PanelItemSerializer})
    def post(self, request):
        """Reserve the next item for the caller (a POST: a reservation is a write)."""
        assignment = panel_assignment_next(user=request.user)
        if assignment is None:
            return ApiResponse({"detail": "Nothing left to rate."}, status=status.HTTP_404_NOT_FOUND)
        return ApiResponse(_blind(assignment))


class PanelSubmitApi(APIView):
    """POST ``{"answers": {"A": {"rating": 4, "excellent_turns": [2], "skills": {...}}, ...}}``."""

    required_roles = (Role.EVALUATOR,)

    @extend_schema(request=PanelSubmitSerializer, responses={201: PanelSubmittedSerializer})
    def post(self, request, pk: int):
        assignment = get_object_or_404(PanelAssignment, pk=pk, rater=request.user)
        body = PanelSubmitSerializer(data=request.data)
        if not body.is_valid():
            return ApiResponse({"detail": "answers must map each label to an object"}, status=400)
        judgments = panel_judgments_submit(assignment=assignment, answers=body.validated_data["answers"])
        return ApiResponse({"judged": len(judgments)}, status=status.HTTP_201_CREATED)
