/*
 * rpc_common.c - what intake's handlers share: unwrapping a ticket's data key,
 * the masked Ticket message, its amendments and public notes.
 */
#include <string.h>

#include "hl/crypto.h"
#include "hl/handler.h"
#include "hl/pg.h"
#include "hl/roles.h"
#include "hotline/common/v1/common.pb-c.h"
#include "intake.h"
#include "store.h"

const char *const intake_caller_fields[F_COUNT] = {"name", "phone", "id_number", "address", "email"};

hl_status intake_unwrap_key(hl_call *c, const intake_ticket *t, uint8_t dek[32])
{
	intake_app *app = hl_call_app(c);
	hl_error err;
	hl_status st = hl_keyring_unwrap_data_key(app->keys, t->tenant, t->key_period, t->id, t->wrapped_key.p,
						  t->wrapped_key.n, dek, &err);
	if (st == HL_NOT_FOUND)
		return hl_call_fail(c, HL_PRECONDITION, "caller data destroyed with its retention period");
	/* an authentic wrapped key always opens: one that does not was altered or swapped */
	if (st == HL_CRYPTO)
		return hl_call_fail(c, HL_DATA_LOSS, "caller data cannot be decrypted: the stored key was altered");
	return st ? hl_call_fail(c, HL_INTERNAL, "caller data cannot be decrypted") : HL_OK;
}

void intake_viewer_of(hl_call *c, intake_viewer *v)
{
	const hl_principal *p = hl_call_principal(c);
	v->actor = p->actor;
	v->dept = p->claims && p->claims->dept && p->claims->dept[0] ? p->claims->dept : NULL;
	if (hl_call_has_role(c, HL_ROLE_INSPECTOR))
		v->clearance = HOTLINE__COMMON__V1__CONFIDENTIALITY__CONFIDENTIALITY_SECRET;
	else if (hl_call_has_role(c, HL_ROLE_SUPERVISOR) || hl_call_has_role(c, HL_ROLE_AUDITOR) ||
		 hl_call_has_role(c, HL_ROLE_TENANT_ADMIN))
		v->clearance = HOTLINE__COMMON__V1__CONFIDENTIALITY__CONFIDENTIALITY_CONFIDENTIAL;
	else
		v->clearance = HOTLINE__COMMON__V1__CONFIDENTIALITY__CONFIDENTIALITY_INTERNAL;
}

/* Written once more, as SQL, in store.c (VISIBLE_TO_VIEWER) for lists: keep the two alike. */
bool intake_may_see(const intake_viewer *v, const intake_ticket *t)
{
	for (size_t i = 0; v->dept && i < t->n_implicated; i++)
		if (strcmp(t->implicated[i], v->dept) == 0)
			return false;
	return t->confidentiality <= v->clearance || strcmp(t->registered_by, v->actor) == 0;
}

hl_status intake_request_digest(hl_call *c, const char *method, const ProtobufCMessage *msg, const char **out)
{
	intake_app *app = hl_call_app(c);
	hl_arena *a = hl_call_arena(c);
	size_t n = protobuf_c_message_get_packed_size(msg);
	uint8_t *packed = hl_arena_alloc(a, n ? n : 1), sum[HL_SHA256_LEN];
	char sum_hex[2 * HL_SHA256_LEN + 1], hex[HL_BLIND_INDEX_HEX_LEN];
	hl_error err;
	if (!packed)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	protobuf_c_message_pack(msg, packed);
	if (hl_sha256(packed, n, sum, &err))
		return hl_call_fail(c, HL_INTERNAL, "cannot digest the request");
	hl_hex_write(sum, sizeof sum, sum_hex);
	/* the keyed index of "request/v1/<method>:<sha-256>": its own domain beside the phones' */
	const char *value = hl_arena_printf(a, "request/v1/%s:%s", method, sum_hex);
	if (!value || hl_keyring_blind_index(app->keys, hl_call_tenant(c), value, hex, &err))
		return hl_call_fail(c, HL_INTERNAL, "cannot digest the request");
	*out = hl_arena_strdup(a, hex);
	return *out ? HL_OK : hl_call_fail(c, HL_NOMEM, "out of memory");
}

hl_status intake_same_request(hl_call *c, const char *first_digest, const char *digest)
{
	/* rows made before digests were stored cannot tell: they are answered as before */
	if (!first_digest || strcmp(first_digest, digest) == 0)
		return HL_OK;
	return hl_call_fail(c, HL_INVALID, "request_id: already used for a different request");
}

Hotline__Intake__V1__Ticket *intake_ticket_msg(hl_call *c, const intake_ticket *t)
{
	Hotline__Intake__V1__Ticket *m = HL_NEW(c, hotline__intake__v1__ticket__descriptor);
	Hotline__Intake__V1__Caller *caller = HL_NEW(c, hotline__intake__v1__caller__descriptor);
	if (!m || !caller)
		return NULL;
	m->id = (char *)t->id;
	m->ticket_no = (char *)t->ticket_no;
	m->tenant = (char *)t->tenant;
	m->status = t->status;
	m->status_version = t->status_version;
	m->channel = t->channel;
	m->category = t->category;
	m->priority = t->priority;
	m->confidentiality = t->confidentiality;
	m->topic = (char *)t->topic;
	m->description = (char *)t->description;
	m->area = (char *)t->area;
	m->anonymous = t->anonymous;
	m->answer = (char *)t->answer;
	m->registered_by = (char *)t->registered_by;
	m->repeat_caller = t->repeat_caller;
	caller->name = (char *)t->masked[F_NAME];
	caller->phone = (char *)t->masked[F_PHONE];
	caller->id_number = (char *)t->masked[F_ID_NUMBER];
	caller->address = (char *)t->masked[F_ADDRESS];
	caller->email = (char *)t->masked[F_EMAIL];
	m->caller = caller;
	m->created_at = hl_call_timestamp(c, t->created_us);
	m->updated_at = hl_call_timestamp(c, t->updated_us);
	return m;
}

hl_status intake_notes_msg(hl_call *c, const char *ticket_id, Hotline__Intake__V1__PublicNote ***out, size_t *count)
{
	store_note **notes;
	int n;
	hl_error err;
	if (store_notes(hl_call_pg(c), hl_call_arena(c), ticket_id, &notes, &n, &err))
		return hl_call_fail_err(c, &err);
	*out = hl_arena_alloc(hl_call_arena(c), (size_t)(n ? n : 1) * sizeof **out);
	if (!*out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		Hotline__Intake__V1__PublicNote *x = HL_NEW(c, hotline__intake__v1__public_note__descriptor);
		if (!x)
			return hl_call_fail(c, HL_NOMEM, "out of memory");
		x->status = notes[i]->status;
		x->text = (char *)notes[i]->note;
		x->created_at = hl_call_timestamp(c, notes[i]->created_us);
		(*out)[i] = x;
	}
	*count = (size_t)n;
	return HL_OK;
}

Hotline__Intake__V1__Amendment *intake_amendment_msg(hl_call *c, const store_amendment *am)
{
	Hotline__Intake__V1__Amendment *x = HL_NEW(c, hotline__intake__v1__amendment__descriptor);
	if (x) {
		x->id = (char *)am->id;
		x->field = (char *)am->field;
		x->old_value = (char *)am->old_value;
		x->new_value = (char *)am->new_value;
		x->reason = (char *)am->reason;
		x->author = (char *)am->author;
		x->created_at = hl_call_timestamp(c, am->created_us);
	}
	return x;
}
