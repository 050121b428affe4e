"""A single-page application with a JSON API, as a target for the lab (Flask).

The target serves static HTML, CSS, JavaScript and an image; the page's
script logs in with ``fetch`` (JSON in, a bearer token out) and then works
through ``/api/...`` with JSON bodies, so browsers send real XHR/fetch
traffic and API clients meet PUT/PATCH/DELETE:

    POST   /api/login             {"username", "password"} -> {"token"}   (form-encoded accepted too)
    GET    /api/me                the profile;  PATCH /api/me {"display_name", "bio", "links": [...]}
    GET    /api/notes?tag=&page=  the user's notes;  POST /api/notes {"title", "body", "tags", "meta": {...}}
    GET|PUT|PATCH|DELETE /api/notes/<id>
    GET    /api/search?q=         every user's notes whose title or body holds q
    POST   /api/upload            multipart file

Everything lives in memory; nothing is executed or interpolated into a
query, so attack tools probe it for real without breaking it.

    python -m antinex.pipeline.lab.spaapp --host 10.77.0.10 --port 3000
"""
from __future__ import annotations

import argparse
import base64
import itertools
import secrets
import threading

INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Notebook</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/spa.css"><link rel="icon" href="/favicon.ico"></head>
<body><header><img src="/static/logo.png" alt="" width="32" height="32"> <b>Notebook</b>
<span id="who"></span></header>
<section id="login"><form id="login-form"><input id="username" name="username" placeholder="user">
<input id="password" name="password" type="password" placeholder="password">
<button id="login-btn" type="submit">Log in</button></form><p id="login-error"></p></section>
<section id="app" hidden>
<form id="search-form"><input id="q" name="q" placeholder="search"><button id="search-btn">Search</button></form>
<ul id="results"></ul>
<form id="note-form"><input id="title" placeholder="title"><textarea id="body" placeholder="note"></textarea>
<input id="tags" placeholder="tags, comma separated"><button id="save-btn" type="submit">Save</button></form>
<ul id="notes"></ul>
<form id="upload-form"><input id="file" type="file"><button id="upload-btn" type="submit">Upload</button></form>
<p id="status"></p></section>
<script src="/static/spa.js"></script></body></html>
"""

JS = r"""'use strict';
let token = sessionStorage.getItem('token');
const $ = (id) => document.getElementById(id);
async function api(method, path, body) {
  const opts = {method, headers: {'Accept': 'application/json'}};
  if (token) opts.headers['Authorization'] = 'Bearer ' + token;
  if (body instanceof FormData) { opts.body = body; }
  else if (body !== undefined) { opts.headers['Content-Type'] = 'application/json'; opts.body = JSON.stringify(body); }
  const r = await fetch(path, opts);
  const data = r.status === 204 ? null : await r.json();
  if (!r.ok) throw new Error((data && data.error) || r.statusText);
  return data;
}
function li(text, id) {
  const e = document.createElement('li'); e.textContent = text; if (id) e.dataset.id = id; return e;
}
async function refresh() {
  const me = await api('GET', '/api/me');
  $('who').textContent = me.display_name;
  const notes = await api('GET', '/api/notes?page=1');
  $('notes').replaceChildren(...notes.items.map((n) => li(n.title + ' [' + n.tags.join(', ') + ']', n.id)));
  $('login').hidden = true; $('app').hidden = false;
}
$('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    const r = await api('POST', '/api/login', {username: $('username').value, password: $('password').value});
    token = r.token; sessionStorage.setItem('token', token); await refresh();
  } catch (e) { $('login-error').textContent = e.message; }
});
$('search-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const r = await api('GET', '/api/search?q=' + encodeURIComponent($('q').value));
  $('results').replaceChildren(...r.items.map((n) => li(n.title, n.id)));
  $('status').textContent = r.count + ' found';
});
$('note-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const tags = $('tags').value.split(',').map((t) => t.trim()).filter(Boolean);
  const n = await api('POST', '/api/notes', {title: $('title').value, body: $('body').value, tags,
                                             meta: {client: 'spa', draft: false, editor: {rows: 4}}});
  await api('PATCH', '/api/notes/' + n.id, {tags: tags.concat(['saved'])});
  $('status').textContent = 'saved #' + n.id; await refresh();
});
$('upload-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const fd = new FormData(); if ($('file').files[0]) fd.append('file', $('file').files[0]);
  const r = await api('POST', '/api/upload', fd); $('status').textContent = 'uploaded ' + r.bytes + ' bytes';
});
if (token) refresh().catch(() => { sessionStorage.removeItem('token'); token = null; });
"""

CSS = b"""body{font-family:system-ui,sans-serif;margin:0}header{background:#234;color:#fff;padding:.5em 1em}
section{padding:1em}textarea{width:100%;height:4em}ul{list-style:square}#status{color:#555}"""

# a 1x1 PNG (valid image bytes for the <img> and the favicon requests)
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


class NotebookStore:
    """Users, bearer tokens, profiles and notes, in memory."""

    def __init__(self):
        self.lock = threading.Lock()
        self.passwords = {f"user{i}": f"secret{i}" for i in range(10)}
        self.profiles = {u: {"username": u, "display_name": u.title(), "bio": "", "links": []} for u in self.passwords}
        self.tokens: dict[str, str] = {}
        self.notes: dict[int, dict] = {}
        self.ids = itertools.count(1)

    def login(self, user: str, password: str) -> str | None:
        if not user or self.passwords.get(user) != password:
            return None
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = user
        return token

    def add(self, owner: str, data: dict) -> dict:
        with self.lock:
            empty = {"title": "", "body": "", "tags": [], "meta": {}}
            note = {"id": next(self.ids), "owner": owner, **_note_fields(data, empty)}
            self.notes[note["id"]] = note
            if len(self.notes) > 5000:  # bounded: the oldest go first
                self.notes.pop(min(self.notes))
        return note


def _note_fields(data: dict, base: dict) -> dict:
    out = dict(base)
    if "title" in data:
        out["title"] = str(data["title"])[:200]
    if "body" in data:
        out["body"] = str(data["body"])[:8000]
    if isinstance(data.get("tags"), list):
        out["tags"] = [str(t)[:40] for t in data["tags"][:20]]
    if isinstance(data.get("meta"), dict):
        out["meta"] = data["meta"]
    return out


def spa_app(store: NotebookStore | None = None):
    """The Flask application."""
    from flask import Flask, Response, jsonify, request

    store = store or NotebookStore()
    app = Flask("antinex-lab-spa")
    app.config["MAX_CONTENT_LENGTH"] = 1 << 20

    def user():
        auth = request.headers.get("Authorization", "")
        return store.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None

    def body() -> dict:
        data = request.get_json(silent=True)
        if data is None:
            data = request.form.to_dict()
        return data if isinstance(data, dict) else {}

    def err(status: int, message: str):
        return jsonify({"error": message}), status

    @app.get("/")
    def index():
        return Response(INDEX, mimetype="text/html")

    @app.get("/static/spa.js")
    def js():
        return Response(JS, mimetype="application/javascript")

    @app.get("/static/spa.css")
    def css():
        return Response(CSS, mimetype="text/css")

    @app.get("/static/logo.png")
    @app.get("/favicon.ico")
    def png():
        return Response(PNG, mimetype="image/png")

    @app.post("/api/login")
    def login():
        data = body()
        token = store.login(str(data.get("username", "")), str(data.get("password", "")))
        # 400 as OAuth 2.0 answers a bad password (RFC 6749 5.2, invalid_grant); 401 would mean HTTP auth
        return jsonify({"token": token}) if token else err(400, "invalid credentials")

    @app.route("/api/me", methods=["GET", "PATCH"])
    def me():
        u = user()
        if not u:
            return err(401, "log in first")
        if request.method == "PATCH":
            data = body()
            prof = store.profiles[u]
            for key in ("display_name", "bio"):
                if key in data:
                    prof[key] = str(data[key])[:2000]
            if isinstance(data.get("links"), list):
                prof["links"] = [str(x)[:500] for x in data["links"][:10]]
        return jsonify(store.profiles[u])

    @app.route("/api/notes", methods=["GET", "POST"])
    def notes():
        u = user()
        if not u:
            return err(401, "log in first")
        if request.method == "POST":
            return jsonify(store.add(u, body())), 201
        tag = request.args.get("tag")
        mine = [n for n in reversed(store.notes.values()) if n["owner"] == u and (not tag or tag in n["tags"])]
        try:
            page = max(1, int(request.args.get("page", 1)))
        except ValueError:
            return err(400, "page: not a number")
        return jsonify({"page": page, "count": len(mine), "items": mine[(page - 1) * 20:page * 20]})

    @app.route("/api/notes/<int:note_id>", methods=["GET", "PUT", "PATCH", "DELETE"])
    def note(note_id):
        u = user()
        if not u:
            return err(401, "log in first")
        n = store.notes.get(note_id)
        if not n or n["owner"] != u:
            return err(404, "no such note")
        if request.method == "DELETE":
            store.notes.pop(note_id, None)
            return "", 204
        if request.method == "PUT":
            n.update(_note_fields(body(), {"title": "", "body": "", "tags": [], "meta": {}}))
        elif request.method == "PATCH":
            n.update(_note_fields(body(), n))
        return jsonify(n)

    @app.get("/api/search")
    def search():
        q = request.args.get("q", "").lower()
        hits = [{"id": n["id"], "title": n["title"]} for n in reversed(store.notes.values())
                if q in n["title"].lower() or q in n["body"].lower()][:20]
        return jsonify({"q": q, "count": len(hits), "items": hits})

    @app.post("/api/upload")
    def upload():
        if not user():
            return err(401, "log in first")
        return jsonify({"bytes": sum(len(f.read()) for f in request.files.values())}), 201

    @app.errorhandler(404)
    def not_found(_):
        return err(404, "not found")

    @app.errorhandler(405)
    def not_allowed(_):
        return err(405, "method not allowed")

    @app.errorhandler(413)
    def too_large(_):
        return err(413, "body too large")

    return app


def main(argv: list[str] | None = None) -> int:
    from antinex.pipeline.lab.webapp import serve_app, wait_for_signal

    ap = argparse.ArgumentParser(prog="python -m antinex.pipeline.lab.spaapp", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=3000)
    args = ap.parse_args(argv)
    server, _ = serve_app(args.host, args.port, spa_app())
    print(f"serving spa:{args.port}", flush=True)
    wait_for_signal()
    server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
