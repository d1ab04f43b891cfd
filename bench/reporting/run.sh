#!/usr/bin/env bash
# bench/reporting/run.sh — the reporting benchmark (docs/reporting.md):
#   1. a day of N tickets (default 500,000; one tenant, zone UTC) written straight into the
#      projection (ticket_facts) and the event store (one registration event each) with SQL
#      generate_series — the figures measured are the report's, not the fold's — then the day's
#      report frozen through FreezeDailyReport over mTLS (hotlinectl): wall time (goal <= 1 s);
#   2. the same day's ledger exported through the ExportLedger stream (hotlinectl ledger export):
#      wall time, bytes, rows, and the reporting process's peak resident memory (VmHWM) before and
#      after (constant memory: the export must not grow it with the row count);
#   3. M tickets (default 10,000,000) over a year, 200 departments and 2,000 handlers, in another
#      tenant's projection, then GetKpis for the year by tenant, by department and by person:
#      wall time of each (goal <= 10 s);
#   4. `SHOW synchronous_commit` (must be on), the build type, the row counts, the load average.
#
# Builds a Release tree of its own, starts a private stack on its own ports through scripts/stack
# (base 25100, /tmp directories) and removes it at the end unless --keep. Not a timed test: it
# prints figures. It is heavy (10 million rows, a few GB on disk); the machine may be shared.
#
# Usage: bench/reporting/run.sh [--day N] [--kpi N] [--keep]
# Environment: HOTLINE_BENCH_BASE_PORT (default 25100), HOTLINE_BENCH_RUN_DIR (default
#              /tmp/hotline-bench-reporting), HOTLINE_BENCH_BUILD_DIR (default
#              /tmp/hotline-bench-reporting-build).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$HERE/../.." && pwd -P)
DAY_N=500000
KPI_N=10000000
KEEP=0

# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
BENCH_PURGE=1

while [[ $# -gt 0 ]]; do
	case $1 in
	--keep) KEEP=1 ;;
	--day | --kpi)
		[[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "$1 needs a whole number"
		if [[ $1 == --day ]]; then DAY_N=$2; else KPI_N=$2; fi
		shift
		;;
	-h | --help) usage ;;
	*) usage ;;
	esac
	shift
done

export HOTLINE_BASE_PORT=${HOTLINE_BENCH_BASE_PORT:-25100}
export HOTLINE_RUN_DIR=${HOTLINE_BENCH_RUN_DIR:-/tmp/hotline-bench-reporting}
export HOTLINE_BUILD_DIR=${HOTLINE_BENCH_BUILD_DIR:-/tmp/hotline-bench-reporting-build}
RUN=$HOTLINE_RUN_DIR
CTL=$HOTLINE_BUILD_DIR/tools/hotlinectl/hotlinectl
DAY=2026-01-15
YEAR_FROM=2025-01-01
YEAR_TO=2025-12-31

psql_su() {
	sql HOTLINE_PG_SUPERUSER_DSN "$1"
}

now_ms() {
	date +%s%3N
}

# ctl TENANT ARGS...: hotlinectl as an analyst of TENANT against the bench stack.
ctl() {
	local t=$1
	shift
	"$CTL" --env "$RUN/stack.env" --as bench-analyst --roles analyst,tenant_admin --tenant "$t" --timeout 600000 "$@"
}

peak_kb() {
	sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$(head -n1 "$RUN/pids/reporting.pid")/status"
}

trap bench_cleanup EXIT
bench_build
# no background sweep during the measurements (the tenants below start today anyway)
BENCH_EXTRA_ENV="HOTLINE_REPORT_SWEEP_MS=0"
bench_stack_up reporting

# ---------------------------------------------------------------------------------------------
# 1. one day of DAY_N tickets, then its report

