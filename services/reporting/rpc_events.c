/*
 * rpc_events.c - RecordEvents (internal, every service): events go into the
 * append-only store once per event id (a repeated delivery or a repeated
 * event inside another delivery changes nothing), and each ticket or subject
 * they touch is folded again from all of its events (fold.c), so late and
 * out-of-order events give the same facts.  The tenant's first event creates
 * its report settings and the cut-off timer of the current day.
 *
 * Recording an event writes no audit entry here: the event store is itself
 * the record (append-only by trigger, one row per event id, with who sent
 * it and when), each event was audited by its source in the transaction of
 * the change it reports, and the facts are derived (refolded at will).  What
 * reporting itself decides is audited: frozen reports, settings, exports.
 */
#include "reporting.h"

#include <stdlib.h>
#include <string.h>

#include "hl/crypto.h"
#include "hl/handler.h"
#include "hl/inbox.h"
#include "store.h"

typedef Hotline__Common__V1__Event Event;

/* The payload kind each event family must carry (0: any, for families reporting does not fold yet). */
static int expected_payload(const char *type)
{
	static const struct {
		const char *prefix;
		int payload;
	} families[] = {
		{"case.", HOTLINE__COMMON__V1__EVENT__PAYLOAD_CASE_CHANGED},
		{"reply.", HOTLINE__COMMON__V1__EVENT__PAYLOAD_REPLY_CHANGED},
		{"visit.", HOTLINE__COMMON__V1__EVENT__PAYLOAD_VISIT_CHANGED},
		{"risk_event.", HOTLINE__COMMON__V1__EVENT__PAYLOAD_COMPLIANCE_CHANGED},
		{"violation.", HOTLINE__COMMON__V1__EVENT__PAYLOAD_COMPLIANCE_CHANGED},
		{"warning.", HOTLINE__COMMON__V1__EVENT__PAYLOAD_COMPLIANCE_CHANGED},
		{"review.", HOTLINE__COMMON__V1__EVENT__PAYLOAD_COMPLIANCE_CHANGED},
	};
	if (strcmp(type, "ticket.registered") == 0 || strcmp(type, "ticket.answered_on_spot") == 0)
		return HOTLINE__COMMON__V1__EVENT__PAYLOAD_TICKET_REGISTERED;
	if (strcmp(type, "ticket.status_changed") == 0)
		return HOTLINE__COMMON__V1__EVENT__PAYLOAD_TICKET_STATUS_CHANGED;
	for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
		if (strncmp(type, families[i].prefix, strlen(families[i].prefix)) == 0)
			return families[i].payload;
	return 0;
}

static bool type_valid(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > 64)
		return false;
	for (; *t; t++)
		if (!((*t >= 'a' && *t <= 'z') || (*t >= '0' && *t <= '9') || *t == '.' || *t == '_'))
			return false;
	return true;
}

static hl_status check_event(hl_call *c, size_t i, const Event *e)
{
	const char *tenant = hl_call_principal(c)->tenant;
	if (!hl_uuid_valid(e->event_id))
		return hl_call_fail(c, HL_INVALID, "events[%zu].event_id: must be a UUID", i);
	if (e->tenant[0] && strcmp(e->tenant, tenant) != 0)
		return hl_call_fail(c, HL_INVALID, "events[%zu].tenant: not the acting tenant (x-tenant-id)", i);
	if (!type_valid(e->type))
		return hl_call_fail(c, HL_INVALID, "events[%zu].type: 1-64 characters of a-z 0-9 . _", i);
	if (!e->occurred_at || e->occurred_at->seconds <= 0)
		return hl_call_fail(c, HL_INVALID, "events[%zu].occurred_at: required", i);
	if (strlen(e->ticket_id) > 64 || strlen(e->actor) > 128)
		return hl_call_fail(c, HL_INVALID, "events[%zu]: ticket_id (64) or actor (128) too long", i);
	int want = expected_payload(e->type);
	if (want && (int)e->payload_case != want)
		return hl_call_fail(c, HL_INVALID, "events[%zu].payload: does not match type %s", i, e->type);
	const char *subject = reporting_event_subject(e);
	if (!subject[0] || strlen(subject) > 64)
		return hl_call_fail(c, HL_INVALID, "events[%zu].ticket_id: required unless the payload names a subject", i);
	return HL_OK;
}

