"""REST API for scripts (token auth): create snapshots and jobs, read their status, cancel a job.
Views are adapters: parse with a serializer, call one service, answer with the output serializer; a
service's refusal becomes its 4xx in ``kernel.refusals.api_exception_handler``."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from kernel.roles import Role
from training_jobs import selectors
from training_jobs.api_serializers import (
    JobCreateSerializer,
    JobSerializer,
    MetricsSerializer,
    SnapshotCreateSerializer,
    SnapshotSerializer,
)
from training_jobs.models import DatasetSnapshot, TrainingJob
from training_jobs.services.jobs import job_cancel, job_create
from training_jobs.services.snapshots import snapshot_create

ML = (Role.ML_ENGINEER,)


class SnapshotListCreate(generics.ListAPIView):
    required_roles = ML
    serializer_class = SnapshotSerializer
    queryset = DatasetSnapshot.objects.order_by("-created_at")

    @extend_schema(request=SnapshotCreateSerializer, responses={201: SnapshotSerializer})
    def post(self, request):
        data = SnapshotCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        snap = snapshot_create(created_by=request.user, **data.validated_data)
        return Response(SnapshotSerializer(snap).data, status=status.HTTP_201_CREATED)


class SnapshotDetail(generics.RetrieveAPIView):
    required_roles = ML
    serializer_class = SnapshotSerializer
    queryset = DatasetSnapshot.objects.all()


class JobListCreate(generics.ListAPIView):
    required_roles = ML
    serializer_class = JobSerializer
    queryset = TrainingJob.objects.prefetch_related("snapshots", "node_rows").order_by("-created_at", "-id")

    @extend_schema(request=JobCreateSerializer, responses={201: JobSerializer})
    def post(self, request):
        data = JobCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = job_create(created_by=request.user, **data.validated_data)
        return Response(JobSerializer(job).data, status=status.HTTP_201_CREATED)


class JobDetail(generics.RetrieveAPIView):
    required_roles = ML
    serializer_class = JobSerializer
    queryset = TrainingJob.objects.prefetch_related("snapshots", "node_rows")


class JobCancel(APIView):
    required_roles = ML

    @extend_schema(request=None, responses={200: JobSerializer})
    def post(self, request, pk: int):
        job = job_cancel(job=get_object_or_404(TrainingJob, pk=pk), actor=request.user)
        return Response(JobSerializer(job).data)


class JobMetrics(APIView):
    required_roles = ML

    @extend_schema(responses={200: MetricsSerializer})
    def get(self, request, pk: int):
        job = get_object_or_404(TrainingJob, pk=pk)
        return Response({"status": job.status, **selectors.job_metric_series(job=job)})
