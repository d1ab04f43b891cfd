/*
 * outbox.h - delivery of the transactional outbox (DESIGN §5.6).
 *
 * A service writes an outbox row in the same transaction as the business
 * change (see the store of each service).  The relay threads started here
 * deliver the rows:
 *
 *   - each relay thread has its own connection as the schema's system role,
 *     whose row policy opens the outbox of every tenant and nothing else;
 *   - a claim leases, in one short transaction of its own, up to `batch` due
 *     rows that are the oldest undelivered row of their subject for their
 *     target (FOR UPDATE SKIP LOCKED, then leased_until is set to the end
 *     of the lease: the call timeout + 5 s, and the transaction commits; a
 *     column in no index, so the update is HOT), so replicas and threads
 *     never deliver the same row at once and each target receives the rows
 *     of one subject in order: a leased row is still its subject's oldest
 *     undelivered one, so the rows behind it wait (a target that is down
 *     holds back only its own rows);
 *   - each row is sent to its target (HOTLINE_<TARGET>_ADDR), with no
 *     transaction open and no row lock held, with metadata
 *     idempotency-key, x-tenant-id and x-actor and a deadline; the calls of
 *     a batch are in flight together (distinct subject/target pairs, so no
 *     order is lost), and the next claim follows at once while rows come;
 *     the batch's rows to reporting's RecordEvents of one tenant go as one
 *     call (idempotency-key "merged-<SHA-256 of their keys>"; reporting
 *     records each event once by its id), and the other rows of one target
 *     and tenant as the items of hotline.batch.v1.BatchService/Apply calls
 *     (apply_items rows each, HOTLINE_RELAY_APPLY_ITEMS; each item with its row's method, payload, idempotency-key and
 *     actor; the target runs them in one transaction, see rpc_batch.c, and
 *     answers each item's outcome); such a call refused for good (or an
 *     Apply the target does not serve) is sent again row by row, so only the
 *     row at fault is dead;
 *   - results are marked for the whole batch in a second short transaction:
 *     delivered; retry later (UNAVAILABLE, UNIMPLEMENTED, DEADLINE_EXCEEDED,
 *     RESOURCE_EXHAUSTED, ABORTED: capped exponential backoff with jitter,
 *     forever); dead letter (any other code: kept, counted, re-drivable);
 *   - a relay killed (or a database lost) between the claim and the marks
 *     leaves its rows leased: they come due again when the lease ends and
 *     are delivered again; receivers make that harmless with the inbox
 *     (hl/inbox.h).  Delivered rows are deleted as they are marked
 *     (keep_delivered_ms 0, HOTLINE_OUTBOX_KEEP_DELIVERED's default), or
 *     kept (delivered_at) for keep_delivered_ms (OutboxService statistics,
 *     an operator's look at what was sent) and then deleted by relay thread
 *     0 in batches every 10 s; the system role may delete delivered rows and
 *     the rows it has leased only (009_outbox_delete_delivered.sql).
 */
#ifndef HL_OUTBOX_H
#define HL_OUTBOX_H

#include <stdbool.h>
#include <stdint.h>

#include "hl/metrics.h"
#include "hl/rpc.h"
#include "hl/status.h"

typedef struct hl_relay hl_relay;

typedef struct hl_relay_config {
	const char *service;   /* our name: the relay's log and metric label */
	const char *db_dsn;    /* the system role */
	const char *db_schema;
	const char *tls_cert, *tls_key, *tls_ca; /* our identity towards the targets */
	int threads;           /* relay threads (0: no relay) */
	int batch;             /* rows per claim */
	int apply_items;       /* rows per BatchService/Apply call (at most 256; 1: none) */
	int call_timeout_ms;   /* deadline of one delivery */
	int idle_ms;           /* sleep when nothing is due */
	int backoff_max_ms;    /* cap of the retry backoff */
	long long keep_delivered_ms; /* delivered rows are deleted after this (0: as they are delivered) */
	hl_metrics *metrics;
} hl_relay_config;

/* Start the relay threads; targets are resolved from HOTLINE_<TARGET>_ADDR. */
hl_status hl_relay_start(const hl_relay_config *cfg, hl_relay **out, hl_error *err) HL_MUST_CHECK;
/* Stop: finish the batch in hand, join the threads, free. NULL is fine. */
void hl_relay_stop(hl_relay *r);

/*
 * hotline.outbox.v1.OutboxService over the service's own outbox (dead
 * letters, re-drive, stats) for the tenant_admin role; added to every
 * service by the program runtime.
 */
hl_service hl_outbox_service(void);

/* Whether a gRPC status code is worth retrying (the list above). */
bool hl_relay_retryable(int grpc_code);
/* The backoff before attempt n (1, 2, ...): min(cap, 100 ms * 2^(n-1)) with +-20% jitter. */
int64_t hl_relay_backoff_ms(int attempt, int cap_ms);

#endif
