/*
 * rpc_deadline.c - working-time deadlines of cases (DESIGN R11, R14, §5.7):
 * accept and complete deadlines start at assignment from the tenant's SLA
 * policy and calendar; pauses (waiting for the citizen) stop the clock and
 * approved extensions add working time, both recorded, never an edit of the
 * deadline.  Each deadline has two timers on the shared timer wheel
 * (hl/timers.h): the warning (预警) at the policy's fraction of the allowed
 * time and the due instant (超期).  Firing writes supervision notices to the
 * handler, the department head and (when overdue) the supervisors, records
 * the escalation, and sends a violation to compliance through the outbox.
 *
 * Timer keys carry the deadline's generation ("dl:<id>:due:<gen>"): a pause,
 * resume or extension bumps it and schedules new keys, so a timer of an
 * older generation that still fires changes nothing.  Effects are unique in
 * PostgreSQL (warned_at/overdue_at set once, notices unique per deadline,
 * kind and recipient), so a timer that fires twice has one effect.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "google/protobuf/timestamp.pb-c.h"
#include "hl/calendar.h"
#include "hl/crypto.h"
#include "hl/enqueue.h"
#include "hl/handler.h"
#include "hl/timers.h"
#include "hl/roles.h"
#include "hotline/compliance/v1/compliance.pb-c.h"
#include "store.h"

#define MASK(s) DISPATCH_MASK(s)
#define K(kind) HOTLINE__DISPATCH__V1__NOTICE_KIND__NOTICE_KIND_##kind
enum { WH = 1, WD = 2, CH = 3, WM = 4 };

static const char *const supervise_roles[] = {HL_ROLE_SUPERVISOR, HL_ROLE_INSPECTOR, NULL};
static const char *const decide_roles[] = {HL_ROLE_SUPERVISOR, NULL};
static const char *const desk_roles[] = {HL_ROLE_SUPERVISOR, HL_ROLE_DISPATCHER, HL_ROLE_TENANT_ADMIN, HL_ROLE_INSPECTOR, HL_ROLE_AUDITOR, NULL};

/* ---- computing due instants ------------------------------------------------------------ */

static hl_calendar *always;
static pthread_once_t always_once = PTHREAD_ONCE_INIT;

/* Clock-hour deadlines run on a calendar that works around the clock. */
static void make_always(void)
{
	static const hl_calendar_span all_day = {0, 1440};
	hl_calendar_spec spec = {.zone = "UTC"};
	for (int d = 0; d < 7; d++)
		spec.week[d] = (hl_calendar_hours){&all_day, 1};
	hl_error err;
	if (hl_calendar_new(&spec, &always, &err))
		always = NULL;
}

static const hl_calendar *calendar_for(const hl_calendar *tenant_cal, bool clock)
{
	if (!clock)
		return tenant_cal;
	pthread_once(&always_once, make_always);
	return always;
}

/* The working (or clock) time a policy duration allows from start. */
static hl_status allowed_ms(const hl_calendar *cal, int64_t start_ms, int amount, int unit, int64_t *ms,
			    hl_error *err)
{
	if (unit == WD) {
		int64_t close;
		hl_status st = hl_calendar_add_working_days(cal, start_ms, amount, &close, err);
		return st ? st : hl_calendar_working_between(cal, start_ms, close, ms, err);
	}
	*ms = (int64_t)amount * (unit == WM ? HL_MS_PER_MINUTE : HL_MS_PER_HOUR);
	return HL_OK;
}

typedef struct pauses {
	hl_calendar_pause *v;
	size_t n;
} pauses;

static hl_status load_pauses(hl_pg *pg, hl_arena *a, const char *case_id, pauses *out, hl_error *err)
{
	int64_t *from, *to;
	int n;
	hl_status st = store_pauses(pg, a, case_id, &from, &to, &n, err);
	if (st)
		return st;
	out->v = hl_arena_alloc(a, (size_t)(n ? n : 1) * sizeof *out->v);
	if (!out->v)
		return hl_fail(err, HL_NOMEM, "out of memory");
	for (int i = 0; i < n; i++)
		out->v[i] = (hl_calendar_pause){from[i] / 1000, to[i] ? to[i] / 1000 : HL_CALENDAR_NEVER};
	out->n = (size_t)n;
	return HL_OK;
}

