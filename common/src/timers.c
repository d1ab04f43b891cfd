/*
 * timers.c - PostgreSQL-authoritative timers scheduled in Redis (timers.h).
 * The SQL here is that of the shared timers table (001_timers_locks.sql).
 */
#include "hl/timers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hl/log.h"
#include "hl/redis.h"

/*
 * Timers are written with the COMMIT (hl_pg_rows_at_commit: one statement per
 * transaction or held batch).  A key put twice before it keeps its last due
 * time; everything here that reads or changes timer rows sends the waiting
 * ones first, so it runs in the order the caller asked.
 */
static const char SQL_PUT[] =
	"INSERT INTO timers (tenant_id, timer_key, kind, subject_id, due_ms) "
	"SELECT DISTINCT ON (t, k) t, k, kd, s, d FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "
	"$5::bigint[]) WITH ORDINALITY AS u(t, k, kd, s, d, o) ORDER BY t, k, o DESC "
	"ON CONFLICT (tenant_id, timer_key) DO UPDATE SET due_ms = EXCLUDED.due_ms WHERE timers.done_at IS NULL";
static const char SQL_CANCEL[] =
	"UPDATE timers SET done_at = now(), outcome = 'cancelled' "
	"WHERE tenant_id = current_tenant() AND timer_key = $1 AND done_at IS NULL";
/*
 * One index probe per claimed key, whatever the statistics say: the locking
 * subquery cannot be flattened into a join.  (As a join, after the pending
 * timers were few at the last ANALYZE and then became many, the planner
 * scanned the whole timers_pending index once per key: seconds per batch.)
 */
static const char SQL_LOCK[] =
	"SELECT t.tenant_id, t.timer_key, t.kind, t.subject_id, t.due_ms "
	"FROM unnest($1::text[], $2::text[]) AS k(tenant_id, timer_key), "
	"LATERAL (SELECT * FROM timers WHERE timers.tenant_id = k.tenant_id AND timers.timer_key = k.timer_key "
	"AND done_at IS NULL FOR UPDATE SKIP LOCKED) t";
/* Without a done_at condition, so that the primary key is used for the same reason. */
static const char SQL_STATE[] =
	"SELECT tenant_id, timer_key, done_at IS NULL FROM timers "
	"WHERE (tenant_id, timer_key) IN (SELECT * FROM unnest($1::text[], $2::text[]))";
static const char SQL_DONE[] =
	"UPDATE timers SET done_at = now(), outcome = 'fired' "
	"WHERE (tenant_id, timer_key) IN (SELECT * FROM unnest($1::text[], $2::text[]))";
static const char SQL_PENDING_PAGE[] =
	"SELECT tenant_id, timer_key, due_ms FROM timers WHERE done_at IS NULL AND (tenant_id, timer_key) > ($1, $2) "
	"ORDER BY tenant_id, timer_key LIMIT 2000";

/* KEYS: due, inflight.  ARGV: now, lease, n.  Expired leases first go back to due. */
static hl_redis_script lua_claim = HL_REDIS_SCRIPT(
	"local now = tonumber(ARGV[1]) local lease = tonumber(ARGV[2])\n"
	"local back = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 1000)\n"
	"for _, m in ipairs(back) do redis.call('ZREM', KEYS[2], m) redis.call('ZADD', KEYS[1], now, m) end\n"
	"local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))\n"
	"for _, m in ipairs(due) do redis.call('ZREM', KEYS[1], m) redis.call('ZADD', KEYS[2], now + lease, m) end\n"
	"return due\n");

/* KEYS: due, inflight.  ARGV: score, members...  Back to due at score (a retry later). */
static hl_redis_script lua_delay = HL_REDIS_SCRIPT(
	"for i = 2, #ARGV do redis.call('ZREM', KEYS[2], ARGV[i]) redis.call('ZADD', KEYS[1], ARGV[1], ARGV[i]) end\n"
	"return #ARGV - 1\n");

