/*
 * gate.h - the gated service's side of compliance review gates (DESIGN R19,
 * §4, §6: "no implementation without review"): before a gated action
 * (a deadline extension, the solution of a major complaint, the destruction
 * of a retention period, ...) takes effect, the service asks
 * compliance.CheckGate synchronously whether an approved review covers
 * exactly this content (its SHA-256).  The answer is one of
 *
 *   HL_OK            approved (or no rule of the tenant requires a review);
 *   HL_PRECONDITION  not approved: err names the pending (or rejected)
 *                    review, which CheckGate created if there was none;
 *   HL_UNAVAILABLE   compliance did not answer in time or failed: the
 *                    action is refused (fail closed), never let through.
 *
 * The channel to compliance is made on first use (after grpc_init), shared
 * by all threads of the process; every call waits at most the smaller of
 * the gate's timeout and the caller's.  Used by dispatch, followup and
 * intake's destroy-period.
 */
#ifndef HL_GATE_H
#define HL_GATE_H

#include <stddef.h>
#include <stdint.h>

#include "hl/arena.h"
#include "hl/rpc.h"
#include "hl/status.h"

typedef struct hl_gate hl_gate;

/* What is asked: the action and its subject, the content released, what gate rules may test. */
typedef struct hl_gate_query {
	const char *action;       /* e.g. "dispatch.extension" */
	const char *subject_type; /* e.g. "extension" */
	const char *subject_id;
	const char *content;      /* the exact text released; its SHA-256 binds the approval */
	const char *ticket_id;     /* NULL: none */
	const char *department_id; /* NULL: none */
	const char *summary;       /* for the reviewer, no personal data; NULL: none */
	int category, priority;    /* hotline.common.v1 values; 0: not known (rules match, fail closed) */
	int extension_hours;       /* 0: not an extension */
} hl_gate_query;

/* A gate to compliance at addr ("host:port") over mTLS with cert/key, trusting ca (strings copied). */
hl_status hl_gate_new(const char *addr, const char *cert, const char *key, const char *ca, int timeout_ms,
		      hl_gate **out, hl_error *err) HL_MUST_CHECK;
void hl_gate_free(hl_gate *g);

/*
 * Ask compliance for tenant on behalf of actor (ASCII: the user's sub or an
 * operator name); timeout_ms 0: the gate's own.  *review_id (may be NULL)
 * receives the review named by compliance ("" when none), in arena memory.
 * Thread-safe.
 */
hl_status hl_gate_ask(hl_gate *g, const hl_gate_query *q, const char *tenant, const char *actor, int64_t timeout_ms,
		      hl_arena *a, const char **review_id, hl_error *err) HL_MUST_CHECK;

/*
 * hl_gate_ask for a handler: for the call's tenant and actor, within the
 * call's deadline; a refusal fails the call (hl_call_fail with the status
 * and message above).
 */
hl_status hl_gate_check(hl_call *c, hl_gate *g, const hl_gate_query *q) HL_MUST_CHECK;

#endif
