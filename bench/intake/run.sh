#!/usr/bin/env bash
# bench/intake/run.sh — the CreateTicket benchmark of the issue: CreateTicket over mTLS at
# concurrency 1, 8 and 32 (tickets/s, p50, p99; closed loop: the most the box does), then paced at
# 1,000 tickets/s offered by 32 callers (open loop: the latency at the goal's load), next to pgbench running the same SQL on the same
# PostgreSQL (bench/intake/pgbench_create.sql, as the intake runtime role, so RLS applies) and the
# plain two-insert floor of the box (bench/intake/pgbench_plain.sql), then
# the ratio at 32 clients against the goal (>= 60% of raw SQL, p99 <= 25 ms, >= 1,000 tickets/s),
# `SHOW synchronous_commit` (must be on), the build type and the ticket row count after the run.
#
# Builds a Release tree of its own, starts (or reuses) a private stack on its own ports through
# scripts/stack and stops it at the end unless --keep. Intake runs alone with its relay off (the
# rows it writes wait in the outbox; bench/pipeline measures their delivery), and 512 MB of WAL
# are written and checkpointed first (bench/lib.sh bench_wal_warmup), so that the run writes into
# recycled WAL segments as a running database does; then 3 s of registrations at the top level and
# an ANALYZE, so that the services' plans are those of a running database. Not a timed test: it
# prints figures.
#
# Usage: bench/intake/run.sh [--seconds S] [--keep]
# Environment: HOTLINE_BENCH_BASE_PORT (default 24000), HOTLINE_BENCH_RUN_DIR (default
#              /tmp/hotline-bench), HOTLINE_BENCH_BUILD_DIR (default /tmp/hotline-bench-build),
#              HOTLINE_BENCH_SECONDS (default 10), HOTLINE_BENCH_LEVELS (default "1 8 32"),
#              HOTLINE_BENCH_RATE (default 1000: the paced run's offered tickets/s).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$HERE/../.." && pwd -P)
SECS=${HOTLINE_BENCH_SECONDS:-10}
RATE=${HOTLINE_BENCH_RATE:-1000}
LEVELS=(${HOTLINE_BENCH_LEVELS:-1 8 32})
KEEP=0

# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

while [[ $# -gt 0 ]]; do
	case $1 in
	--keep) KEEP=1 ;;
	--seconds)
		[[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--seconds needs a whole number of seconds"
		SECS=$2
		shift
		;;
	-h | --help) usage ;;
	*) usage ;;
	esac
	shift
done
[[ $SECS =~ ^[1-9][0-9]*$ ]] || die "HOTLINE_BENCH_SECONDS must be a whole number of seconds"

# The stack scripts read these; a developer's own HOTLINE_* settings are deliberately not used.
export HOTLINE_BASE_PORT=${HOTLINE_BENCH_BASE_PORT:-24000}
export HOTLINE_RUN_DIR=${HOTLINE_BENCH_RUN_DIR:-/tmp/hotline-bench}
export HOTLINE_BUILD_DIR=${HOTLINE_BENCH_BUILD_DIR:-/tmp/hotline-bench-build}
RUN=$HOTLINE_RUN_DIR
BUILD=$HOTLINE_BUILD_DIR

# ---------------------------------------------------------------------------------------------
# Build (Release, a tree of its own) and stack

trap bench_cleanup EXIT
bench_build
# CreateTicket alone: the services that take intake's outbox rows (dispatch the registrations,
# reporting the events, followup the on-the-spot answers) would work through them at the same time
# and share the 2 cores; bench/pipeline measures the whole flow. The rows wait in the outbox, and
# intake's relay is off (HOTLINE_RELAY_THREADS=0): with no service to take them it would only
# retry them and count the growing backlog, work a deployment does while a service is down.
BENCH_EXTRA_ENV="HOTLINE_RELAY_THREADS=0"
bench_stack_up intake
for s in dispatch followup compliance reporting; do
	stack stop-service "$s" >/dev/null 2>&1 || true
done
bench_wal_warmup 512

