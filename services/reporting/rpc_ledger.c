/*
 * rpc_ledger.c - the ledger (台账, R24): GetLedger pages the ticket facts by
 * (received_at, ticket_id) with filters; ExportLedger streams the same rows
 * as CSV, however many, in constant memory: rows are read a page at a time
 * (each page in an arena of its own, freed before the next) and sent in
 * chunks of about 64 KiB with hl_call_send, which waits for gRPC to take each
 * chunk (flow control).  Who may read: analyst, supervisor, auditor and
 * tenant_admin the whole tenant; a dept_head only the department in the
 * token's `dept` claim.
 */
#include "reporting.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hl/audit.h"
#include "hl/buf.h"
#include "hl/handler.h"
#include "hl/roles.h"
#include "store.h"

#define CHUNK_BYTES (64 * 1024)

static const char *const tenant_roles[] = {HL_ROLE_ANALYST, HL_ROLE_SUPERVISOR, HL_ROLE_AUDITOR,
					   HL_ROLE_TENANT_ADMIN, NULL};

/* The department the caller is limited to (NULL: the whole tenant); fails when no role fits. */
static hl_status ledger_scope(hl_call *c, const char **dept)
{
	*dept = NULL;
	if (hl_call_has_any(c, tenant_roles))
		return HL_OK;
	const hl_claims *cl = hl_call_principal(c)->claims;
	if (hl_call_has_role(c, HL_ROLE_DEPT_HEAD) && cl && cl->dept && cl->dept[0]) {
		*dept = cl->dept;
		return HL_OK;
	}
	return hl_call_fail(c, HL_DENIED, "role analyst, supervisor, auditor, tenant_admin or dept_head (with dept) "
					  "required");
}

static bool enum_ok(const ProtobufCEnumDescriptor *d, int v)
{
	return v == 0 || protobuf_c_enum_descriptor_get_value(d, v) != NULL;
}

/* Validate the filter and turn it into the store's (in the call's open transaction: dates need the zone). */
static hl_status make_filter(hl_call *c, const Hotline__Reporting__V1__LedgerFilter *f, store_ledger_filter *out)
{
	static const Hotline__Reporting__V1__LedgerFilter none = HOTLINE__REPORTING__V1__LEDGER_FILTER__INIT;
	if (!f)
		f = &none;
	hl_status st;
	const char *scope;
	if ((st = ledger_scope(c, &scope)) || (st = reporting_check_date(c, "filter.from_date", f->from_date, false)) ||
	    (st = reporting_check_date(c, "filter.to_date", f->to_date, false)) ||
	    (st = hl_call_check_text(c, "filter.department_id", f->department_id, 64, false)) ||
	    (st = hl_call_check_text(c, "filter.ticket_no", f->ticket_no, 32, false)))
		return st;
	if (f->from_date[0] && f->to_date[0] && strcmp(f->from_date, f->to_date) > 0)
		return hl_call_fail(c, HL_INVALID, "filter.to_date: before from_date");
	if (!enum_ok(&hotline__common__v1__category__descriptor, f->category))
		return hl_call_fail(c, HL_INVALID, "filter.category: not a Category");
	if (!enum_ok(&hotline__common__v1__channel__descriptor, f->channel))
		return hl_call_fail(c, HL_INVALID, "filter.channel: not a Channel");
	if (!enum_ok(&hotline__common__v1__ticket_status__descriptor, f->status))
		return hl_call_fail(c, HL_INVALID, "filter.status: not a TicketStatus");
	if (scope && f->department_id[0] && strcmp(f->department_id, scope) != 0)
		return hl_call_fail(c, HL_DENIED, "filter.department_id: a department head sees only their department");
	*out = (store_ledger_filter){.department_id = scope ? scope : (f->department_id[0] ? f->department_id : NULL),
				    .ticket_no = f->ticket_no[0] ? f->ticket_no : NULL, .category = f->category,
				    .channel = f->channel, .status = f->status, .overdue_only = f->overdue_only};
	const char *zone;
	int cutoff;
	hl_error err;
	if ((st = hl_call_begin(c)) || (st = reporting_settings(c, &zone, &cutoff)))
		return st;
	if (store_dates_range(hl_call_pg(c), hl_call_arena(c), zone, f->from_date, f->to_date, &out->from_us, &out->to_us,
			      &err))
		return hl_call_fail_err(c, &err);
	return HL_OK;
}

