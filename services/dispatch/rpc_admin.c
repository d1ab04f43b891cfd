/*
 * rpc_admin.c - the directory and rules of a tenant (tenant_admin):
 * departments, staff, routing rules, SLA policies and the working-time
 * calendar, and the defaults a tenant gets on first use (DESIGN §5.1, §5.7:
 * general complaint replied within 3 working days).  Every change appends an
 * audit entry to the tenant's "directory" chain.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "hl/audit.h"
#include "hl/buf.h"
#include "hl/calendar.h"
#include "hl/crypto.h"
#include "hl/handler.h"
#include "hl/roles.h"
#include "hotline/common/v1/common.pb-c.h"
#include "store.h"

static const char *const admin_roles[] = {HL_ROLE_TENANT_ADMIN, NULL};

/* ---- tenant defaults ------------------------------------------------------------ */

enum { WH = 1, WD = 2, CH = 3 }; /* working hours, working days, clock hours */

static const dispatch_sla default_sla[] = {
	/* category, priority, accept, complete, reply, warning */
	{1, 1, 2, WH, 1, WD, 1, WD, 800},  /* consultation */
	{2, 1, 4, WH, 3, WD, 3, WD, 800},  /* general complaint: reply within 3 working days (R14) */
	{2, 2, 2, WH, 2, WD, 2, WD, 800},  /* urgent complaint */
	{2, 3, 1, CH, 1, WD, 1, WD, 750},  /* major complaint: emergency procedure */
	{3, 1, 4, WH, 10, WD, 15, WD, 800}, /* misconduct report */
	{4, 1, 1, WD, 10, WD, 15, WD, 800}, /* suggestion */
	{5, 1, 2, WH, 2, WD, 2, WD, 800},  /* help */
	{5, 3, 1, CH, 1, WD, 1, WD, 750},  /* major help request */
	{6, 1, 1, WD, 5, WD, 5, WD, 800},  /* praise */
};

/*
 * Tenants whose defaults this process has seen committed: a claim that finds the
 * row already there proves it, and the claim need not be made again (tenants are
 * never removed). A few hundred tenants are remembered, the oldest forgotten first.
 */
static pthread_mutex_t set_up_mu = PTHREAD_MUTEX_INITIALIZER;
static char set_up[256][40];
static unsigned n_set_up;

static bool known_set_up(const char *tenant)
{
	bool found = false;
	pthread_mutex_lock(&set_up_mu);
	for (unsigned i = 0; !found && i < n_set_up && i < 256; i++)
		found = strcmp(set_up[i], tenant) == 0;
	pthread_mutex_unlock(&set_up_mu);
	return found;
}

static void remember_set_up(const char *tenant)
{
	if (strlen(tenant) >= sizeof set_up[0])
		return; /* not remembered: the claim is simply made again */
	pthread_mutex_lock(&set_up_mu);
	snprintf(set_up[n_set_up++ % 256], sizeof set_up[0], "%s", tenant);
	pthread_mutex_unlock(&set_up_mu);
}

hl_status dispatch_tenant_defaults(hl_call *c)
{
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	const char *tenant = hl_call_principal(c)->tenant;
	hl_error err;
	bool first;
	if (known_set_up(tenant))
		return HL_OK;
	if (store_tenant_claim(pg, a, tenant, &first, &err))
		return hl_call_fail_err(c, &err);
	if (!first)
		remember_set_up(tenant);
	for (size_t i = 0; first && i < sizeof default_sla / sizeof default_sla[0]; i++)
		if (store_sla_put(pg, a, tenant, &default_sla[i], &err))
			return hl_call_fail_err(c, &err);
	return HL_OK;
}

