# bench/lib.sh — what the benchmark scripts share (sourced, not run): a Release build of their
# own, a private stack on their own ports, psql as a stack role, and the clean-up at exit.
# The caller sets HERE, REPO and KEEP, and exports HOTLINE_BASE_PORT, HOTLINE_RUN_DIR and
# HOTLINE_BUILD_DIR (never a developer's own stack) before calling bench_build and bench_stack_up.

PG_BIN=/usr/lib/postgresql/15/bin
STARTED=0
OUT=$(mktemp -d "${TMPDIR:-/tmp}/hotline-bench-out.XXXXXX")

die() {
	echo "bench: $*" >&2
	exit 1
}

usage() {
	sed -n '/^# Usage:/,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0" >&2
	exit 2
}

stack() {
	bash "$REPO/scripts/stack" "$@"
}

# At exit: run the script's bench_on_exit (if it has one), stop the stack we started (unless
# --keep; with BENCH_PURGE=1 also delete its data) and remove the scratch directory.
bench_cleanup() {
	local rc=$?
	if declare -F bench_on_exit >/dev/null; then
		bench_on_exit
	fi
	if ((KEEP && STARTED)); then
		echo "# stack kept running (scripts/stack with HOTLINE_BASE_PORT=$HOTLINE_BASE_PORT" \
			"HOTLINE_RUN_DIR=$HOTLINE_RUN_DIR); results in $OUT"
	elif ((!KEEP)); then
		if ((STARTED)); then
			stack down ${BENCH_PURGE:+--purge} >/dev/null 2>&1 || echo "bench: scripts/stack down failed" >&2
		fi
		rm -rf "$OUT"
	fi
	exit $rc
}

