/*
 * audit.c - append and verify per-subject audit hash chains, and the
 * AuditService handlers (see audit.h for the canonical encoding).
 */
#include "hl/audit.h"
#include "hl/roles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "google/protobuf/timestamp.pb-c.h"
#include "hl/buf.h"
#include "hl/crypto.h"
#include "hl/handler.h"
#include "hotline/audit/v1/audit.pb-c.h"

static const char SQL_HEAD_LOCK[] =
	"SELECT entries, head_hash FROM audit_heads WHERE tenant_id = current_tenant() AND subject_id = $1 "
	"FOR UPDATE";
static const char SQL_HEADS_LOCK[] =
	"SELECT subject_id, entries, head_hash FROM audit_heads WHERE tenant_id = current_tenant() "
	"AND subject_id = ANY ($1::text[]) ORDER BY subject_id FOR UPDATE";

/*
 * Entries of any subjects, new or not, written with the COMMIT in one
 * statement (hl_pg_rows_at_commit): the entries, and each subject's last one
 * as its head.  Two transactions appending the same seq of a subject collide
 * on audit_log's key at the COMMIT (ABORTED).
 */
static const char SQL_APPEND[] =
	"WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], "
	"$7::bigint[], $8::text[], $9::bytea[], $10::bytea[]) AS u(tenant_id, subject_type, subject_id, seq, actor, "
	"action, at_us, details, prev_hash, hash)), "
	"l AS (INSERT INTO audit_log (tenant_id, subject_type, subject_id, seq, actor, action, at_us, details, "
	"prev_hash, hash) SELECT * FROM u) "
	"INSERT INTO audit_heads (tenant_id, subject_id, subject_type, entries, head_hash) "
	"SELECT DISTINCT ON (tenant_id, subject_id) tenant_id, subject_id, subject_type, seq, hash FROM u "
	"ORDER BY tenant_id, subject_id, seq DESC "
	"ON CONFLICT (tenant_id, subject_id) DO UPDATE SET entries = EXCLUDED.entries, head_hash = EXCLUDED.head_hash";
enum { APPEND_COLUMNS = 10 };

static const char SQL_ENTRIES[] =
	"SELECT tenant_id, subject_type, subject_id, seq, actor, action, at_us, details, prev_hash, hash "
	"FROM audit_log WHERE tenant_id = current_tenant() AND subject_id = $1 AND seq > $2 "
	"ORDER BY seq LIMIT $3";

static const char SQL_HEAD[] =
	"SELECT entries, head_hash FROM audit_heads WHERE tenant_id = current_tenant() AND subject_id = $1";

static const char SQL_HEADS_PAGE[] =
	"SELECT subject_id FROM audit_heads WHERE tenant_id = current_tenant() AND subject_id > $1 "
	"ORDER BY subject_id LIMIT 500";

static const char SQL_HEADS_CHECKPOINT[] =
	"SELECT subject_id, entries, head_hash FROM audit_heads WHERE tenant_id = current_tenant() AND subject_id > $1 "
	"ORDER BY subject_id LIMIT 500";

static const char SQL_ORPHAN_ENTRIES[] =
	"SELECT l.subject_id FROM audit_log l WHERE l.tenant_id = current_tenant() AND l.seq = 1 AND NOT EXISTS "
	"(SELECT 1 FROM audit_heads h WHERE h.tenant_id = l.tenant_id AND h.subject_id = l.subject_id) LIMIT 1";

static void be64(uint8_t out[8], int64_t v)
{
	uint64_t u = (uint64_t)v;
	for (int i = 7; i >= 0; i--, u >>= 8)
		out[i] = (uint8_t)u;
}

static void lp_str(hl_buf *b, const char *s)
{
	hl_buf_lp(b, s, strlen(s));
}