/* A distinct key list (small: at most REPORTING_MAX_EVENTS). */
static void add_key(const char **keys, int *n, const char *k)
{
	for (int i = 0; i < *n; i++)
		if (strcmp(keys[i], k) == 0)
			return;
	keys[(*n)++] = k;
}

/* The request's events as rows of the event store (payloads packed again, in arena memory). */
static hl_status event_rows(hl_call *c, const Hotline__Reporting__V1__RecordEventsRequest *r, store_event_row **out)
{
	hl_arena *a = hl_call_arena(c);
	const hl_principal *p = hl_call_principal(c);
	store_event_row *rows = hl_arena_alloc(a, r->n_events * sizeof *rows);
	if (!rows)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (size_t i = 0; i < r->n_events; i++) {
		const Event *e = r->events[i];
		size_t len = hotline__common__v1__event__get_packed_size(e);
		uint8_t *bytes = hl_arena_alloc(a, len ? len : 1);
		if (!bytes)
			return hl_call_fail(c, HL_NOMEM, "out of memory");
		hotline__common__v1__event__pack(e, bytes);
		rows[i] = (store_event_row){.event_id = e->event_id, .type = e->type, .ticket_id = e->ticket_id,
					    .subject_id = reporting_event_subject(e), .actor = e->actor[0] ? e->actor : p->actor,
					    .source = p->peer_service ? p->peer_service : "unknown",
					    .occurred_us = hl_timestamp_us(e->occurred_at), .version = e->version,
					    .payload = bytes, .payload_len = len};
	}
	*out = rows;
	return HL_OK;
}

/* Stored rows [from, to) of one ticket or subject, unpacked and sorted for the fold. */
static hl_status unpack_events(hl_call *c, store_event_row **rows, int from, int to, reporting_event **out)
{
	hl_arena *a = hl_call_arena(c);
	reporting_event *evs = hl_arena_alloc(a, (size_t)(to - from) * sizeof *evs);
	if (!evs)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (int i = from; i < to; i++) {
		const Event *ev = hotline__common__v1__event__unpack(hl_arena_pb_allocator(a), rows[i]->payload_len,
								      rows[i]->payload);
		if (!ev)
			return hl_call_fail(c, HL_INTERNAL, "stored event %s unreadable", rows[i]->event_id);
		evs[i - from] = (reporting_event){.event_id = rows[i]->event_id, .type = rows[i]->type,
						  .occurred_us = rows[i]->occurred_us, .version = rows[i]->version,
						  .ev = ev};
	}
	reporting_sort_events(evs, to - from);
	*out = evs;
	return HL_OK;
}

/*
 * Fold each of the keys (tickets, or subjects) again from all of its stored
 * events: one read for them all (grouped by key), one write of all the facts.
 */
