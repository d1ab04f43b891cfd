/*
 * outbox.c - the outbox relay (see outbox.h): lease a batch in one short
 * transaction, deliver it with no transaction open (a tenant's events to
 * reporting merged into one call), mark the results in a second one.  The
 * SQL here is that of the shared outbox table, which every service schema
 * has (000_common.sql).
 */
#include "hl/outbox.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hl/buf.h"
#include "hl/crypto.h"
#include "hl/enqueue.h" /* HL_ENQUEUE_RECORD_EVENTS */
#include "hl/log.h"
#include "hl/pg.h"
#include "hl/timers.h" /* hl_now_ms */
#include "hl/rpc_client.h"
#include "hotline/batch/v1/batch.pb-c.h"
#include "hotline/reporting/v1/reporting.pb-c.h"

#define MAX_TARGETS 8
#define LEASE_MARGIN_MS 5000 /* a lease lasts the call timeout and this */
#define TX_TIMEOUT_MS 30000  /* statement_timeout of the claim and mark transactions */

/* The targets that have undelivered rows: a loose index scan, one probe per target. */
static const char SQL_TARGETS[] =
	"WITH RECURSIVE t(target) AS ((SELECT target FROM outbox WHERE delivered_at IS NULL AND dead_at IS NULL "
	"ORDER BY target LIMIT 1) UNION ALL SELECT (SELECT o.target FROM outbox o WHERE o.delivered_at IS NULL "
	"AND o.dead_at IS NULL AND o.target > t.target ORDER BY o.target LIMIT 1) FROM t WHERE t.target IS NOT NULL) "
	"SELECT target FROM t WHERE target IS NOT NULL LIMIT 64";

/*
 * Lease up to $1 due rows of target $2, each the oldest undelivered row of its
 * subject for the target, for $3 ms: their leased_until moves past the
 * deliveries, so no other claim takes them (nor, since they stay the oldest
 * undelivered rows of their subjects, the rows behind them) until they are
 * marked or the lease runs out.  leased_until is in no index, so the update
 * is HOT (007_outbox_hot_lease.sql).  The row locks last only as long as this
 * statement's transaction.
 *
 * The oldest undelivered row of a subject is a LATERAL subquery with LIMIT,
 * which the planner cannot turn into a join: it can only probe, once per due
 * row, with that row's tenant, subject and target (outbox_subject gives it in
 * id order).  Written as NOT EXISTS it was an anti-join, and with statistics
 * that said "empty" (taken a moment the queue was) the planner rescanned all
 * of the target's undelivered rows for each due row, and joined the leased
 * rows back by scanning the whole table: 456 ms against 1.7 ms for a claim of
 * 128 among 1,000 waiting rows.  The leased rows are updated by their ctid,
 * taken under the row lock (a TID scan, no join).
 */
static const char SQL_CLAIM[] =
	"WITH due AS (SELECT o.ctid AS tid FROM outbox o CROSS JOIN LATERAL (SELECT p.id FROM outbox p "
	"WHERE p.tenant_id = o.tenant_id AND p.subject_id = o.subject_id AND p.target = o.target "
	"AND p.delivered_at IS NULL AND p.dead_at IS NULL ORDER BY p.id LIMIT 1) head "
	"WHERE o.delivered_at IS NULL AND o.dead_at IS NULL AND o.target = $2 AND o.next_attempt_at <= now() "
	"AND (o.leased_until IS NULL OR o.leased_until <= now()) AND head.id = o.id "
	"ORDER BY o.next_attempt_at, o.id LIMIT $1 FOR UPDATE OF o SKIP LOCKED) "
	"UPDATE outbox o SET leased_until = now() + make_interval(secs => $3::double precision / 1000) "
	"WHERE o.ctid = ANY (ARRAY(SELECT tid FROM due)) "
	"RETURNING o.tenant_id, o.id, o.target, o.method, o.idempotency_key, o.actor, o.payload, o.attempts, o.ctid";

/*
 * The claim's good plan is known and does not depend on the data: walk the
 * target's due rows in order (outbox_due_by_target) and probe each one's
 * subject, by index.  An outbox fills from empty in seconds, long before
 * autovacuum's next ANALYZE, and with statistics that still say "empty" the
 * planner chose sequential scans, or the due rows sorted again: so the relay's
 * transactions (the claim's and the mark's, relay_begin) rule those plans
 * out (SET LOCAL: that transaction only).
 */
static const char SQL_RELAY_PLAN[] =
	"SELECT set_config('enable_seqscan', 'off', true), set_config('enable_hashjoin', 'off', true), "
	"set_config('enable_mergejoin', 'off', true), set_config('enable_sort', 'off', true)";

