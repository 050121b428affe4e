"""Targets to record traffic against: one "notes" application (log in, list,
create, search, upload, a JSON API) behind three front ends:

- ``wsgi``: a plain WSGI app (``NotesApp``);
- ``flask``: Flask routes (``flask_app``);
- ``drf``: Django REST framework views (``drf_app``).

All share ``NotesStore`` (SQLite, parameterised queries: attack tools probe
it for real, but it is not meant to fall), so simulated users and attack
tools use the same paths against every framework while each answers with
its own headers, cookies, error pages and timing.

    python -m pipeline.lab.webapp --wsgi 8080 --flask 5000 --drf 8000 [--host 0.0.0.0]
"""
from __future__ import annotations

import argparse
import html
import json
import secrets
import signal
import sqlite3
import threading
from http import cookies
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

PAGE = "<!doctype html><html><head><title>{title}</title><link rel=stylesheet href=/static/app.css></head><body><h1>{title}</h1>{body}</body></html>"
CSS = b"body{font-family:sans-serif;margin:2em}"
FRAMEWORKS = ("wsgi", "flask", "drf")
# the pages' forms, so a browser has something to fill in and submit
SEARCH_FORM = "<form action=/search><input name=q><button>Search</button></form>"
HOME = "<a href=/items>items</a> <a href=/search>search</a> <a href=/login>login</a>" + SEARCH_FORM
LOGIN_FORM = ("<form method=post action=/login><input name=username><input name=password type=password>"
              "<button type=submit>Log in</button></form>")
ITEM_FORMS = (SEARCH_FORM + "<form method=post action=/items><input name=title><textarea name=body></textarea>"
              "<button type=submit>Add</button></form><form method=post action=/upload enctype=multipart/form-data>"
              "<input type=file name=file><button type=submit>Upload</button></form>")


def page(title: str, body: str) -> str:
    return PAGE.format(title=html.escape(title), body=body)


def item_list(rows) -> str:
    return "<ul>" + "".join(f"<li><a href=/items/{i}>{html.escape(t)}</a></li>" for i, t in rows) + "</ul>"


class NotesStore:
    """The application's state: users, sessions and items."""

    def __init__(self, db_path: str = ":memory:"):
        self.db = sqlite3.connect(db_path, check_same_thread=False)
        self.lock = threading.Lock()
        self.sessions: dict[str, str] = {}
        with self.lock:
            self.db.executescript(
                "create table if not exists users(name text primary key, password text);"
                "create table if not exists items(id integer primary key, owner text, title text, body text);")
            self.db.executemany("insert or ignore into users values(?, ?)",
                                [(f"user{i}", f"secret{i}") for i in range(10)])

    def _q(self, sql: str, args=()) -> list:
        with self.lock:
            return self.db.execute(sql, args).fetchall()

    def login(self, name: str, password: str) -> str | None:
        """A new session id, or None for bad credentials."""
        if not self._q("select 1 from users where name=? and password=?", (name, password)):
            return None
        sid = secrets.token_hex(16)
        self.sessions[sid] = name
        return sid

    def user(self, sid: str | None) -> str | None:
        return self.sessions.get(sid or "")

    def search(self, term: str) -> list:
        return self._q("select id, title from items where title like ? limit 20", (f"%{term}%",))

    def recent(self) -> list:
        return self._q("select id, title from items order by id desc limit 20")

    def api_items(self) -> list[dict]:
        rows = self._q("select id, owner, title from items order by id desc limit 50")
        return [{"id": i, "owner": o, "title": t} for i, o, t in rows]

    def item(self, item_id: int):
        rows = self._q("select title, body from items where id=?", (item_id,))
        return rows[0] if rows else None

    def create(self, owner: str, title: str, body: str) -> None:
        with self.lock:
            self.db.execute("insert into items(owner, title, body) values(?,?,?)", (owner, title[:200], body[:4000]))
            self.db.commit()


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):  # the recorder's console is for its own progress
        pass


