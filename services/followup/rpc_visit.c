/*
 * rpc_visit.c - follow-up visits (回访, R16-R18): counterparts with their
 * risk level and owner, the visit plan of each level (by default level 1
 * at least every 30 days, level 2 every 90, level 3 every 365), one planned
 * visit per active counterpart, the record of a visit with answers and an
 * evidence reference (append-only; it plans the next visit), the re-check
 * by a different person (a disagreement, like a visit that finds a problem,
 * raises a risk event at compliance through the outbox), and the coverage
 * figures (counterpart visits per level, and ticket visits).  Every change
 * is audited in the same transaction and sent to reporting as a visit.*
 * event.  Visit times are on followup's clock (clock.c).
 */
#include <string.h>

#include "followup.h"
#include "hl/audit.h"
#include "hl/crypto.h"
#include "hl/enqueue.h"
#include "hl/handler.h"
#include "hl/roles.h"
#include "hl/timers.h"
#include "hotline/compliance/v1/compliance.pb-c.h"
#include "store.h"

#define US_PER_DAY (86400LL * 1000000LL)

static const char *const admin_roles[] = {HL_ROLE_TENANT_ADMIN, HL_ROLE_SUPERVISOR, NULL};
static const char *const read_roles[] = {HL_ROLE_AGENT,      HL_ROLE_HANDLER,  HL_ROLE_DEPT_HEAD, HL_ROLE_SUPERVISOR,
					 HL_ROLE_TENANT_ADMIN, HL_ROLE_AUDITOR, HL_ROLE_INSPECTOR, HL_ROLE_ANALYST,
					 NULL};
static const char *const record_roles[] = {HL_ROLE_AGENT, HL_ROLE_HANDLER, HL_ROLE_DEPT_HEAD, HL_ROLE_SUPERVISOR,
					   NULL};
static const char *const recheck_roles[] = {HL_ROLE_SUPERVISOR, HL_ROLE_INSPECTOR, HL_ROLE_DEPT_HEAD, NULL};

static const int default_interval_days[FOLLOWUP_LEVELS] = {30, 90, 365};

static const char *me(hl_call *c)
{
	return hl_call_principal(c)->actor;
}

static bool level_ok(int level)
{
	return level >= 1 && level <= FOLLOWUP_LEVELS;
}

static bool method_ok(int method)
{
	return method && protobuf_c_enum_descriptor_get_value(&hotline__followup__v1__visit_method__descriptor, method);
}

/* The level's stored plan, or its default. */
static hl_status plan_for(hl_call *c, int level, followup_plan *out)
{
	followup_plan *p;
	hl_error err;
	if (store_plan_get(hl_call_pg(c), hl_call_arena(c), level, &p, &err))
		return hl_call_fail_err(c, &err);
	*out = p ? *p
		 : (followup_plan){.risk_level = level, .interval_days = default_interval_days[level - 1],
				   .method = HOTLINE__FOLLOWUP__V1__VISIT_METHOD__VISIT_METHOD_PHONE, .depth = "",
				   .responsible_id = "", .target = "", .scope = ""};
	return HL_OK;
}

static hl_status audit(hl_call *c, const char *type, const char *id, const char *action, const char *details,
		       bool new_subject)
{
	hl_error err;
	if (hl_audit_append(hl_call_pg(c), hl_call_arena(c), hl_call_tenant(c), type, id, me(c), action, details,
			    new_subject, &err))
		return hl_call_fail_err(c, &err);
	return HL_OK;
}

/* ---- messages -------------------------------------------------------------------------------- */

static Hotline__Followup__V1__Counterpart *counterpart_msg(hl_call *c, const followup_counterpart *cp)
{
	Hotline__Followup__V1__Counterpart *m = HL_NEW(c, hotline__followup__v1__counterpart__descriptor);
	if (m) {
		m->id = (char *)cp->id;
		m->name = (char *)cp->name;
		m->risk_level = cp->risk_level;
		m->owner_id = (char *)cp->owner_id;
		m->department_id = (char *)cp->department_id;
		m->active = cp->active;
	}
	return m;
}

