"""Viewsets for /users/, /ml/, /mlresults/, /mlprepare/ and the token endpoint.

Every query is scoped to ``request.user``: another user's record is a 404.
Lists keep the original envelope (``{"jobs": [...]}``) plus paging keys.
"""
from __future__ import annotations

import json
import logging

from django.conf import settings
from django.db import transaction
from django.contrib.auth.models import User
from drf_yasg import openapi
from drf_yasg.utils import swagger_auto_schema
from drf_yasg.utils import no_body
from rest_framework import permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.views import TokenObtainPairView

from antinex.api.ml import dispatch, jobs
from antinex.api.ml.errors import error_body, first_error, request_error_response
from antinex.api.ml.models import MLJob, MLJobResult, MLPrepare
from antinex.api.ml.notify import wait_slot, wait_until
from antinex.api.ml.records import DONE, mark
from antinex.api.ml.serializers import MLJobRequestSerializer, MLPrepareRequestSerializer, UserSerializer, json_field
from antinex.utils.consts import API_JOB_TASK, API_PREPARE_TASK, ControlState, Status
from antinex.utils.limits import LIMITS
from antinex.utils.request import RequestError, parse_label_rules, parse_request, require_data
from antinex.utils.userdata import DataSpace, plain_file_name

log = logging.getLogger(__name__)


PREPARE_TEXT_FIELDS = ("title", "desc", "ds_glob_path", "ds_dir", "full_file", "clean_file", "output_dir",
                       "meta_suffix")


def _refuse(field: str, reason: str, error: str = "", status_code: int = 400) -> Response:
    """A refusal in the API's one error shape (api/ml/errors.py): which field, and why."""
    return Response(error_body(field, reason, error or None), status=status_code)


PATH_FIELDS = ("dataset", "csv_file", "meta_file", "full_file", "clean_file", "output_dir")


def _scrub_holder(holder: dict, space: DataSpace) -> dict:
    """A copy of one level of a record with its paths public and the return path's broker URL hidden."""
    holder = {**holder, **{name: space.public(holder[name]) for name in PATH_FIELDS
                           if isinstance(holder.get(name), str) and holder[name]}}
    node = holder.get("worker_result_node")
    if isinstance(node, dict) and "auth_url" in node:
        holder["worker_result_node"] = {**node, "auth_url": "<the API broker>"}  # may hold its password
    return holder


