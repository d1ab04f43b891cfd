/*
 * methods.c - compliance's method table: which handler serves each RPC of
 * hotline.compliance.v1.ComplianceService and who may call it.
 */
#include "compliance.h"

static const hl_method methods[] = {
	{"RecordViolation", compliance_record_violation, HL_ACCESS_INTERNAL, "dispatch followup intake", NULL},
	{"ReportRiskEvent", compliance_report_risk_event, HL_ACCESS_INTERNAL, "followup dispatch intake", NULL},
	{"FileViolation", compliance_file_violation, HL_ACCESS_USER, NULL, NULL},
	{"ListViolations", compliance_list_violations, HL_ACCESS_USER, NULL, NULL},
	{"AppealViolation", compliance_appeal_violation, HL_ACCESS_USER, NULL, NULL},
	{"RaiseRiskEvent", compliance_raise_risk_event, HL_ACCESS_USER, NULL, NULL},
	{"AcceptRiskEvent", compliance_accept_risk_event, HL_ACCESS_USER, NULL, NULL},
	{"CloseRiskEvent", compliance_close_risk_event, HL_ACCESS_USER, NULL, NULL},
	{"ListRiskEvents", compliance_list_risk_events, HL_ACCESS_USER, NULL, NULL},
	{"CheckGate", compliance_check_gate, HL_ACCESS_INTERNAL, "followup dispatch intake", NULL},
	{"PutGateRule", compliance_put_gate_rule, HL_ACCESS_USER, NULL, NULL},
	{"ListGateRules", compliance_list_gate_rules, HL_ACCESS_USER, NULL, NULL},
	{"RequestReview", compliance_request_review, HL_ACCESS_USER, NULL, NULL},
	{"DecideReview", compliance_decide_review, HL_ACCESS_USER, NULL, NULL},
	{"GetReview", compliance_get_review, HL_ACCESS_USER, NULL, NULL},
	{"ListReviews", compliance_list_reviews, HL_ACCESS_USER, NULL, NULL},
	{"PutRisk", compliance_put_risk, HL_ACCESS_USER, NULL, NULL},
	{"ListRisks", compliance_list_risks, HL_ACCESS_USER, NULL, NULL},
	{"IssueWarning", compliance_issue_warning, HL_ACCESS_USER, NULL, NULL},
	{"ListWarnings", compliance_list_warnings, HL_ACCESS_USER, NULL, NULL},
	{"AcknowledgeWarning", compliance_acknowledge_warning, HL_ACCESS_USER, NULL, NULL},
	{"RectifyWarning", compliance_rectify_warning, HL_ACCESS_USER, NULL, NULL},
	{"ListNotices", compliance_list_notices, HL_ACCESS_USER, NULL, NULL},
};

const hl_service compliance_service = {
	&hotline__compliance__v1__compliance_service__descriptor,
	methods,
	sizeof methods / sizeof methods[0],
};
