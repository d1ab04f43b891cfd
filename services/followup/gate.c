/*
 * gate.c - the compliance gate on replies (DESIGN §4, §6; hl/gate.h): a
 * reply to a complaint or a misconduct report may reach the citizen only
 * when compliance.CheckGate approves its content.  The call is synchronous
 * (the only kind of synchronous call besides reads) and fails closed: when
 * the gate is configured and compliance does not answer, the reply is
 * refused with UNAVAILABLE and nothing is written.  No gate configured:
 * every reply passes.  The same gate guards changes of a visit plan when
 * HOTLINE_VISIT_PLAN_GATE is on (action followup.visit_plan).
 */
#include <string.h>

#include "followup.h"
#include "hl/handler.h"
#include "hotline/common/v1/common.pb-c.h"

bool followup_gated_category(int category)
{
	return category == HOTLINE__COMMON__V1__CATEGORY__CATEGORY_COMPLAINT ||
	       category == HOTLINE__COMMON__V1__CATEGORY__CATEGORY_REPORT;
}

hl_status followup_gate_check(hl_call *c, const followup_task *t, const char *content)
{
	followup_app *app = followup_app_of(c);
	if (!app->reply_gate || !followup_gated_category(t->category))
		return HL_OK;
	hl_gate_query q = {.action = "followup.reply", .subject_type = "reply_task", .subject_id = t->id,
			   .content = content, .ticket_id = t->ticket_id, .category = t->category};
	return hl_gate_check(c, app->gate, &q);
}

hl_status followup_plan_gate_check(hl_call *c, const char *subject, const char *plan_text)
{
	followup_app *app = followup_app_of(c);
	if (!app->plan_gate)
		return HL_OK;
	hl_gate_query q = {.action = "followup.visit_plan", .subject_type = "visit_plan", .subject_id = subject,
			   .content = plan_text};
	return hl_gate_check(c, app->gate, &q);
}