def scrub(out: dict, space: DataSpace) -> dict:
    """A record as its owner sees it: paths relative to their folder or the shared data, no broker URLs.

    Builds copies: the model's own JSON fields are never changed.
    """
    out = _scrub_holder(out, space)
    if isinstance(out.get("predict_manifest"), dict):
        manifest = _scrub_holder(out["predict_manifest"], space)
        if isinstance(manifest.get("manifest"), dict):
            manifest["manifest"] = _scrub_holder(manifest["manifest"], space)
        out["predict_manifest"] = manifest
    if isinstance(out.get("pipeline_files"), dict):
        out["pipeline_files"] = {k: [space.public(f) for f in v] if isinstance(v, list) else v
                                 for k, v in out["pipeline_files"].items()}
    if isinstance(out.get("model_ref"), dict) and "store" in out["model_ref"]:
        out["model_ref"] = {**out["model_ref"], "store": "<model store>"}
    error = (out.get("error_data") or {}).get("error")
    if isinstance(error, str):
        out["error_data"] = {**out["error_data"], "error": space.redact(error)}
    return out


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
            field, message = first_error(getattr(exc, "detail", str(exc)))
            # the original's 400 carried DRF's non_field_errors: kept beside the one shape
            return Response(error_body(field, message, non_field_errors=[message]),
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
            return Response(error_body(*first_error(ser.errors)), status=400)
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
            return Response(error_body(*first_error(ser.errors)), status=400)
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
        return scrub(out, jobs.data_space(request.user.id))

    @swagger_auto_schema(request_body=MLJobRequestSerializer)
    def create(self, request):
        body = request.data
        if not isinstance(body, dict):
            raise RequestError("body", "must be a JSON object")
        body = dict(body)
        refused = refuse_unstorable(body)
        if refused:
            return refused
        try:
            req = parse_request(body, datasets_dirs=jobs.data_space(request.user.id), limits=LIMITS)
            require_data(req)
            rows = jobs.inspect_dataset(req)
        except RequestError as exc:
            return request_error_response(exc)
        extra = {name: json_field(body.get(name), name) for name in ("pre_proc", "post_proc", "meta_data")}
        training_data = json_field(body.get("training_data"), "training_data")
        # one commit for the records, made before the job can reach a worker
        with transaction.atomic():
            jobs.lock_user(request.user)
            jobs.check_job_quota(request.user, rows)
            job = MLJob.objects.create(
                user=request.user, title=req.title or req.label, desc=req.desc or req.label,
                ds_name=req.ds_name or req.label, algo_name=req.algo_name or req.label, ml_type=req.ml_type,
                predict_feature=req.predict_feature, training_data=training_data, version=req.version,
                num_rows=rows, **extra)
            result = MLJobResult.objects.create(user=request.user, job=job, test_size=req.test_size,
                                                csv_file=str(req.dataset or ""), acc_data={"accuracy": -1.0})
            body.pop("training_data", None)
            # training_data overrides top-level keys, as parse_request reads it: the core trains
            # with exactly what was validated (the server's own keys come last and win)
            body.update({k: v for k, v in training_data.items() if k != "training_data"})
            if req.dataset is not None:
                body["dataset"] = str(req.dataset)  # resolved inside the caller's folder or the shared data
            body.update(job_id=job.id, result_id=result.id, use_model_name=req.label, ml_type=req.ml_type,
                        manifest={"job_id": job.id, "result_id": result.id,
                                  "worker_result_node": dispatch.worker_result_node(job.id, result.id)})
            body["label"] = f"user_{request.user.id}.{req.label}"  # models are per user, like every record
            body["worker_result_node"] = body["manifest"]["worker_result_node"]
            job.predict_manifest = body
            fields = ["predict_manifest"]
            if settings.ANTINEX_WORKER_ENABLED:
                # "launched" goes in with the records: a failed publish below turns it into an error,
                # and a result that arrives first is never overwritten (no second transaction to race)
                job.status = result.status = Status.LAUNCHED
                fields.append("status")
                result.save(update_fields=["status"])
            job.save(update_fields=fields)
        try:
            if settings.ANTINEX_WORKER_ENABLED:
                dispatch.publish_to_core(body)
            else:
                dispatch.run_in_api_worker(API_JOB_TASK, job.id, result.id)
        except Exception as exc:  # broker down: the job is recorded with the reason, never lost silently
            log.exception("could not queue job %s", job.id)
            mark(job.id, result.id, Status.ERROR, f"could not queue the job: {type(exc).__name__}: {exc}")
            job.refresh_from_db()
            return Response({"error": job.error_data.get("error"), "job": self.render(job, request),
                             "results": scrub(result.public(), jobs.data_space(request.user.id))},
                            status=status.HTTP_503_SERVICE_UNAVAILABLE)
        # a fast worker may have finished already: answer with the current status
        job.refresh_from_db(fields=["status", "control_state", "error_data", "updated"])
        result.refresh_from_db()
        return Response({"job": self.render(job, request),
                         "results": scrub(result.public(), jobs.data_space(request.user.id))}, status=201)

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
            return _refuse("id", f"job {job.id} is already {job.status}", status_code=409)
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

    def render(self, obj, request) -> dict:
        return scrub(obj.public(), jobs.data_space(request.user.id))

    @swagger_auto_schema(request_body=MLPrepareRequestSerializer)
    def create(self, request):
        body = request.data
        if not isinstance(body, dict):
            raise RequestError("body", "must be a JSON object")
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
        space = jobs.data_space(request.user.id)
        try:
            json_fields = {name: json_field(body.get(name), name)
                           for name in ("pipeline_files", "post_proc", "label_rules", "meta_data")}
            parse_label_rules(json_fields["label_rules"], LIMITS)
            # every output resolved inside the caller's own folder before anything is queued;
            # relative paths are relative to that folder
            meta_suffix = plain_file_name("meta_suffix", body.get("meta_suffix") or "metadata.json")
            out_dir = space.write_path("output_dir", body.get("output_dir") or "prepared")
            full = space.write_path("full_file", body.get("full_file") or out_dir / "fulldata_attack_scans.csv")
            clean = space.write_path("clean_file", body.get("clean_file") or out_dir / "cleaned_attack_scans.csv")
            for prefix, out in (("fulldata", full), ("cleaned", clean)):
                space.write_path("meta_suffix", out.parent / f"{prefix}_{meta_suffix}")
            space.glob("ds_glob_path", body["ds_glob_path"])
        except RequestError as exc:
            return request_error_response(exc)
        with transaction.atomic():
            jobs.lock_user(request.user)
            jobs.check_prepare_quota(request.user)
            prep = MLPrepare.objects.create(
                user=request.user, title=body.get("title") or "no title", desc=body.get("desc") or "no desc",
                full_file=space.public(full), clean_file=space.public(clean), output_dir=space.public(out_dir),
                meta_suffix=meta_suffix, ds_dir=str(body.get("ds_dir") or ""),
                ds_glob_path=str(body["ds_glob_path"]), version=version, **json_fields)
        try:
            dispatch.run_in_api_worker(API_PREPARE_TASK, prep.id)
        except Exception as exc:  # broker down: the record says why, nothing is lost silently
            log.exception("could not queue prepare %s", prep.id)
            prep.status, prep.control_state = Status.ERROR, ControlState.ERROR
            prep.error_data = {"error": f"could not queue: {type(exc).__name__}: {exc}"}
            prep.save()
        prep.refresh_from_db()
        return Response(self.render(prep, request), status=201)