/*
 * Delivered rows are deleted (009_outbox_delete_delivered.sql), or kept as
 * delivered for a while.  They are found by the row versions the claim
 * leased ($1, ctid) and their ids ($2): a TID scan, whatever the statistics
 * (in the relay's transaction plan, SQL_RELAY_PLAN).  Matched as pairs
 * against (tenant_id, id) the planner, with statistics taken while the queue
 * was empty, scanned the whole table once per claim: 14 ms a claim of 128
 * in the pipeline benchmark, against 1 ms.  A row leased again after its
 * lease ran out is a new version: it is left as it is (delivered twice at
 * most, which the receivers' inboxes absorb).  Ids are never reused, so a
 * version's place taken by another row does not match.
 */
#define CLAIMED_VERSIONS "ctid = ANY ($1::tid[]) AND id = ANY ($2::bigint[])"
static const char SQL_DELIVERED_DELETE[] = "DELETE FROM outbox WHERE " CLAIMED_VERSIONS;
static const char SQL_DELIVERED_KEEP[] =
	"UPDATE outbox SET delivered_at = now(), attempts = attempts + 1, last_error = NULL WHERE " CLAIMED_VERSIONS;

/*
 * (A row whose lease ran out may have been delivered by another claim
 * meanwhile: left as it is.)  The lease ends with the attempt, so a retry
 * comes due at its backoff and a re-driven dead row at once.
 */
static const char SQL_RETRY[] =
	"UPDATE outbox SET attempts = attempts + 1, last_error = $3, leased_until = NULL, "
	"next_attempt_at = now() + make_interval(secs => $4::double precision / 1000) "
	"WHERE tenant_id = $1 AND id = $2 AND delivered_at IS NULL AND dead_at IS NULL";

static const char SQL_DEAD[] =
	"UPDATE outbox SET attempts = attempts + 1, last_error = $3, dead_at = now(), leased_until = NULL "
	"WHERE tenant_id = $1 AND id = $2 AND delivered_at IS NULL AND dead_at IS NULL";

/* Delivered rows older than the keep window, oldest first, a batch at a time (006_outbox_purge.sql);
 * with no window, those kept before (the relay deletes what it delivers). */
static const char SQL_PURGE[] =
	"DELETE FROM outbox WHERE (tenant_id, id) IN (SELECT tenant_id, id FROM outbox "
	"WHERE delivered_at < now() - make_interval(secs => $1::double precision / 1000) "
	"ORDER BY delivered_at LIMIT $2 FOR UPDATE SKIP LOCKED)";
#define PURGE_EVERY_S 10
#define PURGE_BATCH 5000
#define PURGE_BATCHES 20 /* per round: 100,000 rows, then the relay's own work again */

static const char SQL_STATS[] =
	"SELECT count(*) FILTER (WHERE dead_at IS NULL), "
	"coalesce(extract(epoch from now() - min(created_at) FILTER (WHERE dead_at IS NULL)), 0), "
	"count(*) FILTER (WHERE dead_at IS NOT NULL) FROM outbox WHERE delivered_at IS NULL";

/*
 * A target that answered a whole batch with retryable errors (down, not
 * deployed yet) is rested: this thread claims none of its rows until
 * rest_until, then tries again with one batch (1 s doubling to
 * TARGET_REST_MAX_MS).  Thousands of rows waiting for it then cost nothing
 * instead of a call and an update each per backoff period, and the rows of
 * other targets flow; each row keeps its own backoff as well.
 */
#define TARGET_REST_MAX_MS 10000
struct target {
	char name[32];
	hl_client *client; /* NULL: no address configured */
	int64_t rest_until_ms;
	int rests; /* consecutive batches that failed */
};

struct relay_thread {
	hl_relay *r;
	pthread_t th;
	int index;
	hl_pg *pg;
	struct target targets[MAX_TARGETS];
	int n_targets;
	unsigned claims; /* claims made: which target comes first in the next */
};

struct hl_relay {
	hl_relay_config cfg;
	struct relay_thread *threads;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	hl_metric *deliveries, *backlog, *oldest, *dead, *purged;
};

/* One claimed row and what became of it. */
struct row {
	const char *tenant, *id, *target, *method, *key, *actor;
	const char *version; /* the row version leased (ctid) */
	uint8_t *payload;
	size_t len;
	int attempts;
	int code; /* gRPC code of the delivery, -1: not attempted */
	const char *error;
	hl_client_pending *pending; /* the call in flight */
	uint8_t *resp;              /* the call's answer */
	size_t resp_len;
	int group;                  /* the call that carried it (struct group, index), -1: its own call */
	int item;                   /* its place in that Apply call */
};

bool hl_relay_retryable(int code)
{
	return code == 14 /* UNAVAILABLE */ || code == 12 /* UNIMPLEMENTED */ || code == 4 /* DEADLINE */ ||
	       code == 8 /* RESOURCE_EXHAUSTED */ || code == 10 /* ABORTED */ || code < 0;
}

int64_t hl_relay_backoff_ms(int attempt, int cap_ms)
{
	int64_t ms = 100;
	for (int i = 1; i < attempt && ms < cap_ms; i++)
		ms *= 2;
	if (ms > cap_ms)
		ms = cap_ms;
	uint32_t r = 0;
	if (hl_random_bytes(&r, sizeof r))
		r = (uint32_t)time(NULL);
	int64_t jitter = ms / 5;
	return ms - jitter + (int64_t)(r % (uint32_t)(2 * jitter + 1));
}

