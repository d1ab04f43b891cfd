/*
 * rpc_batch.c - hotline.batch.v1.BatchService/Apply, which every server
 * offers (proto/hotline/batch/v1/batch.proto): the internal calls that one
 * outbox relay claim sends to this service for one tenant, run on one worker
 * in one held transaction (hl_pg_hold_begin) with one COMMIT.
 *
 * Each item becomes a call of its own (an hl_call with its own arena,
 * principal, idempotency-key and queued timers) checked like the call it
 * stands for: the method must be an internal unary method of this server
 * open to the calling service, the actor printable, the payload within the
 * request's wire limits.  An item that fails those checks fails alone
 * (nothing of it ran).  An item whose handler fails, or gives the
 * transaction up, or a COMMIT that fails, ends the batch: the transaction is
 * rolled back and every item runs again on its own, exactly as its own call
 * would have, so an item's outcome never depends on the others.  Timers are
 * pushed once their transaction has committed.
 */
#include <string.h>

#include "hotline/batch/v1/batch.pb-c.h"
#include "hl/log.h"
#include "hl/pg.h"
#include "hl/inbox.h"
#include "rpc_private.h"

#define BATCH_MAX_ITEMS 256

typedef Hotline__Batch__V1__Item batch_item;
typedef Hotline__Batch__V1__ApplyRequest apply_request;
typedef Hotline__Batch__V1__ApplyResponse apply_response;
typedef Hotline__Batch__V1__Result batch_result;

/* One item's call and what its handler answered. */
struct item_run {
	hl_call call;
	hl_status st;
	void *resp;
	void *ahead; /* its request, decoded by prefetch_items (in the Apply call's arena), or NULL */
};

/* Make the item's call: the Apply call's peer, tenant, worker and deadline, the item's own rest. */
static hl_status item_open(hl_call *c, const batch_item *it, hl_call *ic)
{
	memset(ic, 0, sizeof *ic);
	ic->s = c->s;
	ic->cqt = c->cqt;
	ic->worker = c->worker;
	ic->deadline = c->deadline;
	ic->request_id = c->request_id;
	ic->start_ns = hl_rpc_now_ns();
	memcpy(ic->peer_name, c->peer_name, sizeof ic->peer_name);
	ic->me = hl_rpc_find_entry(c->s, it->method);
	snprintf(ic->method_name, sizeof ic->method_name, "%s", ic->me ? ic->me->path : "unknown");
	ic->principal.peer_service = c->principal.peer_service;
	ic->principal.tenant = c->principal.tenant;
	if (!(ic->arena = hl_arena_new()))
		return hl_fail(&ic->err, HL_NOMEM, "out of memory");
	const char **md = hl_arena_alloc(ic->arena, 3 * sizeof *md);
	if (!md)
		return hl_fail(&ic->err, HL_NOMEM, "out of memory");
	md[0] = "idempotency-key";
	md[1] = it->idempotency_key;
	md[2] = NULL;
	ic->item_md = md;
	ic->principal.actor = it->actor[0] ? it->actor
					   : hl_arena_printf(ic->arena, "system:%s", c->principal.peer_service);
	return ic->principal.actor ? HL_OK : hl_fail(&ic->err, HL_NOMEM, "out of memory");
}

/* The checks of the item's own call that come before its request is decoded. */
static hl_status item_allowed(const struct method_entry *me, const char *peer, const batch_item *it, hl_error *err)
{
	if (!me)
		return hl_fail(err, HL_UNIMPLEMENTED, "items: method %.200s is not served here", it->method);
	if (me->kind != K_UNARY || me->m->access != HL_ACCESS_INTERNAL || me->m->fn == hl_rpc_batch_apply)
		return hl_fail(err, HL_DENIED, "items: %s cannot be batched (internal unary methods only)", me->path);
	if (!hl_rpc_caller_allowed(me->m, peer))
		return hl_fail(err, HL_DENIED, "%s is an internal method not open to this peer", me->path);
	if (it->actor[0] && !hl_rpc_printable(it->actor, 128))
		return hl_fail(err, HL_INVALID, "items: actor must be printable ASCII");
	if (it->idempotency_key[0] && !hl_rpc_printable(it->idempotency_key, 128))
		return hl_fail(err, HL_INVALID, "items: idempotency_key must be printable ASCII");
	return HL_OK;
}

