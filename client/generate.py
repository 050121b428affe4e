"""``generate_ai_request``: turn captured rows into a prediction request (original C4)."""
from __future__ import annotations

import json
from pathlib import Path

from antinex.client.consts import DISABLED, FAILED, SUCCESS, setting
from antinex.utils.config import SettingError


def generate_ai_request(predict_rows: list[dict], req_dict: dict | None = None, req_file: str | None = None,
                        features: list[str] | None = None, ignore_features: list[str] | None = None,
                        predict_feature: str | None = None, missing_value: float | None = None,
                        convert_type: str | None = None, include_failed: bool | None = None,
                        check_missing_predict: bool | None = None, publish_to_core: bool | None = None) -> dict:
    """A request body for ``predict_rows`` built on a template; ``{"status", "error", "data"}``.

    Unset arguments come from the template, then from the ``ANTINEX_*`` settings (utils/config.py).
    """
    try:
        return _generate(predict_rows, req_dict, req_file, features, ignore_features, predict_feature,
                         missing_value, convert_type, include_failed, check_missing_predict, publish_to_core)
    except SettingError as exc:
        return {"status": FAILED, "error": str(exc), "data": None}


def _generate(predict_rows, req_dict, req_file, features, ignore_features, predict_feature, missing_value,
              convert_type, include_failed, check_missing_predict, publish_to_core) -> dict:
    if not setting("ANTINEX_PUBLISH_ENABLED"):
        return {"status": DISABLED, "error": "publishing is disabled (ANTINEX_PUBLISH_ENABLED=0)", "data": None}
    if not predict_rows:
        return {"status": FAILED, "error": "no rows to predict", "data": None}
    template: dict = {}
    if req_dict is not None:
        template = dict(req_dict)
    else:
        path = req_file or setting("ANTINEX_PUBLISH_REQUEST_FILE")
        if path:
            try:
                template = json.loads(Path(path).read_text())
            except (OSError, json.JSONDecodeError) as exc:
                return {"status": FAILED, "error": f"cannot read request file {path}: {exc}", "data": None}
    target = predict_feature or template.get("predict_feature") or setting("ANTINEX_PREDICT_FEATURE")
    feats = features or template.get("features_to_process") or setting("ANTINEX_FEATURES_TO_PROCESS")
    ignored = set(ignore_features or template.get("ignore_features") or setting("ANTINEX_IGNORE_FEATURES"))
    missing = float(missing_value if missing_value is not None else setting("ANTINEX_MISSING_VALUE"))
    cast = convert_type or setting("ANTINEX_CONVERT_DATA_TYPE")
    keep_failed = include_failed if include_failed is not None else setting("ANTINEX_INCLUDE_FAILED_CONVERSIONS")
    check = check_missing_predict if check_missing_predict is not None else setting("ANTINEX_CHECK_MISSING_PREDICT")
    wanted = [f for f in feats if f not in ignored and f != target]
    rows = []
    for row in predict_rows:
        out = {}
        for key in (wanted or [k for k in row if k not in ignored]):
            value = row.get(key)
            if value is None or value == "" or value != value:  # falsy/NaN → missing
                out[key] = missing
                continue
            try:
                out[key] = int(float(value)) if cast == "int" else float(value)
            except (TypeError, ValueError):
                if keep_failed:
                    out[key] = value
        if check and target not in out:
            out[target] = row.get(target, missing)
        rows.append(out)
    body = dict(template)
    body.update(
        label=template.get("label") or setting("ANTINEX_USE_MODEL_NAME"),
        predict_feature=target,
        predict_rows=rows,
        publish_to_core=publish_to_core if publish_to_core is not None else
        template.get("publish_to_core", setting("ANTINEX_PUBLISH_TO_CORE")),
        ml_type=template.get("ml_type") or setting("ANTINEX_ML_TYPE"),
    )
    body.pop("dataset", None)
    if wanted:
        body["features_to_process"] = wanted
    return {"status": SUCCESS, "error": "", "data": body}