static hl_status visit_msg(hl_call *c, const followup_visit *v, Hotline__Followup__V1__Visit **out)
{
	Hotline__Followup__V1__Visit *m = HL_NEW(c, hotline__followup__v1__visit__descriptor);
	if (!m)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	m->id = (char *)v->id;
	m->counterpart_id = (char *)(v->counterpart_id ? v->counterpart_id : "");
	m->ticket_id = (char *)(v->ticket_id ? v->ticket_id : "");
	m->ticket_no = (char *)(v->ticket_no ? v->ticket_no : "");
	m->category = v->category;
	m->risk_level = v->risk_level;
	m->department_id = (char *)v->department_id;
	m->responsible_id = (char *)v->responsible_id;
	m->method = v->recorded_by ? v->record_method : v->method;
	m->status = v->done_us ? VISIT_DONE : VISIT_PLANNED;
	m->due_at = hl_call_timestamp(c, v->due_us);
	m->done_at = v->done_us ? hl_call_timestamp(c, v->done_us) : NULL;
	m->recorded_by = (char *)(v->recorded_by ? v->recorded_by : "");
	m->evidence_ref = (char *)(v->evidence_ref ? v->evidence_ref : "");
	m->problem_found = v->problem_found;
	m->note = (char *)(v->note ? v->note : "");
	m->rechecked_by = (char *)(v->rechecked_by ? v->rechecked_by : "");
	m->recheck_agrees = v->recheck_agrees;
	m->recheck_note = (char *)(v->recheck_note ? v->recheck_note : "");
	m->recheck_sampled = v->recheck_sampled;
	if (v->n_answers &&
	    !(m->answers = hl_arena_alloc(hl_call_arena(c), (size_t)v->n_answers * sizeof *m->answers)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (int i = 0; i < v->n_answers; i++) {
		Hotline__Followup__V1__VisitAnswer *qa = HL_NEW(c, hotline__followup__v1__visit_answer__descriptor);
		if (!qa)
			return hl_call_fail(c, HL_NOMEM, "out of memory");
		qa->question = (char *)v->questions[i];
		qa->answer = (char *)v->answers[i];
		m->answers[m->n_answers++] = qa;
	}
	*out = m;
	return HL_OK;
}

/* ---- planning ---------------------------------------------------------------------------------- */

/* Plan the next visit of an active counterpart, due interval days after from_us. */
static hl_status plan_visit(hl_call *c, const followup_counterpart *cp, int64_t from_us, followup_visit **out)
{
	followup_plan p = {0};
	hl_status st;
	if ((st = plan_for(c, cp->risk_level, &p)))
		return st;
	followup_visit *v = hl_arena_alloc(hl_call_arena(c), sizeof *v);
	if (!v)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	*v = (followup_visit){.counterpart_id = cp->id, .department_id = cp->department_id,
			      .responsible_id = p.responsible_id[0] ? p.responsible_id : cp->owner_id,
			      .risk_level = cp->risk_level, .method = p.method,
			      .due_us = from_us + p.interval_days * US_PER_DAY};
	*out = v;
	return followup_visit_plan(c, v);
}

/* An active counterpart has one planned visit; a changed level or owner re-plans it (never later). */
static hl_status keep_planned(hl_call *c, const followup_counterpart *cp, followup_visit **out)
{
	followup_visit *v;
	followup_plan p = {0};
	hl_error err;
	hl_status st;
	*out = NULL;
	if (store_visit_planned(hl_call_pg(c), hl_call_arena(c), cp->id, &v, &err))
		return hl_call_fail_err(c, &err);
	if (!v)
		return cp->active ? plan_visit(c, cp, followup_now_us(c), out) : HL_OK;
	*out = v;
	if (v->risk_level == cp->risk_level && strcmp(v->department_id, cp->department_id) == 0)
		return HL_OK;
	if ((st = plan_for(c, cp->risk_level, &p)))
		return st;
	int64_t sooner = followup_now_us(c) + p.interval_days * US_PER_DAY;
	v->risk_level = cp->risk_level;
	v->department_id = cp->department_id;
	v->responsible_id = p.responsible_id[0] ? p.responsible_id : cp->owner_id;
	v->method = p.method;
	v->due_us = sooner < v->due_us ? sooner : v->due_us;
	if (store_visit_replan(hl_call_pg(c), hl_call_arena(c), v, &err))
		return hl_call_fail_err(c, &err);
	if ((st = followup_visit_audit(c, v, "visit.replanned", false)))
		return st;
	return followup_visit_timer(c, v);
}

/* ---- PutCounterpart, ListCounterparts, PutVisitPlan --------------------------------------------- */

static hl_status validate_counterpart(hl_call *c, const Hotline__Followup__V1__Counterpart *m)
{
	hl_status st;
	if (!m)
		return hl_call_fail(c, HL_INVALID, "counterpart: required");
	if ((st = hl_call_check_text(c, "counterpart.id", m->id, 64, true)) ||
	    (st = hl_call_check_text(c, "counterpart.name", m->name, 200, true)) ||
	    (st = hl_call_check_text(c, "counterpart.owner_id", m->owner_id, 128, true)) ||
	    (st = hl_call_check_text(c, "counterpart.department_id", m->department_id, 64, false)))
		return st;
	if (!level_ok(m->risk_level))
		return hl_call_fail(c, HL_INVALID, "counterpart.risk_level: required, 1 (high) to 3 (low)");
	return HL_OK;
}

hl_status followup_put_counterpart(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Followup__V1__PutCounterpartRequest *r = vreq;
	const Hotline__Followup__V1__Counterpart *m = r->counterpart;
	hl_status st;
	if ((st = hl_call_require_any(c, admin_roles)) || (st = validate_counterpart(c, m)) || (st = hl_call_begin(c)))
		return st;
	followup_counterpart *old, cp = {.id = m->id, .name = m->name, .owner_id = m->owner_id,
					 .department_id = m->department_id, .risk_level = m->risk_level,
					 .active = m->active};
	hl_error err;
	if (store_counterpart_get(hl_call_pg(c), hl_call_arena(c), cp.id, true, &old, &err) ||
	    store_counterpart_put(hl_call_pg(c), hl_call_arena(c), hl_call_tenant(c), &cp, &err))
		return hl_call_fail_err(c, &err);
	const char *d = hl_arena_printf(hl_call_arena(c), "{\"level\":%d,\"old_level\":%d,\"active\":%s}",
					cp.risk_level, old ? old->risk_level : 0, cp.active ? "true" : "false");
	followup_visit *next;
	if ((st = audit(c, "counterpart", cp.id, "counterpart.put", d, !old)) || (st = keep_planned(c, &cp, &next)))
		return st;
	Hotline__Followup__V1__PutCounterpartResponse *out =
		HL_NEW(c, hotline__followup__v1__put_counterpart_response__descriptor);
	if (!out || !(out->counterpart = counterpart_msg(c, &cp)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if ((next && (st = visit_msg(c, next, &out->next_visit))) || (st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}

hl_status followup_list_counterparts(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Followup__V1__ListCounterpartsRequest *r = vreq;
	hl_status st;
	if (r->risk_level && !level_ok(r->risk_level))
		return hl_call_fail(c, HL_INVALID, "risk_level: 1 (high) to 3 (low)");
	if ((st = hl_call_require_any(c, read_roles)) ||
	    (st = hl_call_check_text(c, "department_id", r->department_id, 64, false)) || (st = hl_call_begin(c)))
		return st;
	followup_counterpart **list;
	int n;
	hl_error err;
	if (store_counterparts(hl_call_pg(c), hl_call_arena(c), r->risk_level,
			       r->department_id[0] ? r->department_id : NULL, &list, &n, &err))
		return hl_call_fail_err(c, &err);
	Hotline__Followup__V1__ListCounterpartsResponse *out =
		HL_NEW(c, hotline__followup__v1__list_counterparts_response__descriptor);
	if (!out || !(out->counterparts = hl_arena_alloc(hl_call_arena(c), (size_t)(n ? n : 1) * sizeof(void *))))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (int i = 0; i < n; i++)
		if (!(out->counterparts[out->n_counterparts++] = counterpart_msg(c, list[i])))
			return hl_call_fail(c, HL_NOMEM, "out of memory");
	if ((st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}

/* What the gate approves: the plan as one unambiguous text (length-prefixed fields). */
static const char *plan_text(hl_arena *a, const followup_plan *p)
{
	return hl_arena_printf(a, "%d|%d|%d|%zu:%s|%zu:%s|%zu:%s|%zu:%s", p->risk_level, p->interval_days, p->method,
			       strlen(p->depth), p->depth, strlen(p->responsible_id), p->responsible_id,
			       strlen(p->target), p->target, strlen(p->scope), p->scope);
}

hl_status followup_put_visit_plan(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Followup__V1__PutVisitPlanRequest *r = vreq;
	const Hotline__Followup__V1__VisitPlan *m = r->plan;
	hl_status st;
	if ((st = hl_call_require_any(c, admin_roles)))
		return st;
	if (!m)
		return hl_call_fail(c, HL_INVALID, "plan: required");
	if (!level_ok(m->risk_level))
		return hl_call_fail(c, HL_INVALID, "plan.risk_level: required, 1 (high) to 3 (low)");
	if (m->interval_days < 1 || m->interval_days > 3660)
		return hl_call_fail(c, HL_INVALID, "plan.interval_days: 1 to 3660");
	if (!method_ok(m->method))
		return hl_call_fail(c, HL_INVALID, "plan.method: required, one of the VisitMethod values");
	if ((st = hl_call_check_text(c, "plan.depth", m->depth, 200, false)) ||
	    (st = hl_call_check_text(c, "plan.responsible_id", m->responsible_id, 128, false)) ||
	    (st = hl_call_check_text(c, "plan.target", m->target, 500, false)) ||
	    (st = hl_call_check_text(c, "plan.scope", m->scope, 500, false)))
		return st;
	followup_plan p = {.risk_level = m->risk_level, .interval_days = m->interval_days, .method = m->method,
			   .depth = m->depth, .responsible_id = m->responsible_id, .target = m->target,
			   .scope = m->scope};
	const char *subject = hl_arena_printf(hl_call_arena(c), "level-%d", p.risk_level);
	const char *text = plan_text(hl_call_arena(c), &p);
	const char *digest = text ? hl_sha256_text(hl_call_arena(c), text) : NULL;
	if (!subject || !digest)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if ((st = followup_plan_gate_check(c, subject, text)) || (st = hl_call_begin(c)))
		return st;
	hl_error err;
	if (store_plan_put(hl_call_pg(c), hl_call_arena(c), hl_call_tenant(c), &p, &err))
		return hl_call_fail_err(c, &err);
	const char *d = hl_arena_printf(hl_call_arena(c), "{\"interval_days\":%d,\"method\":%d,\"sha256\":\"%s\"}",
					p.interval_days, p.method, digest);
	if ((st = audit(c, "visit_plan", subject, "visit_plan.put", d, false)))
		return st;
	Hotline__Followup__V1__PutVisitPlanResponse *out =
		HL_NEW(c, hotline__followup__v1__put_visit_plan_response__descriptor);
	if (!out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	out->plan = (Hotline__Followup__V1__VisitPlan *)m;
	if ((st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}

/* ---- ListVisits ---------------------------------------------------------------------------------- */

hl_status followup_list_visits(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Followup__V1__ListVisitsRequest *r = vreq;
	hl_status st;
	if (r->status && r->status != VISIT_PLANNED && r->status != VISIT_DONE)
		return hl_call_fail(c, HL_INVALID, "status: not a VisitStatus value");
	if (r->ticket_id[0] && !hl_uuid_valid(r->ticket_id))
		return hl_call_fail(c, HL_INVALID, "ticket_id: not a UUID");
	if ((st = hl_call_require_any(c, read_roles)) ||
	    (st = hl_call_check_text(c, "counterpart_id", r->counterpart_id, 64, false)) || (st = hl_call_begin(c)))
		return st;
	followup_visit **list;
	int n;
	hl_error err;
	store_visit_filter f = {.counterpart_id = r->counterpart_id[0] ? r->counterpart_id : NULL,
				.ticket_id = r->ticket_id[0] ? r->ticket_id : NULL, .status = (int)r->status,
				.overdue = r->overdue, .to_recheck = r->to_recheck, .tickets_only = r->tickets_only,
				.now_us = followup_now_us(c)};
	if (store_visits(hl_call_pg(c), hl_call_arena(c), &f, &list, &n, &err))
		return hl_call_fail_err(c, &err);
	Hotline__Followup__V1__ListVisitsResponse *out =
		HL_NEW(c, hotline__followup__v1__list_visits_response__descriptor);
	if (!out || !(out->visits = hl_arena_alloc(hl_call_arena(c), (size_t)(n ? n : 1) * sizeof(void *))))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (int i = 0; i < n; i++)
		if ((st = visit_msg(c, list[i], &out->visits[out->n_visits++])))
			return st;
	if ((st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}

/* ---- risk events to compliance -------------------------------------------------------------------- */

static hl_status risk_event(hl_call *c, const followup_visit *v, const char *source, const char *description)
{
	hl_arena *a = hl_call_arena(c);
	Hotline__Compliance__V1__ReportRiskEventRequest m = HOTLINE__COMPLIANCE__V1__REPORT_RISK_EVENT_REQUEST__INIT;
	m.level = v->risk_level;
	m.source = (char *)source;
	m.subject_type = (char *)"visit";
	m.subject_id = (char *)v->id;
	m.counterpart_id = (char *)(v->counterpart_id ? v->counterpart_id : "");
	m.department_id = (char *)v->department_id;
	m.description = (char *)description;
	m.occurred_at = hl_call_timestamp(c, hl_now_ms() * 1000);
	hl_enqueue_row row = {.tenant = hl_call_tenant(c), .subject_id = v->id,
			      .service = &hotline__compliance__v1__compliance_service__descriptor,
			      .method = "ReportRiskEvent", .actor = me(c),
			      .idempotency_key = hl_arena_printf(a, "%s:risk:%s", v->id, source)};
	return hl_call_enqueue(c, &row, &m.base);
}

static hl_status visit_event(hl_call *c, const followup_visit *v, const char *type)
{
	hl_error err;
	if (followup_visit_event(hl_call_pg(c), hl_call_arena(c), v, type, me(c), &err))
		return hl_call_fail_err(c, &err);
	return HL_OK;
}

/* ---- RecordVisit ---------------------------------------------------------------------------------- */

static hl_status validate_record(hl_call *c, const Hotline__Followup__V1__RecordVisitRequest *r)
{
	hl_status st;
	if ((st = hl_call_check_request_id(c, r->request_id)) ||
	    (st = hl_call_check_text(c, "questionnaire_id", r->questionnaire_id, 64, false)))
		return st;
	if (!hl_uuid_valid(r->visit_id))
		return hl_call_fail(c, HL_INVALID, "visit_id: not a UUID");
	if (!method_ok(r->method))
		return hl_call_fail(c, HL_INVALID, "method: required, one of the VisitMethod values");
	if (r->n_answers > FOLLOWUP_MAX_ANSWERS)
		return hl_call_fail(c, HL_INVALID, "answers: at most %d", FOLLOWUP_MAX_ANSWERS);
	for (size_t i = 0; i < r->n_answers; i++)
		if ((st = hl_call_check_text(c, "answers.question", r->answers[i]->question, 500, true)) ||
		    (st = hl_call_check_text(c, "answers.answer", r->answers[i]->answer, 2000, false)))
			return st;
	if ((st = hl_call_check_text(c, "evidence_ref", r->evidence_ref, 200, true)))
		return st;
	return hl_call_check_text(c, "note", r->note, 2000, r->problem_found);
}

/* The answer of a done visit: it, and the counterpart's planned visit. */
static hl_status record_answer(hl_call *c, const followup_visit *v, void **resp)
{
	Hotline__Followup__V1__RecordVisitResponse *out =
		HL_NEW(c, hotline__followup__v1__record_visit_response__descriptor);
	followup_visit *next;
	hl_error err;
	hl_status st;
	if (!out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if (v->counterpart_id && store_visit_planned(hl_call_pg(c), hl_call_arena(c), v->counterpart_id, &next, &err))
		return hl_call_fail_err(c, &err);
	if (!v->counterpart_id)
		next = NULL;
	if ((st = visit_msg(c, v, &out->visit)) || (next && (st = visit_msg(c, next, &out->next_visit))) ||
	    (st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}

/* R18: every record that found a problem is re-checked, and a random share of the others. */
static hl_status draw_recheck(hl_call *c, followup_visit *v)
{
	uint32_t x;
	if (hl_random_bytes(&x, sizeof x))
		return hl_call_fail(c, HL_INTERNAL, "no randomness for the re-check sample");
	v->recheck_sampled = v->problem_found || (int)(x % 100) < followup_app_of(c)->recheck_percent;
	return HL_OK;
}

static hl_status fill_record(hl_call *c, followup_visit *v, const Hotline__Followup__V1__RecordVisitRequest *r)
{
	hl_arena *a = hl_call_arena(c);
	size_t n = r->n_answers ? r->n_answers : 1;
	v->questions = hl_arena_alloc(a, n * sizeof *v->questions);
	v->answers = hl_arena_alloc(a, n * sizeof *v->answers);
	if (!v->questions || !v->answers)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (size_t i = 0; i < r->n_answers; i++) {
		v->questions[i] = r->answers[i]->question;
		v->answers[i] = r->answers[i]->answer;
	}
	v->n_answers = (int)r->n_answers;
	v->recorded_by = me(c);
	v->record_method = r->method;
	v->evidence_ref = r->evidence_ref;
	v->problem_found = r->problem_found;
	v->note = r->note;
	v->record_request_id = r->request_id[0] ? r->request_id : NULL;
	v->questionnaire_id = r->questionnaire_id[0] ? r->questionnaire_id : NULL;
	hl_status st = v->questionnaire_id ? followup_questionnaire_check(c, v->questionnaire_id, r->answers,
									 r->n_answers, &v->questionnaire_version)
					   : HL_OK;
	return st ? st : draw_recheck(c, v);
}

hl_status followup_record_visit(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Followup__V1__RecordVisitRequest *r = vreq;
	hl_status st;
	if ((st = hl_call_require_any(c, record_roles)) || (st = validate_record(c, r)) || (st = hl_call_begin(c)))
		return st;
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	followup_visit *v;
	hl_error err;
	if (r->request_id[0] && store_visit_by_request(pg, a, r->request_id, false, &v, &err))
		return hl_call_fail_err(c, &err);
	if (r->request_id[0] && v) {
		if (strcmp(v->id, r->visit_id) != 0)
			return hl_call_fail(c, HL_INVALID, "request_id: already used for another visit");
		return record_answer(c, v, resp);
	}
	if (store_visit_get(pg, a, r->visit_id, true, &v, &err))
		return hl_call_fail_err(c, &err);
	if (!v)
		return hl_call_fail(c, HL_NOT_FOUND, "visit not found");
	if (v->done_us)
		return hl_call_fail(c, HL_PRECONDITION, "the visit is already recorded");
	followup_counterpart *cp;
	followup_visit *next = NULL;
	if ((st = fill_record(c, v, r)))
		return st;
	v->done_us = followup_now_us(c);
	if (store_visit_record(pg, a, v, &err) || store_visit_done(pg, a, v->id, v->done_us, &err) ||
	    (v->counterpart_id && store_counterpart_get(pg, a, v->counterpart_id, true, &cp, &err)))
		return hl_call_fail_err(c, &err);
	if (!v->counterpart_id)
		cp = NULL; /* a ticket visit has no next one */
	if ((st = followup_visit_audit(c, v, v->problem_found ? "visit.recorded_problem" : "visit.recorded", false)) ||
	    (st = visit_event(c, v, "visit.recorded")) ||
	    (cp && cp->active && (st = plan_visit(c, cp, v->done_us, &next))) ||
	    (v->problem_found && (st = risk_event(c, v, "followup.visit", "回访发现问题"))))
		return st;
	return record_answer(c, v, resp);
}

/* ---- RecheckVisit --------------------------------------------------------------------------------- */

static hl_status recheck_answer(hl_call *c, const followup_visit *v, void **resp)
{
	Hotline__Followup__V1__RecheckVisitResponse *out =
		HL_NEW(c, hotline__followup__v1__recheck_visit_response__descriptor);
	hl_status st;
	if (!out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if ((st = visit_msg(c, v, &out->visit)) || (st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}

hl_status followup_recheck_visit(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Followup__V1__RecheckVisitRequest *r = vreq;
	hl_status st;
	if ((st = hl_call_require_any(c, recheck_roles)) || (st = hl_call_check_request_id(c, r->request_id)))
		return st;
	if (!hl_uuid_valid(r->visit_id))
		return hl_call_fail(c, HL_INVALID, "visit_id: not a UUID");
	if ((st = hl_call_check_text(c, "note", r->note, 2000, !r->agrees)) || (st = hl_call_begin(c)))
		return st;
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	followup_visit *v;
	hl_error err;
	if (r->request_id[0] && store_visit_by_request(pg, a, r->request_id, true, &v, &err))
		return hl_call_fail_err(c, &err);
	if (r->request_id[0] && v) {
		if (strcmp(v->id, r->visit_id) != 0)
			return hl_call_fail(c, HL_INVALID, "request_id: already used for another visit");
		return recheck_answer(c, v, resp);
	}
	if (store_visit_get(pg, a, r->visit_id, true, &v, &err))
		return hl_call_fail_err(c, &err);
	if (!v)
		return hl_call_fail(c, HL_NOT_FOUND, "visit not found");
	if (!v->recorded_by)
		return hl_call_fail(c, HL_PRECONDITION, "the visit is not recorded yet");
	if (strcmp(v->recorded_by, me(c)) == 0)
		return hl_call_fail(c, HL_DENIED, "the recorder of a visit cannot re-check it");
	if (v->rechecked_by)
		return hl_call_fail(c, HL_PRECONDITION, "the visit is already re-checked");
	v->rechecked_by = me(c);
	v->recheck_agrees = r->agrees;
	v->recheck_note = r->note;
	v->recheck_request_id = r->request_id[0] ? r->request_id : NULL;
	if (store_visit_recheck(pg, a, v, &err))
		return hl_call_fail_err(c, &err);
	if ((st = followup_visit_audit(c, v, r->agrees ? "visit.rechecked" : "visit.recheck_disagrees", false)) ||
	    (st = visit_event(c, v, "visit.rechecked")) ||
	    (!r->agrees && (st = risk_event(c, v, "followup.recheck", "回访复核与记录不一致"))))
		return st;
	return recheck_answer(c, v, resp);
}

/* ---- GetCoverage ---------------------------------------------------------------------------------- */

hl_status followup_get_coverage(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Followup__V1__GetCoverageRequest *r = vreq;
	hl_status st;
	int64_t from = hl_timestamp_us(r->from), to = hl_timestamp_us(r->to);
	if (!r->from)
		return hl_call_fail(c, HL_INVALID, "from: required");
	if (!r->to || to <= from)
		return hl_call_fail(c, HL_INVALID, "to: required, after from");
	if ((st = hl_call_require_any(c, read_roles)) ||
	    (st = hl_call_check_text(c, "department_id", r->department_id, 64, false)) || (st = hl_call_begin(c)))
		return st;
	followup_coverage cov[FOLLOWUP_LEVELS + 1];
	hl_error err;
	if (store_coverage(hl_call_pg(c), hl_call_arena(c), from, to, r->department_id[0] ? r->department_id : NULL,
			   followup_now_us(c), cov, &err))
		return hl_call_fail_err(c, &err);
	Hotline__Followup__V1__GetCoverageResponse *out =
		HL_NEW(c, hotline__followup__v1__get_coverage_response__descriptor);
	if (!out || !(out->levels = hl_arena_alloc(hl_call_arena(c), FOLLOWUP_LEVELS * sizeof *out->levels)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (int i = 0; i <= FOLLOWUP_LEVELS; i++) {
		Hotline__Followup__V1__LevelCoverage *l = HL_NEW(c, hotline__followup__v1__level_coverage__descriptor);
		if (!l)
			return hl_call_fail(c, HL_NOMEM, "out of memory");
		l->risk_level = i;
		l->counterparts = cov[i].counterparts;
		l->planned = cov[i].planned;
		l->done = cov[i].done;
		l->overdue = cov[i].overdue;
		if (i == 0)
			out->tickets = l;
		else
			out->levels[out->n_levels++] = l;
	}
	if ((st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}
