/*
 * locks_cmd.c - `lock` and `singleton`: libhl's fenced locks and singleton
 * jobs used the way a service would, writing a protected row only with a
 * fencing number no lower than the row's (UPDATE ... WHERE fence <= $f).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hl/jwt.h"
#include "hl/lock.h"
#include "hl/redis.h"
#include "hl/rpc.h"
#include "hl/timers.h"
#include "store.h"
#include "timerpeer.h"

static bool holder_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return false;
	for (const char *p = s; *p; p++)
		if (*p <= ' ' || *p > '~')
			return false;
	return true;
}

static void default_holder(char *buf, size_t cap)
{
	snprintf(buf, cap, "pid-%ld", (long)getpid());
}

/* One transaction: the fenced write of value to the row `row` of tenant. */
static hl_status fenced_write(hl_pg *pg, const char *tenant, const char *row, const char *value, int64_t fence,
			      const char *holder, bool *written, int64_t *stored, hl_error *err)
{
	hl_arena *a = hl_arena_new();
	if (!a)
		return hl_fail(err, HL_NOMEM, "out of memory");
	hl_status st = hl_pg_begin(pg, tenant, 10000, err);
	if (!st)
		st = store_guard_write(pg, a, row, value, fence, holder, written, stored, err);
	if (!st)
		st = hl_pg_commit(pg, err);
	else
		hl_pg_rollback(pg);
	hl_arena_free(a);
	return st;
}

/* ---- lock ------------------------------------------------------------------------ */

struct lock_opts {
	const char *name, *value, *tenant, *holder;
	long long hold_ms, lease_ms, linger_ms;
};

static hl_status lock_parse(const tp_args *a, struct lock_opts *o, hl_error *err)
{
	hl_status st;
	memset(o, 0, sizeof *o);
	if (a->npos != 1)
		return hl_fail(err, HL_INVALID, "lock: one lock NAME expected");
	o->name = a->pos[0];
	o->value = tp_opt(a, "--write");
	o->tenant = tp_opt(a, "--tenant") ? tp_opt(a, "--tenant") : "demo";
	o->holder = tp_opt(a, "--holder");
	if ((st = tp_opt_int(a, "--hold-ms", 0, 0, 3600000, &o->hold_ms, err)) ||
	    (st = tp_opt_int(a, "--lease-ms", 5000, 100, 3600000, &o->lease_ms, err)) ||
	    (st = tp_opt_int(a, "--linger-ms", 0, 0, 3600000, &o->linger_ms, err)))
		return st;
	if (!holder_valid(o->name))
		return hl_fail(err, HL_INVALID, "lock: NAME must be 1 to 64 printable bytes, no blanks");
	if (!o->value)
		return hl_fail(err, HL_INVALID, "lock: --write VALUE required");
	if (o->holder && !holder_valid(o->holder))
		return hl_fail(err, HL_INVALID, "--holder: 1 to 64 printable bytes, no blanks");
	if (!hl_tenant_slug_valid(o->tenant))
		return hl_fail(err, HL_INVALID, "--tenant: not a tenant slug");
	return HL_OK;
}

/* Acquire, hold, write with the fence, linger, release; the outcome goes to stdout. */
static int lock_run(const tp_config *cfg, const struct lock_opts *o, hl_redis *r, hl_pg *pg)
{
	char holder[80], current[160];
	hl_lock l;
	hl_error err;
	if (o->holder)
		snprintf(holder, sizeof holder, "%s", o->holder);
	else
		default_holder(holder, sizeof holder);
	hl_status st = hl_lock_acquire(r, pg, cfg->redis_prefix, TP_SERVICE, o->name, holder, (int)o->lease_ms, &l,
				       current, sizeof current, &err);
	if (st == HL_ABORTED) {
		tp_say("busy holder=%s", current[0] ? current : "-");
		return TP_EXIT_BUSY;
	}
	if (st) {
		fprintf(stderr, "hotline-timerpeer: lock: %s\n", hl_error_text(&err));
		return TP_EXIT_ERROR;
	}
	tp_say("acquired fence=%lld holder=%s lease_ms=%lld at_ms=%lld", (long long)l.fence, holder, o->lease_ms,
	       (long long)hl_now_ms());
	tp_sleep_ms(o->hold_ms);
	bool written = false;
	int64_t stored = 0;
	int code = TP_EXIT_OK;
	if ((st = fenced_write(pg, o->tenant, o->name, o->value, l.fence, holder, &written, &stored, &err))) {
		fprintf(stderr, "hotline-timerpeer: lock: write: %s\n", hl_error_text(&err));
		code = TP_EXIT_ERROR;
	} else if (written) {
		tp_say("written value=%s fence=%lld at_ms=%lld", o->value, (long long)l.fence, (long long)hl_now_ms());
	} else {
		tp_say("refused fence=%lld stored_fence=%lld at_ms=%lld", (long long)l.fence, (long long)stored,
		       (long long)hl_now_ms());
		code = TP_EXIT_REFUSED;
	}
	tp_sleep_ms(o->linger_ms);
	if (hl_lock_release(r, &l, &err))
		fprintf(stderr, "hotline-timerpeer: lock: release: %s\n", hl_error_text(&err)); /* the lease ends it */
	else
		tp_say("released");
	return code;
}

