/*
 * methods.c - dispatch's method table: which handler serves each RPC of
 * hotline.dispatch.v1.DispatchService and who may call it.
 */
#include "dispatch.h"

static const hl_method methods[] = {
	{"SubmitTicket", dispatch_submit_ticket, HL_ACCESS_INTERNAL, "intake", dispatch_submit_prefetch},
	{"ReopenCase", dispatch_reopen_case, HL_ACCESS_INTERNAL, "followup", NULL},
	{"CloseCase", dispatch_close_case, HL_ACCESS_INTERNAL, "followup", NULL},
	{"GetCase", dispatch_get_case, HL_ACCESS_USER, NULL, NULL},
	{"ListCases", dispatch_list_cases, HL_ACCESS_USER, NULL, NULL},
	{"AssignCase", dispatch_assign_case, HL_ACCESS_USER, NULL, NULL},
	{"AcceptCase", dispatch_accept_case, HL_ACCESS_USER, NULL, NULL},
	{"ReturnCase", dispatch_return_case, HL_ACCESS_USER, NULL, NULL},
	{"TransferCase", dispatch_transfer_case, HL_ACCESS_USER, NULL, NULL},
	{"AddCaseNote", dispatch_add_note, HL_ACCESS_USER, NULL, NULL},
	{"SubmitResult", dispatch_submit_result, HL_ACCESS_USER, NULL, NULL},
	{"ApproveResult", dispatch_approve_result, HL_ACCESS_USER, NULL, NULL},
	{"RejectResult", dispatch_reject_result, HL_ACCESS_USER, NULL, NULL},
	{"PauseCase", dispatch_pause_case, HL_ACCESS_USER, NULL, NULL},
	{"ResumeCase", dispatch_resume_case, HL_ACCESS_USER, NULL, NULL},
	{"RequestExtension", dispatch_request_extension, HL_ACCESS_USER, NULL, NULL},
	{"DecideExtension", dispatch_decide_extension, HL_ACCESS_USER, NULL, NULL},
	{"SuperviseCase", dispatch_supervise_case, HL_ACCESS_USER, NULL, NULL},
	{"ListNotices", dispatch_list_notices, HL_ACCESS_USER, NULL, NULL},
	{"LockCase", dispatch_lock_case, HL_ACCESS_USER, NULL, NULL},
	{"UnlockCase", dispatch_unlock_case, HL_ACCESS_USER, NULL, NULL},
	{"PutDepartment", dispatch_put_department, HL_ACCESS_USER, NULL, NULL},
	{"ListDepartments", dispatch_list_departments, HL_ACCESS_USER, NULL, NULL},
	{"PutStaff", dispatch_put_staff, HL_ACCESS_USER, NULL, NULL},
	{"ListStaff", dispatch_list_staff, HL_ACCESS_USER, NULL, NULL},
	{"PutRoutingRule", dispatch_put_rule, HL_ACCESS_USER, NULL, NULL},
	{"ListRoutingRules", dispatch_list_rules, HL_ACCESS_USER, NULL, NULL},
	{"PutSlaPolicy", dispatch_put_sla, HL_ACCESS_USER, NULL, NULL},
	{"GetSlaPolicy", dispatch_get_sla, HL_ACCESS_USER, NULL, NULL},
	{"PutCalendar", dispatch_put_calendar, HL_ACCESS_USER, NULL, NULL},
	{"GetCalendar", dispatch_get_calendar, HL_ACCESS_USER, NULL, NULL},
};

const hl_service dispatch_service = {
	&hotline__dispatch__v1__dispatch_service__descriptor,
	methods,
	sizeof methods / sizeof methods[0],
};
