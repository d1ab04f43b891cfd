/*
 * methods.c - followup's method table: which handler serves each RPC of
 * hotline.followup.v1.FollowUpService and who may call it.
 */
#include "followup.h"

static const hl_method methods[] = {
	{"ScheduleReply", followup_schedule_reply, HL_ACCESS_INTERNAL, "dispatch", NULL},
	{"ListReplyTasks", followup_list_reply_tasks, HL_ACCESS_USER, NULL, NULL},
	{"GetReplyTask", followup_get_reply_task, HL_ACCESS_USER, NULL, NULL},
	{"RecordReply", followup_record_reply, HL_ACCESS_USER, NULL, NULL},
	{"CloseReplyTask", followup_close_reply_task, HL_ACCESS_USER, NULL, NULL},
	{"PutCounterpart", followup_put_counterpart, HL_ACCESS_USER, NULL, NULL},
	{"ListCounterparts", followup_list_counterparts, HL_ACCESS_USER, NULL, NULL},
	{"PutVisitPlan", followup_put_visit_plan, HL_ACCESS_USER, NULL, NULL},
	{"ListVisits", followup_list_visits, HL_ACCESS_USER, NULL, NULL},
	{"RecordVisit", followup_record_visit, HL_ACCESS_USER, NULL, NULL},
	{"RecheckVisit", followup_recheck_visit, HL_ACCESS_USER, NULL, NULL},
	{"GetCoverage", followup_get_coverage, HL_ACCESS_USER, NULL, NULL},
	{"PutQuestionnaire", followup_put_questionnaire, HL_ACCESS_USER, NULL, NULL},
	{"PutSamplingPolicy", followup_put_sampling_policy, HL_ACCESS_USER, NULL, NULL},
	{"GetSamplingPolicy", followup_get_sampling_policy, HL_ACCESS_USER, NULL, NULL},
	{"SampleTicket", followup_sample_ticket_rpc, HL_ACCESS_INTERNAL, "intake", NULL},
	{"ListNotices", followup_list_notices, HL_ACCESS_USER, NULL, NULL},
	{"AcknowledgeNotice", followup_acknowledge_notice, HL_ACCESS_USER, NULL, NULL},
};

const hl_service followup_service = {
	&hotline__followup__v1__follow_up_service__descriptor,
	methods,
	sizeof methods / sizeof methods[0],
};
