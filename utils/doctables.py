"""The docs' reference tables, made from the declarations so they cannot drift from the code.

    python -m antinex.utils.doctables          # rewrite the tables in docs/
    python -m antinex.utils.doctables --check  # exit 1 naming the tables that differ (the tests run this)

Each table sits in its page between ``<!-- BEGIN name -->`` and ``<!-- END
name -->`` markers; everything outside the markers is written by hand.
Sources: the request fields (``utils/request_fields.py``), the settings
(``utils/config.py``) and the job bounds (``utils/limits.py``).
"""
from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path
from typing import Callable

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _cell(text: str) -> str:
    return re.sub(r"(?<!\\)\|", r"\\|", str(text).replace("\n", " "))  # a bare | would end the cell


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def request_fields(role: str) -> str:
    """The table of the ML request's fields of one role (utils/request_fields.py)."""
    from antinex.utils.request_fields import FIELDS

    fields = [f for f in FIELDS if f.role == role]
    if role in ("server", "legacy"):
        return _table(("field", "why"), [(f"`{f.name}`", f.meaning) for f in fields])
    return _table(("field", "type", "default", "meaning"),
                  [(f"`{f.name}`", f.type_text(), f.default_text(), f.meaning) for f in fields])


def prepare_fields() -> str:
    from antinex.utils.request_fields import PREPARE_FIELDS

    return _table(("field", "type", "default", "meaning"),
                  [(f"`{f.name}`", f.type_text(), "required" if f.required else f.default_text() or "ignored",
                    f.meaning) for f in PREPARE_FIELDS])


def settings(part: str) -> str:
    """The settings ``part`` reads (utils/config.py); a setting read by several parts is listed under each."""
    from antinex.utils.config import SETTINGS

    rows = []
    for s in SETTINGS:
        if part not in s.parts:
            continue
        names = [f"`{s.name}`"] + [f"`{a}`" for a in s.aliases] + [f"`{n}` ({p} only)" for p, n in s.part_aliases
                                                                     if p == part]
        rows.append((names[0], ", ".join(names[1:]), str(s.type.__name__ if isinstance(s.type, type) else s.type),
                     s.default_text(part), s.meaning))
    return _table(("setting", "older names", "type", "default", "meaning"), rows)


def limits(quotas: bool) -> str:
    """The job bounds (``quotas=False``) or the per-user quotas (utils/limits.py)."""
    from antinex.utils.limits import Limits

    rows = []
    for f in dataclasses.fields(Limits):
        if f.name.startswith("max_active_") != quotas:
            continue
        default = f"{f.default:,}" if isinstance(f.default, int) else f"{f.default:g}"
        rows.append((f"`{f.metadata['env']}`", default, f.metadata["meaning"]))
    return _table(("variable", "default", "bounds" if not quotas else "quota (429 naming `quota` beyond it)"), rows)


TABLES: dict[tuple[str, str], Callable[[], str]] = {
    ("request-schema.md", "request fields"): lambda: request_fields("request"),
    ("request-schema.md", "record fields"): lambda: request_fields("record"),
    ("request-schema.md", "server fields"): lambda: request_fields("server"),
    ("request-schema.md", "legacy fields"): lambda: request_fields("legacy"),
    ("api.md", "prepare fields"): prepare_fields,
    **{("settings.md", f"{part} settings"): (lambda part=part: settings(part))
       for part in ("api", "core", "cli", "pipeline", "client")},
    ("users-and-limits.md", "job bounds"): lambda: limits(False),
    ("users-and-limits.md", "quotas"): lambda: limits(True),
}


def _region(name: str) -> re.Pattern:
    return re.compile(rf"(<!-- BEGIN {re.escape(name)} [^>]*-->\n)(.*?)(<!-- END {re.escape(name)} -->)", re.S)


def rendered(page: str, text: str) -> str:
    """``text`` of ``page`` with each of its tables made anew."""
    for (where, name), make in TABLES.items():
        if where != page:
            continue
        pattern = _region(name)
        if not pattern.search(text):
            raise ValueError(f"docs/{page} has no <!-- BEGIN {name} ... --> ... <!-- END {name} --> region")
        text = pattern.sub(lambda m: m.group(1) + make() + "\n" + m.group(3), text)
    return text


def drifted(docs: Path = DOCS) -> list[str]:
    """The pages whose tables differ from the declarations."""
    return [page for page in sorted({p for p, _ in TABLES})
            if rendered(page, (docs / page).read_text()) != (docs / page).read_text()]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--check"]:
        stale = drifted()
        for page in stale:
            print(f"docs/{page}: tables differ from the declarations (python -m antinex.utils.doctables)")
        return 1 if stale else 0
    for page in sorted({p for p, _ in TABLES}):
        path = DOCS / page
        path.write_text(rendered(page, path.read_text()))
        print(f"docs/{page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