hl_status hl_audit_hash(const hl_audit_entry *e, uint8_t out[HL_AUDIT_HASH_LEN])
{
	static const char magic[] = "hotline.audit.v1"; /* written with its NUL */
	hl_buf b = HL_BUF_INIT;
	uint8_t n[8];
	hl_buf_append(&b, e->prev_hash, HL_AUDIT_HASH_LEN);
	hl_buf_append(&b, magic, sizeof magic);
	lp_str(&b, e->tenant);
	lp_str(&b, e->subject_type);
	lp_str(&b, e->subject_id);
	be64(n, e->seq);
	hl_buf_append(&b, n, 8);
	lp_str(&b, e->actor);
	lp_str(&b, e->action);
	be64(n, e->at_us);
	hl_buf_append(&b, n, 8);
	lp_str(&b, e->details);
	hl_status st = hl_buf_failed(&b) ? HL_NOMEM : hl_sha256(b.data, b.len, out, NULL);
	hl_buf_release(&b);
	return st;
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * The heads this thread appended in its open transaction.  Their entries
 * wait for the COMMIT, so the stored head of such a subject is stale until
 * then; the append holds the head row's lock until the transaction ends, so
 * the head kept here stays right for it.  When more subjects than fit were
 * appended (or a name is too long to keep), the waiting rows are sent
 * before any head is read.
 */
#define KEPT_HEADS 256 /* a held batch's items (BATCH_MAX_ITEMS), a subject or so each */
struct kept_head {
	char tenant[64], subject[128];
	int64_t seq;
	uint8_t hash[HL_AUDIT_HASH_LEN];
};
static __thread struct {
	uint64_t tx;
	int n;
	bool overflow;
	struct kept_head h[KEPT_HEADS];
} kept;

static void kept_for(const hl_pg *pg)
{
	uint64_t tx = hl_pg_tx_serial(pg); /* 0: none open, nothing waits */
	if (kept.tx != tx || !tx) {
		kept.tx = tx;
		kept.n = 0;
		kept.overflow = false;
	}
}

static struct kept_head *kept_find(const char *tenant, const char *subject)
{
	for (int i = 0; i < kept.n; i++)
		if (strcmp(kept.h[i].subject, subject) == 0 && strcmp(kept.h[i].tenant, tenant) == 0)
			return &kept.h[i];
	return NULL;
}

/* The kept head of tenant/subject, made if there is room (NULL: none and no room). */
static struct kept_head *kept_slot(const char *tenant, const char *subject)
{
	struct kept_head *k = kept_find(tenant, subject);
	if (!k && kept.n < KEPT_HEADS && strlen(tenant) < sizeof k->tenant && strlen(subject) < sizeof k->subject) {
		k = &kept.h[kept.n++];
		snprintf(k->tenant, sizeof k->tenant, "%s", tenant);
		snprintf(k->subject, sizeof k->subject, "%s", subject);
	}
	return k;
}

static void kept_put(const hl_audit_entry *e)
{
	if (!kept.tx)
		return;
	struct kept_head *k = kept_slot(e->tenant, e->subject_id);
	if (!k) {
		kept.overflow = true;
		return;
	}
	k->seq = e->seq;
	memcpy(k->hash, e->hash, HL_AUDIT_HASH_LEN);
}

/* Before a read of the audit tables: the entries waiting for the COMMIT go first. */
static hl_status send_waiting(hl_pg *pg, hl_error *err)
{
	kept_for(pg);
	return kept.n || kept.overflow ? hl_pg_rows_send(pg, err) : HL_OK;
}

/*
 * e's seq and prev_hash: kept, or read and locked from the stored head.  A new subject has no
 * stored head, unless this transaction appended to it already and had no room to keep its head.
 */
static hl_status load_head(hl_pg *pg, hl_arena *a, hl_audit_entry *e, bool new_subject, hl_error *err)
{
	kept_for(pg);
	const struct kept_head *k = kept_find(e->tenant, e->subject_id);
	if (k) {
		e->seq = k->seq + 1;
		memcpy(e->prev_hash, k->hash, HL_AUDIT_HASH_LEN);
		return HL_OK;
	}
	if (new_subject && !kept.overflow)
		return HL_OK;
	hl_status st = kept.overflow ? hl_pg_rows_send(pg, err) : HL_OK;
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, e->subject_id);
	PGresult *r;
	if (st || (st = hl_pg_exec(pg, a, SQL_HEAD_LOCK, &args, &r, err)) || PQntuples(r) == 0)
		return st;
	uint8_t *h;
	size_t hl;
	if ((st = hl_pg_get_bytes(r, 0, 1, a, &h, &hl)))
		return hl_fail(err, st, "out of memory");
	if (hl != HL_AUDIT_HASH_LEN)
		return hl_fail(err, HL_INTERNAL, "audit head of subject is malformed");
	e->seq = hl_pg_get_int(r, 0, 0) + 1;
	memcpy(e->prev_hash, h, HL_AUDIT_HASH_LEN);
	return HL_OK;
}

