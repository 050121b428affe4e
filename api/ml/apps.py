from django.apps import AppConfig


class MLConfig(AppConfig):
    name = "antinex.api.ml"
    label = "ml"
    verbose_name = "AntiNex ML jobs"
    default_auto_field = "django.db.models.BigAutoField"
