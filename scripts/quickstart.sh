#!/usr/bin/env bash
# Zero-setup quick start: install, then train the detector on the shipped
# dataset with the embedded defaults (no servers) and print its held-out
# metrics and a prediction summary.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
ANTINEX_EXTRAS=${ANTINEX_EXTRAS-} bash scripts/bootstrap.sh
VENV=${ANTINEX_VENV:-$ROOT/.venv}
exec "$VENV/bin/antinex" quickstart "$@"
