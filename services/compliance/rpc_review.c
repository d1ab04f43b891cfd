/*
 * rpc_review.c - the reviews a gated action needs (R19): requested by
 * CheckGate (the gated service's call) or ahead of time by a person
 * (RequestReview), decided once by someone with the review's reviewer role
 * who is not its requester (separation of duties, DESIGN §5.1), with an
 * opinion (required to reject).  The request and the decision are
 * append-only records; both are archived in the review's audit chain (the
 * opinion with it), the decision goes to reporting (review.decided) and
 * back to the requester as a notice.
 */
#include <string.h>

#include "hl/audit.h"
#include "hl/buf.h"
#include "hl/crypto.h"
#include "hl/handler.h"
#include "hl/roles.h"
#include "store.h"

/* Who sees every review (others see the ones they requested). */
static const char *const oversight_roles[] = {HL_ROLE_REVIEWER, HL_ROLE_SUPERVISOR, HL_ROLE_INSPECTOR,
					      HL_ROLE_AUDITOR,  HL_ROLE_TENANT_ADMIN, NULL};

static const char *requested_details(hl_arena *a, const compliance_review *r)
{
	hl_buf b = HL_BUF_INIT;
	hl_buf_printf(&b, "{\"action\":");
	hl_buf_json_string(&b, r->action);
	hl_buf_printf(&b, ",\"subject_type\":");
	hl_buf_json_string(&b, r->subject_type);
	hl_buf_printf(&b, ",\"subject_id\":");
	hl_buf_json_string(&b, r->subject_id);
	hl_buf_printf(&b, ",\"content_digest\":\"%s\",\"rule\":", r->content_digest);
	hl_buf_json_string(&b, r->rule_id);
	hl_buf_printf(&b, ",\"reviewer_role\":");
	hl_buf_json_string(&b, r->reviewer_role);
	hl_buf_putc(&b, '}');
	const char *out = hl_buf_failed(&b) ? "{}" : hl_arena_strdup(a, b.data);
	hl_buf_release(&b);
	return out;
}

static hl_status create(hl_call *c, compliance_review *want, compliance_review **out, bool *created)
{
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	hl_error err;
	hl_status st;
	compliance_review *existing;
	want->requested_by = hl_call_principal(c)->actor;
	if ((st = compliance_new_id(c, &want->id)))
		return st;
	if (store_review_insert(pg, a, want, created, &existing, &err))
		return hl_call_fail_err(c, &err);
	if (!*created) { /* a retried RequestReview */
		*out = existing;
		return HL_OK;
	}
	*out = want;
	if ((st = compliance_audit(c, "review", want->id, "review.requested", requested_details(a, want), true)))
		return st;
	const char *to = hl_arena_printf(a, "role:%s", want->reviewer_role);
	const char *body = hl_arena_printf(a, "待审查: %s %s", want->action, want->summary);
	if (!to || !body)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if (compliance_notify(pg, a, "review.requested", want->id, to, body, &err))
		return hl_call_fail_err(c, &err);
	return HL_OK;
}

hl_status compliance_review_open(hl_call *c, compliance_review *want, bool renew_rejected, compliance_review **out,
				 bool *created)
{
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	hl_error err;
	compliance_review *latest;
	const char *key = hl_arena_printf(a, "review|%s|%s|%s|%s", want->action, want->subject_type, want->subject_id,
					  want->content_digest);
	if (!key)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if (store_review_lock(pg, a, key, &err) ||
	    store_review_latest(pg, a, want->action, want->subject_type, want->subject_id, want->content_digest, false,
				&latest, &err))
		return hl_call_fail_err(c, &err);
	*created = false;
	if (latest && (latest->status != RV_REJECTED || !renew_rejected)) {
		*out = latest;
		return HL_OK;
	}
	return create(c, want, out, created);
}

