"""Every environment variable AntiNex reads is declared once, in utils/config.py (issue 16, item 3).

The code of api/, core/, pipeline/, utils/ and client/ is parsed (not
imported): a read of ``os.environ`` or ``os.getenv`` must name a setting
declared in ``antinex.utils.config.SETTINGS``, or be one of the few
process-level reads allow-listed below, each with its reason. A read whose
name is not a literal is allowed only where a declaration itself is read
(``utils/config.py``, ``utils/limits.py``) or in the published client's
``ev`` helper. (A local name bound to ``os.environ`` counts as
``os.environ``; a copy of the whole environment for a child process is
not a read.) A ``value("NAME")`` or client ``setting("NAME")`` call must
name a declared setting too, so a typo fails here and not in production.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from antinex.utils.config import BY_NAME, PARTS, SETTINGS, Setting, value

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("api", "core", "pipeline", "utils", "client")

# (module, name): environment reads that are not AntiNex settings. Each needs its reason.
ALLOWED = {
    # process-level defaults set before a library loads: they configure TensorFlow / Django for this process,
    # the user's own value wins, and nothing of AntiNex reads them back
    ("api/celery_app.py", "DJANGO_SETTINGS_MODULE"),
    ("api/manage.py", "DJANGO_SETTINGS_MODULE"),
    ("api/wsgi.py", "DJANGO_SETTINGS_MODULE"),
    ("core/cli.py", "TF_CPP_MIN_LOG_LEVEL"),
    ("utils/cli.py", "TF_CPP_MIN_LOG_LEVEL"),
    ("pipeline/pcap.py", "TF_CPP_MIN_LOG_LEVEL"),
    ("pipeline/pcap.py", "TF_ENABLE_ONEDNN_OPTS"),
    ("pipeline/subscriber.py", "TF_CPP_MIN_LOG_LEVEL"),
    ("pipeline/subscriber.py", "TF_ENABLE_ONEDNN_OPTS"),
    # the lab's client processes talk to the lab's own targets only: no proxy, whatever the host sets
    ("pipeline/lab/clients.py", "NO_PROXY"),
    # the lab passes the system's HOME through to the attack tools it starts (their config lives there)
    ("pipeline/lab/tools.py", "HOME"),
}
# (module, function): reads whose name is a variable, allowed because they read a declaration
DYNAMIC = {
    ("utils/config.py", "value"),  # the one reader of SETTINGS
    ("utils/limits.py", "from_env"),  # reads the job bounds declared in utils/limits.py
    # the published antinex-client's helper for a user's script's own variables (kept as the original had it)
    ("client/consts.py", "ev"),
}
ENV_FUNCS = {"get", "setdefault", "pop", "__getitem__"}


def _modules():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(), str(path))


def _is_os_environ(node: ast.AST, environ_names: set[str]) -> bool:
    if isinstance(node, ast.Attribute) and node.attr == "environ":
        return isinstance(node.value, ast.Name) and node.value.id == "os"
    return isinstance(node, ast.Name) and node.id in environ_names


class _Reads(ast.NodeVisitor):
    """Collects (function, name or None, line) for every environment read and every ``value``/``setting`` call."""

    def __init__(self, tree: ast.Module):
        self.environ_names: set[str] = set()  # `from os import environ [as x]`
        self.getenv_names: set[str] = set()
        self.value_names: set[str] = set()  # `from antinex.utils.config import value`, client `setting`
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "os":
                for alias in node.names:
                    (self.environ_names if alias.name == "environ" else
                     self.getenv_names if alias.name == "getenv" else set()).add(alias.asname or alias.name)
            if isinstance(node, ast.ImportFrom) and node.module in ("antinex.utils.config", "antinex.client.consts"):
                for alias in node.names:
                    if alias.name in ("value", "setting"):
                        self.value_names.add(alias.asname or alias.name)
        # `env = os.environ` or `env = os.environ if environ is None else environ`: env reads the environment
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                sources = [node.value.body, node.value.orelse] if isinstance(node.value, ast.IfExp) else [node.value]
                if any(_is_os_environ(src, self.environ_names) for src in sources):
                    self.environ_names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        self.function = ""
        self.env_reads: list[tuple[str, str | None, int]] = []
        self.setting_reads: list[tuple[str, int]] = []

    def visit_FunctionDef(self, node):
        outer, self.function = self.function, node.name
        self.generic_visit(node)
        self.function = outer

    visit_AsyncFunctionDef = visit_FunctionDef

    def _name(self, node: ast.AST | None) -> str | None:
        return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None

    def visit_Call(self, node: ast.Call):
        func = node.func
        first = node.args[0] if node.args else None
        if isinstance(func, ast.Attribute) and func.attr in ENV_FUNCS and _is_os_environ(func.value,
                                                                                         self.environ_names):
            self.env_reads.append((self.function, self._name(first), node.lineno))
        elif (isinstance(func, ast.Attribute) and func.attr == "getenv" and isinstance(func.value, ast.Name)
              and func.value.id == "os") or (isinstance(func, ast.Name) and func.id in self.getenv_names):
            self.env_reads.append((self.function, self._name(first), node.lineno))
        elif ((isinstance(func, ast.Name) and func.id in self.value_names)
              or (isinstance(func, ast.Attribute) and func.attr == "value" and isinstance(func.value, ast.Name)
                  and func.value.id == "config")) and self._name(first):
            self.setting_reads.append((self._name(first), node.lineno))
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript):
        if _is_os_environ(node.value, self.environ_names) and isinstance(node.ctx, ast.Load):
            self.env_reads.append((self.function, self._name(node.slice), node.lineno))
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare):  # "NAME" in os.environ
        if any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops) and any(
                _is_os_environ(c, self.environ_names) for c in node.comparators):
            self.env_reads.append((self.function, self._name(node.left), node.lineno))
        self.generic_visit(node)


def _all_reads():
    for module, tree in _modules():
        reads = _Reads(tree)
        reads.visit(tree)
        yield module, reads


def test_every_environment_read_names_a_declared_setting():
    undeclared, dynamic = [], []
    for module, reads in _all_reads():
        for function, name, line in reads.env_reads:
            if name is None:
                if (module, function) not in DYNAMIC:
                    dynamic.append(f"{module}:{line} in {function or 'the module'}")
            elif name not in BY_NAME and (module, name) not in ALLOWED:
                undeclared.append(f"{module}:{line} reads {name}")
    assert not undeclared, ("environment variables read outside utils/config.py's declaration (declare them there "
                            "and read them with value()):\n" + "\n".join(undeclared))
    assert not dynamic, "environment reads of a name that is not a literal:\n" + "\n".join(dynamic)


def test_settings_named_in_value_calls_are_declared():
    wrong = [f"{module}:{line} reads {name}" for module, reads in _all_reads()
             for name, line in reads.setting_reads if name not in BY_NAME]
    assert not wrong, "value()/setting() of undeclared settings:\n" + "\n".join(wrong)


def test_the_allow_list_is_not_stale():
    """Every allow-listed read still happens (a removed one leaves the list)."""
    seen = {(module, name) for module, reads in _all_reads() for _, name, _ in reads.env_reads}
    functions = {(module, function) for module, reads in _all_reads() for function, name, _ in reads.env_reads
                 if name is None}
    assert ALLOWED <= seen, ALLOWED - seen
    assert DYNAMIC <= functions, DYNAMIC - functions
    assert not {name for _, name in ALLOWED} & BY_NAME.keys(), "an allow-listed name is a declared setting"


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_each_setting_is_fully_declared(setting: Setting):
    assert setting.meaning.strip(), f"{setting.name} has no meaning"
    assert setting.parts and set(setting.parts) <= set(PARTS), setting.parts
    assert {p for p, _ in setting.part_defaults} <= set(setting.parts)
    assert {p for p, _ in setting.part_aliases} <= set(setting.parts)
    for part in setting.parts:  # every default is readable as each part reads it, with nothing set
        value(setting.name, part, environ={})


def test_names_and_older_names_are_unique():
    older = [n for s in SETTINGS for n in (*s.aliases, *(n for _, n in s.part_aliases))]
    # the one older name of two settings each (docs/settings.md, "One meaning per name")
    shared = {"ANTINEX_VISIBILITY_TIMEOUT", "BROKER_URL"}
    assert {n for n in older if older.count(n) > 1} <= shared
    assert not set(older) & BY_NAME.keys(), "an older name is also a setting of its own"


def test_one_setting_with_a_default_per_part():
    """ANTINEX_PUBLISH_ENABLED: the client's default is the published client's (1), the subscriber's is 0."""
    assert value("ANTINEX_PUBLISH_ENABLED", "client", environ={}) is True
    assert value("ANTINEX_PUBLISH_ENABLED", "pipeline", environ={}) is False
    assert value("ANTINEX_PUBLISH_ENABLED", "pipeline", environ={"ANTINEX_PUBLISH_ENABLED": "1"}) is True
    assert BY_NAME["ANTINEX_PUBLISH_ENABLED"].default_text("pipeline") == "0"