/* ---- targets ------------------------------------------------------------------ */

static hl_client *target_client(struct relay_thread *t, const char *name)
{
	for (int i = 0; i < t->n_targets; i++)
		if (strcmp(t->targets[i].name, name) == 0)
			return t->targets[i].client;
	if (t->n_targets == MAX_TARGETS)
		return NULL;
	struct target *tg = &t->targets[t->n_targets++];
	snprintf(tg->name, sizeof tg->name, "%s", name);
	char var[64];
	int n = snprintf(var, sizeof var, "HOTLINE_%s_ADDR", name);
	for (int i = 8; i < n; i++)
		var[i] = (char)toupper((unsigned char)var[i]);
	const char *addr = getenv(var);
	hl_error err;
	if (addr && *addr &&
	    hl_client_new(addr, t->r->cfg.tls_cert, t->r->cfg.tls_key, t->r->cfg.tls_ca, &tg->client, &err))
		HL_LOG_ERROR("relay_target_failed", "target=%s msg=\"%s\"", name, hl_error_text(&err));
	return tg->client;
}

/* ---- one batch ------------------------------------------------------------------ */

static bool resting(const struct relay_thread *t, const char *name, int64_t now)
{
	for (int i = 0; i < t->n_targets; i++)
		if (strcmp(t->targets[i].name, name) == 0)
			return t->targets[i].rest_until_ms > now;
	return false;
}

/* After a batch: rest the targets that only failed (retryably), wake those that answered. */
static void update_rests(struct relay_thread *t, const struct row *rows, int n)
{
	for (int i = 0; i < t->n_targets; i++) {
		struct target *tg = &t->targets[i];
		bool failed = false, answered = false;
		for (int j = 0; j < n; j++) {
			if (strcmp(rows[j].target, tg->name) != 0)
				continue;
			answered = answered || rows[j].code == 0 || !hl_relay_retryable(rows[j].code);
			failed = failed || (rows[j].code != 0 && hl_relay_retryable(rows[j].code));
		}
		if (answered || !failed) {
			if (answered)
				tg->rests = 0;
			continue;
		}
		int64_t ms = 1000;
		for (int k = 0; k < tg->rests && ms < TARGET_REST_MAX_MS; k++)
			ms *= 2;
		tg->rests++;
		tg->rest_until_ms = hl_now_ms() + (ms < TARGET_REST_MAX_MS ? ms : TARGET_REST_MAX_MS);
	}
}

/* Append the rows of res to rows[*n]. */
static hl_status read_rows(const PGresult *res, hl_arena *a, struct row *rows, int *n, hl_error *err)
{
	for (int i = 0; i < PQntuples(res); i++) {
		struct row *rw = &rows[(*n)++];
		rw->tenant = hl_pg_get(res, i, 0);
		rw->id = hl_pg_get(res, i, 1);
		rw->target = hl_pg_get(res, i, 2);
		rw->method = hl_pg_get(res, i, 3);
		rw->key = hl_pg_get(res, i, 4);
		rw->actor = hl_pg_get(res, i, 5);
		hl_status st = hl_pg_get_bytes(res, i, 6, a, &rw->payload, &rw->len);
		if (st)
			return hl_fail(err, st, "out of memory");
		rw->attempts = (int)hl_pg_get_int(res, i, 7);
		rw->version = hl_pg_get(res, i, 8);
		rw->code = -1;
		rw->group = -1;
	}
	return HL_OK;
}

/*
 * How long a claim leases its rows: longer than the deliveries (which run side
 * by side, each bounded by the call timeout) and the marks that follow.  A
 * relay killed in between leaves its rows to come due again after this.
 */
static int lease_ms(const hl_relay *r)
{
	return r->cfg.call_timeout_ms + LEASE_MARGIN_MS;
}

/*
 * Claim up to a batch: target by target (skipping the resting ones), starting
 * with the next target each time so that one busy target does not crowd out
 * the others.
 */
static hl_status claim(struct relay_thread *t, hl_arena *a, struct row **rows, int *n, hl_error *err)
{
	int batch = t->r->cfg.batch;
	PGresult *targets;
	*n = 0;
	hl_status st = hl_pg_exec(t->pg, a, SQL_TARGETS, NULL, &targets, err);
	if (st)
		return st;
	if (!(*rows = hl_arena_alloc(a, (size_t)batch * sizeof **rows)))
		return hl_fail(err, HL_NOMEM, "out of memory");
	int nt = PQntuples(targets), first = nt ? (int)(t->claims++ % (unsigned)nt) : 0;
	int64_t now = hl_now_ms();
	for (int k = 0; k < nt && *n < batch; k++) {
		const char *target = hl_pg_get(targets, (first + k) % nt, 0);
		if (resting(t, target, now))
			continue;
		hl_pg_args args;
		hl_pg_args_init(&args);
		hl_pg_arg_int(&args, a, batch - *n);
		hl_pg_arg_text(&args, target);
		hl_pg_arg_int(&args, a, lease_ms(t->r));
		PGresult *res;
		if ((st = hl_pg_exec(t->pg, a, SQL_CLAIM, &args, &res, err)) || (st = read_rows(res, a, *rows, n, err)))
			return st;
	}
	return HL_OK;
}

