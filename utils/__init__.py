# One import path per module: this folder is the package antinex.utils (pyproject.toml maps it).
# Imported as plain "utils" (the repository root on sys.path), Django apps and Celery tasks
# would load twice under two names.
if __name__ != "antinex.utils":
    raise ImportError(f"import antinex.utils, not {__name__} (install the project: pip install -e .)")
