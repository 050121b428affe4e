"""Viewsets for /users/, /ml/, /mlresults/, /mlprepare/ and the token endpoint.

Every query is scoped to ``request.user``: another user's record is a 404.
Lists keep the original envelope (``{"jobs": [...]}``) plus paging keys.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.contrib.auth.models import User
from drf_yasg import openapi
from drf_yasg.utils import swagger_auto_schema
from rest_framework import permissions, status, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.views import TokenObtainPairView

from api.ml import dispatch
from api.ml.errors import request_error_response
from api.ml.models import MLJob, MLJobResult, MLPrepare
from api.ml.notify import wait_slot, wait_until
from api.ml.records import DONE, mark
from api.ml.serializers import MLJobRequestSerializer, MLPrepareRequestSerializer, UserSerializer, json_field
from utils.request import RequestError, parse_request, require_data

log = logging.getLogger(__name__)


def _first_error(detail) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            return f"{key}: {_first_error(value)}" if key != "non_field_errors" else _first_error(value)
    if isinstance(detail, list) and detail:
        return _first_error(detail[0])
    return str(detail)


PREPARE_TEXT_FIELDS = ("title", "desc", "ds_glob_path", "ds_dir", "full_file", "clean_file", "output_dir",
                       "meta_suffix")


def _refuse(field: str, reason: str, error: str = "") -> Response:
    """The API's 400 shape: which field, and why."""
    return Response({"error": error or f"{field}: {reason}", "field": field, "reason": reason}, status=400)


def unstorable(value, path: str = "body") -> str | None:
    """Where ``value`` holds text PostgreSQL cannot store (NUL, lone surrogates), or None."""
    if isinstance(value, str):
        if "\x00" in value:
            return path
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            bad = unstorable(k, f"{path} key") if isinstance(k, str) else None
            bad = bad or unstorable(v, f"{path}.{k}")
            if bad:
                return bad
    elif isinstance(value, list):
        for i, v in enumerate(value):
            bad = unstorable(v, f"{path}[{i}]")
            if bad:
                return bad
    return None


def _may_be_unstorable(body) -> bool:
    """A fast prefilter for ``unstorable``: one C-level JSON encoding instead of a walk over every cell.

    NUL is always escaped as ``\\u0000`` in JSON, and a lone surrogate cannot
    be encoded to UTF-8; a literal backslash-u0000 in the text is a false
    alarm that the walk then clears.
    """
    try:
        text = json.dumps(body, ensure_ascii=False, default=str)
        text.encode("utf-8")
    except (UnicodeEncodeError, ValueError, TypeError, RecursionError):
        return True
    return "\\u0000" in text


def refuse_unstorable(body) -> Response | None:
    """A 400 naming the first field with NUL characters or lone surrogates."""
    if not _may_be_unstorable(body):
        return None
    bad = unstorable(body)
    if bad is None:
        return None
    field = bad.removeprefix("body.").split(".")[0].split("[")[0].removesuffix(" key") or "body"
    return _refuse(field, f"contains characters that cannot be stored (NUL or lone surrogates) at {bad[:80]!r}")


def check_columns(req) -> None:
    """Named columns must exist in the dataset: checked on the header, before queueing."""
    import pandas as pd

    if req.dataset is None:
        return
    try:
        header = set(pd.read_csv(req.dataset, nrows=0, encoding="utf-8-sig").columns)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise RequestError("dataset", f"cannot read the CSV header of {req.dataset.name}: {exc}") from None
    for name in ("features_to_process", "sort_values"):
        missing = [c for c in getattr(req, name) if c not in header]
        if missing:
            raise RequestError(name, f"unknown columns: {', '.join(missing)}")
    if req.predict_feature not in header and req.predict_rows is None:
        raise RequestError("predict_feature", f"column {req.predict_feature!r} is not in the dataset")


