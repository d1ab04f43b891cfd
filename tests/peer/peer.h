/*
 * peer.h - the outbox/inbox test peer's shared types: its state and the
 * helpers its handlers share (see README.md).
 */
#ifndef PEER_H
#define PEER_H

#include <stdbool.h>
#include <stdint.h>

#include "hl/rpc.h"

typedef struct peer_app {
	hl_status fail;   /* HL_OK, or the status every receiving method answers (HOTLINE_TESTPEER_FAIL) */
	int64_t delay_ms; /* sleep after a receiving method commits (HOTLINE_TESTPEER_APPLY_DELAY_MS) */
} peer_app;

/* What a receiving method records: one versioned effect of a subject. */
typedef struct peer_change {
	const char *stream; /* "apply", "dispatch", "reporting" */
	const char *subject_id;
	int64_t version;
	const char *payload;
} peer_change;

/* What became of a change. */
typedef struct peer_outcome {
	bool applied;
	int64_t latest_version, effect_seq;
} peer_outcome;

/* methods.c */
extern const hl_service peer_services[];
extern const size_t peer_services_count;

/* rpc_receive.c, shared by the receiving handlers */
/* The configured failure of every receiving method, or HL_OK. */
hl_status peer_failure(hl_call *c) HL_MUST_CHECK;
hl_status peer_check_id(hl_call *c, const char *field, const char *v) HL_MUST_CHECK;
/*
 * Inside the call's transaction: apply ch unless the subject already has
 * this or a newer version, under the subject's row lock.  On failure the
 * transaction is rolled back and the call failed.
 */
hl_status peer_record(hl_call *c, const peer_change *ch, peer_outcome *out) HL_MUST_CHECK;

/* the handlers */
hl_status peer_apply(hl_call *c, const void *req, void **resp);
hl_status peer_submit_ticket(hl_call *c, const void *req, void **resp);
hl_status peer_record_events(hl_call *c, const void *req, void **resp);
hl_status peer_enqueue(hl_call *c, const void *req, void **resp);

#endif
