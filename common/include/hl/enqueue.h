/*
 * enqueue.h - the sender's side of the transactional outbox (DESIGN §5.6):
 * inside the caller's transaction, a request for another service becomes an
 * `outbox` row that commits (or not) with the business change; the relay
 * (hl/outbox.h) delivers it later with its idempotency key.
 *
 * Events to reporting all use the one envelope hotline.common.v1.Event
 * (DESIGN §4): hl_enqueue_event() fills its id, tenant, type, ticket, time,
 * actor and version around the caller's payload and queues a RecordEvents
 * call.  Payloads never hold personal data.
 */
#ifndef HL_ENQUEUE_H
#define HL_ENQUEUE_H

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

#include "hl/arena.h"
#include "hl/pg.h"
#include "hl/status.h"

/* The gRPC path of the events' call (reporting's RecordEvents). */
#define HL_ENQUEUE_RECORD_EVENTS "/hotline.reporting.v1.ReportingService/RecordEvents"

typedef struct hl_enqueue_row {
	const char *tenant;
	const char *subject_id; /* rows of one subject are delivered in order */
	/* the target service; its package hotline.<target>.v1 names the target (HOTLINE_<TARGET>_ADDR) */
	const ProtobufCServiceDescriptor *service;
	const char *method;     /* the method's name in that service, e.g. "UpdateTicketStatus" */
	const char *idempotency_key;
	const char *actor;      /* ASCII: the user's sub or system:<service> */
} hl_enqueue_row;

/*
 * Serialize msg and insert the outbox row (in the open transaction of pg).
 * The target and the gRPC path come from row->service, so nobody types them:
 * HL_INTERNAL when the service has no such method or msg is not its request
 * type (a programming error caught before anything is sent).
 */
hl_status hl_enqueue(hl_pg *pg, hl_arena *a, const hl_enqueue_row *row, const ProtobufCMessage *msg,
		     hl_error *err) HL_MUST_CHECK;
/*
 * The same with a target and full gRPC path given as text (row->service and
 * row->method are ignored): for test peers that address targets and methods
 * that may not exist.  Services use hl_enqueue.
 */
hl_status hl_enqueue_raw(hl_pg *pg, hl_arena *a, const hl_enqueue_row *row, const char *target, const char *path,
			 const ProtobufCMessage *msg, hl_error *err) HL_MUST_CHECK;
/*
 * Queue one event to reporting: ev is a Hotline__Common__V1__Event whose
 * payload (oneof) the caller has set; this sets event_id (a new UUIDv7, also
 * the idempotency key), tenant, type, ticket_id, occurred_at (now), actor and
 * version, then enqueues RecordEvents with subject row->subject_id.
 * row->service, method and idempotency_key are ignored.  The events one
 * transaction queues for one subject go as one outbox row (one RecordEvents
 * request with all of them, in order; enqueue.c).
 */
hl_status hl_enqueue_event(hl_pg *pg, hl_arena *a, const hl_enqueue_row *row, const char *type,
			   const char *ticket_id, int64_t version, ProtobufCMessage *ev,
			   hl_error *err) HL_MUST_CHECK;

/*
 * Many outbox rows written by one statement, for a handler that registers
 * many subjects in one transaction: add rows (as hl_enqueue,
 * hl_enqueue_raw and hl_enqueue_event would write them), then write them
 * all (in pg's open transaction, with its COMMIT: hl_pg_rows_at_commit, so
 * every row a transaction queues goes in one statement; an empty batch
 * writes nothing).
 * The single-row functions above are a batch of one.
 */
typedef struct hl_enqueue_batch {
	hl_arena *a;
	hl_pg_rows rows;
} hl_enqueue_batch;

void hl_enqueue_batch_init(hl_enqueue_batch *b, hl_arena *a);
hl_status hl_enqueue_batch_add(hl_enqueue_batch *b, const hl_enqueue_row *row, const ProtobufCMessage *msg,
			       hl_error *err) HL_MUST_CHECK;
hl_status hl_enqueue_batch_add_raw(hl_enqueue_batch *b, const hl_enqueue_row *row, const char *target,
				   const char *path, const ProtobufCMessage *msg, hl_error *err) HL_MUST_CHECK;
hl_status hl_enqueue_batch_add_event(hl_enqueue_batch *b, const hl_enqueue_row *row, const char *type,
				     const char *ticket_id, int64_t version, ProtobufCMessage *ev,
				     hl_error *err) HL_MUST_CHECK;
hl_status hl_enqueue_batch_write(hl_pg *pg, hl_enqueue_batch *b, hl_error *err) HL_MUST_CHECK;
/*
 * The batch's fold (hl_pg_rows_fold), run on all the outbox rows of a
 * statement as they go: the RecordEvents rows of one tenant, subject, target
 * and actor become one row of up to 100 events, at the place of its first,
 * keyed by its first, payloads laid end to end in order; other rows stay as
 * they are.
 */
hl_status hl_enqueue_fold_events(hl_pg_rows *rows, hl_error *err) HL_MUST_CHECK;

#endif