/* The checks of the item's own call, before anything of it runs, and its request. */
static hl_status item_check(hl_call *ic, const batch_item *it, void **req)
{
	hl_status st = item_allowed(ic->me, ic->principal.peer_service, it, &ic->err);
	return st ? st : hl_rpc_decode(ic, ic->me, it->payload.data, it->payload.len, req);
}

/*
 * Open, check and run one item.  Returns false when the item broke the held
 * transaction (its handler failed or gave the transaction up).
 */
static bool item_run(hl_call *c, const batch_item *it, struct item_run *run, bool held)
{
	hl_call *ic = &run->call;
	void *req = run->ahead; /* decoded ahead: it passed its checks then */
	run->resp = NULL;
	if ((run->st = item_open(c, it, ic)) || (!req && (run->st = item_check(ic, it, &req))))
		return true;
	ic->holder = held ? c : NULL;
	hl_error_clear(&ic->err);
	run->st = ic->me->m->fn(ic, req, &run->resp);
	hl_pg *pg = hl_call_pg(ic);
	if (held)
		return run->st == HL_OK && !hl_pg_hold_given_up(pg);
	if (pg) /* the driver's contract: a failed handler's transaction is rolled back */
		hl_pg_rollback(pg);
	return true;
}

static void item_close(struct item_run *run)
{
	hl_arena_free(run->call.arena);
	run->call.arena = NULL;
}

/* The inbox answers of every item's idempotency-key, in one statement. */
static hl_status prefetch_answers(hl_call *c, const apply_request *r, hl_pg *pg, hl_error *err)
{
	const char **keys = hl_arena_alloc(c->arena, r->n_items * sizeof *keys);
	int n = 0;
	if (!keys)
		return hl_fail(err, HL_NOMEM, "out of memory");
	for (size_t i = 0; i < r->n_items; i++)
		if (r->items[i]->idempotency_key[0])
			keys[n++] = r->items[i]->idempotency_key;
	return n ? hl_inbox_prefetch(pg, keys, n, err) : HL_OK;
}

/*
 * Each prefetching method's look ahead, once for all its items
 * (hl_method.prefetch): their requests are decoded here, in the Apply
 * call's arena, and the items run with them.
 */
static void prefetch_items(hl_call *c, const apply_request *r, struct item_run *runs, hl_pg *pg)
{
	const struct method_entry **me = hl_arena_alloc(c->arena, r->n_items * sizeof *me);
	const void **reqs = hl_arena_alloc(c->arena, r->n_items * sizeof *reqs);
	bool *done = hl_arena_alloc(c->arena, r->n_items * sizeof *done);
	hl_error err;
	for (size_t i = 0; me && reqs && done && i < r->n_items; i++) {
		const batch_item *it = r->items[i];
		me[i] = hl_rpc_find_entry(c->s, it->method);
		done[i] = !me[i] || !me[i]->m->prefetch || item_allowed(me[i], c->principal.peer_service, it, &err) ||
			  hl_rpc_unpack(c->s, me[i], c->arena, it->payload.data, it->payload.len, &runs[i].ahead, &err);
	}
	for (size_t i = 0; me && reqs && done && i < r->n_items; i++) {
		if (done[i])
			continue;
		int n = 0;
		for (size_t j = i; j < r->n_items; j++)
			if (!done[j] && me[j] == me[i]) {
				reqs[n++] = runs[j].ahead;
				done[j] = true;
			}
		if (me[i]->m->prefetch(pg, c->arena, c->principal.tenant, reqs, n, &err))
			HL_LOG_INFO("batch_prefetch_failed", "method=%s msg=\"%s\"", me[i]->path, hl_error_text(&err));
	}
}

/*
 * Run every item in one held transaction.  Returns false (everything rolled
 * back, the items' arenas freed) when the batch must run item by item.
 */