/* Start the delivery of rw (its result is collected by finish_delivery). */
static void start_delivery(struct relay_thread *t, hl_arena *a, struct row *rw)
{
	hl_client *cl = target_client(t, rw->target);
	rw->pending = NULL;
	if (!cl) {
		rw->code = 14;
		rw->error = "no address configured for the target";
		return;
	}
	hl_md md[3] = {{"x-tenant-id", rw->tenant}, {"idempotency-key", rw->key}, {"x-actor", rw->actor}};
	size_t n_md = rw->key ? 3 : 1; /* an Apply call: its items carry key and actor */
	hl_error err;
	hl_error_clear(&err);
	if (hl_client_start(cl, rw->method, rw->payload, rw->len, md, n_md, t->r->cfg.call_timeout_ms, &rw->pending,
			    &err)) {
		rw->code = 14;
		rw->error = hl_arena_strdup(a, hl_error_text(&err));
	}
}

static void finish_delivery(hl_arena *a, struct row *rw)
{
	hl_error err;
	hl_error_clear(&err);
	if (!rw->pending)
		return;
	hl_status st = hl_client_finish(rw->pending, a, &rw->resp, &rw->resp_len, &rw->code, &err);
	rw->pending = NULL;
	if (st)
		rw->error = hl_arena_strdup(a, hl_error_text(&err));
	else
		rw->code = 0;
}

/* ---- calls that carry many rows ---------------------------------------------------------------- */

#define RECORD_EVENTS HL_ENQUEUE_RECORD_EVENTS
#define MERGE_MAX_EVENTS 500 /* reporting's REPORTING_MAX_EVENTS */
#define APPLY "/hotline.batch.v1.BatchService/Apply"
#define APPLY_MAX_ITEMS 256          /* batch.proto */
#define APPLY_MAX_BYTES (512 * 1024) /* payload bytes per Apply call (HOTLINE_MAX_MESSAGE_BYTES: 1 MiB) */

typedef Hotline__Reporting__V1__RecordEventsRequest RecordEvents;
typedef Hotline__Common__V1__Event Event;
typedef Hotline__Batch__V1__Item Item;

/*
 * One call that carries rows of one tenant (rows[i].group names it):
 *   - a merge: the events of rows to reporting's RecordEvents, as one RecordEvents call;
 *     reporting applies them in one transaction and records each event once by its id,
 *     so a merged call repeated (by a retry that merges the same rows, or other ones)
 *     changes nothing twice; its outcome is every row's;
 *   - an apply: rows to one target, as the items of one BatchService/Apply call, which
 *     the target runs in one transaction, each item with its row's idempotency-key;
 *     each row gets its item's outcome.
 * A group refused for good (or an Apply the target does not serve) is sent again row
 * by row, so only a row at fault is dead-lettered.
 */
struct group {
	struct row call; /* the call: target, tenant, method, key, payload, and its outcome */
	bool apply;
	Event **events; /* a merge's events */
	size_t n_events;
	Item **items; /* an apply's items */
	size_t n_items, bytes;
	Hotline__Batch__V1__ApplyResponse *answer; /* an apply's answer, unpacked once */
	int n_members;
};

/* Rows of the groups from g[first] on that were dropped (n_members 0: one row, or unsealed) go alone. */
static void release_dropped(struct row *rows, int n, const struct group *g, int first)
{
	for (int i = 0; i < n; i++)
		if (rows[i].group >= first && !g[rows[i].group].n_members)
			rows[i].group = -1;
}

/* Add row i (its events, unpacked) to the tenant's open merge with room, or to a new one. */
static void merge_row(hl_arena *a, struct row *rows, int i, const RecordEvents *req, struct group *g, int *ng)
{
	struct group *to = NULL;
	for (int k = 0; k < *ng && !to; k++)
		if (strcmp(g[k].call.tenant, rows[i].tenant) == 0 && g[k].n_events + req->n_events <= MERGE_MAX_EVENTS)
			to = &g[k];
	if (!to) {
		Event **events = hl_arena_alloc(a, MERGE_MAX_EVENTS * sizeof *events);
		if (!events)
			return;
		to = &g[(*ng)++];
		*to = (struct group){.call = rows[i], .events = events};
		to->call.group = -1;
	}
	for (size_t e = 0; e < req->n_events; e++) {
		if (!req->events[e]->actor[0]) /* the row's actor, which the call's x-actor would have given */
			req->events[e]->actor = (char *)rows[i].actor;
		to->events[to->n_events++] = req->events[e];
	}
	rows[i].group = (int)(to - g);
	to->n_members++;
}