/* Hash e (seq and prev_hash set), add it to rows and keep its head. */
static hl_status add_entry(hl_pg_rows *rows, hl_audit_entry *e, hl_error *err)
{
	if (hl_audit_hash(e, e->hash))
		return hl_fail(err, HL_INTERNAL, "cannot hash audit entry");
	hl_pg_rows_text(rows, e->tenant);
	hl_pg_rows_text(rows, e->subject_type);
	hl_pg_rows_text(rows, e->subject_id);
	hl_pg_rows_int(rows, e->seq);
	hl_pg_rows_text(rows, e->actor);
	hl_pg_rows_text(rows, e->action);
	hl_pg_rows_int(rows, e->at_us);
	hl_pg_rows_text(rows, e->details);
	hl_pg_rows_bytes(rows, e->prev_hash, HL_AUDIT_HASH_LEN);
	hl_pg_rows_bytes(rows, e->hash, HL_AUDIT_HASH_LEN);
	kept_put(e);
	return HL_OK;
}

hl_status hl_audit_append(hl_pg *pg, hl_arena *a, const char *tenant, const char *subject_type,
			  const char *subject_id, const char *actor, const char *action, const char *details,
			  bool new_subject, hl_error *err)
{
	hl_audit_entry e = {.tenant = tenant, .subject_type = subject_type, .subject_id = subject_id,
			    .seq = 1, .actor = actor, .action = action, .at_us = now_us(),
			    .details = details ? details : "{}"};
	hl_pg_rows rows;
	hl_pg_rows_init(&rows, a, APPEND_COLUMNS);
	hl_status st;
	if ((st = load_head(pg, a, &e, new_subject, err)) || (st = add_entry(&rows, &e, err)))
		return st;
	return hl_pg_rows_at_commit(pg, SQL_APPEND, &rows, err); /* a race shows at the commit, as ABORTED */
}

hl_status hl_audit_lock_heads(hl_pg *pg, hl_arena *a, const char *tenant, const char *const *subjects, int n,
			      hl_error *err)
{
	kept_for(pg);
	if (!kept.tx)
		return hl_fail(err, HL_INTERNAL, "audit heads locked outside a transaction");
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text_array(&args, a, subjects, n);
	PGresult *r;
	hl_status st = send_waiting(pg, err); /* heads appended to so far are kept, the others stored */
	if (st || (st = hl_pg_exec(pg, a, SQL_HEADS_LOCK, &args, &r, err)))
		return st;
	for (int i = 0; i < PQntuples(r); i++) {
		uint8_t *h;
		size_t hl;
		if (hl_pg_get_bytes(r, i, 2, a, &h, &hl) || hl != HL_AUDIT_HASH_LEN)
			return hl_fail(err, HL_INTERNAL, "audit head of subject is malformed");
		if (kept_find(tenant, hl_pg_get(r, i, 0))) /* appended to in this transaction: the kept one is newer */
			continue;
		struct kept_head *k = kept_slot(tenant, hl_pg_get(r, i, 0));
		if (!k)
			break; /* the rest read their heads as they append */
		k->seq = hl_pg_get_int(r, i, 1);
		memcpy(k->hash, h, HL_AUDIT_HASH_LEN);
	}
	return HL_OK;
}