/* due_us and warn_us of d from its start, allowance, extension and the pauses (0: clock stopped). */
static hl_status compute(const hl_calendar *cal, dispatch_deadline *d, const pauses *p, hl_error *err)
{
	int64_t start = d->started_us / 1000, due, warn;
	int64_t warn_part = (d->allowed_ms + d->extension_ms) * d->warning_permille / 1000;
	hl_status st = hl_calendar_due(cal, start, d->allowed_ms, p->v, p->n, d->extension_ms, &due, err);
	if (!st)
		st = hl_calendar_due(cal, start, warn_part, p->v, p->n, 0, &warn, err);
	if (st)
		return st;
	d->due_us = due == HL_CALENDAR_NEVER ? 0 : due * 1000;
	d->warn_us = warn == HL_CALENDAR_NEVER ? 0 : warn * 1000;
	return HL_OK;
}

static const char *timer_key(hl_arena *a, const dispatch_deadline *d, const char *what, int gen)
{
	return hl_arena_printf(a, "dl:%s:%s:%d", d->id, what, gen);
}

/* Put the timers of the current generation of n deadlines (and drop each one's previous generation). */
static hl_status schedule(hl_call *c, dispatch_deadline *const *dl, int n, hl_error *err)
{
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	hl_status st;
	hl_timer_item items[2 * DISPATCH_DEADLINE_KINDS];
	size_t m = 0;
	if (n > DISPATCH_DEADLINE_KINDS)
		return hl_fail(err, HL_INTERNAL, "more deadlines than kinds to schedule");
	for (int j = 0; j < n; j++) {
		const dispatch_deadline *d = dl[j];
		if (d->generation > 1 &&
		    ((st = hl_timer_cancel(pg, a, timer_key(a, d, "warn", d->generation - 1), err)) ||
		     (st = hl_timer_cancel(pg, a, timer_key(a, d, "due", d->generation - 1), err))))
			return st;
		if (d->warn_us && !d->warned_us)
			items[m++] = (hl_timer_item){timer_key(a, d, "warn", d->generation), "deadline.warn", d->id,
						     d->warn_us / 1000};
		if (d->due_us && !d->overdue_us)
			items[m++] = (hl_timer_item){timer_key(a, d, "due", d->generation), "deadline.due", d->id,
						     d->due_us / 1000};
	}
	for (size_t i = 0; i < m; i++)
		if (!items[i].key)
			return hl_fail(err, HL_NOMEM, "out of memory");
	return hl_call_timers_put(c, items, m, err);
}

static hl_status cancel_timers(hl_call *c, const dispatch_deadline *d, hl_error *err)
{
	hl_arena *a = hl_call_arena(c);
	hl_status st = hl_timer_cancel(hl_call_pg(c), a, timer_key(a, d, "warn", d->generation), err);
	return st ? st : hl_timer_cancel(hl_call_pg(c), a, timer_key(a, d, "due", d->generation), err);
}

/* ---- inside handlers ------------------------------------------------------------ */

hl_status dispatch_deadlines_start(hl_call *c, const dispatch_case *k)
{
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	hl_error err;
	const hl_calendar *cal;
	dispatch_sla *sla;
	pauses p = {0};
	if (dispatch_dir_calendar(pg, a, &cal, &err) || dispatch_dir_sla(pg, a, k->category, k->priority, &sla, &err) ||
	    (!k->fresh && load_pauses(pg, a, k->id, &p, &err))) /* a new case was never paused */
		return hl_call_fail_err(c, &err);
	if (!sla)
		return HL_OK; /* no policy applies: no deadlines */
	const int amount[2] = {sla->accept_amount, sla->complete_amount}, unit[2] = {sla->accept_unit, sla->complete_unit};
	int64_t now_us = hl_now_ms() * 1000;
	dispatch_deadline *dl[2];
	for (int i = 0; i < 2; i++) {
		dispatch_deadline *d = dl[i] = hl_arena_alloc(a, sizeof *d);
		char *id = hl_arena_alloc(a, HL_UUID_STR_LEN);
		if (!d || !id || hl_uuid_v7(id))
			return hl_call_fail(c, HL_NOMEM, "out of memory");
		*d = (dispatch_deadline){.id = id, .case_id = k->id, .kind = i ? DL_COMPLETE : DL_ACCEPT,
					 .warning_permille = sla->warning_permille, .generation = 1,
					 .started_us = now_us, .clock = unit[i] == CH};
		const hl_calendar *use = calendar_for(cal, d->clock);
		if (!use || allowed_ms(use, now_us / 1000, amount[i], unit[i], &d->allowed_ms, &err) ||
		    compute(use, d, &p, &err))
			return use ? hl_call_fail_err(c, &err) : hl_call_fail(c, HL_INTERNAL, "no clock calendar");
	}
	if (store_deadlines_insert(pg, a, k->tenant, dl, 2, &err) || schedule(c, dl, 2, &err))
		return hl_call_fail_err(c, &err);
	/* reporting's ledger and KPIs need the deadlines the case is measured against */
	hl_status st;
	for (int i = 0; i < 2; i++)
		if ((st = dispatch_case_event(c, k, "case.deadline_set", dl[i]->kind, dl[i]->due_us)))
			return st;
	return HL_OK;
}