echo "# generating $DAY_N tickets of $DAY (projection + event store)" >&2
t0=$(now_ms)
psql_su "
INSERT INTO reporting.report_settings (tenant_id, zone, cutoff_minutes) VALUES ('bench-day', 'UTC', 1440);
INSERT INTO reporting.ticket_facts (tenant_id, ticket_id, ticket_no, channel, category, priority, topic, area,
  registered_by, received_at, on_spot, assigned_at, accepted_at, department_id, handler_id, transfers, returns,
  accept_due, complete_due, completed_at, on_time, overdue_at, status, status_version, closed_at, reopens,
  satisfaction, rated_at, visited, events)
SELECT 'bench-day', md5('d' || i), 'D' || lpad(i::text, 9, '0'), 1 + i % 6, 1 + (i / 7) % 6, 1 + i % 3,
  'topic-' || (i % 500), 'area-' || (i % 20), 'agent-' || (i % 300), t, i % 10 = 0, t + interval '5 min',
  t + interval '1 hour', 'dept-' || (i % 40), 'h-' || (i % 400), (i % 17 = 0)::int, (i % 23 = 0)::int,
  t + interval '2 hours', t + interval '3 days', CASE WHEN i % 10 < 8 THEN t + interval '6 hours' END,
  i % 10 < 7, CASE WHEN i % 50 = 0 THEN t + interval '3 days' END, 1 + i % 7, 1, CASE WHEN i % 4 = 0 THEN t + interval '8 hours' END,
  (i % 31 = 0)::int, CASE WHEN i % 3 = 0 THEN 1 + i % 4 ELSE 0 END, CASE WHEN i % 3 = 0 THEN t + interval '7 hours' END,
  i % 9 = 0, 1
FROM generate_series(1, $DAY_N) i, LATERAL (SELECT timestamptz '$DAY 00:00:00+00' + (i % 86400) * interval '1 second' AS t) x;
INSERT INTO reporting.events (tenant_id, event_id, type, ticket_id, subject_id, occurred_at, version, actor, source, payload)
SELECT 'bench-day', md5('e' || i)::uuid, 'ticket.registered', md5('d' || i), md5('d' || i),
  timestamptz '$DAY 00:00:00+00' + (i % 86400) * interval '1 second', 1, 'agent-' || (i % 300), 'intake', '\\x00'
FROM generate_series(1, $DAY_N) i;
" >/dev/null
# the steady state autovacuum keeps: statistics and the visibility map (index-only scans)
psql_su "VACUUM (ANALYZE) reporting.ticket_facts" >/dev/null
psql_su "VACUUM (ANALYZE) reporting.events" >/dev/null
psql_su "CHECKPOINT" >/dev/null # the generation's dirty pages are written now, not during the measurement
echo "# generated in $(( ($(now_ms) - t0) / 1000 )) s" >&2

t0=$(now_ms)
ctl bench-day --json report freeze "$DAY" >"$OUT/freeze.json"
freeze_ms=$(($(now_ms) - t0))
received=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['report']['content']['received'])" "$OUT/freeze.json")
server_ms=$(grep 'FreezeDailyReport' "$RUN/logs/reporting.log" | sed -n 's/.* ms=\([0-9.]*\) .*/\1/p' | tail -n1)
echo "daily report of $DAY: $received tickets received, frozen and signed in $freeze_ms ms through hotlinectl" \
	"($server_ms ms in the service) (goal <= 1000 ms)"

# ---------------------------------------------------------------------------------------------
# 2. the day's ledger through the export stream

before_kb=$(peak_kb)
t0=$(now_ms)
ctl bench-day ledger export --from "$DAY" --to "$DAY" --bom >"$OUT/ledger.csv"
export_ms=$(($(now_ms) - t0))
after_kb=$(peak_kb)
rows=$(($(wc -l <"$OUT/ledger.csv") - 1))
echo "ledger export of $DAY: $rows rows, $(($(stat -c %s "$OUT/ledger.csv") / 1048576)) MiB of CSV in $export_ms ms;" \
	"reporting peak RSS $((before_kb / 1024)) MiB before, $((after_kb / 1024)) MiB after"
