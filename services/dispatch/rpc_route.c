/*
 * rpc_route.c - routing and assignment (DESIGN R8, R12, R33): a submitted
 * ticket becomes a case routed by the first matching rule, with the basis
 * recorded (the rule, or "no rule matched" and the dispatcher queue), and
 * given to the active handler with the least open load and the needed
 * skill; manual assignment with a reason, transfer, return with a reason
 * code (re-routed without the returning department), co-handling (a lead
 * case and assisting cases), recusal (a misconduct report never goes to a
 * department it implicates), and reopening after an unsatisfied reply.
 */
#include <string.h>

#include "hl/crypto.h"
#include "hl/handler.h"
#include "hl/limits.h"
#include "hl/inbox.h"
#include "hl/roles.h"
#include "hotline/common/v1/common.pb-c.h"
#include "store.h"

#define B(kind) HOTLINE__DISPATCH__V1__BASIS_KIND__BASIS_KIND_##kind
#define MASK(s) DISPATCH_MASK(s)

static const char *const assign_roles[] = {HL_ROLE_DISPATCHER, HL_ROLE_SUPERVISOR, HL_ROLE_DEPT_HEAD, NULL};
static const char *const transfer_roles[] = {HL_ROLE_DISPATCHER, HL_ROLE_SUPERVISOR, NULL};

/* ---- rule matching ------------------------------------------------------------ */