static bool run_held(hl_call *c, const apply_request *r, struct item_run *runs)
{
	hl_pg *pg = hl_call_pg(c);
	hl_error err;
	if (hl_pg_hold_begin(pg, c->principal.tenant, hl_call_remaining_ms(c), &err))
		return false;
	if (prefetch_answers(c, r, pg, &err)) {
		hl_pg_hold_abandon(pg);
		return false;
	}
	prefetch_items(c, r, runs, pg);
	size_t n = 0;
	bool whole = true;
	while (whole && n < r->n_items) {
		whole = item_run(c, r->items[n], &runs[n], true);
		n++;
	}
	if (!whole || hl_pg_hold_commit(pg, &err)) {
		hl_pg_hold_abandon(pg);
		HL_LOG_INFO("batch_unbatched", "items=%zu ran=%zu reason=%s", r->n_items, n,
			    whole ? "commit failed" : "an item failed");
		for (size_t i = 0; i < n; i++)
			item_close(&runs[i]);
		return false;
	}
	hl_call **calls = hl_arena_alloc(hl_call_arena(c), n * sizeof *calls);
	for (size_t i = 0; i < n; i++) {
		runs[i].call.holder = NULL;
		if (calls)
			calls[i] = &runs[i].call;
		else /* out of memory: one round trip each */
			hl_call_push_timers(&runs[i].call);
	}
	if (calls)
		hl_call_push_timers_of(calls, n);
	return true;
}

/* The item's answer, in the Apply call's arena. */
static batch_result *item_answer(hl_call *c, struct item_run *run)
{
	hl_call *ic = &run->call;
	batch_result *res = hl_call_new_message(c, &hotline__batch__v1__result__descriptor);
	const ProtobufCMessage *m = run->resp;
	if (!res)
		return NULL;
	if (!run->st && (!m || m->descriptor != ic->me->out))
		run->st = hl_fail(&ic->err, HL_INTERNAL, "handler returned no or a wrong response message");
	if (!run->st) {
		size_t len = protobuf_c_message_get_packed_size(m);
		uint8_t *out = hl_arena_alloc(c->arena, len ? len : 1);
		if (!out)
			return NULL;
		protobuf_c_message_pack(m, out);
		res->payload.data = out;
		res->payload.len = len;
		hl_error_clear(&ic->err);
		return res;
	}
	if (ic->err.status != run->st || !ic->err.msg[0])
		hl_fail(&ic->err, run->st, "%s", hl_status_message(run->st));
	res->code = hl_status_grpc_code(run->st);
	res->message = hl_arena_strdup(c->arena, hl_error_text(&ic->err));
	return res->message ? res : NULL;
}

hl_status hl_rpc_batch_apply(hl_call *c, const void *vreq, void **vresp)
{
	const apply_request *r = vreq;
	if (r->n_items == 0 || r->n_items > BATCH_MAX_ITEMS)
		return hl_call_fail(c, HL_INVALID, "items: 1 to %d required (got %zu)", BATCH_MAX_ITEMS, r->n_items);
	struct item_run *runs = hl_arena_alloc(c->arena, r->n_items * sizeof *runs); /* zeroed: nothing decoded ahead */
	apply_response *resp = hl_call_new_message(c, &hotline__batch__v1__apply_response__descriptor);
	batch_result **results = hl_arena_alloc(c->arena, r->n_items * sizeof *results);
	if (!runs || !resp || !results)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if (r->n_items < 2 || !hl_call_pg(c) || !run_held(c, r, runs))
		for (size_t i = 0; i < r->n_items; i++)
			item_run(c, r->items[i], &runs[i], false);
	bool nomem = false;
	for (size_t i = 0; i < r->n_items; i++) {
		nomem |= !(results[i] = item_answer(c, &runs[i]));
		hl_rpc_log_and_count(&runs[i].call);
		item_close(&runs[i]);
	}
	if (nomem)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	resp->results = results;
	resp->n_results = r->n_items;
	*vresp = resp;
	return HL_OK;
}
