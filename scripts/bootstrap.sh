#!/usr/bin/env bash
# Set up the Python environment (and the system packages it needs) on a
# fresh Debian/Ubuntu machine. Idempotent: a second run only checks.
#   ANTINEX_VENV   where the virtualenv lives (default: <repo>/.venv)
#   ANTINEX_EXTRAS pip extras to install (default: dev)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${ANTINEX_VENV:-$ROOT/.venv}
EXTRAS=${ANTINEX_EXTRAS-dev}

log() { printf '\033[1;34m[bootstrap]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[bootstrap] error:\033[0m %s\n' "$*" >&2; exit 1; }

apt_install() {
    # Only root can install system packages; others get told what is missing.
    if [ "$(id -u)" != 0 ]; then
        die "missing system packages: $* (run as root or: sudo apt-get install -y $*)"
    fi
    log "installing system packages: $*"
    if [ ! -f /var/lib/apt/lists/.antinex-updated ]; then
        apt-get update -qq && touch /var/lib/apt/lists/.antinex-updated
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

missing=()
system_pkgs=(libpcap0.8 tcpdump iproute2)
# The test suite drives a real browser and records a short lab session with every benign client kind
# (chromium, curl, wget, httpie) and every attack tool the lab runs (docs/dataset-lab.md).
case ",$EXTRAS," in *,dev,*) system_pkgs+=(chromium chromium-driver curl wget httpie wfuzz hydra slowhttptest
                                           sqlmap nmap wapiti dirb ffuf gobuster whatweb) ;; esac
# The CRS baseline (docs/crs-baseline.md): Apache's binary and modules (apache2-bin, not apache2: no system
# service is set up or started), ModSecurity v2 and the OWASP Core Rule Set.
case ",$EXTRAS," in *,dev,*) system_pkgs+=(apache2-bin libapache2-mod-security2 modsecurity-crs) ;; esac
for pkg in "${system_pkgs[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done

PY=${ANTINEX_PYTHON:-}
if [ -z "$PY" ]; then
    for cand in python3.11 python3.12 python3.13 python3; do
        if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
            PY=$(command -v "$cand"); break
        fi
    done
fi
if [ -z "$PY" ]; then
    missing+=(python3 python3-venv python3-dev)
elif ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    missing+=(python3-venv)
fi
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
if [ -z "$PY" ]; then PY=$(command -v python3); fi
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "Python 3.11+ is required, found $("$PY" --version)"

if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtualenv $VENV"
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
fi
# Reinstall only when pyproject.toml changed since the last install.
stamp="$VENV/.antinex-installed"
want=$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)-$EXTRAS-$ROOT
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "installing antinex[$EXTRAS] into $VENV (first run downloads TensorFlow, a few minutes)"
    target="$ROOT"; [ -z "$EXTRAS" ] || target="$ROOT[$EXTRAS]"
    "$VENV/bin/pip" install -q --disable-pip-version-check -e "$target"
    echo "$want" > "$stamp"
fi
log "python environment ready: $VENV"
