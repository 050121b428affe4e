"""The AntiNex REST API (Django project)."""

# One import path per module: this folder is the package antinex.api (pyproject.toml maps it).
# Imported as plain "api" (the repository root on sys.path), Django apps and Celery tasks
# would load twice under two names.
if __name__ != "antinex.api":
    raise ImportError(f"import antinex.api, not {__name__} (install the project: pip install -e .)")

# Django's Celery convention: load the app so shared tasks queue on its broker.
from antinex.api.celery_app import app as celery_app

__all__ = ("celery_app",)
