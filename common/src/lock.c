/*
 * lock.c - token locks with fencing numbers and singleton jobs (lock.h).
 */
#include "hl/lock.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hl/crypto.h"
#include "hl/log.h"

static const char SQL_FENCE[] = "SELECT nextval('fence_seq')";

static hl_redis_script lua_renew = HL_REDIS_SCRIPT(
	"if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end\n"
	"return 0\n");
static hl_redis_script lua_release = HL_REDIS_SCRIPT(
	"if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end\n"
	"return 0\n");

static hl_status draw_fence(hl_pg *pg, int64_t *fence, hl_error *err)
{
	hl_arena *a = hl_arena_new();
	PGresult *r;
	hl_status st = a ? hl_pg_exec(pg, a, SQL_FENCE, NULL, &r, err) : hl_fail(err, HL_NOMEM, "out of memory");
	if (!st)
		*fence = hl_pg_get_int(r, 0, 0);
	hl_arena_free(a);
	return st;
}

static void current_holder(hl_redis *r, const char *key, char *out, size_t cap)
{
	const char *argv[2] = {"GET", key};
	redisReply *rep;
	hl_error err;
	out[0] = '\0';
	if (hl_redis_argv(r, 2, argv, NULL, &rep, &err))
		return;
	const char *sp = rep->type == REDIS_REPLY_STRING ? strchr(rep->str, ' ') : NULL;
	if (sp)
		snprintf(out, cap, "%s", sp + 1);
	freeReplyObject(rep);
}

static void lock_key(char *out, size_t cap, const char *prefix, const char *service, const char *name)
{
	snprintf(out, cap, "%s:{%s}:lock:%s", prefix && *prefix ? prefix : "hotline", service, name);
}

void hl_lock_token(const hl_lock *l, char out[HL_LOCK_TOKEN_MAX])
{
	const char *sp = strchr(l->value, ' ');
	snprintf(out, HL_LOCK_TOKEN_MAX, "%.*s", sp ? (int)(sp - l->value) : 0, l->value);
}

hl_status hl_lock_from_token(const char *prefix, const char *service, const char *name, const char *holder,
			     const char *token, hl_lock *out, hl_error *err)
{
	char *end;
	memset(out, 0, sizeof *out);
	long long fence = strtoll(token, &end, 10);
	size_t n = *end == '.' ? strlen(end + 1) : 0;
	bool hex = n == 24;
	for (size_t i = 0; hex && i < n; i++)
		hex = (end[1 + i] >= '0' && end[1 + i] <= '9') || (end[1 + i] >= 'a' && end[1 + i] <= 'f');
	if (end == token || fence < 1 || !hex)
		return hl_fail(err, HL_INVALID, "lock_token: not a token from LockCase");
	lock_key(out->key, sizeof out->key, prefix, service, name);
	snprintf(out->value, sizeof out->value, "%s %s", token, holder); /* the fence is part of the value */
	out->fence = fence;
	return HL_OK;
}

hl_status hl_lock_holder(hl_redis *r, const char *prefix, const char *service, const char *name, char *holder,
			 size_t cap, hl_error *err)
{
	char key[200];
	lock_key(key, sizeof key, prefix, service, name);
	const char *argv[2] = {"GET", key};
	redisReply *rep;
	hl_status st = hl_redis_argv(r, 2, argv, NULL, &rep, err);
	if (st)
		return st;
	const char *sp = rep->type == REDIS_REPLY_STRING ? strchr(rep->str, ' ') : NULL;
	snprintf(holder, cap, "%s", sp ? sp + 1 : "");
	freeReplyObject(rep);
	return HL_OK;
}

hl_status hl_lock_acquire(hl_redis *r, hl_pg *pg, const char *prefix, const char *service, const char *name,
			  const char *holder, int lease_ms, hl_lock *out, char *holder_out, size_t holder_cap,
			  hl_error *err)
{
	uint8_t tok[12];
	char hex[25], px[24];
	if (hl_random_bytes(tok, sizeof tok))
		return hl_fail(err, HL_CRYPTO, "no randomness for a lock token");
	hl_hex_write(tok, sizeof tok, hex);
	memset(out, 0, sizeof *out);
	hl_status st;
	if ((st = draw_fence(pg, &out->fence, err)))
		return st;
	lock_key(out->key, sizeof out->key, prefix, service, name);
	snprintf(out->value, sizeof out->value, "%lld.%s %s", (long long)out->fence, hex, holder);
	snprintf(px, sizeof px, "%d", lease_ms);
	const char *argv[6] = {"SET", out->key, out->value, "NX", "PX", px};
	redisReply *rep;
	if ((st = hl_redis_argv(r, 6, argv, NULL, &rep, err)))
		return st;
	bool got = rep->type == REDIS_REPLY_STATUS;
	freeReplyObject(rep);
	if (!got) {
		if (holder_out)
			current_holder(r, out->key, holder_out, holder_cap);
		return hl_fail(err, HL_ABORTED, "%s is locked by another holder", name);
	}
	return HL_OK;
}

