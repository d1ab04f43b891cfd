/*
 * timerpeer.h - what the files of hotline-timerpeer share (see README.md):
 * its configuration, the command-line arguments of a subcommand, output
 * lines, exit codes, and the subcommands themselves.
 */
#ifndef TIMERPEER_H
#define TIMERPEER_H

#include <stdbool.h>
#include <stdint.h>

#include "hl/status.h"
#include "hl/timers.h"

#define TP_SERVICE "timerpeer" /* Redis keys <prefix>:{timerpeer}:... */

/* Exit codes (stdout says the rest). */
enum {
	TP_EXIT_OK = 0,      /* done; for `lock`: the value was written */
	TP_EXIT_ERROR = 1,   /* something failed (stderr says what) */
	TP_EXIT_USAGE = 2,   /* bad command line */
	TP_EXIT_BUSY = 3,    /* `lock`: another holder has the lock */
	TP_EXIT_REFUSED = 4, /* `lock`: the fenced write was refused */
};

/* HOTLINE_* environment (main.c's table). */
typedef struct tp_config {
	char *db_dsn, *db_owner_dsn, *db_system_dsn, *db_schema, *runtime_role, *system_role;
	char *redis_url, *redis_prefix, *log_level;
	long long timer_threads, timer_lease_ms, timer_reseed_ms, timer_batch, timer_poll_ms;
} tp_config;

/* The options of one subcommand: positional words and --name value pairs. */
#define TP_MAX_OPTS 16
typedef struct tp_args {
	const char *cmd;
	int npos;
	const char *pos[4];
	int nopt;
	const char *name[TP_MAX_OPTS], *value[TP_MAX_OPTS]; /* value NULL for a flag */
} tp_args;

/* The value of option name (NULL when absent); a flag yields "". */
const char *tp_opt(const tp_args *a, const char *name);
/* An integer option within min..max, def when absent; HL_INVALID otherwise. */
hl_status tp_opt_int(const tp_args *a, const char *name, long long def, long long min, long long max,
		     long long *out, hl_error *err) HL_MUST_CHECK;
/* A positional whole number within min..max. */
hl_status tp_pos_int(const tp_args *a, int i, long long min, long long max, long long *out,
		     hl_error *err) HL_MUST_CHECK;

/* One line on stdout, flushed at once (threads may call it). */
void tp_say(const char *fmt, ...) HL_PRINTF(1, 2);
/* Sleep until ms milliseconds from now on the monotonic clock (SIGSTOP time counts). */
void tp_sleep_ms(long long ms);

/* What `schedule` creates: n timers <prefix>-<i> due from start over spread_ms. */
typedef struct tp_schedule {
	const char *tenant, *prefix;
	long long n, spread_ms, delay_ms;
	int batch, threads;
	bool align;   /* start on a whole second */
	bool revised; /* each put an hour late first, then moved to its due time; every tenth cancelled */
} tp_schedule;

typedef struct tp_schedule_result {
	int64_t first_due_ms, last_due_ms, ms;
} tp_schedule_result;

/* Create the timers (runtime role, one transaction per batch), then push each to t (NULL: no push). */
hl_status tp_schedule_run(const tp_config *cfg, const tp_schedule *s, hl_timers *t, tp_schedule_result *out,
			  hl_error *err) HL_MUST_CHECK;
hl_status tp_schedule_parse(const tp_args *a, long long n, tp_schedule *s, hl_error *err) HL_MUST_CHECK;

/* The subcommands; each returns the process exit code. */
int tp_cmd_migrate(const tp_config *cfg, const tp_args *a);
int tp_cmd_schedule(const tp_config *cfg, const tp_args *a);
int tp_cmd_work(const tp_config *cfg, const tp_args *a);
int tp_cmd_lock(const tp_config *cfg, const tp_args *a);
int tp_cmd_singleton(const tp_config *cfg, const tp_args *a);

#endif
