/*
 * rpc_receive.c - the receiving side of the test peer: Apply, and the
 * stand-ins for dispatch's SubmitTicket and reporting's RecordEvents.  Each
 * records versioned effects in one transaction with its inbox entry
 * (DESIGN §5.6): a repeated idempotency-key gets the first answer back, a
 * version that is not newer than the subject's latest is ignored.
 */
#include <string.h>
#include <time.h>

#include "hl/crypto.h"
#include "hl/handler.h"
#include "hl/inbox.h"
#include "hl/log.h"
#include "hl/pg.h"
#include "hotline/dispatch/v1/dispatch.pb-c.h"
#include "hotline/reporting/v1/reporting.pb-c.h"
#include "hotline/testing/v1/peer.pb-c.h"
#include "peer.h"
#include "store.h"

#define MAX_ID 64
#define MAX_PAYLOAD 1000
#define MAX_EVENTS 100

hl_status peer_failure(hl_call *c)
{
	const peer_app *app = hl_call_app(c);
	if (app->fail == HL_UNIMPLEMENTED)
		return hl_call_fail(c, HL_UNIMPLEMENTED, "not deployed (HOTLINE_TESTPEER_FAIL)");
	if (app->fail)
		return hl_call_fail(c, app->fail, "refused by configuration (HOTLINE_TESTPEER_FAIL)");
	return HL_OK;
}

hl_status peer_check_id(hl_call *c, const char *field, const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n > MAX_ID)
		return hl_call_fail(c, HL_INVALID, "%s: required, at most %d bytes", field, MAX_ID);
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x21 || v[i] > 0x7e)
			return hl_call_fail(c, HL_INVALID, "%s: printable ASCII only", field);
	return HL_OK;
}

hl_status peer_record(hl_call *c, const peer_change *ch, peer_outcome *out)
{
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	hl_error err;
	memset(out, 0, sizeof *out);
	if (store_subject_lock(pg, a, ch->stream, ch->subject_id, &out->latest_version, &err))
		return hl_call_fail_err(c, &err);
	if (ch->version <= out->latest_version)
		return HL_OK;
	store_effect e = {
		.stream = ch->stream,
		.subject_id = ch->subject_id,
		.payload = ch->payload,
		.actor = hl_call_principal(c)->actor,
		.idempotency_key = hl_call_metadata(c, "idempotency-key"),
		.version = ch->version,
	};
	if (store_effect_insert(pg, a, &e, &out->effect_seq, &err))
		return hl_call_fail_err(c, &err);
	out->applied = true;
	out->latest_version = ch->version;
	return HL_OK;
}

/* Record the answer with the idempotency-key, commit, then wait the configured delay. */
static hl_status receive_finish(hl_call *c, const void *resp)
{
	hl_status st = hl_inbox_commit(c, resp);
	if (st)
		return st;
	/* after the commit: a kill now leaves an applied change whose answer the sender never saw */
	const peer_app *app = hl_call_app(c);
	if (app->delay_ms > 0) {
		struct timespec ts = {(time_t)(app->delay_ms / 1000), (long)(app->delay_ms % 1000) * 1000000};
		while (nanosleep(&ts, &ts) != 0)
			;
	}
	return HL_OK;
}

hl_status peer_apply(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Testing__V1__ApplyRequest *r = vreq;
	hl_status st;
	if ((st = peer_failure(c)) || (st = peer_check_id(c, "subject_id", r->subject_id)))
		return st;
	if (r->version < 1)
		return hl_call_fail(c, HL_INVALID, "version: must be positive");
	if (strlen(r->payload) > MAX_PAYLOAD)
		return hl_call_fail(c, HL_INVALID, "payload: at most %d bytes", MAX_PAYLOAD);
	bool replayed;
	if ((st = hl_inbox_begin(c, &hotline__testing__v1__apply_response__descriptor, resp, &replayed)) || replayed)
		return st;
	peer_change ch = {"apply", r->subject_id, r->version, r->payload};
	peer_outcome o;
	if ((st = peer_record(c, &ch, &o)))
		return st;
	Hotline__Testing__V1__ApplyResponse *out = HL_NEW(c, hotline__testing__v1__apply_response__descriptor);
	if (!out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	out->applied = o.applied;
	out->latest_version = o.latest_version;
	out->effect_seq = o.effect_seq;
	if ((st = receive_finish(c, out)))
		return st;
	*resp = out;
	return HL_OK;
}

hl_status peer_submit_ticket(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Dispatch__V1__SubmitTicketRequest *r = vreq;
	hl_status st;
	if ((st = peer_failure(c)))
		return st;
	if (!hl_uuid_valid(r->ticket_id))
		return hl_call_fail(c, HL_INVALID, "ticket_id: not a UUID");
	if ((st = peer_check_id(c, "ticket_no", r->ticket_no)))
		return st;
	bool replayed;
	if ((st = hl_inbox_begin(c, &hotline__dispatch__v1__submit_ticket_response__descriptor, resp, &replayed)) || replayed)
		return st;
	peer_change ch = {"dispatch", r->ticket_id, 1, r->ticket_no};
	peer_outcome o;
	if ((st = peer_record(c, &ch, &o)))
		return st;
	Hotline__Dispatch__V1__SubmitTicketResponse *out =
		HL_NEW(c, hotline__dispatch__v1__submit_ticket_response__descriptor);
	char id[HL_UUID_STR_LEN];
	if (!out || hl_uuid_v7(id))
		return hl_call_fail(c, HL_INTERNAL, "cannot make a case id");
	out->case_id = o.applied ? hl_arena_strdup(hl_call_arena(c), id) : (char *)"";
	if ((st = receive_finish(c, out)))
		return st;
	*resp = out;
	return HL_OK;
}

static hl_status check_events(hl_call *c, const Hotline__Reporting__V1__RecordEventsRequest *r)
{
	hl_status st;
	if (r->n_events == 0 || r->n_events > MAX_EVENTS)
		return hl_call_fail(c, HL_INVALID, "events: 1 to %d", MAX_EVENTS);
	for (size_t i = 0; i < r->n_events; i++) {
		const Hotline__Common__V1__Event *ev = r->events[i];
		if ((st = peer_check_id(c, "events.ticket_id", ev->ticket_id)) ||
		    (st = peer_check_id(c, "events.type", ev->type)))
			return st;
		if (ev->version < 1)
			return hl_call_fail(c, HL_INVALID, "events.version: must be positive");
	}
	return HL_OK;
}

hl_status peer_record_events(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Reporting__V1__RecordEventsRequest *r = vreq;
	hl_status st;
	if ((st = peer_failure(c)) || (st = check_events(c, r)))
		return st;
	bool replayed;
	if ((st = hl_inbox_begin(c, &hotline__reporting__v1__record_events_response__descriptor, resp, &replayed)) || replayed)
		return st;
	int accepted = 0;
	for (size_t i = 0; i < r->n_events; i++) {
		const Hotline__Common__V1__Event *ev = r->events[i];
		peer_change ch = {"reporting", ev->ticket_id, ev->version, ev->type};
		peer_outcome o;
		if ((st = peer_record(c, &ch, &o)))
			return st;
		accepted += o.applied;
	}
	Hotline__Reporting__V1__RecordEventsResponse *out =
		HL_NEW(c, hotline__reporting__v1__record_events_response__descriptor);
	if (!out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	out->accepted = accepted;
	if ((st = receive_finish(c, out)))
		return st;
	*resp = out;
	return HL_OK;
}
