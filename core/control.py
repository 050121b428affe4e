"""Remote control commands of a running core worker (Celery broadcast).

``antinex_cached`` lists the models a worker holds in memory;
``antinex_warm`` loads stored models into its cache.
"""
from __future__ import annotations

from celery.worker.control import control_command, inspect_command


@inspect_command()
def antinex_cached(state) -> dict:
    from antinex.core.processor import processor

    proc = processor()
    return {"cached": proc.cache.keys(), "max_models": proc.cache.max_models, "evictions": proc.cache.evictions,
            "trained": proc.trained_count}


@control_command(args=[("labels", list)], signature="<label> [<label> ...]")
def antinex_warm(state, labels) -> dict:
    from antinex.core.processor import processor
    from antinex.utils.model_store import ModelStoreError
    from antinex.utils.request import model_key

    proc = processor()
    warmed, missing = [], []
    for label in labels or []:
        try:
            proc.cache.put(model_key(label), proc.store.load(label))
            warmed.append(label)
        except ModelStoreError as exc:
            missing.append(f"{label}: {exc}")
    return {"warmed": warmed, "missing": missing}
