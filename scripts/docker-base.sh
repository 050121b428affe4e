#!/usr/bin/env bash
# The offline path: build local stand-ins for python:3.11-slim,
# postgres:16-alpine and redis:7-alpine from Debian's packages, for machines
# that reach a Debian mirror (and PyPI) but no image registry.
#
#   1. debootstrap a minimal Debian bookworm root filesystem (cached as a
#      tarball in ANTINEX_DOCKER_CACHE) and `docker import` it as
#      antinex-base/debian:bookworm;
#   2. build antinex-base/python:3.11-bookworm, antinex-base/postgres:15-bookworm
#      and antinex-base/redis:7-bookworm on it (docker/base/*.Dockerfile).
#
# Each step is skipped when its result exists; step 2 is a BuildKit build,
# a second or two when nothing changed. Prints the compose variables that
# select these images (eval-able), e.g. ANTINEX_POSTGRES_IMAGE=...
#
#   ANTINEX_DOCKER_CACHE   where the rootfs tarball is kept (/var/cache/antinex-docker)
#   ANTINEX_DEBIAN_MIRROR  the Debian mirror (default: this machine's apt source)
#   ANTINEX_BUILD_CA       extra CA bundle for apt and pip (scripts/docker-common.sh)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/docker-common.sh
. "$ROOT/scripts/docker-common.sh"
log() { printf '\033[1;34m[docker-base]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[docker-base] error:\033[0m %s\n' "$*" >&2; exit 1; }

SUITE=bookworm
DEBIAN_IMAGE=antinex-base/debian:$SUITE
CACHE=${ANTINEX_DOCKER_CACHE:-/var/cache/antinex-docker}
TARBALL=$CACHE/debian-$SUITE-minbase.tar

# The mirror apt uses here (deb822 or one-line sources), else deb.debian.org.
host_mirror() {
    local uri
    uri=$(sed -n 's/^URIs:[[:space:]]*\(http[^[:space:]]*\/debian\)\/\{0,1\}$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
    [ -n "$uri" ] || uri=$(sed -n 's/^deb[[:space:]]\{1,\}\(http[^[:space:]]*\/debian\)\/\{0,1\}[[:space:]].*/\1/p' /etc/apt/sources.list 2>/dev/null | head -n1)
    printf '%s' "${uri:-http://deb.debian.org/debian}"
}
MIRROR=${ANTINEX_DEBIAN_MIRROR:-$(host_mirror)}

docker info >/dev/null 2>&1 || die "no Docker engine answers (start it: scripts/docker-engine.sh)"

make_tarball() {
    [ "$(id -u)" = 0 ] || die "debootstrap needs root (or import a Debian $SUITE image as $DEBIAN_IMAGE yourself)"
    if ! command -v debootstrap >/dev/null 2>&1; then
        log "installing debootstrap"
        if [ ! -f /var/lib/apt/lists/.antinex-updated ]; then
            apt-get update -qq && touch /var/lib/apt/lists/.antinex-updated
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null \
            || die "apt-get install debootstrap failed"
    fi
    mkdir -p "$CACHE"
    local rootfs
    rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    trap 'rm -rf "$rootfs"' RETURN
    log "debootstrap $SUITE (minbase) from $MIRROR: about a minute"
    debootstrap --variant=minbase "$SUITE" "$rootfs" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
        || { tail -n 20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }
    local security=${ANTINEX_DEBIAN_SECURITY_MIRROR:-${MIRROR%/debian}/debian-security}
    rm -f "$rootfs/etc/apt/sources.list"
    cat > "$rootfs/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    # Images need no man pages or apt lists; keep them small as Debian's own images do.
    printf 'path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\npath-exclude /usr/share/man/*\npath-exclude /usr/share/info/*\npath-exclude /usr/share/locale/*\n' \
        > "$rootfs/etc/dpkg/dpkg.cfg.d/docker-minimal"
    printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' > "$rootfs/etc/apt/apt.conf.d/docker-minimal"
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/*.log \
        "$rootfs"/usr/share/doc/*/changelog* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
    tar --numeric-owner -C "$rootfs" -cf "$TARBALL.tmp" . && mv "$TARBALL.tmp" "$TARBALL"
    log "cached $TARBALL ($(du -h "$TARBALL" | cut -f1))"
}

if ! docker image inspect "$DEBIAN_IMAGE" >/dev/null 2>&1; then
    [ -s "$TARBALL" ] || make_tarball
    log "importing $TARBALL as $DEBIAN_IMAGE"
    docker import --change 'ENV LANG=C.UTF-8' --change 'CMD ["bash"]' "$TARBALL" "$DEBIAN_IMAGE" >/dev/null \
        || die "docker import $TARBALL failed"
fi

# The images are rebuilt only when what they are made from changed (the
# Debian image, docker/base/, with-ca.sh) or they are gone, not whenever the
# build cache is empty: a new base image would make every image built on it
# cold again. A stamp in the cache folder records inputs and image ids.
IMAGES=(antinex-base/python:3.11-bookworm antinex-base/postgres:15-bookworm antinex-base/redis:7-bookworm)
STAMP=$CACHE/base-images.stamp
inputs=$({ docker image inspect --format '{{.Id}}' "$DEBIAN_IMAGE"; cat "$ROOT"/docker/base/* "$ROOT/docker/with-ca.sh"; } \
    | sha256sum | cut -c1-16)
image_ids() { docker image inspect --format '{{.Id}}' "${IMAGES[@]}" 2>/dev/null | tr '\n' ' '; }
if [ -s "$STAMP" ] && [ "$(cat "$STAMP")" = "$inputs $(image_ids)" ]; then
    log "base images up to date (inputs $inputs)"
else
    compose_bin "$ROOT" || die "Docker Compose v2 not found (the docker compose plugin, or: bash scripts/bootstrap.sh)"
    ca=$(build_ca)
    [ -z "$ca" ] || [ -f "$ca" ] || die "ANTINEX_BUILD_CA=$ca: no such file"
    log "building the base images (python, postgres, redis) from Debian's packages${ca:+ (extra CA $ca)}"
    ANTINEX_BUILD_CA=${ca:-/dev/null} DEBIAN_IMAGE=$DEBIAN_IMAGE \
        "${COMPOSE[@]}" -f "$ROOT/docker/base.compose.yml" --profile build-only --progress "${ANTINEX_BUILD_PROGRESS:-quiet}" build \
        || die "building the base images failed (rerun with ANTINEX_BUILD_PROGRESS=plain for the whole log)"
    mkdir -p "$CACHE"
    echo "$inputs $(image_ids)" > "$STAMP"
fi
cat <<VARS
ANTINEX_PYTHON_IMAGE=antinex-base/python:3.11-bookworm
ANTINEX_POSTGRES_IMAGE=antinex-base/postgres:15-bookworm
ANTINEX_REDIS_IMAGE=antinex-base/redis:7-bookworm
VARS
