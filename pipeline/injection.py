"""Injection signatures: libinjection's SQLi (and optionally XSS) tokenizers on a request's inputs, SQL
tautologies, script in markup, command injection, and Shellshock's function definition in a header.

The request-content network learns how *this* application is used; it
generalises poorly to an injection family it never saw in training (held
out, its recall on sqlmap was 13%: docs/dataset-lab.md). libinjection
(the tokenizer behind ModSecurity CRS rules 942100 and 941100) needs no
training: it recognises SQL by the shape of its tokens, so it catches
SQL injection from a tool or a tamper script no recording had, and it
stays quiet on benign syntax (apostrophes in names, ``--`` in text, JSON).
The shipped detector is the network *or* these signatures *or* the timing
and window rules (:mod:`pipeline.rules`); docs/verdicts.md has the ids.

What is looked at is what the two CRS rules look at: parameter names and
values (query, form body, JSON body), cookie names and values, the
User-Agent and Referer headers, and for XSS the path. A value is checked
as parsed (decoded once) and decoded again while that changes it (up to
three times; the CRS decodes once more, ``t:urlDecodeUni``), so double or
triple encoding does not hide it; and, when it holds a ``%`` that starts
no escape, once more without those (IIS and ASP drop them: sqlmap's
``percentage`` tamper writes ``%S%E%L%E%C%T``).

libinjection lets one SQL shape through that fuzzing word lists are full
of: a bare tautology such as ``or 1=1 --`` (no quote to close, so its
tokens read as text). The ``sqli`` kind therefore also matches a
tautology, ``or``/``and``/``||``/``&&`` and then one word or number
compared with itself (``or 1=1``, ``' or 'a'='a``), which no sentence
holds (``1=1 meaning`` and ``x or y = 2`` do not match).

Script in markup (``script``): what makes markup *run*, as the CRS's
XSS rules at paranoia level 1 look for it (941110 script tags, 941120
event handlers, 941170 script URLs), narrowed so that markup users post
about does not match: an inline ``<script>`` with a body (not
``<script src=...></script>`` quoted in a question), a tag carrying an
``on...=`` event handler, a ``javascript:``/``vbscript:`` URL that calls or
assigns something, and a string broken out of to call ``alert``,
``confirm``, ``prompt`` or ``eval``. It is checked on the inputs as
decoded for the other signatures and once more with HTML entities decoded
(``&lt;script&gt;``, the CRS's ``t:htmlEntityDecode``). libinjection's
XSS tokenizer (``xss``) flags any tag with attributes, which users post.

Command injection (``cmdi``): a shell command run after a command
separator (``;``, ``|``, ``||``, ``&``, ``&&``) or in a substitution
that opens the value (`` `id` ``, ``$(id)``), as the CRS's rules 932100
and 932110 look for it, narrowed so that prose does not match: one of the
commands an injection runs first (``id``, ``whoami``, ``ls``, ``cat``,
``ping``, ``sleep``, ``dir``, ``type``, ...), then nothing, another
separator, an option (``-la``), a path or a number (``; cat lovers`` is a
sentence, ``; cat /etc/passwd`` is not).

Shellshock (CVE-2014-6271): bash runs what follows a function definition
(``() {``) handed to it in an environment variable, and CGI scripts get
every header as one; scanners still probe for it in every header. The
signature is the CRS's (rule 932170): a header value or an input that
starts with ``()`` and ``{``. No benign header starts that way.

Which signatures run is the ``ANTINEX_SIGNATURES`` setting (``sqli,script,cmdi,shellshock``
by default; add ``xss``; ``none``). libinjection's XSS is off by default: its
tokenizer flags HTML that benign users post (measured in the lab report).

    hits = InjectionSignatures(("sqli",)).check(requests)   # one Hit or None per request
"""
from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from antinex.pipeline.http_message import HttpRequest
from antinex.utils.config import BY_NAME

KINDS = ("sqli", "xss", "script", "cmdi", "shellshock")
# what runs unless ANTINEX_SIGNATURES says otherwise: the setting's default (utils/config.py), declared there once
DEFAULT_KINDS: tuple[str, ...] = tuple(BY_NAME["ANTINEX_SIGNATURES"].default)
VERDICT_NAMES = {"sqli": "sql-injection", "xss": "xss", "script": "script-injection",  # pipeline.verdicts.SIGNATURES
                 "cmdi": "command-injection", "shellshock": "shellshock"}
