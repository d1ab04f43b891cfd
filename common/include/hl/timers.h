/*
 * timers.h - deadlines that are never lost (DESIGN §5.3).
 *
 * PostgreSQL is authoritative: a timer is a row of the schema's `timers`
 * table, written with hl_timer_put() in the same transaction as the business
 * change that needs it.  Redis only schedules: a sorted set of due timers
 * (score = due time in ms, member = "<tenant>|<timer key>") and a sorted set
 * of claimed ones (score = lease end), keys hash-tagged per service:
 *     <prefix>:{<service>}:timers:due   <prefix>:{<service>}:timers:inflight
 *
 * Worker threads claim due members with a Lua script that moves them into
 * the in-flight set with a lease (and first returns expired leases to the
 * due set); they fire a claimed batch in one PostgreSQL transaction as the
 * system role (rows locked, still pending, really due), calling the
 * service's handler for each, mark them done, commit, and only then remove
 * them from the in-flight set; a claimed timer whose row another transaction
 * holds goes back to the due set for another try a second later.  A worker
 * killed between claim and ack leaves its members to come back when the
 * lease ends; a handler's effect must be unique in PostgreSQL, so a timer may
 * fire twice but never has two effects, and never fires zero times.
 *
 * Redis is re-seeded from PostgreSQL at start, whenever its marker key is
 * missing (FLUSHALL, a restart without persistence; the marker is set before
 * the pages are seeded, so a flush during a re-seed starts it over), after
 * this process failed to push a timer to it, and periodically.
 */
#ifndef HL_TIMERS_H
#define HL_TIMERS_H

#include <stdint.h>

#include "hl/arena.h"
#include "hl/metrics.h"
#include "hl/pg.h"
#include "hl/status.h"

typedef struct hl_timers hl_timers;

typedef struct hl_timer {
	const char *tenant, *key, *kind, *subject;
	int64_t due_ms;
} hl_timer;

/*
 * Fire one timer inside the open transaction of pg, acting for the timer's
 * tenant (hotline.tenant is set to t->tenant before each call).  The effect
 * must be unique in PostgreSQL.  An error rolls back the whole batch, which is
 * tried again after a short delay.
 */
typedef hl_status (*hl_timer_fn)(void *app, hl_pg *pg, hl_arena *a, const hl_timer *t, hl_error *err);

typedef struct hl_timers_config {
	const char *service;
	const char *redis_url, *prefix; /* prefix: default "hotline" */
	const char *db_dsn, *db_schema; /* the system role */
	int threads;                    /* worker threads (0: none in this replica) */
	int batch;                      /* members claimed at once */
	int lease_ms;                   /* how long a claim is exclusive */
	int poll_ms;                    /* sleep when nothing is due */
	int reseed_ms;                  /* periodic re-seed */
	hl_timer_fn fire;
	void *app;
	hl_metrics *metrics;
} hl_timers_config;

hl_status hl_timers_start(const hl_timers_config *cfg, hl_timers **out, hl_error *err) HL_MUST_CHECK;
void hl_timers_stop(hl_timers *t);

/*
 * Inside the caller's transaction (acting tenant set): create the timer, or
 * move a pending one to a new due time.  A timer already done stays done.
 * The row is written with the COMMIT (hl_pg_rows_at_commit); a key put twice
 * in one transaction keeps the last due time.
 */
hl_status hl_timer_put(hl_pg *pg, hl_arena *a, const char *tenant, const char *key, const char *kind,
		       const char *subject, int64_t due_ms, hl_error *err) HL_MUST_CHECK;
/* Several timers of one tenant at once (n at most HL_TIMERS_PUT_MAX). */
#define HL_TIMERS_PUT_MAX 64
typedef struct hl_timer_item {
	const char *key, *kind, *subject;
	int64_t due_ms;
} hl_timer_item;
hl_status hl_timers_put(hl_pg *pg, hl_arena *a, const char *tenant, const hl_timer_item *items, size_t n,
			hl_error *err) HL_MUST_CHECK;
/* Inside the caller's transaction: a pending timer will not fire. */
hl_status hl_timer_cancel(hl_pg *pg, hl_arena *a, const char *key, hl_error *err) HL_MUST_CHECK;

/*
 * After the caller's commit: tell Redis, so the timer fires on time.  Never
 * fails: when Redis is unreachable the next re-seed schedules it.  t may be
 * NULL (no timers in this process): then only the re-seed of another replica
 * schedules it.  Thread-safe.
 */
void hl_timers_push(hl_timers *t, const char *tenant, const char *key, int64_t due_ms);

/* Timers to push: hl_timers_push_many tells Redis of n of them with one ZADD per 256, same rules. */
typedef struct hl_timer_due {
	const char *tenant, *key;
	int64_t due_ms;
} hl_timer_due;
void hl_timers_push_many(hl_timers *t, const hl_timer_due *due, size_t n);

/* Milliseconds since the Unix epoch. */
int64_t hl_now_ms(void);

#endif