/* ---- GetLedger ---------------------------------------------------------------------------- */

static hl_status parse_token(hl_call *c, const char *tok, store_ledger_filter *f)
{
	if (!tok[0])
		return HL_OK;
	long long us;
	int used = 0;
	if (sscanf(tok, "%lld.%n", &us, &used) != 1 || used == 0 || us <= 0 || strlen(tok + used) == 0 ||
	    strlen(tok + used) > 64)
		return hl_call_fail(c, HL_INVALID, "page_token: not a token from this method");
	f->after_us = us;
	f->after_id = tok + used;
	return HL_OK;
}

static Google__Protobuf__Timestamp *ts(hl_call *c, int64_t us)
{
	return us ? hl_call_timestamp(c, us) : NULL;
}

static Hotline__Reporting__V1__LedgerRow *row_msg(hl_call *c, const reporting_ticket *t)
{
	Hotline__Reporting__V1__LedgerRow *m = HL_NEW(c, hotline__reporting__v1__ledger_row__descriptor);
	if (!m)
		return NULL;
	m->ticket_id = (char *)t->ticket_id;
	m->ticket_no = (char *)t->ticket_no;
	m->channel = t->channel;
	m->category = t->category;
	m->priority = t->priority;
	m->topic = (char *)t->topic;
	m->area = (char *)t->area;
	m->received_at = ts(c, t->received_us);
	m->assigned_at = ts(c, t->assigned_us);
	m->accepted_at = ts(c, t->accepted_us);
	m->department_id = (char *)t->department_id;
	m->handler_id = (char *)t->handler_id;
	m->transfers = t->transfers;
	m->returns = t->returns;
	m->accept_due_at = ts(c, t->accept_due_us);
	m->complete_due_at = ts(c, t->complete_due_us);
	m->completed_at = ts(c, t->completed_us);
	m->on_time = t->on_time;
	m->overdue = t->overdue_us || (t->completed_us && !t->on_time);
	m->status = t->status;
	m->reopens = t->reopens;
	m->satisfaction = t->satisfaction;
	m->visited = t->visited;
	m->closed_at = ts(c, t->closed_us);
	m->events = t->events;
	return m;
}

