/*
 * gate.c - compliance review gates on dispatch's gated actions (R19, "no
 * implementation without review"; hl/gate.h): approving a deadline
 * extension, and signing off the result (the solution) of a major-priority
 * complaint.  Before either takes effect dispatch asks compliance.CheckGate
 * for an approved review of exactly this content; not approved ->
 * FAILED_PRECONDITION naming the review, no answer -> UNAVAILABLE (fail
 * closed), and nothing is written either way.  Gates off
 * (HOTLINE_DISPATCH_GATES): every action passes.  Other results are not
 * gated, so they never depend on compliance being up.
 */
#include <string.h>

#include "dispatch.h"
#include "hl/handler.h"
#include "hotline/common/v1/common.pb-c.h"

#define COMPLAINT HOTLINE__COMMON__V1__CATEGORY__CATEGORY_COMPLAINT
#define MAJOR HOTLINE__COMMON__V1__PRIORITY__PRIORITY_MAJOR

/* An extension's length in hours for gate rules: working days count 8, minutes round up. */
static int extension_hours(int amount, int unit)
{
	switch (unit) {
	case HOTLINE__DISPATCH__V1__DURATION_UNIT__DURATION_UNIT_WORKING_DAYS:
		return amount * 8;
	case HOTLINE__DISPATCH__V1__DURATION_UNIT__DURATION_UNIT_WORKING_MINUTES:
		return (amount + 59) / 60;
	default:
		return amount;
	}
}

hl_status dispatch_gate_extension(hl_call *c, const dispatch_case *k, const char *extension_id, int deadline_kind,
				  int amount, int unit, const char *reason)
{
	const dispatch_app *app = hl_call_app(c);
	if (!app->gate)
		return HL_OK;
	hl_arena *a = hl_call_arena(c);
	const char *content = hl_arena_printf(a, "extension\n%s\n%d\n%d\n%d\n%s", k->id, deadline_kind, amount, unit, reason);
	const char *summary = hl_arena_printf(a, "延期 %s: %d (unit %d)", k->ticket_no, amount, unit);
	if (!content || !summary)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	hl_gate_query q = {.action = "dispatch.extension", .subject_type = "extension", .subject_id = extension_id,
			   .content = content, .ticket_id = k->ticket_id,
			   .department_id = k->department_id, .summary = summary, .category = k->category,
			   .priority = k->priority, .extension_hours = extension_hours(amount, unit)};
	return hl_gate_check(c, app->gate, &q);
}

hl_status dispatch_gate_result(hl_call *c, const dispatch_case *k)
{
	const dispatch_app *app = hl_call_app(c);
	if (!app->gate || k->category != COMPLAINT || k->priority != MAJOR)
		return HL_OK;
	const char *summary = hl_arena_printf(hl_call_arena(c), "重大投诉处理方案 %s", k->ticket_no);
	if (!summary)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	/* the content bound to the approval is the result text (its SHA-256 is the case's approved digest) */
	hl_gate_query q = {.action = "dispatch.result_approval", .subject_type = "case", .subject_id = k->id,
			   .content = k->result_text, .ticket_id = k->ticket_id,
			   .department_id = k->department_id, .summary = summary, .category = k->category,
			   .priority = k->priority};
	return hl_gate_check(c, app->gate, &q);
}