[[ $rows == "$DAY_N" ]] || die "export: $rows rows, expected $DAY_N"

# ---------------------------------------------------------------------------------------------
# 3. KPIs over KPI_N tickets of a year

echo "# generating $KPI_N tickets over $YEAR_FROM..$YEAR_TO (projection)" >&2
t0=$(now_ms)
psql_su "
INSERT INTO reporting.report_settings (tenant_id, zone, cutoff_minutes) VALUES ('bench-kpi', 'UTC', 1440);
INSERT INTO reporting.ticket_facts (tenant_id, ticket_id, ticket_no, channel, category, priority, topic, area,
  registered_by, received_at, on_spot, assigned_at, accepted_at, department_id, handler_id, transfers, returns,
  accept_due, complete_due, completed_at, on_time, overdue_at, status, status_version, closed_at, reopens,
  satisfaction, rated_at, visited, events)
SELECT 'bench-kpi', md5('k' || i), 'K' || lpad(i::text, 9, '0'), 1 + i % 6, 1 + (i / 7) % 6, 1 + i % 3,
  'topic-' || (i % 500), 'area-' || (i % 20), 'agent-' || (i % 300), t, i % 10 = 0, t + interval '5 min',
  t + CASE WHEN i % 13 = 0 THEN interval '3 hours' ELSE interval '1 hour' END, 'dept-' || (i % 200),
  'h-' || (i % 2000), (i % 17 = 0)::int, (i % 23 = 0)::int, t + interval '2 hours', t + interval '3 days',
  CASE WHEN i % 10 < 8 THEN t + interval '6 hours' END, i % 10 < 7, CASE WHEN i % 50 = 0 THEN t + interval '3 days' END,
  1 + i % 7, 1, CASE WHEN i % 4 = 0 THEN t + interval '8 hours' END, (i % 31 = 0)::int,
  CASE WHEN i % 3 = 0 THEN 1 + i % 4 ELSE 0 END, CASE WHEN i % 3 = 0 THEN t + interval '7 hours' END, i % 9 = 0, 1
FROM generate_series(1, $KPI_N) i,
  LATERAL (SELECT timestamptz '$YEAR_FROM 00:00:00+00' + (i % 31536000) * interval '1 second' AS t) x;" >/dev/null
psql_su "VACUUM (ANALYZE) reporting.ticket_facts" >/dev/null
echo "# generated in $(( ($(now_ms) - t0) / 1000 )) s" >&2

for by in "" department person; do
	t0=$(now_ms)
	ctl bench-kpi --json kpis --from "$YEAR_FROM" --to "$YEAR_TO" ${by:+--by "$by"} >"$OUT/kpis-$by.json"
	ms=$(($(now_ms) - t0))
	n=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1])).get('rows', [])))" "$OUT/kpis-$by.json")
	echo "KPIs of $YEAR_FROM..$YEAR_TO over $KPI_N tickets by ${by:-tenant}: $n rows in $ms ms (goal <= 10000 ms)"
done
python3 -c "
import json, sys
row = json.load(open(sys.argv[1]))['rows'][0]
print('  ' + ', '.join('%s %s/%s' % (k['name'], k.get('numerator', 0), k.get('denominator', 0)) for k in row['kpis']))
" "$OUT/kpis-.json"

# ---------------------------------------------------------------------------------------------
# 4. footer

echo "rows: ticket_facts $(psql_su 'SELECT count(*) FROM reporting.ticket_facts'), events" \
	"$(psql_su 'SELECT count(*) FROM reporting.events'), daily_reports $(psql_su 'SELECT count(*) FROM reporting.daily_reports');" \
	"ticket_facts $(psql_su "SELECT pg_size_pretty(pg_total_relation_size('reporting.ticket_facts'))") with indexes"
bench_footer