/* Mark the open deadlines of k (of kind, 0: all) met or cancelled now. */
static hl_status close_deadlines(hl_call *c, const dispatch_case *k, int kind, bool met)
{
	dispatch_deadline **dl;
	int n;
	hl_error err;
	if (store_deadlines_open(hl_call_pg(c), hl_call_arena(c), k->id, kind, &dl, &n, &err))
		return hl_call_fail_err(c, &err);
	int64_t now_us = hl_now_ms() * 1000;
	for (int i = 0; i < n; i++) {
		if (met)
			dl[i]->met_us = now_us;
		else
			dl[i]->cancelled_us = now_us;
		if (store_deadline_update(hl_call_pg(c), hl_call_arena(c), dl[i], &err) || cancel_timers(c, dl[i], &err))
			return hl_call_fail_err(c, &err);
	}
	return HL_OK;
}

hl_status dispatch_deadline_meet(hl_call *c, const dispatch_case *k, int kind)
{
	return close_deadlines(c, k, kind, true);
}

hl_status dispatch_deadlines_cancel(hl_call *c, const dispatch_case *k)
{
	return close_deadlines(c, k, 0, false);
}

/*
 * An extension can move a deadline that has passed (or was warned of) into
 * the future again: then it is no longer overdue (warned), and its timers
 * fire anew for the new instants.  The notices already written stay.
 */
static void rearm(dispatch_deadline *d, int64_t now_us)
{
	if (d->overdue_us && d->due_us > now_us)
		d->overdue_us = 0;
	if (d->warned_us && d->warn_us > now_us)
		d->warned_us = 0;
}

/*
 * Recompute the open deadlines of k after its pauses or extensions changed
 * (extra_ms working time added to those of kind extra_kind), with new timers.
 */
static hl_status recompute(hl_call *c, const dispatch_case *k, int extra_kind, int64_t extra_ms)
{
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	hl_error err;
	const hl_calendar *cal;
	dispatch_deadline **dl;
	int n;
	pauses p;
	if (dispatch_dir_calendar(pg, a, &cal, &err) || load_pauses(pg, a, k->id, &p, &err) ||
	    store_deadlines_open(pg, a, k->id, 0, &dl, &n, &err))
		return hl_call_fail_err(c, &err);
	for (int i = 0; i < n; i++) {
		dispatch_deadline *d = dl[i];
		if (d->kind == extra_kind)
			d->extension_ms += extra_ms;
		d->generation++;
		const hl_calendar *use = calendar_for(cal, d->clock);
		if (!use || compute(use, d, &p, &err))
			return use ? hl_call_fail_err(c, &err) : hl_call_fail(c, HL_INTERNAL, "no clock calendar");
		rearm(d, hl_now_ms() * 1000);
		if (store_deadline_update(pg, a, d, &err) || schedule(c, &d, 1, &err))
			return hl_call_fail_err(c, &err);
	}
	return HL_OK;
}

/* The due instant of the reply (followup's deadline) counted from now, 0 when no policy applies. */
hl_status dispatch_reply_due(hl_call *c, const dispatch_case *k, int64_t *due_us)
{
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	hl_error err;
	const hl_calendar *cal;
	dispatch_sla *sla;
	*due_us = 0;
	if (dispatch_dir_calendar(pg, a, &cal, &err) || dispatch_dir_sla(pg, a, k->category, k->priority, &sla, &err))
		return hl_call_fail_err(c, &err);
	if (!sla)
		return HL_OK;
	const hl_calendar *use = calendar_for(cal, sla->reply_unit == CH);
	int64_t now = hl_now_ms(), ms, due;
	if (!use || allowed_ms(use, now, sla->reply_amount, sla->reply_unit, &ms, &err) ||
	    hl_calendar_add_working(use, now, ms, &due, &err))
		return use ? hl_call_fail_err(c, &err) : hl_call_fail(c, HL_INTERNAL, "no clock calendar");
	*due_us = due * 1000;
	return HL_OK;
}

