/*
 * rpc_amend.c - AmendTicket (R4: corrections are appended with a reason and
 * an author; the registration record keeps what was first said) and
 * RevealCaller (R5: clear caller data only for pii_reader, with a reason,
 * audited in the same transaction before anything is returned).
 */
#include <stdlib.h>
#include <string.h>

#include "hl/audit.h"
#include "hl/buf.h"
#include "hl/crypto.h"
#include "hl/limits.h"
#include "hl/roles.h"
#include "hotline/common/v1/common.pb-c.h"
#include "intake.h"
#include "store.h"

static const char *const amend_roles[] = {HL_ROLE_AGENT, HL_ROLE_SUPERVISOR, HL_ROLE_TENANT_ADMIN, NULL};


typedef struct amend_field {
	const char *name;
	int caller;                       /* caller field index, or -1 */
	const ProtobufCEnumDescriptor *e; /* enum fields */
	size_t max_chars;
} amend_field;

static const amend_field fields[] = {
	{"topic", -1, NULL, HL_LIMIT_TOPIC_CHARS},
	{"description", -1, NULL, HL_LIMIT_DESCRIPTION_CHARS},
	{"area", -1, NULL, HL_LIMIT_AREA_CHARS},
	{"category", -1, &hotline__common__v1__category__descriptor, 64},
	{"priority", -1, &hotline__common__v1__priority__descriptor, 64},
	{"confidentiality", -1, &hotline__common__v1__confidentiality__descriptor, 64},
	{"caller.name", F_NAME, NULL, 64},
	{"caller.phone", F_PHONE, NULL, 32},
	{"caller.id_number", F_ID_NUMBER, NULL, 32},
	{"caller.address", F_ADDRESS, NULL, 200},
	{"caller.email", F_EMAIL, NULL, 128},
};

/* t exists and the caller may see it (a ticket one may not see answers as an unknown one). */
static bool visible(hl_call *c, const intake_ticket *t)
{
	intake_viewer v;
	intake_viewer_of(c, &v);
	return t && intake_may_see(&v, t);
}

static const amend_field *find_field(const char *name)
{
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (strcmp(fields[i].name, name) == 0)
			return &fields[i];
	return NULL;
}

/* Enum values are given by name ("CATEGORY_COMPLAINT") or number. */
static int enum_value(const ProtobufCEnumDescriptor *e, const char *v)
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(e, v);
	if (!ev) {
		char *end;
		long n = strtol(v, &end, 10);
		if (*v && !*end)
			ev = protobuf_c_enum_descriptor_get_value(e, (int)n);
	}
	return ev ? ev->value : 0;
}

static const char *enum_name(const ProtobufCEnumDescriptor *e, int v)
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(e, v);
	return ev ? ev->name : "";
}

/* The value before the amendment as stored: "" for caller fields (their ciphertexts are kept instead). */
static const char *current_value(const intake_ticket *t, const amend_field *f)
{
	if (f->caller >= 0)
		return "";
	if (f->e)
		return enum_name(f->e, strcmp(f->name, "category") == 0   ? t->category
				       : strcmp(f->name, "priority") == 0 ? t->priority
									  : t->confidentiality);
	return strcmp(f->name, "topic") == 0 ? t->topic : strcmp(f->name, "area") == 0 ? t->area : t->description;
}

static hl_status validate(hl_call *c, const Hotline__Intake__V1__AmendTicketRequest *r, const amend_field **f)
{
	hl_status st;
	if (!hl_uuid_valid(r->id))
		return hl_call_fail(c, HL_INVALID, "id: not a UUID");
	if (!(*f = find_field(r->field)))
		return hl_call_fail(c, HL_INVALID,
				    "field: one of topic, description, area, category, priority, confidentiality, "
				    "caller.name, caller.phone, caller.id_number, caller.address, caller.email");
	if ((st = hl_call_check_text(c, "reason", r->reason, 500, true)) ||
	    (st = hl_call_check_text(c, "new_value", r->new_value, (*f)->max_chars, (*f)->e || !strcmp(r->field, "topic"))) ||
	    (st = hl_call_check_request_id(c, r->request_id)))
		return st;
	if ((*f)->e && !enum_value((*f)->e, r->new_value))
		return hl_call_fail(c, HL_INVALID, "new_value: not a %s value", (*f)->e->short_name);
	return HL_OK;
}

