/*
 * rpc_create.c - CreateTicket: register a contact (R1-R3, R5, R6, R31).
 *
 * Validate; encrypt the caller data under a fresh per-ticket key (outside
 * the transaction); then register the ticket in one transaction with the
 * tickets other calls are registering at the same moment (group commit,
 * hl/group.h): their numbers (from a sequence, so concurrent registrations
 * never wait for each other) and repeat-caller flags in one round trip, then
 * with the COMMIT, one statement per table for all of them: the tickets and
 * their registration records, the first audit entries, the first public
 * notes, and the outbox rows to dispatch (SubmitTicket, or followup's
 * SampleTicket when answered on the spot) and reporting (the registration
 * event).  A repeated request_id returns the first ticket and its query code
 * when the request is the same (its keyed digest, stored with the ticket),
 * and is refused with INVALID_ARGUMENT when it is not.
 */
#include <string.h>
#include <time.h>

#include "hl/audit.h"
#include "hl/buf.h"
#include "hl/crypto.h"
#include "hl/enqueue.h"
#include "hl/group.h"
#include "hl/handler.h"
#include "hl/limits.h"
#include "hl/mask.h"
#include "hl/roles.h"
#include "hotline/common/v1/common.pb-c.h"
#include "hotline/dispatch/v1/dispatch.pb-c.h"
#include "hotline/followup/v1/followup.pb-c.h"
#include "intake.h"
#include "store.h"

#define QUERY_CODE_LEN 8
#define TABLE "ticket"
/*
 * Tickets registered in one transaction at most, and transactions of them at once.  One at a
 * time: at 1,000 registrations/s two made groups of half the size (1.8 tickets against 3.2) and
 * PostgreSQL spent a quarter more CPU per ticket on their statements and commits.
 */
#define INTAKE_GROUP_MAX 64
#define INTAKE_GROUP_LEADERS 1

static const char *const create_roles[] = {HL_ROLE_AGENT, HL_ROLE_TENANT_ADMIN, NULL};

/* Crockford's base32 without look-alikes: what a citizen can read out on the phone. */
static hl_status new_query_code(char out[QUERY_CODE_LEN + 1])
{
	static const char alphabet[] = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
	uint8_t r[QUERY_CODE_LEN];
	hl_status st = hl_random_bytes(r, sizeof r);
	for (int i = 0; i < QUERY_CODE_LEN; i++)
		out[i] = alphabet[r[i] & 31];
	out[QUERY_CODE_LEN] = '\0';
	return st;
}

static bool enum_known(const ProtobufCEnumDescriptor *d, int v)
{
	return v != 0 && protobuf_c_enum_descriptor_get_value(d, v) != NULL;
}

static hl_status validate_caller(hl_call *c, const Hotline__Intake__V1__CreateTicketRequest *r)
{
	const Hotline__Intake__V1__Caller *k = r->caller;
	hl_status st;
	if (!k)
		return r->anonymous ? HL_OK : hl_call_fail(c, HL_INVALID, "caller: required unless anonymous");
	if ((st = hl_call_check_text(c, "caller.name", k->name, 64, false)) ||
	    (st = hl_call_check_text(c, "caller.phone", k->phone, 32, false)) ||
	    (st = hl_call_check_text(c, "caller.id_number", k->id_number, 32, false)) ||
	    (st = hl_call_check_text(c, "caller.address", k->address, 200, false)) ||
	    (st = hl_call_check_text(c, "caller.email", k->email, 128, false)))
		return st;
	if (!r->anonymous && !k->name[0] && !k->phone[0])
		return hl_call_fail(c, HL_INVALID, "caller: name or phone required unless anonymous");
	if (k->email[0] && !strchr(k->email, '@'))
		return hl_call_fail(c, HL_INVALID, "caller.email: not an e-mail address");
	for (const char *p = k->id_number; *p; p++)
		if (!((*p >= '0' && *p <= '9') || *p == 'X' || *p == 'x'))
			return hl_call_fail(c, HL_INVALID, "caller.id_number: digits and X only");
	return HL_OK;
}

