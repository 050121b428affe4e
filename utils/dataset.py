"""Loading a request's rows and choosing its features and target."""
from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from antinex.utils.request import LEAKING_COLUMNS, MLRequest, RequestError

log = logging.getLogger(__name__)


def load_frame(req: MLRequest) -> pd.DataFrame:
    """The request's rows: ``predict_rows`` if given, else the dataset CSV."""
    if req.predict_rows is not None:
        df = pd.DataFrame.from_records(req.predict_rows)
        if "_dataset_index" in df.columns:
            df = df.set_index("_dataset_index", drop=False)
    else:
        path = req.dataset or req.csv_file
        if path is None:
            raise RequestError("dataset", "send a dataset path or predict_rows")
        try:
            # utf-8-sig: the original's CSVs were sometimes written with a BOM
            df = pd.read_csv(path, encoding="utf-8-sig", low_memory=False)
        except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise RequestError("dataset", f"cannot read {path}: {exc}") from None
    if df.empty or len(df.columns) == 0:
        raise RequestError("dataset" if req.predict_rows is None else "predict_rows", "has no rows")
    if req.sort_values:
        missing = [c for c in req.sort_values if c not in df.columns]
        if missing:
            raise RequestError("sort_values", f"unknown columns: {', '.join(missing)}")
        df = df.sort_values(by=req.sort_values)
    return df


def legacy_features(req: MLRequest) -> list[str]:
    """Features from a legacy ``meta_file`` (the prepare step's metadata)."""
    if req.meta_file is None:
        return []
    try:
        meta = json.loads(req.meta_file.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise RequestError("meta_file", f"cannot read {req.meta_file}: {exc}") from None
    return [f for f in meta.get("features_to_process", []) if f != req.predict_feature]


def choose_features(req: MLRequest, df: pd.DataFrame) -> list[str]:
    """The feature columns, in request order.

    Named features must exist and be numeric. With none named, every numeric
    column that is not the target, ignored, or a leaking column is used; the
    text columns left out are logged as a warning (never dropped silently),
    and :func:`dropped_columns` lists them with the reason.
    """
    named = req.features_to_process or legacy_features(req)
    ignored = set(req.ignore_features)
    content = req.network.content
    if content is not None:
        # a content network reads its text column; numeric columns only when named
        if content.column not in df.columns:
            raise RequestError("content.column", f"column {content.column!r} is not in the data")
        named = [f for f in named if f != content.column]
        if not named:
            return []
    if named:
        features = [f for f in named if f not in ignored and f != req.predict_feature]
        missing = [f for f in features if f not in df.columns]
        if missing:
            raise RequestError("features_to_process", f"unknown columns: {', '.join(missing)}")
    else:
        candidates = _candidates(req, df)
        features = [c for c in candidates if pd.api.types.is_numeric_dtype(df[c])]
        dropped = _text_columns(df, candidates)
        if dropped:
            log.warning("%d text columns not used as features: %s", len(dropped),
                        "; ".join(f"{d['column']} ({d['reason']})" for d in dropped),
                        extra={"dropped_columns": dropped})
    if not features:
        raise RequestError("features_to_process", "no feature columns left to train on")
    bad = [f for f in features if not _numeric_like(df[f])]
    if bad:
        raise RequestError("features_to_process", f"non-numeric columns: {', '.join(bad)}")
    return features


def _candidates(req: MLRequest, df: pd.DataFrame) -> list[str]:
    """Columns automatic feature choice considers: not ignored, not the target, not leaking."""
    ignored = set(req.ignore_features)
    return [c for c in df.columns if c not in ignored and c != req.predict_feature and c not in LEAKING_COLUMNS]


def _text_columns(df: pd.DataFrame, columns: list[str]) -> list[dict[str, str]]:
    """``{"column", "reason"}`` of each non-numeric column among ``columns``."""
    out = []
    for c in columns:
        if pd.api.types.is_numeric_dtype(df[c]):
            continue
        if _numeric_like(df[c]):
            reason = ("numbers stored as text: name it in features_to_process to use it, "
                      "or in ignore_features to leave it out")
        else:
            reason = ("text, not numbers: encode it as numbers to use it, "
                      "or name it in ignore_features to leave it out")
        out.append({"column": str(c), "reason": reason})
    return out


def dropped_columns(req: MLRequest, df: pd.DataFrame) -> list[dict[str, str]]:
    """The text columns automatic feature choice leaves out, each with the reason (empty when
    the request names its features: then the others are left out by the request)."""
    if req.features_to_process or legacy_features(req) or req.network.content is not None:
        return []
    return _text_columns(df, _candidates(req, df))


def _numeric_like(col: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        return True
    converted = pd.to_numeric(col, errors="coerce")
    # empty strings and None are missing values, not text
    return bool(converted.notna().sum() == col.replace("", np.nan).notna().sum())


def feature_matrix(df: pd.DataFrame, features: list[str], missing_value: float) -> np.ndarray:
    """Features as float32, missing cells filled with ``missing_value``."""
    missing = [f for f in features if f not in df.columns]
    if missing:
        raise RequestError("predict_rows", f"rows are missing feature columns: {', '.join(missing)}")
    block = df[features]
    if all(pd.api.types.is_numeric_dtype(t) for t in block.dtypes):
        x = block.to_numpy(dtype=np.float32, na_value=np.nan, copy=True)  # fast: no per-column conversion
    else:
        x = block.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float32, na_value=np.nan)
    x[np.isnan(x)] = missing_value
    return x


def target_vector(req: MLRequest, df: pd.DataFrame) -> np.ndarray:
    """The target column as floats; an error names it when it is missing or empty."""
    if req.predict_feature not in df.columns:
        raise RequestError("predict_feature", f"column {req.predict_feature!r} is not in the data")
    y = pd.to_numeric(df[req.predict_feature], errors="coerce")
    if y.isna().any():
        raise RequestError(
            "predict_feature",
            f"column {req.predict_feature!r} has {int(y.isna().sum())} missing or non-numeric values",
        )
    return y.to_numpy(dtype=np.float64)
