#!/usr/bin/env bash
# Install everything (incl. test tools) and run the whole test suite. Extra args go to pytest.
source "$(dirname "${BASH_SOURCE[0]}")/_setup.sh"
setup_env "[test]"
cd "$ROOT"
exec "$VENV/bin/python" -m pytest -p no:cacheprovider "$@"