static hl_status validate(hl_call *c, const Hotline__Intake__V1__CreateTicketRequest *r)
{
	hl_status st;
	if ((st = hl_call_check_request_id(c, r->request_id)))
		return st;
	if (!enum_known(&hotline__common__v1__channel__descriptor, r->channel))
		return hl_call_fail(c, HL_INVALID, "channel: required, one of the Channel values");
	if (!enum_known(&hotline__common__v1__category__descriptor, r->category))
		return hl_call_fail(c, HL_INVALID, "category: required, one of the Category values");
	if (r->priority && !enum_known(&hotline__common__v1__priority__descriptor, r->priority))
		return hl_call_fail(c, HL_INVALID, "priority: not a Priority value");
	if (r->confidentiality && !enum_known(&hotline__common__v1__confidentiality__descriptor, r->confidentiality))
		return hl_call_fail(c, HL_INVALID, "confidentiality: not a Confidentiality value");
	if ((st = hl_call_check_text(c, "topic", r->topic, HL_LIMIT_TOPIC_CHARS, true)) ||
	    (st = hl_call_check_text(c, "description", r->description, HL_LIMIT_DESCRIPTION_CHARS, false)) ||
	    (st = hl_call_check_text(c, "area", r->area, HL_LIMIT_AREA_CHARS, false)) ||
	    (st = hl_call_check_text(c, "answer", r->answer, HL_LIMIT_ANSWER_CHARS, false)))
		return st;
	if (r->answer_on_spot && r->category != HOTLINE__COMMON__V1__CATEGORY__CATEGORY_CONSULTATION)
		return hl_call_fail(c, HL_INVALID, "answer_on_spot: only consultations are answered on the spot");
	if (r->answer_on_spot && !r->answer[0])
		return hl_call_fail(c, HL_INVALID, "answer: required when answer_on_spot");
	if (!r->answer_on_spot && r->answer[0])
		return hl_call_fail(c, HL_INVALID, "answer: only with answer_on_spot");
	if (r->n_implicated_department_ids > 16)
		return hl_call_fail(c, HL_INVALID, "implicated_department_ids: at most 16");
	for (size_t i = 0; i < r->n_implicated_department_ids; i++)
		if ((st = hl_call_check_text(c, "implicated_department_ids", r->implicated_department_ids[i], 64, true)))
			return st;
	return validate_caller(c, r);
}

static const char *caller_value(const Hotline__Intake__V1__Caller *k, int f)
{
	if (!k)
		return "";
	const char *v[F_COUNT] = {k->name, k->phone, k->id_number, k->address, k->email};
	return v[f];
}

hl_status intake_mask_field(int f, const char *v, hl_arena *a, char **out, hl_error *err)
{
	switch (f) {
	case F_NAME:
		return hl_mask_name(v, a, out, err);
	case F_PHONE:
		return hl_mask_phone(v, a, out, err);
	case F_ID_NUMBER:
		return hl_mask_id_number(v, a, out, err);
	case F_ADDRESS:
		return hl_mask_address(v, a, out, err);
	default:
		return hl_mask_email(v, a, out, err);
	}
}

hl_status intake_seal_field(hl_call *c, const intake_ticket *t, const uint8_t dek[32], int f, const char *value,
			    intake_blob *cipher, const char **masked)
{
	hl_arena *a = hl_call_arena(c);
	hl_error err;
	uint8_t *ct;
	size_t n;
	char *m;
	*cipher = (intake_blob){NULL, 0};
	*masked = "";
	if (!value[0])
		return HL_OK;
	if (hl_field_seal(dek, t->tenant, TABLE, intake_caller_fields[f], t->id, value, a, &ct, &n, &err) ||
	    intake_mask_field(f, value, a, &m, &err))
		return hl_call_fail(c, HL_INTERNAL, "cannot protect caller data");
	*cipher = (intake_blob){ct, n};
	*masked = m;
	return HL_OK;
}

hl_status intake_phone_index(hl_call *c, const char *period, const char *phone, const char **index)
{
	intake_app *app = hl_call_app(c);
	hl_arena *a = hl_call_arena(c);
	hl_error err;
	char *norm;
	*index = NULL;
	if (!phone[0])
		return HL_OK;
	if (hl_phone_normalize(phone, a, &norm, &err))
		return hl_call_fail(c, HL_INVALID, "caller.phone: %s", err.msg);
	char hex[HL_BLIND_INDEX_HEX_LEN];
	hl_status st = hl_keyring_period_index(app->keys, hl_call_tenant(c), period, norm, hex, &err);
	if (st == HL_NOT_FOUND)
		return hl_call_fail(c, HL_PRECONDITION, "caller data destroyed with its retention period");
	if (st)
		return hl_call_fail(c, HL_INTERNAL, "cannot index phone");
	*index = hl_arena_printf(a, "v2:%s", hex);
	return *index ? HL_OK : hl_call_fail(c, HL_NOMEM, "out of memory");
}