/* Append an entry to the tenant's directory chain. */
static hl_status audit_directory(hl_call *c, const char *action, const char *id)
{
	hl_arena *a = hl_call_arena(c);
	hl_buf b = HL_BUF_INIT;
	hl_buf_puts(&b, "{\"id\":");
	hl_buf_json_string(&b, id);
	hl_buf_putc(&b, '}');
	const char *details = hl_buf_failed(&b) ? "{}" : hl_arena_strdup(a, b.data);
	hl_buf_release(&b);
	hl_error err;
	const hl_principal *p = hl_call_principal(c);
	if (hl_audit_append(hl_call_pg(c), a, p->tenant, "directory", "directory", p->actor, action, details, false,
			    &err))
		return hl_call_fail_err(c, &err);
	return HL_OK;
}

/* Begin an admin change: role, transaction, tenant defaults. */
static hl_status begin_admin(hl_call *c)
{
	hl_status st;
	if ((st = hl_call_require_any(c, admin_roles)) || (st = hl_call_begin(c)))
		return st;
	return dispatch_tenant_defaults(c);
}

static hl_status begin_read(hl_call *c)
{
	hl_status st;
	if ((st = hl_call_require_any(c, hl_roles_staff)) || (st = hl_call_begin(c)))
		return st;
	return dispatch_tenant_defaults(c);
}

static hl_status check_slug(hl_call *c, const char *field, const char *v, bool required)
{
	size_t n = strlen(v);
	if (!n)
		return required ? hl_call_fail(c, HL_INVALID, "%s: required", field) : HL_OK;
	bool ok = n <= 64 && ((v[0] >= 'a' && v[0] <= 'z') || (v[0] >= '0' && v[0] <= '9'));
	for (size_t i = 0; ok && i < n; i++)
		ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9') || v[i] == '-' || v[i] == '_';
	return ok ? HL_OK : hl_call_fail(c, HL_INVALID, "%s: lowercase letters, digits, '-' and '_' (max 64)", field);
}

/* A staff id is the JWT sub: printable ASCII without spaces. */
static hl_status check_sub(hl_call *c, const char *field, const char *v, bool required)
{
	size_t n = strlen(v);
	if (!n)
		return required ? hl_call_fail(c, HL_INVALID, "%s: required", field) : HL_OK;
	bool ok = n <= 128;
	for (size_t i = 0; ok && i < n; i++)
		ok = v[i] > 0x20 && v[i] < 0x7f;
	return ok ? HL_OK : hl_call_fail(c, HL_INVALID, "%s: printable ASCII without spaces (max 128)", field);
}

static hl_status check_list(hl_call *c, const char *field, char **v, size_t n, size_t max_n, size_t max_chars)
{
	if (n > max_n)
		return hl_call_fail(c, HL_INVALID, "%s: at most %zu entries", field, max_n);
	for (size_t i = 0; i < n; i++) {
		hl_status st = hl_call_check_text(c, field, v[i], max_chars, true);
		if (st)
			return st;
	}
	return HL_OK;
}

/* ---- departments ------------------------------------------------------------ */

static Hotline__Dispatch__V1__Department *department_msg(hl_call *c, const dispatch_department *d)
{
	Hotline__Dispatch__V1__Department *m = HL_NEW(c, hotline__dispatch__v1__department__descriptor);
	if (m) {
		m->id = (char *)d->id;
		m->name = (char *)d->name;
		m->parent_id = (char *)(d->parent_id ? d->parent_id : "");
		m->head_id = (char *)(d->head_id ? d->head_id : "");
		m->deputy_ids = (char **)d->deputies;
		m->n_deputy_ids = (size_t)d->n_deputies;
		m->active = d->active;
	}
	return m;
}

static hl_status validate_department(hl_call *c, const Hotline__Dispatch__V1__Department *d)
{
	hl_status st;
	if (!d)
		return hl_call_fail(c, HL_INVALID, "department: required");
	if ((st = check_slug(c, "department.id", d->id, true)) ||
	    (st = hl_call_check_text(c, "department.name", d->name, 100, true)) ||
	    (st = check_slug(c, "department.parent_id", d->parent_id, false)) ||
	    (st = check_sub(c, "department.head_id", d->head_id, false)))
		return st;
	if (d->n_deputy_ids > 16)
		return hl_call_fail(c, HL_INVALID, "department.deputy_ids: at most 16");
	for (size_t i = 0; i < d->n_deputy_ids; i++)
		if ((st = check_sub(c, "department.deputy_ids", d->deputy_ids[i], true)))
			return st;
	if (strcmp(d->id, d->parent_id) == 0)
		return hl_call_fail(c, HL_INVALID, "department.parent_id: a department is not its own parent");
	return HL_OK;
}

