/*
 * enqueue.c - outbox rows written in the caller's transaction (see enqueue.h).
 */
#include "hl/enqueue.h"

#include <string.h>
#include <time.h>

#include "google/protobuf/timestamp.pb-c.h"
#include "hl/crypto.h"
#include "hotline/common/v1/common.pb-c.h"
#include "hotline/reporting/v1/reporting.pb-c.h"

/*
 * One statement for any number of rows (hl/pg.h, hl_pg_rows).  The events a
 * transaction queues for one subject (same tenant and actor) become one row
 * of up to EVENTS_PER_ROW events: RecordEventsRequest has only its repeated
 * events field, so the serialized requests laid end to end are the request
 * with all their events, in the order they were queued.  The row keeps the
 * first event's id as its key and the place of the first event among the
 * transaction's rows; every other row is written as it came.  One row
 * instead of several is one insert, claim and mark instead of several, and
 * a subject's next event no longer waits in the outbox behind its first.
 */
#define EVENTS_PER_ROW "100" /* well under reporting's 500 per call, so merged rows still merge in the relay */
static const char SQL_OUTBOX_INSERT[] =
	"INSERT INTO outbox (tenant_id, subject_id, target, method, idempotency_key, actor, payload) "
	"SELECT t, s, g, m, (array_agg(k ORDER BY o))[1], a, string_agg(p, ''::bytea ORDER BY o) "
	"FROM (SELECT u.*, CASE WHEN m = '" HL_ENQUEUE_RECORD_EVENTS "' "
	"THEN (row_number() OVER (PARTITION BY t, s, g, m, a ORDER BY o) - 1) / " EVENTS_PER_ROW " ELSE -o END AS part "
	"FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[]) "
	"WITH ORDINALITY AS u(t, s, g, m, k, a, p, o)) x "
	"GROUP BY t, s, g, m, a, part ORDER BY min(o)";
enum { OUTBOX_COLUMNS = 7 };

void hl_enqueue_batch_init(hl_enqueue_batch *b, hl_arena *a)
{
	b->a = a;
	hl_pg_rows_init(&b->rows, a, OUTBOX_COLUMNS);
}

hl_status hl_enqueue_batch_add_raw(hl_enqueue_batch *b, const hl_enqueue_row *row, const char *target,
				   const char *path, const ProtobufCMessage *msg, hl_error *err)
{
	size_t n = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = hl_arena_alloc(b->a, n ? n : 1);
	if (!buf)
		return hl_fail(err, HL_NOMEM, "out of memory");
	protobuf_c_message_pack(msg, buf);
	hl_pg_rows_text(&b->rows, row->tenant);
	hl_pg_rows_text(&b->rows, row->subject_id);
	hl_pg_rows_text(&b->rows, target);
	hl_pg_rows_text(&b->rows, path);
	hl_pg_rows_text(&b->rows, row->idempotency_key);
	hl_pg_rows_text(&b->rows, row->actor);
	hl_pg_rows_bytes(&b->rows, buf, n);
	return b->rows.failed ? hl_fail(err, HL_NOMEM, "out of memory") : HL_OK;
}

hl_status hl_enqueue_batch_write(hl_pg *pg, hl_enqueue_batch *b, hl_error *err)
{
	/* nothing reads the outbox back in the writing transaction: all its rows go with the COMMIT */
	return hl_pg_rows_count(&b->rows) ? hl_pg_rows_at_commit(pg, SQL_OUTBOX_INSERT, &b->rows, err) : HL_OK;
}

hl_status hl_enqueue_raw(hl_pg *pg, hl_arena *a, const hl_enqueue_row *row, const char *target, const char *path,
			 const ProtobufCMessage *msg, hl_error *err)
{
	hl_enqueue_batch b;
	hl_enqueue_batch_init(&b, a);
	hl_status st = hl_enqueue_batch_add_raw(&b, row, target, path, msg, err);
	return st ? st : hl_enqueue_batch_write(pg, &b, err);
}

