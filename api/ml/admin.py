from django.contrib import admin

from antinex.api.ml.models import MLJob, MLJobResult, MLPrepare


@admin.register(MLJob)
class MLJobAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "title", "ml_type", "status", "created")
    list_filter = ("status", "ml_type")


@admin.register(MLJobResult)
class MLJobResultAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "job", "status", "created")
    list_filter = ("status",)
    exclude = ("predictions_json",)


@admin.register(MLPrepare)
class MLPrepareAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "title", "status", "created")