/* KEYS: due, inflight.  ARGV: score, member, score, member...  Members in flight are left alone. */
static hl_redis_script lua_seed = HL_REDIS_SCRIPT(
	"local n = 0\n"
	"for i = 1, #ARGV, 2 do\n"
	"  if not redis.call('ZSCORE', KEYS[2], ARGV[i + 1]) then\n"
	"    n = n + redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1])\n"
	"  end\n"
	"end\n"
	"return n\n");

#define BUSY_RETRY_MS 1000 /* a claimed timer whose row another transaction holds is tried again */

struct worker {
	hl_timers *t;
	pthread_t th;
	int index;
	hl_pg *pg;
	hl_redis *redis;
};

struct hl_timers {
	hl_timers_config cfg;
	char key_due[128], key_inflight[128], key_seeded[128];
	struct worker *workers;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	atomic_bool reseed_wanted;
	pthread_mutex_t push_mu;
	hl_redis *push_redis;
	hl_metric *fired, *lateness, *pending, *inflight;
};

int64_t hl_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- in the business transaction ------------------------------------------------ */

hl_status hl_timers_put(hl_pg *pg, hl_arena *a, const char *tenant, const hl_timer_item *items, size_t n,
			hl_error *err)
{
	if (n > HL_TIMERS_PUT_MAX)
		return hl_fail(err, HL_INTERNAL, "more than %d timers in one put", HL_TIMERS_PUT_MAX);
	if (n == 0)
		return HL_OK;
	hl_pg_rows rows;
	hl_pg_rows_init(&rows, a, 5);
	for (size_t i = 0; i < n; i++) {
		hl_pg_rows_text(&rows, tenant);
		hl_pg_rows_text(&rows, items[i].key);
		hl_pg_rows_text(&rows, items[i].kind);
		hl_pg_rows_text(&rows, items[i].subject);
		hl_pg_rows_int(&rows, items[i].due_ms);
	}
	return hl_pg_rows_at_commit(pg, SQL_PUT, &rows, err);
}

hl_status hl_timer_put(hl_pg *pg, hl_arena *a, const char *tenant, const char *key, const char *kind,
		       const char *subject, int64_t due_ms, hl_error *err)
{
	const hl_timer_item one = {key, kind, subject, due_ms};
	return hl_timers_put(pg, a, tenant, &one, 1, err);
}

hl_status hl_timer_cancel(hl_pg *pg, hl_arena *a, const char *key, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, key);
	hl_status st = hl_pg_rows_send(pg, err); /* a put of this key in this transaction comes first */
	return st ? st : hl_pg_exec(pg, a, SQL_CANCEL, &args, NULL, err);
}

static char *member_of(hl_arena *a, const char *tenant, const char *key)
{
	return hl_arena_printf(a, "%s|%s", tenant, key);
}

void hl_timers_push(hl_timers *t, const char *tenant, const char *key, int64_t due_ms)
{
	const hl_timer_due one = {tenant, key, due_ms};
	hl_timers_push_many(t, &one, 1);
}

#define PUSH_PER_COMMAND 256 /* members per ZADD */

/* One ZADD of up to PUSH_PER_COMMAND members; false when it did not reach Redis. */
static bool push_chunk(hl_timers *t, hl_arena *a, const hl_timer_due *due, size_t n)
{
	const char **argv = hl_arena_alloc(a, (2 * n + 2) * sizeof *argv);
	if (!argv)
		return false;
	argv[0] = "ZADD";
	argv[1] = t->key_due;
	for (size_t i = 0; i < n; i++) {
		argv[2 + 2 * i] = hl_arena_printf(a, "%lld", (long long)due[i].due_ms);
		argv[3 + 2 * i] = member_of(a, due[i].tenant, due[i].key);
		if (!argv[2 + 2 * i] || !argv[3 + 2 * i])
			return false;
	}
	hl_error err;
	pthread_mutex_lock(&t->push_mu);
	hl_status st = hl_redis_argv(t->push_redis, (int)(2 * n + 2), argv, NULL, NULL, &err);
	pthread_mutex_unlock(&t->push_mu);
	return st == HL_OK;
}