hl_status hl_audit_append_new(hl_pg *pg, hl_arena *a, hl_audit_entry *e, int n, hl_error *err)
{
	hl_pg_rows rows;
	hl_pg_rows_init(&rows, a, APPEND_COLUMNS);
	int64_t at = now_us();
	kept_for(pg);
	for (int i = 0; i < n; i++) {
		e[i].seq = 1;
		e[i].at_us = at;
		e[i].details = e[i].details ? e[i].details : "{}";
		memset(e[i].prev_hash, 0, HL_AUDIT_HASH_LEN);
		hl_status st = add_entry(&rows, &e[i], err);
		if (st)
			return st;
	}
	return n ? hl_pg_rows_at_commit(pg, SQL_APPEND, &rows, err) : HL_OK; /* a race: ABORTED at the commit */
}

/* ---- verification ---------------------------------------------------------- */

static hl_status row_entry(const PGresult *r, int i, hl_arena *a, hl_audit_entry *e)
{
	uint8_t *p, *h;
	size_t pl, hlen;
	e->tenant = hl_pg_get(r, i, 0);
	e->subject_type = hl_pg_get(r, i, 1);
	e->subject_id = hl_pg_get(r, i, 2);
	e->seq = hl_pg_get_int(r, i, 3);
	e->actor = hl_pg_get(r, i, 4);
	e->action = hl_pg_get(r, i, 5);
	e->at_us = hl_pg_get_int(r, i, 6);
	e->details = hl_pg_get(r, i, 7);
	if (hl_pg_get_bytes(r, i, 8, a, &p, &pl) || hl_pg_get_bytes(r, i, 9, a, &h, &hlen))
		return HL_NOMEM;
	memset(e->prev_hash, 0, sizeof e->prev_hash);
	memset(e->hash, 0, sizeof e->hash);
	memcpy(e->prev_hash, p, pl < HL_AUDIT_HASH_LEN ? pl : HL_AUDIT_HASH_LEN);
	memcpy(e->hash, h, hlen < HL_AUDIT_HASH_LEN ? hlen : HL_AUDIT_HASH_LEN);
	return (pl == HL_AUDIT_HASH_LEN && hlen == HL_AUDIT_HASH_LEN) ? HL_OK : HL_INVALID;
}

static void report_bad(hl_audit_report *out, hl_arena *a, const char *subject, const char *problem,
		       const hl_audit_entry *e)
{
	out->ok = false;
	out->bad_subject = hl_arena_strdup(a, subject);
	out->problem = hl_arena_strdup(a, problem);
	if (e)
		out->bad = *e;
}

static hl_status fetch_entries(hl_pg *pg, hl_arena *a, const char *subject, int64_t after, int limit,
			       PGresult **r, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, subject);
	hl_pg_arg_int(&args, a, after);
	hl_pg_arg_int(&args, a, limit);
	return hl_pg_exec(pg, a, SQL_ENTRIES, &args, r, err);
}

