# One image for every Python service of the stack (api, worker, core-train,
# core-predict, pipeline subscriber, migrations); compose.yml gives each a command.
# The `jupyter` target adds JupyterLab on top for the notebooks; the last
# stage (`runtime`) is what a plain `docker build .` gives.
#
# Needs BuildKit (Docker 20.10+: Docker Compose v2, buildx, or the 20.10
# client with DOCKER_BUILDKIT=1). No `# syntax=` line on purpose: it would pull the Dockerfile frontend
# from a registry; the engine's built-in frontend has every feature used here
# (secret, cache, bind and tmpfs mounts).
#
# Build arguments:
#   PYTHON_IMAGE  the base: any Debian-based image with Python 3.11 and
#                 `python3 -m venv` (the official python:3.11-slim by default;
#                 scripts/docker-base.sh builds antinex-base/python:3.11-bookworm
#                 from Debian's packages where no registry is reachable).
# Build secret:
#   ca            an extra CA bundle (PEM) that pip trusts on top of its own,
#                 for TLS-intercepting proxies. It is mounted only while pip
#                 runs and never written into a layer (tests/ops checks).

ARG PYTHON_IMAGE=python:3.11-slim

# The files `pip install .` needs, and nothing else: a stage that is only
# ever bind-mounted, so no copy of the sources stays in the image.
FROM scratch AS src
COPY pyproject.toml README.md /src/
COPY api /src/api
COPY core /src/core
COPY pipeline /src/pipeline
COPY utils /src/utils
COPY client /src/client
COPY docker/with-ca.sh /src/docker/

FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    TF_CPP_MIN_LOG_LEVEL=2 \
    VIRTUAL_ENV=/opt/antinex/venv \
    PATH=/opt/antinex/venv/bin:$PATH