/* The new value as stored: for caller fields, only encrypted (old and new), masked when read. */
static hl_status new_value(hl_call *c, const intake_ticket *t, const amend_field *f, const char *v,
			   store_amendment *am, const char **phone_index)
{
	*phone_index = t->phone_index;
	if (f->caller < 0) {
		am->new_value = f->e ? enum_name(f->e, enum_value(f->e, v)) : v;
		return HL_OK;
	}
	uint8_t dek[32];
	hl_status st = intake_unwrap_key(c, t, dek);
	if (st)
		return st;
	const char *masked;
	st = intake_seal_field(c, t, dek, f->caller, v, &am->new_cipher, &masked);
	hl_cleanse(dek, sizeof dek);
	am->new_value = "";
	am->old_cipher = t->caller[f->caller];
	if (!st && f->caller == F_PHONE)
		st = intake_phone_index(c, t->key_period, v, phone_index);
	return st;
}

static hl_status apply(hl_call *c, const Hotline__Intake__V1__AmendTicketRequest *r, const amend_field *f,
		       intake_ticket *t, store_amendment *am)
{
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	hl_error err;
	const char *phone_index;
	char id[HL_UUID_STR_LEN];
	hl_status st;
	if (t->status == HOTLINE__COMMON__V1__TICKET_STATUS__TICKET_STATUS_ARCHIVED)
		return hl_call_fail(c, HL_PRECONDITION, "archived tickets cannot be amended");
	if (hl_uuid_v7(id))
		return hl_call_fail(c, HL_INTERNAL, "cannot make an id");
	am->id = hl_arena_strdup(a, id);
	am->ticket_id = t->id;
	am->request_id = r->request_id[0] ? r->request_id : NULL;
	am->field = f->name;
	am->old_value = current_value(t, f);
	am->reason = r->reason;
	am->author = hl_call_principal(c)->actor;
	if ((st = new_value(c, t, f, r->new_value, am, &phone_index))) {
		hl_pg_rollback(pg);
		return st;
	}
	hl_buf b = HL_BUF_INIT;
	hl_buf_printf(&b, "{\"amendment_id\":\"%s\",\"field\":\"%s\"}", am->id, f->name);
	const char *details = hl_arena_strdup(a, hl_buf_failed(&b) ? "{}" : b.data);
	hl_buf_release(&b);
	if (store_amendment_insert(pg, a, am, &err) ||
	    store_ticket_set_field(pg, a, t->id, f->name, r->new_value, f->e ? enum_value(f->e, r->new_value) : 0,
				   am->new_cipher, phone_index, &err) ||
	    hl_audit_append(pg, a, t->tenant, "ticket", t->id, am->author, "ticket.amend", details, false, &err))
		return hl_call_fail_err(c, &err);
	return hl_call_commit(c);
}

static hl_status amend_digest(hl_call *c, const Hotline__Intake__V1__AmendTicketRequest *r, const char **digest)
{
	Hotline__Intake__V1__AmendTicketRequest body = *r;
	body.request_id = "";
	return intake_request_digest(c, "AmendTicket", &body.base, digest);
}

/* The amendment a repeated request_id made before (*am NULL: none); a different request is refused. */
static hl_status find_repeat(hl_call *c, const char *request_id, const char *digest, store_amendment **am)
{
	hl_error err;
	if (store_amendment_by_request(hl_call_pg(c), hl_call_arena(c), request_id, am, &err))
		return hl_call_fail_err(c, &err);
	return *am ? intake_same_request(c, (*am)->request_digest, digest) : HL_OK;
}