class _Threading(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class NotesApp:
    """Plain WSGI: /, /login, /items, /items/<id>, /search?q=, /upload, /api/items (JSON)."""

    def __init__(self, store: NotesStore | None = None):
        self.store = store or NotesStore()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "/")
        method = environ.get("REQUEST_METHOD", "GET")
        query = parse_qs(environ.get("QUERY_STRING", ""))
        try:
            size = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            size = 0
        body = environ["wsgi.input"].read(min(size, 1 << 20)) if size else b""
        form = parse_qs(body.decode("utf-8", "replace")) if b"=" in body[:200] else {}
        jar = cookies.SimpleCookie(environ.get("HTTP_COOKIE", ""))
        user = self.store.user(jar["sid"].value if "sid" in jar else None)
        status, headers, content = self.route(method, path, query, form, body, user)
        headers = headers + [("Content-Length", str(len(content)))]
        start_response(status, headers)
        return [content]

    @staticmethod
    def _html(title: str, body: str, status: str = "200 OK", extra=None):
        return status, [("Content-Type", "text/html; charset=utf-8")] + (extra or []), page(title, body).encode()

    def route(self, method, path, query, form, body, user):
        q = lambda d, k: (d.get(k) or [""])[0]  # noqa: E731
        if path == "/static/app.css":
            return "200 OK", [("Content-Type", "text/css")], CSS
        if path == "/login":
            if method == "POST":
                sid = self.store.login(q(form, "username"), q(form, "password"))
                if sid:
                    return "302 Found", [("Location", "/items"), ("Set-Cookie", f"sid={sid}; HttpOnly")], b""
                return self._html("Login", "<p>invalid credentials</p>" + LOGIN_FORM)
            return self._html("Login", LOGIN_FORM)
        if path == "/search":
            term = q(query, "q")
            return self._html(f"Search: {term[:40]}", item_list(self.store.search(term)))
        if path == "/api/items":
            return "200 OK", [("Content-Type", "application/json")], json.dumps(self.store.api_items()).encode()
        if path.startswith("/items/"):
            try:
                row = self.store.item(int(path.rsplit("/", 1)[1]))
            except ValueError:
                row = None
            if not row:
                return self._html("Not found", "", "404 Not Found")
            return self._html(row[0], f"<p>{html.escape(row[1])}</p>")
        if path == "/items":
            if method == "POST":
                if not user:
                    return self._html("Forbidden", "log in first", "403 Forbidden")
                self.store.create(user, q(form, "title"), q(form, "body"))
                return "302 Found", [("Location", "/items")], b""
            return self._html("Items", item_list(self.store.recent()) + ITEM_FORMS)
        if path == "/upload" and method == "POST":
            if not user:
                return self._html("Forbidden", "log in first", "403 Forbidden")
            return self._html("Uploaded", f"<p>{len(body)} bytes</p>", "201 Created")
        if path == "/":
            return self._html("Notes", HOME)
        return self._html("Not found", "", "404 Not Found")


def flask_app(store: NotesStore | None = None):
    """The same application as Flask routes (Werkzeug's request parsing, Flask's sessions and errors)."""
    from flask import Flask, Response, jsonify, redirect, request, session

    store = store or NotesStore()
    app = Flask("antinex-lab-notes")
    app.secret_key = secrets.token_hex(16)
    app.config["MAX_CONTENT_LENGTH"] = 1 << 20

    def current_user():
        return store.user(session.get("sid"))

    @app.get("/")
    def index():
        return page("Notes", HOME)

    @app.get("/static/app.css")
    def css():
        return Response(CSS, mimetype="text/css")

    @app.route("/login", methods=["GET", "POST"])
    def login():
        if request.method == "POST":
            sid = store.login(request.form.get("username", ""), request.form.get("password", ""))
            if sid:
                session["sid"] = sid
                return redirect("/items")
            return page("Login", "<p>invalid credentials</p>" + LOGIN_FORM)
        return page("Login", LOGIN_FORM)

    @app.get("/search")
    def search():
        term = request.args.get("q", "")
        return page(f"Search: {term[:40]}", item_list(store.search(term)))

    @app.get("/api/items")
    def api_items():
        return jsonify(store.api_items())

    @app.get("/items/<int:item_id>")
    def item(item_id):
        row = store.item(item_id)
        return (page(row[0], f"<p>{html.escape(row[1])}</p>"), 200) if row else (page("Not found", ""), 404)

    @app.route("/items", methods=["GET", "POST"])
    def items():
        if request.method == "POST":
            user = current_user()
            if not user:
                return page("Forbidden", "log in first"), 403
            store.create(user, request.form.get("title", ""), request.form.get("body", ""))
            return redirect("/items")
        return page("Items", item_list(store.recent()) + ITEM_FORMS)

    @app.post("/upload")
    def upload():
        if not current_user():
            return page("Forbidden", "log in first"), 403
        size = sum(len(f.read()) for f in request.files.values())
        return page("Uploaded", f"<p>{size} bytes</p>"), 201

    return app


