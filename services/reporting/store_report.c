/*
 * store_report.c - reporting's SQL for reading the projections: ledger
 * pages, the figures and snapshots of the daily report, KPI counts and the
 * public disclosure (see store.h; definitions in docs/reporting.md).
 */
#include "store.h"

#include <string.h>

/* ---- ledger ------------------------------------------------------------------------------ */

#define TICKET_COLS                                                                                                  \
	"ticket_id, ticket_no, channel, category, priority, topic, area, registered_by, department_id, handler_id, "  \
	"transfers, returns, status, status_version, reopens, satisfaction, events, on_spot, on_time, visited, "      \
	HL_PG_US("received_at") ", " HL_PG_US("assigned_at") ", " HL_PG_US("accepted_at") ", " HL_PG_US("accept_due") \
	", " HL_PG_US("complete_due") ", " HL_PG_US("completed_at") ", " HL_PG_US("overdue_at") ", "                 \
	HL_PG_US("closed_at") ", " HL_PG_US("rated_at")

static const char SQL_LEDGER[] =
	"SELECT " TICKET_COLS " FROM ticket_facts WHERE received_at IS NOT NULL "
	"AND ($1::bigint = 0 OR received_at >= " HL_PG_TS("$1") ") AND ($2::bigint = 0 OR received_at < " HL_PG_TS("$2")
	") AND ($3::text IS NULL OR department_id = $3) AND ($4::int = 0 OR category = $4::int) "
	"AND ($5::int = 0 OR channel = $5::int) AND ($6::int = 0 OR status = $6::int) "
	"AND (NOT $7::bool OR overdue_at IS NOT NULL OR (completed_at IS NOT NULL AND NOT on_time) "
	"OR (completed_at IS NULL AND complete_due < now())) AND ($8::text IS NULL OR ticket_no = $8) "
	"AND ($9::bigint = 0 OR (received_at, ticket_id) > (" HL_PG_TS("$9") ", $10)) "
	"ORDER BY received_at, ticket_id LIMIT $11::int";

static hl_status read_ticket(const PGresult *res, int r, hl_arena *a, void *out, hl_error *err)
{
	(void)a;
	(void)err;
	reporting_ticket *t = out;
	int c = 0;
	t->ticket_id = hl_pg_get_text(res, r, c++);
	t->ticket_no = hl_pg_get_text(res, r, c++);
	t->channel = (int)hl_pg_get_int(res, r, c++);
	t->category = (int)hl_pg_get_int(res, r, c++);
	t->priority = (int)hl_pg_get_int(res, r, c++);
	t->topic = hl_pg_get_text(res, r, c++);
	t->area = hl_pg_get_text(res, r, c++);
	t->registered_by = hl_pg_get_text(res, r, c++);
	t->department_id = hl_pg_get_text(res, r, c++);
	t->handler_id = hl_pg_get_text(res, r, c++);
	t->transfers = (int)hl_pg_get_int(res, r, c++);
	t->returns = (int)hl_pg_get_int(res, r, c++);
	t->status = (int)hl_pg_get_int(res, r, c++);
	t->status_version = hl_pg_get_int(res, r, c++);
	t->reopens = (int)hl_pg_get_int(res, r, c++);
	t->satisfaction = (int)hl_pg_get_int(res, r, c++);
	t->events = (int)hl_pg_get_int(res, r, c++);
	t->on_spot = hl_pg_get_bool(res, r, c++);
	t->on_time = hl_pg_get_bool(res, r, c++);
	t->visited = hl_pg_get_bool(res, r, c++);
	t->received_us = hl_pg_get_int(res, r, c++);
	t->assigned_us = hl_pg_get_int(res, r, c++);
	t->accepted_us = hl_pg_get_int(res, r, c++);
	t->accept_due_us = hl_pg_get_int(res, r, c++);
	t->complete_due_us = hl_pg_get_int(res, r, c++);
	t->completed_us = hl_pg_get_int(res, r, c++);
	t->overdue_us = hl_pg_get_int(res, r, c++);
	t->closed_us = hl_pg_get_int(res, r, c++);
	t->rated_us = hl_pg_get_int(res, r, c++);
	return HL_OK;
}

