/*
 * main.c - the compliance service process: its own configuration and state;
 * everything else is the common program life (hl/program.h).
 */
#include <stddef.h>
#include <stdlib.h>

#include "compliance.h"
#include "hl/program.h"
#include "store.h"

struct compliance_config {
	long long major_report_ms, general_report_ms;
};

#define F(field) offsetof(struct compliance_config, field)
static const hl_config_item items[] = {
	{"HOTLINE_RISK_MAJOR_REPORT_WITHIN", HL_CFG_DURATION_MS, "2h", 1000, 7LL * 24 * 3600 * 1000,
	 F(major_report_ms), "a major risk event reaches the compliance office within this (clock time, seed 000)",
	 false},
	{"HOTLINE_RISK_GENERAL_REPORT_WITHIN", HL_CFG_DURATION_MS, "24h", 1000, 30LL * 24 * 3600 * 1000,
	 F(general_report_ms), "a general risk event is filed within this (clock time, seed 001)", false},
};

extern const hl_migration compliance_migrations[];
extern const size_t compliance_migrations_count;

static struct compliance_config config;

static hl_status init(void *cfgp, const hl_common_config *common, void **out, hl_error *err)
{
	struct compliance_config *cfg = cfgp;
	compliance_app *app = calloc(1, sizeof *app);
	if (!app)
		return hl_fail(err, HL_NOMEM, "out of memory");
	app->common = common;
	app->major_report_ms = cfg->major_report_ms;
	app->general_report_ms = cfg->general_report_ms;
	*out = app;
	return HL_OK;
}

static void release(void *p)
{
	free(p);
}

int main(int argc, char **argv)
{
	hl_program program = {
		.name = "compliance",
		.summary = "Hotline compliance service: review gates, risk register and risk events, accountability.",
		.items = items,
		.n_items = sizeof items / sizeof items[0],
		.config = &config,
		.migrations = compliance_migrations,
		.n_migrations = compliance_migrations_count,
		.services = &compliance_service,
		.n_services = 1,
		.audit_missing_sql = store_missing_chain_sql,
		.init = init,
		.release = release,
		.timer_fire = compliance_timer_fire,
	};
	return hl_program_main(&program, argc, argv);
}