# The warm-up of a running database (as in bench/pipeline): tickets registered for a few seconds at
# the top level, then the tables analyzed. The statements are planned once per connection, and a
# plan made while tickets held a few hundred rows or fewer looked a caller's phone up by walking
# the tenant's tickets, until the next ANALYZE.
TOP=${LEVELS[${#LEVELS[@]} - 1]}
echo "# warm-up: bench_intake --seconds 3 --concurrency $TOP, then ANALYZE" >&2
"$BUILD/bench/bench_intake" --env "$RUN/stack.env" --seconds 3 --warmup 0 --concurrency "$TOP" >"$OUT/warmup.txt"
sql HOTLINE_PG_SUPERUSER_DSN "ANALYZE"

INTAKE_EXE=$BUILD/services/intake/hotline-intake
WORKERS=$(sed -n 's/.*event=config var=HOTLINE_WORKERS value=\([0-9]*\).*/\1/p' "$RUN/logs/intake.log" | tail -n1)
ROWS_BEFORE=$(sql HOTLINE_PG_SUPERUSER_DSN "SELECT count(*) FROM intake.tickets")

# ---------------------------------------------------------------------------------------------
# The service

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
levels_csv=$(IFS=,; echo "${LEVELS[*]}")
echo "# CreateTicket over mTLS: bench_intake --seconds $SECS --concurrency $levels_csv" >&2
"$BUILD/bench/bench_intake" --env "$RUN/stack.env" --seconds "$SECS" --concurrency "$levels_csv" |
	tee "$OUT/service.txt"
# The goal's load: 1,000 tickets/s offered by as many callers as the top level, paced (open loop,
# latency from each call's scheduled start).
echo "# CreateTicket paced: bench_intake --seconds $SECS --concurrency $TOP --rate $RATE" >&2
"$BUILD/bench/bench_intake" --env "$RUN/stack.env" --seconds "$SECS" --warmup 0 --concurrency "$TOP" \
	--rate "$RATE" | tee "$OUT/paced.txt"

# field FILE CONCURRENCY KEY: KEY=value of the bench_intake line for that concurrency.
field() {
	awk -v c="concurrency=$2" -v k="$3" '$1 == c { for (i = 1; i <= NF; i++) { split($i, kv, "=");
		if (kv[1] == k) print kv[2] } }' "$1"
}

# ---------------------------------------------------------------------------------------------
# pgbench: the same statements as the runtime role, on the same PostgreSQL

split_dsn "$(env_get HOTLINE_INTAKE_DSN)"
PGB_CONN=$CONN
PGB_PASS=$PASS
pgb() {
	PGPASSWORD=$PGB_PASS "$PG_BIN/pgbench" -n -M prepared -D tenant=demo -D timeout_ms=10000 \
		-f "$HERE/pgbench_create.sql" "$@" "$PGB_CONN" </dev/null
}

echo "# pgbench warm-up (2 s, 8 clients)" >&2
pgb -c 8 -j 2 -T 2 >"$OUT/pgbench-warmup.txt" 2>&1 || { cat "$OUT/pgbench-warmup.txt" >&2; die "pgbench failed"; }
for c in "${LEVELS[@]}"; do
	echo "# pgbench -n -M prepared -f pgbench_create.sql -c $c -j 2 -T $SECS (as intake_runtime)" >&2
	mkdir -p "$OUT/pgb-$c"
	(cd "$OUT/pgb-$c" && pgb -c "$c" -j 2 -T "$SECS" -l --log-prefix=tx) >"$OUT/pgbench-$c.txt" 2>&1 ||
		{ cat "$OUT/pgbench-$c.txt" >&2; die "pgbench failed at $c clients"; }
	tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$OUT/pgbench-$c.txt")
	failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$OUT/pgbench-$c.txt")
	# per-transaction log: client_id transaction_no time_us script_no epoch epoch_us
	cat "$OUT/pgb-$c"/tx.* | awk '{ print $3 }' | sort -n >"$OUT/pgb-$c/lat"
	n=$(wc -l <"$OUT/pgb-$c/lat")
	pct() { # nearest rank, µs -> ms
		local r
		r=$(awk -v n="$n" -v p="$1" 'BEGIN { r = int(n * p / 100); if (r < n * p / 100) r++; if (r < 1) r = 1; print r }')
		sed -n "${r}p" "$OUT/pgb-$c/lat" | awk '{ printf "%.2f", $1 / 1000 }'
	}
	printf 'pgbench concurrency=%d transactions=%d tps=%.1f p50_ms=%s p99_ms=%s max_ms=%s failed=%s\n' \
		"$c" "$n" "$tps" "$(pct 50)" "$(pct 99)" "$(pct 100)" "${failed:-0}" | tee -a "$OUT/pgbench.txt"
done

# ---------------------------------------------------------------------------------------------
# pgbench: the plain two-insert floor (bench/intake/pgbench_plain.sql), as the superuser
sql HOTLINE_PG_SUPERUSER_DSN "CREATE SCHEMA IF NOT EXISTS bench_plain;
	CREATE TABLE IF NOT EXISTS bench_plain.tickets (id uuid PRIMARY KEY, body text NOT NULL);
	CREATE TABLE IF NOT EXISTS bench_plain.events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		ticket_id uuid NOT NULL, payload bytea NOT NULL)" >/dev/null