static const char *retention_period(hl_call *c)
{
	intake_app *app = hl_call_app(c);
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	return hl_arena_printf(hl_call_arena(c), "%d", tm.tm_year + 1900 + app->retention_years);
}

static hl_status protect(hl_call *c, const Hotline__Intake__V1__CreateTicketRequest *r, intake_ticket *t,
			 const char *query_code)
{
	intake_app *app = hl_call_app(c);
	hl_arena *a = hl_call_arena(c);
	hl_error err;
	uint8_t dek[32], *wrapped, *qc;
	size_t wlen, qlen;
	t->key_period = retention_period(c);
	if (hl_keyring_new_data_key(app->keys, t->tenant, t->key_period, t->id, dek, a, &wrapped, &wlen, &err))
		return hl_call_fail(c, HL_INTERNAL, "cannot create the ticket's data key");
	t->wrapped_key = (intake_blob){wrapped, wlen};
	hl_status st = HL_OK;
	for (int f = 0; f < F_COUNT && !st; f++)
		st = intake_seal_field(c, t, dek, f, caller_value(r->caller, f), &t->caller[f], &t->masked[f]);
	if (!st && hl_field_seal(dek, t->tenant, TABLE, "query_code", t->id, query_code, a, &qc, &qlen, &err))
		st = hl_call_fail(c, HL_INTERNAL, "cannot protect the query code");
	t->query_code = (intake_blob){qc, qlen};
	hl_cleanse(dek, sizeof dek);
	const char *phone = caller_value(r->caller, F_PHONE);
	if (st || (st = intake_phone_index(c, t->key_period, phone, &t->phone_index)) || !t->phone_index)
		return st;
	intake_phone_keys *keys = hl_arena_alloc(a, sizeof *keys);
	if (!keys)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	t->phone_keys = keys;
	return intake_phone_keys_of(c, phone, keys);
}

static int default_confidentiality(int category, int requested)
{
	if (requested)
		return requested;
	return category == HOTLINE__COMMON__V1__CATEGORY__CATEGORY_REPORT
		       ? HOTLINE__COMMON__V1__CONFIDENTIALITY__CONFIDENTIALITY_CONFIDENTIAL
		       : HOTLINE__COMMON__V1__CONFIDENTIALITY__CONFIDENTIALITY_INTERNAL;
}

static hl_status fill_ticket(hl_call *c, const Hotline__Intake__V1__CreateTicketRequest *r, intake_ticket *t)
{
	char id[HL_UUID_STR_LEN];
	if (hl_uuid_v7(id))
		return hl_call_fail(c, HL_INTERNAL, "cannot make an id");
	hl_arena *a = hl_call_arena(c);
	t->tenant = hl_call_tenant(c);
	t->id = hl_arena_strdup(a, id);
	t->request_id = r->request_id[0] ? r->request_id : NULL;
	if (t->request_id) {
		Hotline__Intake__V1__CreateTicketRequest body = *r;
		body.request_id = "";
		hl_status st = intake_request_digest(c, "CreateTicket", &body.base, &t->request_digest);
		if (st)
			return st;
	}
	t->implicated = (const char *const *)r->implicated_department_ids;
	t->n_implicated = r->n_implicated_department_ids;
	t->status = r->answer_on_spot ? HOTLINE__COMMON__V1__TICKET_STATUS__TICKET_STATUS_ANSWERED_ON_SPOT
				      : HOTLINE__COMMON__V1__TICKET_STATUS__TICKET_STATUS_REGISTERED;
	t->status_version = 1;
	t->channel = r->channel;
	t->category = r->category;
	t->priority = r->priority ? r->priority : HOTLINE__COMMON__V1__PRIORITY__PRIORITY_GENERAL;
	t->confidentiality = default_confidentiality(r->category, r->confidentiality);
	t->topic = r->topic;
	t->description = r->description;
	t->area = r->area;
	t->answer = r->answer;
	t->anonymous = r->anonymous;
	t->registered_by = hl_call_principal(c)->actor;
	return HL_OK;
}

