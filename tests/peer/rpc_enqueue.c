/*
 * rpc_enqueue.c - the sending side of the test peer: Enqueue writes, in one
 * transaction, one outbox row per subject and version (hl/enqueue.h), which
 * the peer's outbox relay then delivers to the target (DESIGN §5.6).
 */
#include <string.h>

#include "hl/crypto.h"
#include "hl/enqueue.h"
#include "hl/handler.h"
#include "hotline/testing/v1/peer.pb-c.h"
#include "peer.h"

#define MAX_SUBJECTS 1000
#define MAX_VERSIONS 1000
#define MAX_ROWS 10000
#define MAX_PAYLOAD 1000
#define DEFAULT_METHOD "/hotline.testing.v1.PeerService/Apply"

static hl_status check_target(hl_call *c, const char *target)
{
	size_t n = strlen(target);
	if (n == 0 || n > 31)
		return hl_call_fail(c, HL_INVALID, "target: required, at most 31 bytes");
	for (size_t i = 0; i < n; i++)
		if (!((target[i] >= 'a' && target[i] <= 'z') || (target[i] >= '0' && target[i] <= '9') ||
		      target[i] == '_'))
			return hl_call_fail(c, HL_INVALID, "target: lowercase letters, digits and _ only");
	return HL_OK;
}

static hl_status check_request(hl_call *c, const Hotline__Testing__V1__EnqueueRequest *r)
{
	hl_status st;
	if (r->n_subject_ids == 0 || r->n_subject_ids > MAX_SUBJECTS)
		return hl_call_fail(c, HL_INVALID, "subject_ids: 1 to %d", MAX_SUBJECTS);
	if (r->versions < 1 || r->versions > MAX_VERSIONS)
		return hl_call_fail(c, HL_INVALID, "versions: 1 to %d", MAX_VERSIONS);
	if (r->n_subject_ids * (size_t)r->versions > MAX_ROWS)
		return hl_call_fail(c, HL_INVALID, "subject_ids x versions: at most %d rows", MAX_ROWS);
	if (r->first_version < 0 || r->first_version > 1000000000000LL)
		return hl_call_fail(c, HL_INVALID, "first_version: 0 to 10^12");
	if (strlen(r->payload) > MAX_PAYLOAD)
		return hl_call_fail(c, HL_INVALID, "payload: at most %d bytes", MAX_PAYLOAD);
	if (r->method[0] && r->method[0] != '/')
		return hl_call_fail(c, HL_INVALID, "method: a full gRPC path");
	if (r->method[0] && (st = peer_check_id(c, "method", r->method)))
		return st;
	for (size_t i = 0; i < r->n_subject_ids; i++)
		if ((st = peer_check_id(c, "subject_ids", r->subject_ids[i])))
			return st;
	return check_target(c, r->target);
}

/* A failed insert: duplicate subjects make duplicate idempotency keys. */
static hl_status enqueue_fail(hl_call *c, const hl_error *err)
{
	if (err->status == HL_EXISTS)
		return hl_call_fail(c, HL_INVALID, "subject_ids: duplicates");
	return hl_call_fail_err(c, err);
}

/* One outbox row: an ApplyRequest for subject at version. */
static hl_status enqueue_one(hl_call *c, const Hotline__Testing__V1__EnqueueRequest *r, const char *batch,
			     const char *subject, int64_t version)
{
	hl_arena *a = hl_call_arena(c);
	Hotline__Testing__V1__ApplyRequest m = HOTLINE__TESTING__V1__APPLY_REQUEST__INIT;
	m.subject_id = (char *)subject;
	m.version = version;
	m.payload = r->payload;
	hl_enqueue_row row = {
		.tenant = hl_call_tenant(c),
		.subject_id = subject,
		.idempotency_key = hl_arena_printf(a, "%s/%s/%lld", batch, subject, (long long)version),
		.actor = hl_call_principal(c)->actor,
	};
	hl_error err;
	if (!row.idempotency_key)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if (hl_enqueue_raw(hl_call_pg(c), a, &row, r->target, r->method[0] ? r->method : DEFAULT_METHOD, &m.base, &err))
		return enqueue_fail(c, &err);
	return HL_OK;
}

hl_status peer_enqueue(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Testing__V1__EnqueueRequest *r = vreq;
	hl_status st;
	if ((st = hl_call_require_role(c, "agent")) || (st = check_request(c, r)))
		return st;
	Hotline__Testing__V1__EnqueueResponse *out = HL_NEW(c, hotline__testing__v1__enqueue_response__descriptor);
	char batch[HL_UUID_STR_LEN];
	if (!out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if (hl_uuid_v7(batch))
		return hl_call_fail(c, HL_INTERNAL, "cannot make a batch id");
	if ((st = hl_call_begin(c)))
		return st;
	int64_t first = r->first_version ? r->first_version : 1;
	for (int64_t v = first; v < first + r->versions; v++)
		for (size_t i = 0; i < r->n_subject_ids; i++, out->enqueued++)
			if ((st = enqueue_one(c, r, batch, r->subject_ids[i], v)))
				return st;
	if ((st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}
