"""Benign content that real users type, chosen to look like attack syntax where
real users' text does: quotes and apostrophes, SQL and HTML in code snippets,
shell flags and ``&&``, URLs in parameters, non-ASCII text and emoji, long
comments, nested JSON and base64 tokens. The detector has to learn the
difference between this and an injection; a lab whose normal traffic is all
``q=notes`` teaches it that any quote is an attack.

Every function takes a ``random.Random`` so a recording is reproducible.
"""
from __future__ import annotations

import base64
import json
import random
import urllib.parse

SEARCHES = (
    "O'Brien", "don't panic", '"exact phrase"', "rock 'n' roll", "Côte d'Azur", "Müller & Söhne", "naïve café",
    "日本語 メモ", "东京 旅行", "Zürich 2025", "résumé template", "C++ vs C#", "50% off", "what's new?",
    "a && b", "x || y", "--force-with-lease", "SELECT * FROM", "select distinct", "drop shipping",
    "<div> centering", "<br/> in markdown", "1=1 meaning", "how to use -- in bash", "grep -r 'TODO' .",
    "rm -rf node_modules", "path/to/file.txt", "../relative imports", "null vs undefined", "#hashtag",
    "email@example.org", "https://example.org/docs?id=3&lang=en", "50/50", "a+b=c", "$HOME/.bashrc",
    "😀 emoji", "🎉 party plan", "Ελληνικά", "Привет", "São Paulo", "Ærøskøbing", "x < 10 and y > 2",
    "meeting notes", "budget 2025", "invoice #1042", "recipe: crème brûlée", "Q3 report (draft)",
)

SNIPPETS = (
    "SELECT id, title FROM notes WHERE owner = 'me' ORDER BY id DESC LIMIT 10;",
    "UPDATE users SET last_login = NOW() WHERE id = 42; -- run nightly",
    "<div class=\"card\"><img src=\"a.png\" alt=\"logo\"></div>",
    "<script src=\"https://cdn.example.org/app.js\"></script> is blocked by our CSP",
    "if (a && b || !c) { return x <= 10 ? 'low' : \"high\"; }",
    "git push --force-with-lease origin main && git tag -a v1.2 -m 'release'",
    "curl -sS -H 'Accept: application/json' https://api.example.org/v1/items?limit=5 | jq '.[0]'",
    "find . -name '*.py' -exec grep -l 'TODO' {} \\;",
    "for i in $(seq 1 10); do echo \"$i\"; done",
    "cat /etc/hosts | grep localhost",
    "../../docs/README.md links to ../api/index.html",
    "=SUM(A1:A10)/COUNT(B:B)",
    "{{ user.name }} and {% if admin %}…{% endif %} in the template",
    "x = {'a': [1, 2, {'b': None}]}  # dict literal",
    "WHERE name LIKE '%smith%' OR name = 'O''Brien'",
    "printf(\"%s %d\\n\", name, count);",
    "<!-- TODO: remove --> <?xml version=\"1.0\"?>",
    "C:\\Users\\anna\\Documents\\report.docx",
)

WORDS = ("report", "invoice", "meeting", "notes", "holiday", "budget", "draft", "photo", "recipe", "travel",
         "plan", "review", "summary", "todo", "ideas", "minutes", "contract", "design", "garden", "music")

SENTENCES = (
    "I tried this yesterday and it worked after I cleared the cache.",
    "Thanks! That's exactly what I needed — works on Debian too.",
    "Does anyone know why the export drops the last row?",
    "We moved the meeting to Thursday 10:30 (room 4.12).",
    "Ça marche très bien, merci beaucoup !",
    "Das Ergebnis für Q3 ist besser als erwartet: +12 %.",
    "この機能はとても便利です。ありがとうございます！",
    "Great write-up 👍 — bookmarked for later.",
    "See https://example.org/blog/2024/05/notes?ref=forum&utm_source=mail for details.",
    "My shell alias is `ll='ls -la --color=auto'` if that helps.",
    "Don't forget: the deadline is 31/12, not 12/31!",
    "Use \"quotes\" around the phrase and -exclude words you don't want.",
)

UPLOADS = (
    ("notes.txt", "text/plain"), ("data.csv", "text/csv"), ("config.json", "application/json"),
    ("snippet.sql", "application/sql"), ("page.html", "text/html"), ("script.sh", "text/x-sh"),
    ("photo.png", "image/png"), ("résumé.txt", "text/plain"),
)


