/*
 * rpc_common.c - what intake's handlers share: unwrapping a ticket's data key,
 * the masked Ticket message (masks derived from the ciphertexts at read time,
 * none once the retention period is destroyed), its amendments and public
 * notes, and the keys that find a phone's tickets.
 */
#include <string.h>

#include "hl/crypto.h"
#include "hl/handler.h"
#include "hl/log.h"
#include "hl/mask.h"
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

hl_status intake_phone_keys_of(hl_call *c, const char *phone, intake_phone_keys *k)
{
	intake_app *app = hl_call_app(c);
	hl_arena *a = hl_call_arena(c);
	const char *tenant = hl_call_tenant(c);
	hl_error err;
	char *norm, hex[HL_BLIND_INDEX_HEX_LEN];
	memset(k, 0, sizeof *k);
	if (hl_phone_normalize(phone, a, &norm, &err))
		return hl_call_fail(c, HL_INVALID, "caller.phone: %s", err.msg);
	if (hl_keyring_live_periods(app->keys, tenant, a, &k->periods, &k->n_periods, &err))
		return hl_call_fail(c, HL_INTERNAL, "cannot list retention periods");
	k->indexes = hl_arena_alloc(a, (k->n_periods ? k->n_periods : 1) * sizeof *k->indexes);
	if (!k->indexes)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (size_t i = 0; i < k->n_periods; i++) {
		hl_status st = hl_keyring_period_index(app->keys, tenant, k->periods[i], norm, hex, &err);
		if (st == HL_NOT_FOUND) /* destroyed since it was listed */
			continue;
		if (st)
			return hl_call_fail(c, HL_INTERNAL, "cannot index phone");
		if (!(k->indexes[k->n_indexes++] = hl_arena_printf(a, "v2:%s", hex)))
			return hl_call_fail(c, HL_NOMEM, "out of memory");
	}
	if (hl_keyring_blind_index(app->keys, tenant, norm, hex, &err))
		return hl_call_fail(c, HL_INTERNAL, "cannot index phone");
	k->legacy = hl_arena_strdup(a, hex);
	return k->legacy ? HL_OK : hl_call_fail(c, HL_NOMEM, "out of memory");
}

/* What masking a ticket's caller fields found of its data key. */
enum mask_key { MASK_KEY_OK, MASK_KEY_DESTROYED, MASK_KEY_UNREADABLE };

/* The data key of t for masking; never fails the call (a listing shows what it can). */
static enum mask_key mask_key_of(hl_call *c, const intake_ticket *t, uint8_t dek[32])
{
	intake_app *app = hl_call_app(c);
	hl_error err;
	hl_status st = hl_keyring_unwrap_data_key(app->keys, t->tenant, t->key_period, t->id, t->wrapped_key.p,
						  t->wrapped_key.n, dek, &err);
	if (st == HL_OK)
		return MASK_KEY_OK;
	if (st == HL_NOT_FOUND)
		return MASK_KEY_DESTROYED;
	HL_LOG_WARN("caller_unreadable", "ticket=%s status=%s", t->id, hl_status_name(st));
	return MASK_KEY_UNREADABLE;
}

/* The mask of ciphertext ct of caller field f of t; "" when absent or unreadable (logged). */
static char *mask_of(hl_call *c, const intake_ticket *t, enum mask_key k, const uint8_t dek[32], int f,
		     intake_blob ct)
{
	hl_arena *a = hl_call_arena(c);
	hl_error err;
	char *clear, *m;
	if (k != MASK_KEY_OK || !ct.p)
		return "";
	if (hl_field_open(dek, t->tenant, "ticket", intake_caller_fields[f], t->id, ct.p, ct.n, a, &clear, NULL,
			  &err)) {
		HL_LOG_WARN("caller_unreadable", "ticket=%s field=%s", t->id, intake_caller_fields[f]);
		return "";
	}
	return intake_mask_field(f, clear, a, &m, &err) ? "" : m;
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
	char **dst[F_COUNT] = {&caller->name, &caller->phone, &caller->id_number, &caller->address, &caller->email};
	if (t->masked[F_NAME]) { /* registration: masked from the clear values */
		for (int f = 0; f < F_COUNT; f++)
			*dst[f] = (char *)t->masked[f];
	} else {
		uint8_t dek[32];
		enum mask_key k = mask_key_of(c, t, dek);
		for (int f = 0; f < F_COUNT; f++)
			*dst[f] = mask_of(c, t, k, dek, f, t->caller[f]);
		hl_cleanse(dek, sizeof dek);
		m->caller_destroyed = k == MASK_KEY_DESTROYED;
	}
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

Hotline__Intake__V1__Amendment *intake_amendment_msg(hl_call *c, const intake_ticket *t, const store_amendment *am)
{
	Hotline__Intake__V1__Amendment *x = HL_NEW(c, hotline__intake__v1__amendment__descriptor);
	int f = -1;
	for (int i = 0; i < F_COUNT && f < 0; i++)
		if (strncmp(am->field, "caller.", 7) == 0 && strcmp(am->field + 7, intake_caller_fields[i]) == 0)
			f = i;
	if (x) {
		x->id = (char *)am->id;
		x->field = (char *)am->field;
		x->old_value = (char *)am->old_value;
		x->new_value = (char *)am->new_value;
		if (f >= 0) { /* caller fields: masked from their ciphertexts */
			uint8_t dek[32];
			enum mask_key k = mask_key_of(c, t, dek);
			x->old_value = mask_of(c, t, k, dek, f, am->old_cipher);
			x->new_value = mask_of(c, t, k, dek, f, am->new_cipher);
			hl_cleanse(dek, sizeof dek);
		}
		x->reason = (char *)am->reason;
		x->author = (char *)am->author;
		x->created_at = hl_call_timestamp(c, am->created_us);
	}
	return x;
}
