# One import path per module: this folder is the package antinex.client (pyproject.toml maps it).
# Imported as plain "client" (the repository root on sys.path), Django apps and Celery tasks
# would load twice under two names.
if __name__ != "antinex.client":
    raise ImportError(f"import antinex.client, not {__name__} (install the project: pip install -e .)")
