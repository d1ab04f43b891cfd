/*
 * methods.c - followup's method table: which handler serves each RPC of
 * hotline.followup.v1.FollowUpService and who may call it.
 */
#include "followup.h"

static const hl_method methods[] = {
	{"ScheduleReply", followup_schedule_reply, HL_ACCESS_INTERNAL, "dispatch"},
	{"ListReplyTasks", followup_list_reply_tasks, HL_ACCESS_USER, NULL},
	{"GetReplyTask", followup_get_reply_task, HL_ACCESS_USER, NULL},
	{"RecordReply", followup_record_reply, HL_ACCESS_USER, NULL},
	{"CloseReplyTask", followup_close_reply_task, HL_ACCESS_USER, NULL},
};

const hl_service followup_service = {
	&hotline__followup__v1__follow_up_service__descriptor,
	methods,
	sizeof methods / sizeof methods[0],
};
