"""Viewsets for /users/, /ml/, /mlresults/ and /mlprepare/: HTTP in, records out.

Every query is scoped to ``request.user``: another user's record is a 404.
Lists keep the original envelope (``{"jobs": [...]}``) plus paging keys.
Bodies are validated by their serializers (api/ml/serializers.py: the ML
request through ``parse_request``), work is submitted by api/ml/submit.py,
and every refusal is raised, to be answered by the one error handler
(api/ml/errors.py).
"""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import User
from drf_yasg import openapi
from drf_yasg.utils import no_body, swagger_auto_schema
from rest_framework import permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from antinex.api.ml import jobs, submit
from antinex.api.ml.errors import Refused
from antinex.api.ml.models import MLJob, MLJobResult, MLPrepare
from antinex.api.ml.notify import wait_slot, wait_until
from antinex.api.ml.public import job_public, scrub
from antinex.api.ml.records import DONE
from antinex.api.ml.serializers import MLJobRequestSerializer, MLPrepareRequestSerializer, UserSerializer
from antinex.utils.limits import LIMITS
from antinex.utils.request import RequestError, require_data


class Paging(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class RetryStaleConnection:
    """Answer a read once more on a fresh database connection before saying 503.

    Each server thread keeps its database connection between requests. After
    PostgreSQL restarts, a kept connection can fail its first query although
    the database is back; a read (GET, HEAD) is then answered again on a new
    connection, and only a second failure is a 503. Writes are never repeated.
    """

    def dispatch(self, request, *args, **kwargs):
        response = super().dispatch(request, *args, **kwargs)
        if request.method in ("GET", "HEAD") and getattr(response, "database_unavailable", False):
            from django.db import connection

            connection.close()
            response = super().dispatch(request, *args, **kwargs)
        return response


class UserViewSet(RetryStaleConnection, viewsets.ViewSet):
    """Register (open), read and update oneself."""

    serializer_class = UserSerializer

    def get_permissions(self):
        if self.action == "create":
            return [permissions.AllowAny()]
        return [permissions.IsAuthenticated()]

    @swagger_auto_schema(request_body=UserSerializer, responses={201: UserSerializer})
    def create(self, request):
        ser = UserSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        return Response(UserSerializer(ser.save()).data, status=201)

    def list(self, request):
        return Response(UserSerializer(request.user).data)

    def _self(self, request, pk) -> User:
        if str(pk) != str(request.user.pk):
            raise NotFound("not found")
        return request.user

    def retrieve(self, request, pk=None):
        return Response(UserSerializer(self._self(request, pk)).data)

    @swagger_auto_schema(request_body=UserSerializer, responses={200: UserSerializer})
    def update(self, request, pk=None):
        ser = UserSerializer(self._self(request, pk), data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        return Response(UserSerializer(ser.save()).data)


class OwnedViewSet(RetryStaleConnection, viewsets.ViewSet):
    """Shared list/retrieve/destroy for records owned by the requesting user."""

    model = None
    envelope = ""

    def queryset(self, request):
        return self.model.objects.filter(user=request.user).select_related("user").order_by("-created", "-id")

    def get_object(self, request, pk):
        try:
            return self.queryset(request).get(pk=int(pk))
        except (ValueError, TypeError, self.model.DoesNotExist):
            raise NotFound("not found") from None

    def render(self, obj, request) -> dict:
        return scrub(obj.public(), jobs.data_space(request.user.id))

    def list(self, request):
        paginator = Paging()
        page = paginator.paginate_queryset(self.queryset(request), request, view=self)
        return Response({self.envelope: [self.render(o, request) for o in page], "count": paginator.page.paginator.count,
                         "next": paginator.get_next_link(), "previous": paginator.get_previous_link()})

    def retrieve(self, request, pk=None):
        return Response(self.render(self.get_object(request, pk), request))

    def destroy(self, request, pk=None):
        self.get_object(request, pk).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class MLJobViewSet(OwnedViewSet):
    """Train or predict: POST the original request JSON."""

    model = MLJob
    envelope = "jobs"
    serializer_class = MLJobRequestSerializer

    def render(self, obj, request) -> dict:
        return job_public(obj, jobs.data_space(request.user.id))

    @swagger_auto_schema(request_body=MLJobRequestSerializer)
    def create(self, request):
        """201 ``{"job", "results"}`` (plus ``ignored_fields`` when the body carries legacy fields that have
        no effect here); 503 with the same records when the broker did not take the job."""
        space = jobs.data_space(request.user.id)
        ser = MLJobRequestSerializer(data=request.data, context={"space": space, "limits": LIMITS})
        ser.is_valid(raise_exception=True)
        req = ser.validated_data
        require_data(req)
        done = submit.submit_job(request.user, req)
        answer = {"job": self.render(done.job, request), "results": scrub(done.result.public(), space)}
        if req.ignored:
            answer["ignored_fields"] = req.ignored
        if not done.queued:
            raise Refused(status.HTTP_503_SERVICE_UNAVAILABLE, None, done.job.error_data.get("error", ""), **answer)
        return Response(answer, status=status.HTTP_201_CREATED)

    def destroy(self, request, pk=None):
        """Delete the job and its results; a running job is stopped at its next batch first."""
        job = self.get_object(request, pk)
        jobs.cancel_job(job)
        job.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    @swagger_auto_schema(request_body=no_body, responses={200: "the job, now cancelled", 409: "already over"})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Stop a queued or running job: a running one stops at its next training batch."""
        job = self.get_object(request, pk)
        if not jobs.cancel_job(job):
            raise Refused(status.HTTP_409_CONFLICT, "id", f"job {job.id} is already {job.status}")
        job.refresh_from_db()
        return Response(self.render(job, request))


def wait_seconds(request) -> float:
    """The ``wait`` query parameter: seconds to hold the answer until the result is done (0: don't)."""
    raw = request.query_params.get("wait")
    if raw in (None, ""):
        return 0.0
    limit = settings.ANTINEX_MAX_WAIT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= limit:  # also refuses NaN
        raise RequestError("wait", f"must be a number of seconds from 0 to {limit:g}, got {raw[:40]!r}")
    return value


WAIT_PARAMETER = openapi.Parameter(
    "wait", openapi.IN_QUERY, type=openapi.TYPE_NUMBER, minimum=0, maximum=settings.ANTINEX_MAX_WAIT_SECONDS,
    description="Hold the answer up to this many seconds until the result is finished or failed "
                "(a long poll: one request instead of polling).")


class MLJobResultViewSet(OwnedViewSet):
    """Results: accuracy and metrics, model, history, predictions."""

    model = MLJobResult
    envelope = "results"

    def render(self, obj, request) -> dict:
        # lists carry no predictions (they can be 100,000 rows each); an item does
        return scrub(obj.public(include_predictions=self.action != "list"), jobs.data_space(request.user.id))

    @swagger_auto_schema(manual_parameters=[WAIT_PARAMETER])
    def retrieve(self, request, pk=None):
        wait = wait_seconds(request)
        obj = self.get_object(request, pk)
        busy = False
        if wait and obj.status not in DONE:
            with wait_slot() as may_wait:
                if may_wait:
                    rows = self.queryset(request).filter(pk=obj.pk)
                    wait_until(lambda: rows.filter(status__in=DONE).exists(), obj.pk, wait)
                    obj = self.get_object(request, pk)  # finished, failed, deleted meanwhile (404) or running
                busy = not may_wait
        # "busy": every wait slot of this process is taken; the answer did not wait (poll instead)
        return Response(self.render(obj, request), headers={"Antinex-Wait": "busy"} if busy else None)


class MLPrepareViewSet(OwnedViewSet):
    """Merge recorded CSVs into training files."""

    model = MLPrepare
    envelope = "prepares"
    serializer_class = MLPrepareRequestSerializer

    @swagger_auto_schema(request_body=MLPrepareRequestSerializer)
    def create(self, request):
        space = jobs.data_space(request.user.id)
        ser = MLPrepareRequestSerializer(data=request.data, context={"space": space})
        ser.is_valid(raise_exception=True)
        prep = submit.submit_prepare(request.user, ser.validated_data, space)
        return Response(self.render(prep, request), status=status.HTTP_201_CREATED)
