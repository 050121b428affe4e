#!/usr/bin/env bash
# The one command that runs the whole test suite on a fresh machine:
# installs what is missing, starts PostgreSQL and Redis, runs pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/utils -x).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/bootstrap.sh
bash scripts/services.sh
VENV=${ANTINEX_VENV:-$ROOT/.venv}
export PATH="$VENV/bin:$PATH"
mkdir -p test-artifacts
exec "$VENV/bin/python" -m pytest "$@"
