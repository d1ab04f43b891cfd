/*
 * rpc_read.c - GetTicket, ListTickets and FindTicketsByPhone: what staff
 * see of tickets, with caller data always masked, and only the tickets they
 * may see (recusal and confidentiality: intake_may_see).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/protobuf/timestamp.pb-c.h"
#include "hl/b64.h"
#include "hl/crypto.h"
#include "hl/audit.h"
#include "hl/buf.h"
#include "hl/redis.h"
#include "hl/roles.h"
#include "hotline/common/v1/common.pb-c.h"
#include "intake.h"
#include "store.h"

/* A masked phone shows 7 of 11 digits: looking up the 10,000 candidates would unmask it, so
 * lookups need pii_reader, are audited and are rate-limited per user and tenant. */
static const char *const phone_roles[] = {HL_ROLE_PII_READER, NULL};

static const char RATE_LUA[] =
	"local n = redis.call('INCR', KEYS[1]) "
	"if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end "
	"return n";
static hl_redis_script rate_script = HL_REDIS_SCRIPT(RATE_LUA);

static hl_status add_history(hl_call *c, Hotline__Intake__V1__Ticket *m, const intake_ticket *t)
{
	const char *id = t->id;
	hl_arena *a = hl_call_arena(c);
	hl_pg *pg = hl_call_pg(c);
	hl_error err;
	store_amendment **am;
	int na;
	if (store_amendments(pg, a, id, &am, &na, &err))
		return hl_call_fail_err(c, &err);
	m->amendments = hl_arena_alloc(a, (size_t)(na ? na : 1) * sizeof *m->amendments);
	if (!m->amendments)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (int i = 0; i < na; i++)
		if (!(m->amendments[m->n_amendments++] = intake_amendment_msg(c, t, am[i])))
			return hl_call_fail(c, HL_NOMEM, "out of memory");
	return intake_notes_msg(c, id, &m->public_notes, &m->n_public_notes);
}

