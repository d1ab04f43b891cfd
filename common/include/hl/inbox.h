/*
 * inbox.h - receivers' side of exactly-once effects (DESIGN §5.6).
 *
 * An internal method that changes state calls, inside its transaction:
 *
 *     void *first;
 *     if ((st = hl_inbox_lookup(c, &resp_descriptor, &first))) ...
 *     if (first) { rollback; *resp = first; return HL_OK; }   // a repeat: same answer
 *     ... the effect ...
 *     if ((st = hl_inbox_record(c, resp))) ...                  // same transaction
 *     commit
 *
 * keyed by the call's `idempotency-key` metadata (the outbox relay sends
 * it).  Without the key both are no-ops.  Two deliveries racing with the same
 * key: the second commit fails on the inbox's primary key and is rolled
 * back whole (ABORTED, which the relay retries and then answers from the
 * inbox), so the effect happens once.
 */
#ifndef HL_INBOX_H
#define HL_INBOX_H

#include "hl/rpc.h"

hl_status hl_inbox_lookup(hl_call *c, const ProtobufCMessageDescriptor *resp_desc, void **first) HL_MUST_CHECK;
hl_status hl_inbox_record(hl_call *c, const void *resp) HL_MUST_CHECK;

#endif
