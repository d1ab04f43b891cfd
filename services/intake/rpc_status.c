/*
 * rpc_status.c - the ticket status: the citizen's public query (R7) and the
 * versioned status changes reported by dispatch and followup (DESIGN §4.1).
 */
#include <string.h>

#include "hl/audit.h"
#include "hl/buf.h"
#include "hl/crypto.h"
#include "hl/inbox.h"
#include "hotline/common/v1/common.pb-c.h"
#include "intake.h"
#include "store.h"


/* True when code is the ticket's query code (constant time). */
static bool code_matches(hl_call *c, const intake_ticket *t, const char *code)
{
	uint8_t dek[32];
	char *stored;
	size_t n;
	hl_error err;
	if (intake_unwrap_key(c, t, dek))
		return false;
	hl_status st = hl_field_open(dek, t->tenant, "ticket", "query_code", t->id, t->query_code.p,
				     t->query_code.n, hl_call_arena(c), &stored, &n, &err);
	hl_cleanse(dek, sizeof dek);
	return st == HL_OK && n == strlen(code) && hl_ct_equal(stored, code, n);
}

hl_status intake_public_status(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Intake__V1__GetPublicStatusRequest *r = vreq;
	hl_status st;
	if (!r->ticket_no[0] || strlen(r->ticket_no) > 32)
		return hl_call_fail(c, HL_INVALID, "ticket_no: required");
	if (!r->query_code[0] || strlen(r->query_code) > 32)
		return hl_call_fail(c, HL_INVALID, "query_code: required");
	if ((st = hl_call_begin(c)))
		return st;
	intake_ticket *t;
	hl_error err;
	if (store_ticket_get(hl_call_pg(c), hl_call_arena(c), NULL, r->ticket_no, false, &t, &err))
		return hl_call_fail_err(c, &err);
	/* a wrong code looks exactly like an unknown number */
	if (!t || !code_matches(c, t, r->query_code))
		return hl_call_fail(c, HL_NOT_FOUND, "no ticket with this number and query code");
	Hotline__Intake__V1__GetPublicStatusResponse *out =
		HL_NEW(c, hotline__intake__v1__get_public_status_response__descriptor);
	if (!out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	out->ticket_no = (char *)t->ticket_no;
	out->status = t->status;
	out->category = t->category;
	out->created_at = hl_call_timestamp(c, t->created_us);
	out->updated_at = hl_call_timestamp(c, t->updated_us);
	out->answer = (char *)t->answer;
	st = intake_notes_msg(c, t->id, &out->public_notes, &out->n_public_notes);
	hl_pg_rollback(hl_call_pg(c));
	if (st)
		return st;
	*resp = out;
	return HL_OK;
}

static hl_status status_changed_event(hl_call *c, const intake_ticket *t, int status, int64_t version)
{
	Hotline__Common__V1__TicketStatusChanged p = HOTLINE__COMMON__V1__TICKET_STATUS_CHANGED__INIT;
	p.status = status;
	p.status_version = version;
	Hotline__Common__V1__Event ev = HOTLINE__COMMON__V1__EVENT__INIT;
	ev.payload_case = HOTLINE__COMMON__V1__EVENT__PAYLOAD_TICKET_STATUS_CHANGED;
	ev.ticket_status_changed = &p;
	return intake_outbox_event(c, t, "ticket.status_changed", version, &ev.base);
}

static hl_status record_change(hl_call *c, intake_ticket *t, const Hotline__Intake__V1__UpdateTicketStatusRequest *r)
{
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	hl_error err;
	hl_buf b = HL_BUF_INIT;
	hl_buf_printf(&b, "{\"from\":%d,\"to\":%d,\"version\":%lld}", t->status, (int)r->status, (long long)r->version);
	const char *details = hl_arena_strdup(a, hl_buf_failed(&b) ? "{}" : b.data);
	hl_buf_release(&b);
	if ((r->public_note[0] && store_note_insert(pg, a, t->id, r->status, r->public_note, &err)) ||
	    hl_audit_append(pg, a, t->tenant, "ticket", t->id, hl_call_principal(c)->actor, "ticket.status", details,
			    false, &err))
		return hl_call_fail_err(c, &err);
	return status_changed_event(c, t, r->status, r->version);
}

static Hotline__Intake__V1__UpdateTicketStatusResponse *status_answer(hl_call *c, const intake_ticket *t,
									 const Hotline__Intake__V1__UpdateTicketStatusRequest *r,
									 bool applied)
{
	Hotline__Intake__V1__UpdateTicketStatusResponse *out =
		HL_NEW(c, hotline__intake__v1__update_ticket_status_response__descriptor);
	if (out) {
		out->applied = applied;
		out->status = applied ? r->status : (Hotline__Common__V1__TicketStatus)t->status;
		out->version = applied ? r->version : t->status_version;
	}
	return out;
}

/* What is wrong with a change's own fields (NULL: nothing). */
static const char *change_problem(const Hotline__Intake__V1__UpdateTicketStatusRequest *r)
{
	if (!hl_uuid_valid(r->ticket_id))
		return "ticket_id: not a UUID";
	if (!r->status || !protobuf_c_enum_descriptor_get_value(&hotline__common__v1__ticket_status__descriptor, r->status))
		return "status: required, one of the TicketStatus values";
	if (r->version < 1)
		return "version: must be positive";
	return NULL;
}

/*
 * The status changes of a batch (hl_method.prefetch): their tickets locked,
 * then their audit heads, each in order, with one round trip - the order a
 * single change locks them in (ticket, then head), so batches and single
 * calls never wait for each other in a cycle.  Then the changes are applied
 * with one statement, and each item finds its own applied (or not) when it
 * runs.  A change whose item is answered from the inbox was applied when it
 * was first recorded, so applying it again changes nothing: its version is
 * not newer.  An item that then fails rolls the whole batch back.
 */
hl_status intake_update_status_prefetch(hl_pg *pg, hl_arena *a, const char *tenant, const void *const *reqs, int n,
					hl_error *err)
{
	const char **ids = hl_arena_alloc(a, (size_t)n * sizeof *ids);
	int *status = hl_arena_alloc(a, (size_t)n * sizeof *status);
	int64_t *version = hl_arena_alloc(a, (size_t)n * sizeof *version);
	int m = 0;
	if (!ids || !status || !version)
		return hl_fail(err, HL_NOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		const Hotline__Intake__V1__UpdateTicketStatusRequest *r = reqs[i];
		if (change_problem(r))
			continue;
		ids[m] = r->ticket_id;
		status[m] = r->status;
		version[m++] = r->version;
	}
	hl_status st = m ? store_tickets_lock(pg, a, ids, m, err) : HL_OK;
	if (!st && m)
		st = hl_audit_lock_heads(pg, a, tenant, ids, m, err);
	return st || !m ? st : store_tickets_set_status(pg, a, ids, status, version, m, err);
}

/*
 * Versions make a status change idempotent by themselves (older or equal
 * versions are ignored); the inbox also answers a redelivery with the first
 * answer, so a sender sees "applied" again for its own change.
 */
hl_status intake_update_status(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Intake__V1__UpdateTicketStatusRequest *r = vreq;
	hl_status st;
	const char *problem = change_problem(r);
	if (problem)
		return hl_call_fail(c, HL_INVALID, "%s", problem);
	bool replayed;
	if ((st = hl_call_check_text(c, "public_note", r->public_note, 500, false)) ||
	    (st = hl_inbox_begin(c, &hotline__intake__v1__update_ticket_status_response__descriptor, resp, &replayed)) ||
	    replayed)
		return st;
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	hl_error err;
	intake_ticket *t;
	if (store_ticket_set_status(pg, a, r->ticket_id, r->status, r->version, &t, &err))
		return hl_call_fail_err(c, &err);
	bool applied = t != NULL;
	if (applied && (st = record_change(c, t, r)))
		return st;
	if (!applied && store_ticket_get(pg, a, r->ticket_id, NULL, false, &t, &err)) /* for its current status */
		return hl_call_fail_err(c, &err);
	if (!t)
		return hl_call_fail(c, HL_NOT_FOUND, "ticket not found");
	Hotline__Intake__V1__UpdateTicketStatusResponse *out = status_answer(c, t, r, applied);
	if (!out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if ((st = hl_inbox_commit(c, out)))
		return st;
	*resp = out;
	return HL_OK;
}
