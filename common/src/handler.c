/*
 * handler.c - helpers every service's handlers share (see handler.h).
 */
#include "hl/handler.h"

#include <string.h>

#include "google/protobuf/timestamp.pb-c.h"
#include "hl/mask.h"
#include "hl/pg.h"
#include "hl/timers.h"

hl_status hl_call_begin(hl_call *c)
{
	hl_error err;
	hl_call_drop_timers(c);
	hl_status st = hl_pg_begin(hl_call_pg(c), hl_call_tenant(c), hl_call_remaining_ms(c), &err);
	return st ? hl_call_fail_err(c, &err) : HL_OK;
}

hl_status hl_call_commit(hl_call *c)
{
	hl_error err;
	hl_status st = hl_pg_commit(hl_call_pg(c), &err);
	if (st) {
		hl_call_drop_timers(c);
		return hl_call_fail_err(c, &err);
	}
	hl_call_push_timers(c);
	return HL_OK;
}

hl_status hl_call_timers_put(hl_call *c, const hl_timer_item *items, size_t n, hl_error *err)
{
	const char *tenant = hl_call_principal(c)->tenant;
	hl_status st = hl_timers_put(hl_call_pg(c), hl_call_arena(c), tenant, items, n, err);
	for (size_t i = 0; !st && i < n; i++)
		hl_call_queue_timer(c, tenant, items[i].key, items[i].due_ms);
	return st;
}

hl_status hl_call_enqueue(hl_call *c, const hl_enqueue_row *row, const ProtobufCMessage *msg)
{
	hl_error err;
	if (!row->idempotency_key)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	return hl_enqueue(hl_call_pg(c), hl_call_arena(c), row, msg, &err) ? hl_call_fail_err(c, &err) : HL_OK;
}

bool hl_call_has_any(const hl_call *c, const char *const *roles)
{
	for (const char *const *r = roles; *r; r++)
		if (hl_call_has_role(c, *r))
			return true;
	return false;
}

hl_status hl_call_require_any(hl_call *c, const char *const *roles)
{
	if (hl_call_has_any(c, roles))
		return HL_OK;
	return hl_call_fail(c, HL_DENIED, "role %s%s required", roles[0], roles[1] ? " (or another listed role)" : "");
}

hl_status hl_call_check_text(hl_call *c, const char *field, const char *v, size_t max_chars, bool required)
{
	size_t n = hl_utf8_length(v, strlen(v));
	if (required && n == 0)
		return hl_call_fail(c, HL_INVALID, "%s: required", field);
	if (n > max_chars)
		return hl_call_fail(c, HL_INVALID, "%s: too long (%zu characters, max %zu)", field, n, max_chars);
	return HL_OK;
}

hl_status hl_call_check_request_id(hl_call *c, const char *v)
{
	size_t n = strlen(v);
	if (n > 128)
		return hl_call_fail(c, HL_INVALID, "request_id: too long (max 128)");
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x21 || v[i] > 0x7e)
			return hl_call_fail(c, HL_INVALID, "request_id: printable ASCII only");
	return HL_OK;
}

void *hl_call_timestamp(hl_call *c, int64_t us)
{
	Google__Protobuf__Timestamp *ts = HL_NEW(c, google__protobuf__timestamp__descriptor);
	if (ts) {
		ts->seconds = us / 1000000;
		ts->nanos = (int32_t)(us % 1000000) * 1000;
	}
	return ts;
}

void *hl_timestamp_new(hl_arena *a, int64_t us)
{
	Google__Protobuf__Timestamp *ts = us ? hl_arena_alloc(a, sizeof *ts) : NULL;
	if (ts) {
		google__protobuf__timestamp__init(ts);
		ts->seconds = us / 1000000;
		ts->nanos = (int32_t)(us % 1000000) * 1000;
	}
	return ts;
}

int64_t hl_timestamp_us(const void *p)
{
	const Google__Protobuf__Timestamp *ts = p;
	return ts ? ts->seconds * 1000000 + ts->nanos / 1000 : 0;
}
