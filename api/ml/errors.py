"""Every error is JSON with a reason; nothing escapes as a 500 page."""
from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import DataError, InterfaceError, OperationalError
from django.http import Http404
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_handler

from utils.request import RequestError

log = logging.getLogger(__name__)


class BadRequest(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "bad_request"


def request_error_response(exc: RequestError) -> Response:
    return Response({"error": str(exc), "field": exc.field, "reason": exc.reason},
                    status=status.HTTP_400_BAD_REQUEST)


def exception_handler(exc, context):
    if isinstance(exc, RequestError):
        return request_error_response(exc)
    response = drf_handler(exc, context)
    if response is not None:
        data = response.data
        if isinstance(data, dict) and "detail" in data and "error" not in data:
            data = {"error": str(data["detail"]), **data}
        elif not isinstance(data, dict):
            data = {"error": data}
        response.data = data
        return response
    if isinstance(exc, Http404):
        return Response({"error": "not found"}, status=404)
    if isinstance(exc, RequestDataTooBig):
        from django.conf import settings

        return Response({"error": f"request body too large: the limit is {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} "
                                  "bytes (ANTINEX_MAX_BODY_BYTES); send fewer rows per request"}, status=413)
    if isinstance(exc, (OperationalError, InterfaceError)):
        # PostgreSQL is down or restarting: tell the client to come back, do not pretend it was their fault
        log.warning("database unavailable: %s", exc)
        response = Response({"error": "the database is unavailable right now; retry shortly"}, status=503,
                            headers={"Retry-After": "5"})
        response.database_unavailable = True  # RetryStaleConnection may answer it again on a fresh connection
        return response
    if isinstance(exc, (DataError, UnicodeEncodeError)):
        # validation should have caught it: still the client's input, never a 500
        log.warning("input the database refused: %s", exc)
        return Response({"error": f"the request holds values the database cannot store: {type(exc).__name__}"},
                        status=400)
    if isinstance(exc, SuspiciousOperation):
        return Response({"error": f"bad request: {exc}"}, status=400)
    log.exception("unhandled error in %s", context.get("view"))
    return Response({"error": f"internal error: {type(exc).__name__}"}, status=500)
