"""Every environment setting of AntiNex, declared once: its name, type, default, meaning and readers.

Modelled on Celery's ``app/defaults.py``: :data:`SETTINGS` is the
declaration; the settings modules (``api/settings.py``, ``core/settings.py``,
``pipeline/settings.py``, ``client/consts.py``) read values only through
:func:`value`, and docs/settings.md is generated from the declaration
(``python -m antinex.utils.doctables``; a test fails when they drift). The
job bounds (``ANTINEX_MAX_*``, ``ANTINEX_JOB_TIME_LIMIT``) are declared the
same way in ``utils/limits.py``.

A setting has one meaning. Older names stay readable as **aliases** (read
when the setting itself is unset). ``BROKER_URL`` is the one name the
original used for two brokers, each process its own: it is an alias of
``ANTINEX_API_BROKER_URL`` in the API (where the two must agree) and the last
fallback of ``ANTINEX_CORE_BROKER_URL`` in the core. Because the ``celery``
command line takes its broker from ``BROKER_URL``, a core *worker* whose
``BROKER_URL`` names another broker than its setting refuses to start
(``core/settings.py: check_worker_broker``) instead of silently consuming
another broker's queues; the core's management commands run in the API's
environment (where ``BROKER_URL`` is the API broker) as they are.

Adding a setting is one ``Setting(...)`` entry here, then reading it with
``value("NAME", part)`` where it is used, then regenerating the docs.
"""
from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from antinex.utils.consts import (DEFAULT_API_BROKER_URL, DEFAULT_CORE_BROKER_URL, DEFAULT_PACKETS_BROKER_URL,
                                  NEW_PACKETS, PREDICT_QUEUE, TRAIN_QUEUE)

REPO_DIR = Path(__file__).resolve().parent.parent
PARTS = ("api", "core", "pipeline", "client", "cli")


class SettingError(ValueError):
    """A setting's value cannot be read (the message names the variable and says what it must be)."""


@dataclass(frozen=True)
class Derived:
    """A default computed from other settings (or the machine): ``text`` says how, for the docs."""

    text: str
    compute: Callable[[Mapping[str, str]], Any]


@dataclass(frozen=True)
class Setting:
    """One environment variable. ``type``: str, int, float, bool, Path, ``"paths"`` (colon-separated) or
    ``"names"`` (comma-separated)."""

    name: str
    type: Any
    default: Any
    meaning: str
    parts: tuple[str, ...]
    aliases: tuple[str, ...] = ()  # older names, read when this one is unset (in this order)
    part_aliases: tuple[tuple[str, str], ...] = ()  # (part, name): a last fallback in one part only
    must_agree: bool = False  # the name and its aliases (not the part aliases), when several are set, agree
    part_defaults: tuple[tuple[str, Any], ...] = ()  # (part, default): where one part's default differs
    minimum: float | None = None
    choices: tuple[str, ...] = ()
    secret: bool = False  # never printed

    def names(self, part: str = "") -> tuple[str, ...]:
        return (self.name, *self.aliases, *(n for p, n in self.part_aliases if p == part))

    def convert(self, name: str, raw: str) -> Any:
        text = raw.strip()
        try:
            if self.type is bool:
                if text.lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                    raise ValueError("must be 1/true/yes/on or 0/false/no/off")
                return text.lower() in ("1", "true", "yes", "on")
            if self.type is int:
                number = float(text)
                if number != int(number):
                    raise ValueError("must be a whole number")
                out: Any = int(number)
            elif self.type is float:
                out = float(text)
            elif self.type is Path:
                return Path(text).expanduser()
            elif self.type == "paths":
                return [Path(p).expanduser() for p in text.split(":") if p]
            elif self.type == "names":
                out = [n.strip() for n in text.split(",") if n.strip()]
            else:
                out = raw
        except ValueError as exc:
            reason = str(exc) if "must" in str(exc) else f"must be {'an integer' if self.type is int else 'a number'}"
            raise SettingError(f"{name}={raw[:80]!r}: {reason} ({self.meaning[:80]})") from None
        if self.minimum is not None and out < self.minimum:
            raise SettingError(f"{name}={raw[:80]!r}: must be at least {self.minimum:g}")
        if self.choices and isinstance(out, list):
            wrong = [n for n in out if n not in self.choices]
            if wrong:
                raise SettingError(f"{name}={raw[:80]!r}: {', '.join(wrong)} is not one of {', '.join(self.choices)}")
        elif self.choices and out not in self.choices:
            raise SettingError(f"{name}={raw[:80]!r}: must be one of {', '.join(self.choices)}")
        return out

    def default_for(self, part: str = "") -> Any:
        """The default as ``part`` reads it (its own default where ``part_defaults`` names the part)."""
        return dict(self.part_defaults).get(part, self.default)

    def default_text(self, part: str = "") -> str:
        default = self.default_for(part)
        if isinstance(default, Derived):
            return default.text
        if default is None or default == "" or default == []:
            return "unset"
        if isinstance(default, bool):
            return "1" if default else "0"
        if isinstance(default, list):
            return ",".join(str(v) for v in default)
        return str(default)


