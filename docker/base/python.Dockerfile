# Python 3.11 from Debian's packages, standing in for python:3.11-slim where
# no registry is reachable (scripts/docker-base.sh). What the AntiNex
# Dockerfile needs of its base: `python3 -m venv`, and a Debian userland.
ARG DEBIAN_IMAGE=antinex-base/debian:bookworm
FROM ${DEBIAN_IMAGE}
RUN --mount=type=secret,id=ca \
    --mount=type=bind,source=with-ca.sh,target=/usr/local/sbin/with-ca \
    --mount=type=tmpfs,target=/tmp \
    sh /usr/local/sbin/with-ca apt-get update \
    && DEBIAN_FRONTEND=noninteractive sh /usr/local/sbin/with-ca apt-get install -y --no-install-recommends \
        python3 python3-venv python-is-python3 ca-certificates \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
ENV LANG=C.UTF-8
CMD ["python3"]
