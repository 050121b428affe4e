"""Where a user's files may be read and written: path confinement, written once.

Every user has a folder of their own (``<users root>/user_<id>``), read and
written only by them; the shared datasets directories (sample data, the
pipeline's recordings) are read-only for everyone. Every path a request
names is resolved (``..`` and symbolic links followed) and checked here
before anything opens it:

* reads: the user's own folder, or a shared directory outside every user
  folder (another user's folder is never readable, even when the users
  root lies inside a shared directory);
* writes: the user's own folder only.

A relative path is looked up in the user's folder first, then in each
shared directory. Replies and records show paths relative to those roots
(:meth:`DataSpace.public`), never the server's absolute paths, and
:meth:`DataSpace.redact` removes the roots from error text.
"""
from __future__ import annotations

import functools
import glob as globmod
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from antinex.utils.request_values import RequestError

_ABSOLUTE = re.compile(r"(?<![\w.<>])/(?:[\w.@+-]+/)+([\w.@+-]+)")
_WILDCARD = re.compile(r"[*?[]")
MAX_GLOB_FILES = 10_000  # one preparation reads at most this many CSVs
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# where the folders are: ANTINEX_DATASETS_DIR and ANTINEX_USER_DATA_DIR, declared in utils/config.py
_OWNER = re.compile(r"^user_(\d+)\.")


def user_folder_name(user_id: int | str) -> str:
    return f"user_{int(user_id)}"


def owner_of_label(label: str) -> int | None:
    """The user id in a model label the API wrote (``user_<id>.<label>``), or None."""
    match = _OWNER.match(str(label).strip().lower())
    return int(match.group(1)) if match else None


def plain_file_name(field: str, value: Any) -> str:
    """A file name without any directory part (no ``/``, no ``..``), or a RequestError naming ``field``."""
    if not isinstance(value, str) or not _PLAIN_NAME.match(value) or ".." in value:
        raise RequestError(field, "must be a plain file name (letters, digits, '.', '_', '-'; no '/' or '..'; "
                                  f"at most 128 characters), got {str(value)[:80]!r}")
    return value