hl_status store_ledger(hl_pg *pg, hl_arena *a, const store_ledger_filter *f, reporting_ticket ***out, int *n,
		       hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_int(&args, a, f->from_us);
	hl_pg_arg_int(&args, a, f->to_us);
	hl_pg_arg_text(&args, f->department_id);
	hl_pg_arg_int(&args, a, f->category);
	hl_pg_arg_int(&args, a, f->channel);
	hl_pg_arg_int(&args, a, f->status);
	hl_pg_arg_bool(&args, f->overdue_only);
	hl_pg_arg_text(&args, f->ticket_no);
	hl_pg_arg_int(&args, a, f->after_us);
	hl_pg_arg_text(&args, f->after_id ? f->after_id : "");
	hl_pg_arg_int(&args, a, f->limit);
	return hl_pg_fetch(pg, a, SQL_LEDGER, &args, sizeof(reporting_ticket), read_ticket, (void ***)out, n, err);
}

/* ---- daily report figures ------------------------------------------------------------------ */

#define IN_WIN(col) "(" col " >= " HL_PG_TS("$1") " AND " col " < " HL_PG_TS("$2") ")"

/* the window's counts besides registrations, each an index-only count of a range (migration 001) */
static const char SQL_FIG_TICKETS[] =
	"SELECT d.n, d.on_time, (SELECT count(*) FROM ticket_facts WHERE " IN_WIN("closed_at") "), "
	"(SELECT count(*) FROM ticket_facts WHERE " IN_WIN("overdue_at") "), r.n, r.satisfied FROM "
	"(SELECT count(*) AS n, count(*) FILTER (WHERE on_time) AS on_time FROM ticket_facts WHERE "
	IN_WIN("completed_at") ") d, (SELECT count(*) AS n, count(*) FILTER (WHERE satisfaction BETWEEN 1 AND 3) "
	"AS satisfied FROM ticket_facts WHERE " IN_WIN("rated_at") ") r";
static const char SQL_FIG_OTHER[] =
	"SELECT (SELECT count(*) FROM events WHERE " IN_WIN("occurred_at") "), "
	"(SELECT count(*) FROM events WHERE " IN_WIN("occurred_at") " AND type = 'case.reopened'), "
	"(SELECT count(*) FROM subject_facts WHERE kind = 'risk_event' AND " IN_WIN("opened_at") "), "
	"(SELECT count(*) FROM subject_facts WHERE kind = 'risk_event' AND " IN_WIN("opened_at") " AND on_time)";
/*
 * One scan of the window's registrations for the breakdowns: 0 channel, 1 category, 2 department,
 * 3 topic, 4 on the spot or not (whose sum is the number received).
 */
static const char SQL_FIG_GROUPS[] =
	"SELECT g, k, n FROM (SELECT g, k, n, row_number() OVER (PARTITION BY g ORDER BY n DESC, k) AS rank FROM ("
	"SELECT CASE WHEN GROUPING(channel) = 0 THEN 0 WHEN GROUPING(category) = 0 THEN 1 "
	"WHEN GROUPING(department_id) = 0 THEN 2 WHEN GROUPING(topic) = 0 THEN 3 ELSE 4 END AS g, "
	"COALESCE(channel::text, category::text, department_id, topic, on_spot::text) AS k, count(*) AS n "
	"FROM ticket_facts WHERE " IN_WIN("received_at") " GROUP BY GROUPING SETS ((channel), (category), "
	"(department_id), (topic), (on_spot))) x) y WHERE g <> 3 OR rank <= $3::int ORDER BY g, n DESC, k";
