# One import path per module: this folder is the package antinex.pipeline (pyproject.toml maps it).
# Imported as plain "pipeline" (the repository root on sys.path), Django apps and Celery tasks
# would load twice under two names.
if __name__ != "antinex.pipeline":
    raise ImportError(f"import antinex.pipeline, not {__name__} (install the project: pip install -e .)")
