/*
 * timers_cmd.c - `schedule` and `work`: timers created like a service
 * creates them (hl_timer_put in a transaction, hl_timers_push after the
 * commit) and fired by libhl's timer workers into the effects table.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hl/jwt.h"
#include "hl/metrics.h"
#include "hl/rpc.h"
#include "hl/timers.h"
#include "store.h"
#include "timerpeer.h"

#define KIND "timerpeer.effect"

/* ---- schedule ------------------------------------------------------------------ */

struct put_range {
	const tp_config *cfg;
	const tp_schedule *s;
	hl_timers *t;
	int64_t start_ms;
	long long lo, hi;
	pthread_t th;
	hl_status st;
	hl_error err;
};

static int64_t due_of(const struct put_range *r, long long i)
{
	return r->start_ms + (int64_t)(r->s->spread_ms * i / r->s->n);
}

/* --revised: put key an hour late, then at its due time; cancel every tenth. */
static hl_status revise(struct put_range *r, hl_pg *pg, hl_arena *a, const char *key, long long i, hl_error *err)
{
	hl_status st = hl_timer_put(pg, a, r->s->tenant, key, KIND, key, due_of(r, i) + 3600 * 1000, err);
	if (!st)
		st = hl_timer_put(pg, a, r->s->tenant, key, KIND, key, due_of(r, i), err);
	if (!st && i % 10 == 0)
		st = hl_timer_cancel(pg, a, key, err);
	return st;
}

/* One transaction: timers lo..hi-1; then, after the commit, tell Redis. */
static hl_status put_batch(struct put_range *r, hl_pg *pg, long long lo, long long hi, hl_error *err)
{
	hl_arena *a = hl_arena_new();
	if (!a)
		return hl_fail(err, HL_NOMEM, "out of memory");
	hl_status st = hl_pg_begin(pg, r->s->tenant, 60000, err);
	for (long long i = lo; i < hi && !st; i++) {
		char *key = hl_arena_printf(a, "%s-%07lld", r->s->prefix, i);
		if (!key)
			st = hl_fail(err, HL_NOMEM, "out of memory");
		else if (r->s->revised) /* the same key put twice, and maybe cancelled, in one transaction */
			st = revise(r, pg, a, key, i, err);
		else
			st = hl_timer_put(pg, a, r->s->tenant, key, KIND, key, due_of(r, i), err);
	}
	if (!st)
		st = hl_pg_commit(pg, err);
	else
		hl_pg_rollback(pg);
	for (long long i = lo; i < hi && !st && r->t; i++) {
		char key[200];
		snprintf(key, sizeof key, "%s-%07lld", r->s->prefix, i);
		hl_timers_push(r->t, r->s->tenant, key, due_of(r, i));
	}
	hl_arena_free(a);
	return st;
}

static void *put_range_main(void *arg)
{
	struct put_range *r = arg;
	hl_pg *pg;
	if ((r->st = hl_pg_new(r->cfg->db_dsn, r->cfg->db_schema, &pg, &r->err)))
		return NULL;
	for (long long lo = r->lo; lo < r->hi && !r->st; lo += r->s->batch) {
		long long hi = lo + r->s->batch < r->hi ? lo + r->s->batch : r->hi;
		r->st = put_batch(r, pg, lo, hi, &r->err);
	}
	hl_pg_free(pg);
	return NULL;
}

hl_status tp_schedule_run(const tp_config *cfg, const tp_schedule *s, hl_timers *t, tp_schedule_result *out,
			  hl_error *err)
{
	int64_t began = hl_now_ms(), start = began + s->delay_ms;
	if (s->align)
		start = (start + 999) / 1000 * 1000;
	int k = s->threads;
	struct put_range *r = calloc((size_t)k, sizeof *r);
	if (!r)
		return hl_fail(err, HL_NOMEM, "out of memory");
	int started = 0;
	hl_status st = HL_OK;
	for (int j = 0; j < k; j++) {
		r[j] = (struct put_range){.cfg = cfg, .s = s, .t = t, .start_ms = start,
					  .lo = s->n * j / k, .hi = s->n * (j + 1) / k};
		if (pthread_create(&r[j].th, NULL, put_range_main, &r[j])) {
			st = hl_fail(err, HL_INTERNAL, "cannot start a schedule thread");
			break;
		}
		started++;
	}
	for (int j = 0; j < started; j++) {
		pthread_join(r[j].th, NULL);
		if (!st && r[j].st) {
			st = r[j].st;
			if (err)
				*err = r[j].err;
		}
	}
	free(r);
	out->first_due_ms = start;
	out->last_due_ms = start + (s->n ? s->spread_ms * (s->n - 1) / s->n : 0);
	out->ms = hl_now_ms() - began;
	return st;
}

