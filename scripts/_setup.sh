# Shared by scripts/serve.sh and scripts/test.sh: system packages, then the virtualenv.
# Sourced, not run. Usage: setup_env "<pip extras>"
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${IMMICH_TRIO_VENV:-$ROOT/.venv}"

# Debian packages by the command they provide: exiftool reads photo metadata; npm (tests only)
# installs the published @immich/cli for the end-to-end test; chromium (tests only) runs
# Immich's web app for the browser tests, driven by Playwright through its executable path.
missing_packages() {
    local wanted="$1" out=""
    command -v exiftool >/dev/null 2>&1 || out="$out libimage-exiftool-perl"
    if [ "$wanted" = "test" ]; then
        command -v npm >/dev/null 2>&1 || out="$out npm"
        command -v chromium >/dev/null 2>&1 || out="$out chromium"
    fi
    echo "$out"
}

install_system_packages() {
    local packages
    packages="$(missing_packages "$1")"
    if [ -z "$packages" ]; then return; fi
    local sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    echo "installing system packages:$packages" >&2
    $sudo apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $packages >/dev/null
}

setup_env() {
    local extras="$1"
    if [ -n "$extras" ]; then install_system_packages test; else install_system_packages serve; fi
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv "$VENV"
    fi
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT$extras"
}
