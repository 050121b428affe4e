"""The lab's target applications: which app, which framework, which port, and
the attack surface tools and clients aim at (search, login, item paths).

    notes  the notes app behind three front ends: wsgi 8080, flask 5000, drf 8000 (webapp.py)
    spa    a single-page app with a JSON API and bearer tokens: flask 3000 (spaapp.py)
    forms  a server-rendered forum with CSRF, sessions, a profile, comments: django 8090 (formapp.py)

Each target is named ``<app>-<framework>`` (``notes-wsgi``, ``spa-flask``,
``forms-django``); the manifest and the built dataset carry ``app`` and
``framework`` separately.
"""
from __future__ import annotations

import sys
from dataclasses import asdict, dataclass

APPS = ("notes", "spa", "forms")
NOTES_FRAMEWORKS = ("wsgi", "flask", "drf")


@dataclass(frozen=True)
class Target:
    """One web application on one port, and its attack surface."""

    app: str
    framework: str
    port: int
    search: str  # a GET URL path with one injectable parameter
    login: str  # the login form's path
    login_kind: str  # "form" | "json" | "csrf-form"
    item: str  # a path template with one path segment to fuzz, "{}"
    post: str  # a form or JSON endpoint that takes free text (POST)

    @property
    def name(self) -> str:
        return f"{self.app}-{self.framework}"

    def url(self, host: str, path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"

    def as_dict(self, host: str) -> dict:
        return {**asdict(self), "name": self.name, "base": self.url(host, "")}


TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("notes", "wsgi", 8080, "/search?q=notes", "/login", "form", "/items/{}", "/items"),
    Target("notes", "flask", 5000, "/search?q=notes", "/login", "form", "/items/{}", "/items"),
    Target("notes", "drf", 8000, "/search?q=notes", "/login", "form", "/items/{}", "/items"),
    Target("spa", "flask", 3000, "/api/search?q=notes", "/api/login", "json", "/api/notes/{}", "/api/notes"),
    Target("forms", "django", 8090, "/search?q=hello", "/login", "csrf-form", "/posts/{}", "/profile"),
)}


def select(apps: tuple[str, ...] = APPS, frameworks: tuple[str, ...] = NOTES_FRAMEWORKS) -> list[Target]:
    """The targets of ``apps``; the notes app once per front end in ``frameworks``."""
    unknown = set(apps) - set(APPS)
    if unknown:
        raise ValueError(f"apps: unknown {sorted(unknown)} (known: {', '.join(APPS)})")
    bad = set(frameworks) - set(NOTES_FRAMEWORKS)
    if bad:
        raise ValueError(f"frameworks: unknown front ends {sorted(bad)} (known: {', '.join(NOTES_FRAMEWORKS)})")
    return [t for t in TARGETS.values() if t.app in apps and (t.app != "notes" or t.framework in frameworks)]


def server_commands(targets: list[Target], host: str) -> list[list[str]]:
    """The processes serving ``targets`` on ``host``: the notes front ends share one process
    (one store); the SPA and the forum run in their own (Django is configured once per process)."""
    cmds = []
    notes = [t for t in targets if t.app == "notes"]
    if notes:
        argv = [sys.executable, "-m", "antinex.pipeline.lab.webapp", "--host", host]
        for t in notes:
            argv += [f"--{t.framework}", str(t.port)]
        cmds.append(argv)
    for t in targets:
        if t.app == "spa":
            cmds.append([sys.executable, "-m", "antinex.pipeline.lab.spaapp", "--host", host, "--port", str(t.port)])
        elif t.app == "forms":
            cmds.append([sys.executable, "-m", "antinex.pipeline.lab.formapp", "--host", host, "--port", str(t.port)])
    return cmds
