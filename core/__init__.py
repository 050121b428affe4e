# One import path per module: this folder is the package antinex.core (pyproject.toml maps it).
# Imported as plain "core" (the repository root on sys.path), Django apps and Celery tasks
# would load twice under two names.
if __name__ != "antinex.core":
    raise ImportError(f"import antinex.core, not {__name__} (install the project: pip install -e .)")