static hl_status refold(hl_call *c, const char **keys, int n_keys, bool by_ticket)
{
	hl_arena *a = hl_call_arena(c);
	const char *tenant = hl_call_principal(c)->tenant;
	store_event_row **rows;
	int n, done = 0;
	hl_error err;
	if (n_keys == 0)
		return HL_OK;
	if (store_events_of(hl_call_pg(c), a, keys, n_keys, by_ticket, &rows, &n, &err))
		return hl_call_fail_err(c, &err);
	reporting_ticket *tickets = hl_arena_alloc(a, (size_t)n_keys * sizeof *tickets);
	reporting_subject *subjects = hl_arena_alloc(a, (size_t)n_keys * sizeof *subjects);
	if (!tickets || !subjects)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (int from = 0, to; from < n && done < n_keys; from = to) {
		const char *key = by_ticket ? rows[from]->ticket_id : rows[from]->subject_id;
		for (to = from + 1; to < n && strcmp(by_ticket ? rows[to]->ticket_id : rows[to]->subject_id, key) == 0; to++)
			;
		reporting_event *evs = NULL;
		hl_status st = unpack_events(c, rows, from, to, &evs);
		if (st)
			return st;
		if (by_ticket) {
			tickets[done] = (reporting_ticket){.ticket_id = key};
			reporting_fold_ticket(evs, to - from, &tickets[done++]);
		} else {
			subjects[done] = (reporting_subject){.subject_id = key};
			done += reporting_fold_subject(evs, to - from, &subjects[done]);
		}
	}
	if (by_ticket ? store_tickets_upsert(hl_call_pg(c), a, tenant, tickets, done, &err)
		      : store_subjects_upsert(hl_call_pg(c), a, tenant, subjects, done, &err))
		return hl_call_fail_err(c, &err);
	return HL_OK;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Take the fold lock of every ticket and subject the events touch, in sorted
 * order (no deadlock between two deliveries), before anything is written: a
 * concurrent delivery for the same ticket then folds after this one commits
 * and sees its events.
 */
static hl_status lock_keys(hl_call *c, const Hotline__Reporting__V1__RecordEventsRequest *r)
{
	const char **keys = hl_arena_alloc(hl_call_arena(c), 2 * r->n_events * sizeof *keys);
	int n = 0;
	if (!keys)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (size_t i = 0; i < r->n_events; i++) {
		if (r->events[i]->ticket_id[0])
			add_key(keys, &n, r->events[i]->ticket_id);
		add_key(keys, &n, reporting_event_subject(r->events[i]));
	}
	qsort(keys, (size_t)n, sizeof *keys, cmp_str);
	hl_error err;
	if (store_lock_keys(hl_call_pg(c), hl_call_arena(c), keys, n, &err))
		return hl_call_fail_err(c, &err);
	return HL_OK;
}

/* The tenant's first event: its settings with the defaults and the cut-off timer of the current day. */
static hl_status first_event(hl_call *c)
{
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	const char *tenant = hl_call_principal(c)->tenant, *zone;
	int cutoff;
	bool created;
	hl_timer_item it;
	hl_error err;
	if (store_settings_ensure(pg, a, tenant, &created, &err))
		return hl_call_fail_err(c, &err);
	if (!created)
		return HL_OK;
	if (store_settings_get(pg, a, &zone, &cutoff, &err) || reporting_today_timer(pg, a, zone, cutoff, &it, &err) ||
	    hl_call_timers_put(c, &it, 1, &err))
		return hl_call_fail_err(c, &err);
	return HL_OK;
}

hl_status reporting_record_events(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Reporting__V1__RecordEventsRequest *r = vreq;
	hl_status st;
	if (r->n_events == 0)
		return hl_call_fail(c, HL_INVALID, "events: at least one");
	if (r->n_events > REPORTING_MAX_EVENTS)
		return hl_call_fail(c, HL_INVALID, "events: at most %d per call", REPORTING_MAX_EVENTS);
	for (size_t i = 0; i < r->n_events; i++)
		if ((st = check_event(c, i, r->events[i])))
			return st;
	Hotline__Reporting__V1__RecordEventsResponse *out =
		HL_NEW(c, hotline__reporting__v1__record_events_response__descriptor);
	const char **tickets = hl_arena_alloc(hl_call_arena(c), r->n_events * sizeof *tickets);
	const char **subjects = hl_arena_alloc(hl_call_arena(c), r->n_events * sizeof *subjects);
	if (!out || !tickets || !subjects)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	bool replayed;
	if ((st = hl_inbox_begin(c, &hotline__reporting__v1__record_events_response__descriptor, resp, &replayed)) ||
	    replayed)
		return st;
	if ((st = lock_keys(c, r)) || (st = first_event(c)))
		return st;
	store_event_row *rows = NULL;
	store_event_key *added;
	int n_added, nt = 0, ns = 0;
	hl_error err;
	if ((st = event_rows(c, r, &rows)))
		return st;
	if (store_events_insert(hl_call_pg(c), hl_call_arena(c), hl_call_principal(c)->tenant, rows, (int)r->n_events,
				&added, &n_added, &err))
		return hl_call_fail_err(c, &err);
	out->accepted = n_added;
	for (int i = 0; i < n_added; i++) {
		const store_event_key *k = &added[i];
		if (k->ticket_id[0])
			add_key(tickets, &nt, k->ticket_id);
		if (!k->ticket_id[0] || strcmp(k->subject_id, k->ticket_id) != 0)
			add_key(subjects, &ns, k->subject_id);
	}
	if ((st = refold(c, tickets, nt, true)) || (st = refold(c, subjects, ns, false)))
		return st;
	if ((st = hl_inbox_commit(c, out)))
		return st;
	*resp = out;
	return HL_OK;
}
