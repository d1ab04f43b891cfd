#!/usr/bin/env bash
# bench/pipeline/run.sh — the pipeline benchmark of the dispatch issue: tickets registered by
# CreateTicket over mTLS (bench_intake, 16 concurrent callers, for S seconds) flow through
# intake's outbox to dispatch (SubmitTicket: routed by a rule, assigned to the least-loaded of 8
# handlers, deadlines scheduled) and back through dispatch's outbox to intake
# (UpdateTicketStatus in_handling). A warm-up load under a tenant of its own runs first, drains,
# and the tables are analyzed, as on a running database (see below). Prints: tickets registered;
# tickets whose "in handling" status is visible at intake, per second during the load (the mean
# of the full seconds: the sustained rate; their median and minimum, which move in steps of a
# relay claim, since a claim's statuses commit together) and overall; the end-to-end latency
# from registration to the status at intake (p50/p99/max, from the rows' own commit times); the drain time after the load; and the
# loss check (one assigned lead case per ticket, every ticket in handling); and where the CPU
# went, in milliseconds per ticket (PostgreSQL, Redis, each service, the rest), the WAL bytes per
# ticket, and the share of each table's row updates that were HOT. Durable commits:
# synchronous_commit is printed and must be on. Not a timed test: it prints figures.
#
# Usage: bench/pipeline/run.sh [--seconds S] [--keep]
# Environment: HOTLINE_BENCH_BASE_PORT (default 24100), HOTLINE_BENCH_RUN_DIR (default
#              /tmp/hotline-bench-pipeline), HOTLINE_BENCH_BUILD_DIR (default
#              /tmp/hotline-bench-build), HOTLINE_BENCH_SECONDS (default 60),
#              HOTLINE_BENCH_CONCURRENCY (default 16), HOTLINE_BENCH_RELAY_THREADS (default 1),
#              HOTLINE_BENCH_RELAY_BATCH (default 128: rows claimed at once),
#              HOTLINE_BENCH_WORKERS (default 8: each service's worker pool, HOTLINE_WORKERS),
#              HOTLINE_BENCH_APPLY_ITEMS (default: the claim, HOTLINE_BENCH_RELAY_BATCH: one
#              BatchService/Apply call per claim and receiver; smaller: calls side by side),
#              HOTLINE_BENCH_RATE (default: none, a closed loop; N: N CreateTickets a second offered,
#              the open loop that shows whether the flow keeps up with N/s; the goal's run offers
#              550, above the goal, so that the flow shows what the pipeline carries),
#              HOTLINE_BENCH_WARMUP_SECONDS (default 5: the warm-up load's length; 0: none, the
#              figures of a new cluster's first seconds),
#              HOTLINE_BENCH_WAL_WARMUP (default 1: write 768 MB of WAL and CHECKPOINT before the
#              load, so that it writes into recycled WAL segments as a running database does; 0: a
#              fresh cluster's first minutes).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$HERE/../.." && pwd -P)
SECS=${HOTLINE_BENCH_SECONDS:-60}
CONC=${HOTLINE_BENCH_CONCURRENCY:-16}
RATE=${HOTLINE_BENCH_RATE:-}
RELAY=${HOTLINE_BENCH_RELAY_THREADS:-1}
BATCH=${HOTLINE_BENCH_RELAY_BATCH:-128}
APPLY=${HOTLINE_BENCH_APPLY_ITEMS:-$BATCH}
WARMUP=${HOTLINE_BENCH_WARMUP_SECONDS:-5}
TENANT=bench-pipeline
WARM_TENANT=bench-pipeline-warmup
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

export HOTLINE_BASE_PORT=${HOTLINE_BENCH_BASE_PORT:-24100}
export HOTLINE_RUN_DIR=${HOTLINE_BENCH_RUN_DIR:-/tmp/hotline-bench-pipeline}
export HOTLINE_BUILD_DIR=${HOTLINE_BENCH_BUILD_DIR:-/tmp/hotline-bench-build}

trap bench_cleanup EXIT
bench_build
BENCH_EXTRA_ENV="HOTLINE_RELAY_THREADS=$RELAY
HOTLINE_RELAY_BATCH=$BATCH
HOTLINE_WORKERS=${HOTLINE_BENCH_WORKERS:-8}
HOTLINE_RELAY_APPLY_ITEMS=$APPLY"
bench_stack_up intake dispatch

PYENV=(env HOTLINE_RUN_DIR="$HOTLINE_RUN_DIR" PYTHONPATH="$HOTLINE_BUILD_DIR/pygen:$REPO/tests/lib")
for t in "$TENANT" "$WARM_TENANT"; do
	"${PYENV[@]}" /usr/bin/python3 "$HERE/setup.py" "$t" 8 || die "directory setup failed"