void hl_timers_push_many(hl_timers *t, const hl_timer_due *due, size_t n)
{
	if (!t || !n)
		return;
	hl_arena *a = hl_arena_new();
	bool ok = a != NULL;
	for (size_t i = 0; ok && i < n; i += PUSH_PER_COMMAND)
		ok = push_chunk(t, a, due + i, n - i < PUSH_PER_COMMAND ? n - i : PUSH_PER_COMMAND);
	hl_arena_free(a);
	if (!ok)
		atomic_store(&t->reseed_wanted, true); /* the re-seed will schedule them */
}

/* ---- re-seeding --------------------------------------------------------------------- */

static hl_status seed_page(struct worker *w, hl_arena *a, const PGresult *res, hl_error *err)
{
	int n = PQntuples(res);
	const char **args = hl_arena_alloc(a, (size_t)(2 * n + 1) * sizeof *args);
	if (!args)
		return hl_fail(err, HL_NOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		args[2 * i] = hl_pg_get(res, i, 2);
		args[2 * i + 1] = member_of(a, hl_pg_get(res, i, 0), hl_pg_get(res, i, 1));
	}
	const char *keys[2] = {w->t->key_due, w->t->key_inflight};
	return hl_redis_eval(w->redis, &lua_seed, 2, keys, 2 * n, args, NULL, err);
}

/*
 * Schedule every pending timer of PostgreSQL in Redis.  The marker is set
 * first: a flush while the pages are being seeded removes it again, and the
 * next loop starts over instead of trusting a half-seeded Redis.
 */
static hl_status reseed(struct worker *w, hl_error *err)
{
	const char *argv[3] = {"SET", w->t->key_seeded, "1"};
	hl_status st = hl_redis_argv(w->redis, 3, argv, NULL, NULL, err);
	char last_tenant[64] = "", last_key[512] = "";
	long total = 0;
	while (!st) {
		hl_arena *a = hl_arena_new();
		hl_pg_args args;
		hl_pg_args_init(&args);
		hl_pg_arg_text(&args, last_tenant);
		hl_pg_arg_text(&args, last_key);
		PGresult *res;
		st = a ? hl_pg_begin(w->pg, NULL, 30000, err) : HL_NOMEM;
		if (!st)
			st = hl_pg_exec(w->pg, a, SQL_PENDING_PAGE, &args, &res, err);
		hl_pg_rollback(w->pg);
		int n = st ? 0 : PQntuples(res);
		if (!st && n)
			st = seed_page(w, a, res, err);
		if (!st && n) {
			snprintf(last_tenant, sizeof last_tenant, "%s", hl_pg_get(res, n - 1, 0));
			snprintf(last_key, sizeof last_key, "%s", hl_pg_get(res, n - 1, 1));
		}
		total += n;
		hl_arena_free(a);
		if (n < 2000)
			break;
	}
	if (!st)
		HL_LOG_INFO("timers_reseeded", "pending=%ld", total);
	return st;
}

static bool marker_missing(struct worker *w)
{
	const char *argv[2] = {"EXISTS", w->t->key_seeded};
	redisReply *rep;
	hl_error err;
	if (hl_redis_argv(w->redis, 2, argv, NULL, &rep, &err))
		return false; /* Redis down: nothing to seed into */
	bool missing = rep->type == REDIS_REPLY_INTEGER && rep->integer == 0;
	freeReplyObject(rep);
	return missing;
}

static void maybe_reseed(struct worker *w, int64_t *next_ms)
{
	hl_timers *t = w->t;
	int64_t now = hl_now_ms();
	bool wanted = atomic_exchange(&t->reseed_wanted, false);
	if (!wanted && now < *next_ms && !marker_missing(w))
		return;
	hl_error err;
	if (reseed(w, &err)) {
		atomic_store(&t->reseed_wanted, true);
		HL_LOG_WARN("timers_reseed_failed", "msg=\"%s\"", hl_error_text(&err));
		return;
	}
	*next_ms = now + t->cfg.reseed_ms;
}

/* ---- firing ---------------------------------------------------------------------------- */

struct claimed {
	const char **members, **tenants, **keys;
	size_t n;
};

