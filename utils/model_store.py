"""The model store: trained models on disk, safe to share between workers.

Layout (see docs/model-store.md)::

    <root>/<key>/model.keras      Keras native format (never .h5, no Lambda layers)
    <root>/<key>/meta.json        features, scalers, classes, request, metrics, history
    <root>/<key>/novelty.npz      the novelty detector's arrays, when the request asked for one
    <root>/<key>/artifact-<name>.json  fitted preprocessing and profiles (``TrainedModel.artifacts``)
    <root>/<key>/checksum.sha256  sha256 of model.keras, meta.json (novelty.npz, the artifacts)

A save writes a temporary directory and renames it into place, so readers
see either the old model or the new one, never half of one. Loading
verifies the checksum and uses ``safe_mode=True`` so no code in the file
runs.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

from antinex.utils.request import model_key
from antinex.utils.scaling import Scaling
from antinex.utils.trained_model import TrainedModel

FORMAT_VERSION = 1
_SAFE = re.compile(r"[^a-z0-9._-]+")
log = logging.getLogger(__name__)


NOVELTY_FILE = "novelty.npz"
CHECKSUM_FILE = "checksum.sha256"
# every file a store entry may hold: any of them present means the entry exists
ENTRY_FILES = ("model.keras", "meta.json", NOVELTY_FILE, CHECKSUM_FILE)


_ARTIFACT = re.compile(r"^[a-z0-9_-]{1,64}$")


def artifact_file(directory: Path, name: str) -> Path:
    """Where the artifact ``name`` of an entry lives (names are plain: lower-case letters, digits, - and _)."""
    if not _ARTIFACT.match(name):
        raise ModelStoreError(f"artifact name {name!r} is not allowed (use a-z, 0-9, - and _)")
    return directory / f"artifact-{name}.json"


def _files(directory: Path, novelty: bool, artifacts: list[str] | tuple[str, ...] = ()) -> list[Path]:
    """The files a model's checksum covers, in a fixed order."""
    files = [directory / "model.keras", directory / "meta.json"]
    if novelty:
        files.append(directory / NOVELTY_FILE)
    return files + [artifact_file(directory, a) for a in sorted(artifacts)]


def _meta_files(directory: Path, meta: dict) -> list[Path]:
    return _files(directory, bool(meta.get("novelty")), meta.get("artifacts") or ())


class ModelStoreError(Exception):
    """A stored model is missing, corrupt or its name is not allowed."""


class DamagedModelError(ModelStoreError):
    """A store entry exists but a file of it is missing, truncated or changed since the save."""

    def __init__(self, name: str, path: Path, problems: list[str]):
        self.name, self.path, self.problems = name, path, problems
        super().__init__(
            f"the model store entry {name!r} ({path}) is damaged: {'; '.join(problems)}. "
            f"Retrain the model under this name (the new save replaces the entry) or delete {path}")


def _diagnose(path: Path) -> list[str]:
    """What is wrong with the files of a store entry, without loading the model (empty: nothing found).

    A ``.keras`` model and a ``.npz`` detector are zip archives: a truncated
    one has no central directory, so ``zipfile`` sees the damage unread.
    """
    problems = []
    meta: dict = {}
    try:
        loaded = json.loads((path / "meta.json").read_text())
        meta = loaded if isinstance(loaded, dict) else {}
    except FileNotFoundError:
        pass  # reported as missing below
    except (OSError, ValueError) as exc:
        problems.append(f"meta.json is unreadable or truncated ({exc})")
    try:
        covered = _meta_files(path, meta)
    except ModelStoreError as exc:
        problems.append(str(exc))
        covered = _files(path, bool(meta.get("novelty")))
    for f in covered + [path / CHECKSUM_FILE]:
        if not f.is_file():
            problems.append(f"{f.name} is missing")
        elif f.suffix in (".keras", ".npz") and not zipfile.is_zipfile(f):
            problems.append(f"{f.name} is truncated or corrupt ({f.stat().st_size} bytes, not a complete archive)")
        elif f.name.startswith("artifact-"):
            try:
                json.loads(f.read_text())
            except (OSError, ValueError) as exc:
                problems.append(f"{f.name} is unreadable or truncated ({exc})")
    return problems