static const char SQL_FIG_CORRECTIONS[] =
	"SELECT event_id::text, type, ticket_id, " HL_PG_US("occurred_at") ", "
	"((((occurred_at AT TIME ZONE $3) - $4::int * interval '1 minute'))::date + 1)::text "
	"FROM events WHERE $2::bigint > 0 AND recorded_at > " HL_PG_TS("$2") " AND occurred_at < " HL_PG_TS("$1")
	" ORDER BY recorded_at, event_id LIMIT $5::int";
static const char SQL_FIG_CORRECTIONS_COUNT[] =
	"SELECT count(*) FROM events WHERE $2::bigint > 0 AND recorded_at > " HL_PG_TS("$2") " AND occurred_at < "
	HL_PG_TS("$1");

static hl_pg_args window_args(hl_arena *a, int64_t start_us, int64_t end_us)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_int(&args, a, start_us);
	hl_pg_arg_int(&args, a, end_us);
	return args;
}

static hl_status figures_counts(hl_pg *pg, hl_arena *a, int64_t s, int64_t e,
				Hotline__Reporting__V1__DailyReportContent *c, hl_error *err)
{
	hl_pg_args args = window_args(a, s, e);
	PGresult *r;
	hl_status st;
	if ((st = hl_pg_exec(pg, a, SQL_FIG_TICKETS, &args, &r, err)))
		return st;
	int64_t *t[] = {&c->completed, &c->completed_on_time, &c->closed, &c->overdue, &c->replies_rated,
			&c->replies_satisfied};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		*t[i] = hl_pg_get_int(r, 0, (int)i);
	if ((st = hl_pg_exec(pg, a, SQL_FIG_OTHER, &args, &r, err)))
		return st;
	c->events = hl_pg_get_int(r, 0, 0);
	c->reopens = hl_pg_get_int(r, 0, 1);
	c->risk_events = hl_pg_get_int(r, 0, 2);
	c->risk_events_on_time = hl_pg_get_int(r, 0, 3);
	return HL_OK;
}

static const char *enum_key(const ProtobufCEnumDescriptor *d, const char *num)
{
	int v = 0;
	for (const char *p = num; *p >= '0' && *p <= '9'; p++)
		v = v * 10 + (*p - '0');
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, v);
	return ev ? ev->name : num;
}

/* Append (key, count) to one of the content's lists (at most max). */
static hl_status add_item(hl_arena *a, Hotline__Reporting__V1__CountItem ***list, size_t *n, size_t max,
			  const char *key, int64_t count, hl_error *err)
{
	if (*n >= max)
		return HL_OK;
	Hotline__Reporting__V1__CountItem *it = hl_arena_alloc(a, sizeof *it);
	if (!it)
		return hl_fail(err, HL_NOMEM, "out of memory");
	hotline__reporting__v1__count_item__init(it);
	it->key = (char *)key;
	it->count = count;
	(*list)[(*n)++] = it;
	return HL_OK;
}

