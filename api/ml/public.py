"""What an owner sees of a record: paths relative to their folder or the shared data, no broker URLs.

Records keep the server's absolute paths (the workers need them); every
answer goes through :func:`scrub`, which builds copies, so the model's own
JSON fields are never changed.
"""
from __future__ import annotations

from antinex.utils.userdata import DataSpace

PATH_FIELDS = ("dataset", "csv_file", "meta_file", "full_file", "clean_file", "output_dir")


def _scrub_holder(holder: dict, space: DataSpace) -> dict:
    """A copy of one level of a record with its paths public and the return path's broker URL hidden."""
    holder = {**holder, **{name: space.public(holder[name]) for name in PATH_FIELDS
                           if isinstance(holder.get(name), str) and holder[name]}}
    node = holder.get("worker_result_node")
    if isinstance(node, dict) and "auth_url" in node:
        holder["worker_result_node"] = {**node, "auth_url": "<the API broker>"}  # may hold its password
    return holder


def scrub(out: dict, space: DataSpace) -> dict:
    """A record (``Model.public()``) as its owner sees it."""
    out = _scrub_holder(out, space)
    if isinstance(out.get("predict_manifest"), dict):
        manifest = _scrub_holder(out["predict_manifest"], space)
        if isinstance(manifest.get("manifest"), dict):
            manifest["manifest"] = _scrub_holder(manifest["manifest"], space)
        out["predict_manifest"] = manifest
    if isinstance(out.get("pipeline_files"), dict):
        out["pipeline_files"] = {k: [space.public(f) for f in v] if isinstance(v, list) else v
                                 for k, v in out["pipeline_files"].items()}
    if isinstance(out.get("model_ref"), dict) and "store" in out["model_ref"]:
        out["model_ref"] = {**out["model_ref"], "store": "<model store>"}
    error = (out.get("error_data") or {}).get("error")
    if isinstance(error, str):
        out["error_data"] = {**out["error_data"], "error": space.redact(error)}
    return out


def job_public(job, space: DataSpace) -> dict:
    """A job as its owner sees it; its rows stay in the database (a count instead)."""
    out = job.public()
    manifest = dict(out["predict_manifest"])
    if isinstance(manifest.get("predict_rows"), list):
        manifest["predict_rows"] = f"{len(manifest['predict_rows'])} rows"
    out["predict_manifest"] = manifest
    return scrub(out, space)
