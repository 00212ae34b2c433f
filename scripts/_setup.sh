# Shared by scripts/serve.sh and scripts/test.sh: system packages, then the virtualenv.
# Sourced, not run. Usage: setup_env "<pip extras>"
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${IMMICH_TRIO_VENV:-$ROOT/.venv}"

need_system_packages() {
    # exiftool reads photo metadata (Debian: libimage-exiftool-perl).
    command -v exiftool >/dev/null 2>&1 && return 1
    return 0
}

install_system_packages() {
    if ! need_system_packages; then return; fi
    local sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    echo "installing system packages: libimage-exiftool-perl" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libimage-exiftool-perl >/dev/null
}

setup_env() {
    local extras="$1"
    install_system_packages
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv "$VENV"
    fi
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT$extras"
}
