"""Readers of JSON request values: each returns a typed value or raises ``RequestError`` naming the field.

The original AntiNex requests were written by hand and by scripts, so the
readers accept what those sent: booleans as ``"true"``/``"1"``, numbers as
strings, column lists as comma-separated strings, objects as JSON strings.
"""
from __future__ import annotations

import json
import math
from typing import Any


class RequestError(ValueError):
    """A request field is missing or wrong; ``field`` names it, ``reason`` says why."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


def is_empty(value: Any) -> bool:
    """A value that means "not given" (the original's files wrote null or "" for that): the default applies."""
    return value is None or (isinstance(value, str) and not value.strip())


def as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on", "false", "0", "no", "off", ""):
        return value.strip().lower() in ("true", "1", "yes", "on")
    raise RequestError(name, f"must be a boolean, got {str(value)[:80]!r}")


def as_int(name: str, value: Any, minimum: int | None = None, maximum: int | None = None,
           limit_name: str = "") -> int:
    """An integer (``3``, ``3.0``, ``"3"``) within [minimum, maximum]; ``limit_name`` names the setting of maximum."""
    if isinstance(value, bool):
        raise RequestError(name, f"must be an integer, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RequestError(name, f"must be an integer, got {str(value)[:80]!r}") from None
    if not math.isfinite(number) or number != int(number):
        raise RequestError(name, f"must be an integer, got {str(value)[:80]!r}")
    if minimum is not None and number < minimum:
        raise RequestError(name, f"must be at least {minimum}, got {value!r}")
    if maximum is not None and number > maximum:
        where = f" ({limit_name})" if limit_name else ""
        raise RequestError(name, f"must be at most {maximum:,} (the server's limit{where}), got {value!r}")
    return int(number)


def as_float(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise RequestError(name, f"must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RequestError(name, f"must be a number, got {str(value)[:80]!r}") from None
    if not math.isfinite(number):
        raise RequestError(name, f"must be a finite number, got {value!r}")
    return number


def as_str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise RequestError(name, f"must be a string, got {str(value)[:80]!r}")
    return value


def as_str_list(name: str, value: Any, limit: int | None = None) -> list[str]:
    """A list of names, or a comma-separated string of them (the client's environment style)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise RequestError(name, f"must be a list of column names, got {str(value)[:80]!r}")
    if limit is not None and len(value) > limit:
        raise RequestError(name, f"has {len(value):,} entries; the server's limit is {limit:,}")
    return list(value)


def one_of(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    """One of ``allowed``, compared case-insensitively and returned lower-cased."""
    if not isinstance(value, str) or value.strip().lower() not in allowed:
        raise RequestError(name, f"unknown value {str(value)[:60]!r} (use one of {', '.join(allowed)})")
    return value.strip().lower()


def as_json_obj(name: str, value: Any) -> dict:
    """An object, or a JSON string holding one (the original sent ``training_data`` and friends as strings)."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise RequestError(name, f"is not valid JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        raise RequestError(name, f"must be a JSON object, got {type(value).__name__}")
    return value


def as_rows(name: str, value: Any) -> list[dict]:
    """A list of row objects, or a ``DataFrame.to_json()`` string (column-oriented, the original core's form)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise RequestError(name, f"is not valid JSON: {exc.msg}") from None
        if isinstance(value, dict):
            # DataFrame.to_json(): {column: {index: value}}
            if not all(isinstance(v, dict) for v in value.values()):
                raise RequestError(name, "a JSON object must map columns to {index: value}")
            index = sorted({k for col in value.values() for k in col}, key=_index_order)
            value = [{c: value[c].get(i) for c in value} for i in index]
    if not isinstance(value, list):
        raise RequestError(name, f"must be a list of row objects, got {type(value).__name__}")
    if not value:
        raise RequestError(name, "is empty: send at least one row")
    for i, row in enumerate(value):
        if not isinstance(row, dict):
            raise RequestError(name, f"row {i} must be an object, got {type(row).__name__}")
    return value


def _index_order(key: str) -> tuple[int, Any]:
    try:
        return (0, int(key))
    except (TypeError, ValueError):
        return (1, key)