/* Verify one chain against its head; false with *out filled when it is bad. */
static hl_status verify_subject(hl_pg *pg, hl_arena *a, const char *subject, hl_audit_report *out, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, subject);
	PGresult *head;
	hl_status st = hl_pg_exec(pg, a, SQL_HEAD, &args, &head, err);
	if (st)
		return st;
	uint8_t prev[HL_AUDIT_HASH_LEN] = {0};
	int64_t seen = 0;
	hl_audit_entry e;
	for (;;) {
		PGresult *r;
		if ((st = fetch_entries(pg, a, subject, seen, 1000, &r, err)))
			return st;
		int n = PQntuples(r);
		for (int i = 0; i < n; i++) {
			uint8_t h[HL_AUDIT_HASH_LEN];
			if (row_entry(r, i, a, &e) != HL_OK) {
				report_bad(out, a, subject, "malformed hash", &e);
				return HL_OK;
			}
			if (e.seq != seen + 1) {
				report_bad(out, a, subject, "entry missing before this one", &e);
				return HL_OK;
			}
			if (memcmp(e.prev_hash, prev, sizeof prev) != 0) {
				report_bad(out, a, subject, "prev_hash does not match the previous entry", &e);
				return HL_OK;
			}
			if (hl_audit_hash(&e, h) || memcmp(h, e.hash, sizeof h) != 0) {
				report_bad(out, a, subject, "hash mismatch: entry was altered", &e);
				return HL_OK;
			}
			memcpy(prev, e.hash, sizeof prev);
			seen = e.seq;
			out->entries++;
		}
		if (n < 1000)
			break;
	}
	out->chains++;
	if (PQntuples(head) == 0) {
		report_bad(out, a, subject, seen ? "chain head missing" : "chain missing", NULL);
		return HL_OK;
	}
	uint8_t *hh;
	size_t hhl;
	if (hl_pg_get_bytes(head, 0, 1, a, &hh, &hhl))
		return hl_fail(err, HL_NOMEM, "out of memory");
	if (hl_pg_get_int(head, 0, 0) != seen)
		report_bad(out, a, subject, seen ? "chain truncated: fewer entries than its head records"
						 : "chain missing: its entries were deleted", NULL);
	else if (hhl != HL_AUDIT_HASH_LEN || memcmp(hh, prev, hhl) != 0)
		report_bad(out, a, subject, "chain head hash does not match the last entry", NULL);
	return HL_OK;
}

static hl_status first_missing(hl_pg *pg, hl_arena *a, const char *sql, const char **subject, hl_error *err)
{
	PGresult *r;
	*subject = NULL;
	hl_status st = hl_pg_exec(pg, a, sql, NULL, &r, err);
	if (st == HL_OK && PQntuples(r) > 0)
		*subject = hl_pg_get(r, 0, 0);
	return st;
}

static hl_status verify_all(hl_pg *pg, hl_arena *a, const char *missing_sql, hl_audit_report *out, hl_error *err)
{
	const char *after = "";
	hl_status st;
	for (;;) {
		hl_pg_args args;
		hl_pg_args_init(&args);
		hl_pg_arg_text(&args, after);
		PGresult *r;
		if ((st = hl_pg_exec(pg, a, SQL_HEADS_PAGE, &args, &r, err)))
			return st;
		int n = PQntuples(r);
		for (int i = 0; i < n && out->ok; i++)
			if ((st = verify_subject(pg, a, hl_pg_get(r, i, 0), out, err)))
				return st;
		if (!out->ok || n < 500)
			break;
		after = hl_pg_get(r, n - 1, 0);
	}
	const char *missing = NULL;
	if (out->ok && (st = first_missing(pg, a, SQL_ORPHAN_ENTRIES, &missing, err)))
		return st;
	if (out->ok && missing)
		report_bad(out, a, missing, "chain head missing", NULL);
	if (out->ok && missing_sql && (st = first_missing(pg, a, missing_sql, &missing, err)))
		return st;
	if (out->ok && missing)
		report_bad(out, a, missing, "chain missing: record has no audit trail", NULL);
	return HL_OK;
}

hl_status hl_audit_verify(hl_pg *pg, hl_arena *a, const char *subject_id, const char *missing_sql,
			  hl_audit_report *out, hl_error *err)
{
	memset(out, 0, sizeof *out);
	out->ok = true;
	hl_status st = send_waiting(pg, err);
	if (st)
		return st;
	if (subject_id)
		return verify_subject(pg, a, subject_id, out, err);
	return verify_all(pg, a, missing_sql, out, err);
}

/* ---- AuditService ------------------------------------------------------------ */

static const char *g_missing_sql;

