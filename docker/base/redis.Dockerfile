# Redis from Debian's packages, standing in for redis:7-alpine where no
# registry is reachable (scripts/docker-base.sh). Same contract: data in
# /data, `redis-server ARGS` as the command, redis-cli for health checks,
# port 6379, protected mode off (the container network is the boundary, as
# in the official image).
ARG DEBIAN_IMAGE=antinex-base/debian:bookworm
FROM ${DEBIAN_IMAGE}
RUN --mount=type=secret,id=ca \
    --mount=type=bind,source=with-ca.sh,target=/usr/local/sbin/with-ca \
    --mount=type=tmpfs,target=/tmp \
    sh /usr/local/sbin/with-ca apt-get update \
    && DEBIAN_FRONTEND=noninteractive sh /usr/local/sbin/with-ca apt-get install -y --no-install-recommends \
        redis-server \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
    && mkdir -p /data && chown redis:redis /data
COPY base/redis-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /data
WORKDIR /data
USER redis
ENTRYPOINT ["docker-entrypoint.sh"]
EXPOSE 6379
CMD ["redis-server"]
