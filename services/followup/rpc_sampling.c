/*
 * rpc_sampling.c - closed tickets sampled for a satisfaction visit (回访抽样,
 * R16): the tenant's sampling policy (a percentage per category; by default
 * every complaint and misconduct report, one consultation in ten, none of
 * the others), and the draw of each closed ticket.  The draw is
 * deterministic and auditable: the first four bytes of HMAC-SHA-256 of the
 * ticket id under the tenant's secret sampling key, modulo 10000, sampled
 * when below percent x 100; it is recorded once per ticket (append-only
 * ticket_samples, audited), so a repeated offer gets the same answer.  A
 * sampled ticket gets a ticket visit (the citizen, about that ticket) due
 * within the policy's working days on the reply calendar.
 *
 * Tickets reach the sample from the reply loop (satisfied, or closed by a
 * supervisor: rpc_reply.c) and, for tickets closed without it (answered on
 * the spot), from intake through SampleTicket (internal, outbox, inbox).
 */
#include <string.h>

#include "followup.h"
#include "hl/audit.h"
#include "hl/crypto.h"
#include "hl/handler.h"
#include "hl/inbox.h"
#include "hl/roles.h"
#include "hotline/common/v1/common.pb-c.h"
#include "store.h"

#define CATEGORIES 6
#define DEFAULT_WITHIN_DAYS 5
#define METHOD_PHONE HOTLINE__FOLLOWUP__V1__VISIT_METHOD__VISIT_METHOD_PHONE
#define METHOD_QUESTIONNAIRE HOTLINE__FOLLOWUP__V1__VISIT_METHOD__VISIT_METHOD_QUESTIONNAIRE

/* Consultation, complaint, report, suggestion, help, praise (Category values 1-6). */
static const int default_percents[CATEGORIES] = {10, 100, 100, 0, 0, 0};

static const char *const admin_roles[] = {HL_ROLE_TENANT_ADMIN, HL_ROLE_SUPERVISOR, NULL};
static const char *const read_roles[] = {HL_ROLE_TENANT_ADMIN, HL_ROLE_SUPERVISOR, HL_ROLE_AUDITOR, HL_ROLE_INSPECTOR,
					 NULL};

static hl_status policy_load(hl_call *c, store_sampling_policy *p)
{
	bool found;
	hl_error err;
	if (store_sampling_get(hl_call_pg(c), hl_call_arena(c), p, &found, &err))
		return hl_call_fail_err(c, &err);
	if (!found) {
		memcpy(p->percents, default_percents, sizeof p->percents);
		p->method = METHOD_PHONE;
		p->within_days = DEFAULT_WITHIN_DAYS;
		p->responsible_id = "";
		p->version = 0;
	}
	return HL_OK;
}