static hl_status claim(struct worker *w, hl_arena *a, struct claimed *c, hl_error *err)
{
	char now[32], lease[32], n[32];
	snprintf(now, sizeof now, "%lld", (long long)hl_now_ms());
	snprintf(lease, sizeof lease, "%d", w->t->cfg.lease_ms);
	snprintf(n, sizeof n, "%d", w->t->cfg.batch);
	const char *keys[2] = {w->t->key_due, w->t->key_inflight};
	const char *args[3] = {now, lease, n};
	redisReply *rep;
	memset(c, 0, sizeof *c);
	hl_status st = hl_redis_eval(w->redis, &lua_claim, 2, keys, 3, args, &rep, err);
	if (st)
		return st;
	size_t m = rep->type == REDIS_REPLY_ARRAY ? rep->elements : 0;
	c->members = hl_arena_alloc(a, (m + 1) * sizeof *c->members);
	c->tenants = hl_arena_alloc(a, (m + 1) * sizeof *c->tenants);
	c->keys = hl_arena_alloc(a, (m + 1) * sizeof *c->keys);
	for (size_t i = 0; c->members && c->tenants && c->keys && i < m; i++) {
		const char *s = hl_arena_strndup(a, rep->element[i]->str, rep->element[i]->len);
		const char *bar = s ? strchr(s, '|') : NULL;
		if (!bar)
			continue; /* not ours: dropped below by the ack */
		c->members[c->n] = s;
		c->tenants[c->n] = hl_arena_strndup(a, s, (size_t)(bar - s));
		c->keys[c->n++] = bar + 1;
	}
	freeReplyObject(rep);
	return c->members ? HL_OK : hl_fail(err, HL_NOMEM, "out of memory");
}

static hl_status redis_members(struct worker *w, hl_redis_script *s, const char *first, const struct claimed *c,
			       hl_arena *a, hl_error *err)
{
	const char **args = hl_arena_alloc(a, (c->n + 1) * sizeof *args);
	if (!args)
		return hl_fail(err, HL_NOMEM, "out of memory");
	args[0] = first;
	memcpy(args + 1, c->members, c->n * sizeof *args);
	const char *keys[2] = {w->t->key_due, w->t->key_inflight};
	return hl_redis_eval(w->redis, s, 2, keys, (int)c->n + 1, args, NULL, err);
}

/* Move members from the in-flight set back to due, to be claimed again in ms. */
static hl_status delay(struct worker *w, const struct claimed *c, int ms, hl_arena *a, hl_error *err)
{
	char later[32];
	snprintf(later, sizeof later, "%lld", (long long)(hl_now_ms() + ms));
	return redis_members(w, &lua_delay, later, c, a, err);
}

static hl_status ack(struct worker *w, const struct claimed *c, hl_arena *a, hl_error *err)
{
	if (!c->n)
		return HL_OK;
	const char **argv = hl_arena_alloc(a, (c->n + 2) * sizeof *argv);
	if (!argv)
		return hl_fail(err, HL_NOMEM, "out of memory");
	argv[0] = "ZREM";
	argv[1] = w->t->key_inflight;
	memcpy(argv + 2, c->members, c->n * sizeof *argv);
	return hl_redis_argv(w->redis, (int)c->n + 2, argv, NULL, NULL, err);
}

/* The row of res (columns tenant, key, ...) for the timer, or -1. */
static int find_row(const PGresult *res, const char *tenant, const char *key)
{
	for (int i = 0; i < PQntuples(res); i++)
		if (strcmp(hl_pg_get(res, i, 0), tenant) == 0 && strcmp(hl_pg_get(res, i, 1), key) == 0)
			return i;
	return -1;
}

static hl_status claimed_alloc(hl_arena *a, size_t n, struct claimed *c, hl_error *err)
{
	c->n = 0;
	c->members = hl_arena_alloc(a, (n + 1) * sizeof *c->members);
	c->tenants = hl_arena_alloc(a, (n + 1) * sizeof *c->tenants);
	c->keys = hl_arena_alloc(a, (n + 1) * sizeof *c->keys);
	return c->members && c->tenants && c->keys ? HL_OK : hl_fail(err, HL_NOMEM, "out of memory");
}