hl_status tp_schedule_parse(const tp_args *a, long long n, tp_schedule *s, hl_error *err)
{
	long long batch, threads;
	hl_status st;
	memset(s, 0, sizeof *s);
	s->n = n;
	s->tenant = tp_opt(a, "--tenant") ? tp_opt(a, "--tenant") : "demo";
	s->prefix = tp_opt(a, "--key-prefix") ? tp_opt(a, "--key-prefix") : "t";
	s->align = tp_opt(a, "--align-second") != NULL;
	s->revised = tp_opt(a, "--revised") != NULL;
	if ((st = tp_opt_int(a, "--spread-ms", 0, 0, 86400000LL * 365, &s->spread_ms, err)) ||
	    (st = tp_opt_int(a, "--delay-ms", 1000, -86400000LL * 365, 86400000LL * 365, &s->delay_ms, err)) ||
	    (st = tp_opt_int(a, "--batch", 500, 1, 100000, &batch, err)) ||
	    (st = tp_opt_int(a, "--threads", 1, 1, 16, &threads, err)))
		return st;
	s->batch = (int)batch;
	s->threads = (int)threads;
	if (!hl_tenant_slug_valid(s->tenant))
		return hl_fail(err, HL_INVALID, "--tenant: not a tenant slug");
	if (!*s->prefix || strlen(s->prefix) > 100 || strpbrk(s->prefix, "| \t"))
		return hl_fail(err, HL_INVALID, "--key-prefix: 1 to 100 bytes, no '|' or blanks");
	return HL_OK;
}

static void say_scheduled(const tp_schedule *s, const tp_schedule_result *r, const char *pushed)
{
	tp_say("scheduled n=%lld tenant=%s prefix=%s first_due_ms=%lld last_due_ms=%lld pushed=%s ms=%lld", s->n,
	       s->tenant, s->prefix, (long long)r->first_due_ms, (long long)r->last_due_ms, pushed,
	       (long long)r->ms);
}

int tp_cmd_schedule(const tp_config *cfg, const tp_args *a)
{
	long long n;
	tp_schedule s;
	tp_schedule_result res;
	hl_error err;
	if (tp_pos_int(a, 0, 1, 100000000, &n, &err) || tp_schedule_parse(a, n, &s, &err)) {
		fprintf(stderr, "hotline-timerpeer: %s\n", hl_error_text(&err));
		return TP_EXIT_USAGE;
	}
	bool push = tp_opt(a, "--no-push") == NULL;
	hl_metrics *m = hl_metrics_new(TP_SERVICE);
	hl_timers *t = NULL;
	/* threads = 0: a handle that only pushes, like a replica that fires no timers */
	hl_timers_config tc = {.service = TP_SERVICE, .redis_url = cfg->redis_url, .prefix = cfg->redis_prefix,
			       .db_dsn = cfg->db_system_dsn, .db_schema = cfg->db_schema, .threads = 0,
			       .metrics = m};
	hl_status st = m ? HL_OK : hl_fail(&err, HL_NOMEM, "out of memory");
	if (!st && push)
		st = hl_timers_start(&tc, &t, &err);
	if (!st)
		st = tp_schedule_run(cfg, &s, t, &res, &err);
	hl_timers_stop(t);
	hl_metrics_free(m);
	if (st) {
		fprintf(stderr, "hotline-timerpeer: schedule: %s\n", hl_error_text(&err));
		return TP_EXIT_ERROR;
	}
	say_scheduled(&s, &res, push ? "yes" : "no");
	return TP_EXIT_OK;
}

/* ---- work ------------------------------------------------------------------------ */

struct work {
	const tp_config *cfg;
	hl_timers *timers;
	pthread_mutex_t mu; /* held while scheduling from stdin, so that stop waits */
	bool stopping;
	long long stall_ms;
	atomic_bool stalled;
	char fired_by[24];
};

/* The handler: the effect, unique in PostgreSQL.  --stall-ms holds the first claimed batch. */
static hl_status fire(void *app, hl_pg *pg, hl_arena *a, const hl_timer *t, hl_error *err)
{
	struct work *w = app;
	if (w->stall_ms && !atomic_exchange(&w->stalled, true)) {
		tp_say("stalled tenant=%s key=%s at_ms=%lld", t->tenant, t->key, (long long)hl_now_ms());
		tp_sleep_ms(w->stall_ms);
		tp_say("resumed key=%s at_ms=%lld", t->key, (long long)hl_now_ms());
	}
	return store_effect(pg, a, t, w->fired_by, err);
}