/* The merged call's payload and key (the SHA-256 of its rows' keys: the same rows, the same key). */
static bool seal_merge(hl_arena *a, struct group *g, const struct row *rows, int n, int index)
{
	RecordEvents req = HOTLINE__REPORTING__V1__RECORD_EVENTS_REQUEST__INIT;
	req.events = g->events;
	req.n_events = g->n_events;
	g->call.len = protobuf_c_message_get_packed_size(&req.base);
	if (!(g->call.payload = hl_arena_alloc(a, g->call.len ? g->call.len : 1)))
		return false;
	protobuf_c_message_pack(&req.base, g->call.payload);
	hl_buf keys = HL_BUF_INIT;
	for (int i = 0; i < n; i++)
		if (rows[i].group == index)
			hl_buf_printf(&keys, "%s\n", rows[i].key);
	const char *digest = hl_buf_failed(&keys) ? NULL : hl_sha256_text(a, keys.data);
	hl_buf_release(&keys);
	return digest && (g->call.key = hl_arena_printf(a, "merged-%s", digest));
}

/* Plan the merged calls of the batch's events to reporting, from g[*ng] on. */
static void plan_merges(hl_arena *a, struct row *rows, int n, struct group *g, int *ng)
{
	int first = *ng;
	for (int i = 0; i < n; i++) {
		if (strcmp(rows[i].method, RECORD_EVENTS) != 0)
			continue;
		RecordEvents *req = hotline__reporting__v1__record_events_request__unpack(hl_arena_pb_allocator(a),
											 rows[i].len, rows[i].payload);
		if (req && req->n_events > 0 && req->n_events <= MERGE_MAX_EVENTS) /* else reporting says what is wrong */
			merge_row(a, rows, i, req, g, ng);
	}
	for (int k = first; k < *ng; k++)
		if (g[k].n_members < 2 || !seal_merge(a, &g[k], rows, n, k))
			g[k].n_members = 0;
	release_dropped(rows, n, g, first);
}

/* Add row i as an item of the open apply of its target and tenant with room, or of a new one. */
static void apply_row(hl_arena *a, struct row *rows, int i, struct group *g, int *ng, int first, size_t max)
{
	struct group *to = NULL;
	for (int k = first; k < *ng && !to; k++)
		if (strcmp(g[k].call.target, rows[i].target) == 0 && strcmp(g[k].call.tenant, rows[i].tenant) == 0 &&
		    g[k].n_items < max && g[k].bytes + rows[i].len <= APPLY_MAX_BYTES)
			to = &g[k];
	Item *it = hl_arena_alloc(a, sizeof *it);
	if (!it)
		return;
	if (!to) {
		Item **items = hl_arena_alloc(a, max * sizeof *items);
		if (!items)
			return;
		to = &g[(*ng)++];
		*to = (struct group){.call = rows[i], .apply = true, .items = items};
		to->call.method = APPLY;
		to->call.key = to->call.actor = NULL; /* each item carries its own */
		to->call.group = -1;
	}
	hotline__batch__v1__item__init(it);
	it->method = (char *)rows[i].method;
	it->payload.data = rows[i].payload;
	it->payload.len = rows[i].len;
	it->idempotency_key = (char *)rows[i].key;
	it->actor = (char *)rows[i].actor;
	rows[i].group = (int)(to - g);
	rows[i].item = (int)to->n_items;
	to->items[to->n_items++] = it;
	to->bytes += rows[i].len;
	to->n_members++;
}

/* The Apply request of g. */
static bool seal_apply(hl_arena *a, struct group *g)
{
	Hotline__Batch__V1__ApplyRequest req = HOTLINE__BATCH__V1__APPLY_REQUEST__INIT;
	req.items = g->items;
	req.n_items = g->n_items;
	g->call.len = protobuf_c_message_get_packed_size(&req.base);
	if (!(g->call.payload = hl_arena_alloc(a, g->call.len ? g->call.len : 1)))
		return false;
	protobuf_c_message_pack(&req.base, g->call.payload);
	return true;
}

/* Plan the Apply calls of the rows not merged, from g[*ng] on; a group of one row stays a row. */
static void plan_applies(hl_arena *a, struct row *rows, int n, int max_items, struct group *g, int *ng)
{
	int first = *ng;
	size_t max = max_items < 1 ? 1 : max_items > APPLY_MAX_ITEMS ? APPLY_MAX_ITEMS : (size_t)max_items;
	for (int i = 0; max > 1 && i < n; i++)
		if (rows[i].group < 0)
			apply_row(a, rows, i, g, ng, first, max);
	for (int k = first; k < *ng; k++)
		if (g[k].n_members < 2 || !seal_apply(a, &g[k]))
			g[k].n_members = 0;
	release_dropped(rows, n, g, first);
}