static void claimed_add(struct claimed *c, const struct claimed *from, size_t i)
{
	c->members[c->n] = from->members[i];
	c->tenants[c->n] = from->tenants[i];
	c->keys[c->n++] = from->keys[i];
}

/*
 * In the batch's transaction: the claimed timers that SKIP LOCKED passed over
 * although they are still pending, because another transaction holds their
 * rows (a business change in progress, or a duplicate claim after a flush).
 * They go back to the due set for a retry instead of being dropped, which
 * would leave them to the next periodic re-seed.
 */
static hl_status find_busy(struct worker *w, hl_arena *a, const struct claimed *c, const PGresult *locked,
			   struct claimed *busy, hl_error *err)
{
	struct claimed missing;
	hl_status st = claimed_alloc(a, c->n, busy, err);
	if (st || (size_t)PQntuples(locked) == c->n) /* every claimed row is locked by this batch */
		return st;
	if ((st = claimed_alloc(a, c->n, &missing, err)))
		return st;
	for (size_t i = 0; i < c->n; i++)
		if (find_row(locked, c->tenants[i], c->keys[i]) < 0)
			claimed_add(&missing, c, i);
	if (!missing.n)
		return HL_OK;
	hl_pg_args args;
	PGresult *res;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, hl_pg_text_array(a, missing.tenants, missing.n));
	hl_pg_arg_text(&args, hl_pg_text_array(a, missing.keys, missing.n));
	if ((st = hl_pg_exec(w->pg, a, SQL_STATE, &args, &res, err)))
		return st;
	for (size_t i = 0; i < missing.n; i++) {
		int r = find_row(res, missing.tenants[i], missing.keys[i]);
		if (r >= 0 && hl_pg_get_bool(res, r, 2)) /* still pending: held by someone else */
			claimed_add(busy, &missing, i);
	}
	return HL_OK;
}

/*
 * Lock the claimed rows still pending, fire those due, mark them done; in one
 * transaction.  *busy receives the claimed timers held by another transaction.
 */
static hl_status fire_batch(struct worker *w, hl_arena *a, const struct claimed *c, int *fired,
			    struct claimed *busy, hl_error *err)
{
	hl_timers *t = w->t;
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, hl_pg_text_array(a, c->tenants, c->n));
	hl_pg_arg_text(&args, hl_pg_text_array(a, c->keys, c->n));
	PGresult *res;
	hl_status st = hl_pg_begin(w->pg, NULL, 30000, err);
	if (!st)
		st = hl_pg_exec(w->pg, a, SQL_LOCK, &args, &res, err);
	int rows = st ? 0 : PQntuples(res);
	const char **ft = hl_arena_alloc(a, (size_t)(rows + 1) * sizeof *ft);
	const char **fk = hl_arena_alloc(a, (size_t)(rows + 1) * sizeof *fk);
	int64_t *due = hl_arena_alloc(a, (size_t)(rows + 1) * sizeof *due);
	int64_t now = hl_now_ms();
	size_t nf = 0;
	if (!st && (!ft || !fk || !due))
		st = hl_fail(err, HL_NOMEM, "out of memory");
	for (int i = 0; i < rows && !st; i++) {
		hl_timer tm = {hl_pg_get(res, i, 0), hl_pg_get(res, i, 1), hl_pg_get(res, i, 2), hl_pg_get(res, i, 3),
			       hl_pg_get_int(res, i, 4)};
		if (tm.due_ms > now) { /* moved later since it was scheduled: schedule again */
			hl_timers_push(t, tm.tenant, tm.key, tm.due_ms);
			continue;
		}
		if ((st = hl_pg_set_tenant(w->pg, a, tm.tenant, err)) == HL_OK)
			st = t->cfg.fire(t->cfg.app, w->pg, a, &tm, err);
		ft[nf] = tm.tenant;
		fk[nf] = tm.key;
		due[nf++] = tm.due_ms;
	}
	if (!st)
		st = find_busy(w, a, c, res, busy, err);
	if (!st && nf) {
		hl_pg_args_init(&args);
		hl_pg_arg_text(&args, hl_pg_text_array(a, ft, nf));
		hl_pg_arg_text(&args, hl_pg_text_array(a, fk, nf));
		if (!(st = hl_pg_rows_send(w->pg, err))) /* the fired handlers' puts come first */
			st = hl_pg_exec(w->pg, a, SQL_DONE, &args, NULL, err);
	}
	if (!st)
		st = hl_pg_commit(w->pg, err);
	if (st) {
		hl_pg_rollback(w->pg);
		return st;
	}
	int64_t done = hl_now_ms();
	for (size_t i = 0; i < nf; i++)
		hl_metric_observe(t->lateness, NULL, (double)(done - due[i]) / 1000.0);
	hl_metric_add(t->fired, NULL, (double)nf);
	*fired = (int)nf;
	return HL_OK;
}

