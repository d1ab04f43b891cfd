/*
 * rpc_notice.c - ListNotices: what compliance has told the caller, newest
 * first: notices addressed to them (user:<sub>), to any of their roles
 * (role:<role>, e.g. the leadership group for escalated risk events, the
 * reviewers for review requests) and to their department (dept:<id>).
 */
#include "hl/handler.h"
#include "hl/roles.h"
#include "store.h"

hl_status compliance_list_notices(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Compliance__V1__ListNoticesRequest *r = vreq;
	hl_status st;
	int limit;
	const char *before;
	if ((st = hl_call_require_any(c, hl_roles_staff)) ||
	    (st = compliance_page(c, r->page_size, r->page_token, &limit, &before)))
		return st;
	const hl_principal *who = hl_call_principal(c);
	hl_arena *a = hl_call_arena(c);
	const hl_claims *cl = who->claims;
	const char **to = hl_arena_alloc(a, (cl->n_roles + 2) * sizeof *to);
	int n_to = 0;
	if (!to || !(to[n_to++] = hl_arena_printf(a, "user:%s", who->actor)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (size_t i = 0; i < cl->n_roles; i++)
		if (!(to[n_to++] = hl_arena_printf(a, "role:%s", cl->roles[i])))
			return hl_call_fail(c, HL_NOMEM, "out of memory");
	if (cl->dept && !(to[n_to++] = hl_arena_printf(a, "dept:%s", cl->dept)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if ((st = hl_call_begin(c)))
		return st;
	compliance_notice **list;
	int n;
	hl_error err;
	if (store_notices(hl_call_pg(c), a, to, n_to, before, limit, &list, &n, &err))
		return hl_call_fail_err(c, &err);
	Hotline__Compliance__V1__ListNoticesResponse *out =
		HL_NEW(c, hotline__compliance__v1__list_notices_response__descriptor);
	if (!out || !(out->notices = hl_arena_alloc(a, (size_t)(n ? n : 1) * sizeof *out->notices)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		Hotline__Compliance__V1__Notice *m = HL_NEW(c, hotline__compliance__v1__notice__descriptor);
		if (!m)
			return hl_call_fail(c, HL_NOMEM, "out of memory");
		m->id = (char *)list[i]->id;
		m->kind = (char *)list[i]->kind;
		m->subject_id = (char *)list[i]->subject_id;
		m->text = (char *)list[i]->body;
		m->recipient = (char *)list[i]->recipient;
		m->created_at = hl_timestamp_new(a, list[i]->created_us);
		out->notices[out->n_notices++] = m;
	}
	out->next_page_token = (char *)(n == limit ? list[n - 1]->id : "");
	if ((st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}