hl_status dispatch_put_department(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Dispatch__V1__PutDepartmentRequest *r = vreq;
	hl_status st;
	if ((st = validate_department(c, r->department)) || (st = begin_admin(c)))
		return st;
	const Hotline__Dispatch__V1__Department *d = r->department;
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	hl_error err;
	dispatch_department *parent = NULL;
	if (d->parent_id[0] && store_department_get(pg, a, d->parent_id, &parent, &err))
		return hl_call_fail_err(c, &err);
	if (d->parent_id[0] && !parent)
		return hl_call_fail(c, HL_PRECONDITION, "department.parent_id: no such department");
	dispatch_department x = {d->id,	     d->name, d->parent_id[0] ? d->parent_id : NULL, d->head_id,
				 (const char **)d->deputy_ids, (int)d->n_deputy_ids, d->active};
	if (store_department_put(pg, a, hl_call_principal(c)->tenant, &x, &err))
		return hl_call_fail_err(c, &err);
	if ((st = audit_directory(c, "department.put", d->id)) || (st = hl_call_commit(c)))
		return st;
	Hotline__Dispatch__V1__PutDepartmentResponse *out =
		HL_NEW(c, hotline__dispatch__v1__put_department_response__descriptor);
	if (!out || !(out->department = department_msg(c, &x)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	*resp = out;
	return HL_OK;
}

hl_status dispatch_list_departments(hl_call *c, const void *vreq, void **resp)
{
	(void)vreq;
	hl_status st;
	if ((st = begin_read(c)))
		return st;
	dispatch_department **list;
	int n;
	hl_error err;
	if (store_departments(hl_call_pg(c), hl_call_arena(c), &list, &n, &err))
		return hl_call_fail_err(c, &err);
	if ((st = hl_call_commit(c)))
		return st;
	Hotline__Dispatch__V1__ListDepartmentsResponse *out =
		HL_NEW(c, hotline__dispatch__v1__list_departments_response__descriptor);
	if (!out || !(out->departments = hl_arena_alloc(hl_call_arena(c), (size_t)(n ? n : 1) * sizeof(void *))))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (int i = 0; i < n; i++)
		if (!(out->departments[i] = department_msg(c, list[i])))
			return hl_call_fail(c, HL_NOMEM, "out of memory");
	out->n_departments = (size_t)n;
	*resp = out;
	return HL_OK;
}

/* ---- staff ------------------------------------------------------------ */

static Hotline__Dispatch__V1__Staff *staff_msg(hl_call *c, const dispatch_staff *s)
{
	Hotline__Dispatch__V1__Staff *m = HL_NEW(c, hotline__dispatch__v1__staff__descriptor);
	if (m) {
		m->id = (char *)s->id;
		m->name = (char *)s->name;
		m->department_id = (char *)s->department_id;
		m->skills = (char **)s->skills;
		m->n_skills = (size_t)s->n_skills;
		m->active = s->active;
		m->supervisor = s->supervisor;
		m->open_cases = s->open_load;
	}
	return m;
}

hl_status dispatch_put_staff(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Dispatch__V1__PutStaffRequest *r = vreq;
	const Hotline__Dispatch__V1__Staff *s = r->staff;
	hl_status st;
	if (!s)
		return hl_call_fail(c, HL_INVALID, "staff: required");
	if ((st = check_sub(c, "staff.id", s->id, true)) || (st = hl_call_check_text(c, "staff.name", s->name, 100, true)) ||
	    (st = check_slug(c, "staff.department_id", s->department_id, true)) ||
	    (st = check_list(c, "staff.skills", s->skills, s->n_skills, 32, 64)) || (st = begin_admin(c)))
		return st;
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	hl_error err;
	dispatch_department *dept;
	dispatch_staff *old;
	if (store_department_get(pg, a, s->department_id, &dept, &err) || store_staff_get(pg, a, s->id, &old, &err))
		return hl_call_fail_err(c, &err);
	if (!dept)
		return hl_call_fail(c, HL_PRECONDITION, "staff.department_id: no such department");
	dispatch_staff x = {s->id,	 s->name,   s->department_id, (const char **)s->skills, (int)s->n_skills,
			    s->active, s->supervisor, old ? old->open_load : 0};
	if (store_staff_put(pg, a, hl_call_principal(c)->tenant, &x, &err))
		return hl_call_fail_err(c, &err);
	if ((st = audit_directory(c, "staff.put", s->id)) || (st = hl_call_commit(c)))
		return st;
	Hotline__Dispatch__V1__PutStaffResponse *out = HL_NEW(c, hotline__dispatch__v1__put_staff_response__descriptor);
	if (!out || !(out->staff = staff_msg(c, &x)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	*resp = out;
	return HL_OK;
}

hl_status dispatch_list_staff(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Dispatch__V1__ListStaffRequest *r = vreq;
	hl_status st;
	if ((st = check_slug(c, "department_id", r->department_id, false)) || (st = begin_read(c)))
		return st;
	dispatch_staff **list;
	int n;
	hl_error err;
	if (store_staff_list(hl_call_pg(c), hl_call_arena(c), r->department_id[0] ? r->department_id : NULL, &list, &n,
			     &err))
		return hl_call_fail_err(c, &err);
	if ((st = hl_call_commit(c)))
		return st;
	Hotline__Dispatch__V1__ListStaffResponse *out = HL_NEW(c, hotline__dispatch__v1__list_staff_response__descriptor);
	if (!out || !(out->staff = hl_arena_alloc(hl_call_arena(c), (size_t)(n ? n : 1) * sizeof(void *))))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (int i = 0; i < n; i++)
		if (!(out->staff[i] = staff_msg(c, list[i])))
			return hl_call_fail(c, HL_NOMEM, "out of memory");
	out->n_staff = (size_t)n;
	*resp = out;
	return HL_OK;
}

/* ---- routing rules ------------------------------------------------------------ */

static Hotline__Dispatch__V1__RoutingRule *rule_msg(hl_call *c, const dispatch_rule *x)
{
	Hotline__Dispatch__V1__RoutingRule *m = HL_NEW(c, hotline__dispatch__v1__routing_rule__descriptor);
	if (!m)
		return NULL;
	m->id = (char *)x->id;
	m->name = (char *)x->name;
	m->position = x->position;
	m->categories = (Hotline__Common__V1__Category *)x->categories;
	m->n_categories = (size_t)x->n_categories;
	m->channels = (Hotline__Common__V1__Channel *)x->channels;
	m->n_channels = (size_t)x->n_channels;
	m->topic_keywords = (char **)x->topic_kw;
	m->n_topic_keywords = (size_t)x->n_topic_kw;
	m->description_keywords = (char **)x->desc_kw;
	m->n_description_keywords = (size_t)x->n_desc_kw;
	m->areas = (char **)x->areas;
	m->n_areas = (size_t)x->n_areas;
	m->target_department_id = (char *)x->target;
	m->required_skill = (char *)(x->skill ? x->skill : "");
	m->active = x->active;
	return m;
}

static hl_status validate_enums(hl_call *c, const char *field, const int *v, size_t n,
				const ProtobufCEnumDescriptor *d)
{
	if (n > 16)
		return hl_call_fail(c, HL_INVALID, "%s: at most 16 values", field);
	for (size_t i = 0; i < n; i++)
		if (!v[i] || !protobuf_c_enum_descriptor_get_value(d, v[i]))
			return hl_call_fail(c, HL_INVALID, "%s: unknown value %d", field, v[i]);
	return HL_OK;
}

static hl_status validate_rule(hl_call *c, const Hotline__Dispatch__V1__RoutingRule *x)
{
	hl_status st;
	if (!x)
		return hl_call_fail(c, HL_INVALID, "rule: required");
	if (x->id[0] && !hl_uuid_valid(x->id))
		return hl_call_fail(c, HL_INVALID, "rule.id: not a UUID (leave empty for a new rule)");
	if ((st = hl_call_check_text(c, "rule.name", x->name, 100, true)) ||
	    (st = validate_enums(c, "rule.categories", (const int *)x->categories, x->n_categories,
				 &hotline__common__v1__category__descriptor)) ||
	    (st = validate_enums(c, "rule.channels", (const int *)x->channels, x->n_channels,
				 &hotline__common__v1__channel__descriptor)) ||
	    (st = check_list(c, "rule.topic_keywords", x->topic_keywords, x->n_topic_keywords, 32, 50)) ||
	    (st = check_list(c, "rule.description_keywords", x->description_keywords, x->n_description_keywords, 32,
			     50)) ||
	    (st = check_list(c, "rule.areas", x->areas, x->n_areas, 32, 100)) ||
	    (st = check_slug(c, "rule.target_department_id", x->target_department_id, true)) ||
	    (st = hl_call_check_text(c, "rule.required_skill", x->required_skill, 64, false)))
		return st;
	if (x->position < 0 || x->position > 1000000)
		return hl_call_fail(c, HL_INVALID, "rule.position: 0 to 1000000");
	return HL_OK;
}

hl_status dispatch_put_rule(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Dispatch__V1__PutRoutingRuleRequest *r = vreq;
	const Hotline__Dispatch__V1__RoutingRule *x = r->rule;
	hl_status st;
	if ((st = validate_rule(c, x)) || (st = begin_admin(c)))
		return st;
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	hl_error err;
	dispatch_department *dept;
	if (store_department_get(pg, a, x->target_department_id, &dept, &err))
		return hl_call_fail_err(c, &err);
	if (!dept)
		return hl_call_fail(c, HL_PRECONDITION, "rule.target_department_id: no such department");
	char *id = hl_arena_alloc(a, HL_UUID_STR_LEN);
	if (!id || (!x->id[0] && hl_uuid_v7(id)))
		return hl_call_fail(c, HL_INTERNAL, "cannot make an id");
	if (x->id[0])
		memcpy(id, x->id, HL_UUID_STR_LEN);
	dispatch_rule rule = {
		.id = id, .name = x->name, .target = x->target_department_id, .skill = x->required_skill,
		.position = x->position, .categories = (int *)x->categories, .channels = (int *)x->channels,
		.n_categories = (int)x->n_categories, .n_channels = (int)x->n_channels,
		.topic_kw = (const char **)x->topic_keywords, .desc_kw = (const char **)x->description_keywords,
		.areas = (const char **)x->areas, .n_topic_kw = (int)x->n_topic_keywords,
		.n_desc_kw = (int)x->n_description_keywords, .n_areas = (int)x->n_areas, .active = x->active,
	};
	if (store_rule_put(pg, a, hl_call_principal(c)->tenant, &rule, &err))
		return hl_call_fail_err(c, &err);
	if ((st = audit_directory(c, "rule.put", id)) || (st = hl_call_commit(c)))
		return st;
	Hotline__Dispatch__V1__PutRoutingRuleResponse *out =
		HL_NEW(c, hotline__dispatch__v1__put_routing_rule_response__descriptor);
	if (!out || !(out->rule = rule_msg(c, &rule)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	*resp = out;
	return HL_OK;
}

hl_status dispatch_list_rules(hl_call *c, const void *vreq, void **resp)
{
	(void)vreq;
	hl_status st;
	if ((st = begin_read(c)))
		return st;
	dispatch_rule **list;
	int n;
	hl_error err;
	if (store_rules(hl_call_pg(c), hl_call_arena(c), false, &list, &n, &err))
		return hl_call_fail_err(c, &err);
	if ((st = hl_call_commit(c)))
		return st;
	Hotline__Dispatch__V1__ListRoutingRulesResponse *out =
		HL_NEW(c, hotline__dispatch__v1__list_routing_rules_response__descriptor);
	if (!out || !(out->rules = hl_arena_alloc(hl_call_arena(c), (size_t)(n ? n : 1) * sizeof(void *))))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (int i = 0; i < n; i++)
		if (!(out->rules[i] = rule_msg(c, list[i])))
			return hl_call_fail(c, HL_NOMEM, "out of memory");
	out->n_rules = (size_t)n;
	*resp = out;
	return HL_OK;
}

/* ---- SLA policies ------------------------------------------------------------ */

static hl_status check_duration(hl_call *c, const char *field, const Hotline__Dispatch__V1__WorkingDuration *d,
				int *amount, int *unit)
{
	if (!d || d->amount <= 0 || d->amount > 1000)
		return hl_call_fail(c, HL_INVALID, "%s: amount 1 to 1000 required", field);
	if (d->unit < 1 || d->unit > 4)
		return hl_call_fail(c, HL_INVALID,
				    "%s: unit required (working_hours, working_days, clock_hours, working_minutes)", field);
	*amount = d->amount;
	*unit = d->unit;
	return HL_OK;
}

static Hotline__Dispatch__V1__WorkingDuration *duration_msg(hl_call *c, int amount, int unit)
{
	Hotline__Dispatch__V1__WorkingDuration *d = HL_NEW(c, hotline__dispatch__v1__working_duration__descriptor);
	if (d) {
		d->amount = amount;
		d->unit = unit;
	}
	return d;
}

static Hotline__Dispatch__V1__SlaPolicy *sla_msg(hl_call *c, const dispatch_sla *s)
{
	Hotline__Dispatch__V1__SlaPolicy *m = HL_NEW(c, hotline__dispatch__v1__sla_policy__descriptor);
	if (!m || !(m->accept_within = duration_msg(c, s->accept_amount, s->accept_unit)) ||
	    !(m->complete_within = duration_msg(c, s->complete_amount, s->complete_unit)) ||
	    !(m->reply_within = duration_msg(c, s->reply_amount, s->reply_unit)))
		return NULL;
	m->category = s->category;
	m->priority = s->priority;
	m->warning_permille = s->warning_permille;
	return m;
}

static hl_status check_class(hl_call *c, int category, int priority)
{
	if (!category || !protobuf_c_enum_descriptor_get_value(&hotline__common__v1__category__descriptor, category))
		return hl_call_fail(c, HL_INVALID, "category: required, one of the Category values");
	if (!priority || !protobuf_c_enum_descriptor_get_value(&hotline__common__v1__priority__descriptor, priority))
		return hl_call_fail(c, HL_INVALID, "priority: required, one of the Priority values");
	return HL_OK;
}

hl_status dispatch_put_sla(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Dispatch__V1__PutSlaPolicyRequest *r = vreq;
	const Hotline__Dispatch__V1__SlaPolicy *p = r->policy;
	dispatch_sla s = {0};
	hl_status st;
	if (!p)
		return hl_call_fail(c, HL_INVALID, "policy: required");
	if ((st = check_class(c, p->category, p->priority)) ||
	    (st = check_duration(c, "policy.accept_within", p->accept_within, &s.accept_amount, &s.accept_unit)) ||
	    (st = check_duration(c, "policy.complete_within", p->complete_within, &s.complete_amount,
				 &s.complete_unit)) ||
	    (st = check_duration(c, "policy.reply_within", p->reply_within, &s.reply_amount, &s.reply_unit)))
		return st;
	if (p->warning_permille < 1 || p->warning_permille > 999)
		return hl_call_fail(c, HL_INVALID, "policy.warning_permille: 1 to 999 (e.g. 800 for 80%%)");
	s.category = p->category;
	s.priority = p->priority;
	s.warning_permille = p->warning_permille;
	if ((st = begin_admin(c)))
		return st;
	hl_error err;
	if (store_sla_put(hl_call_pg(c), hl_call_arena(c), hl_call_principal(c)->tenant, &s, &err))
		return hl_call_fail_err(c, &err);
	if ((st = audit_directory(c, "sla.put", hl_arena_printf(hl_call_arena(c), "%d/%d", s.category, s.priority))) ||
	    (st = hl_call_commit(c)))
		return st;
	Hotline__Dispatch__V1__PutSlaPolicyResponse *out =
		HL_NEW(c, hotline__dispatch__v1__put_sla_policy_response__descriptor);
	if (!out || !(out->policy = sla_msg(c, &s)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	*resp = out;
	return HL_OK;
}

hl_status dispatch_get_sla(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Dispatch__V1__GetSlaPolicyRequest *r = vreq;
	hl_status st;
	if ((st = check_class(c, r->category, r->priority)) || (st = begin_read(c)))
		return st;
	dispatch_sla *s;
	hl_error err;
	if (store_sla_get(hl_call_pg(c), hl_call_arena(c), r->category, r->priority, &s, &err))
		return hl_call_fail_err(c, &err);
	if (!s)
		return hl_call_fail(c, HL_NOT_FOUND, "no SLA policy applies");
	if ((st = hl_call_commit(c)))
		return st;
	Hotline__Dispatch__V1__GetSlaPolicyResponse *out =
		HL_NEW(c, hotline__dispatch__v1__get_sla_policy_response__descriptor);
	if (!out || !(out->policy = sla_msg(c, s)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	*resp = out;
	return HL_OK;
}

/* ---- calendar ------------------------------------------------------------ */

hl_status dispatch_put_calendar(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Dispatch__V1__PutCalendarRequest *r = vreq;
	hl_status st;
	if (!r->calendar)
		return hl_call_fail(c, HL_INVALID, "calendar: required");
	hl_calendar *cal;
	hl_error err;
	/* the same conversion deadlines use: what is stored always builds */
	if (dispatch_calendar_build(r->calendar, &cal, &err))
		return hl_call_fail(c, err.status == HL_NOMEM ? HL_NOMEM : HL_INVALID, "calendar: %s", err.msg);
	hl_calendar_free(cal);
	if ((st = begin_admin(c)))
		return st;
	hl_arena *a = hl_call_arena(c);
	size_t n = protobuf_c_message_get_packed_size(&r->calendar->base);
	uint8_t *spec = hl_arena_alloc(a, n ? n : 1);
	if (!spec)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	protobuf_c_message_pack(&r->calendar->base, spec);
	if (store_calendar_put(hl_call_pg(c), a, hl_call_principal(c)->tenant, spec, n, &err))
		return hl_call_fail_err(c, &err);
	if ((st = audit_directory(c, "calendar.put", r->calendar->time_zone)) || (st = hl_call_commit(c)))
		return st;
	Hotline__Dispatch__V1__PutCalendarResponse *out =
		HL_NEW(c, hotline__dispatch__v1__put_calendar_response__descriptor);
	if (!out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	out->calendar = r->calendar;
	*resp = out;
	return HL_OK;
}

hl_status dispatch_get_calendar(hl_call *c, const void *vreq, void **resp)
{
	(void)vreq;
	hl_status st;
	if ((st = begin_read(c)))
		return st;
	Hotline__Dispatch__V1__Calendar *cal;
	hl_error err;
	if (dispatch_calendar_msg(hl_call_pg(c), hl_call_arena(c), &cal, &err))
		return hl_call_fail_err(c, &err);
	if ((st = hl_call_commit(c)))
		return st;
	Hotline__Dispatch__V1__GetCalendarResponse *out =
		HL_NEW(c, hotline__dispatch__v1__get_calendar_response__descriptor);
	if (!out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	out->calendar = cal;
	*resp = out;
	return HL_OK;
}