static int process(struct worker *w)
{
	hl_arena *a = hl_arena_new();
	struct claimed c, busy = {0};
	hl_error err;
	int fired = 0;
	if (!a)
		return -1;
	hl_status st = claim(w, a, &c, &err);
	if (st) {
		hl_arena_free(a);
		return -1;
	}
	if (c.n && (st = fire_batch(w, a, &c, &fired, &busy, &err))) {
		HL_LOG_WARN("timers_batch_failed", "n=%zu status=%s msg=\"%s\"", c.n, hl_status_name(st),
			    hl_error_text(&err));
		if (delay(w, &c, 2000, a, &err))
			HL_LOG_WARN("timers_delay_failed", "msg=\"%s\"", hl_error_text(&err)); /* lease brings them back */
	} else if (busy.n && delay(w, &busy, BUSY_RETRY_MS, a, &err)) {
		/* (the busy ones go back to due before the ack, so that it leaves them there) */
		HL_LOG_WARN("timers_delay_failed", "msg=\"%s\"", hl_error_text(&err)); /* lease brings all back */
	} else if (c.n && ack(w, &c, a, &err)) {
		HL_LOG_WARN("timers_ack_failed", "msg=\"%s\"", hl_error_text(&err)); /* they fire again, effect unique */
	}
	size_t n = c.n;
	hl_arena_free(a);
	return (int)n;
}

static void refresh_gauges(struct worker *w)
{
	const char *a1[2] = {"ZCARD", w->t->key_due}, *a2[2] = {"ZCARD", w->t->key_inflight};
	redisReply *r1 = NULL, *r2 = NULL;
	hl_error err;
	if (!hl_redis_argv(w->redis, 2, a1, NULL, &r1, &err) && r1->type == REDIS_REPLY_INTEGER)
		hl_metric_set(w->t->pending, NULL, (double)r1->integer);
	if (!hl_redis_argv(w->redis, 2, a2, NULL, &r2, &err) && r2->type == REDIS_REPLY_INTEGER)
		hl_metric_set(w->t->inflight, NULL, (double)r2->integer);
	if (r1)
		freeReplyObject(r1);
	if (r2)
		freeReplyObject(r2);
}

static bool nap(hl_timers *t, int ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += (long)ms * 1000000;
	until.tv_sec += until.tv_nsec / 1000000000;
	until.tv_nsec %= 1000000000;
	pthread_mutex_lock(&t->mu);
	if (!t->stop)
		pthread_cond_timedwait(&t->cv, &t->mu, &until);
	bool stop = t->stop;
	pthread_mutex_unlock(&t->mu);
	return stop;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	hl_timers *t = w->t;
	int64_t next_seed = 0, next_gauge = 0;
	bool stop = false;
	while (!stop) {
		if (w->index == 0)
			maybe_reseed(w, &next_seed);
		int n = process(w);
		if (w->index == 0 && hl_now_ms() >= next_gauge) {
			refresh_gauges(w);
			next_gauge = hl_now_ms() + 2000;
		}
		if (n < 0)
			stop = nap(t, 500); /* Redis or PostgreSQL down: try again soon */
		else if (n < t->cfg.batch)
			stop = nap(t, t->cfg.poll_ms);
		else
			stop = nap(t, 0);
	}
	return NULL;
}