# The dependencies, built into a virtualenv in a stage of their own (with
# binutils for `strip`, and a C compiler and Python's headers for
# libinjection-python, published as source only: none of them is in the
# image), then copied whole:
# a code change does not reinstall TensorFlow. pip's cache lives in a
# BuildKit cache mount: warm rebuilds download nothing, and the cache is
# never part of an image.
FROM base AS deps
RUN --mount=type=bind,source=docker/with-ca.sh,target=/src/docker/with-ca.sh \
    --mount=type=secret,id=ca \
    --mount=type=tmpfs,target=/tmp \
    sh /src/docker/with-ca.sh apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive sh /src/docker/with-ca.sh apt-get install -y -qq --no-install-recommends binutils gcc libc6-dev python3-dev \
    && rm -rf /var/lib/apt/lists/*
# Only pyproject.toml and the two helpers are mounted: nothing else
# invalidates this (long) step.
RUN --mount=type=bind,source=pyproject.toml,target=/src/pyproject.toml \
    --mount=type=bind,source=docker/with-ca.sh,target=/src/docker/with-ca.sh \
    --mount=type=bind,source=docker/slim-venv.sh,target=/src/docker/slim-venv.sh \
    --mount=type=secret,id=ca \
    --mount=type=cache,target=/root/.cache/pip \
    --mount=type=tmpfs,target=/tmp \
    python3 -m venv "$VIRTUAL_ENV" \
    && python3 -c "import tomllib; print('\n'.join(tomllib.load(open('/src/pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && sh /src/docker/with-ca.sh pip install -r /tmp/requirements.txt \
    && sh /src/docker/slim-venv.sh "$VIRTUAL_ENV"

# The documentation the API serves at /docs/ (Sphinx in a virtualenv of
# this stage only).
FROM base AS docs
RUN --mount=type=bind,source=docker/with-ca.sh,target=/src/docker/with-ca.sh \
    --mount=type=secret,id=ca \
    --mount=type=cache,target=/root/.cache/pip \
    --mount=type=tmpfs,target=/tmp \
    python3 -m venv /opt/sphinx \
    && sh /src/docker/with-ca.sh /opt/sphinx/bin/pip install "sphinx>=7.3" "myst-parser>=3.0"
RUN --mount=type=bind,source=docs,target=/docs \
    --mount=type=bind,source=pyproject.toml,target=/pyproject.toml \
    /opt/sphinx/bin/python -m sphinx -W -q -b html -d /tmp/doctrees /docs /opt/antinex/docs

# JupyterLab, in a prefix of its own on top of the dependencies: the
# jupyter image adds it with one COPY, so a code change never reinstalls it.
FROM deps AS jupyterlab
RUN --mount=type=bind,source=docker/with-ca.sh,target=/src/docker/with-ca.sh \
    --mount=type=secret,id=ca \
    --mount=type=cache,target=/root/.cache/pip \
    --mount=type=tmpfs,target=/tmp \
    sh /src/docker/with-ca.sh pip install --prefix /opt/antinex/jupyter "jupyterlab>=4.2"

FROM base AS app
LABEL org.opencontainers.image.title="antinex" \
      org.opencontainers.image.description="AntiNex: API, workers, core and pipeline subscriber" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=deps /opt/antinex/venv /opt/antinex/venv
# Non-root: the services run as `antinex` (uid 10001). The volume
# mount points belong to it, so new named volumes do too.
RUN groupadd --system --gid 10001 antinex \
    && useradd --system --uid 10001 --gid antinex --create-home --home-dir /home/antinex \
        --shell /usr/sbin/nologin antinex \
    && mkdir -p /opt/antinex/datasets /opt/antinex/models \
    && chown antinex:antinex /opt/antinex/datasets /opt/antinex/models
COPY --from=docs /opt/antinex/docs /opt/antinex/docs
COPY docker/healthcheck.py /usr/local/bin/antinex-healthcheck
ENV ANTINEX_DOCS_DIR=/opt/antinex/docs \
    ANTINEX_STATIC_ROOT=/opt/antinex/static \
    ANTINEX_DATASETS_DIR=/opt/antinex/datasets \
    ANTINEX_MODEL_STORE=/opt/antinex/models \
    DS_DIR=/opt/antinex/datasets \
    ANTINEX_EVE_FILE=/opt/antinex/datasets/alerts/eve.json \
    ANTINEX_PREDICTIONS_CSV=/opt/antinex/datasets/recorded/predictions.csv \
    MPLCONFIGDIR=/tmp/matplotlib
# Changes nothing in the image; a new value re-runs the steps below
# (tests/ops rebuilds the project layer with a CA bundle of its own).
ARG ANTINEX_BUILD_ID=
# The project itself (no dependencies: they are in the layer above), from a
# writable bind mount of the `src` stage: the wheel build writes beside the
# sources, and none of it stays. Static files (Swagger UI, admin) go into
# the image: every API container serves them itself through whitenoise.
RUN --mount=type=bind,from=src,source=/src,target=/src,rw \
    --mount=type=secret,id=ca \
    --mount=type=cache,target=/root/.cache/pip \
    --mount=type=tmpfs,target=/tmp \
    cd /src && sh docker/with-ca.sh pip install --no-deps . \
    && python3 -c "import antinex.api, antinex.core, antinex.pipeline, antinex.utils, antinex.client" \
    && antinex-manage collectstatic --noinput -v 0
WORKDIR /opt/antinex
USER antinex
EXPOSE 8010
CMD ["gunicorn", "antinex.api.wsgi:application", "-c", "python:antinex.api.gunicorn_conf", "--bind", "0.0.0.0:8010"]

FROM app AS jupyter
# The notebooks come from the repository through a bind mount (compose.yml);
# the kernel is the project's virtualenv, which finds JupyterLab's prefix
# through a .pth file.
COPY --from=jupyterlab /opt/antinex/jupyter /opt/antinex/jupyter
USER root
RUN python3 -c "import sysconfig; print(sysconfig.get_paths()['purelib'])" > /tmp/site \
    && echo /opt/antinex/jupyter/lib/python3.11/site-packages > "$(cat /tmp/site)/antinex-jupyter.pth" \
    && rm /tmp/site \
    && mkdir -p /opt/antinex/notebooks \
    && chown antinex:antinex /opt/antinex/notebooks
ENV PATH=/opt/antinex/jupyter/bin:$PATH \
    JUPYTER_PATH=/opt/antinex/jupyter/share/jupyter \
    JUPYTERLAB_DIR=/opt/antinex/jupyter/share/jupyter/lab
USER antinex
EXPOSE 8888
CMD ["jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser", "--notebook-dir=/opt/antinex/notebooks"]

# Default target: the service image.
FROM app AS runtime
