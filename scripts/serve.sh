#!/usr/bin/env bash
# Install everything and start the server (embedded PostgreSQL unless DB_URL is set).
source "$(dirname "${BASH_SOURCE[0]}")/_setup.sh"
setup_env ""
exec "$VENV/bin/immich-trio" serve "$@"