/* ---- life ------------------------------------------------------------------------------- */

static hl_status timer_metrics(hl_timers *t, hl_error *err)
{
	static const double buckets[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60};
	hl_metrics *m = t->cfg.metrics;
	hl_status st;
	if ((st = hl_metrics_counter(m, "hotline_timers_fired_total", "timers fired", 0, NULL, &t->fired, err)) ||
	    (st = hl_metrics_histogram(m, "hotline_timer_lateness_seconds", "fired time minus due time", 0, NULL,
				       sizeof buckets / sizeof buckets[0], buckets, &t->lateness, err)) ||
	    (st = hl_metrics_gauge(m, "hotline_timers_pending", "timers scheduled in Redis", 0, NULL, &t->pending,
				   err)) ||
	    (st = hl_metrics_gauge(m, "hotline_timers_inflight", "timers claimed, not yet acknowledged", 0, NULL,
				   &t->inflight, err)))
		return st;
	return HL_OK;
}

static void defaults(hl_timers_config *c)
{
	if (!c->prefix || !*c->prefix)
		c->prefix = "hotline";
	if (c->batch < 1)
		c->batch = 256;
	if (c->lease_ms < 100)
		c->lease_ms = 30000;
	if (c->poll_ms < 1)
		c->poll_ms = 50;
	if (c->reseed_ms < 1000)
		c->reseed_ms = 300000;
}

hl_status hl_timers_start(const hl_timers_config *cfg, hl_timers **out, hl_error *err)
{
	*out = NULL;
	hl_timers *t = calloc(1, sizeof *t);
	if (!t)
		return hl_fail(err, HL_NOMEM, "out of memory");
	t->cfg = *cfg;
	defaults(&t->cfg);
	snprintf(t->key_due, sizeof t->key_due, "%s:{%s}:timers:due", t->cfg.prefix, t->cfg.service);
	snprintf(t->key_inflight, sizeof t->key_inflight, "%s:{%s}:timers:inflight", t->cfg.prefix, t->cfg.service);
	snprintf(t->key_seeded, sizeof t->key_seeded, "%s:{%s}:timers:seeded", t->cfg.prefix, t->cfg.service);
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	pthread_mutex_init(&t->push_mu, NULL);
	atomic_init(&t->reseed_wanted, true);
	int n = t->cfg.threads > 0 ? t->cfg.threads : 0;
	t->workers = calloc((size_t)(n ? n : 1), sizeof *t->workers);
	hl_status st = t->workers ? timer_metrics(t, err) : hl_fail(err, HL_NOMEM, "out of memory");
	if (!st)
		st = hl_redis_new(t->cfg.redis_url, 2000, &t->push_redis, err);
	for (int i = 0; i < n && !st; i++) {
		struct worker *w = &t->workers[i];
		w->t = t;
		w->index = i;
		if ((st = hl_pg_new(t->cfg.db_dsn, t->cfg.db_schema, &w->pg, err)) ||
		    (st = hl_redis_new(t->cfg.redis_url, 5000, &w->redis, err)))
			break;
		if (pthread_create(&w->th, NULL, worker_main, w))
			st = hl_fail(err, HL_INTERNAL, "cannot start a timer thread");
	}
	if (st) {
		hl_timers_stop(t);
		return st;
	}
	*out = t;
	return HL_OK;
}

void hl_timers_stop(hl_timers *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->mu);
	t->stop = true;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
	int n = t->cfg.threads > 0 ? t->cfg.threads : 0;
	for (int i = 0; t->workers && i < n; i++) {
		if (t->workers[i].th)
			pthread_join(t->workers[i].th, NULL);
		hl_pg_free(t->workers[i].pg);
		hl_redis_free(t->workers[i].redis);
	}
	hl_redis_free(t->push_redis);
	free(t->workers);
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->push_mu);
	free(t);
}
