#!/usr/bin/env bash
# bench/timers/run.sh — the timers benchmark of DESIGN §5.3, on libhl's timers through the test peer
# hotline-timerpeer (tests/timerpeer/):
#   1. 1,000,000 pending timers (due in a day) created in PostgreSQL with hl_timer_put, then
#      scheduled in Redis by a worker's start-up re-seed: the time of each, Redis memory per timer
#      (INFO memory used_memory before/after) and PostgreSQL bytes per timer row;
#   2. with those still pending, 10,000 timers due in the same second, created and pushed to Redis
#      like a service does (a transaction per 500, hl_timers_push after each commit), fired by the
#      worker (HOTLINE_TIMER_* defaults: 2 threads, batches of 256): lateness at the moment the
#      effect commits (effects.fired_at, taken in the firing transaction, minus the due time)
#      p50/p99/max against the goal (p99 <= 1 s, max <= 2 s), and a check that none is lost or
#      doubled and that none of the million fired;
#   3. `SHOW synchronous_commit` (must be on), the build type, the row counts, the load average.
#
# Builds a Release tree of its own, starts a private stack on its own ports through scripts/stack
# (base 25000, /tmp directories) and removes it at the end unless --keep. Not a timed test: it
# prints figures. It is heavy (a million rows); the machine it runs on may be shared.
#
# Usage: bench/timers/run.sh [--pending N] [--burst N] [--keep]
# Environment: HOTLINE_BENCH_BASE_PORT (default 25000), HOTLINE_BENCH_RUN_DIR (default
#              /tmp/hotline-bench-timers), HOTLINE_BENCH_BUILD_DIR (default
#              /tmp/hotline-bench-timers-build).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$HERE/../.." && pwd -P)
PENDING=1000000
BURST=10000
KEEP=0

# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
BENCH_PURGE=1

while [[ $# -gt 0 ]]; do
	case $1 in
	--keep) KEEP=1 ;;
	--pending | --burst)
		[[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "$1 needs a whole number"
		if [[ $1 == --pending ]]; then PENDING=$2; else BURST=$2; fi
		shift
		;;
	-h | --help) usage ;;
	*) usage ;;
	esac
	shift
done

# The stack scripts read these; a developer's own HOTLINE_* settings are deliberately not used.
export HOTLINE_BASE_PORT=${HOTLINE_BENCH_BASE_PORT:-25000}
export HOTLINE_RUN_DIR=${HOTLINE_BENCH_RUN_DIR:-/tmp/hotline-bench-timers}
export HOTLINE_BUILD_DIR=${HOTLINE_BENCH_BUILD_DIR:-/tmp/hotline-bench-timers-build}
RUN=$HOTLINE_RUN_DIR
BUILD=$HOTLINE_BUILD_DIR
PEER=$BUILD/tests/timerpeer/hotline-timerpeer
WORKER=

# The worker must not outlive the benchmark (bench_cleanup calls this).
bench_on_exit() {
	if [[ -n $WORKER ]] && kill -0 "$WORKER" 2>/dev/null; then
		kill -TERM "$WORKER" 2>/dev/null || true
		wait "$WORKER" 2>/dev/null || true
	fi
}

# psql_su SQL: one value from psql as the superuser.
psql_su() {
	sql HOTLINE_PG_SUPERUSER_DSN "$1"
}

redis_used_memory() {
	redis-cli -p "$(env_get "$RUN/stack.env" HOTLINE_REDIS_PORT)" info memory | tr -d '\r' |
		sed -n 's/^used_memory:\([0-9]*\)$/\1/p'
}

now_ms() {
	date +%s%3N
}

# ---------------------------------------------------------------------------------------------
# Build (Release, a tree of its own), stack, the peer's roles and schema

trap bench_cleanup EXIT
bench_build
[[ -x $PEER ]] || die "no $PEER"