static Hotline__Compliance__V1__Review *review_msg(hl_call *c, const compliance_review *r)
{
	hl_arena *a = hl_call_arena(c);
	Hotline__Compliance__V1__Review *m = HL_NEW(c, hotline__compliance__v1__review__descriptor);
	if (!m)
		return NULL;
	m->id = (char *)r->id;
	m->action = (char *)r->action;
	m->subject_type = (char *)r->subject_type;
	m->subject_id = (char *)r->subject_id;
	m->content_digest = (char *)r->content_digest;
	m->ticket_id = (char *)r->ticket_id;
	m->summary = (char *)r->summary;
	m->rule_id = (char *)r->rule_id;
	m->reviewer_role = (char *)r->reviewer_role;
	m->status = r->status;
	m->requested_by = (char *)r->requested_by;
	m->requested_at = hl_timestamp_new(a, r->requested_us);
	m->decided_by = (char *)(r->decided_by ? r->decided_by : "");
	m->decided_at = hl_timestamp_new(a, r->decided_us);
	m->opinion = (char *)(r->opinion ? r->opinion : "");
	m->department_id = (char *)r->department_id;
	return m;
}

/* Answer with one review (the response types all have it as field 1) and commit. */
static hl_status answer(hl_call *c, const compliance_review *r, const ProtobufCMessageDescriptor *d, void **resp)
{
	void *out = hl_call_new_message(c, d);
	Hotline__Compliance__V1__Review *m = review_msg(c, r);
	if (!out || !m)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	/* RequestReviewResponse, DecideReviewResponse, GetReviewResponse: { Review review = 1; } */
	((Hotline__Compliance__V1__GetReviewResponse *)out)->review = m;
	hl_status st = hl_call_commit(c);
	if (st)
		return st;
	*resp = out;
	return HL_OK;
}

hl_status compliance_request_review(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Compliance__V1__RequestReviewRequest *r = vreq;
	hl_status st;
	if ((st = hl_call_require_any(c, hl_roles_staff)) || (st = hl_call_check_request_id(c, r->request_id)) ||
	    (st = compliance_check_review_fields(c, r->action, r->subject_type, r->subject_id, r->content_digest,
						 r->ticket_id, r->department_id, r->summary)) ||
	    (st = hl_call_begin(c)))
		return st;
	compliance_review want = {
		.request_id = r->request_id, .action = r->action, .subject_type = r->subject_type,
		.subject_id = r->subject_id, .content_digest = r->content_digest, .ticket_id = r->ticket_id,
		.department_id = r->department_id, .summary = r->summary, .rule_id = "", .reviewer_role = HL_ROLE_REVIEWER,
	}, *rv;
	bool created;
	if ((st = compliance_review_open(c, &want, true, &rv, &created)))
		return st;
	return answer(c, rv, &hotline__compliance__v1__request_review_response__descriptor, resp);
}

static hl_status load(hl_call *c, const char *id, compliance_review **out)
{
	hl_error err;
	if (!hl_uuid_valid(id))
		return hl_call_fail(c, HL_INVALID, "review_id: not a UUID");
	if (store_review_get(hl_call_pg(c), hl_call_arena(c), id, out, &err))
		return hl_call_fail_err(c, &err);
	return *out ? HL_OK : hl_call_fail(c, HL_NOT_FOUND, "review not found");
}

static const char *decided_details(hl_arena *a, const compliance_review *r, bool approve, const char *opinion)
{
	hl_buf b = HL_BUF_INIT;
	hl_buf_printf(&b, "{\"approved\":%s,\"content_digest\":\"%s\",\"opinion\":", approve ? "true" : "false",
		      r->content_digest);
	hl_buf_json_string(&b, opinion);
	hl_buf_putc(&b, '}');
	const char *out = hl_buf_failed(&b) ? "{}" : hl_arena_strdup(a, b.data);
	hl_buf_release(&b);
	return out;
}

/* The decision's effects besides its record: audit, event to reporting, notice to the requester. */
static hl_status decided(hl_call *c, const compliance_review *r, bool approve, const char *opinion)
{
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	const hl_principal *who = hl_call_principal(c);
	hl_error err;
	hl_status st = compliance_audit(c, "review", r->id, approve ? "review.approved" : "review.rejected",
					decided_details(a, r, approve, opinion), false);
	if (st)
		return st;
	Hotline__Common__V1__ComplianceChanged p = HOTLINE__COMMON__V1__COMPLIANCE_CHANGED__INIT;
	p.subject_id = (char *)r->id;
	p.department_id = (char *)r->department_id;
	p.person_id = (char *)r->requested_by;
	p.source = (char *)r->action;
	p.approved = approve;
	const char *to = hl_arena_printf(a, "user:%s", r->requested_by);
	const char *body = hl_arena_printf(a, "审查%s: %s", approve ? "通过" : "未通过", r->action);
	if (!to || !body)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if (compliance_event(pg, a, who->tenant, who->actor, "review.decided", r->ticket_id, &p, &err) ||
	    compliance_notify(pg, a, "review.decided", r->id, to, body, &err))
		return hl_call_fail_err(c, &err);
	return HL_OK;
}

