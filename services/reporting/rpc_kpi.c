/*
 * rpc_kpi.c - KPIs (考核, R25) by period x department x person, for one
 * tenant or consolidated over several for a group HQ, and the public
 * disclosure (公开, R26).  Every figure is a numerator over a denominator
 * counted by the store; their definitions are in docs/reporting.md.
 *
 * Group view: an HQ principal is a token whose `tenants` claim lists the
 * subsidiaries it may act in (DESIGN §5.1).  GetKpis with `tenants` reads
 * each of them in a transaction of its own (row-level security stays per
 * tenant) and adds a consolidated row "*" per group key: numerators and
 * denominators are summed, never rates averaged.
 */
#include "reporting.h"

#include <stddef.h>
#include <string.h>

#include "hl/handler.h"
#include "hl/roles.h"
#include "store.h"

static const char *const kpi_roles[] = {HL_ROLE_ANALYST, HL_ROLE_SUPERVISOR, HL_ROLE_AUDITOR, HL_ROLE_TENANT_ADMIN,
					HL_ROLE_DEPT_HEAD, NULL};

enum { N_KPIS = 9 };
static const char *const kpi_names[N_KPIS] = {
	"acceptance_timeliness", /* 受理及时率 */
	"transfer_accuracy",     /* 转办准确率 */
	"on_time_completion",    /* 按时办结率 */
	"satisfaction",          /* 满意率 */
	"reopen_rate",           /* 重办率 */
	"visit_coverage",        /* 回访覆盖率 */
	"problem_discovery",     /* 问题发现率 */
	"rectification",         /* 整改完成率 */
	"risk_reporting_on_time" /* 风险事件按时上报率 */
};

static void kpi_pairs(const store_kpi_counts *k, int64_t num[N_KPIS], int64_t den[N_KPIS])
{
	const int64_t n[N_KPIS] = {k->accept_num, k->routed_num, k->done_num, k->rated_num, k->reopen_num,
				   k->visit_done, k->visit_problem, k->warn_num, k->risk_num};
	const int64_t d[N_KPIS] = {k->accept_den, k->routed_den, k->done_den, k->rated_den, k->reopen_den,
				   k->visit_due, k->visit_recorded, k->warn_den, k->risk_den};
	memcpy(num, n, sizeof n);
	memcpy(den, d, sizeof d);
}

static Hotline__Reporting__V1__KpiRow *kpi_row(hl_call *c, const char *tenant, const store_kpi_counts *k)
{
	Hotline__Reporting__V1__KpiRow *row = HL_NEW(c, hotline__reporting__v1__kpi_row__descriptor);
	if (!row || !(row->kpis = hl_arena_alloc(hl_call_arena(c), N_KPIS * sizeof *row->kpis)))
		return NULL;
	row->tenant = (char *)tenant;
	row->department_id = (char *)k->department_id;
	row->person_id = (char *)k->person_id;
	int64_t num[N_KPIS], den[N_KPIS];
	kpi_pairs(k, num, den);
	for (int i = 0; i < N_KPIS; i++) {
		Hotline__Reporting__V1__Kpi *m = HL_NEW(c, hotline__reporting__v1__kpi__descriptor);
		if (!m)
			return NULL;
		m->name = (char *)kpi_names[i];
		m->numerator = num[i];
		m->denominator = den[i];
		m->rate = den[i] ? (double)num[i] / (double)den[i] : 0.0;
		row->kpis[row->n_kpis++] = m;
	}
	return row;
}

/* consolidate() adds the counts as one array: they must stay 18 consecutive int64_t. */
_Static_assert(offsetof(store_kpi_counts, risk_num) - offsetof(store_kpi_counts, accept_den) ==
		       17 * sizeof(int64_t),
	       "store_kpi_counts: the counts are not one run of int64_t");

/* Add k into the consolidated list (same department and person). */
static hl_status consolidate(hl_call *c, store_kpi_counts ***sum, int *n, int *cap, const store_kpi_counts *k)
{
	for (int i = 0; i < *n; i++) {
		store_kpi_counts *s = (*sum)[i];
		if (strcmp(s->department_id, k->department_id) || strcmp(s->person_id, k->person_id))
			continue;
		int64_t *dst = &s->accept_den;
		const int64_t *src = &k->accept_den;
		for (int j = 0; j < 18; j++)
			dst[j] += src[j];
		return HL_OK;
	}
	if (*n == *cap) {
		int nc = *cap ? *cap * 2 : 16;
		store_kpi_counts **grown = hl_arena_alloc(hl_call_arena(c), (size_t)nc * sizeof *grown);
		if (!grown)
			return hl_call_fail(c, HL_NOMEM, "out of memory");
		if (*n)
			memcpy(grown, *sum, (size_t)*n * sizeof *grown);
		*sum = grown;
		*cap = nc;
	}
	store_kpi_counts *copy = hl_arena_memdup(hl_call_arena(c), k, sizeof *k);
	if (!copy)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	(*sum)[(*n)++] = copy;
	return HL_OK;
}