MAX_INPUT = 4096  # characters of one input handed to the tokenizer (a whole upload need not be)
MAX_DECODES = 3  # further percent-decodings of a value: double and triple encoding hide nothing
_BARE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")  # a % that starts no escape
_FUNCTION_DEFINITION = re.compile(r"^\s*\(\s*\)\s*\{")  # "() {": CRS rule 932170's pattern
# "or 1=1", "' or 'a'='a", "&& x like x": one word compared with itself after a boolean operator
_TAUTOLOGY = re.compile(r"(?i)(?:^|[\s'\")])(?:x?or|and|\|\||&&)\s+(['\"]?)(\w+)\1\s*(?:=|<=>|like)\s*\1\2(?:\1)?"
                        r"(?=\s|$|--|#|/\*|;|\))")
_SCRIPT = re.compile(r"""(?isx)
    <\s*script\b[^>]*>\s*[^<\s]                                   # an inline script with a body (941110)
  | <\s*[a-z][^>]*?[\s/"'`+]on[a-z]{3,}[\s+]*=                      # a tag with an event handler (941120)
  | (?:^|["'`=(])\s*(?:java|vb)script\s*:\s*[\w$.]+\s*[(=`]         # a script URL that calls or assigns (941170)
  | ^[\\\s]*["'`]\s*[;)+,-]\s*(?:alert|confirm|prompt|eval)\s*[(`]    # a value that leaves a string to call
""")
_SCRIPT_CHARS = frozenset("<:(`&")  # what each _SCRIPT branch needs (and "&" for the entities decoded)
# the commands an injection runs first to see whether it worked (CRS 932100/932110's lists, the short ones)
_COMMANDS = (r"(?:id|whoami|uname|ls|dir|cat|type|pwd|env|printenv|echo|ping|sleep|nslookup|ifconfig|ipconfig|"
             r"netstat|ps|wget|curl|nc|ncat|bash|sh|zsh|cmd|powershell|ver|hostname|systeminfo)")
_CMDI = re.compile(rf"""(?ix)
    (?: ;|\|\|?|&&? | ^\s*['"]?\s*(?:`|\$\() )     # a command separator; a substitution opening the value
    \s*{_COMMANDS}(?:\.exe)?
    (?= \s*$ | \s*[;|&`)'"] | \s+-{{1,2}}[a-z] | \s+[/\\] | \s+\d )  # then nothing, a separator, an option,
""")                                                    # a path or a number: not a word of a sentence
_CMDI_CHARS = frozenset(";|&`$")  # what _CMDI needs


class SignatureError(ValueError):
    """Signatures asked for that cannot run (an unknown kind, libinjection missing)."""


@dataclass(frozen=True)
class Hit:
    """A signature that matched: which kind, on which input, with libinjection's fingerprint."""

    kind: str  # sqli | xss | script | cmdi | shellshock
    where: str  # the input's kind and name: "parameter id", "cookie session", "header user-agent", "path"
    value: str  # the matched text (as decoded), cut to 80 characters
    fingerprint: str  # libinjection's SQLi token fingerprint ("s&1c"); "tautology"; "" for the others

    @property
    def verdict(self) -> str:
        return VERDICT_NAMES[self.kind]

    @property
    def reason(self) -> str:
        if self.kind == "shellshock":
            return f"Shellshock (CVE-2014-6271): a shell function definition in {self.where}: {self.value!r}"
        if self.kind == "cmdi":
            return f"command injection: a shell command after a command separator in {self.where}: {self.value!r}"
        if self.kind == "script":
            return f"script in markup (cross-site scripting) in {self.where}: {self.value!r}"
        if self.fingerprint == "tautology":
            return f"SQL tautology in {self.where}: {self.value!r}"
        what = "SQL injection" if self.kind == "sqli" else "cross-site scripting"
        fp = f" (token fingerprint {self.fingerprint})" if self.fingerprint else ""
        return f"libinjection: {what}{fp} in {self.where}: {self.value!r}"


def version() -> str:
    """The libinjection wrapper's version, or raise :class:`SignatureError` when it is not installed."""
    try:
        from importlib.metadata import version as dist_version

        import libinjection  # noqa: F401
        return f"libinjection-python {dist_version('libinjection-python')}"
    except ImportError:
        raise SignatureError("libinjection is not installed (pip install libinjection-python; it is a "
                             "dependency of antinex: reinstall the package)") from None


