/*
 * redis.h - the one wrapper around hiredis (Debian's 0.14: no TLS, no
 * Sentinel or Cluster in the library).  A connection is used by one thread.
 *
 * Broken connections are dropped and re-opened on the next use, after a
 * backoff (100 ms doubling to 5 s) during which calls fail fast with
 * UNAVAILABLE, so a service keeps serving while Redis is down.  Scripts run
 * with EVALSHA and fall back to EVAL on NOSCRIPT (a restarted or flushed
 * Redis has an empty script cache).  Redis holds no personal data.
 */
#ifndef HL_REDIS_H
#define HL_REDIS_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "hl/status.h"

typedef struct hl_redis hl_redis;

typedef struct hl_redis_script {
	const char *source;
	char sha1[41]; /* filled on first use */
} hl_redis_script;

#define HL_REDIS_SCRIPT(src) {(src), {0}}

/* A connection to url ("redis://host:port"), opened on first use. */
hl_status hl_redis_new(const char *url, int timeout_ms, hl_redis **out, hl_error *err) HL_MUST_CHECK;
void hl_redis_free(hl_redis *r);

/*
 * Run a command given as argv (binary-safe).  On success *reply (may be
 * NULL if not wanted) must be released with freeReplyObject.  A Redis error
 * reply is HL_INTERNAL with its text; connection trouble is HL_UNAVAILABLE.
 */
hl_status hl_redis_argv(hl_redis *r, int argc, const char **argv, const size_t *lens, redisReply **reply,
			hl_error *err) HL_MUST_CHECK;

/* EVALSHA script with keys and args (strings), EVAL on NOSCRIPT. */
hl_status hl_redis_eval(hl_redis *r, hl_redis_script *s, int nkeys, const char **keys, int nargs, const char **args,
			redisReply **reply, hl_error *err) HL_MUST_CHECK;

/* Whether the last call found Redis reachable. */
int hl_redis_up(const hl_redis *r);

#endif
