/*
 * gate.c - the compliance gate on replies (DESIGN §4, §6): a reply to a
 * complaint or a misconduct report may reach the citizen only when
 * compliance.CheckGate approves its content.  The call is synchronous (the
 * only kind of synchronous call besides reads) and fails closed: when the
 * gate is configured and compliance does not answer, the reply is refused
 * with UNAVAILABLE and nothing is written.  No gate configured: every reply
 * passes.  The same gate guards changes of a visit plan when
 * HOTLINE_VISIT_PLAN_GATE is on (action followup.visit_plan).
 */
#include <string.h>

#include "followup.h"
#include "hl/handler.h"
#include "hotline/common/v1/common.pb-c.h"
#include "hotline/compliance/v1/compliance.pb-c.h"

#define GATE_METHOD "/hotline.compliance.v1.ComplianceService/CheckGate"
#define GATE_ACTION "followup.reply"
#define PLAN_GATE_ACTION "followup.visit_plan"

bool followup_gated_category(int category)
{
	return category == HOTLINE__COMMON__V1__CATEGORY__CATEGORY_COMPLAINT ||
	       category == HOTLINE__COMMON__V1__CATEGORY__CATEGORY_REPORT;
}

/* The channel to compliance, made on first use (grpc is initialised after the app state). */
static hl_status gate_client(followup_app *app, hl_client **out, hl_error *err)
{
	hl_status st = HL_OK;
	pthread_mutex_lock(&app->gate_mu);
	if (!app->gate)
		st = hl_client_new(app->gate_addr, app->common->tls_cert, app->common->tls_key, app->common->tls_ca,
				   &app->gate, err);
	*out = app->gate;
	pthread_mutex_unlock(&app->gate_mu);
	return st;
}

static int64_t gate_timeout(hl_call *c, const followup_app *app)
{
	int64_t left = hl_call_remaining_ms(c);
	return left > 0 && left < app->gate_timeout_ms ? left : app->gate_timeout_ms;
}

/* Ask CheckGate; `what` names the thing refused in the messages ("reply", "visit plan"). */
static hl_status ask(hl_call *c, Hotline__Compliance__V1__CheckGateRequest *req, const char *what)
{
	followup_app *app = followup_app_of(c);
	const hl_md md[] = {{"x-tenant-id", hl_call_tenant(c)}, {"x-actor", hl_call_principal(c)->actor}};
	hl_client *cl;
	Hotline__Compliance__V1__CheckGateResponse *resp;
	hl_error err;
	if (gate_client(app, &cl, &err) ||
	    hl_client_call(cl, GATE_METHOD, &req->base, &hotline__compliance__v1__check_gate_response__descriptor, md,
			   sizeof md / sizeof md[0], gate_timeout(c, app), hl_call_arena(c), (void **)&resp, &err))
		return hl_call_fail(c, HL_UNAVAILABLE, "compliance gate: no answer, the %s is not recorded", what);
	if (!resp->approved)
		return hl_call_fail(c, HL_PRECONDITION, "compliance gate: the %s awaits review %s", what,
				    resp->review_id[0] ? resp->review_id : "(none named)");
	return HL_OK;
}

hl_status followup_gate_check(hl_call *c, const followup_task *t, const char *content)
{
	followup_app *app = followup_app_of(c);
	if (!app->reply_gate || !followup_gated_category(t->category))
		return HL_OK;
	const char *digest = followup_digest(hl_call_arena(c), content);
	if (!digest)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	Hotline__Compliance__V1__CheckGateRequest req = HOTLINE__COMPLIANCE__V1__CHECK_GATE_REQUEST__INIT;
	req.action = (char *)GATE_ACTION;
	req.subject_type = (char *)"reply_task";
	req.subject_id = (char *)t->id;
	req.content_digest = (char *)digest;
	req.ticket_id = (char *)t->ticket_id;
	return ask(c, &req, "reply");
}

hl_status followup_plan_gate_check(hl_call *c, const char *subject, const char *digest)
{
	if (!followup_app_of(c)->plan_gate)
		return HL_OK;
	Hotline__Compliance__V1__CheckGateRequest req = HOTLINE__COMPLIANCE__V1__CHECK_GATE_REQUEST__INIT;
	req.action = (char *)PLAN_GATE_ACTION;
	req.subject_type = (char *)"visit_plan";
	req.subject_id = (char *)subject;
	req.content_digest = (char *)digest;
	return ask(c, &req, "visit plan");
}