hl_status reporting_get_ledger(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Reporting__V1__GetLedgerRequest *r = vreq;
	if (r->page_size < 0 || r->page_size > REPORTING_PAGE_MAX)
		return hl_call_fail(c, HL_INVALID, "page_size: 0..%d", REPORTING_PAGE_MAX);
	store_ledger_filter f;
	hl_status st;
	if ((st = make_filter(c, r->filter, &f)) || (st = parse_token(c, r->page_token, &f)))
		return st;
	f.limit = (r->page_size ? r->page_size : REPORTING_PAGE_DEFAULT) + 1;
	reporting_ticket **rows;
	int n;
	hl_error err;
	if (store_ledger(hl_call_pg(c), hl_call_arena(c), &f, &rows, &n, &err))
		return hl_call_fail_err(c, &err);
	hl_pg_rollback(hl_call_pg(c));
	Hotline__Reporting__V1__GetLedgerResponse *out = HL_NEW(c, hotline__reporting__v1__get_ledger_response__descriptor);
	int page = n < f.limit ? n : f.limit - 1;
	if (!out || !(out->rows = hl_arena_alloc(hl_call_arena(c), ((size_t)page + 1) * sizeof *out->rows)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (int i = 0; i < page; i++)
		if (!(out->rows[out->n_rows++] = row_msg(c, rows[i])))
			return hl_call_fail(c, HL_NOMEM, "out of memory");
	if (n == f.limit) {
		const reporting_ticket *last = rows[page - 1];
		out->next_page_token = hl_arena_printf(hl_call_arena(c), "%lld.%s", (long long)last->received_us,
						       last->ticket_id);
		if (!out->next_page_token)
			return hl_call_fail(c, HL_NOMEM, "out of memory");
	}
	*resp = out;
	return HL_OK;
}

/* ---- ExportLedger ------------------------------------------------------------------------- */

static const char *const CSV_HEADER =
	"工单编号,受理时间,渠道,类别,优先级,主题,区域,承办部门,承办人,派单时间,签收时间,转办次数,退回次数,"
	"签收时限,办结时限,办结时间,按时办结,超期,状态,重办次数,满意度,已回访,结案时间\r\n";

static const char *label(const char *const *names, size_t n, int v)
{
	return v > 0 && (size_t)v < n ? names[v] : "";
}

static const char *channel_label(int v)
{
	static const char *const n[] = {"", "电话", "网站", "微信", "邮件", "来访", "Open311"};
	return label(n, sizeof n / sizeof n[0], v);
}

static const char *category_label(int v)
{
	static const char *const n[] = {"", "咨询", "投诉", "举报", "建议", "求助", "表扬"};
	return label(n, sizeof n / sizeof n[0], v);
}

static const char *priority_label(int v)
{
	static const char *const n[] = {"", "一般", "紧急", "重大"};
	return label(n, sizeof n / sizeof n[0], v);
}

static const char *status_label(int v)
{
	static const char *const n[] = {"", "已登记", "当场答复", "办理中", "已反馈", "重办", "已办结", "已归档"};
	return label(n, sizeof n / sizeof n[0], v);
}

static const char *satisfaction_label(int v)
{
	static const char *const n[] = {"", "非常满意", "满意", "基本满意", "不满意"};
	return label(n, sizeof n / sizeof n[0], v);
}

/*
 * One CSV field (RFC 4180): quoted when it holds a comma, quote or line
 * break; free text starting with = + - @ gets a leading apostrophe so that a
 * spreadsheet does not run it as a formula (CSV injection).
 */
static void csv_field(hl_buf *b, const char *s, bool free_text, bool last)
{
	bool quote = strpbrk(s, ",\"\r\n") != NULL;
	if (quote)
		hl_buf_putc(b, '"');
	if (free_text && (*s == '=' || *s == '+' || *s == '-' || *s == '@'))
		hl_buf_putc(b, '\'');
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			hl_buf_putc(b, '"');
		hl_buf_putc(b, *p);
	}
	if (quote)
		hl_buf_putc(b, '"');
	hl_buf_puts(b, last ? "\r\n" : ",");
}

/* A time as UTC RFC 3339 ("" none). */
static void csv_time(hl_buf *b, int64_t us)
{
	if (us) {
		time_t t = (time_t)(us / 1000000);
		struct tm tm;
		char s[32];
		gmtime_r(&t, &tm);
		strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%SZ", &tm);
		hl_buf_puts(b, s);
	}
	hl_buf_putc(b, ',');
}

static void csv_int(hl_buf *b, long long v)
{
	hl_buf_printf(b, "%lld,", v);
}

static void csv_row(hl_buf *b, const reporting_ticket *t)
{
	csv_field(b, t->ticket_no, false, false);
	csv_time(b, t->received_us);
	csv_field(b, channel_label(t->channel), false, false);
	csv_field(b, category_label(t->category), false, false);
	csv_field(b, priority_label(t->priority), false, false);
	csv_field(b, t->topic, true, false);
	csv_field(b, t->area, true, false);
	csv_field(b, t->department_id, true, false);
	csv_field(b, t->handler_id, true, false);
	csv_time(b, t->assigned_us);
	csv_time(b, t->accepted_us);
	csv_int(b, t->transfers);
	csv_int(b, t->returns);
	csv_time(b, t->accept_due_us);
	csv_time(b, t->complete_due_us);
	csv_time(b, t->completed_us);
	csv_field(b, t->on_time ? "是" : "否", false, false);
	csv_field(b, t->overdue_us || (t->completed_us && !t->on_time) ? "是" : "否", false, false);
	csv_field(b, status_label(t->status), false, false);
	csv_int(b, t->reopens);
	csv_field(b, satisfaction_label(t->satisfaction), false, false);
	csv_field(b, t->visited ? "是" : "否", false, false);
	if (t->closed_us) {
		csv_time(b, t->closed_us);
		b->len--; /* the last field has no comma */
	}
	hl_buf_puts(b, "\r\n");
}

static hl_status send_chunk(hl_call *c, hl_buf *b)
{
	if (hl_buf_failed(b))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	Hotline__Reporting__V1__ExportLedgerResponse m = HOTLINE__REPORTING__V1__EXPORT_LEDGER_RESPONSE__INIT;
	m.chunk.data = (uint8_t *)b->data;
	m.chunk.len = b->len;
	hl_status st = hl_call_send(c, &m);
	hl_buf_reset(b);
	return st;
}

/* Read the rows page by page and send them; *rows counts them. */
static hl_status export_rows(hl_call *c, store_ledger_filter *f, hl_buf *b, int64_t *rows)
{
	f->limit = REPORTING_EXPORT_ROWS;
	for (;;) {
		hl_arena *page = hl_arena_new();
		if (!page)
			return hl_call_fail(c, HL_NOMEM, "out of memory");
		reporting_ticket **ts_rows;
		int n;
		hl_error err;
		hl_status st = HL_OK;
		if (store_ledger(hl_call_pg(c), page, f, &ts_rows, &n, &err))
			st = hl_call_fail_err(c, &err);
		for (int i = 0; i < n && !st; i++) {
			csv_row(b, ts_rows[i]);
			if (b->len >= CHUNK_BYTES)
				st = send_chunk(c, b);
		}
		*rows += st ? 0 : n;
		char after[80];
		if (!st && n == f->limit) { /* the key of the next page outlives this page's arena */
			snprintf(after, sizeof after, "%s", ts_rows[n - 1]->ticket_id);
			f->after_us = ts_rows[n - 1]->received_us;
		}
		hl_arena_free(page);
		if (st || n < f->limit)
			return st;
		f->after_id = hl_arena_strdup(hl_call_arena(c), after);
		if (!f->after_id)
			return hl_call_fail(c, HL_NOMEM, "out of memory");
	}
}

/*
 * The export is a disclosure of records (R37), audited in a transaction of
 * its own: "ledger.exported" with the filter before the first byte leaves
 * (rows < 0), and "ledger.export_done" with the row count once all did.
 */
static hl_status audit_export(hl_call *c, const Hotline__Reporting__V1__ExportLedgerRequest *r, int64_t rows)
{
	hl_arena *a = hl_call_arena(c);
	const Hotline__Reporting__V1__LedgerFilter *f = r->filter;
	hl_buf d = HL_BUF_INIT;
	hl_buf_printf(&d, "{\"rows\":%lld,\"from_date\":", (long long)rows);
	hl_buf_json_string(&d, f ? f->from_date : "");
	hl_buf_puts(&d, ",\"to_date\":");
	hl_buf_json_string(&d, f ? f->to_date : "");
	hl_buf_puts(&d, ",\"department_id\":");
	hl_buf_json_string(&d, f ? f->department_id : "");
	hl_buf_putc(&d, '}');
	const char *details = hl_buf_failed(&d) ? NULL : hl_arena_strndup(a, d.data, d.len);
	hl_buf_release(&d);
	if (!details)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	const hl_principal *p = hl_call_principal(c);
	hl_status st;
	hl_error err;
	if ((st = hl_call_begin(c)))
		return st;
	if (hl_audit_append(hl_call_pg(c), a, p->tenant, "export", hl_arena_printf(a, "export:%s", hl_call_request_id(c)),
			    p->actor, rows < 0 ? "ledger.exported" : "ledger.export_done", details, false, &err))
		return hl_call_fail_err(c, &err);
	return hl_call_commit(c);
}

hl_status reporting_export_ledger(hl_call *c, const void *vreq, void **resp)
{
	(void)resp; /* a stream: the messages went out through hl_call_send */
	const Hotline__Reporting__V1__ExportLedgerRequest *r = vreq;
	store_ledger_filter f;
	hl_status st;
	if ((st = make_filter(c, r->filter, &f)))
		return st;
	hl_pg_rollback(hl_call_pg(c)); /* the filter is checked: the export is recorded before any row leaves */
	if ((st = audit_export(c, r, -1)) || (st = hl_call_begin(c)))
		return st;
	hl_buf b = HL_BUF_INIT;
	if (r->bom)
		hl_buf_puts(&b, "\xEF\xBB\xBF");
	hl_buf_puts(&b, CSV_HEADER);
	int64_t rows = 0;
	st = export_rows(c, &f, &b, &rows);
	hl_pg_rollback(hl_call_pg(c));
	if (!st && b.len)
		st = send_chunk(c, &b);
	hl_buf_release(&b);
	if (st)
		return st;
	return audit_export(c, r, rows);
}