class Paging(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class TokenSerializer(TokenObtainPairSerializer):
    def validate(self, attrs):
        data = super().validate(attrs)
        return {"token": data["access"], "refresh": data["refresh"]}


class TokenView(TokenObtainPairView):
    """POST {"username", "password"} → {"token", "refresh"}; bad credentials → 400 with a reason."""

    serializer_class = TokenSerializer

    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except Exception as exc:  # simplejwt raises AuthenticationFailed (401); the original answered 400
            detail = getattr(exc, "detail", str(exc))
            return Response({"error": _first_error(detail), "non_field_errors": [_first_error(detail)]},
                            status=status.HTTP_400_BAD_REQUEST)
        return Response(serializer.validated_data, status=status.HTTP_200_OK)


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
        if not ser.is_valid():
            return Response({"error": _first_error(ser.errors), **ser.errors}, status=400)
        user = ser.save()
        return Response(UserSerializer(user).data, status=201)

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
        user = self._self(request, pk)
        ser = UserSerializer(user, data=request.data, partial=True)
        if not ser.is_valid():
            return Response({"error": _first_error(ser.errors), **ser.errors}, status=400)
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
        return obj.public()

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
        out = obj.public()
        manifest = dict(out["predict_manifest"])
        if isinstance(manifest.get("predict_rows"), list):
            manifest["predict_rows"] = f"{len(manifest['predict_rows'])} rows"  # rows stay in the database
        out["predict_manifest"] = manifest
        return out

    @swagger_auto_schema(request_body=MLJobRequestSerializer)
    def create(self, request):
        body = request.data
        if not isinstance(body, dict):
            raise ValidationError({"error": "the body must be a JSON object"})
        body = dict(body)
        refused = refuse_unstorable(body)
        if refused:
            return refused
        try:
            req = parse_request(body, datasets_dirs=settings.ANTINEX_DATASETS_DIRS)
            require_data(req)
            check_columns(req)
        except RequestError as exc:
            return request_error_response(exc)
        extra = {name: json_field(body.get(name), name) for name in ("pre_proc", "post_proc", "meta_data")}
        training_data = json_field(body.get("training_data"), "training_data")
        if req.dataset is not None:
            body["dataset"] = str(req.dataset)  # resolved inside the datasets directory
        # one commit for the records, made before the job can reach a worker
        with transaction.atomic():
            job = MLJob.objects.create(
                user=request.user, title=req.title or req.label, desc=req.desc or req.label,
                ds_name=req.ds_name or req.label, algo_name=req.algo_name or req.label, ml_type=req.ml_type,
                predict_feature=req.predict_feature, training_data=training_data, version=req.version, **extra)
            result = MLJobResult.objects.create(user=request.user, job=job, test_size=req.test_size,
                                                csv_file=str(req.dataset or ""), acc_data={"accuracy": -1.0})
            body.pop("training_data", None)
            body.update(job_id=job.id, result_id=result.id, use_model_name=req.label, ml_type=req.ml_type,
                        manifest={"job_id": job.id, "result_id": result.id,
                                  "worker_result_node": dispatch.worker_result_node(job.id, result.id)},
                        **{k: v for k, v in training_data.items() if k not in body})
            body["label"] = f"user_{request.user.id}.{req.label}"  # models are per user, like every record
            body["worker_result_node"] = body["manifest"]["worker_result_node"]
            job.predict_manifest = body
            fields = ["predict_manifest"]
            if settings.ANTINEX_WORKER_ENABLED:
                # "launched" goes in with the records: a failed publish below turns it into an error,
                # and a result that arrives first is never overwritten (no second transaction to race)
                job.status = result.status = "launched"
                fields.append("status")
                result.save(update_fields=["status"])
            job.save(update_fields=fields)
        try:
            if settings.ANTINEX_WORKER_ENABLED:
                dispatch.publish_to_core(body)
            else:
                from api.ml.tasks import task_ml_job

                task_ml_job.delay(job.id, result.id)
        except Exception as exc:  # broker down: the job is recorded with the reason, never lost silently
            log.exception("could not queue job %s", job.id)
            mark(job.id, result.id, "error", f"could not queue the job: {type(exc).__name__}: {exc}")
            job.refresh_from_db()
            return Response({"error": job.error_data.get("error"), "job": self.render(job, request),
                             "results": result.public()}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        # a fast worker may have finished already: answer with the current status
        job.refresh_from_db(fields=["status", "control_state", "error_data", "updated"])
        result.refresh_from_db()
        return Response({"job": self.render(job, request), "results": result.public()}, status=201)


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
        return obj.public(include_predictions=self.action != "list")

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
        body = request.data
        if not isinstance(body, dict):
            raise ValidationError({"error": "the body must be a JSON object"})
        if not body.get("ds_glob_path"):
            return _refuse("ds_glob_path", "missing")
        refused = refuse_unstorable(dict(body))
        if refused:
            return refused
        for name in PREPARE_TEXT_FIELDS:
            value = body.get(name)
            if value is not None and (not isinstance(value, str) or "\x00" in value):
                return _refuse(name, "must be a string without NUL characters")
        try:
            version = int(body.get("version") or 1)
        except (TypeError, ValueError):
            return _refuse("version", "must be an integer")
        roots = settings.ANTINEX_DATASETS_DIRS
        out_dir = Path(body.get("output_dir") or roots[0] / "prepared" / f"user_{request.user.id}")
        if not out_dir.is_absolute():
            out_dir = roots[0] / out_dir
        full = Path(body.get("full_file") or out_dir / "fulldata_attack_scans.csv")
        clean = Path(body.get("clean_file") or out_dir / "cleaned_attack_scans.csv")
        for name, path in (("output_dir", out_dir), ("full_file", full), ("clean_file", clean)):
            try:
                resolved = (roots[0] / path).resolve() if not path.is_absolute() else path.resolve()
                resolved.as_posix().encode()
            except (ValueError, OSError) as exc:  # e.g. lone surrogates, names too long
                return _refuse(name, f"not a usable path ({type(exc).__name__})")
            if not any(resolved.is_relative_to(r.resolve()) for r in roots):
                return _refuse(name, "outside the allowed datasets directories", f"{name}: {path} is outside the "
                               "allowed datasets directories")
        prep = MLPrepare.objects.create(
            user=request.user, title=body.get("title") or "no title", desc=body.get("desc") or "no desc",
            full_file=str(full), clean_file=str(clean), output_dir=str(out_dir),
            meta_suffix=body.get("meta_suffix") or "metadata.json", ds_dir=str(body.get("ds_dir") or ""),
            ds_glob_path=str(body["ds_glob_path"]),
            pipeline_files=json_field(body.get("pipeline_files"), "pipeline_files"),
            post_proc=json_field(body.get("post_proc"), "post_proc"),
            label_rules=json_field(body.get("label_rules"), "label_rules"),
            meta_data=json_field(body.get("meta_data"), "meta_data"), version=version)
        from api.ml.tasks import task_ml_prepare

        try:
            task_ml_prepare.delay(prep.id)
        except Exception as exc:
            prep.status = prep.control_state = "error"
            prep.error_data = {"error": f"could not queue: {exc}"}
            prep.save()
        prep.refresh_from_db()
        return Response(prep.public(), status=201)
