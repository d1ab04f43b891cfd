/*
 * methods.c - reporting's method table: which handler serves each RPC of
 * hotline.reporting.v1.ReportingService and who may call it.  ExportLedger
 * is server-streaming (the driver knows it from the descriptor set).
 */
#include "reporting.h"

static const hl_method methods[] = {
	{"RecordEvents", reporting_record_events, HL_ACCESS_INTERNAL, "intake dispatch followup compliance"},
	{"GetLedger", reporting_get_ledger, HL_ACCESS_USER, NULL},
	{"ExportLedger", reporting_export_ledger, HL_ACCESS_USER, NULL},
	{"GetDailyReport", reporting_get_daily_report, HL_ACCESS_USER, NULL},
	{"ListDailyReports", reporting_list_daily_reports, HL_ACCESS_USER, NULL},
	{"FreezeDailyReport", reporting_freeze_daily_report, HL_ACCESS_USER, NULL},
	{"PutReportSettings", reporting_put_settings, HL_ACCESS_USER, NULL},
	{"GetReportSettings", reporting_get_settings, HL_ACCESS_USER, NULL},
	{"GetKpis", reporting_get_kpis, HL_ACCESS_USER, NULL},
	{"GetPublicDisclosure", reporting_get_disclosure, HL_ACCESS_PUBLIC, NULL},
};

const hl_service reporting_service = {
	&hotline__reporting__v1__reporting_service__descriptor,
	methods,
	sizeof methods / sizeof methods[0],
};