/* ---- pause, resume, extensions ------------------------------------------------------------ */

hl_status dispatch_pause_case(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Dispatch__V1__PauseCaseRequest *r = vreq;
	hl_status st;
	dispatch_case *k;
	if ((st = hl_call_check_text(c, "reason", r->reason, 500, true)) || (st = hl_call_begin(c)) ||
	    (st = dispatch_case_load(c, r->case_id, true, &k)) || (st = dispatch_lock_check(c, k, r->lock_token)) ||
	    (st = dispatch_require_member(c, k)) ||
	    (st = dispatch_require_status(c, k, MASK(CS_ACCEPTED) | MASK(CS_IN_PROGRESS), "pause")))
		return st;
	if (k->paused_us)
		return hl_call_fail(c, HL_PRECONDITION, "the case is already paused");
	hl_error err;
	if (store_pause_begin(hl_call_pg(c), hl_call_arena(c), k->tenant, k->id, r->reason,
			      hl_call_principal(c)->actor, &err))
		return hl_call_fail_err(c, &err);
	k->paused_us = hl_now_ms() * 1000;
	if ((st = dispatch_case_save(c, k)) || (st = dispatch_step(c, k, "paused", r->reason)) ||
	    (st = recompute(c, k, 0, 0)) || (st = dispatch_case_event(c, k, "case.paused", 0, 0)))
		return st;
	return dispatch_case_answer(c, k, &hotline__dispatch__v1__pause_case_response__descriptor, resp);
}

hl_status dispatch_resume_case(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Dispatch__V1__ResumeCaseRequest *r = vreq;
	hl_status st;
	dispatch_case *k;
	if ((st = hl_call_begin(c)) || (st = dispatch_case_load(c, r->case_id, true, &k)) ||
	    (st = dispatch_lock_check(c, k, r->lock_token)) || (st = dispatch_require_member(c, k)))
		return st;
	if (!k->paused_us)
		return hl_call_fail(c, HL_PRECONDITION, "the case is not paused");
	hl_error err;
	if (store_pause_end(hl_call_pg(c), hl_call_arena(c), k->id, &err))
		return hl_call_fail_err(c, &err);
	k->paused_us = 0;
	if ((st = dispatch_case_save(c, k)) || (st = dispatch_step(c, k, "resumed", NULL)) ||
	    (st = recompute(c, k, 0, 0)) || (st = dispatch_case_event(c, k, "case.resumed", 0, 0)))
		return st;
	return dispatch_case_answer(c, k, &hotline__dispatch__v1__resume_case_response__descriptor, resp);
}

static Hotline__Dispatch__V1__Extension *extension_msg(hl_call *c, const store_extension *x)
{
	Hotline__Dispatch__V1__Extension *m = HL_NEW(c, hotline__dispatch__v1__extension__descriptor);
	Hotline__Dispatch__V1__WorkingDuration *d = HL_NEW(c, hotline__dispatch__v1__working_duration__descriptor);
	if (!m || !d)
		return NULL;
	d->amount = x->amount;
	d->unit = x->unit;
	m->id = (char *)x->id;
	m->case_id = (char *)x->case_id;
	m->deadline_kind = x->deadline_kind;
	m->extra = d;
	m->reason = (char *)x->reason;
	m->state = x->state;
	m->requested_by = (char *)x->requested_by;
	m->decided_by = (char *)(x->decided_by ? x->decided_by : "");
	m->opinion = (char *)(x->opinion ? x->opinion : "");
	m->created_at = hl_call_timestamp(c, x->created_us);
	m->decided_at = x->decided_us ? hl_call_timestamp(c, x->decided_us) : NULL;
	return m;
}