STARTED=1
echo "# starting the stack: base port $HOTLINE_BASE_PORT, run dir $RUN" >&2
stack up >"$OUT/stack.log" 2>&1 || { tail -n 30 "$OUT/stack.log" >&2; die "scripts/stack up failed"; }
HOTLINE_PG_SUPERUSER_DSN=$(env_get "$RUN/stack.env" HOTLINE_PG_SUPERUSER_DSN) HOTLINE_DB_INIT_SERVICES=timerpeer \
	HOTLINE_DB_ENV_FILE=$RUN/timerpeer-db.env bash "$REPO/scripts/db-init" >/dev/null
HOTLINE_DB_DSN=$(env_get "$RUN/timerpeer-db.env" HOTLINE_TIMERPEER_DSN)
HOTLINE_DB_OWNER_DSN=$(env_get "$RUN/timerpeer-db.env" HOTLINE_TIMERPEER_OWNER_DSN)
HOTLINE_DB_SYSTEM_DSN=$(env_get "$RUN/timerpeer-db.env" HOTLINE_TIMERPEER_SYSTEM_DSN)
HOTLINE_REDIS_URL=$(env_get "$RUN/stack.env" HOTLINE_REDIS_URL)
export HOTLINE_DB_DSN HOTLINE_DB_OWNER_DSN HOTLINE_DB_SYSTEM_DSN HOTLINE_REDIS_URL
"$PEER" migrate >"$OUT/migrate.txt" 2>&1 || { cat "$OUT/migrate.txt" >&2; die "timerpeer migrate failed"; }
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------------
# 1. A million pending timers: PostgreSQL rows, then the re-seed into Redis

MEM_BEFORE=$(redis_used_memory)
echo "# $PENDING pending timers: hl_timer_put, 2 threads, 2,000 per transaction, due in a day" >&2
"$PEER" schedule "$PENDING" --spread-ms 3600000 --delay-ms 86400000 --key-prefix far --threads 2 \
	--batch 2000 --no-push >"$OUT/far.txt" 2>&1 || { cat "$OUT/far.txt" >&2; die "schedule failed"; }
FAR_MS=$(sed -n 's/.* ms=\([0-9]*\)$/\1/p' "$OUT/far.txt")

echo "# worker: re-seed of Redis from PostgreSQL at start" >&2
T0=$(now_ms)
"$PEER" work </dev/null >"$OUT/work.out" 2>"$OUT/work.log" &
WORKER=$!
for ((i = 0; i < 6000; i++)); do
	grep -q "event=timers_reseeded pending=$PENDING\b" "$OUT/work.log" 2>/dev/null && break
	kill -0 "$WORKER" 2>/dev/null || { cat "$OUT/work.log" >&2; die "the worker died"; }
	sleep 0.1
done
grep -q "event=timers_reseeded pending=$PENDING\b" "$OUT/work.log" || die "no re-seed of $PENDING timers in 10 minutes"
RESEED_MS=$(($(now_ms) - T0))
SETTINGS=$(head -n1 "$OUT/work.out")
ZCARD=$(redis-cli -p "$(env_get "$RUN/stack.env" HOTLINE_REDIS_PORT)" zcard 'hotline:{timerpeer}:timers:due' | tr -d '\r')
MEM_AFTER=$(redis_used_memory)
PG_ROWS=$(psql_su "SELECT count(*) FROM timerpeer.timers WHERE done_at IS NULL")
PG_BYTES=$(psql_su "SELECT pg_total_relation_size('timerpeer.timers')")

# ---------------------------------------------------------------------------------------------
# 2. The burst: 10,000 timers due in the same second

echo "# $BURST timers due in the same whole second, 5 s from now, pushed after each commit" >&2
"$PEER" schedule "$BURST" --spread-ms 1000 --delay-ms 5000 --align-second --key-prefix burst \
	>"$OUT/burst.txt" 2>&1 || { cat "$OUT/burst.txt" >&2; die "schedule failed"; }
BURST_LINE=$(cat "$OUT/burst.txt")
LAST_DUE=$(sed -n 's/.* last_due_ms=\([0-9]*\) .*/\1/p' "$OUT/burst.txt")
for ((i = 0; i < 1200; i++)); do
	fired=$(psql_su "SELECT count(*) FROM timerpeer.effects WHERE timer_key LIKE 'burst-%'")
	((fired >= BURST)) && break
	sleep 0.1
