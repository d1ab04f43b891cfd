/*
 * lock.h - Redis token locks with PostgreSQL fencing (DESIGN §5.3).
 *
 *   SET key value NX PX lease      acquire (value = "<fence>.<random> <holder>")
 *   Lua: if GET == value then PEXPIRE / DEL      renew / release
 *
 * Redis can forget a lock (FLUSHALL, failover) and a holder can be paused
 * past its lease, so the lock alone never protects data.  Each acquisition
 * also draws a fencing number from the schema's fence_seq sequence in
 * PostgreSQL (numbers only grow, whatever Redis forgets); the protected row
 * stores the number of its last writer and a write is accepted only with a
 * number not lower than the stored one:
 *     UPDATE t SET ..., fence = $f WHERE id = $id AND fence <= $f
 * so a paused holder that wakes up after someone else took over writes
 * nothing.  Keys are hash-tagged per service: <prefix>:{<service>}:lock:<name>.
 */
#ifndef HL_LOCK_H
#define HL_LOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "hl/pg.h"
#include "hl/redis.h"
#include "hl/status.h"

typedef struct hl_lock {
	char key[200];
	char value[160]; /* "<fence>.<random hex> <holder>": the fence is stored with the lock */
	int64_t fence;
} hl_lock;

/*
 * Take the lock `name` for holder (printable, no spaces) for lease_ms.
 * HL_ABORTED when another holder has it (*holder_out, if given, receives
 * the current holder's name), HL_UNAVAILABLE when Redis is down.
 */
hl_status hl_lock_acquire(hl_redis *r, hl_pg *pg, const char *prefix, const char *service, const char *name,
			  const char *holder, int lease_ms, hl_lock *out, char *holder_out, size_t holder_cap,
			  hl_error *err) HL_MUST_CHECK;
/* Extend the lease; HL_ABORTED when the lock is no longer ours. */
hl_status hl_lock_renew(hl_redis *r, const hl_lock *l, int lease_ms, hl_error *err) HL_MUST_CHECK;
/* Release if still ours (no error when it was lost). */
hl_status hl_lock_release(hl_redis *r, const hl_lock *l, hl_error *err) HL_MUST_CHECK;

/*
 * User-visible locks whose holder comes back in a later request: the token
 * "<fence>.<random hex>" (at most HL_LOCK_TOKEN_MAX bytes) is handed to the
 * holder, and hl_lock_from_token() rebuilds the lock from it (for renew,
 * release and the fence check).  HL_INVALID for a malformed token.  The
 * token's fence is the client's word until hl_lock_renew() succeeds: Redis
 * compares the whole value, fence included, so a token whose fence was
 * altered is "lost" (ABORTED).  When Redis cannot answer, the caller must
 * not take the fence from the token on trust (dispatch checks the token's
 * digest recorded on the case instead).
 */
#define HL_LOCK_TOKEN_MAX 64
void hl_lock_token(const hl_lock *l, char out[HL_LOCK_TOKEN_MAX]);
hl_status hl_lock_from_token(const char *prefix, const char *service, const char *name, const char *holder,
			     const char *token, hl_lock *out, hl_error *err) HL_MUST_CHECK;
/* The holder of lock `name` now ("" when free). HL_UNAVAILABLE when Redis is down. */
hl_status hl_lock_holder(hl_redis *r, const char *prefix, const char *service, const char *name, char *holder,
			 size_t cap, hl_error *err) HL_MUST_CHECK;

/*
 * A job that one replica runs at a time: every interval_ms each replica's
 * thread tries to hold the lock `name` (renewing it while it has it) and,
 * while it holds it, calls fn(arg, fence).  When the holder dies its lease
 * ends and another replica takes over with a higher fence.
 */
typedef struct hl_singleton hl_singleton;
typedef hl_status (*hl_singleton_fn)(void *arg, int64_t fence, hl_error *err);

typedef struct hl_singleton_config {
	const char *redis_url, *prefix, *service, *name, *holder;
	const char *db_dsn, *db_schema; /* for the fencing numbers */
	int lease_ms, interval_ms;
	hl_singleton_fn fn;
	void *arg;
} hl_singleton_config;

hl_status hl_singleton_start(const hl_singleton_config *cfg, hl_singleton **out, hl_error *err) HL_MUST_CHECK;
void hl_singleton_stop(hl_singleton *s);
/* Whether this replica holds the job right now (for tests and metrics). */
bool hl_singleton_holding(hl_singleton *s);

#endif