static hl_status figures_groups(hl_pg *pg, hl_arena *a, int64_t s, int64_t e,
				Hotline__Reporting__V1__DailyReportContent *c, hl_error *err)
{
	hl_pg_args args = window_args(a, s, e);
	hl_pg_arg_int(&args, a, REPORTING_BY_TOPIC);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_FIG_GROUPS, &args, &r, err);
	if (st)
		return st;
	int rows = PQntuples(r);
	size_t cap = (size_t)rows + 1;
	if (!(c->by_channel = hl_arena_alloc(a, cap * sizeof *c->by_channel)) ||
	    !(c->by_category = hl_arena_alloc(a, cap * sizeof *c->by_category)) ||
	    !(c->by_department = hl_arena_alloc(a, cap * sizeof *c->by_department)) ||
	    !(c->by_topic = hl_arena_alloc(a, cap * sizeof *c->by_topic)) ||
	    !(c->top_topics = hl_arena_alloc(a, cap * sizeof *c->top_topics)))
		return hl_fail(err, HL_NOMEM, "out of memory");
	for (int i = 0; i < rows && !st; i++) {
		int g = (int)hl_pg_get_int(r, i, 0);
		const char *key = hl_pg_get_text(r, i, 1);
		int64_t n = hl_pg_get_int(r, i, 2);
		switch (g) {
		case 0:
			st = add_item(a, &c->by_channel, &c->n_by_channel, cap,
				      enum_key(&hotline__common__v1__channel__descriptor, key), n, err);
			break;
		case 1:
			st = add_item(a, &c->by_category, &c->n_by_category, cap,
				      enum_key(&hotline__common__v1__category__descriptor, key), n, err);
			break;
		case 2:
			st = add_item(a, &c->by_department, &c->n_by_department, cap, key, n, err);
			break;
		case 3:
			if (!(st = add_item(a, &c->by_topic, &c->n_by_topic, REPORTING_BY_TOPIC, key, n, err)))
				st = add_item(a, &c->top_topics, &c->n_top_topics, REPORTING_TOP_TOPICS, key, n, err);
			break;
		default: /* registrations on the spot or not: together, every one received */
			c->received += n;
			if (strcmp(key, "true") == 0)
				c->answered_on_spot = n;
			break;
		}
	}
	return st;
}

static hl_status figures_corrections(hl_pg *pg, hl_arena *a, int64_t s, int64_t prev_frozen_us, const char *zone,
				     int cutoff, Hotline__Reporting__V1__DailyReportContent *c, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_int(&args, a, s);
	hl_pg_arg_int(&args, a, prev_frozen_us);
	hl_pg_arg_text(&args, zone);
	hl_pg_arg_int(&args, a, cutoff);
	hl_pg_arg_int(&args, a, REPORTING_MAX_CORRECTIONS);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_FIG_CORRECTIONS, &args, &r, err);
	if (st)
		return st;
	int rows = PQntuples(r);
	c->corrections = hl_arena_alloc(a, ((size_t)rows + 1) * sizeof *c->corrections);
	if (!c->corrections)
		return hl_fail(err, HL_NOMEM, "out of memory");
	for (int i = 0; i < rows; i++) {
		Hotline__Reporting__V1__Correction *k = hl_arena_alloc(a, sizeof *k);
		Google__Protobuf__Timestamp *ts = hl_arena_alloc(a, sizeof *ts);
		if (!k || !ts)
			return hl_fail(err, HL_NOMEM, "out of memory");
		hotline__reporting__v1__correction__init(k);
		google__protobuf__timestamp__init(ts);
		int64_t us = hl_pg_get_int(r, i, 3);
		ts->seconds = us / 1000000;
		ts->nanos = (int32_t)(us % 1000000) * 1000;
		k->event_id = (char *)hl_pg_get_text(r, i, 0);
		k->type = (char *)hl_pg_get_text(r, i, 1);
		k->ticket_id = (char *)hl_pg_get_text(r, i, 2);
		k->occurred_at = ts;
		k->report_date = (char *)hl_pg_get_text(r, i, 4);
		c->corrections[c->n_corrections++] = k;
	}
	hl_pg_args cargs = window_args(a, s, prev_frozen_us);
	if ((st = hl_pg_exec(pg, a, SQL_FIG_CORRECTIONS_COUNT, &cargs, &r, err)))
		return st;
	c->corrections_total = hl_pg_get_int(r, 0, 0);
	return HL_OK;
}

hl_status store_report_figures(hl_pg *pg, hl_arena *a, int64_t start_us, int64_t end_us, int64_t prev_frozen_us,
			       const char *zone, int cutoff, Hotline__Reporting__V1__DailyReportContent *c,
			       hl_error *err)
{
	hl_status st;
	if ((st = figures_counts(pg, a, start_us, end_us, c, err)) || (st = figures_groups(pg, a, start_us, end_us, c, err)))
		return st;
	return figures_corrections(pg, a, start_us, prev_frozen_us, zone, cutoff, c, err);
}

