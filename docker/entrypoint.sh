#!/bin/sh
# docker/entrypoint.sh - entrypoint of the hotline runtime image (installed as
# /usr/local/bin/hotline-entrypoint). Chooses what the container runs:
#
#   (no arguments)                 hotline-$SERVICE                 SERVICE=intake, dispatch, ...
#   -* (options only)              hotline-$SERVICE <options>       e.g. --help
#   intake|dispatch|... [args]     hotline-<service> [args]         the service named first
#   hotlinectl [args] / any cmd    that command, unchanged
#
# For a service, when HOTLINE_DB_ENV_FILE names a file written by scripts/db-init (KEY=value
# lines HOTLINE_<SVC>_DSN, HOTLINE_<SVC>_OWNER_DSN, HOTLINE_<SVC>_SYSTEM_DSN), the service's own
# three lines become HOTLINE_DB_DSN, HOTLINE_DB_OWNER_DSN and HOTLINE_DB_SYSTEM_DSN unless
# those are set already. The file is parsed, never sourced. The service process replaces this
# script (exec), so it receives SIGTERM directly and shuts down gracefully.
set -eu

SERVICES="intake dispatch followup compliance reporting"

die() {
	echo "hotline-entrypoint: $*" >&2
	exit 64
}

is_service() {
	for s in $SERVICES; do
		[ "$s" = "$1" ] && return 0
	done
	return 1
}

# load_db_env FILE SERVICE: take the service's DSNs from db-init's output file.
load_db_env() {
	file=$1
	up=$(printf '%s' "$2" | tr '[:lower:]' '[:upper:]')
	[ -r "$file" ] || die "HOTLINE_DB_ENV_FILE=$file is not readable"
	while IFS= read -r line || [ -n "$line" ]; do
		case $line in
		*=*) ;;
		*) continue ;;
		esac
		key=${line%%=*}
		val=${line#*=}
		case $key in
		"HOTLINE_${up}_DSN")
			[ -n "${HOTLINE_DB_DSN:-}" ] || export HOTLINE_DB_DSN="$val" ;;
		"HOTLINE_${up}_OWNER_DSN")
			[ -n "${HOTLINE_DB_OWNER_DSN:-}" ] || export HOTLINE_DB_OWNER_DSN="$val" ;;
		"HOTLINE_${up}_SYSTEM_DSN")
			[ -n "${HOTLINE_DB_SYSTEM_DSN:-}" ] || export HOTLINE_DB_SYSTEM_DSN="$val" ;;
		esac
	done <"$file"
}

# The services whose binaries are on PATH.
built_services() {
	found=
	for s in $SERVICES; do
		if command -v "hotline-$s" >/dev/null 2>&1; then
			found="$found $s"
		fi
	done
	echo "${found# }"
}

# run_service NAME [ARGS...]: exec the service binary.
run_service() {
	svc=$1
	shift
	is_service "$svc" || die "unknown service '$svc' (one of: $SERVICES)"
	command -v "hotline-$svc" >/dev/null 2>&1 ||
		die "hotline-$svc is not in this image (services built: $(built_services))"
	if [ -n "${HOTLINE_DB_ENV_FILE:-}" ]; then
		load_db_env "$HOTLINE_DB_ENV_FILE" "$svc"
	fi
	exec "hotline-$svc" "$@"
}

if [ $# -eq 0 ]; then
	[ -n "${SERVICE:-}" ] || die "set SERVICE (one of: $SERVICES) or give a command"
	run_service "$SERVICE"
fi

case $1 in
-*)
	[ -n "${SERVICE:-}" ] || die "options without a service: set SERVICE or name the service first"
	run_service "$SERVICE" "$@"
	;;
esac

if is_service "$1"; then
	run_service "$@"
fi

exec "$@"