# Each app's public pages, which any client may read (GET) or ask about (HEAD): every benign client
# kind reads from the same map, so no page or method of an app is one that only some clients use
# (the held-out clients' false positives were pages and HEADs no training client had sent).
PAGES = {
    "notes": ("/", "/static/app.css", "/login", "/items", "/items/{n}", "/search?q={q}", "/api/items"),
    "spa": ("/", "/static/spa.js", "/static/spa.css", "/static/logo.png", "/favicon.ico", "/api/search?q={q}"),
    "forms": ("/", "/login", "/posts/{p}", "/users/user{u}", "/search?q={q}", "/static/forum.css",
              "/static/forum.js"),
}


def page(app: str, rng: random.Random) -> str:
    """A path of one of ``app``'s public pages, its ids and search term filled in (URL-encoded)."""
    return rng.choice(PAGES[app]).format(n=rng.randint(1, 40), p=rng.randint(1, 3), u=rng.randint(0, 9),
                                         q=urllib.parse.quote_plus(search_term(rng)))


def search_term(rng: random.Random) -> str:
    """A search as people type them: mostly words, often with quotes, code, URLs or other scripts."""
    return rng.choice(SEARCHES) if rng.random() < 0.7 else " ".join(rng.sample(WORDS, rng.randint(1, 3)))


def title(rng: random.Random) -> str:
    t = " ".join(rng.sample(WORDS, 2)).capitalize()
    return rng.choice((t, f"{t}: {rng.choice(SEARCHES)}", f"Re: {t}", f"{t} ({rng.randint(1, 52)})"))


def comment(rng: random.Random, long: bool | None = None) -> str:
    """A comment: one or two sentences, sometimes a code snippet, sometimes several paragraphs."""
    long = rng.random() < 0.2 if long is None else long
    parts = rng.sample(SENTENCES, rng.randint(1, 2))
    if rng.random() < 0.4:
        parts.append(rng.choice(SNIPPETS))
    if long:
        parts += [" ".join(rng.choices(SENTENCES, k=4)) for _ in range(rng.randint(3, 8))]
    return "\n\n".join(parts)


def url(rng: random.Random) -> str:
    path = "/".join(rng.sample(WORDS, 2))
    return rng.choice((f"https://example.org/{path}?id={rng.randint(1, 999)}&lang=en",
                       f"https://docs.example.com/{path}#section-{rng.randint(1, 9)}",
                       f"http://intranet.example.net/wiki/{path}?q={rng.choice(WORDS)}+{rng.choice(WORDS)}"))


def token(rng: random.Random, n: int = 24) -> str:
    """A base64 token as apps put in cookies and headers (padding and + / included)."""
    return base64.b64encode(rng.randbytes(n)).decode()


def jwt_like(rng: random.Random) -> str:
    """A JSON web token's shape: base64url header.payload.signature."""
    def b64(obj) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
    return ".".join((b64({"alg": "HS256", "typ": "JWT"}),
                     b64({"sub": f"user{rng.randint(0, 9)}", "iat": 1764000000 + rng.randint(0, 10 ** 6)}),
                     base64.urlsafe_b64encode(rng.randbytes(32)).decode().rstrip("=")))


def note_json(rng: random.Random) -> dict:
    """A JSON note with nested objects, as an API client or the SPA sends it."""
    return {"title": title(rng), "body": comment(rng), "tags": rng.sample(WORDS, rng.randint(0, 3)),
            "meta": {"client": {"name": "sync", "version": f"2.{rng.randint(0, 9)}.{rng.randint(0, 20)}"},
                     "source": url(rng), "pinned": rng.random() < 0.2, "color": rng.choice(["#ffcc00", "#0af"]),
                     "geo": {"lat": round(rng.uniform(-80, 80), 5), "lon": round(rng.uniform(-170, 170), 5)},
                     "checklist": [{"text": rng.choice(SEARCHES), "done": rng.random() < 0.5}
                                   for _ in range(rng.randint(0, 3))]}}


def upload(rng: random.Random) -> tuple[str, bytes, str]:
    """(file name, content, content type) of a small upload."""
    name, kind = rng.choice(UPLOADS)
    if kind == "image/png":
        return name, bytes.fromhex("89504e470d0a1a0a") + rng.randbytes(rng.randint(200, 2000)), kind
    if kind == "application/json":
        return name, json.dumps(note_json(rng), ensure_ascii=False).encode(), kind
    body = "\n".join(rng.choice(SNIPPETS + SENTENCES) for _ in range(rng.randint(3, 30)))
    return name, body.encode(), kind
