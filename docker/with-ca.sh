#!/bin/sh
# with-ca.sh COMMAND...: run COMMAND (pip, apt-get) trusting an extra CA
# bundle when the build was given one as the `ca` build secret, for builds
# behind a TLS-intercepting proxy. The extra certificates are added to the
# bundle the tool trusts anyway (pip's certifi, or the system's), so the
# public roots keep working. The combined bundle is written under /tmp,
# which every RUN that calls this mounts as a tmpfs: nothing of it reaches a
# layer. Without the secret (or with an empty one) COMMAND runs as it is.
set -eu
extra=/run/secrets/ca
if [ -s "$extra" ]; then
    bundle=$(mktemp /tmp/antinex-ca.XXXXXX)
    base=""
    if command -v python3 >/dev/null 2>&1; then
        base=$(python3 -c 'import pip._vendor.certifi as c; print(c.where())' 2>/dev/null || true)
    fi
    [ -n "$base" ] || [ ! -s /etc/ssl/certs/ca-certificates.crt ] || base=/etc/ssl/certs/ca-certificates.crt
    { if [ -n "$base" ]; then cat "$base"; fi; cat "$extra"; } > "$bundle"
    apt_conf=$(mktemp /tmp/antinex-apt.XXXXXX)
    echo "Acquire::https::CAInfo \"$bundle\";" > "$apt_conf"
    echo "with-ca: trusting an extra CA bundle ($(grep -c 'BEGIN CERTIFICATE' "$extra") certificates) for: $*" >&2
    export PIP_CERT="$bundle" REQUESTS_CA_BUNDLE="$bundle" SSL_CERT_FILE="$bundle" APT_CONFIG="$apt_conf"
fi
exec "$@"