hl_status intake_amend_ticket(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Intake__V1__AmendTicketRequest *r = vreq;
	const amend_field *f = NULL;
	hl_status st;
	if ((st = hl_call_require_any(c, amend_roles)) || (st = validate(c, r, &f)) || (st = hl_call_begin(c)))
		return st;
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	hl_error err;
	store_amendment *am = NULL;
	intake_ticket *t;
	const char *digest = NULL;
	if (r->request_id[0] && ((st = amend_digest(c, r, &digest)) || (st = find_repeat(c, r->request_id, digest, &am))))
		return st;
	if (!am) {
		if (store_ticket_get(pg, a, r->id, NULL, true, &t, &err))
			return hl_call_fail_err(c, &err);
		if (!visible(c, t))
			return hl_call_fail(c, HL_NOT_FOUND, "ticket not found");
		am = hl_arena_alloc(a, sizeof *am);
		if (!am)
			return hl_call_fail(c, HL_NOMEM, "out of memory");
		am->request_digest = digest;
		if ((st = apply(c, r, f, t, am)))
			return st == HL_EXISTS ? hl_call_fail(c, HL_ABORTED, "concurrent amendment, retry") : st;
		if ((st = hl_call_begin(c)))
			return st;
	}
	/* answer from the committed state (also for a repeated request_id) */
	if (store_ticket_get(pg, a, am->ticket_id ? am->ticket_id : r->id, NULL, false, &t, &err))
		return hl_call_fail_err(c, &err);
	hl_pg_rollback(pg);
	if (t && !visible(c, t))
		return hl_call_fail(c, HL_NOT_FOUND, "ticket not found");
	Hotline__Intake__V1__AmendTicketResponse *out =
		HL_NEW(c, hotline__intake__v1__amend_ticket_response__descriptor);
	if (!t || !out || !(out->ticket = intake_ticket_msg(c, t)) || !(out->amendment = intake_amendment_msg(c, t, am)))
		return hl_call_fail(c, HL_INTERNAL, "amended ticket not readable");
	*resp = out;
	return HL_OK;
}

/* ---- RevealCaller --------------------------------------------------------------- */

static hl_status open_fields(hl_call *c, const intake_ticket *t, Hotline__Intake__V1__Caller *out)
{
	uint8_t dek[32];
	hl_error err;
	char **dst[F_COUNT] = {&out->name, &out->phone, &out->id_number, &out->address, &out->email};
	hl_status st = intake_unwrap_key(c, t, dek);
	for (int f = 0; f < F_COUNT && !st; f++) {
		if (!t->caller[f].p)
			continue;
		if (hl_field_open(dek, t->tenant, "ticket", intake_caller_fields[f], t->id, t->caller[f].p,
				  t->caller[f].n, hl_call_arena(c), dst[f], NULL, &err))
			st = hl_call_fail(c, HL_DATA_LOSS, "caller data cannot be decrypted: the stored field was altered");
	}
	hl_cleanse(dek, sizeof dek);
	return st;
}

hl_status intake_reveal_caller(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Intake__V1__RevealCallerRequest *r = vreq;
	hl_status st;
	if ((st = hl_call_require_role(c, HL_ROLE_PII_READER)))
		return st;
	if (!hl_uuid_valid(r->id))
		return hl_call_fail(c, HL_INVALID, "id: not a UUID");
	if ((st = hl_call_check_text(c, "reason", r->reason, 500, true)) || (st = hl_call_begin(c)))
		return st;
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	hl_error err;
	intake_ticket *t;
	if (store_ticket_get(pg, a, r->id, NULL, false, &t, &err))
		return hl_call_fail_err(c, &err);
	if (!visible(c, t)) /* recusal and confidentiality come before the pii_reader role's reach */
		return hl_call_fail(c, HL_NOT_FOUND, "ticket not found");
	Hotline__Intake__V1__RevealCallerResponse *out =
		HL_NEW(c, hotline__intake__v1__reveal_caller_response__descriptor);
	Hotline__Intake__V1__Caller *caller = HL_NEW(c, hotline__intake__v1__caller__descriptor);
	if (!out || !caller)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if ((st = open_fields(c, t, caller))) {
		hl_pg_rollback(pg);
		return st;
	}
	hl_buf b = HL_BUF_INIT;
	hl_buf_puts(&b, "{\"reason\":");
	hl_buf_json_string(&b, r->reason);
	hl_buf_puts(&b, "}");
	st = hl_buf_failed(&b) ? HL_NOMEM
			       : hl_audit_append(pg, a, t->tenant, "ticket", t->id, hl_call_principal(c)->actor,
						 "caller.reveal", b.data, false, &err);
	hl_buf_release(&b);
	if (st)
		return hl_call_fail_err(c, &err);
	if ((st = hl_call_commit(c)))
		return st;
	out->caller = caller;
	*resp = out;
	return HL_OK;
}