int tp_cmd_lock(const tp_config *cfg, const tp_args *a)
{
	struct lock_opts o;
	hl_error err;
	hl_redis *r = NULL;
	hl_pg *pg = NULL;
	if (lock_parse(a, &o, &err)) {
		fprintf(stderr, "hotline-timerpeer: %s\n", hl_error_text(&err));
		return TP_EXIT_USAGE;
	}
	int code = TP_EXIT_ERROR;
	if (hl_redis_new(cfg->redis_url, 2000, &r, &err) || hl_pg_new(cfg->db_dsn, cfg->db_schema, &pg, &err))
		fprintf(stderr, "hotline-timerpeer: lock: %s\n", hl_error_text(&err));
	else
		code = lock_run(cfg, &o, r, pg);
	hl_pg_free(pg);
	hl_redis_free(r);
	return code;
}

/* ---- singleton ----------------------------------------------------------------- */

struct job {
	hl_pg *pg;
	const char *name, *tenant;
	char holder[80], row[100];
	long long job_ms;
	int64_t last_fence;
};

/*
 * One run while holding the job: take some time (job_ms), then write the
 * holder's name to the row "singleton:<name>" with the fence and record the
 * run, in one transaction.
 */
static hl_status job_run(void *arg, int64_t fence, hl_error *err)
{
	struct job *j = arg;
	int64_t started = hl_now_ms();
	if (fence != j->last_fence)
		tp_say("holding fence=%lld at_ms=%lld", (long long)fence, (long long)started);
	j->last_fence = fence;
	tp_sleep_ms(j->job_ms);
	hl_arena *a = hl_arena_new();
	bool written = false;
	int64_t stored = 0;
	hl_status st = a ? hl_pg_begin(j->pg, j->tenant, 10000, err) : hl_fail(err, HL_NOMEM, "out of memory");
	if (!st)
		st = store_guard_write(j->pg, a, j->row, j->holder, fence, j->holder, &written, &stored, err);
	if (!st)
		st = store_singleton_run(j->pg, a, j->name, j->holder, fence, started, hl_now_ms(), written, err);
	if (!st)
		st = hl_pg_commit(j->pg, err);
	else
		hl_pg_rollback(j->pg);
	hl_arena_free(a);
	if (!st)
		tp_say("ran fence=%lld wrote=%d", (long long)fence, written ? 1 : 0);
	return st;
}

static hl_status singleton_parse(const tp_args *a, struct job *j, long long *lease, long long *interval,
				 hl_error *err)
{
	hl_status st;
	memset(j, 0, sizeof *j);
	if (a->npos != 1)
		return hl_fail(err, HL_INVALID, "singleton: one job NAME expected");
	if ((st = tp_opt_int(a, "--lease-ms", 3000, 100, 3600000, lease, err)) ||
	    (st = tp_opt_int(a, "--interval-ms", 500, 10, 3600000, interval, err)) ||
	    (st = tp_opt_int(a, "--job-ms", 50, 0, 3600000, &j->job_ms, err)))
		return st;
	const char *holder = tp_opt(a, "--holder");
	j->name = a->pos[0];
	j->tenant = tp_opt(a, "--tenant") ? tp_opt(a, "--tenant") : "demo";
	if (!holder_valid(j->name) || (holder && !holder_valid(holder)))
		return hl_fail(err, HL_INVALID, "singleton: NAME and --holder: 1 to 64 printable bytes, no blanks");
	if (!hl_tenant_slug_valid(j->tenant))
		return hl_fail(err, HL_INVALID, "--tenant: not a tenant slug");
	if (holder)
		snprintf(j->holder, sizeof j->holder, "%s", holder);
	else
		default_holder(j->holder, sizeof j->holder);
	snprintf(j->row, sizeof j->row, "singleton:%s", j->name);
	return HL_OK;
}

int tp_cmd_singleton(const tp_config *cfg, const tp_args *a)
{
	long long lease, interval;
	hl_error err;
	struct job j;
	hl_status st;
	if (singleton_parse(a, &j, &lease, &interval, &err)) {
		fprintf(stderr, "hotline-timerpeer: %s\n", hl_error_text(&err));
		return TP_EXIT_USAGE;
	}
	hl_signals_block(); /* before any thread: SIGTERM/SIGINT are waited for */
	if ((st = hl_pg_new(cfg->db_dsn, cfg->db_schema, &j.pg, &err))) {
		fprintf(stderr, "hotline-timerpeer: singleton: %s\n", hl_error_text(&err));
		return TP_EXIT_ERROR;
	}
	hl_singleton_config sc = {
		.redis_url = cfg->redis_url, .prefix = cfg->redis_prefix, .service = TP_SERVICE, .name = j.name,
		.holder = j.holder, .db_dsn = cfg->db_dsn, .db_schema = cfg->db_schema, .lease_ms = (int)lease,
		.interval_ms = (int)interval, .fn = job_run, .arg = &j,
	};
	hl_singleton *s;
	if ((st = hl_singleton_start(&sc, &s, &err))) {
		fprintf(stderr, "hotline-timerpeer: singleton: %s\n", hl_error_text(&err));
		hl_pg_free(j.pg);
		return TP_EXIT_ERROR;
	}
	tp_say("singleton started holder=%s lease_ms=%lld interval_ms=%lld", j.holder, lease, interval);
	int sig = hl_signals_wait();
	hl_singleton_stop(s);
	hl_pg_free(j.pg);
	tp_say("stopped signal=%d", sig);
	return TP_EXIT_OK;
}