def _digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


class ModelStore:
    """A directory of trained models keyed by label (stripped, lower-cased)."""

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        key = _SAFE.sub("_", model_key(name)).strip("._")
        if not key:
            raise ModelStoreError(f"model name {name!r} is empty after sanitising")
        path = (self.root / key).resolve()
        if path.parent != self.root:
            raise ModelStoreError(f"model name {name!r} escapes the store")
        return path

    def exists(self, name: str) -> bool:
        """True when the store holds an entry under ``name``, healthy or damaged.

        A damaged entry counts, so a caller goes on to :meth:`load`, which
        says what is wrong with it instead of "no stored model".
        """
        return self._present(self.path(name))

    @staticmethod
    def _present(path: Path) -> bool:
        return any((path / f).is_file() for f in ENTRY_FILES)  # a healthy entry: one stat

    def _damaged(self, name: str, path: Path, fallback: str) -> DamagedModelError:
        return DamagedModelError(name, path, _diagnose(path) or [fallback])

    def version(self, name: str) -> str | None:
        """The stored model's checksum (its ``model_ref["checksum"]``), or None when there is none.

        One small read: cheap enough to ask before every predict, so a
        process holding the model in memory sees that another one saved a
        new model under the same name (a save renames a whole new directory
        into place, so this is the old checksum or the new one).
        A damaged entry without its checksum file is None too (nothing to
        compare against: the caller retrains), and is logged as damaged.
        """
        path = self.path(name)
        try:
            return (path / CHECKSUM_FILE).read_text().strip() or None
        except (FileNotFoundError, NotADirectoryError):
            if self._present(path):  # only on a miss: the healthy path stays one read
                log.warning("%s", self._damaged(name, path, f"{CHECKSUM_FILE} is missing"))
            return None

    def save(self, trained: TrainedModel, name: str) -> dict:
        """Write ``trained`` under ``name`` atomically; returns its reference."""
        final = self.path(name)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=self.root))
        try:
            trained.model.save(tmp / "model.keras")
            meta = {
                "format_version": FORMAT_VERSION,
                "name": name,
                "key": final.name,
                "saved": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
                "features": trained.features,
                "predict_feature": trained.predict_feature,
                "ml_type": trained.ml_type,
                "classes": trained.classes,
                "label_rules": trained.label_rules,
                "missing_value": trained.missing_value,
                "x_scaling": trained.x_scaling.to_json() if trained.x_scaling else None,
                "y_scaling": trained.y_scaling.to_json() if trained.y_scaling else None,
                "request": trained.request,
                "metrics": trained.metrics,
                "history": trained.history,
            }
            meta["novelty"] = trained.novelty is not None
            if trained.novelty is not None:
                trained.novelty.save(tmp / NOVELTY_FILE)
            meta["artifacts"] = sorted(trained.artifacts)
            for name, value in trained.artifacts.items():
                artifact_file(tmp, name).write_text(json.dumps(value, allow_nan=False))
            (tmp / "meta.json").write_text(json.dumps(meta, allow_nan=False, default=str))
            checksum = _digest(*_meta_files(tmp, meta))
            (tmp / CHECKSUM_FILE).write_text(checksum + "\n")
            # replace atomically: move the old one aside, rename, then drop it
            old = None
            if final.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old.", dir=self.root))
                os.replace(final, old / "m")
            os.replace(tmp, final)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        ref = {"store": str(self.root), "name": name, "key": final.name, "checksum": checksum,
               "saved": meta["saved"]}
        trained.model_ref = ref
        return ref

    def load(self, name: str) -> TrainedModel:
        """Load a model; the checksum must match and no code from the file runs."""
        import keras

        path = self.path(name)
        try:
            expected = (path / CHECKSUM_FILE).read_text().strip()
        except (FileNotFoundError, NotADirectoryError):
            if self._present(path):
                raise self._damaged(name, path, f"{CHECKSUM_FILE} is missing") from None
            raise ModelStoreError(f"no stored model named {name!r}") from None
        try:
            meta = json.loads((path / "meta.json").read_text())
            actual = _digest(*_meta_files(path, meta))
        except (OSError, json.JSONDecodeError, AttributeError, TypeError, ModelStoreError) as exc:
            raise self._damaged(name, path, f"its files are unreadable ({exc})") from None
        if actual != expected:
            raise DamagedModelError(name, path, _diagnose(path) + [
                f"the files do not match {CHECKSUM_FILE} (changed after the save)"])
        novelty = None
        if meta.get("novelty"):
            from antinex.utils.novelty import FrozenNoveltyDetector

            try:
                novelty = FrozenNoveltyDetector.load(path / NOVELTY_FILE)  # arrays only: no pickle
            except (OSError, ValueError, KeyError) as exc:
                if problems := _diagnose(path):
                    raise DamagedModelError(name, path, problems) from None
                raise ModelStoreError(f"model {name!r}: novelty detector refused: {exc}") from None
        try:
            artifacts = {name: json.loads(artifact_file(path, name).read_text()) for name in meta.get("artifacts") or ()}
        except (OSError, ValueError) as exc:
            raise self._damaged(name, path, f"an artifact is unreadable ({exc})") from None
        try:
            model = keras.saving.load_model(path / "model.keras", safe_mode=True, compile=False)
        except (ValueError, TypeError) as exc:  # e.g. a Lambda layer: its bytecode is never deserialised
            if problems := _diagnose(path):  # a corrupt file that verified (damaged before its checksum was written)
                raise DamagedModelError(name, path, problems) from None
            raise ModelStoreError(f"model {name!r} refused: {exc}") from None
        return TrainedModel(
            model=model,
            features=meta["features"],
            predict_feature=meta["predict_feature"],
            ml_type=meta["ml_type"],
            x_scaling=Scaling.from_json(meta["x_scaling"]),
            y_scaling=Scaling.from_json(meta["y_scaling"]),
            classes=meta["classes"],
            label_rules=meta["label_rules"],
            missing_value=meta["missing_value"],
            request=meta["request"],
            metrics=meta["metrics"],
            history=meta["history"],
            model_ref={"store": str(self.root), "name": meta["name"], "key": meta["key"],
                       "checksum": expected, "saved": meta["saved"]},
            novelty=novelty,
            artifacts=artifacts,
        )

    def list(self) -> list[dict]:
        """Stored models: name, key, saved time, size in bytes, checksum."""
        out = []
        for d in sorted(self.root.iterdir()):
            if d.name.startswith(".") or not (d / CHECKSUM_FILE).is_file():
                continue
            try:
                meta = json.loads((d / "meta.json").read_text())
            except (OSError, json.JSONDecodeError):
                continue
            out.append({
                "name": meta.get("name"), "key": d.name, "saved": meta.get("saved"),
                "bytes": sum(f.stat().st_size for f in d.iterdir()),
                "checksum": (d / CHECKSUM_FILE).read_text().strip(),
                "ml_type": meta.get("ml_type"), "accuracy": (meta.get("metrics") or {}).get("accuracy"),
            })
        return out

    def delete(self, name: str) -> bool:
        path = self.path(name)
        if not path.exists():
            return False
        trash = Path(tempfile.mkdtemp(prefix=f".{path.name}.del.", dir=self.root))
        os.replace(path, trash / "m")
        shutil.rmtree(trash, ignore_errors=True)
        return True
