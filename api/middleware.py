"""HTTP middleware of the API project."""
from __future__ import annotations

from typing import Callable

from django.http import HttpRequest, HttpResponse

# Sphinx's search box (basic theme, searchbox.html) shows itself with this one inline
# script; its hash lets exactly that script run on /docs/ and nothing else inline.
_SPHINX_SEARCHBOX = "'sha256-zj7JiAWUmJUmuXstiRyFPrIwRDuFhv++7c0NjNrUxos='"

# Scripts only from our own static files (drf-yasg's Swagger UI, the admin and the
# browsable API keep their settings in non-executable JSON <script> blocks); inline
# styles stay allowed because Swagger UI sets style attributes as it renders.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    f"script-src 'self' {_SPHINX_SEARCHBOX}",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'none'",
    "form-action 'self'",
))


class ContentSecurityPolicyMiddleware:
    """Send ``CONTENT_SECURITY_POLICY`` with every response that does not set its own.

    It matters on the HTML pages (/swagger/, /docs/, /admin/, the browsable
    API); on JSON it is harmless and covers a response a browser renders anyway.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response
