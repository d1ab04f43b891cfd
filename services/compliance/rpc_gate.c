/*
 * rpc_gate.c - review gates (R19, "no implementation without review"): the
 * tenant's gate rules and CheckGate, which the gated services call
 * synchronously before a gated action takes effect (and refuse the action
 * when it does not answer: they fail closed).
 *
 * A rule says: action A (on subject type S), when the condition holds
 * (category in a set, priority at least P, an extension of at least H hours),
 * needs a review approved by role R.  The platform's defaults (the built-in
 * rules below, from the seeds) apply to an action until the tenant stores a
 * rule of that action; a stored rule replaces them for its action, and a
 * disabled one switches the gate off.  A condition on an attribute the
 * caller did not send (0) holds: when in doubt, review.
 *
 * CheckGate: no rule requires a review -> approved.  Else the review of
 * exactly this content (SHA-256): approved -> approved; pending or rejected
 * -> not approved, naming it; none -> a new pending review requested by the
 * caller's actor, which is named.  An approval is bound to its digest: the
 * content changed after approval needs a new review.
 */
#include <string.h>

#include "hl/audit.h"
#include "hl/buf.h"
#include "hl/crypto.h"
#include "hl/handler.h"
#include "hl/roles.h"
#include "store.h"

#define CAT(x) HOTLINE__COMMON__V1__CATEGORY__CATEGORY_##x
static int complaint_report[] = {CAT(COMPLAINT), CAT(REPORT)};
static int complaint[] = {CAT(COMPLAINT)};

/* The platform's default gates (R19, seeds 000 §16, 001 §20, 002 §21, 003 §2.4). */
static const compliance_rule builtins[] = {
	{.id = "reply-complaint-report", .action = "followup.reply", .subject_type = "", .reviewer_role = HL_ROLE_REVIEWER,
	 .categories = complaint_report, .n_categories = 2, .enabled = true, .builtin = true},
	{.id = "major-complaint-solution", .action = "dispatch.result_approval", .subject_type = "",
	 .reviewer_role = HL_ROLE_REVIEWER, .categories = complaint, .n_categories = 1,
	 .min_priority = HOTLINE__COMMON__V1__PRIORITY__PRIORITY_MAJOR, .enabled = true, .builtin = true},
	{.id = "deadline-extension", .action = "dispatch.extension", .subject_type = "",
	 .reviewer_role = HL_ROLE_REVIEWER, .enabled = true, .builtin = true},
	{.id = "visit-plan", .action = "followup.visit_plan", .subject_type = "", .reviewer_role = HL_ROLE_REVIEWER,
	 .enabled = true, .builtin = true},
	{.id = "archive-destruction", .action = "intake.destroy_period", .subject_type = "",
	 .reviewer_role = HL_ROLE_REVIEWER, .enabled = true, .builtin = true},
};
#define N_BUILTINS (sizeof builtins / sizeof builtins[0])

static const char *const admin_roles[] = {HL_ROLE_TENANT_ADMIN, NULL};

/* The attributes a rule tests. */
typedef struct gate_facts {
	const char *subject_type;
	int category, priority, extension_hours;
} gate_facts;

static bool rule_matches(const compliance_rule *r, const gate_facts *f)
{
	if (!r->enabled)
		return false;
	if (r->subject_type[0] && strcmp(r->subject_type, f->subject_type) != 0)
		return false;
	if (r->n_categories && f->category) {
		bool in = false;
		for (int i = 0; i < r->n_categories; i++)
			in |= r->categories[i] == f->category;
		if (!in)
			return false;
	}
	if (r->min_priority && f->priority && f->priority < r->min_priority)
		return false;
	if (r->min_extension_hours && f->extension_hours && f->extension_hours < r->min_extension_hours)
		return false;
	return true;
}

