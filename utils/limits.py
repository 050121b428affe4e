"""Upper bounds on what one request or one user may ask for, declared once.

Every bound is an environment variable with a default sized for a 2-core,
a few-GiB machine; the API checks them when a job is posted (a 400 naming
the field, or a 429 for a quota) and the workers enforce the time limit.
docs/security.md lists them; ``python -m utils.limits`` prints the values
in force.
"""
from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass, field


def _limit(env: str, default: int | float, meaning: str):
    return field(default=default, metadata={"env": env, "meaning": meaning})


@dataclass(frozen=True)
class Limits:
    """The bounds in force (see :func:`from_env`)."""

    max_epochs: int = _limit("ANTINEX_MAX_EPOCHS", 1000, "`epochs` of one training job")
    max_batch_size: int = _limit("ANTINEX_MAX_BATCH_SIZE", 65536, "`batch_size`: rows per training batch")
    max_layers: int = _limit("ANTINEX_MAX_LAYERS", 64, "layers in `model_desc`")
    max_layer_units: int = _limit("ANTINEX_MAX_LAYER_UNITS", 4096, "`num_neurons` of one layer")
    max_sequence_len: int = _limit("ANTINEX_MAX_SEQUENCE_LEN", 4096, "bytes of a request a sequence network reads "
                                                                   "(`content.max_len`) and any sequence layer's "
                                                                   "kernel, pool or stride")
    max_parameters: int = _limit("ANTINEX_MAX_PARAMETERS", 5_000_000,
                                 "weights of the whole network, counted on the request's number of inputs")
    max_features: int = _limit("ANTINEX_MAX_FEATURES", 5000, "columns in `features_to_process` (and "
                                                            "`ignore_features`, `sort_values`); the input columns "
                                                            "of a content network (`content.hash_dims` and the "
                                                            "dense ones)")
    max_labels: int = _limit("ANTINEX_MAX_LABELS", 1000, "entries of any list in `label_rules`")
    max_num_splits: int = _limit("ANTINEX_MAX_NUM_SPLITS", 50, "`num_splits`; with `cross_validate`, also at most "
                                                              "the training rows (of the smallest class)")
    max_seed: int = _limit("ANTINEX_MAX_SEED", 2**32 - 1, "`seed` (NumPy's own limit)")
    max_predict_rows: int = _limit("ANTINEX_MAX_PREDICT_ROWS", 200_000,
                                   "rows in `predict_rows` (send more in several requests)")
    max_records: int = _limit("ANTINEX_MAX_RECORDS", 100_000, "`max_records`: predictions returned and "
                                                             "stored per job (never cut silently after the POST)")
    max_job_rows: int = _limit("ANTINEX_MAX_JOB_ROWS", 2_000_000, "rows of a job's `dataset` (or `csv_file`)")
    max_active_jobs: int = _limit("ANTINEX_MAX_ACTIVE_JOBS", 4, "jobs of one user queued or running at once "
                                                               "(429 beyond)")
    max_active_rows: int = _limit("ANTINEX_MAX_ACTIVE_ROWS", 4_000_000, "rows of one user's queued or running "
                                                                       "jobs together (429 beyond)")
    max_active_prepares: int = _limit("ANTINEX_MAX_ACTIVE_PREPARES", 2, "dataset preparations of one user "
                                                                       "queued or running at once (429 beyond)")
    job_time_limit: float = _limit("ANTINEX_JOB_TIME_LIMIT", 3600.0, "seconds a job may run; it stops at the "
                                                                     "next batch past it (below)")
    max_json_depth: int = _limit("ANTINEX_MAX_JSON_DEPTH", 32, "nesting of a JSON body")

    @classmethod
    def from_env(cls, environ=None) -> "Limits":
        """The defaults, overridden by the environment; a malformed value is an error naming it."""
        environ = os.environ if environ is None else environ
        values = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(f.metadata["env"])
            if raw in (None, ""):
                continue
            kind = type(f.default)
            try:
                value = kind(float(raw)) if kind is int else kind(raw)
            except ValueError:
                raise ValueError(f"{f.metadata['env']}={raw!r}: must be a number") from None
            if value <= 0:
                raise ValueError(f"{f.metadata['env']}={raw!r}: must be positive")
            values[f.name] = value
        return cls(**values)

    def describe(self) -> list[tuple[str, str, str]]:
        """(environment variable, value, meaning) for every bound."""
        return [(f.metadata["env"], f"{getattr(self, f.name):g}" if isinstance(getattr(self, f.name), float)
                 else str(getattr(self, f.name)), f.metadata["meaning"]) for f in dataclasses.fields(self)]


LIMITS = Limits.from_env()


def main() -> int:
    for env, value, meaning in LIMITS.describe():
        print(f"{env}={value}\t{meaning}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