static Hotline__Audit__V1__AuditEntry *entry_msg(hl_call *c, const hl_audit_entry *e)
{
	hl_arena *a = hl_call_arena(c);
	Hotline__Audit__V1__AuditEntry *m = HL_NEW(c, hotline__audit__v1__audit_entry__descriptor);
	Google__Protobuf__Timestamp *ts = HL_NEW(c, google__protobuf__timestamp__descriptor);
	if (!m || !ts)
		return NULL;
	m->tenant = (char *)e->tenant;
	m->subject_type = (char *)e->subject_type;
	m->subject_id = (char *)e->subject_id;
	m->seq = e->seq;
	m->actor = (char *)e->actor;
	m->action = (char *)e->action;
	m->at_us = e->at_us;
	m->details = (char *)e->details;
	m->prev_hash = (ProtobufCBinaryData){HL_AUDIT_HASH_LEN, hl_arena_memdup(a, e->prev_hash, HL_AUDIT_HASH_LEN)};
	m->hash = (ProtobufCBinaryData){HL_AUDIT_HASH_LEN, hl_arena_memdup(a, e->hash, HL_AUDIT_HASH_LEN)};
	ts->seconds = e->at_us / 1000000;
	ts->nanos = (int32_t)(e->at_us % 1000000) * 1000;
	m->at = ts;
	return m;
}

static hl_status require_any_role(hl_call *c, const char *const *roles)
{
	if (hl_call_has_any(c, roles))
		return HL_OK;
	return hl_call_fail(c, HL_DENIED, "role auditor or tenant_admin required");
}

static hl_status audit_begin(hl_call *c)
{
	hl_error err;
	hl_status st = hl_pg_begin(hl_call_pg(c), hl_call_tenant(c), hl_call_remaining_ms(c), &err);
	return st ? hl_call_fail_err(c, &err) : HL_OK;
}

static hl_status list_entries(hl_call *c, const void *vreq, void **vresp)
{
	static const char *const roles[] = {HL_ROLE_AUDITOR, HL_ROLE_TENANT_ADMIN, HL_ROLE_SUPERVISOR, NULL};
	const Hotline__Audit__V1__ListAuditEntriesRequest *req = vreq;
	hl_status st = require_any_role(c, roles);
	if (st)
		return st;
	if (!req->subject_id[0])
		return hl_call_fail(c, HL_INVALID, "subject_id: required");
	int size = req->page_size <= 0 ? 100 : req->page_size > 1000 ? 1000 : req->page_size;
	char *end = NULL;
	long long after = req->page_token[0] ? strtoll(req->page_token, &end, 10) : 0;
	if (req->page_token[0] && (*end || after < 0))
		return hl_call_fail(c, HL_INVALID, "page_token: malformed");
	if ((st = audit_begin(c)))
		return st;
	hl_arena *a = hl_call_arena(c);
	hl_pg *pg = hl_call_pg(c);
	hl_error err;
	PGresult *r;
	st = fetch_entries(pg, a, req->subject_id, after, size + 1, &r, &err);
	hl_pg_rollback(pg);
	if (st)
		return hl_call_fail_err(c, &err);
	Hotline__Audit__V1__ListAuditEntriesResponse *resp =
		HL_NEW(c, hotline__audit__v1__list_audit_entries_response__descriptor);
	int n = PQntuples(r) > size ? size : PQntuples(r);
	resp->entries = hl_arena_alloc(a, (size_t)(n ? n : 1) * sizeof *resp->entries);
	for (int i = 0; i < n; i++) {
		hl_audit_entry e;
		(void)row_entry(r, i, a, &e);
		resp->entries[resp->n_entries++] = entry_msg(c, &e);
	}
	if (PQntuples(r) > size)
		resp->next_page_token = hl_arena_printf(a, "%lld", (long long)resp->entries[n - 1]->seq);
	*vresp = resp;
	return HL_OK;
}