/* ---- outbox ------------------------------------------------------------------ */

static hl_status outbox_add(hl_enqueue_batch *b, hl_call *c, const intake_ticket *t,
			    const ProtobufCServiceDescriptor *service, const char *method, const char *suffix,
			    const ProtobufCMessage *msg, hl_error *err)
{
	const char *key = hl_arena_printf(b->a, "%s:%s", t->id, suffix);
	if (!key)
		return hl_fail(err, HL_NOMEM, "out of memory");
	hl_enqueue_row row = {t->tenant, t->id, service, method, key, hl_call_principal(c)->actor};
	return hl_enqueue_batch_add(b, &row, msg, err);
}

static hl_status outbox_dispatch(hl_enqueue_batch *b, hl_call *c, const intake_ticket *t, hl_error *err)
{
	Hotline__Dispatch__V1__SubmitTicketRequest m = HOTLINE__DISPATCH__V1__SUBMIT_TICKET_REQUEST__INIT;
	m.ticket_id = (char *)t->id;
	m.ticket_no = (char *)t->ticket_no;
	m.channel = t->channel;
	m.category = t->category;
	m.topic = (char *)t->topic;
	m.description = (char *)t->description;
	m.area = (char *)t->area;
	m.priority = t->priority;
	m.registered_at = hl_call_timestamp(c, t->created_us);
	m.registered_by = (char *)t->registered_by;
	m.implicated_department_ids = (char **)t->implicated;
	m.n_implicated_department_ids = t->n_implicated;
	if (!m.registered_at)
		return hl_fail(err, HL_NOMEM, "out of memory");
	return outbox_add(b, c, t, &hotline__dispatch__v1__dispatch_service__descriptor, "SubmitTicket", "submit",
			  &m.base, err);
}

/* A ticket answered on the spot is closed at once: followup may draw it for a satisfaction visit. */
static hl_status outbox_followup(hl_enqueue_batch *b, hl_call *c, const intake_ticket *t, hl_error *err)
{
	Hotline__Followup__V1__SampleTicketRequest m = HOTLINE__FOLLOWUP__V1__SAMPLE_TICKET_REQUEST__INIT;
	m.ticket_id = (char *)t->id;
	m.ticket_no = (char *)t->ticket_no;
	m.category = t->category;
	m.reason = (char *)"answered_on_spot";
	return outbox_add(b, c, t, &hotline__followup__v1__follow_up_service__descriptor, "SampleTicket", "sample",
			  &m.base, err);
}

hl_status intake_outbox_event(hl_call *c, const intake_ticket *t, const char *type, int64_t version,
			      const ProtobufCMessage *payload_owner)
{
	hl_enqueue_row row = {.tenant = t->tenant, .subject_id = t->id, .actor = hl_call_principal(c)->actor};
	hl_error err;
	if (hl_enqueue_event(hl_call_pg(c), hl_call_arena(c), &row, type, t->id, version,
			     (ProtobufCMessage *)payload_owner, &err))
		return hl_call_fail_err(c, &err);
	return HL_OK;
}

static bool on_spot(const intake_ticket *t)
{
	return t->status == HOTLINE__COMMON__V1__TICKET_STATUS__TICKET_STATUS_ANSWERED_ON_SPOT;
}

static hl_status outbox_registered(hl_enqueue_batch *b, hl_call *c, const intake_ticket *t, hl_error *err)
{
	Hotline__Common__V1__TicketRegistered p = HOTLINE__COMMON__V1__TICKET_REGISTERED__INIT;
	p.ticket_no = (char *)t->ticket_no;
	p.channel = t->channel;
	p.category = t->category;
	p.priority = t->priority;
	p.area = (char *)t->area;
	p.anonymous = t->anonymous;
	p.repeat_caller = t->repeat_caller;
	p.status = t->status;
	p.registered_by = (char *)t->registered_by;
	p.topic = (char *)t->topic;
	Hotline__Common__V1__Event ev = HOTLINE__COMMON__V1__EVENT__INIT;
	ev.payload_case = HOTLINE__COMMON__V1__EVENT__PAYLOAD_TICKET_REGISTERED;
	ev.ticket_registered = &p;
	hl_enqueue_row row = {.tenant = t->tenant, .subject_id = t->id, .actor = hl_call_principal(c)->actor};
	return hl_enqueue_batch_add_event(b, &row, on_spot(t) ? "ticket.answered_on_spot" : "ticket.registered", t->id,
					  1, &ev.base, err);
}