# env_get [FILE] KEY: the value of KEY in a KEY=value file (default: the stack's stack.env).
env_get() {
	local file=$HOTLINE_RUN_DIR/stack.env
	if (($# == 2)); then
		file=$1
		shift
	fi
	sed -n "s/^$1=//p" "$file" | head -n1
}

# Splits a postgresql:// DSN into a password-less URI (CONN) and PGPASSWORD, so that the
# password never shows on a command line.
split_dsn() {
	local re='^(postgres(ql)?://)([^:@/]+)(:([^@/]*))?@(.*)$'
	[[ $1 =~ $re ]] || die "unexpected DSN form"
	CONN=${BASH_REMATCH[1]}${BASH_REMATCH[3]}@${BASH_REMATCH[6]}
	PASS=$(printf '%b' "${BASH_REMATCH[5]//%/\\x}")
}

# sql ROLE_DSN_KEY SQL: the result of SQL from psql as that role (unaligned, tuples only).
sql() {
	split_dsn "$(env_get "$1")"
	PGPASSWORD=$PASS "$PG_BIN/psql" "$CONN" -X -q -A -t -v ON_ERROR_STOP=1 -c "$2" </dev/null
}

# bench_build [CMAKE_ARGS...]: configure and build HOTLINE_BUILD_DIR as Release; sets BUILD_TYPE.
bench_build() {
	echo "# building $REPO into $HOTLINE_BUILD_DIR (Release)" >&2
	cmake -S "$REPO" -B "$HOTLINE_BUILD_DIR" -DCMAKE_BUILD_TYPE=Release "$@" >"$OUT/cmake.log" 2>&1 ||
		{ tail -n 30 "$OUT/cmake.log" >&2; die "cmake configure failed (log above)"; }
	cmake --build "$HOTLINE_BUILD_DIR" -j2 >>"$OUT/cmake.log" 2>&1 ||
		{ grep -m 20 -E 'error|Error' "$OUT/cmake.log" >&2; die "build failed"; }
	BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$HOTLINE_BUILD_DIR/CMakeCache.txt")
	[[ $BUILD_TYPE == Release ]] || die "build type of $HOTLINE_BUILD_DIR is '$BUILD_TYPE', not Release"
}

# bench_stack_up SERVICE...: start a fresh stack (the benchmark's own run directory is purged
# first, so every run starts from empty tables) and check that each service runs this build's binary.
bench_stack_up() {
	local s pid exe
	stack down --purge >/dev/null 2>&1 || true
	STARTED=1
	echo "# starting the stack: base port $HOTLINE_BASE_PORT, run dir $HOTLINE_RUN_DIR" >&2
	# BENCH_EXTRA_ENV: KEY=value lines for every service (scripts/stack's extra.env)
	HOTLINE_STACK_EXTRA_ENV=${BENCH_EXTRA_ENV:-} stack up >"$OUT/stack.log" 2>&1 ||
		{ tail -n 30 "$OUT/stack.log" >&2; die "scripts/stack up failed"; }
	for s in "$@"; do
		pid=$(head -n1 "$HOTLINE_RUN_DIR/pids/$s.pid")
		exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
		[[ $exe == "$HOTLINE_BUILD_DIR/services/$s/hotline-$s" ]] ||
			die "the $s service running is not $HOTLINE_BUILD_DIR's Release binary ($exe)"
	done
}

# bench_wal_warmup MB: write MB of WAL (a scratch table, dropped), CHECKPOINT and sync, so that the
# measured run writes into recycled WAL segments, as a database that has run through a checkpoint
# does. A fresh cluster has none: each new 16 MB segment is created and zero-filled in the commit
# path of the transaction that needs it, a stall of tens of ms every few seconds at 1,000
# tickets/s that a running database does not have (it renames old segments instead).
bench_wal_warmup() {
	local krows=$(($1 * 1024 / 1100)) # thousands of rows of ~1,100 bytes of WAL each
	echo "# WAL warm-up: ${1} MB of WAL, then CHECKPOINT (recycled segments for the measured run)" >&2
	sql HOTLINE_PG_SUPERUSER_DSN "CREATE TABLE public.bench_wal_warmup AS
		SELECT repeat('w', 1000) AS w FROM generate_series(1, $krows * 1000)" >/dev/null
	sql HOTLINE_PG_SUPERUSER_DSN "DROP TABLE public.bench_wal_warmup" >/dev/null
	sql HOTLINE_PG_SUPERUSER_DSN "CHECKPOINT" >/dev/null
	sync # the kernel's write-back of all that, done before the measured run rather than during it
}

# The closing lines every benchmark prints: durability, build, machine.
bench_footer() {
	local sc
	sc=$(sql HOTLINE_PG_SUPERUSER_DSN 'SHOW synchronous_commit')
	echo "synchronous_commit = $sc   (fsync = $(sql HOTLINE_PG_SUPERUSER_DSN 'SHOW fsync'))"
	echo "build type = $BUILD_TYPE"
	echo "load average now: $(cut -d' ' -f1-3 /proc/loadavg); machine: $(nproc) CPU(s) shared by the" \
		"load generator, the services, PostgreSQL and Redis"
	[[ $sc == on ]] || die "synchronous_commit is not on: figures invalid"
}

# ---- CPU accounting: where the machine's CPU time goes during a measured window ----------------

# Clock ticks (utime+stime) of one live process (0 if gone); with "all", also those of its
# reaped children.
proc_ticks() {
	local t
	t=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null |
		awk -v all="${2:-}" '{ t = $12 + $13; if (all == "all") t += $14 + $15; print t }')
	echo "${t:-0}"
}

# cpu_sample: one line "name=ticks ..." for PostgreSQL (the postmaster, its exited and its live
# backends), Redis, each running service, and the whole machine's busy time (from /proc/stat).
cpu_sample() {
	local pgdata pm pg=0 c s pid line
	pgdata=$(head -n1 "$HOTLINE_RUN_DIR/pgdata.path" 2>/dev/null)/data
	pm=$(head -n1 "$pgdata/postmaster.pid" 2>/dev/null || true)
	if [[ -n $pm ]]; then
		pg=$(proc_ticks "$pm" all)
		for c in $(pgrep -P "$pm"); do pg=$((pg + $(proc_ticks "$c"))); done
	fi
	line="postgres=$pg redis=$(proc_ticks "$(head -n1 "$HOTLINE_RUN_DIR/pids/redis.pid" 2>/dev/null)")"
	for s in intake dispatch followup compliance reporting; do
		pid=$(head -n1 "$HOTLINE_RUN_DIR/pids/$s.pid" 2>/dev/null || true)
		[[ -n $pid && -d /proc/$pid ]] && line+=" $s=$(proc_ticks "$pid")"
	done
	read -r _ u n sy _ _ irq sirq steal _ </proc/stat
	echo "$line machine=$((u + n + sy + irq + sirq + steal))"
}

# cpu_report BEFORE AFTER ITEMS: CPU milliseconds per item of each part between two cpu_sample
# lines ("other" is the machine's busy time outside them: the load generator, psql, the kernel).
cpu_report() {
	local hz parts=() k v b total=0 machine
	hz=$(getconf CLK_TCK)
	declare -A before
	for kv in $1; do before[${kv%%=*}]=${kv#*=}; done
	for kv in $2; do
		k=${kv%%=*} v=${kv#*=} b=${before[$k]:-0}
		if [[ $k == machine ]]; then machine=$((v - b)); continue; fi
		total=$((total + v - b))
		parts+=("$k $(awk -v t=$((v - b)) -v hz="$hz" -v n="$3" 'BEGIN { printf "%.2f", t * 1000 / hz / n }')")
	done
	parts+=("other $(awk -v t=$((machine - total)) -v hz="$hz" -v n="$3" 'BEGIN { printf "%.2f", t * 1000 / hz / n }')")
	echo "CPU ms per ticket: $(IFS=,; echo "${parts[*]}" | sed 's/,/, /g'); machine total" \
		"$(awk -v t="$machine" -v hz="$hz" -v n="$3" 'BEGIN { printf "%.2f", t * 1000 / hz / n }')"
}

# ---- statement statistics (pg_stat_statements, preloaded by scripts/stack) --------------------

# sql_stats_reset: start counting statements afresh (creates the extension on first use).
sql_stats_reset() {
	sql HOTLINE_PG_SUPERUSER_DSN "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
	sql HOTLINE_PG_SUPERUSER_DSN "SELECT pg_stat_statements_reset()" >/dev/null
}

# sql_stats_top N ITEMS: the N statements that took the most database time since the reset,
# with calls and milliseconds per item (ticket), by role; the benchmark's own statements (as the
# superuser: its counts, and its wait for the drain) left out.
sql_stats_top() {
	local top=$1 n=$2
	echo "database time by statement (ms per ticket, calls per ticket, role, statement):"
	sql HOTLINE_PG_SUPERUSER_DSN "
SELECT format('  %s  %s  %s  %s', to_char(s.total_exec_time / $n, 'FM990.000'),
              to_char(s.calls::numeric / $n, 'FM990.00'), r.rolname,
              left(regexp_replace(s.query, '\s+', ' ', 'g'), 110))
FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname <> current_user
ORDER BY s.total_exec_time DESC LIMIT $top"
	sql HOTLINE_PG_SUPERUSER_DSN "
SELECT format('  all statements: %s ms, %s calls per ticket', to_char(sum(total_exec_time) / $n, 'FM99990.000'),
              to_char(sum(calls)::numeric / $n, 'FM99990.0'))
FROM pg_stat_statements WHERE userid <> (SELECT oid FROM pg_roles WHERE rolname = current_user)"
}
