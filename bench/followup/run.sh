#!/usr/bin/env bash
# bench/followup/run.sh — the follow-up visits benchmark: a year of visits for 100,000
# counterparts.
#   1. register N counterparts (default 100,000; levels 1/2/3 in the ratio 1:3:6) through
#      PutCounterpart over mTLS (bench_followup, 8 callers): each call stores the counterpart and
#      plans its first visit (visit row, audit entries, timer row, visit.planned event) in one
#      transaction — the time to register and plan, calls/s, p50/p99;
#   2. the service's memory: VmRSS of hotline-followup before, after registration, and its peak
#      (VmHWM) at the end;
#   3. the visits falling due: followup runs on its test clock (HOTLINE_ENVIRONMENT=test,
#      HOTLINE_FOLLOWUP_TEST_CLOCK: a year passes in YEAR_S wall seconds, default 300), so every
#      first visit falls due during the run - level 1 about 25 s after it was planned, level 2
#      about 74 s, level 3 after YEAR_S - while nobody records them: each fires overdue once
#      (overdue_at, audit entry, notices, visit.overdue event, violation row). Lateness is the wall
#      time from the due instant to the overdue mark, per level: p50/p99/max, and the peak number
#      due in one wall second; a check that every visit fired once;
#   4. `SHOW synchronous_commit` (must be on), the build type, row counts, the load average.
#
# Builds a Release tree of its own, starts a private stack on its own ports through scripts/stack
# and removes it at the end unless --keep. Not a timed test: it prints figures.
#
# Usage: bench/followup/run.sh [--count N] [--year-seconds S] [--keep]
# Environment: HOTLINE_BENCH_BASE_PORT (default 26000), HOTLINE_BENCH_RUN_DIR (default
#              /tmp/hotline-bench-followup), HOTLINE_BENCH_BUILD_DIR (default
#              /tmp/hotline-bench-followup-build), HOTLINE_BENCH_CONCURRENCY (default 8).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$HERE/../.." && pwd -P)
COUNT=100000
YEAR_S=300
CONC=${HOTLINE_BENCH_CONCURRENCY:-8}
KEEP=0
TENANT=bench

# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
BENCH_PURGE=1

while [[ $# -gt 0 ]]; do
	case $1 in
	--keep) KEEP=1 ;;
	--count | --year-seconds)
		[[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "$1 needs a whole number"
		if [[ $1 == --count ]]; then COUNT=$2; else YEAR_S=$2; fi
		shift
		;;
	-h | --help) usage ;;
	*) usage ;;
	esac
	shift
done
[[ $CONC =~ ^[1-9][0-9]*$ ]] || die "HOTLINE_BENCH_CONCURRENCY must be a whole number"

# The stack scripts read these; a developer's own HOTLINE_* settings are deliberately not used.
export HOTLINE_BASE_PORT=${HOTLINE_BENCH_BASE_PORT:-26000}
export HOTLINE_RUN_DIR=${HOTLINE_BENCH_RUN_DIR:-/tmp/hotline-bench-followup}
export HOTLINE_BUILD_DIR=${HOTLINE_BENCH_BUILD_DIR:-/tmp/hotline-bench-followup-build}
RUN=$HOTLINE_RUN_DIR
BUILD=$HOTLINE_BUILD_DIR
SCALE=$((365 * 86400 / YEAR_S))
ANCHOR=$(date +%s)

psql_su() {
	sql HOTLINE_PG_SUPERUSER_DSN "$1"
}

proc_kb() { # proc_kb FIELD: VmRSS / VmHWM of the followup service, in kB
	sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$(head -n1 "$RUN/pids/followup.pid")/status"
}

now_ms() {
	date +%s%3N
}

# ---------------------------------------------------------------------------------------------
# Build (Release, a tree of its own) and stack: followup on its test clock

trap bench_cleanup EXIT
bench_build
BENCH_EXTRA_ENV=$(printf 'HOTLINE_ENVIRONMENT=test\nHOTLINE_FOLLOWUP_TEST_CLOCK=anchor=%s,scale=%s' "$ANCHOR" "$SCALE")
bench_stack_up followup
# followup alone: the other services would share the 2 cores (its outbox rows wait for them)
for s in intake dispatch compliance reporting; do
	stack stop-service "$s" >/dev/null 2>&1 || true
done
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
RSS_BEFORE=$(proc_kb VmRSS)

# ---------------------------------------------------------------------------------------------
# 1. Register and plan

echo "# registering $COUNT counterparts, $CONC callers; a year of visits is $YEAR_S wall seconds" >&2
T0=$(now_ms)
"$BUILD/bench/bench_followup" --env "$RUN/stack.env" --tenant "$TENANT" --count "$COUNT" \
	--concurrency "$CONC" >"$OUT/register.txt" 2>&1 || { cat "$OUT/register.txt" >&2; die "registration failed"; }
REGISTER_MS=$(($(now_ms) - T0))
RSS_AFTER=$(proc_kb VmRSS)
PLANNED=$(psql_su "SELECT count(*) FROM followup.visits WHERE tenant_id = '$TENANT'")
TIMER_ROWS=$(psql_su "SELECT count(*) FROM followup.timers WHERE tenant_id = '$TENANT'")