def drf_app(store: NotesStore | None = None):
    """The same application as Django REST framework views (a settings-only Django, no database)."""
    import django
    from django.conf import settings

    store = store or NotesStore()
    if not settings.configured:
        settings.configure(
            DEBUG=False, SECRET_KEY=secrets.token_hex(32), ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__,
            INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"],
            MIDDLEWARE=["django.middleware.common.CommonMiddleware"], DATABASES={},
            DATA_UPLOAD_MAX_MEMORY_SIZE=1 << 20,
            REST_FRAMEWORK={"DEFAULT_AUTHENTICATION_CLASSES": [], "DEFAULT_PERMISSION_CLASSES": [],
                            "UNAUTHENTICATED_USER": None})
        django.setup()
    from django.http import HttpResponse, HttpResponseRedirect
    from django.urls import path
    from django.core.handlers.wsgi import WSGIHandler
    from rest_framework.decorators import (api_view, authentication_classes, parser_classes,
                                           permission_classes, renderer_classes)
    from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
    from rest_framework.renderers import JSONRenderer
    from rest_framework.response import Response

    def html_page(title, body, status=200):
        return HttpResponse(page(title, body), status=status, content_type="text/html; charset=utf-8")

    def user_of(request):
        return store.user(request.COOKIES.get("sessionid"))

    forms = parser_classes([FormParser, MultiPartParser, JSONParser])

    def api(methods):
        """api_view with no authentication or permission classes of its own: Django may already be
        configured in this process (the tests, beside the AntiNex API), so nothing comes from settings."""
        def wrap(fn):
            return api_view(methods)(authentication_classes([])(permission_classes([])(fn)))
        return wrap

    def index(request):
        return html_page("Notes", HOME)

    def css(request):
        return HttpResponse(CSS, content_type="text/css")

    @api(["GET", "POST"])
    @forms
    def login(request):
        if request.method == "POST":
            sid = store.login(str(request.data.get("username", "")), str(request.data.get("password", "")))
            if sid:
                resp = HttpResponseRedirect("/items")
                resp.set_cookie("sessionid", sid, httponly=True)
                return resp
            return html_page("Login", "<p>invalid credentials</p>" + LOGIN_FORM)
        return html_page("Login", LOGIN_FORM)

    def search(request):
        term = request.GET.get("q", "")
        return html_page(f"Search: {term[:40]}", item_list(store.search(term)))

    @api(["GET"])
    @renderer_classes([JSONRenderer])
    def api_items(request):
        return Response(store.api_items())

    def item(request, item_id):
        row = store.item(item_id)
        return html_page(row[0], f"<p>{html.escape(row[1])}</p>") if row else html_page("Not found", "", 404)

    @api(["GET", "POST"])
    @forms
    def items(request):
        if request.method == "POST":
            user = user_of(request)
            if not user:
                return html_page("Forbidden", "log in first", 403)
            store.create(user, str(request.data.get("title", "")), str(request.data.get("body", "")))
            return HttpResponseRedirect("/items")
        return html_page("Items", item_list(store.recent()) + ITEM_FORMS)

    @api(["POST"])
    @forms
    def upload(request):
        if not user_of(request):
            return html_page("Forbidden", "log in first", 403)
        return html_page("Uploaded", f"<p>{sum(f.size for f in request.FILES.values())} bytes</p>", 201)

    global urlpatterns
    urlpatterns = [path("", index), path("static/app.css", css), path("login", login), path("search", search),
                   path("api/items", api_items), path("items/<int:item_id>", item), path("items", items),
                   path("upload", upload)]

    class OwnUrls(WSGIHandler):
        # this module's routes even when another ROOT_URLCONF configured Django first
        def get_response(self, request):
            request.urlconf = __name__
            return super().get_response(request)

    return OwnUrls()


urlpatterns: list = []  # filled by drf_app (this module is its ROOT_URLCONF)


def make_app(framework: str, store: NotesStore | None = None):
    if framework == "wsgi":
        return NotesApp(store)
    if framework == "flask":
        return flask_app(store)
    if framework == "drf":
        return drf_app(store)
    raise ValueError(f"unknown framework {framework!r} (one of {', '.join(FRAMEWORKS)})")


def serve_app(host: str, port: int, app) -> tuple[WSGIServer, threading.Thread]:
    """Serve any WSGI ``app`` from a threading server in a background thread (call shutdown())."""
    server = make_server(host, port, app, server_class=_Threading, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def serve(host: str, port: int, framework: str = "wsgi") -> tuple[WSGIServer, threading.Thread]:
    """Start one front end of the notes app in a background thread; returns the server (call shutdown())."""
    return serve_app(host, port, make_app(framework))


def wait_for_signal() -> None:
    """Block until SIGTERM or SIGINT (the recorder stops its targets with SIGTERM)."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pipeline.lab.webapp", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    for fw in FRAMEWORKS:
        ap.add_argument(f"--{fw}", type=int, metavar="PORT", help=f"serve the {fw} front end on PORT")
    args = ap.parse_args(argv)
    servers = [serve(args.host, getattr(args, fw), fw)[0] for fw in FRAMEWORKS if getattr(args, fw)]
    if not servers:
        ap.error("give at least one of --wsgi, --flask, --drf")
    print("serving " + ", ".join(f"{fw}:{getattr(args, fw)}" for fw in FRAMEWORKS if getattr(args, fw)), flush=True)
    wait_for_signal()
    for s in servers:
        s.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