/* ---- the transaction: tickets registered together (hl/group.h) ---------------------- */

static const char *audit_details(hl_arena *a, const intake_ticket *t)
{
	hl_buf b = HL_BUF_INIT;
	hl_buf_printf(&b, "{\"ticket_no\":\"%s\",\"status\":%d,\"channel\":%d,\"category\":%d,\"priority\":%d,"
			  "\"request_id\":",
		      t->ticket_no, t->status, t->channel, t->category, t->priority);
	hl_buf_json_string(&b, t->request_id ? t->request_id : "");
	hl_buf_puts(&b, "}");
	const char *s = hl_buf_failed(&b) ? NULL : hl_arena_strdup(a, b.data);
	hl_buf_release(&b);
	return s;
}

/* A ticket whose phone an earlier ticket of the same group has: a repeat caller too. */
static void repeats_within(intake_ticket *const *t, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = 0; j < i && t[i]->phone_index && !t[i]->repeat_caller; j++)
			t[i]->repeat_caller = t[j]->phone_index && strcmp(t[i]->phone_index, t[j]->phone_index) == 0;
}

/* The first audit entry, public note and outbox rows of every ticket (deferred). */
static hl_status write_companions(hl_pg *pg, hl_arena *a, hl_group_item **items, intake_ticket *const *t, int n,
				  hl_error *err)
{
	hl_audit_entry *audit = hl_arena_alloc(a, (size_t)n * sizeof *audit);
	const char **notes = hl_arena_alloc(a, (size_t)n * sizeof *notes);
	if (!audit || !notes)
		return hl_fail(err, HL_NOMEM, "out of memory");
	hl_enqueue_batch outbox;
	hl_enqueue_batch_init(&outbox, a);
	hl_status st = HL_OK;
	for (int i = 0; i < n && !st; i++) {
		hl_call *c = items[i]->call;
		audit[i] = (hl_audit_entry){.tenant = t[i]->tenant, .subject_type = "ticket", .subject_id = t[i]->id,
					    .actor = t[i]->registered_by,
					    .action = on_spot(t[i]) ? "ticket.answer_on_spot" : "ticket.create",
					    .details = audit_details(a, t[i])};
		notes[i] = on_spot(t[i]) ? "已现场答复 answered on the spot" : "已受理 registered";
		if (!audit[i].details)
			st = hl_fail(err, HL_NOMEM, "out of memory");
		else if (!(st = on_spot(t[i]) ? outbox_followup(&outbox, c, t[i], err)
					      : outbox_dispatch(&outbox, c, t[i], err)))
			st = outbox_registered(&outbox, c, t[i], err);
	}
	if (st || (st = hl_audit_append_new(pg, a, audit, n, err)) ||
	    (st = store_first_notes(pg, a, t, notes, n, err)))
		return st;
	return hl_enqueue_batch_write(pg, &outbox, err);
}

/*
 * The group's run (hl/group.h): the tickets of items[], all of one tenant, in one transaction on the
 * leader's connection - two round trips (numbers and repeat callers; the writes with the COMMIT)
 * and one statement per table, whatever their number.
 */