/* "schedule N SPREAD_MS DELAY_MS KEY_PREFIX [TENANT]" from stdin, pushed by this process. */
static void stdin_command(struct work *w, char *line)
{
	char *save, *word[7];
	int n = 0;
	for (char *p = strtok_r(line, " \t\r\n", &save); p && n < 7; p = strtok_r(NULL, " \t\r\n", &save))
		word[n++] = p;
	if (n == 0)
		return;
	if (strcmp(word[0], "schedule") != 0 || n < 5 || n > 6) {
		tp_say("error msg=\"expected: schedule N SPREAD_MS DELAY_MS KEY_PREFIX [TENANT]\"");
		return;
	}
	tp_args a = {.cmd = "schedule", .npos = 1, .pos = {word[1]}, .nopt = n - 2,
		     .name = {"--spread-ms", "--delay-ms", "--key-prefix", "--tenant"},
		     .value = {word[2], word[3], word[4], n == 6 ? word[5] : NULL}};
	long long count;
	tp_schedule s;
	tp_schedule_result res;
	hl_error err;
	hl_status st = tp_pos_int(&a, 0, 1, 10000000, &count, &err);
	if (!st)
		st = tp_schedule_parse(&a, count, &s, &err);
	pthread_mutex_lock(&w->mu);
	if (!st && !w->stopping)
		st = tp_schedule_run(w->cfg, &s, w->timers, &res, &err);
	pthread_mutex_unlock(&w->mu);
	if (st)
		tp_say("error msg=\"%s\"", hl_error_text(&err));
	else
		say_scheduled(&s, &res, "yes");
}

static void *stdin_main(void *arg)
{
	char line[1024];
	while (fgets(line, sizeof line, stdin))
		stdin_command(arg, line);
	return NULL; /* end of input: keep working until a signal */
}

int tp_cmd_work(const tp_config *cfg, const tp_args *a)
{
	long long threads, lease, reseed, batch, stall;
	hl_error err;
	if (tp_opt_int(a, "--threads", cfg->timer_threads, 1, 16, &threads, &err) ||
	    tp_opt_int(a, "--lease-ms", cfg->timer_lease_ms, 100, 3600000, &lease, &err) ||
	    tp_opt_int(a, "--reseed-ms", cfg->timer_reseed_ms, 1000, 86400000, &reseed, &err) ||
	    tp_opt_int(a, "--batch", cfg->timer_batch, 1, 10000, &batch, &err) ||
	    tp_opt_int(a, "--stall-ms", 0, 0, 3600000, &stall, &err)) {
		fprintf(stderr, "hotline-timerpeer: %s\n", hl_error_text(&err));
		return TP_EXIT_USAGE;
	}
	if (!cfg->db_system_dsn[0]) {
		fprintf(stderr, "hotline-timerpeer: HOTLINE_DB_SYSTEM_DSN: required for work\n");
		return TP_EXIT_USAGE;
	}
	hl_signals_block(); /* before any thread: SIGTERM/SIGINT are waited for */
	struct work w = {.cfg = cfg, .stall_ms = stall};
	pthread_mutex_init(&w.mu, NULL);
	atomic_init(&w.stalled, false);
	snprintf(w.fired_by, sizeof w.fired_by, "%ld", (long)getpid());
	hl_metrics *m = hl_metrics_new(TP_SERVICE);
	hl_timers_config tc = {
		.service = TP_SERVICE, .redis_url = cfg->redis_url, .prefix = cfg->redis_prefix,
		.db_dsn = cfg->db_system_dsn, .db_schema = cfg->db_schema, .threads = (int)threads,
		.batch = (int)batch, .lease_ms = (int)lease, .poll_ms = (int)cfg->timer_poll_ms,
		.reseed_ms = (int)reseed, .fire = fire, .app = &w, .metrics = m,
	};
	hl_status st = m ? hl_timers_start(&tc, &w.timers, &err) : hl_fail(&err, HL_NOMEM, "out of memory");
	if (st) {
		fprintf(stderr, "hotline-timerpeer: work: %s\n", hl_error_text(&err));
		hl_metrics_free(m);
		return TP_EXIT_ERROR;
	}
	pthread_t in;
	if (pthread_create(&in, NULL, stdin_main, &w) == 0)
		pthread_detach(in);
	tp_say("working pid=%s threads=%lld lease_ms=%lld reseed_ms=%lld batch=%lld", w.fired_by, threads, lease,
	       reseed, batch);
	int sig = hl_signals_wait();
	pthread_mutex_lock(&w.mu);
	w.stopping = true;
	hl_timers_stop(w.timers);
	w.timers = NULL;
	pthread_mutex_unlock(&w.mu);
	hl_metrics_free(m);
	tp_say("stopped signal=%d", sig);
	return TP_EXIT_OK;
}