static hl_status verify_chain(hl_call *c, const void *vreq, void **vresp)
{
	static const char *const roles[] = {HL_ROLE_AUDITOR, HL_ROLE_TENANT_ADMIN, NULL};
	const Hotline__Audit__V1__VerifyAuditChainRequest *req = vreq;
	hl_status st = require_any_role(c, roles);
	if (st || (st = audit_begin(c)))
		return st;
	hl_audit_report rep;
	hl_error err;
	hl_pg *pg = hl_call_pg(c);
	st = hl_audit_verify(pg, hl_call_arena(c), req->subject_id[0] ? req->subject_id : NULL, g_missing_sql, &rep,
			     &err);
	hl_pg_rollback(pg);
	if (st)
		return hl_call_fail_err(c, &err);
	Hotline__Audit__V1__VerifyAuditChainResponse *resp =
		HL_NEW(c, hotline__audit__v1__verify_audit_chain_response__descriptor);
	resp->ok = rep.ok;
	resp->chains_checked = rep.chains;
	resp->entries_checked = rep.entries;
	if (!rep.ok) {
		resp->problem = (char *)rep.problem;
		resp->bad_subject_id = (char *)rep.bad_subject;
		if (rep.bad.seq > 0)
			resp->first_bad = entry_msg(c, &rep.bad);
	}
	*vresp = resp;
	return HL_OK;
}

static const hl_method audit_methods[] = {
	{"ListAuditEntries", list_entries, HL_ACCESS_USER, NULL, NULL},
	{"VerifyAuditChain", verify_chain, HL_ACCESS_USER, NULL, NULL},
};

hl_service hl_audit_service(const char *missing_sql)
{
	g_missing_sql = missing_sql;
	return (hl_service){&hotline__audit__v1__audit_service__descriptor, audit_methods,
			    sizeof audit_methods / sizeof audit_methods[0]};
}

/* One step of the checkpoint chain: d = SHA-256(d || lp(subject) || be64(entries) || head). */
static hl_status checkpoint_step(uint8_t d[HL_AUDIT_HASH_LEN], const char *subject, int64_t entries,
				 const uint8_t *head, size_t head_len, hl_error *err)
{
	hl_buf b = HL_BUF_INIT;
	uint8_t n[8];
	be64(n, entries);
	hl_buf_append(&b, d, HL_AUDIT_HASH_LEN);
	lp_str(&b, subject);
	hl_buf_append(&b, n, sizeof n);
	hl_buf_append(&b, head, head_len);
	hl_status st = hl_buf_failed(&b) ? hl_fail(err, HL_NOMEM, "out of memory") : hl_sha256(b.data, b.len, d, err);
	hl_buf_release(&b);
	return st;
}

hl_status hl_audit_checkpoint_compute(hl_pg *pg, hl_arena *a, hl_audit_checkpoint *out, hl_error *err)
{
	memset(out, 0, sizeof *out);
	hl_status waiting = send_waiting(pg, err);
	if (waiting)
		return waiting;
	const char *after = "";
	for (;;) {
		hl_arena *page = hl_arena_new();
		if (!page)
			return hl_fail(err, HL_NOMEM, "out of memory");
		hl_pg_args args = hl_pg_args_key(after);
		PGresult *r;
		hl_status st = hl_pg_exec(pg, page, SQL_HEADS_CHECKPOINT, &args, &r, err);
		int n = st ? 0 : PQntuples(r);
		for (int i = 0; i < n && !st; i++) {
			uint8_t *head;
			size_t len;
			int64_t entries = hl_pg_get_int(r, i, 1);
			if ((st = hl_pg_get_bytes(r, i, 2, page, &head, &len)))
				st = hl_fail(err, st, "audit_heads.head_hash: unreadable");
			else
				st = checkpoint_step(out->digest, hl_pg_get(r, i, 0), entries, head, len, err);
			out->chains++;
			out->entries += entries;
		}
		if (!st && n == 500)
			after = hl_arena_strdup(a, hl_pg_get(r, n - 1, 0));
		hl_arena_free(page);
		if (st)
			return st;
		if (n < 500)
			return HL_OK;
		if (!after)
			return hl_fail(err, HL_NOMEM, "out of memory");
	}
}