/* The rules in force for action: the tenant's, or the built-in ones when it has none of that action. */
static hl_status rules_for(hl_call *c, const char *action, compliance_rule ***out, int *n)
{
	hl_error err;
	if (store_rules(hl_call_pg(c), hl_call_arena(c), action, out, n, &err))
		return hl_call_fail_err(c, &err);
	if (*n)
		return HL_OK;
	compliance_rule **list = hl_arena_alloc(hl_call_arena(c), N_BUILTINS * sizeof *list);
	if (!list)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (size_t i = 0; i < N_BUILTINS; i++)
		if (strcmp(builtins[i].action, action) == 0)
			list[(*n)++] = (compliance_rule *)&builtins[i];
	*out = list;
	return HL_OK;
}

static bool action_valid(const char *s)
{
	size_t n = strlen(s);
	if (n < 3 || n > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '.' || *s == '_'))
			return false;
	return true;
}

static bool digest_valid(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* What CheckGate and RequestReview validate alike. */
hl_status compliance_check_review_fields(hl_call *c, const char *action, const char *subject_type,
					 const char *subject_id, const char *digest, const char *ticket_id,
					 const char *dept, const char *summary)
{
	hl_status st;
	if (!action_valid(action))
		return hl_call_fail(c, HL_INVALID, "action: 3 to 64 of a-z, 0-9, '.' and '_'");
	if (!digest_valid(digest))
		return hl_call_fail(c, HL_INVALID, "content_digest: the lowercase hex SHA-256 of the content");
	if (ticket_id[0] && !hl_uuid_valid(ticket_id))
		return hl_call_fail(c, HL_INVALID, "ticket_id: not a UUID");
	if ((st = hl_call_check_text(c, "subject_type", subject_type, 64, false)) ||
	    (st = compliance_check_id(c, "subject_id", subject_id, true)) ||
	    (st = compliance_check_id(c, "department_id", dept, false)) ||
	    (st = hl_call_check_text(c, "summary", summary, 500, false)))
		return st;
	return HL_OK;
}

static hl_status validate_check(hl_call *c, const Hotline__Compliance__V1__CheckGateRequest *r)
{
	if (r->category && !protobuf_c_enum_descriptor_get_value(&hotline__common__v1__category__descriptor, r->category))
		return hl_call_fail(c, HL_INVALID, "category: not a Category value");
	if (r->priority && !protobuf_c_enum_descriptor_get_value(&hotline__common__v1__priority__descriptor, r->priority))
		return hl_call_fail(c, HL_INVALID, "priority: not a Priority value");
	if (r->extension_hours < 0)
		return hl_call_fail(c, HL_INVALID, "extension_hours: must not be negative");
	return compliance_check_review_fields(c, r->action, r->subject_type, r->subject_id, r->content_digest,
					      r->ticket_id, r->department_id, r->summary);
}

/* Why a review named in a refusal does not approve the action. */
static const char *refusal(hl_call *c, const compliance_review *rv, bool created, const char *subject_type,
			   const char *subject_id, const char *action)
{
	if (rv->status == RV_REJECTED)
		return "the review was rejected: request a new review of changed content";
	compliance_review *approved = NULL;
	hl_error err;
	if (store_review_latest(hl_call_pg(c), hl_call_arena(c), action, subject_type, subject_id, NULL, true, &approved,
				&err) == HL_OK &&
	    approved)
		return created ? "the content changed since an earlier version was approved: a review was requested"
			       : "the content changed since an earlier version was approved: awaiting review";
	return created ? "a review was requested" : "awaiting review";
}

hl_status compliance_check_gate(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Compliance__V1__CheckGateRequest *r = vreq;
	hl_status st;
	compliance_rule **rules;
	int n;
	if ((st = validate_check(c, r)) || (st = hl_call_begin(c)) || (st = rules_for(c, r->action, &rules, &n)))
		return st;
	gate_facts f = {.subject_type = r->subject_type, .category = r->category, .priority = r->priority,
			.extension_hours = r->extension_hours};
	const compliance_rule *rule = NULL;
	for (int i = 0; i < n && !rule; i++)
		if (rule_matches(rules[i], &f))
			rule = rules[i];
	Hotline__Compliance__V1__CheckGateResponse *out =
		HL_NEW(c, hotline__compliance__v1__check_gate_response__descriptor);
	if (!out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if (!rule) {
		out->approved = true;
		out->reason = "no gate rule of the tenant requires a review";
	} else {
		compliance_review want = {
			.action = r->action, .subject_type = r->subject_type, .subject_id = r->subject_id,
			.content_digest = r->content_digest, .ticket_id = r->ticket_id, .department_id = r->department_id,
			.summary = r->summary, .rule_id = rule->id, .reviewer_role = rule->reviewer_role,
		}, *rv;
		bool created;
		if ((st = compliance_review_open(c, &want, false, &rv, &created)))
			return st;
		out->approved = rv->status == RV_APPROVED;
		out->review_id = (char *)rv->id;
		out->reason = (char *)(out->approved ? "approved by review"
						     : refusal(c, rv, created, r->subject_type, r->subject_id, r->action));
	}
	if ((st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}

/* ---- rules ------------------------------------------------------------- */

static Hotline__Compliance__V1__GateRule *rule_msg(hl_call *c, const compliance_rule *x)
{
	Hotline__Compliance__V1__GateRule *m = HL_NEW(c, hotline__compliance__v1__gate_rule__descriptor);
	if (!m || !(m->categories = hl_arena_alloc(hl_call_arena(c), (size_t)(x->n_categories + 1) * sizeof(int))))
		return NULL;
	m->id = (char *)x->id;
	m->action = (char *)x->action;
	m->subject_type = (char *)x->subject_type;
	for (int i = 0; i < x->n_categories; i++)
		m->categories[m->n_categories++] = x->categories[i];
	m->min_priority = x->min_priority;
	m->min_extension_hours = x->min_extension_hours;
	m->reviewer_role = (char *)x->reviewer_role;
	m->enabled = x->enabled;
	m->builtin = x->builtin;
	m->updated_by = (char *)(x->updated_by ? x->updated_by : "");
	m->updated_at = hl_timestamp_new(hl_call_arena(c), x->updated_us);
	return m;
}

static hl_status validate_rule(hl_call *c, const Hotline__Compliance__V1__GateRule *r)
{
	if (!r)
		return hl_call_fail(c, HL_INVALID, "rule: required");
	size_t n = strlen(r->id);
	if (n < 1 || n > 64 || !(r->id[0] >= 'a' && r->id[0] <= 'z') ||
	    strspn(r->id, "abcdefghijklmnopqrstuvwxyz0123456789._-") != n)
		return hl_call_fail(c, HL_INVALID, "rule.id: 1 to 64 of a-z, 0-9, '.', '_' and '-', starting with a letter");
	if (!action_valid(r->action))
		return hl_call_fail(c, HL_INVALID, "rule.action: 3 to 64 of a-z, 0-9, '.' and '_'");
	if (r->n_categories > 6)
		return hl_call_fail(c, HL_INVALID, "rule.categories: at most 6");
	for (size_t i = 0; i < r->n_categories; i++)
		if (!r->categories[i] ||
		    !protobuf_c_enum_descriptor_get_value(&hotline__common__v1__category__descriptor, r->categories[i]))
			return hl_call_fail(c, HL_INVALID, "rule.categories: Category values");
	if (r->min_priority &&
	    !protobuf_c_enum_descriptor_get_value(&hotline__common__v1__priority__descriptor, r->min_priority))
		return hl_call_fail(c, HL_INVALID, "rule.min_priority: not a Priority value");
	if (r->min_extension_hours < 0 || r->min_extension_hours > 100000)
		return hl_call_fail(c, HL_INVALID, "rule.min_extension_hours: 0 to 100000");
	if (r->reviewer_role[0] && !hl_role_known(r->reviewer_role))
		return hl_call_fail(c, HL_INVALID, "rule.reviewer_role: not a role of the platform");
	return hl_call_check_text(c, "rule.subject_type", r->subject_type, 64, false);
}

static const char *rule_details(hl_arena *a, const compliance_rule *x)
{
	hl_buf b = HL_BUF_INIT;
	hl_buf_printf(&b, "{\"action\":");
	hl_buf_json_string(&b, x->action);
	hl_buf_printf(&b, ",\"subject_type\":");
	hl_buf_json_string(&b, x->subject_type);
	hl_buf_printf(&b, ",\"categories\":[");
	for (int i = 0; i < x->n_categories; i++)
		hl_buf_printf(&b, "%s%d", i ? "," : "", x->categories[i]);
	hl_buf_printf(&b, "],\"min_priority\":%d,\"min_extension_hours\":%d,\"reviewer_role\":", x->min_priority,
		      x->min_extension_hours);
	hl_buf_json_string(&b, x->reviewer_role);
	hl_buf_printf(&b, ",\"enabled\":%s}", x->enabled ? "true" : "false");
	const char *out = hl_buf_failed(&b) ? "{}" : hl_arena_strdup(a, b.data);
	hl_buf_release(&b);
	return out;
}

hl_status compliance_put_gate_rule(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Compliance__V1__PutGateRuleRequest *r = vreq;
	const Hotline__Compliance__V1__GateRule *in = r->rule;
	hl_status st;
	if ((st = hl_call_require_any(c, admin_roles)) || (st = validate_rule(c, in)) || (st = hl_call_begin(c)))
		return st;
	compliance_rule x = {
		.id = in->id, .action = in->action, .subject_type = in->subject_type, .categories = (int *)in->categories,
		.n_categories = (int)in->n_categories, .min_priority = in->min_priority,
		.min_extension_hours = in->min_extension_hours,
		.reviewer_role = in->reviewer_role[0] ? in->reviewer_role : HL_ROLE_REVIEWER, .enabled = in->enabled,
		.updated_by = hl_call_principal(c)->actor,
	};
	bool created;
	hl_error err;
	const char *subject = hl_arena_printf(hl_call_arena(c), "gate_rule:%s", x.id);
	if (!subject)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if (store_rule_put(hl_call_pg(c), hl_call_arena(c), &x, &created, &err))
		return hl_call_fail_err(c, &err);
	if ((st = compliance_audit(c, "gate_rule", subject, created ? "gate_rule.created" : "gate_rule.changed",
				   rule_details(hl_call_arena(c), &x), created)))
		return st;
	Hotline__Compliance__V1__PutGateRuleResponse *out =
		HL_NEW(c, hotline__compliance__v1__put_gate_rule_response__descriptor);
	if (!out || !(out->rule = rule_msg(c, &x)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if ((st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}

hl_status compliance_list_gate_rules(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Compliance__V1__ListGateRulesRequest *r = vreq;
	hl_status st;
	compliance_rule **stored;
	int n;
	hl_error err;
	if ((st = hl_call_require_any(c, hl_roles_staff)) ||
	    (st = hl_call_check_text(c, "action", r->action, 64, false)) || (st = hl_call_begin(c)))
		return st;
	if (store_rules(hl_call_pg(c), hl_call_arena(c), r->action[0] ? r->action : NULL, &stored, &n, &err))
		return hl_call_fail_err(c, &err);
	Hotline__Compliance__V1__ListGateRulesResponse *out =
		HL_NEW(c, hotline__compliance__v1__list_gate_rules_response__descriptor);
	if (!out || !(out->rules = hl_arena_alloc(hl_call_arena(c), ((size_t)n + N_BUILTINS) * sizeof *out->rules)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (int i = 0; i < n; i++)
		if (!(out->rules[out->n_rules++] = rule_msg(c, stored[i])))
			return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (size_t b = 0; b < N_BUILTINS; b++) { /* the defaults of the actions the tenant has no rule of */
		bool overridden = r->action[0] && strcmp(r->action, builtins[b].action) != 0;
		for (int i = 0; i < n && !overridden; i++)
			overridden = strcmp(stored[i]->action, builtins[b].action) == 0;
		if (!overridden && !(out->rules[out->n_rules++] = rule_msg(c, &builtins[b])))
			return hl_call_fail(c, HL_NOMEM, "out of memory");
	}
	if ((st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}