/* What the row's item answered in its group's Apply; false if the answer cannot be read. */
static bool apply_result(hl_arena *a, struct group *g, struct row *rw)
{
	if (!g->answer)
		g->answer = hotline__batch__v1__apply_response__unpack(hl_arena_pb_allocator(a), g->call.resp_len,
								       g->call.resp);
	if (!g->answer || g->answer->n_results != (size_t)g->n_members || rw->item >= g->n_members)
		return false;
	const Hotline__Batch__V1__Result *res = g->answer->results[rw->item];
	rw->code = res->code;
	rw->error = res->code ? res->message : NULL;
	return true;
}

/* Give rw the outcome of its group's call; false if rw must be sent on its own. */
static bool group_outcome(hl_arena *a, struct group *g, struct row *rw)
{
	int code = g->call.code;
	if (g->apply && code == 0)
		return apply_result(a, g, rw);
	if (code != 0 && (!hl_relay_retryable(code) || (g->apply && code == 12 /* UNIMPLEMENTED */)))
		return false;
	rw->code = code;
	rw->error = g->call.error;
	return true;
}

/*
 * Deliver the batch: every call is started at once and then collected, so a
 * batch costs one round trip of the slowest call, not the sum.  The rows are
 * the oldest undelivered row of distinct subject/target pairs, so running
 * them side by side (and merging events to reporting, and applying a
 * target's rows in one transaction) keeps every subject's order.
 */
static void deliver_all(struct relay_thread *t, hl_arena *a, struct row *rows, int n)
{
	struct group *g = hl_arena_alloc(a, (size_t)(2 * n + 1) * sizeof *g);
	int ng = 0;
	if (g) {
		plan_merges(a, rows, n, g, &ng);
		plan_applies(a, rows, n, t->r->cfg.apply_items, g, &ng);
	}
	for (int i = 0; i < n; i++)
		if (rows[i].group < 0)
			start_delivery(t, a, &rows[i]);
	for (int k = 0; k < ng; k++)
		if (g[k].n_members)
			start_delivery(t, a, &g[k].call);
	for (int i = 0; i < n; i++)
		if (rows[i].group < 0)
			finish_delivery(a, &rows[i]);
	for (int k = 0; k < ng; k++)
		if (g[k].n_members)
			finish_delivery(a, &g[k].call);
	for (int i = 0; i < n; i++)
		if (rows[i].group >= 0 && !group_outcome(a, &g[rows[i].group], &rows[i]))
			start_delivery(t, a, &rows[i]);
	for (int i = 0; i < n; i++)
		if (rows[i].group >= 0 && rows[i].code < 0)
			finish_delivery(a, &rows[i]);
}

static hl_status mark_delivered(struct relay_thread *t, hl_arena *a, const struct row *rows, int n, hl_error *err)
{
	const char **versions = hl_arena_alloc(a, (size_t)(n ? n : 1) * sizeof *versions);
	const char **ids = hl_arena_alloc(a, (size_t)(n ? n : 1) * sizeof *ids);
	if (!versions || !ids)
		return hl_fail(err, HL_NOMEM, "out of memory");
	size_t count = 0;
	for (int i = 0; i < n; i++) {
		if (rows[i].code != 0)
			continue;
		versions[count] = rows[i].version;
		ids[count++] = rows[i].id;
	}
	if (!count)
		return HL_OK;
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, hl_pg_text_array(a, versions, count));
	hl_pg_arg_text(&args, hl_pg_text_array(a, ids, count));
	return hl_pg_exec(t->pg, a, t->r->cfg.keep_delivered_ms > 0 ? SQL_DELIVERED_KEEP : SQL_DELIVERED_DELETE, &args,
			  NULL, err);
}

static hl_status mark_failed(struct relay_thread *t, hl_arena *a, const struct row *rw, hl_error *err)
{
	bool retry = hl_relay_retryable(rw->code);
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, rw->tenant);
	hl_pg_arg_text(&args, rw->id);
	hl_pg_arg_text(&args, hl_arena_printf(a, "%s: %s", hl_grpc_code_name(rw->code < 0 ? 14 : rw->code),
					      rw->error ? rw->error : "not attempted"));
	if (retry)
		hl_pg_arg_int(&args, a, hl_relay_backoff_ms(rw->attempts + 1, t->r->cfg.backoff_max_ms));
	if (!retry)
		HL_LOG_WARN("outbox_dead_letter", "tenant=%s id=%s target=%s code=%s", rw->tenant, rw->id, rw->target,
			    hl_grpc_code_name(rw->code));
	return hl_pg_exec(t->pg, a, retry ? SQL_RETRY : SQL_DEAD, &args, NULL, err);
}

static void count_results(struct relay_thread *t, const struct row *rows, int n)
{
	for (int i = 0; i < n; i++) {
		const char *result = rows[i].code == 0 ? "delivered"
				     : hl_relay_retryable(rows[i].code) ? "retry"
									 : "dead";
		const char *labels[2] = {rows[i].target, result};
		hl_metric_inc(t->r->deliveries, labels);
	}
}