static hl_status run_script(hl_redis *r, hl_redis_script *s, const hl_lock *l, const char *arg2, long long *result,
			    hl_error *err)
{
	const char *keys[1] = {l->key};
	const char *args[2] = {l->value, arg2};
	redisReply *rep;
	hl_status st = hl_redis_eval(r, s, 1, keys, arg2 ? 2 : 1, args, &rep, err);
	if (st)
		return st;
	*result = rep->type == REDIS_REPLY_INTEGER ? rep->integer : 0;
	freeReplyObject(rep);
	return HL_OK;
}

hl_status hl_lock_renew(hl_redis *r, const hl_lock *l, int lease_ms, hl_error *err)
{
	char px[24];
	long long ok;
	snprintf(px, sizeof px, "%d", lease_ms);
	hl_status st = run_script(r, &lua_renew, l, px, &ok, err);
	if (st)
		return st;
	return ok ? HL_OK : hl_fail(err, HL_ABORTED, "lock lost");
}

hl_status hl_lock_release(hl_redis *r, const hl_lock *l, hl_error *err)
{
	long long ignored;
	return run_script(r, &lua_release, l, NULL, &ignored, err);
}

/* ---- singleton jobs ------------------------------------------------------------ */

struct hl_singleton {
	hl_singleton_config cfg;
	hl_redis *redis;
	hl_pg *pg;
	hl_lock lock;
	atomic_bool holding;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
};

static void hold_or_take(hl_singleton *s)
{
	hl_error err;
	if (atomic_load(&s->holding) && hl_lock_renew(s->redis, &s->lock, s->cfg.lease_ms, &err)) {
		atomic_store(&s->holding, false);
		HL_LOG_WARN("singleton_lost", "job=%s msg=\"%s\"", s->cfg.name, hl_error_text(&err));
	}
	if (!atomic_load(&s->holding) &&
	    hl_lock_acquire(s->redis, s->pg, s->cfg.prefix, s->cfg.service, s->cfg.name, s->cfg.holder,
			    s->cfg.lease_ms, &s->lock, NULL, 0, &err) == HL_OK) {
		atomic_store(&s->holding, true);
		HL_LOG_INFO("singleton_taken", "job=%s fence=%lld", s->cfg.name, (long long)s->lock.fence);
	}
}

static void *singleton_main(void *arg)
{
	hl_singleton *s = arg;
	for (;;) {
		hold_or_take(s);
		hl_error err;
		if (atomic_load(&s->holding) && s->cfg.fn(s->cfg.arg, s->lock.fence, &err))
			HL_LOG_WARN("singleton_job_failed", "job=%s msg=\"%s\"", s->cfg.name, hl_error_text(&err));
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)s->cfg.interval_ms * 1000000;
		until.tv_sec += until.tv_nsec / 1000000000;
		until.tv_nsec %= 1000000000;
		pthread_mutex_lock(&s->mu);
		if (!s->stop)
			pthread_cond_timedwait(&s->cv, &s->mu, &until);
		bool stop = s->stop;
		pthread_mutex_unlock(&s->mu);
		if (stop)
			break;
	}
	hl_error err;
	if (atomic_load(&s->holding) && hl_lock_release(s->redis, &s->lock, &err))
		HL_LOG_WARN("singleton_release_failed", "job=%s", s->cfg.name); /* the lease ends it */
	return NULL;
}

hl_status hl_singleton_start(const hl_singleton_config *cfg, hl_singleton **out, hl_error *err)
{
	*out = NULL;
	hl_singleton *s = calloc(1, sizeof *s);
	if (!s)
		return hl_fail(err, HL_NOMEM, "out of memory");
	s->cfg = *cfg;
	if (s->cfg.lease_ms < 100)
		s->cfg.lease_ms = 10000;
	if (s->cfg.interval_ms < 10 || s->cfg.interval_ms >= s->cfg.lease_ms)
		s->cfg.interval_ms = s->cfg.lease_ms / 3;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	atomic_init(&s->holding, false);
	hl_status st = hl_redis_new(cfg->redis_url, 2000, &s->redis, err);
	if (!st)
		st = hl_pg_new(cfg->db_dsn, cfg->db_schema, &s->pg, err);
	if (!st && pthread_create(&s->th, NULL, singleton_main, s))
		st = hl_fail(err, HL_INTERNAL, "cannot start the job thread");
	if (st) {
		hl_redis_free(s->redis);
		hl_pg_free(s->pg);
		free(s);
		return st;
	}
	*out = s;
	return HL_OK;
}

void hl_singleton_stop(hl_singleton *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->th, NULL);
	hl_redis_free(s->redis);
	hl_pg_free(s->pg);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

bool hl_singleton_holding(hl_singleton *s)
{
	return atomic_load(&s->holding);
}
