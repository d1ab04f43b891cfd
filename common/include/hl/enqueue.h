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

typedef struct hl_enqueue_row {
	const char *tenant;
	const char *subject_id; /* rows of one subject are delivered in order */
	const char *target;     /* service name, e.g. "intake" */
	const char *method;     /* full gRPC path */
	const char *idempotency_key;
	const char *actor;      /* ASCII: the user's sub or system:<service> */
} hl_enqueue_row;

/* Serialize msg and insert the outbox row (in the open transaction of pg). */
hl_status hl_enqueue(hl_pg *pg, hl_arena *a, const hl_enqueue_row *row, const ProtobufCMessage *msg,
		     hl_error *err) HL_MUST_CHECK;

/*
 * Queue one event to reporting: ev is a Hotline__Common__V1__Event whose
 * payload (oneof) the caller has set; this sets event_id (a new UUIDv7, also
 * the idempotency key), tenant, type, ticket_id, occurred_at (now), actor and
 * version, then enqueues RecordEvents with subject row->subject_id.
 * row->target, method and idempotency_key are ignored.
 */
hl_status hl_enqueue_event(hl_pg *pg, hl_arena *a, const hl_enqueue_row *row, const char *type,
			   const char *ticket_id, int64_t version, ProtobufCMessage *ev,
			   hl_error *err) HL_MUST_CHECK;

#endif