/* ---- snapshots ----------------------------------------------------------------------------- */

#define REPORT_COLS                                                                                                  \
	"report_date::text, content_sha256, key_id, public_key, frozen_by, " HL_PG_US("window_start") ", "           \
	HL_PG_US("window_end") ", " HL_PG_US("frozen_at") ", received, corrections, fence, content, signature"

static const char SQL_PREV_FROZEN[] =
	"SELECT " HL_PG_US("max(frozen_at)") " FROM daily_reports WHERE report_date < $1::date";
static const char SQL_REPORT_INSERT[] =
	"INSERT INTO daily_reports (tenant_id, report_date, window_start, window_end, frozen_at, content, content_sha256, "
	"signature, key_id, public_key, received, corrections, frozen_by, fence) VALUES ($1, $2::date, " HL_PG_TS("$3")
	", " HL_PG_TS("$4") ", " HL_PG_TS("$5") ", $6, $7, $8, $9, $10, $11::bigint, $12::bigint, $13, $14::bigint) "
	"ON CONFLICT (tenant_id, report_date) DO NOTHING RETURNING 1";
static const char SQL_REPORT_GET[] = "SELECT " REPORT_COLS " FROM daily_reports WHERE report_date = $1::date";
static const char SQL_REPORT_LIST[] =
	"SELECT " REPORT_COLS " FROM daily_reports WHERE ($1 = '' OR report_date >= NULLIF($1, '')::date) "
	"AND ($2 = '' OR report_date <= NULLIF($2, '')::date) ORDER BY report_date LIMIT 366";

hl_status store_prev_frozen(hl_pg *pg, hl_arena *a, const char *date, int64_t *frozen_us, hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(date);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_PREV_FROZEN, &args, &r, err);
	if (!st)
		*frozen_us = hl_pg_get_int(r, 0, 0);
	return st;
}

hl_status store_report_insert(hl_pg *pg, hl_arena *a, const char *tenant, const store_report *rp, bool *inserted,
			      hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, tenant);
	hl_pg_arg_text(&args, rp->date);
	hl_pg_arg_int(&args, a, rp->start_us);
	hl_pg_arg_int(&args, a, rp->end_us);
	hl_pg_arg_int(&args, a, rp->frozen_us);
	hl_pg_arg_bytes(&args, rp->content, rp->content_len);
	hl_pg_arg_text(&args, rp->sha256);
	hl_pg_arg_bytes(&args, rp->signature, rp->signature_len);
	hl_pg_arg_text(&args, rp->key_id);
	hl_pg_arg_text(&args, rp->public_key);
	hl_pg_arg_int(&args, a, rp->received);
	hl_pg_arg_int(&args, a, rp->corrections);
	hl_pg_arg_text(&args, rp->frozen_by);
	hl_pg_arg_int(&args, a, rp->fence);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, a, SQL_REPORT_INSERT, &args, &r, err);
	if (!st)
		*inserted = PQntuples(r) == 1;
	return st;
}

static hl_status read_report(const PGresult *res, int r, hl_arena *a, void *out, hl_error *err)
{
	store_report *rp = out;
	rp->date = hl_pg_get_text(res, r, 0);
	rp->sha256 = hl_pg_get_text(res, r, 1);
	rp->key_id = hl_pg_get_text(res, r, 2);
	rp->public_key = hl_pg_get_text(res, r, 3);
	rp->frozen_by = hl_pg_get_text(res, r, 4);
	rp->start_us = hl_pg_get_int(res, r, 5);
	rp->end_us = hl_pg_get_int(res, r, 6);
	rp->frozen_us = hl_pg_get_int(res, r, 7);
	rp->received = hl_pg_get_int(res, r, 8);
	rp->corrections = hl_pg_get_int(res, r, 9);
	rp->fence = hl_pg_get_int(res, r, 10);
	uint8_t *p, *q;
	if (hl_pg_get_bytes(res, r, 11, a, &p, &rp->content_len) || hl_pg_get_bytes(res, r, 12, a, &q, &rp->signature_len))
		return hl_fail(err, HL_INTERNAL, "daily_reports: unreadable bytes");
	rp->content = p;
	rp->signature = q;
	return HL_OK;
}

