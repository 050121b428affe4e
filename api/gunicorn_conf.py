"""Gunicorn settings for the API, shared by run-all.sh, compose.yml, the Dockerfile and the tests.

``gunicorn antinex.api.wsgi:application -c python:antinex.api.gunicorn_conf --bind HOST:PORT``

Threaded workers (gthread): a ``GET /mlresults/{id}/?wait=S`` long poll
holds one thread, not a whole process, and clients keep their connections
alive between requests.
"""
from antinex.utils.config import value

worker_class = "gthread"
workers = value("API_WORKERS", "api")
threads = value("API_THREADS", "api")
timeout = 120
keepalive = 5


def pre_request(worker, req):
    """Close the connection after a request whose body the API will refuse unread.

    Django answers 413 without reading a body over ``ANTINEX_MAX_BODY_BYTES``;
    a keep-alive connection would then carry the rest of that body, which
    gunicorn does not drain past 64 KiB, so it drops the connection under
    the client's next request. Saying ``Connection: close`` up front lets
    the client open a new one instead.
    """
    from antinex.api.settings import DATA_UPLOAD_MAX_MEMORY_SIZE

    for name, value in req.headers:
        if name == "CONTENT-LENGTH":
            try:
                if int(value) > DATA_UPLOAD_MAX_MEMORY_SIZE:
                    req.must_close = True
            except ValueError:
                req.must_close = True  # gunicorn refuses it anyway; never keep such a connection
