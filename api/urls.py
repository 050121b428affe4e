"""URL map: the original's endpoints, Swagger, docs and admin."""
from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.http import HttpResponse
from django.urls import path, re_path
from django.views.static import serve
from drf_yasg import openapi
from drf_yasg.views import get_schema_view
from rest_framework import permissions
from rest_framework.routers import DefaultRouter
from rest_framework_simplejwt.views import TokenVerifyView

from antinex.api.ml.tokens import ActiveUserRefreshView, ThrottledTokenView, throttled_admin_login
from antinex.api.ml.views import MLJobResultViewSet, MLJobViewSet, MLPrepareViewSet, UserViewSet

router = DefaultRouter()
router.register("users", UserViewSet, basename="users")
router.register("ml", MLJobViewSet, basename="ml")
router.register("mlresults", MLJobResultViewSet, basename="mlresults")
router.register("mlprepare", MLPrepareViewSet, basename="mlprepare")

schema_view = get_schema_view(
    openapi.Info(title="AntiNex API", default_version="v2",
                 description="Train and use deep neural networks that detect attacks in network traffic. "
                             "Authorize with 'JWT <token>' from POST /api-token-auth/."),
    public=True, permission_classes=[permissions.AllowAny],
)


def docs(request, path=""):
    root = settings.DOCS_HTML_DIR
    if not (root / "index.html").exists():
        return HttpResponse("<h1>AntiNex documentation</h1><p>Not built yet: run "
                            "<code>sphinx-build -b html docs docs/_build/html</code>.</p>", status=200)
    return serve(request, path or "index.html", document_root=str(root))


# the admin's password form is a login door too: same throttle as /api-token-auth/
# (set before admin.site.urls below builds the admin's URL patterns from it)
admin.site.login = throttled_admin_login(admin.site.login)

urlpatterns = [
    path("api-token-auth/", ThrottledTokenView.as_view(), name="api-token-auth"),
    path("api-token-refresh/", ActiveUserRefreshView.as_view(), name="api-token-refresh"),
    path("api-token-verify/", TokenVerifyView.as_view(), name="api-token-verify"),
    re_path(r"^swagger(?P<format>\.json|\.yaml)$", schema_view.without_ui(cache_timeout=0), name="schema-json"),
    path("swagger/", schema_view.with_ui("swagger", cache_timeout=0), name="swagger"),
    path("admin/", admin.site.urls),
    re_path(r"^docs/(?P<path>.*)$", docs, name="docs"),
] + router.urls
