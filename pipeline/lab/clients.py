"""Benign clients of every kind a web application meets, each a real program:

    browser          headless Chromium driven by Selenium: pages with their CSS, JS and images,
                     the SPA's fetch calls, forms with CSRF tokens, logins, uploads, searches
    curl             the curl command line: pages, -G --data-urlencode searches, -d/-F forms, JSON, cookie jars
    wget             the wget command line: pages, a shallow recursive mirror, --post-data logins
    httpie           the ``http`` command line: key==value queries, --form, JSON fields and :=, sessions
    python-requests  a script with requests' defaults (its User-Agent): scraping, form posts, the APIs
    api-client       a JSON API client on urllib: bearer tokens, nested JSON, PUT/PATCH/DELETE, base64 cookies

They visit every target app (``notes``, ``spa``, ``forms``) with the content
of ``content.py``, and after each visit every kind also reads one of the app's
public pages (``content.PAGES``) and, but for the browser, asks HEAD of
another, as link checkers, monitors and ``curl -I`` do: every page and method
of an app is one more than one kind of client uses. In the lab each kind runs
in its own namespace, so the client of every packet is known by its address.

    python -m antinex.pipeline.lab.clients KIND --target notes-wsgi=http://10.77.0.10:8080 [...] --seconds 60 --seed 1

prints one JSON line: ``{"client", "requests", "errors", "version"}``.
"""
from __future__ import annotations

import argparse
import base64
import http.cookiejar
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from antinex.pipeline.lab import content

CLIENT_KINDS = ("browser", "curl", "wget", "httpie", "python-requests", "api-client")
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,900")


