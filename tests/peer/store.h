/*
 * store.h - the test peer's data access: the only code with SQL for its own
 * tables (its outbox rows go through hl/enqueue.h).  Every function runs inside the caller's transaction (hl_pg_begin
 * with the acting tenant); row-level security confines it to that tenant.
 */
#ifndef PEER_STORE_H
#define PEER_STORE_H

#include <stdint.h>

#include "hl/pg.h"

typedef struct store_effect {
	const char *stream, *subject_id, *payload, *actor, *idempotency_key; /* key may be NULL */
	int64_t version;
} store_effect;

/*
 * Lock the subject's row (created with version 0 on first use) until the
 * transaction ends, so that deliveries of one subject apply one at a time,
 * and read its latest version.
 */
hl_status store_subject_lock(hl_pg *pg, hl_arena *a, const char *stream, const char *subject_id, int64_t *latest,
			     hl_error *err) HL_MUST_CHECK;
/* Record the effect and make its version the subject's latest; *seq is its arrival number. */
hl_status store_effect_insert(hl_pg *pg, hl_arena *a, const store_effect *e, int64_t *seq, hl_error *err) HL_MUST_CHECK;

#endif