done
WAITED_MS=$(($(now_ms) - LAST_DUE))
LATE=$(psql_su "SELECT concat_ws(' ', count(*), max(fires),
		round(percentile_disc(0.5) WITHIN GROUP (ORDER BY l)), round(percentile_disc(0.99) WITHIN GROUP (ORDER BY l)),
		round(max(l)), round(min(l)))
	FROM (SELECT fires, extract(epoch FROM fired_at) * 1000 - due_ms AS l FROM timerpeer.effects
	      WHERE timer_key LIKE 'burst-%') x")
read -r N_FIRED MAX_FIRES P50 P99 MAX MIN <<<"$LATE"
BURST_DONE=$(psql_su "SELECT count(*) FROM timerpeer.timers WHERE timer_key LIKE 'burst-%' AND outcome = 'fired'")
FAR_PENDING=$(psql_su "SELECT count(*) FROM timerpeer.timers WHERE timer_key LIKE 'far-%' AND done_at IS NULL")
FAR_FIRED=$(psql_su "SELECT count(*) FROM timerpeer.effects WHERE timer_key LIKE 'far-%'")
SYNC=$(psql_su 'SHOW synchronous_commit')

# ---------------------------------------------------------------------------------------------
# Figures

per() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f", a / b; else print "-" }'; }
verdict() { awk -v ok="$1" 'BEGIN { print (ok ? "met" : "MISSED") }'; }

echo
echo "== $PENDING pending timers =="
echo "PostgreSQL: $PG_ROWS pending rows; created in $FAR_MS ms ($(per $((PENDING * 1000)) "$FAR_MS") timers/s," \
	"hl_timer_put, 2 threads); timers table with indexes $(per "$PG_BYTES" 1048576) MiB = $(per "$PG_BYTES" "$PG_ROWS") bytes/timer"
echo "Redis: re-seed from PostgreSQL at start $RESEED_MS ms; due set $ZCARD members;" \
	"used_memory $MEM_BEFORE -> $MEM_AFTER bytes = $(per $((MEM_AFTER - MEM_BEFORE)) "$ZCARD") bytes/timer"
echo
echo "== $BURST timers due in the same second (with the $PENDING others pending) =="
echo "created: $BURST_LINE"
echo "worker:  $SETTINGS"
echo "fired: $N_FIRED effects (max fires per timer $MAX_FIRES), $BURST_DONE timers done, all within $WAITED_MS ms of the last due time"
echo "lateness at the effect's commit (fired_at - due): p50 ${P50} ms, p99 ${P99} ms, max ${MAX} ms (min ${MIN} ms)"
P99_OK=$(awk -v a="$P99" 'BEGIN { print (a <= 1000) }')
MAX_OK=$(awk -v a="$MAX" 'BEGIN { print (a <= 2000) }')
ALL_OK=$(awk -v n="$N_FIRED" -v d="$BURST_DONE" -v f="$MAX_FIRES" -v b="$BURST" 'BEGIN { print (n == b && d == b && f == 1) }')
echo "goal: p99 <= 1 s: $(verdict "$P99_OK"); max <= 2 s: $(verdict "$MAX_OK")"
echo "none lost, none doubled: $(verdict "$ALL_OK"); the others still pending: $FAR_PENDING, fired early: $FAR_FIRED"
echo
echo "synchronous_commit = $SYNC   (fsync = $(psql_su 'SHOW fsync'))"
echo "build type = $BUILD_TYPE   ($PEER)"
echo "rows after the run: $(psql_su 'SELECT count(*) FROM timerpeer.timers') timers, $(psql_su 'SELECT count(*) FROM timerpeer.effects') effects"
echo "load average before the run: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "machine: $(nproc) CPU(s), shared by the peer, PostgreSQL, Redis (and whatever else runs on it):"
echo "         the figures measure this box, not the library alone."
[[ $SYNC == on ]] || die "synchronous_commit is not on: figures invalid"
((N_FIRED == BURST && BURST_DONE == BURST && MAX_FIRES == 1 && FAR_FIRED == 0 && FAR_PENDING == PENDING)) ||
	die "timers lost, doubled or fired early"