def _text_path(field: str, value: Any) -> Path:
    if not isinstance(value, (str, Path)) or not str(value).strip():
        raise RequestError(field, f"must be a file path, got {str(value)[:80]!r}")
    text = str(value)
    if "\x00" in text:
        raise RequestError(field, "contains a NUL byte")
    if len(text) > 1024:
        raise RequestError(field, "is longer than 1024 characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError(field, "is not valid text (lone surrogates)") from None
    return Path(text).expanduser()


def _resolve(field: str, path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # symlink loops, names too long
        raise RequestError(field, f"is not a usable path ({type(exc).__name__})") from None


def _within(path: Path, root: Path | None) -> bool:
    return root is not None and path.is_relative_to(root)


@dataclass(frozen=True)
class DataSpace:
    """The directories one caller may read (``shared``, ``own``) and write (``own``).

    ``own`` None: a caller without a folder (the offline CLI, a worker
    re-checking a path the API already confined) reads shared data only.
    ``shared`` empty and ``users_root`` None: unconfined (the offline CLI).
    """

    shared: tuple[Path, ...] = ()
    users_root: Path | None = None
    own: Path | None = None

    @classmethod
    def build(cls, shared: Iterable[str | Path] | None, users_root: str | Path | None = None,
              user_id: int | str | None = None) -> "DataSpace":
        """Resolve the roots; ``user_id`` gives the caller's own folder under ``users_root``.

        Built once per (roots, user) in a process: every request and every
        record rendered asks for one, and the roots are settings.
        """
        return _build(tuple(str(p) for p in (shared or ())), str(users_root) if users_root else None,
                      None if user_id is None else int(user_id))

    @property
    def confined(self) -> bool:
        return bool(self.shared) or self.users_root is not None

    # -- checks ---------------------------------------------------------------
    def can_read(self, resolved: Path) -> bool:
        """Whether an already resolved path may be read by this caller."""
        if not self.confined or _within(resolved, self.own):
            return True
        if _within(resolved, self.users_root):
            return False  # another user's folder (or the users root itself)
        return any(_within(resolved, root) for root in self.shared)

    def can_write(self, resolved: Path) -> bool:
        if not self.confined:
            return True
        return _within(resolved, self.own) and resolved != self.own

    def _candidates(self, path: Path) -> list[Path]:
        if path.is_absolute() or not self.confined:
            return [path]
        return [root / path for root in ((self.own,) if self.own else ()) + self.shared]

    def read_path(self, field: str, value: Any, *, must_exist: bool = True) -> Path:
        """The resolved file ``value`` names, if this caller may read it; else a RequestError naming ``field``."""
        path = _text_path(field, value)
        if self.confined and ".." in path.parts:
            raise RequestError(field, f"{value} may not contain '..'")
        refused = False
        for candidate in self._candidates(path):
            resolved = _resolve(field, candidate)
            if not self.can_read(resolved):
                refused = True
                continue
            if resolved.is_file() or not must_exist:
                return resolved
        if refused and path.is_absolute():
            raise RequestError(field, f"{value} is outside your folder and the shared datasets directories")
        raise RequestError(field, f"file not found: {value}")

    def write_path(self, field: str, value: Any) -> Path:
        """Where ``value`` may be written: inside the caller's own folder, resolved; else a RequestError."""
        if self.confined and self.own is None:
            raise RequestError(field, "this caller has no folder to write in")
        path = _text_path(field, value)
        if self.confined and ".." in path.parts:
            raise RequestError(field, f"{value} may not contain '..'")
        if self.confined and not path.is_absolute():
            path = self.own / path
        resolved = _resolve(field, path)
        if not self.can_write(resolved):
            raise RequestError(field, f"{value} is outside your folder (files are written only there)")
        if resolved.is_dir() and field != "output_dir":
            raise RequestError(field, f"{value} is a directory")
        return resolved

    def glob(self, field: str, pattern: Any, max_files: int = MAX_GLOB_FILES) -> list[Path]:
        """Readable files matching ``pattern`` (relative: in the caller's folder and the shared directories).

        The pattern's literal start must itself be readable before anything is
        listed (``/**`` never walks the whole disk), and at most ``max_files``
        files are taken.
        """
        path = _text_path(field, pattern)
        if ".." in path.parts:
            raise RequestError(field, f"{pattern} may not contain '..'")
        found: dict[Path, None] = {}
        for candidate in self._candidates(path):
            literal = Path(*[p for p in itertools.takewhile(lambda part: not _WILDCARD.search(part),
                                                            candidate.parts)] or ["."])
            if self.confined and not self.can_read(_resolve(field, literal)):
                continue
            for match in globmod.iglob(str(candidate), recursive=True):
                resolved = Path(match).resolve()
                if resolved.is_file() and self.can_read(resolved):
                    found.setdefault(resolved)
                    if len(found) > max_files:
                        raise RequestError(field, f"{pattern} matches more than {max_files:,} files")
        if not found:
            raise RequestError(field, f"no readable files match {pattern}")
        return sorted(found)

    # -- what the caller is shown -------------------------------------------
    def public(self, path: str | Path | None) -> str:
        """``path`` as the caller should see it: relative to their folder or a shared directory."""
        if path in (None, ""):
            return ""
        p = Path(str(path))
        if not self.confined:
            return str(p)
        for root in ((self.own,) if self.own else ()) + self.shared:
            if p.is_relative_to(root):
                return p.relative_to(root).as_posix()
        return self.redact(str(p))

    def redact(self, text: str) -> str:
        """Error text without the server's directories (each root becomes a placeholder)."""
        if not text:
            return text
        roots = [(self.own, "<your folder>")] if self.own else []
        roots += [(root, "<datasets>") for root in self.shared]
        if self.users_root is not None:
            roots.append((self.users_root, "<users>"))
        for root, label in sorted(roots, key=lambda r: -len(str(r[0]))):
            text = text.replace(str(root) + "/", "").replace(str(root), label)
        # any other absolute path (a library's message, a traceback line): its last part only
        return _ABSOLUTE.sub(lambda m: f"<server>/{m.group(1)}", text)


@functools.lru_cache(maxsize=1024)
def _build(shared: tuple[str, ...], users_root: str | None, user_id: int | None) -> DataSpace:
    roots = tuple(Path(p).resolve() for p in shared)
    users = Path(users_root).resolve() if users_root else None
    own = users / user_folder_name(user_id) if users is not None and user_id is not None else None
    return DataSpace(shared=roots, users_root=users, own=own)
