#!/usr/bin/env bash
# The one command that runs the whole test suite on a fresh machine:
# installs what is missing, starts PostgreSQL and Redis, runs pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/utils -x).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/bootstrap.sh
bash scripts/services.sh
# A real Docker engine for tests/ops/test_docker_*.py (installed and started
# as root; ANTINEX_SKIP_DOCKER=1 leaves it out and those tests skip).
if [ "${ANTINEX_SKIP_DOCKER:-0}" != 1 ] && { [ "$(id -u)" = 0 ] || docker info >/dev/null 2>&1; }; then
    bash scripts/docker-engine.sh
fi
VENV=${ANTINEX_VENV:-$ROOT/.venv}
export PATH="$VENV/bin:$PATH"
mkdir -p test-artifacts
exec "$VENV/bin/python" -m pytest "$@"
