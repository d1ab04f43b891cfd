/*
 * rpc_warning.c - warning notices to departments (R20, 预警/警示): issued by
 * a supervisor, reviewer or inspector with an optional rectification
 * deadline, acknowledged and then rectified by the head of the department
 * (whose token names it), each step audited, told to the department and
 * sent to reporting (warning.issued, warning.acknowledged,
 * warning.rectified with on_time: the rectification-completion KPI,
 * 整改完成率).  ListWarnings gives the share rectified.
 */
#include <string.h>

#include "hl/crypto.h"
#include "hl/handler.h"
#include "hl/roles.h"
#include "store.h"

static const char *const issuer_roles[] = {HL_ROLE_SUPERVISOR, HL_ROLE_REVIEWER, HL_ROLE_INSPECTOR, NULL};
static const char *const oversight_roles[] = {HL_ROLE_SUPERVISOR, HL_ROLE_REVIEWER, HL_ROLE_INSPECTOR,
					      HL_ROLE_AUDITOR,    HL_ROLE_ANALYST,  HL_ROLE_TENANT_ADMIN, NULL};

static Hotline__Compliance__V1__Warning *warning_msg(hl_call *c, const compliance_warning *w)
{
	hl_arena *a = hl_call_arena(c);
	Hotline__Compliance__V1__Warning *m = HL_NEW(c, hotline__compliance__v1__warning__descriptor);
	if (!m)
		return NULL;
	m->id = (char *)w->id;
	m->department_id = (char *)w->department_id;
	m->title = (char *)w->title;
	m->content = (char *)w->content;
	m->risk_id = (char *)w->risk_id;
	m->status = w->status;
	m->issued_by = (char *)w->issued_by;
	m->issued_at = hl_timestamp_new(a, w->issued_us);
	m->rectify_by = hl_timestamp_new(a, w->rectify_by_us);
	m->acknowledged_by = (char *)(w->acknowledged_by ? w->acknowledged_by : "");
	m->acknowledged_at = hl_timestamp_new(a, w->acknowledged_us);
	m->rectified_by = (char *)(w->rectified_by ? w->rectified_by : "");
	m->rectified_at = hl_timestamp_new(a, w->rectified_us);
	m->rectification = (char *)(w->rectification ? w->rectification : "");
	m->rectified_on_time = w->rectified_us && (!w->rectify_by_us || w->rectified_us <= w->rectify_by_us);
	return m;
}

/* Audit, event and notice of a warning's step. */
static hl_status step(hl_call *c, const compliance_warning *w, const char *type, bool new_subject)
{
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	const hl_principal *who = hl_call_principal(c);
	hl_error err;
	hl_status st = compliance_audit(c, "warning", w->id, type,
					hl_arena_printf(a, "{\"status\":%d,\"rectify_by_us\":%lld}", w->status,
							(long long)w->rectify_by_us),
					new_subject);
	if (st)
		return st;
	Hotline__Common__V1__ComplianceChanged p = HOTLINE__COMMON__V1__COMPLIANCE_CHANGED__INIT;
	p.subject_id = (char *)w->id;
	p.department_id = (char *)w->department_id;
	p.person_id = (char *)who->actor;
	p.source = (char *)(w->risk_id[0] ? "risk" : "manual");
	p.due_at = hl_timestamp_new(a, w->rectify_by_us);
	p.on_time = w->status != WS_RECTIFIED || !w->rectify_by_us || w->rectified_us <= w->rectify_by_us;
	const char *to = hl_arena_printf(a, "dept:%s", w->department_id);
	const char *body = hl_arena_printf(a, "警示通知: %s", w->title);
	if (!to || !body)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if (compliance_event(pg, a, who->tenant, who->actor, type, "", &p, &err) ||
	    compliance_notify(pg, a, type, w->id, to, body, &err))
		return hl_call_fail_err(c, &err);
	return HL_OK;
}

static hl_status answer(hl_call *c, const compliance_warning *w, const ProtobufCMessageDescriptor *d, void **resp)
{
	void *out = hl_call_new_message(c, d);
	Hotline__Compliance__V1__Warning *m = warning_msg(c, w);
	if (!out || !m)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	/* IssueWarningResponse, AcknowledgeWarningResponse, RectifyWarningResponse: { Warning warning = 1; } */
	((Hotline__Compliance__V1__IssueWarningResponse *)out)->warning = m;
	hl_status st = hl_call_commit(c);
	if (st)
		return st;
	*resp = out;
	return HL_OK;
}

hl_status compliance_issue_warning(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Compliance__V1__IssueWarningRequest *r = vreq;
	hl_status st;
	if ((st = hl_call_require_any(c, issuer_roles)) || (st = hl_call_check_request_id(c, r->request_id)) ||
	    (st = compliance_check_id(c, "department_id", r->department_id, true)) ||
	    (st = hl_call_check_text(c, "title", r->title, 200, true)) ||
	    (st = hl_call_check_text(c, "content", r->content, COMPLIANCE_TEXT_CHARS, true)))
		return st;
	if (r->risk_id[0] && !hl_uuid_valid(r->risk_id))
		return hl_call_fail(c, HL_INVALID, "risk_id: not a UUID");
	int64_t due_us = hl_timestamp_us(r->rectify_by);
	if (due_us && due_us < hl_now_ms() * 1000)
		return hl_call_fail(c, HL_INVALID, "rectify_by: must be in the future");
	if ((st = hl_call_begin(c)))
		return st;
	hl_error err;
	if (r->risk_id[0]) {
		compliance_risk *risk;
		if (store_risk_get(hl_call_pg(c), hl_call_arena(c), r->risk_id, false, &risk, &err))
			return hl_call_fail_err(c, &err);
		if (!risk)
			return hl_call_fail(c, HL_NOT_FOUND, "risk_id: no such risk");
	}
	compliance_warning w = {.request_id = r->request_id, .department_id = r->department_id, .title = r->title,
				.content = r->content, .risk_id = r->risk_id, .issued_by = hl_call_principal(c)->actor,
				.rectify_by_us = due_us},
			   *existing;
	if ((st = compliance_new_id(c, &w.id)))
		return st;
	if (store_warning_insert(hl_call_pg(c), hl_call_arena(c), &w, &existing, &err))
		return hl_call_fail_err(c, &err);
	if (!existing && (st = step(c, &w, "warning.issued", true)))
		return st;
	return answer(c, existing ? existing : &w, &hotline__compliance__v1__issue_warning_response__descriptor, resp);
}

