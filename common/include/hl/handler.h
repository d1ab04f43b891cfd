/*
 * handler.h - what every service's handlers share around the RPC driver
 * (hl/rpc.h): a transaction bound to the call (acting tenant for row-level
 * security, the call's deadline as statement_timeout), role checks over several roles,
 * bounded text and request-id validation, and Timestamp messages.
 *
 * All of it runs on the call's worker thread; memory comes from the call's
 * arena.  Every function that fails has already set the call's status and
 * message (hl_call_fail), so a handler just returns what it got; the driver
 * rolls back whatever transaction is still open (hl/rpc.h).
 */
#ifndef HL_HANDLER_H
#define HL_HANDLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hl/enqueue.h"
#include "hl/rpc.h"
#include "hl/timers.h"

/* BEGIN on the worker's connection for the acting tenant and the call's deadline. */
hl_status hl_call_begin(hl_call *c) HL_MUST_CHECK;
/*
 * COMMIT, then push the timers this transaction put (hl_call_timers_put) to
 * Redis; on failure the transaction is rolled back, its timers dropped, and
 * the call failed.
 */
hl_status hl_call_commit(hl_call *c) HL_MUST_CHECK;
/*
 * Inside the call's transaction: put n timers of the acting tenant
 * (hl_timers_put) and queue them for the push after hl_call_commit.  Unlike
 * the functions around it, this leaves the call's status alone and sets err,
 * for callers deeper in a handler that report errors through hl_error.
 */
hl_status hl_call_timers_put(hl_call *c, const hl_timer_item *items, size_t n, hl_error *err) HL_MUST_CHECK;

/*
 * Inside the call's transaction: the outbox row `row` carrying msg
 * (hl_enqueue) on the call's connection; fails the call (a NULL
 * idempotency key is taken as the arena having run out of memory).
 */
hl_status hl_call_enqueue(hl_call *c, const hl_enqueue_row *row, const ProtobufCMessage *msg) HL_MUST_CHECK;
/* Whether the token has any of the NULL-terminated roles. */
bool hl_call_has_any(const hl_call *c, const char *const *roles);
/* HL_OK when the token has any of the NULL-terminated roles, else HL_DENIED naming them. */
hl_status hl_call_require_any(hl_call *c, const char *const *roles) HL_MUST_CHECK;
/* A text field of at most max_chars characters (UTF-8 already checked on the wire). */
hl_status hl_call_check_text(hl_call *c, const char *field, const char *v, size_t max_chars,
			     bool required) HL_MUST_CHECK;
/* A client request_id: at most 128 printable ASCII characters (may be empty). */
hl_status hl_call_check_request_id(hl_call *c, const char *v) HL_MUST_CHECK;
/* A google.protobuf.Timestamp for us microseconds since the epoch (arena memory; NULL on OOM). */
void *hl_call_timestamp(hl_call *c, int64_t us);
/*
 * The same in arena a for an optional time: NULL when us is 0 (not set) or
 * out of memory.  Usable outside a call (timer work, events).
 */
void *hl_timestamp_new(hl_arena *a, int64_t us);
/* Microseconds since the epoch of a Timestamp message (0 for NULL). */
int64_t hl_timestamp_us(const void *ts);

#endif
