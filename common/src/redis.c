/*
 * redis.c - hiredis connections with reconnect/backoff and scripts (redis.h).
 */
#include "hl/redis.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct hl_redis {
	char host[128];
	int port;
	int timeout_ms;
	redisContext *ctx;
	int64_t retry_at_ms;
	int backoff_ms;
	int up;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

hl_status hl_redis_new(const char *url, int timeout_ms, hl_redis **out, hl_error *err)
{
	*out = NULL;
	const char *p = strncmp(url, "redis://", 8) == 0 ? url + 8 : url;
	const char *colon = strrchr(p, ':');
	hl_redis *r = calloc(1, sizeof *r);
	if (!r)
		return hl_fail(err, HL_NOMEM, "out of memory");
	int hl = colon ? (int)(colon - p) : (int)strlen(p);
	if (hl <= 0 || hl >= (int)sizeof r->host) {
		free(r);
		return hl_fail(err, HL_INVALID, "redis URL: host missing or too long");
	}
	snprintf(r->host, sizeof r->host, "%.*s", hl, p);
	r->port = colon ? atoi(colon + 1) : 6379;
	if (r->port <= 0 || r->port > 65535) {
		free(r);
		return hl_fail(err, HL_INVALID, "redis URL: bad port");
	}
	r->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
	*out = r;
	return HL_OK;
}

static void drop(hl_redis *r)
{
	if (r->ctx)
		redisFree(r->ctx);
	r->ctx = NULL;
	r->up = 0;
	r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : 100;
	if (r->backoff_ms > 5000)
		r->backoff_ms = 5000;
	r->retry_at_ms = mono_ms() + r->backoff_ms;
}

void hl_redis_free(hl_redis *r)
{
	if (!r)
		return;
	if (r->ctx)
		redisFree(r->ctx);
	free(r);
}

int hl_redis_up(const hl_redis *r)
{
	return r->up;
}

static hl_status connect_now(hl_redis *r, hl_error *err)
{
	if (r->ctx)
		return HL_OK;
	if (mono_ms() < r->retry_at_ms)
		return hl_fail(err, HL_UNAVAILABLE, "redis unavailable (reconnecting)");
	struct timeval tv = {r->timeout_ms / 1000, (r->timeout_ms % 1000) * 1000};
	r->ctx = redisConnectWithTimeout(r->host, r->port, tv);
	if (!r->ctx || r->ctx->err) {
		drop(r);
		return hl_fail(err, HL_UNAVAILABLE, "redis unavailable");
	}
	redisSetTimeout(r->ctx, tv);
	r->backoff_ms = 0;
	r->up = 1;
	return HL_OK;
}

/*
 * Whether a failed command on an established connection found it closed by the server (a restarted
 * or restarting Redis, a killed client): the server never ran the command, so it may be sent again
 * on a new connection.  A timeout is not such a case - the command may be running.
 */
static bool closed_by_server(const redisContext *ctx)
{
	return ctx->err == REDIS_ERR_EOF ||
	       (ctx->err == REDIS_ERR_IO && (errno == ECONNRESET || errno == EPIPE || errno == ENOTCONN));
}

static redisReply *command(hl_redis *r, int argc, const char **argv, const size_t *lens, hl_error *err)
{
	bool reused = r->ctx != NULL;
	if (connect_now(r, err))
		return NULL;
	redisReply *rep = redisCommandArgv(r->ctx, argc, argv, lens);
	if (rep)
		return rep;
	bool again = reused && closed_by_server(r->ctx);
	drop(r);
	if (again) {
		r->retry_at_ms = 0; /* a stale connection is not an outage: reconnect at once, once */
		if (connect_now(r, err))
			return NULL;
		if ((rep = redisCommandArgv(r->ctx, argc, argv, lens)))
			return rep;
		drop(r);
	}
	hl_fail(err, HL_UNAVAILABLE, "redis connection lost");
	return NULL;
}

hl_status hl_redis_argv(hl_redis *r, int argc, const char **argv, const size_t *lens, redisReply **reply,
			hl_error *err)
{
	if (reply)
		*reply = NULL;
	redisReply *rep = command(r, argc, argv, lens, err);
	if (!rep)
		return HL_UNAVAILABLE;
	r->up = 1;
	if (rep->type == REDIS_REPLY_ERROR) {
		hl_fail(err, HL_INTERNAL, "redis: %.*s", (int)(rep->len < 200 ? rep->len : 200), rep->str);
		freeReplyObject(rep);
		return HL_INTERNAL;
	}
	if (reply)
		*reply = rep;
	else
		freeReplyObject(rep);
	return HL_OK;
}

static void script_sha(hl_redis_script *s)
{
	if (s->sha1[0])
		return;
	unsigned char d[20];
	unsigned int n = 0;
	EVP_Digest(s->source, strlen(s->source), d, &n, EVP_sha1(), NULL);
	for (unsigned i = 0; i < n && i < 20; i++)
		snprintf(s->sha1 + 2 * i, 3, "%02x", d[i]);
}

static hl_status eval_with(hl_redis *r, const char *verb, const char *body, int nkeys, const char **keys, int nargs,
			   const char **args, redisReply **reply, hl_error *err)
{
	int argc = 3 + nkeys + nargs;
	const char **argv = calloc((size_t)argc, sizeof *argv);
	if (!argv)
		return hl_fail(err, HL_NOMEM, "out of memory");
	char nk[16];
	snprintf(nk, sizeof nk, "%d", nkeys);
	argv[0] = verb;
	argv[1] = body;
	argv[2] = nk;
	for (int i = 0; i < nkeys; i++)
		argv[3 + i] = keys[i];
	for (int i = 0; i < nargs; i++)
		argv[3 + nkeys + i] = args[i];
	hl_status st = hl_redis_argv(r, argc, argv, NULL, reply, err);
	free(argv);
	return st;
}

hl_status hl_redis_eval(hl_redis *r, hl_redis_script *s, int nkeys, const char **keys, int nargs, const char **args,
			redisReply **reply, hl_error *err)
{
	script_sha(s);
	hl_error e2;
	hl_error_clear(&e2);
	hl_status st = eval_with(r, "EVALSHA", s->sha1, nkeys, keys, nargs, args, reply, &e2);
	if (st == HL_INTERNAL && strstr(e2.msg, "NOSCRIPT"))
		return eval_with(r, "EVAL", s->source, nkeys, keys, nargs, args, reply, err);
	if (st && err)
		*err = e2;
	return st;
}