/* One tenant's counts for the request, in a transaction of its own acting for that tenant. */
static hl_status tenant_counts(hl_call *c, const char *tenant, const Hotline__Reporting__V1__GetKpisRequest *r,
			       const char *dept, store_kpi_counts ***rows, int *n)
{
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	const char *zone;
	int cutoff;
	int64_t start_us, end_us;
	hl_error err;
	if (hl_pg_begin(pg, tenant, hl_call_remaining_ms(c), &err) || store_settings_get(pg, a, &zone, &cutoff, &err) ||
	    store_dates_range(pg, a, zone, r->from_date, r->to_date, &start_us, &end_us, &err) ||
	    store_kpis(pg, a, start_us, end_us, r->group_by, dept, rows, n, &err))
		return hl_call_fail_err(c, &err);
	hl_pg_rollback(pg);
	return HL_OK;
}

static hl_status check_period(hl_call *c, const char *from, const char *to)
{
	hl_status st;
	if ((st = reporting_check_date(c, "from_date", from, true)) || (st = reporting_check_date(c, "to_date", to, true)))
		return st;
	if (strcmp(from, to) > 0)
		return hl_call_fail(c, HL_INVALID, "to_date: before from_date");
	return HL_OK;
}

/* The tenants of the request: the acting tenant, or the listed ones (each allowed, no repeats). */
static hl_status kpi_tenants(hl_call *c, const Hotline__Reporting__V1__GetKpisRequest *r, const char ***out, int *n)
{
	const hl_principal *p = hl_call_principal(c);
	const char **list = hl_arena_alloc(hl_call_arena(c), (r->n_tenants + 1) * sizeof *list);
	if (!list)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	*n = 0;
	if (r->n_tenants > REPORTING_MAX_GROUP)
		return hl_call_fail(c, HL_INVALID, "tenants: at most %d", REPORTING_MAX_GROUP);
	for (size_t i = 0; i < r->n_tenants; i++) {
		const char *t = r->tenants[i];
		if (!hl_tenant_slug_valid(t))
			return hl_call_fail(c, HL_INVALID, "tenants[%zu]: not a tenant slug", i);
		if (!hl_claims_may_act_in(p->claims, t))
			return hl_call_fail(c, HL_DENIED, "tenants[%zu]: not allowed to act in tenant %s", i, t);
		for (int j = 0; j < *n; j++)
			if (strcmp(list[j], t) == 0)
				return hl_call_fail(c, HL_INVALID, "tenants[%zu]: listed twice", i);
		list[(*n)++] = t;
	}
	if (*n == 0)
		list[(*n)++] = p->tenant;
	*out = list;
	return HL_OK;
}

/* A dept_head without a tenant-wide role reads only the department of the token's dept claim. */
static hl_status kpi_scope(hl_call *c, const char *asked, const char **dept)
{
	static const char *const wide[] = {HL_ROLE_ANALYST, HL_ROLE_SUPERVISOR, HL_ROLE_AUDITOR, HL_ROLE_TENANT_ADMIN,
					   NULL};
	*dept = asked[0] ? asked : NULL;
	if (hl_call_has_any(c, wide))
		return HL_OK;
	const hl_claims *cl = hl_call_principal(c)->claims;
	if (!cl->dept || !cl->dept[0])
		return hl_call_fail(c, HL_DENIED, "a department head needs the dept claim");
	if (asked[0] && strcmp(asked, cl->dept) != 0)
		return hl_call_fail(c, HL_DENIED, "department_id: a department head sees only their department");
	*dept = cl->dept;
	return HL_OK;
}