def _json_inputs(value, name: str = "") -> Iterator[tuple[str, str]]:
    """(where, text) of every key and leaf of a JSON body, as ModSecurity's JSON processor makes ARGS."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield f"JSON key {k!s}", str(k)
            yield from _json_inputs(v, str(k))
    elif isinstance(value, list):
        for v in value:
            yield from _json_inputs(v, name)
    elif value is not None and not isinstance(value, bool):
        yield f"JSON value {name}", str(value)


def request_inputs(req: HttpRequest) -> Iterator[tuple[str, str]]:
    """(where, text) of every input the signatures look at; ``where`` starts with its kind."""
    for name, value in req.params:
        yield f"parameter name {name}", name
        yield f"parameter {name}", value
    if req.content_type == "application/json" and req.body:
        try:
            yield from _json_inputs(json.loads(req.body.decode("utf-8", "replace")))
        except ValueError:
            pass  # not JSON after all: the CRS would not see its values either
    for cookie in (req.header("cookie") or "").split(";"):
        name, _, value = cookie.strip().partition("=")
        if name:
            yield f"cookie name {name}", name
            yield f"cookie {name}", value
    for header in ("user-agent", "referer"):
        value = req.header(header)
        if value:
            yield f"header {header}", value
    yield "path", req.path


def _candidates(text: str) -> Iterable[str]:
    """The input as parsed, then decoded again while that changes it (at most :data:`MAX_DECODES` times),
    then without the ``%`` that start no escape."""
    out = [text[:MAX_INPUT].encode("utf-8", "replace").decode("utf-8")]  # no lone surrogates for the tokenizer
    for _ in range(MAX_DECODES):
        again = unquote(out[-1])
        if again == out[-1]:
            break
        out.append(again)
    bare = _BARE_PERCENT.sub("", out[-1])
    if bare != out[-1]:
        out.append(bare)
    return out


class InjectionSignatures:
    """libinjection's tokenizers over every input of a request (see the module docstring)."""

    def __init__(self, kinds: Sequence[str] = DEFAULT_KINDS):
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            raise SignatureError(f"unknown signature kind(s) {', '.join(unknown)}: choose from {', '.join(KINDS)}")
        self.kinds = tuple(dict.fromkeys(kinds))
        self.name = version() if self.kinds else "no signatures"

    def __bool__(self) -> bool:
        return bool(self.kinds)

    def match(self, req: HttpRequest) -> Hit | None:
        """The first signature that matches one of the request's inputs, or None."""
        if not self.kinds:
            return None
        if "shellshock" in self.kinds:
            hit = shellshock(req)
            if hit is not None:
                return hit
        sqli, xss, script = "sqli" in self.kinds, "xss" in self.kinds, "script" in self.kinds
        cmdi = "cmdi" in self.kinds
        if not (sqli or xss or script or cmdi):
            return None
        import libinjection

        for where, text in request_inputs(req):
            if not text:
                continue
            for candidate in _candidates(text):
                if sqli and where != "path":
                    found = libinjection.is_sql_injection(candidate)
                    if found["is_sqli"]:
                        return Hit("sqli", where, candidate[:80], found["fingerprint"])
                    if _TAUTOLOGY.search(candidate):
                        return Hit("sqli", where, candidate[:80], "tautology")
                if xss and libinjection.is_xss(candidate)["is_xss"]:
                    return Hit("xss", where, candidate[:80], "")
                if script:
                    found = script_in_markup(candidate)
                    if found is not None:
                        return Hit("script", where, found[:80], "")
                if cmdi and where != "path" and _CMDI_CHARS.intersection(candidate) and _CMDI.search(candidate):
                    return Hit("cmdi", where, candidate[:80], "")
        return None

    def check(self, requests: Sequence[HttpRequest]) -> list[Hit | None]:
        """One :class:`Hit` (or None) per request, in order."""
        return [self.match(r) for r in requests]


def script_in_markup(text: str) -> str | None:
    """``text`` (or, when that is what matched, ``text`` with its HTML entities decoded) when it holds markup or
    a script URL that would run (see the module docstring); None otherwise."""
    if not _SCRIPT_CHARS.intersection(text):  # every pattern needs one of them: most values have none
        return None
    if _SCRIPT.search(text):
        return text
    if "&" in text:
        decoded = html.unescape(text)
        if decoded != text and _SCRIPT.search(decoded):
            return decoded
    return None


def shellshock(req: HttpRequest) -> Hit | None:
    """A header value (any header) or an input (decoded as for the other signatures) that starts with a
    shell function definition, ``() {``."""
    inputs = [(f"header {name.lower()}", value) for name, value in req.headers]
    if "(" in req.target or "28" in req.target or b"(" in req.body or b"28" in req.body:
        # parsing the parameters costs more than the match: only when a "(" may be among them
        inputs += [(where, text) for where, text in request_inputs(req) if not where.startswith("header ")]
    for where, text in inputs:
        if "(" not in text and "28" not in text:  # no "(", however percent-encoded: nothing to decode
            continue
        for candidate in _candidates(text):
            if _FUNCTION_DEFINITION.match(candidate):
                return Hit("shellshock", where, candidate[:80], "")
    return None


def from_settings() -> InjectionSignatures:
    """The signatures ``ANTINEX_SIGNATURES`` asks for (:mod:`pipeline.settings`)."""
    from antinex.pipeline.settings import signature_kinds

    return InjectionSignatures(signature_kinds())
