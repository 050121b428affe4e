"""The login doors: token issue and refresh, and the admin login, with one login throttle.

Failed logins are counted per client address and per username in the
Django cache (Redis, so every gunicorn process shares the counts) over
fixed windows of the ``ANTINEX_LOGIN_RATE`` period (``20/minute``): beyond
the rate, both ``POST /api-token-auth/`` and the admin login answer 429
with a reason and ``Retry-After``. A successful login does not count.
"""
from __future__ import annotations

import functools
import hashlib
import logging
from typing import Callable

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse, JsonResponse
from redis.exceptions import RedisError
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from antinex.api.ml.errors import Refused, error_body, first_error

log = logging.getLogger(__name__)

THROTTLED_REASON = "too many failed logins from this address or for this user"


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
            raise Refused(status.HTTP_400_BAD_REQUEST, field, message, non_field_errors=[message]) from None
        return Response(serializer.validated_data, status=status.HTTP_200_OK)


class LoginThrottle(SimpleRateThrottle):
    """Failed logins per client address and per username (rate: ``DEFAULT_THROTTLE_RATES["login"]``).

    An attempt takes a slot in each counter *before* the password is checked
    (atomic increments, so concurrent guesses cannot overshoot) and gives
    them back when it is refused or the password was right.
    """

    scope = "login"

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[str] = []
        self.retry_after = 0.0

    def allow_request(self, request, view) -> bool:
        data = request.data
        return self.reserve(request, data.get("username") if hasattr(data, "get") else None)

    def reserve(self, request: HttpRequest, username: object) -> bool:
        """Count one attempt; False (and nothing counted) when the address or the username is over the rate."""
        now = self.timer()
        self.retry_after = self.duration - now % self.duration
        window = int(now // self.duration)
        # the address as DRF sees it (NUM_PROXIES); usernames hashed: any length, any characters
        user = hashlib.sha256(str(username or "").casefold().encode("utf-8", "replace")).hexdigest()[:32]
        self.keys = [f"{self.scope}:{window}:ip:{self.get_ident(request)}", f"{self.scope}:{window}:user:{user}"]
        try:
            counts = [self._increment(key) for key in self.keys]
        except RedisError as exc:
            # the cache is the API broker: when it is down, logins stay possible (unthrottled) rather than 500
            log.warning("login throttle unavailable, not counting: %s", exc)
            self.keys = []
            return True
        if max(counts) > self.num_requests:
            self.release()
            return False
        return True

    def _increment(self, key: str) -> int:
        self.cache.add(key, 0, timeout=int(self.retry_after) + 1)  # lives to the end of its window
        try:
            return self.cache.incr(key)
        except ValueError:  # expired between add and incr: the window just ended
            return 1

    def release(self) -> None:
        """Give back the slots of the last ``reserve`` (a refused or a successful login)."""
        for key in self.keys:
            try:
                self.cache.decr(key)
            except (ValueError, RedisError):  # expired meanwhile, or the cache went away: nothing to give back
                pass
        self.keys = []

    def wait(self) -> float:
        return self.retry_after

    def refusal(self) -> Throttled:
        return Throttled(self.retry_after, detail=THROTTLED_REASON)


class ThrottledTokenView(TokenView):
    """``TokenView`` behind the login throttle, with the same answers.

    200 ``{"token", "refresh"}``, bad credentials 400 ``{"error",
    "non_field_errors"}``; beyond the rate 429 ``{"error", "detail"}`` with
    ``Retry-After``.
    """

    throttle_classes = [LoginThrottle]

    def get_throttles(self) -> list[LoginThrottle]:
        self.login_throttles = super().get_throttles()  # kept: a successful login gives its slots back
        return self.login_throttles

    def throttled(self, request, wait) -> None:
        raise self.login_throttles[0].refusal()

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        if response.status_code == 200:
            for throttle in self.login_throttles:
                throttle.release()
        return response


def throttled_admin_login(login: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap ``admin.site.login`` in the login throttle; a refused attempt gets the API's 429 JSON."""

    @functools.wraps(login)
    def view(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        if request.method != "POST":
            return login(request, extra_context)
        throttle = LoginThrottle()
        if not throttle.reserve(request, request.POST.get("username")):
            refused = throttle.refusal()
            reason = str(refused.detail)  # the same JSON as the API's 429 (api/ml/errors.py)
            return JsonResponse(error_body(None, reason, detail=reason), status=refused.status_code,
                                headers={"Retry-After": str(refused.wait)})
        response = login(request, extra_context)
        if response.status_code == 302 and request.user.is_authenticated:  # logged in: redirected on
            throttle.release()
        return response

    return view


class ActiveUserRefreshSerializer(TokenRefreshSerializer):
    """A refresh token is only good while its user exists and is active (else 401, not a 500)."""

    def validate(self, attrs: dict) -> dict:
        user_id = self.token_class(attrs["refresh"]).payload.get(jwt_settings.USER_ID_CLAIM)
        user = get_user_model().objects.filter(**{jwt_settings.USER_ID_FIELD: user_id}).first()
        if user is None or not jwt_settings.USER_AUTHENTICATION_RULE(user):
            raise AuthenticationFailed("the user of this token was deleted or deactivated; log in again",
                                       "no_active_account")
        return super().validate(attrs)


class ActiveUserRefreshView(TokenRefreshView):
    """``POST /api-token-refresh/`` with ``ActiveUserRefreshSerializer``."""

    serializer_class = ActiveUserRefreshSerializer