def _default_model_name() -> str:
    from antinex.utils.cli import default_model_name  # the shipped request's label (read when needed)

    return default_model_name()


def _var_dir(env: Mapping[str, str]) -> Path:
    # a checkout keeps its data in var/ beside the code; an installed package in ./var of where it runs
    root = REPO_DIR if (REPO_DIR / "pyproject.toml").exists() else Path.cwd()
    return Path(env.get("ANTINEX_VAR_DIR") or root / "var").expanduser()


SETTINGS: tuple[Setting, ...] = (
    # -- where data lives ---------------------------------------------------------
    Setting("ANTINEX_VAR_DIR", Path, Derived("`var/` of the checkout (installed: `./var`)", _var_dir),
            "AntiNex's own data directory; the file defaults below live in it", ("api", "core", "cli")),
    Setting("ANTINEX_DATASETS_DIR", "paths", Derived("`$ANTINEX_VAR_DIR/datasets`",
                                                     lambda env: [_var_dir(env) / "datasets"]),
            "shared, read-only datasets directories (colon-separated); jobs read them and their owner's folder "
            "only (utils/userdata.py)", ("api", "core")),
    Setting("ANTINEX_USER_DATA_DIR", Path, Derived("`users/` in the first datasets directory", lambda env: (
        value("ANTINEX_DATASETS_DIR", environ=env) or [_var_dir(env)])[0] / "users"),
            "every user's own folder `user_<id>/` lives here: read and written by that user only",
            ("api", "core")),
    Setting("ANTINEX_MODEL_STORE", Path, Derived("`$ANTINEX_VAR_DIR/models`", lambda env: _var_dir(env) / "models"),
            "the model store directory (docs/model-store.md); the API worker, the core, `antinex train` and "
            "the subscriber's request model share it", ("api", "core", "cli", "pipeline")),
    Setting("ANTINEX_SQLITE", Path, Derived("`$ANTINEX_VAR_DIR/antinex.sqlite3`",
                                            lambda env: _var_dir(env) / "antinex.sqlite3"),
            "the embedded database of the quick start (without DATABASE_URL or POSTGRES_DB; never in Production)",
            ("api",)),
    Setting("ANTINEX_STATIC_ROOT", Path, Derived("`$ANTINEX_VAR_DIR/static`", lambda env: _var_dir(env) / "static"),
            "where collectstatic puts the static files", ("api",)),
    Setting("ANTINEX_DOCS_DIR", Path, Derived("`docs/_build/html` of the checkout",
                                              lambda env: REPO_DIR / "docs" / "_build" / "html"),
            "the built HTML docs served at /docs/", ("api",)),
    # -- Django -------------------------------------------------------------------------
    Setting("DJANGO_CONFIGURATION", str, "Development", "`Production` refuses unsafe settings (development key, "
            "DEBUG, `*` hosts, SQLite)", ("api",), choices=("Development", "Production")),
    Setting("DJANGO_SECRET_KEY", str, "", "the key that signs tokens (32+ characters in Production; Development "
            "falls back to a fixed development key)", ("api",), secret=True),
    Setting("DJANGO_SECRET_KEY_FILE", Path, None, "a file holding the secret key instead (never inside a data "
            "directory)", ("api",)),
    Setting("DJANGO_DEBUG", bool, Derived("1 in Development, 0 in Production",
                                          lambda env: value("DJANGO_CONFIGURATION", environ=env) == "Development"),
            "Django's DEBUG", ("api",)),
    Setting("DJANGO_ALLOWED_HOSTS", "names", ["*"], "host names the API answers (comma-separated)", ("api",)),
    Setting("DJANGO_SECURE_COOKIES", bool, True, "Production: session and CSRF cookies over HTTPS only", ("api",)),
    Setting("DATABASE_URL", str, "", "the database (`postgres://user:password@host:port/name`)", ("api",),
            secret=True),
    Setting("POSTGRES_DB", str, "", "without DATABASE_URL: a PostgreSQL database of this name", ("api",)),
    Setting("POSTGRES_HOST", str, "localhost", "with POSTGRES_DB", ("api",)),
    Setting("POSTGRES_PORT", int, 5432, "with POSTGRES_DB", ("api",), minimum=1),
    Setting("POSTGRES_USER", str, "postgres", "with POSTGRES_DB", ("api",)),
    Setting("POSTGRES_PASSWORD", str, "", "with POSTGRES_DB", ("api",), secret=True),
    Setting("ANTINEX_MAX_BODY_BYTES", int, 50 * 1024 * 1024, "largest request body (413 beyond)", ("api",),
            minimum=1),
    Setting("ANTINEX_LOGIN_RATE", str, "20/minute", "failed logins allowed per client address and per username "
            "(`N/second|minute|hour|day`)", ("api",)),
    Setting("ANTINEX_NUM_PROXIES", int, 0, "trusted proxies in front of the API (the login throttle's client "
            "address is the Nth from the right of X-Forwarded-For)", ("api",), minimum=0),
    Setting("ANTINEX_CACHE_URL", str, Derived("the API broker", lambda env: value("ANTINEX_API_BROKER_URL", "api",
                                                                                  environ=env)),
            "the Redis of the login throttle's counters", ("api",)),
    Setting("JWT_ACCESS_MINUTES", int, 60, "lifetime of an access token", ("api",), minimum=1),
    Setting("JWT_REFRESH_DAYS", int, 7, "lifetime of a refresh token", ("api",), minimum=1),
    Setting("LOG_LEVEL", str, "INFO", "log level (the API and the subscriber)", ("api", "pipeline")),
    Setting("API_WORKERS", int, 2, "gunicorn worker processes of the API (api/gunicorn_conf.py)", ("api",),
            minimum=1),
    Setting("API_THREADS", int, 8, "threads per gunicorn worker of the API: a long poll holds one thread "
            "(api/gunicorn_conf.py)", ("api",), minimum=1),
    # -- brokers and workers ------------------------------------------------------------------
    Setting("ANTINEX_API_BROKER_URL", str, DEFAULT_API_BROKER_URL, "the API worker's broker: its tasks (local "
            "training, dataset preparation) and the core's results", ("api",), aliases=("BROKER_URL",),
            must_agree=True),
    Setting("ANTINEX_CORE_BROKER_URL", str, DEFAULT_CORE_BROKER_URL, "the core's broker: the train and predict "
            "queues and the cancel flags", ("api", "core"), aliases=("ANTINEX_AUTH_URL",),
            part_aliases=(("core", "BROKER_URL"),), must_agree=True),
    Setting("ANTINEX_RESULT_AUTH_URL", str, Derived("the API broker", lambda env: value("ANTINEX_API_BROKER_URL", "api",
                                                                                       environ=env)),
            "where the core sends results (`worker_result_node.auth_url`): the API worker's broker as the core "
            "reaches it", ("api",)),
    Setting("CELERY_ENABLED", bool, True, "0: the API runs its worker's tasks itself, eagerly (quick start)",
            ("api",)),
    Setting("ANTINEX_WORKER_ENABLED", bool, False, "1: ML jobs go to the core; 0: the API worker trains them",
            ("api",)),
    Setting("ANTINEX_API_VISIBILITY_TIMEOUT", int, 3600, "seconds before the API broker hands an unacknowledged "
            "task to another worker: the API worker trains without a job lock, so it must outlast a job",
            ("api",), aliases=("ANTINEX_VISIBILITY_TIMEOUT",), minimum=1),
    Setting("ANTINEX_CORE_VISIBILITY_TIMEOUT", int, 60, "seconds before a dead core worker's job returns to the "
            "queue (a running job's lock keeps a redelivered copy waiting)", ("core",),
            aliases=("ANTINEX_VISIBILITY_TIMEOUT",), minimum=1),
    Setting("ANTINEX_JOB_LOCK_SECONDS", int, 30, "a running core job's lock, refreshed every third of it",
            ("core",), minimum=1),
    Setting("ANTINEX_RESULT_SEND_RETRIES", int, 20, "tries of the core to send a result back", ("core",), minimum=0),
    Setting("ANTINEX_DB_RETRIES", int, 240, "tries of an API worker task while PostgreSQL is unreachable (backoff "
            "capped at 30 s: about two hours)", ("api",), minimum=0),
    Setting("ANTINEX_MAX_WAIT_SECONDS", float, 30.0, "the longest `GET /mlresults/{id}/?wait=S` holds its answer",
            ("api",), minimum=0),
    Setting("ANTINEX_MAX_CONCURRENT_WAITS", int, 4, "long polls one API process holds at once (beyond: "
            "`Antinex-Wait: busy`)", ("api",), minimum=0),
    Setting("TRAIN_QUEUE", str, TRAIN_QUEUE, "the core's train queue", ("api", "core")),
    Setting("PREDICT_QUEUE", str, PREDICT_QUEUE, "the core's predict queue", ("api", "core")),
    Setting("MAX_MODELS", int, 100, "trained models one core worker keeps in memory", ("core",), minimum=1),
    # -- pipeline -------------------------------------------------------------------------------
    Setting("FORWARD_BROKER_URL", str, DEFAULT_PACKETS_BROKER_URL, "the packet queue's Redis", ("pipeline",)),
    Setting("FORWARD_EXCHANGE", str, NEW_PACKETS, "the packet exchange", ("pipeline",)),
    Setting("FORWARD_ROUTING_KEY", str, NEW_PACKETS, "the packet routing key", ("pipeline",)),
    Setting("FORWARD_QUEUE", str, NEW_PACKETS, "the packet queue", ("pipeline",)),
    Setting("SOURCE_HOST", str, Derived("the host name", lambda env: socket.gethostname()),
            "the capturing host's name in each packet", ("pipeline",)),
    Setting("CAPTURE_BUFFER_MB", float, 64.0, "the capture socket's receive buffer (bursts wait there)",
            ("pipeline",), minimum=1),
    Setting("CAP_DEVICE", str, Derived("scapy's default interface", lambda env: None),
            "the interface a capture agent reads (`-i` wins)", ("pipeline",)),
    Setting("NETWORK_FILTER", str, Derived("the agent's own filter (`tcp`, `udp`, `arp`, ...)", lambda env: None),
            "the BPF filter of a capture agent (`-f` wins); the broker's port is always excluded", ("pipeline",)),
    Setting("DS_DIR", Path, Path("var/datasets/recorded"), "the subscriber's CSV directory (relative: to where it "
            "runs)", ("pipeline",)),
    Setting("DS_NAME", str, "netdata", "the subscriber's CSV name prefix (`DS_NAME-NNNNN.csv`), also the name of "
            "its in-flight list on Redis: a restart with the same name resumes it", ("pipeline",)),
    Setting("ROTATE_ROWS", int, 100000, "rows per CSV file before the subscriber starts the next", ("pipeline",),
            minimum=1),
    Setting("STOP_AFTER_NUM", int, -1, "the subscriber exits after this many packets (negative: never)",
            ("pipeline",)),
    Setting("ANTINEX_BATCH_SIZE", int, 100, "with ANTINEX_PUBLISH_ENABLED=1: rows per prediction batch sent to "
            "the API", ("pipeline",), minimum=1),
    Setting("ANTINEX_MAX_DELAY", float, 0.5, "with ANTINEX_PUBLISH_ENABLED=1: seconds before a smaller batch "
            "goes out", ("pipeline",), minimum=0),
    Setting("ANTINEX_PREDICTIONS_CSV", Path, Path("var/datasets/recorded/predictions.csv"), "the subscriber's "
            "per-packet predictions are appended here (relative: to where it runs)", ("pipeline",)),
    # the subscriber's verdicts and alerts (docs/verdicts.md)
    Setting("ANTINEX_ALERTS", bool, True, "the subscriber runs the analyzer on the consumed packets and writes "
            "alerts (0: packet rows only)", ("pipeline",)),
    Setting("ANTINEX_EVE_FILE", Path, Path("var/alerts/eve.json"), "the subscriber's rotating EVE JSON alert file "
            "(relative: to where it runs)", ("pipeline",)),
    Setting("ANTINEX_EVE_MAX_MB", float, 100.0, "the EVE file is rotated at this size", ("pipeline",), minimum=0),
    Setting("ANTINEX_EVE_BACKUPS", int, 5, "rotated EVE files kept (`eve.json.1` ...)", ("pipeline",), minimum=0),
    Setting("ANTINEX_ALERTS_REDIS_URL", str, None, "also LPUSH each alert to a list on this Redis", ("pipeline",)),
    Setting("ANTINEX_ALERTS_REDIS_KEY", str, "antinex.alerts", "that list's key", ("pipeline",)),
    Setting("ANTINEX_ALERTS_REDIS_MAX", int, 10000, "that list is trimmed to this many alerts", ("pipeline",),
            minimum=1),
    Setting("ANTINEX_ALERTS_SYSLOG", str, None, "also send each alert to syslog: `/dev/log` or `host:port` (UDP)",
            ("pipeline",)),
    Setting("ANTINEX_ALERTS_SYSLOG_FACILITY", str, "local5", "the syslog facility of the alerts", ("pipeline",)),
    Setting("ANTINEX_SUPPRESS_FILE", Path, None, "the subscriber's suppression list (docs/verdicts.md)",
            ("pipeline",)),
    Setting("ANTINEX_MODEL", str, Derived("the quick start's (the shipped request's label)",
                                          lambda env: _default_model_name()),
            "the stored request model the subscriber judges requests with", ("pipeline",)),
    Setting("ANTINEX_FLOW_PROFILE", Path, None, "a flow profile JSON for the subscriber instead of the model's (or "
            "the shipped one)", ("pipeline",)),
    Setting("ANTINEX_SIGNATURES", "names", ["sqli", "script", "cmdi", "shellshock"], "the injection signatures every "
            "request is checked with beside the model (pipeline/injection.py): `sqli`, `xss`, `script`, "
            "`cmdi`, `shellshock`, comma-separated, or `none`", ("pipeline",),
            choices=("sqli", "xss", "script", "cmdi", "shellshock", "none")),
    Setting("ANTINEX_ESCALATE_AFTER", int, 3, "attack verdicts from one source within "
            "`ANTINEX_ESCALATE_WINDOW` after which its next requests are alerts too (`source-escalation`, "
            "pipeline/escalation.py); 0 turns escalation off", ("pipeline",), minimum=0),
    Setting("ANTINEX_ESCALATE_WINDOW", float, 60.0, "seconds a source's attack verdicts count towards its "
            "escalation, and stay escalated after the latest", ("pipeline",), minimum=1),
    Setting("ANTINEX_TICK_AFTER", float, 1.0, "seconds without packets before the wall clock drives the "
            "subscriber's rules", ("pipeline",), minimum=0),
    # -- client (the original antinex-client's names) ----------------------------------------
    Setting("ANTINEX_URL", str, "http://localhost:8010", "the API's URL", ("client",), aliases=("API_URL",)),
    Setting("ANTINEX_USER", str, "user-not-set", "user name", ("client",), aliases=("API_USER",)),
    Setting("ANTINEX_PASSWORD", str, "password-not-set", "password", ("client",), aliases=("API_PASSWORD",),
            secret=True),
    Setting("ANTINEX_EMAIL", str, "email-not-set", "email", ("client",), aliases=("API_EMAIL",)),
    Setting("ANTINEX_PUBLISH_ENABLED", bool, True, "1: rows go to the API for prediction (the subscriber "
            "sends each new batch; `generate_ai_request` makes the request); 0: not (`generate_ai_request` answers "
            "DISABLED)", ("client", "pipeline"), part_defaults=(("pipeline", False),)),
    Setting("ANTINEX_PUBLISH_REQUEST_FILE", Path, None, "`generate_ai_request`'s template request file",
            ("client",)),
    Setting("ANTINEX_USE_MODEL_NAME", str, "Full-Django-AntiNex-Simple-Scaler-DNN", "the label when the template "
            "has none", ("client",)),
    Setting("ANTINEX_ML_TYPE", str, "classification", "ml_type when the template has none", ("client",)),
    Setting("ANTINEX_PREDICT_FEATURE", str, "label_value", "the target when the template has none", ("client",)),
    Setting("ANTINEX_FEATURES_TO_PROCESS", "names", [], "features when the template has none", ("client",)),
    Setting("ANTINEX_IGNORE_FEATURES", "names", [], "ignored columns when the template has none", ("client",)),
    Setting("ANTINEX_MISSING_VALUE", float, -1.0, "the value of an empty cell", ("client",)),
    Setting("ANTINEX_CONVERT_DATA_TYPE", str, "float", "cells are cast to this", ("client",),
            choices=("float", "int")),
    Setting("ANTINEX_INCLUDE_FAILED_CONVERSIONS", bool, False, "keep cells that do not cast", ("client",)),
    Setting("ANTINEX_CHECK_MISSING_PREDICT", bool, True, "add the target to rows without it", ("client",)),
    Setting("ANTINEX_PUBLISH_TO_CORE", bool, True, "`publish_to_core` when the template has none", ("client",)),
    Setting("DATAFILE", Path, None, "the request file of `ai_train_dnn.py`, `ai_prepare_dataset.py` and "
            "`ai_env_predict.py` when `-f` is not given", ("client",)),
    Setting("JOB_ID", str, None, "the job of `ai_get_job.py` when `-i` is not given", ("client",)),
    Setting("RESULT_ID", str, None, "the result of `ai_get_results.py` when `-i` is not given", ("client",)),
    Setting("PREPARE_ID", str, None, "the preparation of `ai_get_prepared_dataset.py` when `-i` is not given",
            ("client",)),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
assert len(BY_NAME) == len(SETTINGS), "a setting is declared twice"


def value(name: str, part: str = "", *, environ: Mapping[str, str] | None = None) -> Any:
    """The value of setting ``name`` as ``part`` (api, core, pipeline, client, cli) reads it.

    The setting itself, else its first alias that is set, else its default.
    Empty values count as unset. Raises :class:`SettingError` naming the
    variable for a malformed value or aliases that must agree and do not.
    """
    env = os.environ if environ is None else environ
    setting = BY_NAME[name]
    given = [(n, env[n]) for n in setting.names(part) if env.get(n, "").strip()]
    agreeing = [(n, raw) for n, raw in given if n in (setting.name, *setting.aliases)]
    if setting.must_agree and len({raw.strip() for _, raw in agreeing}) > 1:
        listed = ", ".join(f"{n}={raw!r}" for n, raw in agreeing)
        raise SettingError(f"{listed} disagree: they all name {setting.meaning.split(':')[0]}; set one of them")
    if given:
        return setting.convert(*given[0])
    default = setting.default_for(part)
    return default.compute(env) if isinstance(default, Derived) else default


def describe(part: str = "", environ: Mapping[str, str] | None = None) -> list[tuple[str, str, str]]:
    """(name, value in force, meaning) of every setting ``part`` reads (all without ``part``); secrets hidden."""
    rows = []
    for s in SETTINGS:
        if part and part not in s.parts:
            continue
        shown = "(secret)" if s.secret else value(s.name, part, environ=environ)
        if isinstance(shown, list):
            shown = ",".join(str(v) for v in shown)
        rows.append((s.name, str(shown), s.meaning))
    return rows


def main(argv: list[str] | None = None) -> int:
    """``python -m antinex.utils.config [part]``: the settings in force."""
    argv = sys.argv[1:] if argv is None else argv
    part = argv[0] if argv else ""
    if part and part not in PARTS:
        print(f"unknown part {part!r}: use one of {', '.join(PARTS)}", file=sys.stderr)
        return 2
    try:
        for name, shown, meaning in describe(part):
            print(f"{name}={shown}\t{meaning}")
    except SettingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