hl_status reporting_get_kpis(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Reporting__V1__GetKpisRequest *r = vreq;
	hl_status st;
	const char **tenants = NULL, *dept = NULL;
	int nt = 0;
	if ((st = hl_call_require_any(c, kpi_roles)) || (st = check_period(c, r->from_date, r->to_date)) ||
	    (st = hl_call_check_text(c, "department_id", r->department_id, 64, false)) ||
	    (st = kpi_scope(c, r->department_id, &dept)) || (st = kpi_tenants(c, r, &tenants, &nt)))
		return st;
	if (!protobuf_c_enum_descriptor_get_value(&hotline__reporting__v1__kpi_group__descriptor, r->group_by))
		return hl_call_fail(c, HL_INVALID, "group_by: not a KpiGroup");
	Hotline__Reporting__V1__GetKpisResponse *out = HL_NEW(c, hotline__reporting__v1__get_kpis_response__descriptor);
	if (!out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	store_kpi_counts **sum = NULL;
	int nsum = 0, capsum = 0;
	size_t cap = 0;
	for (int t = 0; t < nt; t++) {
		store_kpi_counts **rows;
		int n;
		if ((st = tenant_counts(c, tenants[t], r, dept, &rows, &n)))
			return st;
		Hotline__Reporting__V1__KpiRow **grown =
			hl_arena_alloc(hl_call_arena(c), (cap + (size_t)n + 1) * sizeof *grown);
		if (!grown)
			return hl_call_fail(c, HL_NOMEM, "out of memory");
		if (out->n_rows)
			memcpy(grown, out->rows, out->n_rows * sizeof *grown);
		out->rows = grown;
		cap += (size_t)n + 1;
		for (int i = 0; i < n; i++) {
			if (!(out->rows[out->n_rows++] = kpi_row(c, tenants[t], rows[i])))
				return hl_call_fail(c, HL_NOMEM, "out of memory");
			if (r->n_tenants > 0 && (st = consolidate(c, &sum, &nsum, &capsum, rows[i])))
				return st;
		}
	}
	if (r->n_tenants > 0) {
		Hotline__Reporting__V1__KpiRow **grown =
			hl_arena_alloc(hl_call_arena(c), (out->n_rows + (size_t)nsum + 1) * sizeof *grown);
		if (!grown)
			return hl_call_fail(c, HL_NOMEM, "out of memory");
		if (out->n_rows)
			memcpy(grown, out->rows, out->n_rows * sizeof *grown);
		out->rows = grown;
		for (int i = 0; i < nsum; i++)
			if (!(out->rows[out->n_rows++] = kpi_row(c, "*", sum[i])))
				return hl_call_fail(c, HL_NOMEM, "out of memory");
	}
	*resp = out;
	return HL_OK;
}

/* ---- public disclosure ---------------------------------------------------------------------- */

hl_status reporting_get_disclosure(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Reporting__V1__GetPublicDisclosureRequest *r = vreq;
	hl_status st;
	const char *zone;
	int cutoff;
	int64_t start_us, end_us;
	store_disclosure **rows;
	int n;
	hl_error err;
	if ((st = check_period(c, r->from_date, r->to_date)) || (st = hl_call_begin(c)) ||
	    (st = reporting_settings(c, &zone, &cutoff)))
		return st;
	if (store_dates_range(hl_call_pg(c), hl_call_arena(c), zone, r->from_date, r->to_date, &start_us, &end_us, &err) ||
	    store_disclosure_rows(hl_call_pg(c), hl_call_arena(c), start_us, end_us, &rows, &n, &err))
		return hl_call_fail_err(c, &err);
	hl_pg_rollback(hl_call_pg(c));
	const ProtobufCEnumDescriptor *cats = &hotline__common__v1__category__descriptor;
	Hotline__Reporting__V1__GetPublicDisclosureResponse *out =
		HL_NEW(c, hotline__reporting__v1__get_public_disclosure_response__descriptor);
	if (!out || !(out->rows = hl_arena_alloc(hl_call_arena(c), cats->n_values * sizeof *out->rows)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	out->from_date = (char *)r->from_date;
	out->to_date = (char *)r->to_date;
	/* every category is listed, so that a missing row does not tell "none" from "suppressed" */
	for (unsigned v = 0; v < cats->n_values; v++) {
		int cat = cats->values[v].value;
		if (cat == 0)
			continue;
		Hotline__Reporting__V1__DisclosureRow *row = HL_NEW(c, hotline__reporting__v1__disclosure_row__descriptor);
		if (!row)
			return hl_call_fail(c, HL_NOMEM, "out of memory");
		row->category = cat;
		const store_disclosure *d = NULL;
		for (int i = 0; i < n; i++)
			if (rows[i]->category == cat)
				d = rows[i];
		row->suppressed = !d || d->received < REPORTING_SUPPRESS_BELOW;
		if (!row->suppressed) {
			row->received = d->received;
			row->handled = d->handled;
			row->on_time_rate = d->handled ? (double)d->on_time / (double)d->handled : 0.0;
			row->satisfaction_rate = d->rated ? (double)d->satisfied / (double)d->rated : 0.0;
			out->received_total += d->received;
		}
		out->rows[out->n_rows++] = row;
	}
	*resp = out;
	return HL_OK;
}