/* The warning, locked, if the caller heads its department. */
static hl_status load_for_department(hl_call *c, const char *id, compliance_warning **w)
{
	hl_error err;
	if (!hl_uuid_valid(id))
		return hl_call_fail(c, HL_INVALID, "warning_id: not a UUID");
	if (store_warning_get(hl_call_pg(c), hl_call_arena(c), id, true, w, &err))
		return hl_call_fail_err(c, &err);
	if (!*w)
		return hl_call_fail(c, HL_NOT_FOUND, "warning not found");
	const char *dept = hl_call_principal(c)->claims->dept;
	if (!hl_call_has_role(c, HL_ROLE_DEPT_HEAD) || !dept || strcmp(dept, (*w)->department_id) != 0)
		return hl_call_fail(c, HL_DENIED, "the head of the warned department answers a warning");
	return HL_OK;
}

hl_status compliance_acknowledge_warning(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Compliance__V1__AcknowledgeWarningRequest *r = vreq;
	hl_status st;
	compliance_warning *w;
	hl_error err;
	if ((st = hl_call_begin(c)) || (st = load_for_department(c, r->warning_id, &w)))
		return st;
	if (w->status != WS_ISSUED)
		return hl_call_fail(c, HL_PRECONDITION, "the warning was already acknowledged");
	w->status = WS_ACKNOWLEDGED;
	w->acknowledged_by = hl_call_principal(c)->actor;
	w->acknowledged_us = hl_now_ms() * 1000;
	if (store_warning_update(hl_call_pg(c), hl_call_arena(c), w, &err))
		return hl_call_fail_err(c, &err);
	if ((st = step(c, w, "warning.acknowledged", false)))
		return st;
	return answer(c, w, &hotline__compliance__v1__acknowledge_warning_response__descriptor, resp);
}

hl_status compliance_rectify_warning(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Compliance__V1__RectifyWarningRequest *r = vreq;
	hl_status st;
	compliance_warning *w;
	hl_error err;
	if ((st = hl_call_check_text(c, "rectification", r->rectification, COMPLIANCE_TEXT_CHARS, true)) ||
	    (st = hl_call_begin(c)) || (st = load_for_department(c, r->warning_id, &w)))
		return st;
	if (w->status != WS_ACKNOWLEDGED)
		return hl_call_fail(c, HL_PRECONDITION, w->status == WS_ISSUED ? "acknowledge the warning first"
									  : "the warning was already rectified");
	w->status = WS_RECTIFIED;
	w->rectified_by = hl_call_principal(c)->actor;
	w->rectified_us = hl_now_ms() * 1000;
	w->rectification = r->rectification;
	if (store_warning_update(hl_call_pg(c), hl_call_arena(c), w, &err))
		return hl_call_fail_err(c, &err);
	if ((st = step(c, w, "warning.rectified", false)))
		return st;
	return answer(c, w, &hotline__compliance__v1__rectify_warning_response__descriptor, resp);
}

hl_status compliance_list_warnings(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Compliance__V1__ListWarningsRequest *r = vreq;
	hl_status st;
	int limit;
	const char *after, *dept = r->department_id[0] ? r->department_id : NULL;
	if ((st = compliance_check_id(c, "department_id", r->department_id, false)) ||
	    (st = compliance_page(c, r->page_size, r->page_token, &limit, &after)))
		return st;
	if ((int)r->status < 0 || (int)r->status > WS_RECTIFIED)
		return hl_call_fail(c, HL_INVALID, "status: not a WarningStatus value");
	if (!hl_call_has_any(c, oversight_roles)) { /* a department head sees their department's */
		const char *own = hl_call_principal(c)->claims->dept;
		if (!hl_call_has_role(c, HL_ROLE_DEPT_HEAD) || !own)
			return hl_call_require_any(c, oversight_roles);
		if (dept && strcmp(dept, own) != 0)
			return hl_call_fail(c, HL_DENIED, "department_id: a department head sees their own department");
		dept = own;
	}
	if ((st = hl_call_begin(c)))
		return st;
	compliance_warning **list;
	int n;
	hl_error err;
	Hotline__Compliance__V1__ListWarningsResponse *out =
		HL_NEW(c, hotline__compliance__v1__list_warnings_response__descriptor);
	if (!out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if (store_warnings(hl_call_pg(c), hl_call_arena(c), dept, r->status, after, limit, &list, &n, &err) ||
	    store_warning_counts(hl_call_pg(c), hl_call_arena(c), dept, r->status, &out->rectified, &out->total, &err))
		return hl_call_fail_err(c, &err);
	if (!(out->warnings = hl_arena_alloc(hl_call_arena(c), (size_t)(n ? n : 1) * sizeof *out->warnings)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (int i = 0; i < n; i++)
		if (!(out->warnings[out->n_warnings++] = warning_msg(c, list[i])))
			return hl_call_fail(c, HL_NOMEM, "out of memory");
	out->next_page_token = (char *)(n == limit ? list[n - 1]->id : "");
	if ((st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}
