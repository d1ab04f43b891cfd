#!/usr/bin/env bash
# tests/stack-fixture.sh up|down — the ctest fixture around scripts/stack. It never touches a
# developer's stack: without HOTLINE_BASE_PORT/HOTLINE_RUN_DIR (ctest run by hand) it uses the
# test defaults that scripts/test also uses (port base 17000, <repo>/.run-test).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
export HOTLINE_BASE_PORT=${HOTLINE_BASE_PORT:-17000}
export HOTLINE_RUN_DIR=${HOTLINE_RUN_DIR:-$REPO/.run-test}
case "${1:-}" in
up)
	# The tests look at delivered outbox rows (what was sent, in which order): the services keep
	# them (the default deletes them as they are delivered; test_outbox covers that).
	HOTLINE_STACK_EXTRA_ENV="HOTLINE_OUTBOX_KEEP_DELIVERED=10m" exec bash "$REPO/scripts/stack" up
	;;
down) exec bash "$REPO/scripts/stack" down ;; # logs stay for a failed run; scripts/test purges first
*) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