# ---------------------------------------------------------------------------------------------
# 2. Every first visit falls due and fires overdue

echo "# waiting for all $PLANNED visits to fall due and fire (the last about $YEAR_S s after it was planned)" >&2
DEADLINE=$(($(now_ms) + (YEAR_S + 600) * 1000))
while :; do
	left=$(psql_su "SELECT count(*) FROM followup.visits WHERE tenant_id = '$TENANT' AND overdue_at IS NULL")
	((left == 0)) && break
	(($(now_ms) < DEADLINE)) || die "$left visits did not fire within $((YEAR_S + 600)) s"
	kill -0 "$(head -n1 "$RUN/pids/followup.pid")" 2>/dev/null || die "followup died"
	sleep 2
done
RSS_PEAK=$(proc_kb VmHWM)
RSS_END=$(proc_kb VmRSS)
# Wall-clock lateness: the visits' clock runs SCALE times faster than the wall clock.
LATE_SQL="SELECT risk_level, count(*),
	round(percentile_disc(0.5) WITHIN GROUP (ORDER BY l)), round(percentile_disc(0.99) WITHIN GROUP (ORDER BY l)),
	round(max(l)), round(min(l))
	FROM (SELECT risk_level, extract(epoch FROM overdue_at - due_at) * 1000 / $SCALE AS l FROM followup.visits
	      WHERE tenant_id = '$TENANT') x GROUP BY risk_level ORDER BY risk_level"
LATE=$(psql_su "$LATE_SQL")
ALL_LATE=$(psql_su "SELECT round(percentile_disc(0.5) WITHIN GROUP (ORDER BY l)) || ' ' ||
	round(percentile_disc(0.99) WITHIN GROUP (ORDER BY l)) || ' ' || round(max(l))
	FROM (SELECT extract(epoch FROM overdue_at - due_at) * 1000 / $SCALE AS l FROM followup.visits
	      WHERE tenant_id = '$TENANT') x")
PEAK_DUE=$(psql_su "SELECT max(n) FROM (SELECT count(*) AS n FROM followup.visits WHERE tenant_id = '$TENANT'
	GROUP BY floor((extract(epoch FROM due_at) - $ANCHOR) / $SCALE)) x")
AUDIT_OVERDUE=$(psql_su "SELECT count(*) FROM followup.audit_log WHERE tenant_id = '$TENANT' AND action = 'visit.overdue'")
NOTICES=$(psql_su "SELECT count(*) FROM followup.notices WHERE tenant_id = '$TENANT'")
VIOLATIONS=$(psql_su "SELECT count(*) FROM followup.outbox WHERE tenant_id = '$TENANT' AND method LIKE '%RecordViolation'")
EVENTS=$(psql_su "SELECT count(*) FROM followup.outbox WHERE tenant_id = '$TENANT' AND target = 'reporting'")
TIMERS_DONE=$(psql_su "SELECT count(*) FROM followup.timers WHERE tenant_id = '$TENANT' AND done_at IS NOT NULL")
DB_BYTES=$(psql_su "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c JOIN pg_namespace n
	ON n.oid = c.relnamespace WHERE n.nspname = 'followup' AND c.relkind = 'r'")

# ---------------------------------------------------------------------------------------------
# Figures

echo "== followup: a year of visits for $COUNT counterparts (levels 1:2:3 = 1:3:6) =="
grep -v '^#' "$OUT/register.txt" | sed 's/^/register+plan: /'
echo "register+plan: wall $((REGISTER_MS / 1000)).$((REGISTER_MS % 1000 / 100)) s for $PLANNED planned visits," \
	"$TIMER_ROWS timer rows"
echo "memory (followup VmRSS): before $((RSS_BEFORE / 1024)) MiB, after registration $((RSS_AFTER / 1024)) MiB," \
	"at the end $((RSS_END / 1024)) MiB, peak (VmHWM) $((RSS_PEAK / 1024)) MiB"
echo "visits falling due: peak $PEAK_DUE due in one wall second; a year = $YEAR_S s (scale $SCALE)"
read -r P50 P99 MAX <<<"$ALL_LATE"
echo "timer lateness (due -> overdue mark, wall ms), all: p50=$P50 p99=$P99 max=$MAX"
while IFS='|' read -r level n p50 p99 max min; do
	echo "  level $level: visits=$n p50=$p50 p99=$p99 max=$max min=$min"
done <<<"$LATE"
echo "fired once each: visit.overdue audit entries=$AUDIT_OVERDUE, timers done=$TIMERS_DONE," \
	"notices=$NOTICES, violation rows=$VIOLATIONS, events to reporting=$EVENTS (planned + overdue)"
((AUDIT_OVERDUE == PLANNED)) || echo "CHECK FAILED: $AUDIT_OVERDUE overdue entries for $PLANNED visits"
((VIOLATIONS == PLANNED)) || echo "CHECK FAILED: $VIOLATIONS violation rows for $PLANNED visits"
((EVENTS == 2 * PLANNED)) || echo "CHECK FAILED: $EVENTS events for $PLANNED visits (expected planned + overdue)"
echo "schema followup on disk: $DB_BYTES"
echo "load average before: $LOAD_BEFORE"
bench_footer