hl_status store_report_get(hl_pg *pg, hl_arena *a, const char *date, store_report **out, hl_error *err)
{
	hl_pg_args args = hl_pg_args_key(date);
	return hl_pg_fetch_one(pg, a, SQL_REPORT_GET, &args, sizeof(store_report), read_report, (void **)out, err);
}

hl_status store_report_list(hl_pg *pg, hl_arena *a, const char *from, const char *to, store_report ***out, int *n,
			    hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, from ? from : "");
	hl_pg_arg_text(&args, to ? to : "");
	return hl_pg_fetch(pg, a, SQL_REPORT_LIST, &args, sizeof(store_report), read_report, (void ***)out, n, err);
}

/* ---- KPIs ---------------------------------------------------------------------------------- */

static const char SQL_KPIS[] =
	"SELECT d, p, sum(a1), sum(a2), sum(a3), sum(a4), sum(a5), sum(a6), sum(a7), sum(a8), sum(a9), sum(a10), "
	"sum(b1), sum(b2), sum(b3), sum(b4), sum(b5), sum(b6), sum(b7), sum(b8) FROM ("
	" SELECT CASE WHEN $3::int >= 1 THEN department_id ELSE '' END AS d, "
	"  CASE WHEN $3::int = 2 THEN handler_id ELSE '' END AS p, "
	"  count(*) FILTER (WHERE accept_due IS NOT NULL AND (accepted_at IS NOT NULL OR accept_due < now())) AS a1, "
	"  count(*) FILTER (WHERE accept_due IS NOT NULL AND accepted_at <= accept_due) AS a2, "
	"  count(*) FILTER (WHERE assigned_at IS NOT NULL) AS a3, "
	"  count(*) FILTER (WHERE assigned_at IS NOT NULL AND returns = 0 AND transfers = 0) AS a4, "
	"  count(*) FILTER (WHERE completed_at IS NOT NULL OR complete_due < now()) AS a5, "
	"  count(*) FILTER (WHERE on_time) AS a6, "
	"  count(*) FILTER (WHERE satisfaction > 0) AS a7, "
	"  count(*) FILTER (WHERE satisfaction BETWEEN 1 AND 3) AS a8, "
	"  count(*) FILTER (WHERE completed_at IS NOT NULL AND NOT on_spot) AS a9, "
	"  count(*) FILTER (WHERE reopens > 0 AND completed_at IS NOT NULL AND NOT on_spot) AS a10, "
	"  0::bigint AS b1, 0::bigint AS b2, 0::bigint AS b3, 0::bigint AS b4, 0::bigint AS b5, 0::bigint AS b6, "
	"  0::bigint AS b7, 0::bigint AS b8 "
	" FROM ticket_facts WHERE " IN_WIN("received_at") " AND ($4::text IS NULL OR department_id = $4) GROUP BY 1, 2"
	" UNION ALL"
	" SELECT CASE WHEN $3::int >= 1 THEN department_id ELSE '' END, CASE WHEN $3::int = 2 THEN person_id ELSE '' END, "
	"  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, "
	"  count(*) FILTER (WHERE kind = 'visit' AND " IN_WIN("due_at") "), "
	"  count(*) FILTER (WHERE kind = 'visit' AND " IN_WIN("due_at") " AND done_at IS NOT NULL), "
	"  count(*) FILTER (WHERE kind = 'visit' AND " IN_WIN("done_at") "), "
	"  count(*) FILTER (WHERE kind = 'visit' AND " IN_WIN("done_at") " AND problem_found), "
	"  count(*) FILTER (WHERE kind = 'warning' AND " IN_WIN("opened_at") "), "
	"  count(*) FILTER (WHERE kind = 'warning' AND " IN_WIN("opened_at") " AND done_at IS NOT NULL), "
	"  count(*) FILTER (WHERE kind = 'risk_event' AND " IN_WIN("opened_at") "), "
	"  count(*) FILTER (WHERE kind = 'risk_event' AND " IN_WIN("opened_at") " AND on_time) "
	" FROM subject_facts WHERE kind IN ('visit', 'warning', 'risk_event') AND ($4::text IS NULL OR department_id = $4) "
	" AND (" IN_WIN("due_at") " OR " IN_WIN("done_at") " OR " IN_WIN("opened_at") ") GROUP BY 1, 2"
	") x GROUP BY d, p ORDER BY d, p";