static hl_status policy_msg(hl_call *c, const store_sampling_policy *p, Hotline__Followup__V1__SamplingPolicy **out)
{
	Hotline__Followup__V1__SamplingPolicy *m = HL_NEW(c, hotline__followup__v1__sampling_policy__descriptor);
	if (!m || !(m->rules = hl_arena_alloc(hl_call_arena(c), CATEGORIES * sizeof *m->rules)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (int i = 0; i < CATEGORIES; i++) {
		Hotline__Followup__V1__SamplingRule *r = HL_NEW(c, hotline__followup__v1__sampling_rule__descriptor);
		if (!r)
			return hl_call_fail(c, HL_NOMEM, "out of memory");
		r->category = i + 1;
		r->percent = p->percents[i];
		m->rules[m->n_rules++] = r;
	}
	m->method = p->method;
	m->within_days = p->within_days;
	m->responsible_id = (char *)p->responsible_id;
	m->version = p->version;
	*out = m;
	return HL_OK;
}

/* ---- the draw ------------------------------------------------------------------------------------ */

static hl_status draw_of(hl_call *c, const char *ticket_id, int *draw)
{
	uint8_t fresh[32], key[32], mac[HL_SHA256_LEN];
	hl_error err;
	if (hl_random_bytes(fresh, sizeof fresh))
		return hl_call_fail(c, HL_INTERNAL, "no randomness for the sampling key");
	if (store_sampling_key(hl_call_pg(c), hl_call_arena(c), hl_call_tenant(c), fresh, key, &err) ||
	    hl_hmac_sha256(key, sizeof key, ticket_id, strlen(ticket_id), mac, &err))
		return hl_call_fail_err(c, &err);
	hl_cleanse(fresh, sizeof fresh);
	hl_cleanse(key, sizeof key);
	uint32_t x = (uint32_t)mac[0] << 24 | (uint32_t)mac[1] << 16 | (uint32_t)mac[2] << 8 | mac[3];
	*draw = (int)(x % 10000);
	return HL_OK;
}

/* The ticket visit of a sampled ticket, due within the policy's working days from now. */
static hl_status plan_ticket_visit(hl_call *c, const followup_closed_ticket *tk, const store_sampling_policy *p,
				   const char **visit_id)
{
	const followup_app *app = followup_app_of(c);
	int64_t due_ms;
	hl_error err;
	if (hl_calendar_add_working_days(app->calendar, followup_now_us(c) / 1000, p->within_days, &due_ms, &err))
		return hl_call_fail_err(c, &err);
	followup_visit *v = hl_arena_alloc(hl_call_arena(c), sizeof *v);
	if (!v)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	*v = (followup_visit){.ticket_id = tk->ticket_id,
			      .ticket_no = tk->ticket_no,
			      .category = tk->category,
			      .department_id = tk->department_id ? tk->department_id : "",
			      .responsible_id = p->responsible_id,
			      .method = p->method,
			      .due_us = due_ms * 1000};
	hl_status st = followup_visit_plan(c, v);
	*visit_id = v->id;
	return st;
}

hl_status followup_sample_ticket(hl_call *c, const followup_closed_ticket *tk, bool *sampled, const char **visit_id,
				 int *draw, int *percent)
{
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	store_ticket_sample *done;
	store_sampling_policy p;
	hl_error err;
	hl_status st;
	if (store_sample_get(pg, a, tk->ticket_id, &done, &err))
		return hl_call_fail_err(c, &err);
	if (done) { /* offered before: the first draw stands */
		*sampled = done->sampled;
		*visit_id = done->visit_id;
		*draw = done->draw;
		*percent = done->percent;
		return HL_OK;
	}
	if ((st = policy_load(c, &p)) || (st = draw_of(c, tk->ticket_id, draw)))
		return st;
	*percent = tk->category >= 1 && tk->category <= CATEGORIES ? p.percents[tk->category - 1] : 0;
	*sampled = *draw < *percent * 100;
	*visit_id = NULL;
	if (*sampled && (st = plan_ticket_visit(c, tk, &p, visit_id)))
		return st;
	store_ticket_sample x = {.ticket_id = tk->ticket_id,
				 .ticket_no = tk->ticket_no,
				 .reason = tk->reason,
				 .visit_id = *visit_id,
				 .category = tk->category,
				 .percent = *percent,
				 .draw = *draw,
				 .policy_version = p.version,
				 .sampled = *sampled};
	const char *d =
		hl_arena_printf(a,
				"{\"category\":%d,\"percent\":%d,\"draw\":%d,\"policy_version\":%d,\"reason\":\"%s\","
				"\"visit\":\"%s\"}",
				tk->category, *percent, *draw, p.version, tk->reason, *visit_id ? *visit_id : "");
	if (store_sample_insert(pg, a, hl_call_tenant(c), &x, &err) ||
	    hl_audit_append(pg, a, hl_call_tenant(c), "ticket", tk->ticket_id, hl_call_principal(c)->actor,
			    *sampled ? "ticket.sampled" : "ticket.not_sampled", d, false, &err))
		return hl_call_fail_err(c, &err);
	return HL_OK;
}

/* ---- SampleTicket (internal, intake) -------------------------------------------------------------- */

static const char *const reasons[] = {"answered_on_spot", "closed", NULL};

static hl_status validate_sample(hl_call *c, const Hotline__Followup__V1__SampleTicketRequest *r)
{
	hl_status st;
	if (!hl_uuid_valid(r->ticket_id))
		return hl_call_fail(c, HL_INVALID, "ticket_id: not a UUID");
	if (!r->category ||
	    !protobuf_c_enum_descriptor_get_value(&hotline__common__v1__category__descriptor, r->category))
		return hl_call_fail(c, HL_INVALID, "category: required, one of the Category values");
	if ((st = hl_call_check_text(c, "ticket_no", r->ticket_no, 32, true)) ||
	    (st = hl_call_check_text(c, "department_id", r->department_id, 64, false)))
		return st;
	for (const char *const *x = reasons; *x; x++)
		if (strcmp(r->reason, *x) == 0)
			return HL_OK;
	return hl_call_fail(c, HL_INVALID, "reason: one of answered_on_spot, closed");
}

hl_status followup_sample_ticket_rpc(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Followup__V1__SampleTicketRequest *r = vreq;
	hl_status st;
	bool replayed;
	if ((st = validate_sample(c, r)) ||
	    (st = hl_inbox_begin(c, &hotline__followup__v1__sample_ticket_response__descriptor, resp, &replayed)) ||
	    replayed)
		return st;
	Hotline__Followup__V1__SampleTicketResponse *out =
		HL_NEW(c, hotline__followup__v1__sample_ticket_response__descriptor);
	if (!out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	followup_closed_ticket tk = {.ticket_id = r->ticket_id,
				     .ticket_no = r->ticket_no,
				     .department_id = r->department_id,
				     .reason = r->reason,
				     .category = r->category};
	const char *visit_id;
	bool sampled;
	if ((st = followup_sample_ticket(c, &tk, &sampled, &visit_id, &out->draw, &out->percent)))
		return st;
	out->sampled = sampled;
	out->visit_id = (char *)(visit_id ? visit_id : "");
	if ((st = hl_inbox_commit(c, out)))
		return st;
	*resp = out;
	return HL_OK;
}

/* ---- PutSamplingPolicy, GetSamplingPolicy --------------------------------------------------------- */

static hl_status validate_policy(hl_call *c, const Hotline__Followup__V1__SamplingPolicy *m, store_sampling_policy *p)
{
	if (!m)
		return hl_call_fail(c, HL_INVALID, "policy: required");
	if (m->n_rules > CATEGORIES)
		return hl_call_fail(c, HL_INVALID, "policy.rules: at most one per category");
	memcpy(p->percents, default_percents, sizeof p->percents);
	bool seen[CATEGORIES] = {false};
	for (size_t i = 0; i < m->n_rules; i++) {
		int cat = m->rules[i]->category, pct = m->rules[i]->percent;
		if (cat < 1 || cat > CATEGORIES)
			return hl_call_fail(c, HL_INVALID,
					    "policy.rules.category: required, one of the Category values");
		if (seen[cat - 1])
			return hl_call_fail(c, HL_INVALID, "policy.rules.category: %d given twice", cat);
		if (pct < 0 || pct > 100)
			return hl_call_fail(c, HL_INVALID, "policy.rules.percent: 0 to 100");
		seen[cat - 1] = true;
		p->percents[cat - 1] = pct;
	}
	if (m->method && m->method != METHOD_PHONE && m->method != METHOD_QUESTIONNAIRE)
		return hl_call_fail(c, HL_INVALID, "policy.method: phone or questionnaire");
	if (m->within_days < 0 || m->within_days > 60)
		return hl_call_fail(c, HL_INVALID, "policy.within_days: 1 to 60 (0: the default, 5)");
	p->method = m->method ? m->method : METHOD_PHONE;
	p->within_days = m->within_days ? m->within_days : DEFAULT_WITHIN_DAYS;
	p->responsible_id = m->responsible_id;
	return hl_call_check_text(c, "policy.responsible_id", m->responsible_id, 128, false);
}

hl_status followup_put_sampling_policy(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Followup__V1__PutSamplingPolicyRequest *r = vreq;
	store_sampling_policy p;
	hl_status st;
	if ((st = hl_call_require_any(c, admin_roles)) || (st = validate_policy(c, r->policy, &p)) ||
	    (st = hl_call_begin(c)))
		return st;
	hl_arena *a = hl_call_arena(c);
	hl_error err;
	if (store_sampling_put(hl_call_pg(c), a, hl_call_tenant(c), &p, hl_call_principal(c)->actor, &err))
		return hl_call_fail_err(c, &err);
	const char *d =
		hl_arena_printf(a, "{\"percents\":[%d,%d,%d,%d,%d,%d],\"method\":%d,\"within_days\":%d,\"version\":%d}",
				p.percents[0], p.percents[1], p.percents[2], p.percents[3], p.percents[4],
				p.percents[5], p.method, p.within_days, p.version);
	if (hl_audit_append(hl_call_pg(c), a, hl_call_tenant(c), "sampling_policy", "sampling",
			    hl_call_principal(c)->actor, "sampling_policy.put", d, false, &err))
		return hl_call_fail_err(c, &err);
	Hotline__Followup__V1__PutSamplingPolicyResponse *out =
		HL_NEW(c, hotline__followup__v1__put_sampling_policy_response__descriptor);
	if (!out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if ((st = policy_msg(c, &p, &out->policy)) || (st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}

hl_status followup_get_sampling_policy(hl_call *c, const void *vreq, void **resp)
{
	(void)vreq;
	store_sampling_policy p;
	hl_status st;
	if ((st = hl_call_require_any(c, read_roles)) || (st = hl_call_begin(c)) || (st = policy_load(c, &p)))
		return st;
	Hotline__Followup__V1__GetSamplingPolicyResponse *out =
		HL_NEW(c, hotline__followup__v1__get_sampling_policy_response__descriptor);
	if (!out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if ((st = policy_msg(c, &p, &out->policy)))
		return st;
	if (hl_call_has_role(c, HL_ROLE_AUDITOR)) { /* the key lets an auditor recompute every draw */
		uint8_t fresh[32], key[32];
		char *hex = hl_arena_alloc(hl_call_arena(c), 65);
		hl_error err;
		if (!hex)
			return hl_call_fail(c, HL_NOMEM, "out of memory");
		if (hl_random_bytes(fresh, sizeof fresh))
			return hl_call_fail(c, HL_INTERNAL, "no randomness for the sampling key");
		if (store_sampling_key(hl_call_pg(c), hl_call_arena(c), hl_call_tenant(c), fresh, key, &err))
			return hl_call_fail_err(c, &err);
		hl_hex_write(key, sizeof key, hex);
		hl_cleanse(key, sizeof key);
		out->key_hex = hex;
	}
	if ((st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}
