"""Gunicorn settings for the API, shared by run-all.sh, compose.yml, the Dockerfile and the tests.

``gunicorn api.wsgi:application -c python:api.gunicorn_conf --bind HOST:PORT``

Threaded workers (gthread): a ``GET /mlresults/{id}/?wait=S`` long poll
holds one thread, not a whole process, and clients keep their connections
alive between requests.
"""
import os

worker_class = "gthread"
workers = int(os.environ.get("API_WORKERS", "2"))
threads = int(os.environ.get("API_THREADS", "8"))
timeout = 120
keepalive = 5
