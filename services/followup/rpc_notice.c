/*
 * rpc_notice.c - overdue notices (逾期提醒): ListNotices shows the caller the
 * notices addressed to them (by name, as the head of their department - the
 * token's `dept` claim with role dept_head - or as a supervisor), or every
 * notice of the tenant to supervisors, auditors, inspectors and tenant
 * admins who ask for all; AcknowledgeNotice records, once, that a recipient
 * has seen one (append-only, audited).  The notices are written by the
 * timers (overdue.c).
 */
#include <string.h>

#include "followup.h"
#include "hl/audit.h"
#include "hl/crypto.h"
#include "hl/handler.h"
#include "hl/roles.h"
#include "store.h"

static const char *const all_roles[] = {HL_ROLE_SUPERVISOR, HL_ROLE_AUDITOR, HL_ROLE_INSPECTOR, HL_ROLE_TENANT_ADMIN,
					NULL};

static Hotline__Followup__V1__Notice *notice_msg(hl_call *c, const store_notice *x)
{
	Hotline__Followup__V1__Notice *m = HL_NEW(c, hotline__followup__v1__notice__descriptor);
	if (m) {
		m->id = (char *)x->id;
		m->kind = x->kind;
		m->subject_type = (char *)x->subject_type;
		m->subject_id = (char *)x->subject_id;
		m->ticket_no = (char *)x->ticket_no;
		m->counterpart_id = (char *)x->counterpart_id;
		m->department_id = (char *)x->department_id;
		m->recipient_id = (char *)x->recipient_id;
		m->recipient_role = (char *)x->recipient_role;
		m->note = (char *)x->note;
		m->due_at = x->due_us ? hl_call_timestamp(c, x->due_us) : NULL;
		m->created_at = hl_call_timestamp(c, x->created_us);
		m->acknowledged_by = (char *)(x->acked_by ? x->acked_by : "");
		m->acknowledged_at = x->acked_by ? hl_call_timestamp(c, x->acked_us) : NULL;
	}
	return m;
}

/* The department the caller heads: the token's dept claim, with the dept_head role. */
static const char *head_of(hl_call *c)
{
	const hl_claims *cl = hl_call_principal(c)->claims;
	return hl_call_has_role(c, HL_ROLE_DEPT_HEAD) && cl && cl->dept && cl->dept[0] ? cl->dept : NULL;
}

/* Whether x is addressed to the caller. */
static bool addressed_to_me(hl_call *c, const store_notice *x)
{
	const char *dept = head_of(c);
	if (x->recipient_id[0])
		return strcmp(x->recipient_id, hl_call_principal(c)->actor) == 0;
	if (strcmp(x->recipient_role, "dept_head") == 0)
		return dept && strcmp(dept, x->department_id) == 0;
	return strcmp(x->recipient_role, "supervisor") == 0 && hl_call_has_role(c, HL_ROLE_SUPERVISOR);
}

hl_status followup_list_notices(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Followup__V1__ListNoticesRequest *r = vreq;
	hl_status st;
	if (r->page_size < 0 || r->page_size > 200)
		return hl_call_fail(c, HL_INVALID, "page_size: 0 to 200");
	if (r->page_token[0] && !hl_uuid_valid(r->page_token))
		return hl_call_fail(c, HL_INVALID, "page_token: not a token of ListNotices");
	if ((st = hl_call_require_any(c, hl_roles_staff)))
		return st;
	if (r->all && !hl_call_has_any(c, all_roles))
		return hl_call_fail(c, HL_DENIED, "all: only supervisors, auditors, inspectors and tenant admins");
	if ((st = hl_call_begin(c)))
		return st;
	store_notice_filter f = {.all = r->all,
				 .me = hl_call_principal(c)->actor,
				 .head_of = head_of(c),
				 .supervisor = hl_call_has_role(c, HL_ROLE_SUPERVISOR),
				 .unacknowledged = r->unacknowledged,
				 .after_id = r->page_token[0] ? r->page_token : NULL,
				 .limit = r->page_size ? r->page_size : 50};
	store_notice **list;
	int n;
	hl_error err;
	if (store_notices(hl_call_pg(c), hl_call_arena(c), &f, &list, &n, &err))
		return hl_call_fail_err(c, &err);
	Hotline__Followup__V1__ListNoticesResponse *out =
		HL_NEW(c, hotline__followup__v1__list_notices_response__descriptor);
	if (!out || !(out->notices = hl_arena_alloc(hl_call_arena(c), (size_t)(n ? n : 1) * sizeof(void *))))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (int i = 0; i < n; i++)
		if (!(out->notices[out->n_notices++] = notice_msg(c, list[i])))
			return hl_call_fail(c, HL_NOMEM, "out of memory");
	out->next_page_token = (char *)(n == f.limit ? list[n - 1]->id : "");
	if ((st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}

hl_status followup_acknowledge_notice(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Followup__V1__AcknowledgeNoticeRequest *r = vreq;
	hl_status st;
	if (!hl_uuid_valid(r->notice_id))
		return hl_call_fail(c, HL_INVALID, "notice_id: not a UUID");
	if ((st = hl_call_require_any(c, hl_roles_staff)) || (st = hl_call_begin(c)))
		return st;
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	store_notice *x;
	hl_error err;
	if (store_notice_get(pg, a, r->notice_id, &x, &err))
		return hl_call_fail_err(c, &err);
	if (!x || !addressed_to_me(c, x)) /* someone else's notice is not theirs to see */
		return hl_call_fail(c, HL_NOT_FOUND, "notice not found");
	if (!x->acked_by) {
		const char *me = hl_call_principal(c)->actor;
		bool done;
		const char *d = hl_arena_printf(a, "{\"kind\":%d,\"subject\":\"%s\"}", x->kind, x->subject_id);
		if (store_notice_ack(pg, a, hl_call_tenant(c), x->id, me, &done, &err) ||
		    (done && hl_audit_append(pg, a, hl_call_tenant(c), "notice", x->id, me, "notice.acknowledged", d,
					     true, &err)) ||
		    store_notice_get(pg, a, r->notice_id, &x, &err))
			return hl_call_fail_err(c, &err);
	}
	Hotline__Followup__V1__AcknowledgeNoticeResponse *out =
		HL_NEW(c, hotline__followup__v1__acknowledge_notice_response__descriptor);
	if (!out || !(out->notice = notice_msg(c, x)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if ((st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}