hl_status compliance_decide_review(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Compliance__V1__DecideReviewRequest *r = vreq;
	hl_status st;
	compliance_review *rv;
	if ((st = hl_call_check_text(c, "opinion", r->opinion, COMPLIANCE_TEXT_CHARS, !r->approve)) ||
	    (st = hl_call_begin(c)) || (st = load(c, r->review_id, &rv)))
		return st;
	const char *actor = hl_call_principal(c)->actor;
	if (!hl_call_has_role(c, rv->reviewer_role))
		return hl_call_fail(c, HL_DENIED, "the review needs the %s role", rv->reviewer_role);
	if (strcmp(rv->requested_by, actor) == 0)
		return hl_call_fail(c, HL_DENIED, "nobody decides a review they requested");
	if (rv->status != RV_PENDING)
		return hl_call_fail(c, HL_PRECONDITION, "the review was already decided");
	bool created;
	hl_error err;
	if (store_review_decide(hl_call_pg(c), hl_call_arena(c), rv->id, r->approve, r->opinion, actor, &created, &err))
		return hl_call_fail_err(c, &err);
	if (!created)
		return hl_call_fail(c, HL_PRECONDITION, "the review was already decided");
	if ((st = decided(c, rv, r->approve, r->opinion)) || (st = load(c, r->review_id, &rv)))
		return st;
	return answer(c, rv, &hotline__compliance__v1__decide_review_response__descriptor, resp);
}

hl_status compliance_get_review(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Compliance__V1__GetReviewRequest *r = vreq;
	hl_status st;
	compliance_review *rv;
	if ((st = hl_call_require_any(c, hl_roles_staff)) || (st = hl_call_begin(c)) || (st = load(c, r->id, &rv)))
		return st;
	if (!hl_call_has_any(c, oversight_roles) && strcmp(rv->requested_by, hl_call_principal(c)->actor) != 0)
		return hl_call_fail(c, HL_NOT_FOUND, "review not found");
	return answer(c, rv, &hotline__compliance__v1__get_review_response__descriptor, resp);
}

hl_status compliance_list_reviews(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Compliance__V1__ListReviewsRequest *r = vreq;
	hl_status st;
	store_review_filter f = {.status = r->status};
	if ((st = hl_call_require_any(c, hl_roles_staff)) ||
	    (st = hl_call_check_text(c, "action", r->action, 64, false)) ||
	    (st = compliance_check_id(c, "subject_id", r->subject_id, false)) ||
	    (st = compliance_page(c, r->page_size, r->page_token, &f.limit, &f.after_id)))
		return st;
	if ((int)r->status < 0 || (int)r->status > RV_REJECTED)
		return hl_call_fail(c, HL_INVALID, "status: not a ReviewStatus value");
	f.action = r->action[0] ? r->action : NULL;
	f.subject_id = r->subject_id[0] ? r->subject_id : NULL;
	if (r->mine || !hl_call_has_any(c, oversight_roles))
		f.requested_by = hl_call_principal(c)->actor;
	if ((st = hl_call_begin(c)))
		return st;
	compliance_review **list;
	int n;
	hl_error err;
	if (store_reviews(hl_call_pg(c), hl_call_arena(c), &f, &list, &n, &err))
		return hl_call_fail_err(c, &err);
	Hotline__Compliance__V1__ListReviewsResponse *out =
		HL_NEW(c, hotline__compliance__v1__list_reviews_response__descriptor);
	if (!out || !(out->reviews = hl_arena_alloc(hl_call_arena(c), (size_t)(n ? n : 1) * sizeof *out->reviews)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (int i = 0; i < n; i++)
		if (!(out->reviews[out->n_reviews++] = review_msg(c, list[i])))
			return hl_call_fail(c, HL_NOMEM, "out of memory");
	out->next_page_token = (char *)(n == f.limit ? list[n - 1]->id : "");
	if ((st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}
