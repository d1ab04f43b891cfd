/*
 * inbox.h - receivers' side of exactly-once effects (DESIGN §5.6).
 *
 * An internal method that changes state opens and closes its transaction
 * through the inbox, keyed by the call's `idempotency-key` metadata (the
 * outbox relay sends it):
 *
 *     bool replayed;
 *     if ((st = hl_inbox_begin(c, &resp_descriptor, resp, &replayed)) || replayed)
 *             return st;                       // a repeat: *resp is the first answer
 *     ... the effect, building out ...
 *     if ((st = hl_inbox_commit(c, out)))      // answer recorded in the same transaction
 *             return st;
 *     *resp = out;
 *
 * Without the key, begin and commit are plain hl_call_begin/hl_call_commit.
 * Two deliveries racing with the same key: the second commit fails on the
 * inbox's primary key and is rolled back whole (ABORTED, which the relay
 * retries and then answers from the inbox), so the effect happens once.
 * Both functions fail the call themselves (hl_call_fail), like handler.h's.
 */
#ifndef HL_INBOX_H
#define HL_INBOX_H

#include "hl/pg.h"
#include "hl/rpc.h"

#include <stdbool.h>

/*
 * hl_call_begin, then look the key up.  A repeat: the transaction is closed,
 * *resp is the recorded answer (call arena) and *replayed is true.  Else
 * *replayed is false, *resp untouched, and the transaction stays open.
 */
hl_status hl_inbox_begin(hl_call *c, const ProtobufCMessageDescriptor *resp_desc, void **resp,
			 bool *replayed) HL_MUST_CHECK;
/*
 * For a held batch (rpc_batch.c), inside its transaction: look up the
 * answers of all the items' keys with one statement and keep them for the
 * transaction, so that each item's hl_inbox_begin reads nothing (a key not
 * found is new).  A key recorded meanwhile by another transaction shows as
 * the inbox's unique violation at the batch's COMMIT, like any race.
 */
hl_status hl_inbox_prefetch(hl_pg *pg, const char *const *keys, int n, hl_error *err) HL_MUST_CHECK;
/* Record resp as the key's answer in the open transaction (the row goes with its COMMIT), then hl_call_commit. */
hl_status hl_inbox_commit(hl_call *c, const void *resp) HL_MUST_CHECK;

#endif