static hl_status validate_extension(hl_call *c, const Hotline__Dispatch__V1__RequestExtensionRequest *r)
{
	hl_status st;
	if ((int)r->deadline_kind != DL_ACCEPT && (int)r->deadline_kind != DL_COMPLETE)
		return hl_call_fail(c, HL_INVALID, "deadline_kind: accept or complete");
	if (!r->extra || r->extra->amount < 1 || r->extra->amount > 1000 || r->extra->unit < 1 || r->extra->unit > 4)
		return hl_call_fail(c, HL_INVALID, "extra: amount 1 to 1000 and a unit required");
	if ((st = hl_call_check_text(c, "reason", r->reason, 1000, true)) ||
	    (st = hl_call_check_request_id(c, r->request_id)))
		return st;
	return HL_OK;
}

hl_status dispatch_request_extension(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Dispatch__V1__RequestExtensionRequest *r = vreq;
	hl_status st;
	dispatch_case *k;
	store_extension *x = NULL;
	hl_error err;
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	if ((st = validate_extension(c, r)) || (st = hl_call_begin(c)) ||
	    (st = dispatch_case_load(c, r->case_id, true, &k)) || (st = dispatch_require_member(c, k)))
		return st;
	if (r->request_id[0] && store_extension_get(pg, a, NULL, r->request_id, false, &x, &err))
		return hl_call_fail_err(c, &err);
	/* a retry is of the same case: another case's request is neither answered nor revealed */
	if (x && strcmp(x->case_id, k->id) != 0)
		return hl_call_fail(c, HL_INVALID, "request_id: already used for another request");
	if (!x) { /* not a retry of an earlier request */
		dispatch_deadline **dl;
		int n;
		char *id = hl_arena_alloc(a, HL_UUID_STR_LEN);
		if (store_deadlines_open(pg, a, k->id, r->deadline_kind, &dl, &n, &err))
			return hl_call_fail_err(c, &err);
		if (n == 0)
			return hl_call_fail(c, HL_PRECONDITION, "no open deadline of that kind");
		if (!id || !(x = hl_arena_alloc(a, sizeof *x)) || hl_uuid_v7(id))
			return hl_call_fail(c, HL_NOMEM, "out of memory");
		*x = (store_extension){.id = id, .case_id = k->id, .request_id = r->request_id, .reason = r->reason,
				       .requested_by = hl_call_principal(c)->actor, .deadline_kind = r->deadline_kind,
				       .amount = r->extra->amount, .unit = r->extra->unit, .state = 1,
				       .created_us = hl_now_ms() * 1000};
		if (store_extension_insert(pg, a, k->tenant, x, &err))
			return hl_call_fail_err(c, &err);
		if ((st = dispatch_step(c, k, "extension_requested", r->reason)))
			return st;
	}
	Hotline__Dispatch__V1__RequestExtensionResponse *out =
		HL_NEW(c, hotline__dispatch__v1__request_extension_response__descriptor);
	if (!out || !(out->extension = extension_msg(c, x)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if ((st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}

/* The working time an approved extension adds, measured from the deadline's current due instant. */
static hl_status extension_ms(hl_call *c, const dispatch_case *k, const store_extension *x, int64_t *ms)
{
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	const hl_calendar *cal;
	dispatch_deadline **dl;
	int n;
	hl_error err;
	if (dispatch_dir_calendar(pg, a, &cal, &err) || store_deadlines_open(pg, a, k->id, x->deadline_kind, &dl, &n, &err))
		return hl_call_fail_err(c, &err);
	if (n == 0)
		return hl_call_fail(c, HL_PRECONDITION, "the deadline is no longer open");
	const hl_calendar *use = calendar_for(cal, dl[0]->clock || x->unit == CH);
	int64_t from = dl[0]->due_us ? dl[0]->due_us / 1000 : hl_now_ms();
	if (!use || allowed_ms(use, from, x->amount, x->unit, ms, &err))
		return use ? hl_call_fail_err(c, &err) : hl_call_fail(c, HL_INTERNAL, "no clock calendar");
	return HL_OK;
}

hl_status dispatch_decide_extension(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Dispatch__V1__DecideExtensionRequest *r = vreq;
	hl_status st;
	store_extension *x;
	dispatch_case *k;
	hl_error err;
	if ((st = hl_call_require_any(c, decide_roles)) ||
	    (st = hl_call_check_text(c, "opinion", r->opinion, 1000, !r->approve)) || (st = hl_call_begin(c)))
		return st;
	if (store_extension_get(hl_call_pg(c), hl_call_arena(c), r->extension_id, NULL, true, &x, &err))
		return hl_call_fail_err(c, &err);
	if (!x)
		return hl_call_fail(c, HL_NOT_FOUND, "extension not found");
	if ((st = dispatch_case_load(c, x->case_id, true, &k)))
		return st;
	if (x->state != 1)
		return hl_call_fail(c, HL_PRECONDITION, "the extension was already decided");
	if (strcmp(x->requested_by, hl_call_principal(c)->actor) == 0)
		return hl_call_fail(c, HL_DENIED, "nobody decides their own extension request");
	/* no implementation without review: an approved extension needs compliance's approval first */
	if (r->approve && (st = dispatch_gate_extension(c, k, x->id, x->deadline_kind, x->amount, x->unit, x->reason)))
		return st;
	x->state = r->approve ? 2 : 3;
	x->decided_by = hl_call_principal(c)->actor;
	x->opinion = r->opinion;
	x->decided_us = hl_now_ms() * 1000;
	int64_t extra = 0;
	if (store_extension_decide(hl_call_pg(c), hl_call_arena(c), x, &err))
		return hl_call_fail_err(c, &err);
	if (r->approve && ((st = extension_ms(c, k, x, &extra)) || (st = recompute(c, k, x->deadline_kind, extra)) ||
			   (st = dispatch_case_event(c, k, "case.extended", x->deadline_kind, 0))))
		return st;
	if ((st = dispatch_step(c, k, r->approve ? "extension_approved" : "extension_rejected", r->opinion)))
		return st;
	Hotline__Dispatch__V1__DecideExtensionResponse *out =
		HL_NEW(c, hotline__dispatch__v1__decide_extension_response__descriptor);
	if (!out || !(out->extension = extension_msg(c, x)) || (st = dispatch_case_msg(c, k, false, &out->case_)))
		return st ? st : hl_call_fail(c, HL_NOMEM, "out of memory");
	if ((st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}

/* ---- notices ------------------------------------------------------------ */

static Hotline__Dispatch__V1__Notice *notice_msg(hl_call *c, const store_notice *x)
{
	Hotline__Dispatch__V1__Notice *m = HL_NEW(c, hotline__dispatch__v1__notice__descriptor);
	if (m) {
		m->id = (char *)x->id;
		m->kind = x->kind;
		m->case_id = (char *)x->case_id;
		m->ticket_no = (char *)(x->ticket_no ? x->ticket_no : "");
		m->department_id = (char *)(x->department_id ? x->department_id : "");
		m->deadline_kind = x->deadline_kind;
		m->recipient_id = (char *)x->recipient_id;
		m->note = (char *)(x->note ? x->note : "");
		m->issued_by = (char *)x->issued_by;
		m->created_at = hl_call_timestamp(c, x->created_us);
	}
	return m;
}

/* Notify each distinct non-empty recipient; *first receives the first notice written. */
static hl_status notify(hl_pg *pg, hl_arena *a, const dispatch_case *k, store_notice proto, const char *const *to,
			int n, store_notice **first, hl_error *err)
{
	for (int i = 0; i < n; i++) {
		bool dup = !to[i] || !to[i][0];
		for (int j = 0; j < i && !dup; j++)
			dup = to[j] && strcmp(to[i], to[j]) == 0;
		if (dup)
			continue;
		store_notice *x = hl_arena_alloc(a, sizeof *x);
		char *id = hl_arena_alloc(a, HL_UUID_STR_LEN);
		if (!x || !id || hl_uuid_v7(id))
			return hl_fail(err, HL_NOMEM, "out of memory");
		*x = proto;
		x->id = id;
		x->recipient_id = to[i];
		x->created_us = hl_now_ms() * 1000;
		bool inserted;
		hl_status st = store_notice_insert(pg, a, k->tenant, x, &inserted, err);
		if (st)
			return st;
		if (first && !*first && inserted)
			*first = x;
	}
	return HL_OK;
}

static hl_status department_head(hl_pg *pg, hl_arena *a, const char *dept, const char **head, hl_error *err)
{
	dispatch_department *d = NULL;
	*head = NULL;
	hl_status st = dept ? dispatch_dir_department(pg, a, dept, &d, err) : HL_OK;
	if (st == HL_OK && d)
		*head = d->head_id;
	return st;
}

hl_status dispatch_supervise_case(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Dispatch__V1__SuperviseCaseRequest *r = vreq;
	hl_status st;
	dispatch_case *k;
	if ((st = hl_call_require_any(c, supervise_roles)) || (st = hl_call_check_text(c, "note", r->note, 1000, true)) ||
	    (st = hl_call_begin(c)) || (st = dispatch_case_load(c, r->case_id, true, &k)))
		return st;
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	hl_error err;
	const char *head;
	store_notice *first = NULL;
	store_notice proto = {.case_id = k->id, .department_id = k->department_id, .note = r->note,
			      .issued_by = hl_call_principal(c)->actor, .ticket_no = k->ticket_no,
			      .kind = K(SUPERVISION)};
	if (department_head(pg, a, k->department_id, &head, &err))
		return hl_call_fail_err(c, &err);
	const char *to[] = {k->handler_id, head};
	if (notify(pg, a, k, proto, to, 2, &first, &err))
		return hl_call_fail_err(c, &err);
	if (!first)
		return hl_call_fail(c, HL_PRECONDITION, "the case has no department head or handler yet");
	if ((st = dispatch_step(c, k, "supervised", r->note)) || (st = dispatch_case_event(c, k, "case.supervised", 0, 0)))
		return st;
	Hotline__Dispatch__V1__SuperviseCaseResponse *out =
		HL_NEW(c, hotline__dispatch__v1__supervise_case_response__descriptor);
	if (!out || !(out->notice = notice_msg(c, first)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if ((st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}

hl_status dispatch_list_notices(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Dispatch__V1__ListNoticesRequest *r = vreq;
	hl_status st;
	if (r->page_size < 0 || r->page_size > 200)
		return hl_call_fail(c, HL_INVALID, "page_size: 0 to 200");
	if ((r->case_id[0] && !hl_uuid_valid(r->case_id)) || (r->page_token[0] && !hl_uuid_valid(r->page_token)))
		return hl_call_fail(c, HL_INVALID, "case_id/page_token: not a UUID");
	if ((st = hl_call_require_any(c, hl_roles_staff)) || (st = hl_call_begin(c)))
		return st;
	store_notice_filter f = {r->department_id[0] ? r->department_id : NULL, r->case_id[0] ? r->case_id : NULL,
				 r->recipient_id[0] ? r->recipient_id : NULL, r->page_token[0] ? r->page_token : NULL,
				 r->page_size ? r->page_size : 50};
	bool desk = hl_call_has_any(c, desk_roles);
	dispatch_viewer v;
	if ((st = dispatch_viewer_load(c, &v)))
		return st;
	bool own_dept = hl_call_has_role(c, HL_ROLE_DEPT_HEAD) && f.department_id &&
			((v.me && strcmp(f.department_id, v.me->department_id) == 0) ||
			 dispatch_in(v.led, v.n_led, f.department_id));
	if (!desk && !own_dept) /* everybody else reads their own notices */
		f.recipient_id = hl_call_principal(c)->actor;
	store_notice **list;
	int n;
	hl_error err;
	if (store_notices(hl_call_pg(c), hl_call_arena(c), &f, &list, &n, &err))
		return hl_call_fail_err(c, &err);
	if ((st = hl_call_commit(c)))
		return st;
	Hotline__Dispatch__V1__ListNoticesResponse *out =
		HL_NEW(c, hotline__dispatch__v1__list_notices_response__descriptor);
	if (!out || !(out->notices = hl_arena_alloc(hl_call_arena(c), (size_t)(n ? n : 1) * sizeof(void *))))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (int i = 0; i < n; i++)
		if (!(out->notices[i] = notice_msg(c, list[i])))
			return hl_call_fail(c, HL_NOMEM, "out of memory");
	out->n_notices = (size_t)n;
	out->next_page_token = (char *)(n == f.limit ? list[n - 1]->id : "");
	*resp = out;
	return HL_OK;
}

/* ---- firing (timer workers, system role) ------------------------------------------------------------ */

static hl_status violation(hl_pg *pg, hl_arena *a, const dispatch_case *k, const dispatch_deadline *d, hl_error *err)
{
	Hotline__Compliance__V1__RecordViolationRequest m = HOTLINE__COMPLIANCE__V1__RECORD_VIOLATION_REQUEST__INIT;
	Google__Protobuf__Timestamp due = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	due.seconds = d->due_us / 1000000;
	m.kind = d->kind == DL_ACCEPT ? HOTLINE__COMPLIANCE__V1__VIOLATION_KIND__VIOLATION_KIND_LATE_ACCEPTANCE
				      : HOTLINE__COMPLIANCE__V1__VIOLATION_KIND__VIOLATION_KIND_LATE_HANDLING;
	m.subject_type = "case";
	m.subject_id = (char *)k->id;
	m.ticket_id = (char *)k->ticket_id;
	m.department_id = (char *)(k->department_id ? k->department_id : "");
	m.person_id = (char *)(k->handler_id ? k->handler_id : "");
	m.description = d->kind == DL_ACCEPT ? "超时未受理 (accept deadline passed)" : "超期办理 (complete deadline passed)";
	m.due_at = &due;
	m.occurred_at = &due;
	hl_enqueue_row row = {.tenant = k->tenant, .subject_id = k->ticket_id,
			      .service = &hotline__compliance__v1__compliance_service__descriptor, .method = "RecordViolation",
			      .idempotency_key = hl_arena_printf(a, "violation:%s:%d", d->id, d->generation),
			      .actor = "system:dispatch"};
	return row.idempotency_key ? hl_enqueue(pg, a, &row, &m.base, err) : hl_fail(err, HL_NOMEM, "out of memory");
}

/* The generation a timer key names ("dl:<id>:<what>:<gen>"), 0 if malformed. */
static int key_generation(const char *key)
{
	const char *p = strrchr(key, ':');
	int gen = 0;
	return p && sscanf(p + 1, "%d", &gen) == 1 ? gen : 0;
}

static hl_status fire_one(hl_pg *pg, hl_arena *a, dispatch_case *k, dispatch_deadline *d, bool due, hl_error *err)
{
	const char *actor = "system:dispatch", *head;
	const char **sup = NULL;
	int n_sup = 0;
	hl_status st = department_head(pg, a, k->department_id, &head, err);
	if (!st && due)
		st = store_supervisors(pg, a, &sup, &n_sup, err);
	if (st)
		return st;
	const char **to = hl_arena_alloc(a, (size_t)(n_sup + 2) * sizeof *to);
	if (!to)
		return hl_fail(err, HL_NOMEM, "out of memory");
	to[0] = k->handler_id;
	to[1] = head;
	memcpy(to + 2, sup, (size_t)n_sup * sizeof *to);
	store_notice proto = {.case_id = k->id, .deadline_id = d->id, .department_id = k->department_id,
			      .issued_by = actor, .ticket_no = k->ticket_no, .kind = due ? K(OVERDUE) : K(WARNING),
			      .deadline_kind = d->kind, .deadline_generation = d->generation,
			      .note = due ? (d->kind == DL_ACCEPT ? "超时未受理" : "超期未办结")
					  : (d->kind == DL_ACCEPT ? "即将超时未受理" : "即将超期")};
	int64_t now_us = hl_now_ms() * 1000;
	if (due)
		d->overdue_us = now_us;
	else
		d->warned_us = now_us;
	const char *type = due ? "case.overdue" : "case.warning";
	if ((st = store_deadline_update(pg, a, d, err)) || (st = notify(pg, a, k, proto, to, n_sup + 2, NULL, err)) ||
	    (st = dispatch_record_step(pg, a, k, actor, due ? "escalated" : "warned", proto.note, err)) ||
	    (st = dispatch_enqueue_case_event(pg, a, k, actor, type, d->kind, d->due_us, err)))
		return st;
	return due ? violation(pg, a, k, d, err) : HL_OK;
}

hl_status dispatch_timer_fire(void *app, hl_pg *pg, hl_arena *a, const hl_timer *t, hl_error *err)
{
	(void)app;
	bool due = strcmp(t->kind, "deadline.due") == 0;
	if (!due && strcmp(t->kind, "deadline.warn") != 0)
		return HL_OK; /* not ours: nothing to do */
	dispatch_deadline *d;
	dispatch_case *k;
	hl_status st = store_deadline_get(pg, a, t->subject, false, &d, err);
	if (st || !d)
		return st;
	/* lock order as in the handlers: the case, then its deadline */
	if ((st = store_case_get(pg, a, d->case_id, true, &k, err)) || !k ||
	    (st = store_deadline_get(pg, a, t->subject, true, &d, err)) || !d)
		return st;
	if (d->met_us || d->cancelled_us || key_generation(t->key) != d->generation || (due ? d->overdue_us : d->warned_us))
		return HL_OK; /* met, cancelled, rescheduled or already fired: no effect */
	return fire_one(pg, a, k, d, due, err);
}