/* "intake" of the package "hotline.intake.v1" (arena memory), NULL if the package is not ours. */
static char *target_of(hl_arena *a, const ProtobufCServiceDescriptor *sd)
{
	static const char prefix[] = "hotline.";
	if (strncmp(sd->package, prefix, sizeof prefix - 1) != 0)
		return NULL;
	const char *name = sd->package + sizeof prefix - 1, *dot = strchr(name, '.');
	return dot && dot > name ? hl_arena_strndup(a, name, (size_t)(dot - name)) : NULL;
}

hl_status hl_enqueue_batch_add(hl_enqueue_batch *b, const hl_enqueue_row *row, const ProtobufCMessage *msg,
			       hl_error *err)
{
	const ProtobufCServiceDescriptor *sd = row->service;
	const ProtobufCMethodDescriptor *md = sd ? protobuf_c_service_descriptor_get_method_by_name(sd, row->method) : NULL;
	if (!md)
		return hl_fail(err, HL_INTERNAL, "outbox: %s has no method %s", sd ? sd->name : "(no service)",
			       row->method ? row->method : "(none)");
	if (msg->descriptor != md->input)
		return hl_fail(err, HL_INTERNAL, "outbox: %s takes %s, not %s", row->method, md->input->name,
			       msg->descriptor->name);
	char *target = target_of(b->a, sd), *path = hl_arena_printf(b->a, "/%s/%s", sd->name, md->name);
	if (!target || !path)
		return hl_fail(err, target ? HL_NOMEM : HL_INTERNAL, "outbox: no target for %s", sd->name);
	return hl_enqueue_batch_add_raw(b, row, target, path, msg, err);
}

hl_status hl_enqueue(hl_pg *pg, hl_arena *a, const hl_enqueue_row *row, const ProtobufCMessage *msg, hl_error *err)
{
	hl_enqueue_batch b;
	hl_enqueue_batch_init(&b, a);
	hl_status st = hl_enqueue_batch_add(&b, row, msg, err);
	return st ? st : hl_enqueue_batch_write(pg, &b, err);
}

hl_status hl_enqueue_batch_add_event(hl_enqueue_batch *b, const hl_enqueue_row *row, const char *type,
				     const char *ticket_id, int64_t version, ProtobufCMessage *msg, hl_error *err)
{
	hl_arena *a = b->a;
	Hotline__Common__V1__Event *ev = (Hotline__Common__V1__Event *)msg;
	char *id = hl_arena_alloc(a, HL_UUID_STR_LEN);
	Google__Protobuf__Timestamp *ts = hl_arena_alloc(a, sizeof *ts);
	if (!id || !ts)
		return hl_fail(err, HL_NOMEM, "out of memory");
	if (hl_uuid_v7(id))
		return hl_fail(err, HL_INTERNAL, "cannot make an event id");
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	google__protobuf__timestamp__init(ts);
	ts->seconds = now.tv_sec;
	ts->nanos = (int32_t)(now.tv_nsec / 1000 * 1000);
	ev->event_id = id;
	ev->tenant = (char *)row->tenant;
	ev->type = (char *)type;
	ev->ticket_id = (char *)ticket_id;
	ev->occurred_at = ts;
	ev->actor = (char *)row->actor;
	ev->version = version;
	Hotline__Reporting__V1__RecordEventsRequest req = HOTLINE__REPORTING__V1__RECORD_EVENTS_REQUEST__INIT;
	req.n_events = 1;
	req.events = &ev;
	hl_enqueue_row r = *row;
	r.service = &hotline__reporting__v1__reporting_service__descriptor;
	r.method = "RecordEvents";
	r.idempotency_key = id;
	return hl_enqueue_batch_add(b, &r, &req.base, err);
}

hl_status hl_enqueue_event(hl_pg *pg, hl_arena *a, const hl_enqueue_row *row, const char *type, const char *ticket_id,
			   int64_t version, ProtobufCMessage *ev, hl_error *err)
{
	hl_enqueue_batch b;
	hl_enqueue_batch_init(&b, a);
	hl_status st = hl_enqueue_batch_add_event(&b, row, type, ticket_id, version, ev, err);
	return st ? st : hl_enqueue_batch_write(pg, &b, err);
}
