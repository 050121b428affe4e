"""A server-rendered forum with login, as a target for the lab (Django).

Django's own machinery does what a real site's would: ``CsrfViewMiddleware``
(a ``csrftoken`` cookie and a ``csrfmiddlewaretoken`` field in every form;
a POST without them gets Django's 403 page), signed-cookie sessions
(``sessionid``), redirects to ``/login?next=...``, multipart uploads.

    GET  /                       recent posts              GET|POST /login, POST /logout
    GET|POST /profile            display name, bio, website, avatar upload
    GET  /posts/<id>             a post and its comments   POST /posts/<id>/comments
    GET|POST /posts/new          write a post              GET /search?q=
    GET  /users/<name>           a public profile

State lives in memory (no database); nothing is executed or interpolated
into a query. The module is its own ``ROOT_URLCONF``, so it runs in its own
process (Django is configured once per process):

    python -m antinex.pipeline.lab.formapp --host 10.77.0.10 --port 8090
"""
from __future__ import annotations

import argparse
import html
import itertools
import secrets
import threading

CSS = b"""body{font:15px/1.4 Georgia,serif;max-width:46em;margin:1em auto}nav a{margin-right:1em}
.comment{border-left:3px solid #ccc;padding-left:.6em;margin:.6em 0}textarea{width:100%;height:6em}"""
JS = b"""document.querySelectorAll('textarea').forEach(function(t){var c=document.createElement('small');
t.after(c);t.addEventListener('input',function(){c.textContent=t.value.length+' characters';});});"""


class ForumStore:
    """Users, profiles, posts and comments, in memory."""

    def __init__(self):
        self.lock = threading.Lock()
        self.passwords = {f"user{i}": f"secret{i}" for i in range(10)}
        self.profiles = {u: {"display_name": u.title(), "bio": "", "website": "", "avatar": 0}
                         for u in self.passwords}
        self.ids = itertools.count(1)
        self.posts: dict[int, dict] = {}
        self.comments: dict[int, list[dict]] = {}
        for title in ("Welcome to the forum", "How do you back up your notes?", "Release notes 2.4"):
            self.add_post("user0", title, f"{title}. Say hello below.")

    def add_post(self, author: str, title: str, body: str) -> int:
        with self.lock:
            pid = next(self.ids)
            self.posts[pid] = {"id": pid, "author": author, "title": title[:200], "body": body[:8000]}
            self.comments[pid] = []
            if len(self.posts) > 2000:  # bounded: the oldest go first
                old = min(self.posts)
                self.posts.pop(old)
                self.comments.pop(old, None)
        return pid

    def add_comment(self, pid: int, author: str, text: str) -> None:
        with self.lock:
            self.comments[pid] = (self.comments.get(pid, []) + [{"author": author, "text": text[:4000]}])[-200:]


