/*
 * gate.c - compliance review gates, the caller's side (see gate.h).
 */
#include "hl/gate.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hl/crypto.h"
#include "hl/rpc_client.h"
#include "hotline/compliance/v1/compliance.pb-c.h"

#define GATE_METHOD "/hotline.compliance.v1.ComplianceService/CheckGate"

struct hl_gate {
	char *addr, *cert, *key, *ca;
	int timeout_ms;
	pthread_mutex_t mu;
	hl_client *client; /* made on first use, under mu */
};

hl_status hl_gate_new(const char *addr, const char *cert, const char *key, const char *ca, int timeout_ms,
		      hl_gate **out, hl_error *err)
{
	if (!addr || !addr[0])
		return hl_fail(err, HL_INVALID, "compliance address: required for review gates");
	hl_gate *g = calloc(1, sizeof *g);
	if (!g)
		return hl_fail(err, HL_NOMEM, "out of memory");
	pthread_mutex_init(&g->mu, NULL);
	if (!(g->addr = strdup(addr)) || !(g->cert = strdup(cert)) || !(g->key = strdup(key)) ||
	    !(g->ca = strdup(ca))) {
		hl_gate_free(g);
		return hl_fail(err, HL_NOMEM, "out of memory");
	}
	g->timeout_ms = timeout_ms > 0 ? timeout_ms : 3000;
	*out = g;
	return HL_OK;
}

void hl_gate_free(hl_gate *g)
{
	if (!g)
		return;
	pthread_mutex_destroy(&g->mu);
	hl_client_free(g->client);
	free(g->addr);
	free(g->cert);
	free(g->key);
	free(g->ca);
	free(g);
}

static hl_status client(hl_gate *g, hl_client **out, hl_error *err)
{
	hl_status st = HL_OK;
	pthread_mutex_lock(&g->mu);
	if (!g->client)
		st = hl_client_new(g->addr, g->cert, g->key, g->ca, &g->client, err);
	*out = g->client;
	pthread_mutex_unlock(&g->mu);
	return st;
}

hl_status hl_gate_ask(hl_gate *g, const hl_gate_query *q, const char *tenant, const char *actor, int64_t timeout_ms,
		      hl_arena *a, const char **review_id, hl_error *err)
{
	if (review_id)
		*review_id = "";
	const char *digest = hl_sha256_text(a, q->content);
	if (!digest)
		return hl_fail(err, HL_NOMEM, "out of memory");
	Hotline__Compliance__V1__CheckGateRequest req = HOTLINE__COMPLIANCE__V1__CHECK_GATE_REQUEST__INIT;
	req.action = (char *)q->action;
	req.subject_type = (char *)q->subject_type;
	req.subject_id = (char *)q->subject_id;
	req.content_digest = (char *)digest;
	req.ticket_id = (char *)(q->ticket_id ? q->ticket_id : "");
	req.department_id = (char *)(q->department_id ? q->department_id : "");
	req.summary = (char *)(q->summary ? q->summary : "");
	req.category = q->category;
	req.priority = q->priority;
	req.extension_hours = q->extension_hours;
	const hl_md md[] = {{"x-tenant-id", tenant}, {"x-actor", actor}};
	int64_t wait = timeout_ms > 0 && timeout_ms < g->timeout_ms ? timeout_ms : g->timeout_ms;
	hl_client *cl;
	Hotline__Compliance__V1__CheckGateResponse *resp;
	hl_error cerr;
	if (client(g, &cl, &cerr) ||
	    hl_client_call(cl, GATE_METHOD, &req.base, &hotline__compliance__v1__check_gate_response__descriptor, md,
			   sizeof md / sizeof md[0], wait, a, (void **)&resp, &cerr))
		return hl_fail(err, HL_UNAVAILABLE, "compliance gate: no answer (%s), the action is refused",
			       hl_status_name(cerr.status));
	if (review_id)
		*review_id = resp->review_id;
	if (!resp->approved)
		return hl_fail(err, HL_PRECONDITION, "compliance gate: %s awaits an approved review %s", q->action,
			       resp->review_id[0] ? resp->review_id : "(none named)");
	return HL_OK;
}

hl_status hl_gate_check(hl_call *c, hl_gate *g, const hl_gate_query *q)
{
	hl_error err;
	if (hl_gate_ask(g, q, hl_call_tenant(c), hl_call_principal(c)->actor, hl_call_remaining_ms(c), hl_call_arena(c),
			NULL, &err))
		return hl_call_fail_err(c, &err);
	return HL_OK;
}
