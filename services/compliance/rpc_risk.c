/*
 * rpc_risk.c - the risk register (R20): risks with their type, level (1
 * high, 2 general, 3 low), control measures, owner and department, and a
 * periodic risk check every N days; the check date's timer reminds the
 * owner (deadlines.c) and moves the date on.  PutRisk creates (safe to
 * retry by request_id) or changes a risk; every change is audited.
 * Supervisors, reviewers and tenant admins keep the register; staff read it.
 */
#include <string.h>

#include "hl/buf.h"
#include "hl/crypto.h"
#include "hl/handler.h"
#include "hl/roles.h"
#include "store.h"

static const char *const keeper_roles[] = {HL_ROLE_SUPERVISOR, HL_ROLE_REVIEWER, HL_ROLE_TENANT_ADMIN, NULL};

static Hotline__Compliance__V1__Risk *risk_msg(hl_call *c, const compliance_risk *x)
{
	hl_arena *a = hl_call_arena(c);
	Hotline__Compliance__V1__Risk *m = HL_NEW(c, hotline__compliance__v1__risk__descriptor);
	if (!m)
		return NULL;
	m->id = (char *)x->id;
	m->name = (char *)x->name;
	m->type = (char *)x->type;
	m->level = x->level;
	m->description = (char *)x->description;
	m->measures = (char *)x->measures;
	m->owner_id = (char *)x->owner_id;
	m->department_id = (char *)x->department_id;
	m->review_every_days = x->review_every_days;
	m->next_review_at = hl_timestamp_new(a, x->next_review_us);
	m->active = x->active;
	m->updated_by = (char *)x->updated_by;
	m->updated_at = hl_timestamp_new(a, x->updated_us);
	m->last_reminded_at = hl_timestamp_new(a, x->last_reminded_us);
	return m;
}

static hl_status validate(hl_call *c, const Hotline__Compliance__V1__Risk *r, const char *request_id)
{
	hl_status st;
	if (!r)
		return hl_call_fail(c, HL_INVALID, "risk: required");
	if (r->id[0] && !hl_uuid_valid(r->id))
		return hl_call_fail(c, HL_INVALID, "risk.id: not a UUID (empty for a new risk)");
	if (r->level < 1 || r->level > 3)
		return hl_call_fail(c, HL_INVALID, "risk.level: 1 (high), 2 (general) or 3 (low)");
	if (r->review_every_days < 1 || r->review_every_days > 3660)
		return hl_call_fail(c, HL_INVALID, "risk.review_every_days: 1 to 3660");
	if ((st = hl_call_check_request_id(c, request_id)) ||
	    (st = hl_call_check_text(c, "risk.name", r->name, 200, true)) ||
	    (st = hl_call_check_text(c, "risk.type", r->type, 64, true)) ||
	    (st = hl_call_check_text(c, "risk.description", r->description, COMPLIANCE_TEXT_CHARS, false)) ||
	    (st = hl_call_check_text(c, "risk.measures", r->measures, COMPLIANCE_TEXT_CHARS, true)) ||
	    (st = compliance_check_id(c, "risk.owner_id", r->owner_id, true)) ||
	    (st = compliance_check_id(c, "risk.department_id", r->department_id, false)))
		return st;
	return HL_OK;
}

static const char *details(hl_arena *a, const compliance_risk *x)
{
	hl_buf b = HL_BUF_INIT;
	hl_buf_printf(&b, "{\"level\":%d,\"review_every_days\":%d,\"next_review_us\":%lld,\"active\":%s,\"type\":",
		      x->level, x->review_every_days, (long long)x->next_review_us, x->active ? "true" : "false");
	hl_buf_json_string(&b, x->type);
	hl_buf_printf(&b, ",\"owner\":");
	hl_buf_json_string(&b, x->owner_id);
	hl_buf_putc(&b, '}');
	const char *out = hl_buf_failed(&b) ? "{}" : hl_arena_strdup(a, b.data);
	hl_buf_release(&b);
	return out;
}

hl_status compliance_put_risk(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Compliance__V1__PutRiskRequest *r = vreq;
	const Hotline__Compliance__V1__Risk *in = r->risk;
	hl_status st;
	if ((st = hl_call_require_any(c, keeper_roles)) || (st = validate(c, in, r->request_id)))
		return st;
	int64_t now_s = hl_now_ms() / 1000, next_s = in->next_review_at ? in->next_review_at->seconds : 0;
	if (next_s && next_s < now_s - 60)
		return hl_call_fail(c, HL_INVALID, "risk.next_review_at: must not be in the past");
	if ((st = hl_call_begin(c)))
		return st;
	bool create = !in->id[0];
	compliance_risk x = {
		.tenant = hl_call_principal(c)->tenant, .id = in->id, .request_id = create ? r->request_id : NULL,
		.name = in->name, .type = in->type, .level = in->level, .description = in->description,
		.measures = in->measures, .owner_id = in->owner_id, .department_id = in->department_id,
		.review_every_days = in->review_every_days, .active = create || in->active,
		.updated_by = hl_call_principal(c)->actor,
		.next_review_us = 1000000 * (next_s ? next_s : now_s + 86400LL * in->review_every_days),
	}, *existing;
	hl_error err;
	if (create && (st = compliance_new_id(c, &x.id)))
		return st;
	if (store_risk_put(hl_call_pg(c), hl_call_arena(c), &x, create, &existing, &err))
		return hl_call_fail_err(c, &err);
	const compliance_risk *shown = existing ? existing : &x;
	if (!existing && ((st = compliance_audit(c, "risk", x.id, create ? "risk.created" : "risk.changed",
						 details(hl_call_arena(c), &x), create)) ||
			  (x.active && (st = compliance_risk_timer(c, &x)))))
		return st;
	Hotline__Compliance__V1__PutRiskResponse *out = HL_NEW(c, hotline__compliance__v1__put_risk_response__descriptor);
	if (!out || !(out->risk = risk_msg(c, shown)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if ((st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}

hl_status compliance_list_risks(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Compliance__V1__ListRisksRequest *r = vreq;
	hl_status st;
	if ((st = hl_call_require_any(c, hl_roles_staff)) || (st = hl_call_check_text(c, "type", r->type, 64, false)) ||
	    (st = compliance_check_id(c, "department_id", r->department_id, false)))
		return st;
	if (r->level < 0 || r->level > 3)
		return hl_call_fail(c, HL_INVALID, "level: 0 (any) to 3");
	if ((st = hl_call_begin(c)))
		return st;
	compliance_risk **list;
	int n;
	hl_error err;
	if (store_risks(hl_call_pg(c), hl_call_arena(c), r->level, r->type[0] ? r->type : NULL,
			r->department_id[0] ? r->department_id : NULL, r->include_inactive, &list, &n, &err))
		return hl_call_fail_err(c, &err);
	Hotline__Compliance__V1__ListRisksResponse *out =
		HL_NEW(c, hotline__compliance__v1__list_risks_response__descriptor);
	if (!out || !(out->risks = hl_arena_alloc(hl_call_arena(c), (size_t)(n ? n : 1) * sizeof *out->risks)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (int i = 0; i < n; i++)
		if (!(out->risks[out->n_risks++] = risk_msg(c, list[i])))
			return hl_call_fail(c, HL_NOMEM, "out of memory");
	if ((st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}
