/*
 * enqueue.c - outbox rows written in the caller's transaction (see enqueue.h).
 */
#include "hl/enqueue.h"

#include <time.h>

#include "google/protobuf/timestamp.pb-c.h"
#include "hl/crypto.h"
#include "hotline/common/v1/common.pb-c.h"
#include "hotline/reporting/v1/reporting.pb-c.h"

static const char SQL_OUTBOX_INSERT[] =
	"INSERT INTO outbox (tenant_id, subject_id, target, method, idempotency_key, actor, payload) "
	"VALUES ($1, $2, $3, $4, $5, $6, $7)";

hl_status hl_enqueue(hl_pg *pg, hl_arena *a, const hl_enqueue_row *row, const ProtobufCMessage *msg, hl_error *err)
{
	size_t n = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = hl_arena_alloc(a, n ? n : 1);
	if (!buf)
		return hl_fail(err, HL_NOMEM, "out of memory");
	protobuf_c_message_pack(msg, buf);
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, row->tenant);
	hl_pg_arg_text(&args, row->subject_id);
	hl_pg_arg_text(&args, row->target);
	hl_pg_arg_text(&args, row->method);
	hl_pg_arg_text(&args, row->idempotency_key);
	hl_pg_arg_text(&args, row->actor);
	hl_pg_arg_bytes(&args, buf, n);
	return hl_pg_exec(pg, a, SQL_OUTBOX_INSERT, &args, NULL, err);
}

hl_status hl_enqueue_event(hl_pg *pg, hl_arena *a, const hl_enqueue_row *row, const char *type, const char *ticket_id,
			   int64_t version, ProtobufCMessage *msg, hl_error *err)
{
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
	r.target = "reporting";
	r.method = "/hotline.reporting.v1.ReportingService/RecordEvents";
	r.idempotency_key = id;
	return hl_enqueue(pg, a, &r, &req.base, err);
}
