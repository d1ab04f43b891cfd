/*
 * methods.c - reporting's method table: which handler serves each RPC of
 * hotline.reporting.v1.ReportingService and who may call it.  ExportLedger
 * is server-streaming (the driver knows it from the descriptor set).
 */
#include "reporting.h"

static const hl_method methods[] = {
	{"RecordEvents", reporting_record_events, HL_ACCESS_INTERNAL, "intake dispatch followup compliance", NULL},
	{"GetLedger", reporting_get_ledger, HL_ACCESS_USER, NULL, NULL},
	{"ExportLedger", reporting_export_ledger, HL_ACCESS_USER, NULL, NULL},
	{"GetDailyReport", reporting_get_daily_report, HL_ACCESS_USER, NULL, NULL},
	{"ListDailyReports", reporting_list_daily_reports, HL_ACCESS_USER, NULL, NULL},
	{"FreezeDailyReport", reporting_freeze_daily_report, HL_ACCESS_USER, NULL, NULL},
	{"PutReportSettings", reporting_put_settings, HL_ACCESS_USER, NULL, NULL},
	{"GetReportSettings", reporting_get_settings, HL_ACCESS_USER, NULL, NULL},
	{"GetKpis", reporting_get_kpis, HL_ACCESS_USER, NULL, NULL},
	{"GetPublicDisclosure", reporting_get_disclosure, HL_ACCESS_PUBLIC, NULL, NULL},
};

const hl_service reporting_service = {
	&hotline__reporting__v1__reporting_service__descriptor,
	methods,
	sizeof methods / sizeof methods[0],
};
