# PostgreSQL from Debian's packages, standing in for postgres:16-alpine where
# no registry is reachable (scripts/docker-base.sh). It keeps that image's
# contract: POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB create the role
# and database on first start, data in /var/lib/postgresql/data (PGDATA),
# scripts in /docker-entrypoint-initdb.d run once, pg_isready for health
# checks, port 5432. Debian bookworm ships PostgreSQL 15: a data directory
# made by 16 does not open here (the entrypoint says so).
ARG DEBIAN_IMAGE=antinex-base/debian:bookworm
FROM ${DEBIAN_IMAGE}
ARG PG_MAJOR=15
RUN --mount=type=secret,id=ca \
    --mount=type=bind,source=with-ca.sh,target=/usr/local/sbin/with-ca \
    --mount=type=tmpfs,target=/tmp \
    sh /usr/local/sbin/with-ca apt-get update \
    && DEBIAN_FRONTEND=noninteractive sh /usr/local/sbin/with-ca apt-get install -y --no-install-recommends \
        postgresql-$PG_MAJOR \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
    && mkdir -p /var/lib/postgresql/data /var/run/postgresql /docker-entrypoint-initdb.d \
    && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql \
    && chmod 700 /var/lib/postgresql/data
COPY base/postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV LANG=C.UTF-8 \
    PG_MAJOR=$PG_MAJOR \
    PATH=/usr/lib/postgresql/$PG_MAJOR/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
VOLUME /var/lib/postgresql/data
USER postgres
ENTRYPOINT ["docker-entrypoint.sh"]
# Fast shutdown (SIGINT), as the official image does.
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