/* A transaction of the relay's, with its plan (sent with the first statement). */
static hl_status relay_begin(struct relay_thread *t, hl_arena *a, hl_error *err)
{
	hl_status st = hl_pg_begin(t->pg, NULL, TX_TIMEOUT_MS, err);
	return st ? st : hl_pg_exec_deferred(t->pg, a, SQL_RELAY_PLAN, NULL, err);
}

/* Lease a batch in one short transaction of its own (committed before any delivery). */
static hl_status claim_batch(struct relay_thread *t, hl_arena *a, struct row **rows, int *n, hl_error *err)
{
	hl_status st = relay_begin(t, a, err);
	if (!st)
		st = claim(t, a, rows, n, err);
	if (!st)
		st = hl_pg_commit(t->pg, err);
	if (st) {
		hl_pg_rollback(t->pg);
		*n = 0;
	}
	return st;
}

/* Mark what became of every row of the batch in a second short transaction. */
static hl_status mark_batch(struct relay_thread *t, hl_arena *a, const struct row *rows, int n, hl_error *err)
{
	hl_status st = relay_begin(t, a, err);
	if (!st)
		st = mark_delivered(t, a, rows, n, err);
	for (int i = 0; i < n && !st; i++)
		if (rows[i].code != 0)
			st = mark_failed(t, a, &rows[i], err);
	if (!st)
		st = hl_pg_commit(t->pg, err);
	if (st)
		hl_pg_rollback(t->pg);
	return st;
}

/*
 * Lease, deliver and mark one batch; *n_rows tells how many were claimed.
 * No transaction (and so no row lock) is open while the calls are in flight;
 * rows whose marks fail come due again when their lease runs out.
 */
static hl_status run_batch(struct relay_thread *t, int *n_rows, hl_error *err)
{
	hl_arena *a = hl_arena_new();
	struct row *rows = NULL;
	int n = 0;
	hl_status st = a ? claim_batch(t, a, &rows, &n, err) : hl_fail(err, HL_NOMEM, "out of memory");
	if (!st && n) {
		deliver_all(t, a, rows, n);
		st = mark_batch(t, a, rows, n, err);
	}
	if (!st) {
		count_results(t, rows, n);
		update_rests(t, rows, n);
	}
	*n_rows = n;
	hl_arena_free(a);
	return st;
}

/* ---- threads ---------------------------------------------------------------------- */

/*
 * The backlog gauges count the undelivered rows, which costs more the longer
 * the backlog: every STATS_EVERY_MS, or less often when a count takes long,
 * so that counting takes at most 1/STATS_COST_SHARE of the relay's time
 * (a count of 100 ms, under a backlog of tens of thousands: every 5 s).
 */
#define STATS_EVERY_MS 2000
#define STATS_COST_SHARE 50
static int64_t stats_pause_ms(int64_t took_ms)
{
	return took_ms * STATS_COST_SHARE > STATS_EVERY_MS ? took_ms * STATS_COST_SHARE : STATS_EVERY_MS;
}

static void refresh_stats(struct relay_thread *t)
{
	hl_arena *a = hl_arena_new();
	hl_error err;
	PGresult *res;
	if (a && hl_pg_begin(t->pg, NULL, 5000, &err) == HL_OK && hl_pg_exec(t->pg, a, SQL_STATS, NULL, &res, &err) == HL_OK) {
		hl_metric_set(t->r->backlog, NULL, (double)hl_pg_get_int(res, 0, 0));
		hl_metric_set(t->r->oldest, NULL, atof(hl_pg_get(res, 0, 1) ? hl_pg_get(res, 0, 1) : "0"));
		hl_metric_set(t->r->dead, NULL, (double)hl_pg_get_int(res, 0, 2));
	}
	hl_pg_rollback(t->pg);
	hl_arena_free(a);
}

/* Delete the delivered rows past the keep window, in short transactions of one batch each. */
static void purge_delivered(struct relay_thread *t)
{
	char keep[24], batch[16];
	snprintf(keep, sizeof keep, "%lld", t->r->cfg.keep_delivered_ms);
	snprintf(batch, sizeof batch, "%d", PURGE_BATCH);
	for (int i = 0; i < PURGE_BATCHES; i++) {
		hl_arena *a = hl_arena_new();
		hl_error err;
		hl_pg_args args;
		hl_pg_args_init(&args);
		hl_pg_arg_text(&args, keep);
		hl_pg_arg_text(&args, batch);
		PGresult *res;
		hl_status st = a ? hl_pg_begin(t->pg, NULL, TX_TIMEOUT_MS, &err) : hl_fail(&err, HL_NOMEM, "out of memory");
		if (!st)
			st = hl_pg_exec(t->pg, a, SQL_PURGE, &args, &res, &err);
		long n = st ? 0 : atol(PQcmdTuples(res));
		if (!st)
			st = hl_pg_commit(t->pg, &err);
		if (st) {
			hl_pg_rollback(t->pg);
			HL_LOG_WARN("outbox_purge_failed", "status=%s msg=\"%s\"", hl_status_name(st), hl_error_text(&err));
		} else {
			hl_metric_add(t->r->purged, NULL, (double)n);
		}
		hl_arena_free(a);
		if (st || n < PURGE_BATCH)
			return;
	}
}

