/*
 * inbox.c - idempotency keys of applied internal calls (see inbox.h); the
 * SQL of the shared inbox table (000_common.sql).
 */
#include "hl/inbox.h"

#include <string.h>

#include "hl/handler.h"
#include "hl/log.h"
#include "hl/pg.h"

/* rows written with the COMMIT (hl_pg_rows_at_commit): a held batch's answers go in one statement */
static const char SQL_RECORD[] = "INSERT INTO inbox (tenant_id, idempotency_key, method, response) "
				 "SELECT current_tenant(), * FROM unnest($1::text[], $2::text[], $3::bytea[])";
enum { RECORD_COLUMNS = 3 };

/* The answers of keys $1: a held batch's all at once (hl_inbox_prefetch), else a call's own. */
static const char SQL_ANSWERS[] = "SELECT idempotency_key, response FROM inbox "
				  "WHERE tenant_id = current_tenant() AND idempotency_key = ANY ($1::text[])";
static const char prefetch_owner = 0; /* its slot of hl_pg_tx_memo: the PGresult of SQL_ANSWERS */

hl_status hl_inbox_prefetch(hl_pg *pg, const char *const *keys, int n, hl_error *err)
{
	void **slot = hl_pg_held(pg) ? hl_pg_tx_memo(pg, &prefetch_owner) : NULL;
	hl_arena *mem = hl_pg_tx_mem(pg);
	if (!slot || !mem)
		return HL_OK; /* no room to keep them: each item looks its key up */
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text_array(&args, mem, keys, n);
	PGresult *r;
	hl_status st = hl_pg_exec(pg, mem, SQL_ANSWERS, &args, &r, err);
	if (st == HL_OK)
		*slot = r;
	return st;
}

/* The prefetched answers of the held transaction (NULL: none, look up). */
static const PGresult *prefetched(hl_pg *pg)
{
	void **slot = hl_pg_held(pg) ? hl_pg_tx_memo(pg, &prefetch_owner) : NULL;
	return slot ? *slot : NULL;
}

static const char *call_key(hl_call *c)
{
	const char *k = hl_call_metadata(c, "idempotency-key");
	return k && *k ? k : NULL;
}

static hl_status lookup(hl_call *c, const ProtobufCMessageDescriptor *resp_desc, void **first)
{
	*first = NULL;
	const char *key = call_key(c);
	if (!key)
		return HL_OK;
	hl_arena *a = hl_call_arena(c);
	const PGresult *r = prefetched(hl_call_pg(c));
	if (!r) {
		hl_pg_args args;
		hl_pg_args_init(&args);
		hl_pg_arg_text_array(&args, a, &key, 1);
		if (!args.v[0])
			return hl_call_fail(c, HL_NOMEM, "out of memory");
		PGresult *own;
		hl_error err;
		if (hl_pg_exec(hl_call_pg(c), a, SQL_ANSWERS, &args, &own, &err))
			return hl_call_fail_err(c, &err);
		r = own;
	}
	int row = -1;
	for (int i = 0; i < PQntuples(r) && row < 0; i++)
		if (strcmp(hl_pg_get(r, i, 0), key) == 0)
			row = i;
	if (row < 0)
		return HL_OK;
	uint8_t *bytes;
	size_t len;
	if (hl_pg_get_bytes(r, row, 1, a, &bytes, &len))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	*first = protobuf_c_message_unpack(resp_desc, hl_arena_pb_allocator(a), len, bytes);
	return *first ? HL_OK : hl_call_fail(c, HL_INTERNAL, "stored answer of idempotency-key unreadable");
}

static hl_status record(hl_call *c, const void *resp)
{
	const char *key = call_key(c);
	if (!key)
		return HL_OK;
	const ProtobufCMessage *m = resp;
	hl_arena *a = hl_call_arena(c);
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = hl_arena_alloc(a, n ? n : 1);
	if (!buf)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	protobuf_c_message_pack(m, buf);
	hl_pg_rows row;
	hl_pg_rows_init(&row, a, RECORD_COLUMNS);
	hl_pg_rows_text(&row, key);
	hl_pg_rows_text(&row, hl_call_method(c));
	hl_pg_rows_bytes(&row, buf, n);
	hl_error err;
	/* the same key applied concurrently: a unique violation at the COMMIT, ABORTED (retry) */
	return hl_pg_rows_at_commit(hl_call_pg(c), SQL_RECORD, &row, &err) ? hl_call_fail_err(c, &err) : HL_OK;
}

hl_status hl_inbox_begin(hl_call *c, const ProtobufCMessageDescriptor *resp_desc, void **resp, bool *replayed)
{
	void *first;
	hl_status st;
	*replayed = false;
	if ((st = hl_call_begin(c)) || (st = lookup(c, resp_desc, &first)))
		return st;
	if (first) {
		hl_pg_release(hl_call_pg(c));
		HL_LOG_INFO("inbox_replayed", "method=%s tenant=%s", hl_call_method(c), hl_call_tenant(c));
		*resp = first;
		*replayed = true;
	}
	return HL_OK;
}

hl_status hl_inbox_commit(hl_call *c, const void *resp)
{
	hl_status st = record(c, resp);
	return st ? st : hl_call_commit(c);
}