static bool int_in(const int *v, int n, int x)
{
	for (int i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

static bool any_substring(const char *const *kw, int n, const char *text)
{
	for (int i = 0; i < n; i++)
		if (strstr(text, kw[i]))
			return true;
	return false;
}

/* Every non-empty criterion must match (any of its values). */
static bool rule_matches(const dispatch_rule *r, const dispatch_case *k)
{
	return (!r->n_categories || int_in(r->categories, r->n_categories, k->category)) &&
	       (!r->n_channels || int_in(r->channels, r->n_channels, k->channel)) &&
	       (!r->n_topic_kw || any_substring(r->topic_kw, r->n_topic_kw, k->topic)) &&
	       (!r->n_desc_kw || any_substring(r->desc_kw, r->n_desc_kw, k->description)) &&
	       (!r->n_areas || any_substring(r->areas, r->n_areas, k->area));
}

/* A department a case may not go to: implicated (回避) or one that returned it. */
static bool excluded(const dispatch_case *k, const char *dept)
{
	return dispatch_in(k->implicated, k->n_implicated, dept) || dispatch_in(k->returned_by, k->n_returned_by, dept);
}

/* ---- assignment ------------------------------------------------------------ */

hl_status dispatch_release(hl_call *c, dispatch_case *k)
{
	hl_error err;
	hl_status st;
	if (k->handler_id && k->status != CS_APPROVED &&
	    store_release_handler(hl_call_pg(c), hl_call_arena(c), k->handler_id, &err))
		return hl_call_fail_err(c, &err);
	if ((st = dispatch_deadlines_cancel(c, k)))
		return st;
	k->department_id = NULL;
	k->handler_id = NULL;
	return HL_OK;
}

/*
 * Save k's new routing.  A submitted ticket's lead case is written here for the first time, with
 * its routing, and its "created" step comes before the routing's own.
 */
static hl_status save_routed(hl_call *c, dispatch_case *k)
{
	if (!k->unsaved)
		return dispatch_case_save(c, k);
	hl_error err;
	if (store_case_insert(hl_call_pg(c), hl_call_arena(c), k, &err))
		return hl_call_fail_err(c, &err);
	k->unsaved = false;
	return dispatch_step(c, k, "created", NULL);
}

/*
 * Assign k to the active department d: the named handler, or the least-loaded one with skill.
 * new_clock: the department's accept and complete deadlines start now (not when a case only
 * changes hands within the department it is already in).
 */
static hl_status assign_to(hl_call *c, dispatch_case *k, const dispatch_department *d, const char *handler,
			   const char *skill, bool new_clock)
{
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	hl_error err;
	hl_status st;
	const char *dept = d->id;
	if (dispatch_in(k->implicated, k->n_implicated, dept))
		return hl_call_fail(c, HL_PRECONDITION, "department_id: implicated by the report (回避)");
	if (handler && handler[0]) {
		bool ok;
		if (store_take_handler(pg, a, dept, handler, &ok, &err))
			return hl_call_fail_err(c, &err);
		if (!ok)
			return hl_call_fail(c, HL_PRECONDITION, "handler_id: not active staff of the department");
	} else if (store_pick_handler(pg, a, dept, skill, NULL, dispatch_dir_pick_locked(pg, dept), &handler, &err)) {
		return hl_call_fail_err(c, &err);
	}
	k->department_id = d->id;
	k->handler_id = handler && handler[0] ? handler : NULL; /* none: the department's own queue */
	k->status = CS_ASSIGNED;
	if ((st = save_routed(c, k)) || (st = dispatch_step(c, k, "assigned", k->basis_reason)) ||
	    (new_clock && (st = dispatch_deadlines_start(c, k))))
		return st;
	return dispatch_case_event(c, k, "case.assigned", 0, 0);
}

static hl_status active_department(hl_call *c, const char *id, dispatch_department **d)
{
	hl_error err;
	if (dispatch_dir_department(hl_call_pg(c), hl_call_arena(c), id, d, &err))
		return hl_call_fail_err(c, &err);
	if (!*d || !(*d)->active)
		return hl_call_fail(c, HL_PRECONDITION, "department_id: no such active department");
	return HL_OK;
}

hl_status dispatch_assign(hl_call *c, dispatch_case *k, const char *dept, const char *handler, const char *skill)
{
	dispatch_department *d;
	hl_status st = active_department(c, dept, &d);
	return st ? st : assign_to(c, k, d, handler, skill, true);
}

hl_status dispatch_route(hl_call *c, dispatch_case *k)
{
	dispatch_rule **rules;
	int n;
	hl_error err;
	if (dispatch_dir_rules(hl_call_pg(c), hl_call_arena(c), &rules, &n, &err))
		return hl_call_fail_err(c, &err);
	for (int i = 0; i < n; i++) {
		if (!rule_matches(rules[i], k) || excluded(k, rules[i]->target))
			continue;
		dispatch_department *d;
		if (dispatch_dir_department(hl_call_pg(c), hl_call_arena(c), rules[i]->target, &d, &err))
			return hl_call_fail_err(c, &err);
		if (!d || !d->active)
			continue;
		if (k->basis_kind != B(RETURN))
			k->basis_kind = B(RULE);
		k->basis_rule_id = rules[i]->id;
		return assign_to(c, k, d, NULL, rules[i]->skill, true);
	}
	/* no rule matched: the dispatcher queue, with that as the recorded basis */
	if (k->basis_kind != B(RETURN))
		k->basis_kind = B(NO_RULE);
	k->basis_rule_id = NULL;
	k->status = CS_PENDING;
	hl_status st;
	if ((st = save_routed(c, k)) || (st = dispatch_step(c, k, "queued", "no rule matched")))
		return st;
	return dispatch_case_event(c, k, "case.queued", 0, 0);
}

/* ---- SubmitTicket (internal, from intake) ------------------------------------------------------------ */

static hl_status validate_submit(hl_call *c, const Hotline__Dispatch__V1__SubmitTicketRequest *r)
{
	hl_status st;
	if (!hl_uuid_valid(r->ticket_id))
		return hl_call_fail(c, HL_INVALID, "ticket_id: not a UUID");
	if (!r->ticket_no[0] || strlen(r->ticket_no) > 32)
		return hl_call_fail(c, HL_INVALID, "ticket_no: required (max 32)");
	if (!protobuf_c_enum_descriptor_get_value(&hotline__common__v1__channel__descriptor, r->channel) || !r->channel)
		return hl_call_fail(c, HL_INVALID, "channel: required");
	if (!protobuf_c_enum_descriptor_get_value(&hotline__common__v1__category__descriptor, r->category) ||
	    !r->category)
		return hl_call_fail(c, HL_INVALID, "category: required");
	if (!protobuf_c_enum_descriptor_get_value(&hotline__common__v1__priority__descriptor, r->priority) ||
	    !r->priority)
		return hl_call_fail(c, HL_INVALID, "priority: required");
	if ((st = hl_call_check_text(c, "topic", r->topic, HL_LIMIT_TOPIC_CHARS, true)) ||
	    (st = hl_call_check_text(c, "description", r->description, HL_LIMIT_DESCRIPTION_CHARS, false)) ||
	    (st = hl_call_check_text(c, "area", r->area, HL_LIMIT_AREA_CHARS, false)) ||
	    (st = hl_call_check_text(c, "registered_by", r->registered_by, 128, false)))
		return st;
	if (r->n_implicated_department_ids > 16)
		return hl_call_fail(c, HL_INVALID, "implicated_department_ids: at most 16");
	return HL_OK;
}

static hl_status submitted_answer(hl_call *c, const char *case_id, void **resp)
{
	Hotline__Dispatch__V1__SubmitTicketResponse *out =
		HL_NEW(c, hotline__dispatch__v1__submit_ticket_response__descriptor);
	if (!out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	out->case_id = (char *)case_id;
	*resp = out;
	return HL_OK;
}

/* The lead cases of a held batch's tickets, locked and looked up together (hl_method.prefetch). */
hl_status dispatch_submit_prefetch(hl_pg *pg, hl_arena *a, const char *tenant, const void *const *reqs, int n,
				   hl_error *err)
{
	(void)tenant;
	const char **ids = hl_arena_alloc(a, (size_t)n * sizeof *ids);
	int m = 0;
	if (!ids)
		return hl_fail(err, HL_NOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		const Hotline__Dispatch__V1__SubmitTicketRequest *r = reqs[i];
		if (hl_uuid_valid(r->ticket_id))
			ids[m++] = r->ticket_id;
	}
	return m ? store_lead_cases_lock(pg, ids, m, err) : HL_OK;
}

static dispatch_case *new_case(hl_call *c, const Hotline__Dispatch__V1__SubmitTicketRequest *r)
{
	hl_arena *a = hl_call_arena(c);
	dispatch_case *k = hl_arena_alloc(a, sizeof *k);
	char *id = hl_arena_alloc(a, HL_UUID_STR_LEN);
	if (!k || !id || hl_uuid_v7(id))
		return NULL;
	memset(k, 0, sizeof *k);
	k->tenant = hl_call_principal(c)->tenant;
	k->id = id;
	k->ticket_id = r->ticket_id;
	k->ticket_no = r->ticket_no;
	k->role = ROLE_LEAD;
	k->fresh = true;
	k->unsaved = true;
	k->version = 1;
	k->status = CS_PENDING;
	k->basis_kind = B(NO_RULE);
	k->basis_reason = "";
	k->basis_actor = hl_call_principal(c)->actor;
	k->channel = r->channel;
	k->category = r->category;
	k->priority = r->priority;
	k->topic = r->topic;
	k->description = r->description;
	k->area = r->area;
	k->registered_by = r->registered_by[0] ? r->registered_by : hl_call_principal(c)->actor;
	k->registered_us = r->registered_at ? hl_timestamp_us(r->registered_at) : hl_now_ms() * 1000;
	k->implicated = (const char **)r->implicated_department_ids;
	k->n_implicated = (int)r->n_implicated_department_ids;
	return k;
}

hl_status dispatch_submit_ticket(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Dispatch__V1__SubmitTicketRequest *r = vreq;
	hl_status st;
	bool replayed;
	if ((st = validate_submit(c, r)) ||
	    (st = hl_inbox_begin(c, &hotline__dispatch__v1__submit_ticket_response__descriptor, resp, &replayed)) ||
	    replayed || (st = dispatch_tenant_defaults(c)))
		return st;
	const char *existing;
	hl_error err;
	if (store_lead_case_id(hl_call_pg(c), hl_call_arena(c), r->ticket_id, &existing, &err))
		return hl_call_fail_err(c, &err);
	if (existing) { /* a delivery of the same ticket under another key, or a concurrent one: nothing to write */
		hl_pg_release(hl_call_pg(c));
		return submitted_answer(c, existing, resp);
	}
	dispatch_case *k = new_case(c, r);
	if (!k)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if ((st = dispatch_route(c, k)) ||
	    (st = dispatch_ticket_status(c, k, HOTLINE__COMMON__V1__TICKET_STATUS__TICKET_STATUS_IN_HANDLING,
					 "已受理，正在办理")) ||
	    (st = submitted_answer(c, k->id, resp)))
		return st;
	return hl_inbox_commit(c, *resp);
}

/* Assisting cases of a co-handled ticket (主办/协办). */
/* Whether the ticket of lead already has an assisting case in dept. */
static bool assisted_by(dispatch_case **cases, int n, const char *dept)
{
	for (int i = 0; i < n; i++)
		if (cases[i]->role == ROLE_ASSIST && cases[i]->status != CS_CLOSED && cases[i]->department_id &&
		    strcmp(cases[i]->department_id, dept) == 0)
			return true;
	return false;
}

static hl_status add_assisting(hl_call *c, const dispatch_case *lead, char **depts, size_t n)
{
	hl_arena *a = hl_call_arena(c);
	hl_error err;
	hl_status st;
	dispatch_case **existing;
	int n_existing = 0;
	store_case_filter f = {.ticket_id = lead->ticket_id, .limit = 200};
	if (n && store_cases(hl_call_pg(c), a, &f, &existing, &n_existing, &err))
		return hl_call_fail_err(c, &err);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(depts[i], lead->department_id) == 0 || assisted_by(existing, n_existing, depts[i]))
			continue; /* the lead department, or already assisting */
		dispatch_case *k = hl_arena_alloc(a, sizeof *k);
		char *id = hl_arena_alloc(a, HL_UUID_STR_LEN);
		if (!k || !id || hl_uuid_v7(id))
			return hl_call_fail(c, HL_NOMEM, "out of memory");
		*k = *lead;
		k->id = id;
		k->role = ROLE_ASSIST;
		k->lead_case_id = lead->id;
		k->status = CS_PENDING;
		k->department_id = NULL;
		k->handler_id = NULL;
		k->basis_kind = B(CO_HANDLING);
		k->fence = 0;
		if (store_case_insert(hl_call_pg(c), a, k, &err))
			return hl_call_fail_err(c, &err);
		if ((st = dispatch_step(c, k, "created", "co-handling")) ||
		    (st = dispatch_assign(c, k, depts[i], NULL, NULL)))
			return st;
	}
	return HL_OK;
}

static hl_status validate_assign(hl_call *c, const Hotline__Dispatch__V1__AssignCaseRequest *r)
{
	hl_status st;
	if ((st = hl_call_require_any(c, assign_roles)) ||
	    (st = hl_call_check_text(c, "department_id", r->department_id, 64, true)) ||
	    (st = hl_call_check_text(c, "handler_id", r->handler_id, 128, false)) ||
	    (st = hl_call_check_text(c, "reason", r->reason, 500, true)))
		return st;
	if (r->n_assisting_department_ids > 8)
		return hl_call_fail(c, HL_INVALID, "assisting_department_ids: at most 8");
	return HL_OK;
}

/* Another handler (named, or the least loaded) in the department k is assigned to. */
static hl_status reassign_within(hl_call *c, dispatch_case *k, const char *handler)
{
	hl_error err;
	hl_status st;
	dispatch_department *d;
	if (k->handler_id && store_release_handler(hl_call_pg(c), hl_call_arena(c), k->handler_id, &err))
		return hl_call_fail_err(c, &err);
	k->handler_id = NULL;
	return (st = active_department(c, k->department_id, &d)) ? st : assign_to(c, k, d, handler, NULL, false);
}

/* AssignCase's move: within the case's department the clock runs on, elsewhere it starts anew. */
static hl_status assign_manually(hl_call *c, dispatch_case *k, const char *dept, const char *handler)
{
	if (k->status == CS_ASSIGNED && k->department_id && strcmp(k->department_id, dept) == 0)
		return reassign_within(c, k, handler);
	hl_status st = dispatch_release(c, k);
	return st ? st : dispatch_assign(c, k, dept, handler, NULL);
}

hl_status dispatch_assign_case(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Dispatch__V1__AssignCaseRequest *r = vreq;
	hl_status st;
	dispatch_case *k;
	if ((st = validate_assign(c, r)) || (st = hl_call_begin(c)) ||
	    (st = dispatch_case_load(c, r->case_id, true, &k)) ||
	    (st = dispatch_lock_check(c, k, r->lock_token)))
		return st;
	bool desk = hl_call_has_role(c, HL_ROLE_DISPATCHER) || hl_call_has_role(c, HL_ROLE_SUPERVISOR);
	/* a department head (re)assigns a handler within their own department only */
	if (!desk && (!k->department_id || strcmp(k->department_id, r->department_id) != 0))
		return hl_call_fail(c, HL_DENIED, "a department head assigns within the department");
	if ((st = dispatch_require_status(c, k, MASK(CS_PENDING) | MASK(CS_ASSIGNED), "assign")))
		return st;
	k->basis_kind = B(MANUAL);
	k->basis_rule_id = NULL;
	k->basis_reason = r->reason;
	k->basis_actor = hl_call_principal(c)->actor;
	if ((st = assign_manually(c, k, r->department_id, r->handler_id)) ||
	    (st = add_assisting(c, k, r->assisting_department_ids, r->n_assisting_department_ids)))
		return st;
	return dispatch_case_answer(c, k, &hotline__dispatch__v1__assign_case_response__descriptor, resp);
}

hl_status dispatch_transfer_case(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Dispatch__V1__TransferCaseRequest *r = vreq;
	hl_status st;
	dispatch_case *k;
	if ((st = hl_call_require_any(c, transfer_roles)) ||
	    (st = hl_call_check_text(c, "department_id", r->department_id, 64, true)) ||
	    (st = hl_call_check_text(c, "reason", r->reason, 500, true)) || (st = hl_call_begin(c)) ||
	    (st = dispatch_case_load(c, r->case_id, true, &k)) || (st = dispatch_lock_check(c, k, r->lock_token)) ||
	    (st = dispatch_require_status(c, k,
					  MASK(CS_PENDING) | MASK(CS_ASSIGNED) | MASK(CS_ACCEPTED) | MASK(CS_IN_PROGRESS),
					  "transfer")))
		return st;
	if (k->department_id && strcmp(k->department_id, r->department_id) == 0)
		return hl_call_fail(c, HL_PRECONDITION, "department_id: the case is already there");
	if ((st = dispatch_step(c, k, "transferred", r->reason)) || (st = dispatch_release(c, k)))
		return st;
	k->basis_kind = B(TRANSFER);
	k->basis_rule_id = NULL;
	k->basis_reason = r->reason;
	k->basis_actor = hl_call_principal(c)->actor;
	k->transfer_count++;
	if ((st = dispatch_assign(c, k, r->department_id, NULL, NULL)))
		return st;
	return dispatch_case_answer(c, k, &hotline__dispatch__v1__transfer_case_response__descriptor, resp);
}

hl_status dispatch_return_case(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Dispatch__V1__ReturnCaseRequest *r = vreq;
	hl_status st;
	dispatch_case *k;
	if (!r->reason_code ||
	    !protobuf_c_enum_descriptor_get_value(&hotline__dispatch__v1__return_reason__descriptor, r->reason_code))
		return hl_call_fail(c, HL_INVALID, "reason_code: required, one of the ReturnReason values");
	if ((st = hl_call_check_text(c, "note", r->note, 1000, r->reason_code == 5)) || (st = hl_call_begin(c)) ||
	    (st = dispatch_case_load(c, r->case_id, true, &k)) || (st = dispatch_lock_check(c, k, r->lock_token)) ||
	    (st = dispatch_require_member(c, k)) ||
	    (st = dispatch_require_status(c, k, MASK(CS_ASSIGNED) | MASK(CS_ACCEPTED) | MASK(CS_IN_PROGRESS),
					  "return")))
		return st;
	const char **by = hl_arena_alloc(hl_call_arena(c), (size_t)(k->n_returned_by + 1) * sizeof *by);
	if (!by)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	memcpy(by, k->returned_by, (size_t)k->n_returned_by * sizeof *by);
	by[k->n_returned_by] = k->department_id;
	k->returned_by = by;
	k->n_returned_by++;
	k->return_count++;
	k->basis_return_reason = r->reason_code;
	if ((st = dispatch_step(c, k, "returned", r->note)) || (st = dispatch_case_event(c, k, "case.returned", 0, 0)) ||
	    (st = dispatch_release(c, k)))
		return st;
	k->basis_kind = B(RETURN);
	k->basis_reason = r->note;
	k->basis_actor = hl_call_principal(c)->actor;
	k->status = CS_PENDING;
	if ((st = dispatch_route(c, k)))
		return st;
	return dispatch_case_answer(c, k, &hotline__dispatch__v1__return_case_response__descriptor, resp);
}

/* ---- ReopenCase (internal, from followup) ------------------------------------------------------------ */

/* The case's last handler if still active staff of its department (else NULL: pick again). */
static hl_status still_handles(hl_call *c, const dispatch_case *k, const char **handler)
{
	dispatch_staff *s = NULL;
	hl_error err;
	if (k->handler_id && store_staff_get(hl_call_pg(c), hl_call_arena(c), k->handler_id, &s, &err))
		return hl_call_fail_err(c, &err);
	*handler = s && s->active && k->department_id && strcmp(s->department_id, k->department_id) == 0 ? s->id
													  : NULL;
	return HL_OK;
}

/* The skill the rules ask of dept for a case like k: the first active rule that matches k and routes to dept. */
static hl_status skill_for(hl_call *c, const dispatch_case *k, const char *dept, const char **skill)
{
	dispatch_rule **rules;
	int n;
	hl_error err;
	*skill = NULL;
	if (dispatch_dir_rules(hl_call_pg(c), hl_call_arena(c), &rules, &n, &err))
		return hl_call_fail_err(c, &err);
	for (int i = 0; i < n && !*skill; i++)
		if (dept && strcmp(rules[i]->target, dept) == 0 && rule_matches(rules[i], k))
			*skill = rules[i]->skill && rules[i]->skill[0] ? rules[i]->skill : "";
	return HL_OK;
}

hl_status dispatch_reopen_case(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Dispatch__V1__ReopenCaseRequest *r = vreq;
	hl_status st;
	if (!hl_uuid_valid(r->ticket_id))
		return hl_call_fail(c, HL_INVALID, "ticket_id: not a UUID");
	if (r->reopen_no < 1)
		return hl_call_fail(c, HL_INVALID, "reopen_no: must be positive");
	bool replayed;
	if ((st = hl_call_check_text(c, "reason", r->reason, 1000, true)) ||
	    (st = hl_inbox_begin(c, &hotline__dispatch__v1__reopen_case_response__descriptor, resp, &replayed)) ||
	    replayed)
		return st;
	dispatch_case *k;
	hl_error err;
	if (store_case_by_ticket(hl_call_pg(c), hl_call_arena(c), r->ticket_id, true, &k, &err))
		return hl_call_fail_err(c, &err);
	if (!k)
		return hl_call_fail(c, HL_NOT_FOUND, "no case for this ticket");
	Hotline__Dispatch__V1__ReopenCaseResponse *out = HL_NEW(c, hotline__dispatch__v1__reopen_case_response__descriptor);
	if (!out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	out->case_id = (char *)k->id;
	if (k->reopen_count < r->reopen_no) { /* older or repeated reopen numbers change nothing */
		if ((st = dispatch_require_status(c, k, MASK(CS_APPROVED) | MASK(CS_CLOSED), "reopen")))
			return st;
		const char *dept = k->department_id, *handler = NULL, *skill = NULL;
		if ((st = still_handles(c, k, &handler)) || (!handler && (st = skill_for(c, k, dept, &skill))))
			return st;
		k->reopen_count = r->reopen_no;
		k->basis_kind = B(REOPEN);
		k->basis_rule_id = NULL;
		k->basis_reason = r->reason;
		k->basis_actor = hl_call_principal(c)->actor;
		k->result_text = k->result_by = k->approved_by = k->approved_digest = NULL;
		k->result_us = k->approved_us = 0;
		if ((st = dispatch_step(c, k, "reopened", r->reason)) ||
		    (st = dispatch_case_event(c, k, "case.reopened", 0, 0)))
			return st;
		k->status = CS_PENDING; /* back to the department (and handler) that handled it */
		k->department_id = k->handler_id = NULL;
		if ((st = dispatch_assign(c, k, dept, handler, skill)) || /* a new handler needs the rule's skill */
		    (st = dispatch_ticket_status(c, k, HOTLINE__COMMON__V1__TICKET_STATUS__TICKET_STATUS_IN_HANDLING,
						 "重新办理")))
			return st;
	}
	if ((st = hl_inbox_commit(c, out)))
		return st;
	*resp = out;
	return HL_OK;
}

/* ---- CloseCase (internal, from followup) ------------------------------------------------------------- */

/*
 * The reply loop ended (satisfied, or closed by a supervisor): the approved
 * lead case of the ticket is closed.  A closed case, or a close for an older
 * round than the case's reopen count, changes nothing.
 */
hl_status dispatch_close_case(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Dispatch__V1__CloseCaseRequest *r = vreq;
	hl_status st;
	if (!hl_uuid_valid(r->ticket_id))
		return hl_call_fail(c, HL_INVALID, "ticket_id: not a UUID");
	if (r->reopen_no < 0)
		return hl_call_fail(c, HL_INVALID, "reopen_no: must not be negative");
	bool replayed;
	if ((st = hl_call_check_text(c, "reason", r->reason, 200, true)) ||
	    (st = hl_inbox_begin(c, &hotline__dispatch__v1__close_case_response__descriptor, resp, &replayed)) ||
	    replayed)
		return st;
	dispatch_case *k;
	hl_error err;
	if (store_case_by_ticket(hl_call_pg(c), hl_call_arena(c), r->ticket_id, true, &k, &err))
		return hl_call_fail_err(c, &err);
	if (!k)
		return hl_call_fail(c, HL_NOT_FOUND, "no case for this ticket");
	Hotline__Dispatch__V1__CloseCaseResponse *out = HL_NEW(c, hotline__dispatch__v1__close_case_response__descriptor);
	if (!out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	out->case_id = (char *)k->id;
	if (k->status != CS_CLOSED && k->reopen_count == r->reopen_no) {
		if ((st = dispatch_require_status(c, k, MASK(CS_APPROVED), "close")))
			return st;
		k->status = CS_CLOSED;
		if ((st = dispatch_case_save(c, k)) || (st = dispatch_step(c, k, "closed", r->reason)) ||
		    (st = dispatch_case_event(c, k, "case.closed", 0, 0)))
			return st;
	}
	if ((st = hl_inbox_commit(c, out)))
		return st;
	*resp = out;
	return HL_OK;
}