class Client:
    """One client kind's loop over the targets; ``act`` does one visit of one app."""

    kind = ""

    def __init__(self, targets: dict[str, str], rng: random.Random, workdir: Path):
        self.targets, self.rng, self.work = targets, rng, workdir
        self.requests = self.errors = 0

    def user(self) -> tuple[str, str]:
        i = self.rng.randint(0, 9)
        return f"user{i}", f"secret{i}"

    def run(self, until: float) -> None:
        # every target in turn (from a random start), so even a short session visits every app
        names = sorted(self.targets)
        start = self.rng.randrange(len(names))
        visit = 0
        while time.time() < until:
            name = names[(start + visit) % len(names)]
            visit += 1
            app = name.split("-")[0]
            try:
                self.act(app, self.targets[name])
                self.look(app, self.targets[name])
            except Exception as exc:  # one failed visit must not end the client: count it, go on
                self.errors += 1
                print(f"{self.kind}: {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
                time.sleep(0.5)
            time.sleep(self.rng.uniform(0.2, 1.0))  # think time between visits

    def act(self, app: str, base: str) -> None:
        raise NotImplementedError

    heads = True  # whether this kind of client sends HEAD requests (browsers never do)

    def look(self, app: str, base: str) -> None:
        """Read one of the app's public pages and, where the client does, ask HEAD of another."""
        self.fetch("GET", base + content.page(app, self.rng))
        if self.heads:
            self.fetch("HEAD", base + content.page(app, self.rng))

    def fetch(self, method: str, url: str) -> None:
        """One plain request of ``url`` with this client's own defaults, the answer discarded."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    @staticmethod
    def version() -> str:
        return "unknown"


def _first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "missing"


class CommandLineClient(Client):
    """Runs a command-line HTTP client once per request."""

    program = ""

    def sh(self, *argv: str, timeout: float = 15) -> str:
        self.requests += 1
        proc = subprocess.run([self.program, *argv], capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
        return proc.stdout.decode("utf-8", "replace")


class Curl(CommandLineClient):
    kind, program = "curl", "curl"

    @staticmethod
    def version() -> str:
        return _first_line(["curl", "--version"])

    def fetch(self, method: str, url: str) -> None:
        self.sh("-sS", "--max-time", "10", "-o", "/dev/null", *(("-I",) if method == "HEAD" else ()), url)

    def act(self, app: str, base: str) -> None:
        r, jar = self.rng, str(self.work / f"curl-{app}.jar")
        user, password = self.user()
        q = ("-sS", "--max-time", "10")
        if app == "notes":
            self.sh(*q, "-o", "/dev/null", f"{base}/")
            self.sh(*q, "-G", "--data-urlencode", f"q={content.search_term(r)}", f"{base}/search")
            self.sh(*q, "-c", jar, "-o", "/dev/null", "-d", f"username={user}&password={password}", f"{base}/login")
            self.sh(*q, "-b", jar, "-L", "-o", "/dev/null", "--data-urlencode", f"title={content.title(r)}",
                    "--data-urlencode", f"body={content.comment(r)}", f"{base}/items")
            if r.random() < 0.4:
                name, data, kind = content.upload(r)
                path = self.work / name
                path.write_bytes(data)
                self.sh(*q, "-b", jar, "-o", "/dev/null", "-F", f"file=@{path};type={kind}", f"{base}/upload")
            self.sh(*q, "-H", "Accept: application/json", f"{base}/api/items")
            self.sh(*q, "-I", f"{base}/items/{r.randint(1, 40)}")
        elif app == "spa":
            self.sh(*q, "-o", "/dev/null", f"{base}/")
            out = self.sh(*q, "-H", "Content-Type: application/json", "-d",
                          json.dumps({"username": user, "password": password}), f"{base}/api/login")
            auth = f"Authorization: Bearer {json.loads(out)['token']}"
            made = self.sh(*q, "-H", auth, "-H", "Content-Type: application/json", "-d",
                           json.dumps(content.note_json(r), ensure_ascii=r.random() < 0.5), f"{base}/api/notes")
            self.sh(*q, "-H", auth, f"{base}/api/notes?page=1")
            self.sh(*q, "-G", "--data-urlencode", f"q={content.search_term(r)}", f"{base}/api/search")
            self.sh(*q, "-X", "PATCH", "-H", auth, "-H", "Content-Type: application/json", "-d",
                    json.dumps({"bio": content.comment(r), "links": [content.url(r)]}), f"{base}/api/me")
            if r.random() < 0.5:
                self.sh(*q, "-o", "/dev/null", "-X", "DELETE", "-H", auth, f"{base}/api/notes/{json.loads(made)['id']}")
        else:
            page = self.sh(*q, "-c", jar, f"{base}/login")
            token = CSRF_FIELD.search(page).group(1)
            self.sh(*q, "-b", jar, "-c", jar, "-o", "/dev/null", "-e", f"{base}/login", "--data-urlencode",
                    f"csrfmiddlewaretoken={token}", "-d", f"username={user}&password={password}", f"{base}/login")
            page = self.sh(*q, "-b", jar, "-c", jar, f"{base}/posts/{r.randint(1, 3)}")
            token = CSRF_FIELD.search(page).group(1)
            self.sh(*q, "-b", jar, "-c", jar, "-o", "/dev/null", "--data-urlencode", f"csrfmiddlewaretoken={token}",
                    "--data-urlencode", f"text={content.comment(r)}", f"{base}/posts/{r.randint(1, 3)}/comments")
            self.sh(*q, "-G", "-o", "/dev/null", "--data-urlencode", f"q={content.search_term(r)}", f"{base}/search")


class Wget(CommandLineClient):
    kind, program = "wget", "wget"

    @staticmethod
    def version() -> str:
        return _first_line(["wget", "--version"])

    def fetch(self, method: str, url: str) -> None:
        # --spider asks HEAD first, as link checkers run on wget do
        self.sh("-q", "-T", "10", "-t", "1", *(("--spider",) if method == "HEAD" else ("-O", "/dev/null")), url)

    def act(self, app: str, base: str) -> None:
        r, jar = self.rng, str(self.work / f"wget-{app}.cookies")
        user, password = self.user()
        q = ("-q", "-T", "10", "-t", "1")
        keep = ("--load-cookies", jar, "--save-cookies", jar, "--keep-session-cookies")
        term = urllib.parse.quote_plus(content.search_term(r))
        if app == "notes":
            if r.random() < 0.3:  # a shallow mirror: the pages linked from the home page and their assets
                with tempfile.TemporaryDirectory(dir=self.work) as d:
                    self.sh(*q, "-r", "-l", "1", "-np", "-p", "-P", d, f"{base}/", timeout=30)
            self.sh(*q, "-O", "/dev/null", *keep, "--post-data", f"username={user}&password={password}",
                    f"{base}/login")
            self.sh(*q, "-O", "/dev/null", f"{base}/search?q={term}")
            self.sh(*q, "-O", "/dev/null", f"{base}/api/items")
        elif app == "spa":
            self.sh(*q, "-O", "/dev/null", "-p", f"{base}/")
            self.sh(*q, "-O", "/dev/null", f"{base}/api/search?q={term}")
            if r.random() < 0.5:  # a script on wget: log in, file a note, sometimes take it back
                js = "--header=Content-Type: application/json"
                out = self.sh(*q, "-O", "-", js, "--post-data", json.dumps({"username": user, "password": password}),
                              f"{base}/api/login")
                auth = f"--header=Authorization: Bearer {json.loads(out)['token']}"
                out = self.sh(*q, "-O", "-", js, auth, "--post-data", json.dumps(content.note_json(r)),
                              f"{base}/api/notes")
                if r.random() < 0.6:
                    self.sh(*q, "-O", "/dev/null", auth, "--method=DELETE", f"{base}/api/notes/{json.loads(out)['id']}")
        else:
            page = self.sh(*q, "-O", "-", "--save-cookies", jar, "--keep-session-cookies", f"{base}/login")
            token = CSRF_FIELD.search(page).group(1)
            self.sh(*q, "-O", "/dev/null", *keep, "--post-data",
                    f"csrfmiddlewaretoken={token}&username={user}&password={password}&next=%2Fprofile",
                    f"{base}/login")
            post = r.randint(1, 3)
            page = self.sh(*q, "-O", "-", *keep, f"{base}/posts/{post}")
            if r.random() < 0.5:  # a comment, as a script on wget posts one
                token = CSRF_FIELD.search(page).group(1)
                text = urllib.parse.quote_plus(content.comment(r))
                self.sh(*q, "-O", "/dev/null", *keep, "--post-data", f"csrfmiddlewaretoken={token}&text={text}",
                        f"{base}/posts/{post}/comments")
            self.sh(*q, "-O", "/dev/null", f"{base}/search?q={term}")


class Httpie(CommandLineClient):
    kind, program = "httpie", "http"

    @staticmethod
    def version() -> str:
        return "httpie " + _first_line(["http", "--version"])

    def fetch(self, method: str, url: str) -> None:
        self.sh("--ignore-stdin", "--timeout", "10", "--print", "b", method, url)

    def act(self, app: str, base: str) -> None:
        r = self.rng
        user, password = self.user()
        session = str(self.work / f"httpie-{app}-{r.randint(0, 3)}.json")
        q = ("--ignore-stdin", "--timeout", "10", "--print", "b")
        if app == "notes":
            self.sh(*q, "GET", f"{base}/search", f"q=={content.search_term(r)}")
            self.sh(*q, f"--session={session}", "--form", "POST", f"{base}/login", f"username={user}",
                    f"password={password}")
            self.sh(*q, f"--session={session}", "--form", "--follow", "POST", f"{base}/items",
                    f"title={content.title(r)}", f"body={content.comment(r)}")
            self.sh(*q, "GET", f"{base}/api/items")
        elif app == "spa":
            out = self.sh(*q, "POST", f"{base}/api/login", f"username={user}", f"password={password}")
            auth = f"Authorization:Bearer {json.loads(out)['token']}"
            note = content.note_json(r)
            out = self.sh(*q, "POST", f"{base}/api/notes", auth, f"title={note['title']}", f"body={note['body']}",
                          f"tags:={json.dumps(note['tags'])}", f"meta:={json.dumps(note['meta'])}")
            nid = json.loads(out)["id"]
            self.sh(*q, "PUT", f"{base}/api/notes/{nid}", auth, f"title={content.title(r)}", "tags:=[]")
            self.sh(*q, "GET", f"{base}/api/search", f"q=={content.search_term(r)}")
            if r.random() < 0.5:
                self.sh(*q, "DELETE", f"{base}/api/notes/{nid}", auth)
        else:
            page = self.sh("--ignore-stdin", "--timeout", "10", "--print", "b", f"--session={session}", "GET",
                           f"{base}/login")
            token = CSRF_FIELD.search(page).group(1)
            self.sh(*q, f"--session={session}", "--form", "POST", f"{base}/login", f"csrfmiddlewaretoken={token}",
                    f"username={user}", f"password={password}")
            self.sh(*q, "GET", f"{base}/search", f"q=={content.search_term(r)}")
            self.sh(*q, "GET", f"{base}/users/user{r.randint(0, 9)}")


class PythonRequests(Client):
    """A script written with requests, its default headers and User-Agent."""

    kind = "python-requests"

    @staticmethod
    def version() -> str:
        import requests

        return f"requests {requests.__version__}"

    def get(self, s, url: str, **kw):
        self.requests += 1
        return s.get(url, timeout=10, **kw)

    def post(self, s, url: str, **kw):
        self.requests += 1
        return s.post(url, timeout=10, **kw)

    def fetch(self, method: str, url: str) -> None:
        import requests

        self.requests += 1
        requests.request(method, url, timeout=10).close()

    def act(self, app: str, base: str) -> None:
        import requests

        r = self.rng
        user, password = self.user()
        with requests.Session() as s:
            if app == "notes":
                self.post(s, f"{base}/login", data={"username": user, "password": password})
                for _ in range(r.randint(1, 4)):
                    self.get(s, f"{base}/search", params={"q": content.search_term(r)})
                self.post(s, f"{base}/items", data={"title": content.title(r), "body": content.comment(r)})
                name, data, kind = content.upload(r)
                self.post(s, f"{base}/upload", files={"file": (name, data, kind)})
                self.get(s, f"{base}/api/items")
            elif app == "spa":
                tok = self.post(s, f"{base}/api/login", json={"username": user, "password": password}).json()["token"]
                s.headers["Authorization"] = f"Bearer {tok}"
                nid = self.post(s, f"{base}/api/notes", json=content.note_json(r)).json()["id"]
                self.get(s, f"{base}/api/notes", params={"page": 1, "tag": r.choice(content.WORDS)})
                self.get(s, f"{base}/api/search", params={"q": content.search_term(r)})
                if r.random() < 0.5:
                    self.requests += 1
                    s.put(f"{base}/api/notes/{nid}", json=content.note_json(r), timeout=10)
                if r.random() < 0.5:
                    self.requests += 1
                    s.delete(f"{base}/api/notes/{nid}", timeout=10)
            else:
                token = CSRF_FIELD.search(self.get(s, f"{base}/login").text).group(1)
                self.post(s, f"{base}/login", data={"csrfmiddlewaretoken": token, "username": user,
                                                    "password": password})
                page = self.get(s, f"{base}/profile").text
                token = CSRF_FIELD.search(page).group(1)
                name, data, kind = content.upload(r)
                self.post(s, f"{base}/profile", data={"csrfmiddlewaretoken": token, "bio": content.comment(r),
                                                      "website": content.url(r), "display_name": user.title()},
                          files={"avatar": (name, data, kind)} if r.random() < 0.5 else None)
                if r.random() < 0.5:  # every kind of client uses every feature of the forum, comments too
                    post = r.randint(1, 3)
                    token = CSRF_FIELD.search(self.get(s, f"{base}/posts/{post}").text).group(1)
                    self.post(s, f"{base}/posts/{post}/comments", data={"csrfmiddlewaretoken": token,
                                                                        "text": content.comment(r)})
                self.get(s, f"{base}/search", params={"q": content.search_term(r)})


class ApiClient(Client):
    """A JSON API client on urllib: bearer tokens, nested JSON, every method, a base64 cookie."""

    kind = "api-client"
    agent = "notes-sync/2.4 (+urllib)"

    @staticmethod
    def version() -> str:
        return f"urllib (Python {sys.version.split()[0]})"

    def call(self, method: str, url: str, body=None, token: str | None = None):
        headers = {"Accept": "application/json", "User-Agent": self.agent,
                   "Cookie": "prefs=" + base64.b64encode(json.dumps({"theme": "dark", "lang": "fr"}).encode()).decode(),
                   "X-Request-Id": content.token(self.rng, 12)}
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json; charset=utf-8"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.requests += 1
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"the API client speaks HTTP only, not {url!r}")
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            # the scheme is checked just above, so no file:// or custom opener is reachable
            with urllib.request.urlopen(req, timeout=10) as resp:  # nosec B310
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None

    def fetch(self, method: str, url: str) -> None:
        self.call(method, url)

    def act(self, app: str, base: str) -> None:
        r = self.rng
        user, password = self.user()
        if app == "spa":
            token = self.call("POST", f"{base}/api/login", {"username": user, "password": password})["token"]
            made = [self.call("POST", f"{base}/api/notes", content.note_json(r), token)["id"]
                    for _ in range(r.randint(1, 3))]
            self.call("GET", f"{base}/api/notes?page=1", token=token)
            nid = r.choice(made)
            self.call("PATCH", f"{base}/api/notes/{nid}", {"tags": r.sample(content.WORDS, 2),
                                                            "meta": {"synced": True, "rev": r.randint(1, 99)}}, token)
            self.call("PUT", f"{base}/api/notes/{nid}", content.note_json(r), token)
            self.call("GET", f"{base}/api/search?" + urllib.parse.urlencode({"q": content.search_term(r)}))
            self.call("PATCH", f"{base}/api/me", {"display_name": r.choice(content.SEARCHES)[:30],
                                                   "links": [content.url(r) for _ in range(2)]}, token)
            for nid in made[: r.randint(0, len(made))]:
                self.call("DELETE", f"{base}/api/notes/{nid}", token=token)
        elif app == "notes":
            self.call("GET", f"{base}/api/items")
        else:
            # the forum has no API: the client reads public pages as JSON-less GETs
            jar = http.cookiejar.CookieJar()
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
            self.requests += 1
            opener.open(urllib.request.Request(f"{base}/", headers={"User-Agent": self.agent}), timeout=10).read()


class Browser(Client):
    """Headless Chromium through Selenium and Debian's chromedriver (never downloads a driver)."""

    kind = "browser"
    heads = False

    def __init__(self, targets, rng, workdir):
        super().__init__(targets, rng, workdir)
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        browser = shutil.which("chromium") or shutil.which("chromium-browser")
        driver = shutil.which("chromedriver")
        if not browser or not driver:
            raise FileNotFoundError("the browser client needs Debian's chromium and chromium-driver")
        options = webdriver.ChromeOptions()
        options.binary_location = browser
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={workdir / 'chromium-profile'}")
        self.driver = webdriver.Chrome(service=Service(driver), options=options)
        self.driver.set_page_load_timeout(20)

    @staticmethod
    def version() -> str:
        return _first_line([shutil.which("chromium") or "chromium", "--version"])

    def close(self) -> None:
        self.driver.quit()

    def open(self, url: str) -> None:
        self.requests += 1
        self.driver.get(url)

    def fill(self, form: str, by_name: dict[str, str], submit: str = "button", navigates: bool = True) -> None:
        """Fill the fields of the first ``form`` (a CSS selector) and click its ``submit`` button;
        when the form ``navigates``, wait for the next page."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec

        form_el = self.driver.find_element(By.CSS_SELECTOR, form)
        for name, value in by_name.items():
            el = form_el.find_element(By.NAME, name)
            if el.get_attribute("type") != "file":
                el.clear()
            el.send_keys(value)
        self.requests += 1
        page = self.driver.find_element(By.TAG_NAME, "html")
        form_el.find_element(By.CSS_SELECTOR, submit).click()
        if navigates:
            self.wait(ec.staleness_of(page))

    def wait(self, condition, seconds: float = 10) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(self.driver, seconds).until(condition)

    def upload_file(self) -> str:
        name, data, _ = content.upload(self.rng)
        path = self.work / name
        path.write_bytes(data)
        return str(path)

    def act(self, app: str, base: str) -> None:
        from selenium.webdriver.common.by import By

        r, d = self.rng, self.driver
        user, password = self.user()
        # plain text only: chromedriver's send_keys types through a keyboard that has no emoji
        text = lambda s: "".join(ch for ch in s if ord(ch) < 0x10000)  # noqa: E731
        if app == "notes":
            self.open(f"{base}/")
            self.open(f"{base}/login")
            self.fill("form[action='/login']", {"username": user, "password": password})
            self.fill("form[action='/search']", {"q": text(content.search_term(r))})
            self.open(f"{base}/items")
            self.fill("form[action='/items']", {"title": text(content.title(r)),
                                                "body": text(content.comment(r, long=False))})
            if r.random() < 0.3:
                self.fill("form[action='/upload']", {"file": self.upload_file()})
            links = d.find_elements(By.CSS_SELECTOR, "li a")
            if links:
                self.requests += 1
                r.choice(links).click()
        elif app == "spa":
            self.open(f"{base}/")
            if d.find_element(By.ID, "login").is_displayed():  # else still logged in from the last visit
                self.fill("#login-form", {"username": user, "password": password}, "#login-btn", navigates=False)
                self.wait(lambda drv: drv.find_element(By.ID, "app").is_displayed())
            for _ in range(r.randint(1, 3)):
                self.fill("#search-form", {"q": text(content.search_term(r))}, "#search-btn", navigates=False)
                time.sleep(r.uniform(0.2, 0.8))
            for field, value in (("title", content.title(r)), ("body", content.comment(r, long=False)),
                                 ("tags", ", ".join(r.sample(content.WORDS, 2)))):
                box = d.find_element(By.ID, field)
                box.clear()
                box.send_keys(text(value))
            self.requests += 2  # POST and PATCH
            d.find_element(By.ID, "save-btn").click()
            self.wait(lambda drv: drv.find_element(By.ID, "status").text.startswith("saved"))
            if r.random() < 0.3:
                d.find_element(By.ID, "file").send_keys(self.upload_file())
                self.requests += 1
                d.find_element(By.ID, "upload-btn").click()
        else:
            self.open(f"{base}/")
            post = r.randint(1, 3)
            self.open(f"{base}/login?next=/posts/{post}")
            self.fill("form[action='/login']", {"username": user, "password": password})
            if d.find_elements(By.NAME, "text"):
                self.fill("form[action$='/comments']", {"text": text(content.comment(r, long=r.random() < 0.2))})
            if r.random() < 0.4:
                self.open(f"{base}/profile")
                fields = {"bio": text(content.comment(r, long=False)), "website": content.url(r)}
                if r.random() < 0.5:
                    fields["avatar"] = self.upload_file()
                self.fill("form[enctype]", fields)
            box = d.find_element(By.CSS_SELECTOR, "form[action='/search'] input[name=q]")
            box.send_keys(text(content.search_term(r)))
            self.requests += 1
            page = d.find_element(By.TAG_NAME, "html")
            box.submit()  # the nav's search box has no button: Enter submits it
            from selenium.webdriver.support import expected_conditions as ec

            self.wait(ec.staleness_of(page))
            self.open(f"{base}/users/user{r.randint(0, 9)}")

    def fetch(self, method: str, url: str) -> None:
        self.open(url)  # a browser only GETs: a page typed in or followed from a bookmark


CLIENTS: dict[str, type[Client]] = {c.kind: c for c in (Browser, Curl, Wget, Httpie, PythonRequests, ApiClient)}


def client_version(kind: str) -> str:
    """The program and version a client kind runs (for the manifest)."""
    if kind == "simulated-users":
        import requests

        return f"requests {requests.__version__} (browser User-Agents)"
    return CLIENTS[kind].version()


def run_client(kind: str, targets: dict[str, str], seconds: float, seed: int = 1,
               workdir: Path | None = None) -> dict:
    """Run one client kind against ``targets`` ({name: base URL}) for ``seconds``."""
    if kind not in CLIENTS:
        raise ValueError(f"client: unknown kind {kind!r} (known: {', '.join(CLIENT_KINDS)})")
    until = time.time() + seconds
    with tempfile.TemporaryDirectory(prefix=f"anxlab-{kind}-", dir=workdir) as tmp:
        client = CLIENTS[kind](targets, random.Random(seed), Path(tmp))
        try:
            client.run(until)
        finally:
            client.close()
    return {"client": kind, "requests": client.requests, "errors": client.errors}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m antinex.pipeline.lab.clients", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=CLIENT_KINDS)
    ap.add_argument("--target", action="append", required=True, metavar="NAME=URL",
                    help="a target app's name (notes-wsgi, spa-flask, forms-django...) and base URL; repeatable")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    targets = {}
    for t in args.target:
        name, sep, url = t.partition("=")
        if not sep or not url.startswith("http"):
            ap.error(f"--target: expected NAME=http://HOST:PORT, got {t!r}")
        targets[name] = url.rstrip("/")
    os.environ.setdefault("NO_PROXY", "*")
    print(json.dumps(run_client(args.kind, targets, args.seconds, args.seed)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
