"""Every error is JSON in one shape, ``{"error", "field", "reason"}``, made here and nowhere else.

Views never build error responses: they raise ``RequestError(field,
reason)`` (a 400), :class:`Refused` (another status), DRF's exceptions or
``QuotaExceeded`` (api/ml/jobs.py), and :func:`exception_handler` answers
every one of them, and anything unexpected, in the one shape (docs/api.md).
"""
from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import DataError, InterfaceError, OperationalError
from django.http import Http404
from rest_framework import status
from rest_framework.exceptions import (APIException, AuthenticationFailed, MethodNotAllowed, NotAcceptable,
                                       NotAuthenticated, NotFound, ParseError, UnsupportedMediaType, ValidationError)
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_handler

from antinex.utils.request import RequestError

log = logging.getLogger(__name__)


def error_body(field: str | None, reason: str, error: str | None = None, **extra) -> dict:
    """The API's one error shape: ``{"error", "field", "reason"}``.

    ``field`` names what was wrong (a request field, ``body``, ``id``,
    ``Authorization``, ``quota``) or is None when nothing in the request
    is (a database outage); ``error`` is the one-line message;
    ``extra`` carries DRF's ``detail`` where DRF speaks.
    """
    return {"error": error or (f"{field}: {reason}" if field else reason), "field": field, "reason": reason,
            **extra}


def first_error(detail) -> tuple[str | None, str]:
    """(field, message) of the first error in a DRF ``ValidationError`` detail."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            field, message = first_error(value)
            return (None if key == "non_field_errors" else (field or str(key))), message
    if isinstance(detail, list) and detail:
        return first_error(detail[0])
    return None, str(detail)


class Refused(APIException):
    """A refusal with a status other than 400: ``raise Refused(409, "id", "job 7 is already finished")``.

    ``extra`` goes into the body beside the one shape (the original's
    ``non_field_errors`` of a refused login, the records of a job the broker
    did not take).
    """

    def __init__(self, status_code: int, field: str | None, reason: str, **extra):
        self.status_code = status_code
        super().__init__(error_body(field, reason, **extra))
        self.detail = error_body(field, reason, **extra)  # as given: DRF would turn the values into strings


# what a DRF exception is about, when its detail does not say
_FIELD_OF = ((NotAuthenticated, "Authorization"), (AuthenticationFailed, "Authorization"), (NotFound, "id"),
             (MethodNotAllowed, "method"), (ParseError, "body"), (UnsupportedMediaType, "Content-Type"),
             (NotAcceptable, "Accept"))


def _drf_body(exc: APIException, data) -> dict:
    if isinstance(data, dict) and {"error", "field", "reason"} <= data.keys():
        return {k: str(v) if v is not None and not isinstance(v, (dict, list)) else v for k, v in data.items()}
    if isinstance(exc, ValidationError):
        field, message = first_error(data)
        return error_body(field, message)
    detail = data.get("detail", data) if isinstance(data, dict) else data
    reason = str(detail)
    messages = data.get("messages") if isinstance(data, dict) else None
    if isinstance(messages, list):  # simplejwt's InvalidToken says why in its messages
        reason += ": " + "; ".join(str(m.get("message", m)) if isinstance(m, dict) else str(m) for m in messages)
    field = next((f for kind, f in _FIELD_OF if isinstance(exc, kind)), None)
    return error_body(field, reason, detail=str(detail))


def exception_handler(exc, context):
    if isinstance(exc, RequestError):
        return Response(error_body(exc.field, exc.reason), status=status.HTTP_400_BAD_REQUEST)
    response = drf_handler(exc, context)
    if response is not None:
        response.data = _drf_body(exc, response.data)
        return response
    if isinstance(exc, Http404):
        return Response(error_body("id", "not found", error="not found"), status=404)
    if isinstance(exc, RequestDataTooBig):
        from django.conf import settings

        return Response(error_body("body", f"request body too large: the limit is "
                                           f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes (ANTINEX_MAX_BODY_BYTES); "
                                           "send fewer rows per request"), status=413)
    if isinstance(exc, (OperationalError, InterfaceError)):
        # PostgreSQL is down or restarting: tell the client to come back, do not pretend it was their fault
        log.warning("database unavailable: %s", exc)
        response = Response(error_body(None, "the database is unavailable right now; retry shortly"), status=503,
                            headers={"Retry-After": "5"})
        response.database_unavailable = True  # RetryStaleConnection may answer it again on a fresh connection
        return response
    if isinstance(exc, (DataError, UnicodeEncodeError)):
        # validation should have caught it: still the client's input, never a 500
        log.warning("input the database refused: %s", exc)
        return Response(error_body("body", f"the request holds values the database cannot store: "
                                           f"{type(exc).__name__}"), status=400)
    if isinstance(exc, SuspiciousOperation):
        return Response(error_body("body", f"bad request: {exc}"), status=400)
    log.exception("unhandled error in %s", context.get("view"))
    return Response(error_body(None, f"internal error: {type(exc).__name__}"), status=500)