/* Sleep up to ms unless stopping; true when the relay stops. */
static bool nap(hl_relay *r, int ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&r->mu);
	if (!r->stop)
		pthread_cond_timedwait(&r->cv, &r->mu, &until);
	bool stop = r->stop;
	pthread_mutex_unlock(&r->mu);
	return stop;
}

static void *relay_main(void *arg)
{
	struct relay_thread *t = arg;
	hl_relay *r = t->r;
	time_t last_purge = 0;
	int64_t next_stats_ms = 0;
	bool stop = false;
	while (!stop) {
		int n = 0;
		hl_error err;
		hl_status st = run_batch(t, &n, &err);
		if (st)
			HL_LOG_WARN("relay_batch_failed", "status=%s msg=\"%s\"", hl_status_name(st), hl_error_text(&err));
		if (t->index == 0 && hl_now_ms() >= next_stats_ms) {
			int64_t t0 = hl_now_ms();
			refresh_stats(t);
			next_stats_ms = t0 + stats_pause_ms(hl_now_ms() - t0);
		}
		if (t->index == 0 && time(NULL) - last_purge >= PURGE_EVERY_S) {
			purge_delivered(t);
			last_purge = time(NULL);
		}
		pthread_mutex_lock(&r->mu);
		stop = r->stop;
		pthread_mutex_unlock(&r->mu);
		/* claim again at once while rows come: a partial batch means more may be due by now */
		if (!stop && (st || n == 0))
			stop = nap(r, st ? 1000 : r->cfg.idle_ms);
	}
	hl_client_thread_release();
	return NULL;
}

static hl_status relay_metrics(hl_relay *r, hl_error *err)
{
	static const char *const labels[] = {"target", "result"};
	hl_metrics *m = r->cfg.metrics;
	hl_status st;
	if ((st = hl_metrics_counter(m, "hotline_outbox_deliveries_total", "outbox deliveries by target and result", 2,
				     labels, &r->deliveries, err)) ||
	    (st = hl_metrics_gauge(m, "hotline_outbox_backlog", "outbox rows waiting for delivery", 0, NULL,
				   &r->backlog, err)) ||
	    (st = hl_metrics_gauge(m, "hotline_outbox_oldest_seconds", "age of the oldest undelivered outbox row", 0,
				   NULL, &r->oldest, err)) ||
	    (st = hl_metrics_gauge(m, "hotline_outbox_dead_letters", "outbox rows that could not be delivered", 0,
				   NULL, &r->dead, err)) ||
	    (st = hl_metrics_counter(m, "hotline_outbox_purged_total",
				     "delivered outbox rows deleted after HOTLINE_OUTBOX_KEEP_DELIVERED", 0, NULL, &r->purged, err)))
		return st;
	return HL_OK;
}

hl_status hl_relay_start(const hl_relay_config *cfg, hl_relay **out, hl_error *err)
{
	*out = NULL;
	hl_relay *r = calloc(1, sizeof *r);
	if (!r)
		return hl_fail(err, HL_NOMEM, "out of memory");
	r->cfg = *cfg;
	if (r->cfg.batch < 1)
		r->cfg.batch = 32;
	if (r->cfg.call_timeout_ms < 1)
		r->cfg.call_timeout_ms = 10000;
	if (r->cfg.idle_ms < 1)
		r->cfg.idle_ms = 200;
	if (r->cfg.backoff_max_ms < 100)
		r->cfg.backoff_max_ms = 60000;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	r->threads = calloc((size_t)(cfg->threads > 0 ? cfg->threads : 1), sizeof *r->threads);
	hl_status st = r->threads ? relay_metrics(r, err) : hl_fail(err, HL_NOMEM, "out of memory");
	for (int i = 0; i < cfg->threads && !st; i++) {
		struct relay_thread *t = &r->threads[i];
		t->r = r;
		t->index = i;
		if ((st = hl_pg_new(cfg->db_dsn, cfg->db_schema, &t->pg, err)))
			break;
		if (pthread_create(&t->th, NULL, relay_main, t)) {
			st = hl_fail(err, HL_INTERNAL, "cannot start a relay thread");
			break;
		}
	}
	if (st) {
		hl_relay_stop(r);
		return st;
	}
	*out = r;
	return HL_OK;
}

void hl_relay_stop(hl_relay *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	for (int i = 0; r->threads && i < r->cfg.threads; i++) {
		struct relay_thread *t = &r->threads[i];
		if (t->th)
			pthread_join(t->th, NULL);
		for (int k = 0; k < t->n_targets; k++)
			hl_client_free(t->targets[k].client);
		hl_pg_free(t->pg);
	}
	free(r->threads);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	free(r);
}