def forum_app(store: ForumStore | None = None):
    """The Django WSGI application (configures Django's settings: one per process)."""
    import django
    from django.conf import settings

    store = store or ForumStore()
    if settings.configured:
        raise RuntimeError("Django is already configured in this process; run the forum in its own process")
    settings.configure(
        DEBUG=False, SECRET_KEY=secrets.token_hex(32), ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__,
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"], DATABASES={},
        MIDDLEWARE=["django.middleware.security.SecurityMiddleware",
                    "django.contrib.sessions.middleware.SessionMiddleware",
                    "django.middleware.common.CommonMiddleware",
                    "django.middleware.csrf.CsrfViewMiddleware",
                    "django.middleware.clickjacking.XFrameOptionsMiddleware"],
        SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
        DATA_UPLOAD_MAX_MEMORY_SIZE=1 << 20, FILE_UPLOAD_MAX_MEMORY_SIZE=1 << 20, USE_TZ=True)
    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.http import Http404, HttpResponse, HttpResponseRedirect
    from django.middleware.csrf import get_token, rotate_token
    from django.urls import path
    from django.views.decorators.http import require_http_methods

    esc = html.escape

    def render(request, title: str, body: str, status: int = 200) -> HttpResponse:
        user = request.session.get("user")
        who = (f'<a href="/profile">{esc(store.profiles[user]["display_name"])}</a>'
               f'<form method="post" action="/logout" style="display:inline">{csrf(request)}'
               '<button>Log out</button></form>') if user else '<a href="/login">Log in</a>'
        page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)} · Forum</title>'
                '<link rel="stylesheet" href="/static/forum.css"><script src="/static/forum.js" defer></script>'
                f'</head><body><nav><a href="/">Forum</a><a href="/posts/new">New post</a>'
                f'<form action="/search" style="display:inline"><input name="q" placeholder="search"></form>{who}</nav>'
                f'<h1>{esc(title)}</h1>{body}</body></html>')
        return HttpResponse(page, status=status, content_type="text/html; charset=utf-8")

    def csrf(request) -> str:
        return f'<input type="hidden" name="csrfmiddlewaretoken" value="{get_token(request)}">'

    def post_list(posts) -> str:
        return "<ul>" + "".join(f'<li><a href="/posts/{p["id"]}">{esc(p["title"])}</a> by '
                                f'<a href="/users/{p["author"]}">{p["author"]}</a></li>' for p in posts) + "</ul>"

    def login_required(view):
        def wrapped(request, *a, **kw):
            if not request.session.get("user"):
                return HttpResponseRedirect(f"/login?next={request.path}")
            return view(request, *a, **kw)
        return wrapped

    def static(content: bytes, kind: str):
        return lambda request: HttpResponse(content, content_type=kind)

    def index(request):
        return render(request, "Recent posts", post_list(list(reversed(store.posts.values()))[:20]))

    @require_http_methods(["GET", "HEAD", "POST"])  # HEAD as GET, as Django's own views allow
    def login(request):
        error = ""
        if request.method == "POST":
            user = request.POST.get("username", "")
            if user and store.passwords.get(user) == request.POST.get("password"):
                request.session["user"] = user
                rotate_token(request)
                nxt = request.POST.get("next", "")
                return HttpResponseRedirect(nxt if nxt.startswith("/") and not nxt.startswith("//") else "/profile")
            error = '<p class="error">invalid credentials</p>'
        nxt = esc(request.GET.get("next", request.POST.get("next", "")))
        return render(request, "Log in", f'{error}<form method="post" action="/login">{csrf(request)}'
                      f'<input type="hidden" name="next" value="{nxt}"><label>User <input name="username"></label>'
                      '<label>Password <input name="password" type="password"></label>'
                      '<button type="submit">Log in</button></form>')

    @require_http_methods(["POST"])
    def logout(request):
        request.session.flush()
        return HttpResponseRedirect("/")

    @login_required
    @require_http_methods(["GET", "HEAD", "POST"])  # HEAD as GET, as Django's own views allow
    def profile(request):
        user = request.session["user"]
        prof = store.profiles[user]
        saved = ""
        if request.method == "POST":
            for key in ("display_name", "bio", "website"):
                if key in request.POST:
                    prof[key] = request.POST[key][:2000]
            if "avatar" in request.FILES:
                prof["avatar"] = request.FILES["avatar"].size
            saved = "<p>Saved.</p>"
        return render(request, "Your profile", f'{saved}<form method="post" enctype="multipart/form-data">'
                      f'{csrf(request)}<label>Name <input name="display_name" value="{esc(prof["display_name"])}">'
                      f'</label><label>Website <input name="website" value="{esc(prof["website"])}"></label>'
                      f'<textarea name="bio">{esc(prof["bio"])}</textarea><input type="file" name="avatar">'
                      '<button type="submit">Save</button></form>')

    def user_page(request, name):
        if name not in store.profiles:
            raise Http404("no such user")
        prof = store.profiles[name]
        mine = [p for p in store.posts.values() if p["author"] == name]
        return render(request, prof["display_name"], f'<p>{esc(prof["bio"])}</p>'
                      f'<p><a rel="nofollow" href="{esc(prof["website"])}">{esc(prof["website"])}</a></p>'
                      + post_list(mine))

    def show_post(request, pid):
        post = store.posts.get(pid)
        if not post:
            raise Http404("no such post")
        comments = "".join(f'<div class="comment"><b>{esc(c["author"])}</b>: {esc(c["text"])}</div>'
                           for c in store.comments.get(pid, []))
        form = (f'<form method="post" action="/posts/{pid}/comments">{csrf(request)}<textarea name="text"></textarea>'
                '<button type="submit">Comment</button></form>') if request.session.get("user") else \
            f'<p><a href="/login?next=/posts/{pid}">Log in</a> to comment.</p>'
        return render(request, post["title"], f'<p>{esc(post["body"])}</p>{comments}{form}')

    @login_required
    @require_http_methods(["POST"])
    def comment(request, pid):
        if pid not in store.posts:
            raise Http404("no such post")
        text = request.POST.get("text", "").strip()
        if text:
            store.add_comment(pid, request.session["user"], text)
        return HttpResponseRedirect(f"/posts/{pid}")

    @login_required
    @require_http_methods(["GET", "HEAD", "POST"])  # HEAD as GET, as Django's own views allow
    def new_post(request):
        if request.method == "POST" and request.POST.get("title"):
            pid = store.add_post(request.session["user"], request.POST["title"], request.POST.get("body", ""))
            return HttpResponseRedirect(f"/posts/{pid}")
        return render(request, "New post", f'<form method="post">{csrf(request)}<input name="title">'
                      '<textarea name="body"></textarea><button type="submit">Post</button></form>')

    def search(request):
        q = request.GET.get("q", "")
        hits = [p for p in reversed(store.posts.values()) if q.lower() in (p["title"] + p["body"]).lower()][:20]
        return render(request, f"Search: {q[:60]}", post_list(hits))

    global urlpatterns
    urlpatterns = [
        path("", index), path("login", login), path("logout", logout), path("profile", profile),
        path("users/<str:name>", user_page), path("posts/new", new_post), path("posts/<int:pid>", show_post),
        path("posts/<int:pid>/comments", comment), path("search", search),
        path("static/forum.css", static(CSS, "text/css")), path("static/forum.js", static(JS, "text/javascript")),
    ]
    return WSGIHandler()


urlpatterns: list = []  # filled by forum_app (this module is its ROOT_URLCONF)


def main(argv: list[str] | None = None) -> int:
    from antinex.pipeline.lab.webapp import serve_app, wait_for_signal

    ap = argparse.ArgumentParser(prog="python -m antinex.pipeline.lab.formapp", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8090)
    args = ap.parse_args(argv)
    server, _ = serve_app(args.host, args.port, forum_app())
    print(f"serving forms:{args.port}", flush=True)
    wait_for_signal()
    server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
