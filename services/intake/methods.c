/*
 * methods.c - intake's method table: which handler serves each RPC of
 * hotline.intake.v1.IntakeService and who may call it.
 */
#include "intake.h"

static const hl_method methods[] = {
	{"CreateTicket", intake_create_ticket, HL_ACCESS_USER, NULL, NULL},
	{"GetTicket", intake_get_ticket, HL_ACCESS_USER, NULL, NULL},
	{"ListTickets", intake_list_tickets, HL_ACCESS_USER, NULL, NULL},
	{"AmendTicket", intake_amend_ticket, HL_ACCESS_USER, NULL, NULL},
	{"RevealCaller", intake_reveal_caller, HL_ACCESS_USER, NULL, NULL},
	{"FindTicketsByPhone", intake_find_by_phone, HL_ACCESS_USER, NULL, NULL},
	{"GetPublicStatus", intake_public_status, HL_ACCESS_PUBLIC, NULL, NULL},
	{"UpdateTicketStatus", intake_update_status, HL_ACCESS_INTERNAL, "dispatch followup",
	 intake_update_status_prefetch},
};

const hl_service intake_service = {
	&hotline__intake__v1__intake_service__descriptor,
	methods,
	sizeof methods / sizeof methods[0],
};
