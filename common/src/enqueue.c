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
 * One statement for any number of rows (hl/pg.h, hl_pg_rows), written with
 * the COMMIT.  The events a transaction queues for one subject (same tenant,
 * target and actor) become one row of up to EVENTS_PER_ROW events
 * (hl_enqueue_fold_events, as the rows go): RecordEventsRequest has only its repeated
 * events field, so the serialized requests laid end to end are the request
 * with all their events, in the order they were queued.  The row keeps the
 * first event's key and the place of the first event among the
 * transaction's rows; every other row is written as it came.  One row
 * instead of several is one insert, claim and mark instead of several, and a
 * subject's next event no longer waits in the outbox behind its first.  (The
 * merge was SQL, a window and string_agg over the arrays: that doubled the
 * insert's cost.)
 */
#define EVENTS_PER_ROW 100 /* well under reporting's 500 per call, so merged rows still merge in the relay */
static const char SQL_OUTBOX_INSERT[] =
	"INSERT INTO outbox (tenant_id, subject_id, target, method, idempotency_key, actor, payload) "
	"SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[])";
enum { COL_TENANT, COL_SUBJECT, COL_TARGET, COL_METHOD, COL_KEY, COL_ACTOR, COL_PAYLOAD, OUTBOX_COLUMNS };

/* The rows' merged output: for each output row, the input row it starts at, its members and hex digits. */
struct fold {
	int n_out;
	int *first, *members, *group_of; /* group_of: per input row */
	size_t *hex, *digits;            /* digits: per input row, its payload's hex digits */
	int *table, mask; /* open event groups by (tenant, subject, target, actor): output rows, -1 free */
};

/* (A row with a NULL where the outbox has none stays as it is: the insert names the column.) */
static bool is_event_row(const char *const *v)
{
	return v[COL_METHOD] && strcmp(v[COL_METHOD], HL_ENQUEUE_RECORD_EVENTS) == 0 && v[COL_TENANT] &&
	       v[COL_SUBJECT] && v[COL_TARGET] && v[COL_ACTOR] && v[COL_PAYLOAD] && strncmp(v[COL_PAYLOAD], "\\x", 2) == 0;
}

/* (The actor is left out: a subject's events by two actors share a probe sequence.) */
static uint64_t group_hash(const char *const *v)
{
	static const int cols[] = {COL_TENANT, COL_SUBJECT, COL_TARGET};
	uint64_t h = 1469598103934665603ull;
	for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++)
		for (const unsigned char *p = (const unsigned char *)v[cols[c]];; p++) {
			h = (h ^ *p) * 1099511628211ull;
			if (!*p)
				break;
		}
	return h;
}

static bool same_group(const char *const *x, const char *const *y)
{
	return !strcmp(x[COL_TENANT], y[COL_TENANT]) && !strcmp(x[COL_SUBJECT], y[COL_SUBJECT]) &&
	       !strcmp(x[COL_TARGET], y[COL_TARGET]) && !strcmp(x[COL_ACTOR], y[COL_ACTOR]);
}

/* Input row i's output row: the open group of its subject's events, or a new one. */
static void place_row(struct fold *f, const char *const *rows, int i)
{
	const char *const *v = rows + (size_t)i * OUTBOX_COLUMNS;
	int *slot = NULL;
	f->digits[i] = v[COL_PAYLOAD] ? strlen(v[COL_PAYLOAD]) - 2 : 0;
	if (is_event_row(v)) {
		for (size_t h = group_hash(v);; h++) {
			slot = &f->table[h & (size_t)f->mask];
			if (*slot < 0 || same_group(rows + (size_t)f->first[*slot] * OUTBOX_COLUMNS, v))
				break;
		}
		if (*slot >= 0 && f->members[*slot] < EVENTS_PER_ROW) {
			f->group_of[i] = *slot;
			f->members[*slot]++;
			f->hex[*slot] += f->digits[i];
			return;
		}
	}
	int g = f->n_out++;
	f->first[g] = i;
	f->members[g] = 1;
	f->hex[g] = f->digits[i];
	f->group_of[i] = g;
	if (slot)
		*slot = g; /* a full group stays as it is: the subject's next events open this one */
}

/* The payload of output row g: "\x" and its members' digits in the order they came. */
static hl_status merge_payloads(hl_pg_rows *r, struct fold *f, hl_error *err)
{
	char **out = hl_arena_alloc(r->ar, (size_t)f->n_out * sizeof *out);
	size_t *at = hl_arena_alloc(r->ar, (size_t)f->n_out * sizeof *at);
	if (!out || !at)
		return hl_fail(err, HL_NOMEM, "out of memory");
	for (int g = 0; g < f->n_out; g++) {
		out[g] = NULL;
		if (f->members[g] > 1 && !(out[g] = hl_arena_alloc(r->ar, f->hex[g] + 3)))
			return hl_fail(err, HL_NOMEM, "out of memory");
		if (out[g])
			memcpy(out[g], "\\x", 2);
		at[g] = 2;
	}
	int n = hl_pg_rows_count(r);
	for (int i = 0; i < n; i++) {
		int g = f->group_of[i];
		if (!out[g])
			continue;
		const char *hex = r->v[(size_t)i * OUTBOX_COLUMNS + COL_PAYLOAD] + 2;
		memcpy(out[g] + at[g], hex, f->digits[i] + 1);
		at[g] += f->digits[i];
	}
	/* each output row moves to its place (never after its first input row's) with its merged payload */
	for (int g = 0; g < f->n_out; g++) {
		memmove(r->v + (size_t)g * OUTBOX_COLUMNS, r->v + (size_t)f->first[g] * OUTBOX_COLUMNS,
			OUTBOX_COLUMNS * sizeof *r->v);
		if (out[g])
			r->v[(size_t)g * OUTBOX_COLUMNS + COL_PAYLOAD] = out[g];
	}
	r->n = f->n_out * OUTBOX_COLUMNS;
	return HL_OK;
}

hl_status hl_enqueue_fold_events(hl_pg_rows *r, hl_error *err)
{
	int n = hl_pg_rows_count(r);
	if (n < 2 || r->n % OUTBOX_COLUMNS)
		return HL_OK; /* nothing to merge (a short row fails in hl_pg_rows_args) */
	struct fold f = {.mask = 1};
	while (f.mask < 2 * n)
		f.mask <<= 1;
	f.first = hl_arena_alloc(r->ar, (size_t)n * sizeof *f.first);
	f.members = hl_arena_alloc(r->ar, (size_t)n * sizeof *f.members);
	f.group_of = hl_arena_alloc(r->ar, (size_t)n * sizeof *f.group_of);
	f.hex = hl_arena_alloc(r->ar, (size_t)n * sizeof *f.hex);
	f.digits = hl_arena_alloc(r->ar, (size_t)n * sizeof *f.digits);
	f.table = hl_arena_alloc(r->ar, (size_t)f.mask * sizeof *f.table);
	if (!f.first || !f.members || !f.group_of || !f.hex || !f.digits || !f.table)
		return hl_fail(err, HL_NOMEM, "out of memory");
	memset(f.table, 0xff, (size_t)f.mask * sizeof *f.table);
	f.mask--;
	for (int i = 0; i < n; i++)
		place_row(&f, r->v, i);
	return f.n_out < n ? merge_payloads(r, &f, err) : HL_OK;
}

void hl_enqueue_batch_init(hl_enqueue_batch *b, hl_arena *a)
{
	b->a = a;
	hl_pg_rows_init(&b->rows, a, OUTBOX_COLUMNS);
	b->rows.fold = hl_enqueue_fold_events;
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