static hl_status read_kpi(const PGresult *res, int r, hl_arena *a, void *out, hl_error *err)
{
	(void)a;
	(void)err;
	store_kpi_counts *k = out;
	k->department_id = hl_pg_get_text(res, r, 0);
	k->person_id = hl_pg_get_text(res, r, 1);
	int64_t *v[] = {&k->accept_den, &k->accept_num, &k->routed_den, &k->routed_num, &k->done_den,
			&k->done_num,   &k->rated_den,  &k->rated_num,  &k->reopen_den, &k->reopen_num,
			&k->visit_due,  &k->visit_done, &k->visit_recorded, &k->visit_problem, &k->warn_den,
			&k->warn_num,   &k->risk_den,   &k->risk_num};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		*v[i] = hl_pg_get_int(res, r, (int)i + 2);
	return HL_OK;
}

hl_status store_kpis(hl_pg *pg, hl_arena *a, int64_t start_us, int64_t end_us, int group, const char *department_id,
		     store_kpi_counts ***out, int *n, hl_error *err)
{
	hl_pg_args args = window_args(a, start_us, end_us);
	hl_pg_arg_int(&args, a, group);
	hl_pg_arg_text(&args, department_id);
	return hl_pg_fetch(pg, a, SQL_KPIS, &args, sizeof(store_kpi_counts), read_kpi, (void ***)out, n, err);
}

/* ---- disclosure ---------------------------------------------------------------------------- */

static const char SQL_DISCLOSURE[] =
	"SELECT category, count(*), count(*) FILTER (WHERE completed_at IS NOT NULL), count(*) FILTER (WHERE on_time), "
	"count(*) FILTER (WHERE satisfaction > 0), count(*) FILTER (WHERE satisfaction BETWEEN 1 AND 3) "
	"FROM ticket_facts WHERE " IN_WIN("received_at") " GROUP BY category ORDER BY category";

static hl_status read_disclosure(const PGresult *res, int r, hl_arena *a, void *out, hl_error *err)
{
	(void)a;
	(void)err;
	store_disclosure *d = out;
	d->category = (int)hl_pg_get_int(res, r, 0);
	d->received = hl_pg_get_int(res, r, 1);
	d->handled = hl_pg_get_int(res, r, 2);
	d->on_time = hl_pg_get_int(res, r, 3);
	d->rated = hl_pg_get_int(res, r, 4);
	d->satisfied = hl_pg_get_int(res, r, 5);
	return HL_OK;
}

hl_status store_disclosure_rows(hl_pg *pg, hl_arena *a, int64_t start_us, int64_t end_us, store_disclosure ***out,
				int *n, hl_error *err)
{
	hl_pg_args args = window_args(a, start_us, end_us);
	return hl_pg_fetch(pg, a, SQL_DISCLOSURE, &args, sizeof(store_disclosure), read_disclosure, (void ***)out, n,
			   err);
}