static hl_status register_group(hl_call *leader, hl_group_item **items, int n)
{
	intake_app *app = hl_call_app(leader);
	hl_pg *pg = hl_call_pg(leader);
	hl_arena *a = hl_call_arena(leader);
	intake_ticket **t = hl_arena_alloc(a, (size_t)n * sizeof *t);
	hl_error err;
	hl_status st;
	if (!t)
		st = hl_fail(&err, HL_NOMEM, "out of memory");
	else {
		for (int i = 0; i < n; i++)
			t[i] = items[i]->work;
		st = hl_pg_begin(pg, t[0]->tenant, hl_call_remaining_ms(leader), &err);
	}
	if (!st && !(st = store_tickets_open(pg, a, t, n, app->time_zone, &err))) {
		repeats_within(t, n);
		if (!(st = store_tickets_insert(pg, a, t, n, &err)) && !(st = write_companions(pg, a, items, t, n, &err)))
			st = hl_pg_commit(pg, &err);
	}
	if (st) {
		hl_pg_rollback(pg);
		/* a deferred write's unique violation comes back ABORTED, naming its key */
		if (st == HL_ABORTED && store_request_taken(pg))
			st = HL_EXISTS; /* the same request_id, registered before or concurrently */
		if (n == 1)
			items[0]->st = st == HL_EXISTS ? st : hl_call_fail_err(items[0]->call, &err);
		return st;
	}
	/* the leader's arena may be gone before a waiting call answers: its ticket number goes into its own */
	for (int i = 0; i < n; i++) {
		t[i]->ticket_no = hl_arena_strdup(hl_call_arena(items[i]->call), t[i]->ticket_no);
		items[i]->st = t[i]->ticket_no ? HL_OK : hl_call_fail(items[i]->call, HL_NOMEM, "out of memory");
	}
	return HL_OK;
}

hl_group *intake_registrations_new(void)
{
	return hl_group_new(INTAKE_GROUP_LEADERS, INTAKE_GROUP_MAX, register_group);
}

/* Register t: with the tickets other calls are registering at the same moment, if any. */
static hl_status register_ticket(hl_call *c, intake_ticket *t)
{
	intake_app *app = hl_call_app(c);
	return hl_group_submit(app->registrations, c, t->tenant, t);
}

static hl_status respond(hl_call *c, const intake_ticket *t, const char *query_code, void **resp)
{
	Hotline__Intake__V1__CreateTicketResponse *out =
		HL_NEW(c, hotline__intake__v1__create_ticket_response__descriptor);
	if (!out || !(out->ticket = intake_ticket_msg(c, t)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	out->query_code = (char *)query_code;
	*resp = out;
	return HL_OK;
}

/* The first result of a repeated request_id, with its query code. */
static hl_status replay(hl_call *c, const intake_ticket *t, void **resp)
{
	uint8_t dek[32];
	char *code;
	hl_error err;
	hl_status st = intake_unwrap_key(c, t, dek);
	if (st)
		return st;
	st = hl_field_open(dek, t->tenant, TABLE, "query_code", t->id, t->query_code.p, t->query_code.n,
			   hl_call_arena(c), &code, NULL, &err);
	hl_cleanse(dek, sizeof dek);
	if (st)
		return hl_call_fail(c, HL_DATA_LOSS, "cannot read the query code: the stored field was altered");
	return respond(c, t, code, resp);
}

static hl_status find_replay(hl_call *c, const char *request_id, intake_ticket **t)
{
	hl_error err;
	hl_status st = hl_call_begin(c);
	if (st)
		return st;
	st = store_ticket_by_request(hl_call_pg(c), hl_call_arena(c), request_id, t, &err);
	hl_pg_rollback(hl_call_pg(c));
	return st ? hl_call_fail_err(c, &err) : HL_OK;
}

hl_status intake_create_ticket(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Intake__V1__CreateTicketRequest *r = vreq;
	hl_status st;
	if ((st = hl_call_require_any(c, create_roles)) || (st = validate(c, r)))
		return st;
	/* a repeated request_id is found by the insert's unique key: no read before every registration */
	intake_ticket *t = hl_arena_alloc(hl_call_arena(c), sizeof *t);
	char code[QUERY_CODE_LEN + 1];
	if (!t)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if ((st = fill_ticket(c, r, t)))
		return st;
	if (new_query_code(code))
		return hl_call_fail(c, HL_INTERNAL, "cannot make a query code");
	if ((st = protect(c, r, t, code)))
		return st;
	st = register_ticket(c, t);
	if (st == HL_EXISTS) { /* the same request_id, registered before or concurrently */
		intake_ticket *prior = NULL;
		if ((st = find_replay(c, r->request_id, &prior)))
			return st;
		if (!prior)
			return hl_call_fail(c, HL_ABORTED, "concurrent registration, retry");
		return (st = intake_same_request(c, prior->request_digest, t->request_digest)) ? st
											 : replay(c, prior, resp);
	}
	if (st)
		return st;
	return respond(c, t, hl_arena_strdup(hl_call_arena(c), code), resp);
}
