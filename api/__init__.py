"""The AntiNex REST API (Django project)."""
# Django's Celery convention: load the app so shared tasks queue on its broker.
from api.celery_app import app as celery_app

__all__ = ("celery_app",)