done
# ~30 KB of WAL a ticket: at 500/s a fresh cluster would create and zero-fill a 16 MB segment
# every second in the commit path; a running database recycles them (bench/lib.sh).
[[ ${HOTLINE_BENCH_WAL_WARMUP:-1} == 0 ]] || bench_wal_warmup 768
T="tenant_id = '$TENANT'"

[[ -z $RATE || $RATE =~ ^[1-9][0-9]*$ ]] || die "HOTLINE_BENCH_RATE must be a whole number of tickets a second"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "HOTLINE_BENCH_WARMUP_SECONDS must be a whole number of seconds"

# load TENANT SECONDS: CreateTickets of the benchmark's callers and rate; prints bench_intake's line.
load() {
	"$HOTLINE_BUILD_DIR/bench/bench_intake" --env "$HOTLINE_RUN_DIR/stack.env" --tenant "$1" \
		--seconds "$2" --warmup 0 --concurrency "$CONC" ${RATE:+--rate "$RATE"}
}

# drain TENANT: wait until every ticket of the tenant is in handling at intake (at most 600 s).
# One session counts every 0.2 s. A psql started for each count (10 a second, each with its own
# SCRAM login) took CPU from the flow it measured, and its CPU was counted as the flow's. The
# COMMIT ends each count's transaction: without it the DO block held one snapshot for the whole
# drain, and its xmin kept every dead outbox, queue and index entry from being cleaned meanwhile.
drain() {
	local t="tenant_id = '$1'" n
	n=$(sql HOTLINE_PG_SUPERUSER_DSN "SELECT count(*) FROM intake.tickets WHERE $t")
	sql HOTLINE_PG_SUPERUSER_DSN "DO \$\$ BEGIN FOR i IN 1..3000 LOOP
		EXIT WHEN (SELECT count(*) FROM intake.tickets WHERE $t AND status = 3) >= $n;
		PERFORM pg_sleep(0.2); COMMIT; END LOOP; END \$\$"
}

# The warm-up: what a running database has and a new cluster lacks. Its tables have statistics
# (the services' statements are planned once per connection, and a plan made while tickets held
# a few hundred rows or fewer looked a caller's phone up by walking the tenant's tickets, until
# the next ANALYZE), their connections and caches are warm, their shared buffers touched.
if ((WARMUP > 0)); then
	echo "# warm-up: bench_intake --tenant $WARM_TENANT for $WARMUP s, drained, then ANALYZE" >&2
	load "$WARM_TENANT" "$WARMUP" >"$OUT/warmup.txt"
	drain "$WARM_TENANT"
	sql HOTLINE_PG_SUPERUSER_DSN "ANALYZE"
fi

echo "# load: bench_intake --tenant $TENANT --concurrency $CONC${RATE:+ --rate $RATE} --seconds $SECS" \
	"(relay threads: $RELAY, batch $BATCH, apply items $APPLY)" >&2
sql_stats_reset
# the tables' update counts so far (the warm-up's), taken off the load's
sql HOTLINE_PG_SUPERUSER_DSN "DROP TABLE IF EXISTS public.bench_updates0; CREATE TABLE public.bench_updates0 AS
	SELECT relid, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"
CPU0=$(cpu_sample)
WAL0=$(sql HOTLINE_PG_SUPERUSER_DSN "SELECT pg_current_wal_lsn()")
load "$TENANT" "$SECS" | tee "$OUT/load.txt"
LOAD_END=$(date +%s.%N)
CREATED=$(sql HOTLINE_PG_SUPERUSER_DSN "SELECT count(*) FROM intake.tickets WHERE $T")