hl_status intake_get_ticket(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Intake__V1__GetTicketRequest *r = vreq;
	hl_status st;
	if ((st = hl_call_require_any(c, hl_roles_staff)))
		return st;
	if (!r->id[0] && !r->ticket_no[0])
		return hl_call_fail(c, HL_INVALID, "id or ticket_no: required");
	if (r->id[0] && !hl_uuid_valid(r->id))
		return hl_call_fail(c, HL_INVALID, "id: not a UUID");
	if ((st = hl_call_begin(c)))
		return st;
	intake_ticket *t;
	intake_viewer v;
	hl_error err;
	if (store_ticket_get(hl_call_pg(c), hl_call_arena(c), r->id[0] ? r->id : NULL,
			     r->id[0] ? NULL : r->ticket_no, false, &t, &err))
		return hl_call_fail_err(c, &err);
	intake_viewer_of(c, &v);
	if (!t || !intake_may_see(&v, t)) /* a ticket one may not see is not there */
		return hl_call_fail(c, HL_NOT_FOUND, "ticket not found");
	Hotline__Intake__V1__GetTicketResponse *out = HL_NEW(c, hotline__intake__v1__get_ticket_response__descriptor);
	if (!out || !(out->ticket = intake_ticket_msg(c, t)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	st = add_history(c, out->ticket, t);
	hl_pg_rollback(hl_call_pg(c));
	if (st)
		return st;
	*resp = out;
	return HL_OK;
}

static int64_t ts_us(const Google__Protobuf__Timestamp *ts)
{
	return ts ? (int64_t)ts->seconds * 1000000 + ts->nanos / 1000 : 0;
}

/* Page tokens are opaque: base64url("<created_us>/<id>"). */
static hl_status parse_token(hl_call *c, const char *tok, store_list_filter *f)
{
	if (!tok[0])
		return HL_OK;
	uint8_t *raw;
	size_t n;
	hl_error err;
	if (hl_b64url_decode(hl_call_arena(c), tok, strlen(tok), &raw, &n, &err) || n < 3 || n > 80)
		return hl_call_fail(c, HL_INVALID, "page_token: malformed");
	char buf[81];
	memcpy(buf, raw, n);
	buf[n] = '\0';
	char *slash = strchr(buf, '/'), *end;
	if (!slash)
		return hl_call_fail(c, HL_INVALID, "page_token: malformed");
	*slash = '\0';
	f->after_us = strtoll(buf, &end, 10);
	if (*end || f->after_us <= 0 || !hl_uuid_valid(slash + 1))
		return hl_call_fail(c, HL_INVALID, "page_token: malformed");
	f->after_id = hl_arena_strdup(hl_call_arena(c), slash + 1);
	return HL_OK;
}

static char *make_token(hl_call *c, const intake_ticket *t)
{
	char buf[96];
	int n = snprintf(buf, sizeof buf, "%lld/%s", (long long)t->created_us, t->id);
	return hl_b64url_encode(hl_call_arena(c), buf, (size_t)n);
}

static hl_status list_filter(hl_call *c, const Hotline__Intake__V1__ListTicketsRequest *r, store_list_filter *f)
{
	memset(f, 0, sizeof *f);
	hl_status st;
	if (r->page_size < 0 || r->page_size > 500)
		return hl_call_fail(c, HL_INVALID, "page_size: between 0 and 500");
	f->limit = r->page_size ? r->page_size : 50;
	f->status = r->status;
	f->category = r->category;
	f->channel = r->channel;
	if ((st = hl_call_check_text(c, "keyword", r->keyword, 100, false)) ||
	    (st = hl_call_check_text(c, "area", r->area, 100, false)))
		return st;
	f->area = r->area[0] ? r->area : NULL;
	f->keyword = r->keyword[0] ? r->keyword : NULL;
	f->registered_by = r->registered_by[0] ? r->registered_by : NULL;
	f->from_us = ts_us(r->created_from);
	f->to_us = ts_us(r->created_to);
	return parse_token(c, r->page_token, f);
}

static hl_status tickets_out(hl_call *c, intake_ticket **rows, int n, Hotline__Intake__V1__Ticket ***out,
			     size_t *count)
{
	*out = hl_arena_alloc(hl_call_arena(c), (size_t)(n ? n : 1) * sizeof **out);
	if (!*out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (int i = 0; i < n; i++)
		if (!((*out)[i] = intake_ticket_msg(c, rows[i])))
			return hl_call_fail(c, HL_NOMEM, "out of memory");
	*count = (size_t)n;
	return HL_OK;
}

hl_status intake_list_tickets(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Intake__V1__ListTicketsRequest *r = vreq;
	store_list_filter f;
	intake_viewer v;
	hl_status st;
	if ((st = hl_call_require_any(c, hl_roles_staff)) || (st = list_filter(c, r, &f)) ||
	    (st = hl_call_begin(c)))
		return st;
	intake_viewer_of(c, &v);
	f.viewer = &v;
	intake_ticket **rows;
	int n;
	hl_error err;
	f.limit++; /* one more tells whether there is a next page */
	st = store_ticket_list(hl_call_pg(c), hl_call_arena(c), &f, &rows, &n, &err);
	hl_pg_rollback(hl_call_pg(c));
	if (st)
		return hl_call_fail_err(c, &err);
	Hotline__Intake__V1__ListTicketsResponse *out =
		HL_NEW(c, hotline__intake__v1__list_tickets_response__descriptor);
	bool more = n == f.limit;
	if (more)
		n--;
	if (!out || (st = tickets_out(c, rows, n, &out->tickets, &out->n_tickets)))
		return st ? st : hl_call_fail(c, HL_NOMEM, "out of memory");
	if (more)
		out->next_page_token = make_token(c, rows[n - 1]);
	*resp = out;
	return HL_OK;
}

/* Count one phone lookup of the caller in a one-minute window; over the limit, or without Redis
 * to count in, the lookup is refused (fail closed). */
static hl_status phone_rate_limit(hl_call *c)
{
	const intake_app *app = hl_call_app(c);
	hl_redis *redis = hl_call_redis(c);
	const char *key = hl_arena_printf(hl_call_arena(c), "%s:ratelimit:{%s}:phone-lookup:%s", app->common->redis_prefix,
					  hl_call_tenant(c), hl_call_principal(c)->actor);
	const char *window_ms = "60000";
	redisReply *reply = NULL;
	hl_error err;
	if (!key)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if (!redis || hl_redis_eval(redis, &rate_script, 1, &key, 1, &window_ms, &reply, &err))
		return hl_call_fail(c, HL_UNAVAILABLE, "FindTicketsByPhone: rate limit store unavailable, retry later");
	long long n = reply->type == REDIS_REPLY_INTEGER ? reply->integer : 0;
	freeReplyObject(reply);
	if (n < 1)
		return hl_call_fail(c, HL_UNAVAILABLE, "FindTicketsByPhone: rate limit store unavailable, retry later");
	if (n > app->phone_lookups_per_minute)
		return hl_call_fail(c, HL_EXHAUSTED, "FindTicketsByPhone: rate limit of %d lookups per minute reached",
				    app->phone_lookups_per_minute);
	return HL_OK;
}

/* One audit entry per lookup, on the chain of the looking-up principal: what was found, never the phone. */
static hl_status audit_lookup(hl_call *c, intake_ticket **rows, int n)
{
	const char *actor = hl_call_principal(c)->actor;
	hl_error err;
	hl_buf b = HL_BUF_INIT;
	hl_buf_printf(&b, "{\"method\":\"FindTicketsByPhone\",\"found\":%d,\"ticket_ids\":[", n);
	for (int i = 0; i < n; i++)
		hl_buf_printf(&b, "%s\"%s\"", i ? "," : "", rows[i]->id);
	hl_buf_puts(&b, "]}");
	hl_status st = hl_buf_failed(&b) ? HL_NOMEM
					 : hl_audit_append(hl_call_pg(c), hl_call_arena(c), hl_call_tenant(c), "principal",
							   hl_arena_printf(hl_call_arena(c), "phone-lookup:%s", actor),
							   actor, "phone.lookup", b.data, false, &err);
	hl_buf_release(&b);
	if (st == HL_NOMEM)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	return st ? hl_call_fail_err(c, &err) : HL_OK;
}

hl_status intake_find_by_phone(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Intake__V1__FindTicketsByPhoneRequest *r = vreq;
	hl_status st;
	intake_phone_keys keys;
	if ((st = hl_call_require_any(c, phone_roles)))
		return st;
	if (!r->phone[0])
		return hl_call_fail(c, HL_INVALID, "phone: required");
	if (r->page_size < 0 || r->page_size > 200)
		return hl_call_fail(c, HL_INVALID, "page_size: between 0 and 200");
	if ((st = phone_rate_limit(c)) || (st = intake_phone_keys_of(c, r->phone, &keys)) || (st = hl_call_begin(c)))
		return st;
	intake_ticket **rows;
	int n;
	intake_viewer v;
	hl_error err;
	intake_viewer_of(c, &v);
	if (store_ticket_by_phone(hl_call_pg(c), hl_call_arena(c), &keys, &v, r->page_size ? r->page_size : 50, &rows,
				  &n, &err))
		return hl_call_fail_err(c, &err);
	if ((st = audit_lookup(c, rows, n)) || (st = hl_call_commit(c)))
		return st;
	Hotline__Intake__V1__FindTicketsByPhoneResponse *out =
		HL_NEW(c, hotline__intake__v1__find_tickets_by_phone_response__descriptor);
	if (!out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if ((st = tickets_out(c, rows, n, &out->tickets, &out->n_tickets)))
		return st;
	*resp = out;
	return HL_OK;
}