split_dsn "$(env_get HOTLINE_PG_SUPERUSER_DSN)"
for c in "${LEVELS[@]}"; do
	echo "# pgbench -n -M prepared -f pgbench_plain.sql -c $c -j 2 -T $SECS (superuser, plain tables)" >&2
	PGPASSWORD=$PASS "$PG_BIN/pgbench" -n -M prepared -f "$HERE/pgbench_plain.sql" -c "$c" -j 2 -T "$SECS" \
		"$CONN" </dev/null >"$OUT/plain-$c.txt" 2>&1 || { cat "$OUT/plain-$c.txt" >&2; die "plain pgbench failed"; }
	printf 'plain concurrency=%d tps=%.1f latency_avg_ms=%s\n' "$c" \
		"$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$OUT/plain-$c.txt")" \
		"$(sed -n 's/^latency average = \([0-9.]*\).*/\1/p' "$OUT/plain-$c.txt")" | tee -a "$OUT/plain.txt"
done

# ---------------------------------------------------------------------------------------------
# Side by side

pfield() {
	awk -v c="concurrency=$1" -v k="$2" '$2 == c { for (i = 1; i <= NF; i++) { split($i, kv, "=");
		if (kv[1] == k) print kv[2] } }' "$OUT/pgbench.txt"
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f%%", 100 * a / b; else print "-" }'
}

echo
echo "== CreateTicket (hotline-intake over mTLS) vs the same SQL through pgbench =="
printf '%-11s | %-32s | %-32s | %-11s | %s\n' "" "service (bench_intake)" "raw SQL (pgbench -M prepared)" "service/SQL" \
	"plain 2 inserts"
printf '%-11s | %10s %10s %10s | %10s %10s %10s | %-11s | %s\n' concurrency tickets/s p50_ms p99_ms tx/s p50_ms p99_ms \
	ratio "tx/s (avg ms)"
for c in "${LEVELS[@]}"; do
	s_tps=$(field "$OUT/service.txt" "$c" tickets_per_s)
	p_tps=$(pfield "$c" tps)
	plain=$(awk -v c="concurrency=$c" '$2 == c { split($3, t, "="); split($4, l, "="); print t[2] " (" l[2] ")" }' \
		"$OUT/plain.txt")
	printf '%-11s | %10s %10s %10s | %10s %10s %10s | %-11s | %s\n' "$c" "$s_tps" \
		"$(field "$OUT/service.txt" "$c" p50_ms)" "$(field "$OUT/service.txt" "$c" p99_ms)" \
		"$p_tps" "$(pfield "$c" p50_ms)" "$(pfield "$c" p99_ms)" "$(ratio "$s_tps" "$p_tps")" "$plain"
done

top=$TOP
s_tps=$(field "$OUT/service.txt" "$top" tickets_per_s)
s_p99=$(field "$OUT/service.txt" "$top" p99_ms)
p_tps=$(pfield "$top" tps)
paced() { awk -v k="$1" '$1 ~ /^offered_per_s=/ { for (i = 1; i <= NF; i++) { split($i, kv, "=");
	if (kv[1] == k) print kv[2] } }' "$OUT/paced.txt"; }
echo
echo "paced: $RATE tickets/s offered by $top callers: $(paced tickets_per_s) tickets/s done, p50 $(paced p50_ms) ms," \
	"p99 $(paced p99_ms) ms, max $(paced max_ms) ms, $(paced errors) errors"
verdict() { awk -v ok="$1" 'BEGIN { print (ok ? "met" : "MISSED") }'; }
echo
echo "goal at $top clients:"
echo "  service/raw SQL >= 60%:   $(ratio "$s_tps" "$p_tps")  $(verdict "$(awk -v a="$s_tps" -v b="$p_tps" 'BEGIN { print (b > 0 && a >= 0.6 * b) }')")"
echo "  >= 1,000 tickets/s:       ${s_tps} (closed loop)  $(verdict "$(awk -v a="$s_tps" 'BEGIN { print (a >= 1000) }')")"
echo "  p99 <= 25 ms:             ${s_p99} ms closed loop, $(paced p99_ms) ms paced at $RATE/s" \
	"$(verdict "$(awk -v a="$(paced p99_ms)" 'BEGIN { print (a != "" && a <= 25) }')")"
echo
echo "synchronous_commit = $(sql HOTLINE_INTAKE_DSN 'SHOW synchronous_commit')   (fsync = $(sql HOTLINE_INTAKE_DSN 'SHOW fsync'))"
echo "build type = $BUILD_TYPE   ($INTAKE_EXE, HOTLINE_WORKERS=${WORKERS:-?})"
echo "SELECT count(*) FROM intake.tickets = $(sql HOTLINE_PG_SUPERUSER_DSN 'SELECT count(*) FROM intake.tickets')   (before the run: $ROWS_BEFORE)"
echo "load average before the run: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "machine: $(nproc) CPU(s), shared by the load generator (bench_intake or pgbench), hotline-intake and PostgreSQL:"
echo "         the figures measure this box, not the service alone."
[[ $(sql HOTLINE_INTAKE_DSN 'SHOW synchronous_commit') == on ]] || die "synchronous_commit is not on: figures invalid"
