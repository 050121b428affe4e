# syntax=docker/dockerfile:1
# One image for every Python service of the stack (api, worker, core-train,
# core-predict, pipeline subscriber, migrations); compose.yml gives each a command.
# The `jupyter` target adds JupyterLab on top for the notebooks; the last
# stage (`runtime`) is what a plain `docker build .` gives.

FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=2
WORKDIR /opt/antinex/src

# Dependencies first, in their own layer, so a code change does not
# reinstall TensorFlow.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

FROM base AS docs
COPY . .
RUN pip install "sphinx>=7.3" "myst-parser>=3.0" \
    && sphinx-build -W -q -b html docs /opt/antinex/docs

FROM base AS app
COPY api ./api
COPY core ./core
COPY pipeline ./pipeline
COPY utils ./utils
COPY client ./client
RUN pip install --no-deps . \
    && groupadd --system --gid 10001 antinex \
    && useradd --system --uid 10001 --gid antinex --home-dir /opt/antinex --shell /usr/sbin/nologin antinex \
    && mkdir -p /opt/antinex/datasets /opt/antinex/models \
    && chown -R antinex:antinex /opt/antinex/datasets /opt/antinex/models
COPY --from=docs /opt/antinex/docs /opt/antinex/docs
ENV ANTINEX_DOCS_DIR=/opt/antinex/docs \
    ANTINEX_STATIC_ROOT=/opt/antinex/static \
    ANTINEX_DATASETS_DIR=/opt/antinex/datasets \
    ANTINEX_MODEL_STORE=/opt/antinex/models \
    DS_DIR=/opt/antinex/datasets
# Static files (Swagger UI, admin) go into the image: every API container
# serves them itself through whitenoise.
RUN antinex-manage collectstatic --noinput
WORKDIR /opt/antinex
USER antinex
EXPOSE 8010
CMD ["gunicorn", "antinex.api.wsgi:application", "-c", "python:antinex.api.gunicorn_conf", "--bind", "0.0.0.0:8010"]

FROM app AS jupyter
USER root
# The notebooks come from the repository through a bind mount (compose.yml).
RUN pip install "jupyterlab>=4.2" \
    && mkdir -p /opt/antinex/notebooks \
    && chown antinex:antinex /opt/antinex/notebooks
USER antinex
EXPOSE 8888
CMD ["jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser", "--notebook-dir=/opt/antinex/notebooks"]

# Default target: the service image.
FROM app AS runtime