echo "# draining: waiting until every ticket is in handling at intake (at most 600 s)" >&2
drain "$TENANT"
done_n=$(sql HOTLINE_PG_SUPERUSER_DSN "SELECT count(*) FROM intake.tickets WHERE $T AND status = 3")
CPU1=$(cpu_sample)
WAL_BYTES=$(sql HOTLINE_PG_SUPERUSER_DSN "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$WAL0')")
DRAIN=$(awk -v a="$LOAD_END" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

echo
echo "== CreateTicket -> intake outbox -> dispatch (routed, assigned) -> dispatch outbox -> intake =="
echo "tickets registered:                 $CREATED"
echo "tickets in handling at intake:      $done_n"
FULL_SECONDS="
WITH t AS (SELECT created_at, updated_at FROM intake.tickets WHERE $T AND status = 3),
     w AS (SELECT min(created_at) AS t0, max(created_at) AS t1 FROM t),
     s AS (SELECT date_trunc('second', updated_at) AS sec, count(*) AS n FROM t GROUP BY 1)
SELECT n FROM s, w WHERE sec > date_trunc('second', w.t0) AND sec < date_trunc('second', w.t1)"
MEAN=$(sql HOTLINE_PG_SUPERUSER_DSN "SELECT COALESCE(round(avg(n), 1), 0) FROM ($FULL_SECONDS) f")
sql HOTLINE_PG_SUPERUSER_DSN "
WITH t AS (SELECT created_at, updated_at FROM intake.tickets WHERE $T AND status = 3),
     w AS (SELECT min(created_at) AS t0, max(created_at) AS t1 FROM t),
     s AS (SELECT date_trunc('second', updated_at) AS sec, count(*) AS n FROM t GROUP BY 1),
     full_s AS (SELECT n FROM s, w WHERE sec > date_trunc('second', w.t0) AND sec < date_trunc('second', w.t1))
SELECT format('flow rate during the load (per full second): mean %s/s, median %s/s, min %s/s over %s s',
              (SELECT round(avg(n), 1) FROM full_s), (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY n) FROM full_s),
              (SELECT min(n) FROM full_s), (SELECT count(*) FROM full_s)),
       format('flow rate overall (first registration to last status): %s tickets/s',
              round((SELECT count(*) FROM t) / extract(epoch FROM (SELECT max(updated_at) FROM t) - w.t0), 1)),
       format('end-to-end latency (registration commit to status at intake): p50 %s ms, p99 %s ms, max %s ms',
              round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM updated_at - created_at)) FROM t)::numeric * 1000, 1),
              round((SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM updated_at - created_at)) FROM t)::numeric * 1000, 1),
              round((SELECT max(extract(epoch FROM updated_at - created_at)) FROM t)::numeric * 1000, 1))
FROM w" | tr '|' '\n'
echo "drain after the load ended:         ${DRAIN} s"
CASES=$(sql HOTLINE_PG_SUPERUSER_DSN "SELECT count(*) FROM dispatch.cases WHERE $T AND role = 1")
DISTINCT=$(sql HOTLINE_PG_SUPERUSER_DSN "SELECT count(DISTINCT ticket_id) FROM dispatch.cases WHERE $T AND role = 1")
ASSIGNED=$(sql HOTLINE_PG_SUPERUSER_DSN "SELECT count(*) FROM dispatch.cases WHERE $T AND status = 2 AND handler_id IS NOT NULL")
echo "lead cases: $CASES (distinct tickets $DISTINCT), assigned to a handler: $ASSIGNED"
echo "handler loads: $(sql HOTLINE_PG_SUPERUSER_DSN "SELECT string_agg(open_load::text, ' ' ORDER BY id) FROM dispatch.staff WHERE $T")"
if ((CASES == CREATED && DISTINCT == CREATED && ASSIGNED == CREATED && done_n == CREATED)); then
	echo "loss: none (every registered ticket has exactly one assigned case and is in handling)"
else
	echo "loss: MISMATCH"
fi
cpu_report "$CPU0" "$CPU1" "$done_n"
# The WAL written while the tickets flowed (every service's, autovacuum's and the checkpoints'):
# the work done for them in rows and index entries, which the box's CPU noise does not move.
echo "WAL per ticket: $(awk -v b="$WAL_BYTES" -v n="$done_n" 'BEGIN { printf "%.0f", b / n }') bytes"
# Updates that were HOT wrote no index entries (an outbox claim's lease is one; its delivered mark
# is not, since it leaves the due index).
sql HOTLINE_PG_SUPERUSER_DSN "SELECT 'row updates that were HOT: ' || string_agg(format('%s.%s %s%% of %s',
	schemaname, relname, round(100.0 * hot / greatest(upd, 1)), upd), ', ' ORDER BY schemaname, relname)
	FROM (SELECT schemaname, relname, s.n_tup_upd - COALESCE(b.n_tup_upd, 0) AS upd,
	             s.n_tup_hot_upd - COALESCE(b.n_tup_hot_upd, 0) AS hot
	      FROM pg_stat_user_tables s LEFT JOIN public.bench_updates0 b USING (relid)) u WHERE upd > 0
	AND schemaname IN ('intake', 'dispatch', 'reporting') AND relname NOT IN ('timers', 'audit_heads')"
sql_stats_top 15 "$done_n"
echo "CPU budget of the goal: $(nproc) CPU(s) / 500 tickets/s = $(awk -v c="$(nproc)" 'BEGIN { printf "%.2f", c * 1000 / 500 }') ms per ticket for everything"
if [[ -n $RATE ]] && ((RATE <= 500)); then
	echo "goal >= 500 tickets/s sustained: not judged (offered ${RATE}/s: the flow shows no more than it is" \
		"offered, and its first seconds fill the pipeline; the goal's run offers 550)"
else
	echo "goal >= 500 tickets/s sustained (mean of the full seconds, offered ${RATE:-as fast as it goes}${RATE:+/s}):" \
		"$MEAN/s $(awk -v m="$MEAN" 'BEGIN { print (m >= 500 ? "met" : "MISSED") }')"
fi
bench_footer
