"""A small web application to record traffic against: login, list, create,
search and upload, backed by SQLite (parameterised queries: attack tools
probe it for real, but it is not meant to fall)."""
from __future__ import annotations

import html
import json
import secrets
import sqlite3
import threading
from http import cookies
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

PAGE = "<!doctype html><html><head><title>{title}</title><link rel=stylesheet href=/static/app.css></head><body><h1>{title}</h1>{body}</body></html>"


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):  # the recorder's console is for its own progress
        pass


class _Threading(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class NotesApp:
    """WSGI app: /, /login, /items, /items/<id>, /search?q=, /upload, /api/items (JSON)."""

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
        user = self.sessions.get(jar["sid"].value) if "sid" in jar else None
        status, headers, content = self.route(method, path, query, form, body, user)
        headers = headers + [("Content-Length", str(len(content)))]
        start_response(status, headers)
        return [content]

    def _html(self, title: str, body: str, status: str = "200 OK", extra=None):
        return status, [("Content-Type", "text/html; charset=utf-8")] + (extra or []), \
            PAGE.format(title=html.escape(title), body=body).encode()

    def route(self, method, path, query, form, body, user):
        q = lambda d, k: (d.get(k) or [""])[0]  # noqa: E731
        if path == "/static/app.css":
            return "200 OK", [("Content-Type", "text/css")], b"body{font-family:sans-serif;margin:2em}"
        if path == "/login":
            if method == "POST":
                name, pw = q(form, "username"), q(form, "password")
                with self.lock:
                    ok = self.db.execute("select 1 from users where name=? and password=?", (name, pw)).fetchone()
                if ok:
                    sid = secrets.token_hex(16)
                    self.sessions[sid] = name
                    return "302 Found", [("Location", "/items"), ("Set-Cookie", f"sid={sid}; HttpOnly")], b""
                return self._html("Login", "<p>invalid credentials</p>", "401 Unauthorized")
            return self._html("Login", "<form method=post><input name=username><input name=password type=password></form>")
        if path == "/search":
            term = q(query, "q")
            with self.lock:
                rows = self.db.execute("select id, title from items where title like ? limit 20",
                                       (f"%{term}%",)).fetchall()
            items = "".join(f"<li><a href=/items/{i}>{html.escape(t)}</a></li>" for i, t in rows)
            return self._html(f"Search: {term[:40]}", f"<ul>{items}</ul>")
        if path == "/api/items":
            with self.lock:
                rows = self.db.execute("select id, owner, title from items order by id desc limit 50").fetchall()
            return "200 OK", [("Content-Type", "application/json")], json.dumps(
                [{"id": i, "owner": o, "title": t} for i, o, t in rows]).encode()
        if path.startswith("/items/"):
            try:
                item_id = int(path.rsplit("/", 1)[1])
            except ValueError:
                return self._html("Not found", "", "404 Not Found")
            with self.lock:
                row = self.db.execute("select title, body from items where id=?", (item_id,)).fetchone()
            if not row:
                return self._html("Not found", "", "404 Not Found")
            return self._html(row[0], f"<p>{html.escape(row[1])}</p>")
        if path == "/items":
            if method == "POST":
                if not user:
                    return self._html("Forbidden", "log in first", "403 Forbidden")
                with self.lock:
                    self.db.execute("insert into items(owner, title, body) values(?,?,?)",
                                    (user, q(form, "title")[:200], q(form, "body")[:4000]))
                    self.db.commit()
                return "302 Found", [("Location", "/items")], b""
            with self.lock:
                rows = self.db.execute("select id, title from items order by id desc limit 20").fetchall()
            items = "".join(f"<li><a href=/items/{i}>{html.escape(t)}</a></li>" for i, t in rows)
            return self._html("Items", f"<ul>{items}</ul>")
        if path == "/upload" and method == "POST":
            if not user:
                return self._html("Forbidden", "log in first", "403 Forbidden")
            return self._html("Uploaded", f"<p>{len(body)} bytes</p>", "201 Created")
        if path == "/":
            return self._html("Notes", "<a href=/items>items</a> <a href=/search>search</a> <a href=/login>login</a>")
        return self._html("Not found", "", "404 Not Found")


def serve(host: str, port: int) -> tuple[WSGIServer, threading.Thread]:
    """Start the app in a background thread; returns the server (call shutdown())."""
    server = make_server(host, port, NotesApp(), server_class=_Threading, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread
