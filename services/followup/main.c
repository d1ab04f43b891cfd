/*
 * main.c - the followup service process: its own configuration and state;
 * everything else is the common program life (hl/program.h).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "followup.h"
#include "hl/limits.h"
#include "hl/program.h"
#include "store.h"

struct followup_config {
	char *reply_calendar, *compliance_addr, *test_clock, *environment;
	long long reply_within_days, max_attempts, gate_timeout_ms, recheck_percent;
	bool reply_gate, plan_gate;
};

#define F(field) offsetof(struct followup_config, field)
static const hl_config_item items[] = {
	{"HOTLINE_REPLY_CALENDAR", HL_CFG_STRING, "zone=Asia/Shanghai; mon-fri=09:00-12:00,13:30-17:30", 1, 4096,
	 F(reply_calendar), "working-time calendar of reply deadlines that dispatch did not compute", false},
	{"HOTLINE_REPLY_WITHIN_DAYS", HL_CFG_INT, "3", 1, 60, F(reply_within_days),
	 "working days to reply when dispatch sent no reply deadline", false},
	{"HOTLINE_REPLY_MAX_ATTEMPTS", HL_CFG_INT, "3", 1, 50, F(max_attempts),
	 "unreachable contacts after which a reply task is recorded as unreachable", false},
	{"HOTLINE_REPLY_GATE", HL_CFG_BOOL, "false", 0, 0, F(reply_gate),
	 "replies to complaints and misconduct reports need compliance.CheckGate (fails closed)", false},
	{"HOTLINE_VISIT_PLAN_GATE", HL_CFG_BOOL, "false", 0, 0, F(plan_gate),
	 "changes of a visit plan need compliance.CheckGate (fails closed)", false},
	{"HOTLINE_COMPLIANCE_ADDR", HL_CFG_STRING, "", 0, 255, F(compliance_addr),
	 "compliance host:port (required when HOTLINE_REPLY_GATE or HOTLINE_VISIT_PLAN_GATE is on)", false},
	{"HOTLINE_RECHECK_PERCENT", HL_CFG_INT, "10", 0, 100, F(recheck_percent),
	 "percent of visit records drawn for a re-check by someone else (all that found a problem are)", false},
	{"HOTLINE_REPLY_GATE_TIMEOUT_MS", HL_CFG_DURATION_MS, "3s", 100, 60000, F(gate_timeout_ms),
	 "longest wait for a compliance gate answer", false},
	{"HOTLINE_ENVIRONMENT", HL_CFG_STRING, "production", 1, 32, F(environment),
	 "production, staging, development or test; only test accepts HOTLINE_FOLLOWUP_TEST_CLOCK", false},
	{"HOTLINE_FOLLOWUP_TEST_CLOCK", HL_CFG_STRING, "", 0, 128, F(test_clock),
	 "tests only: anchor=<unix seconds>,scale=<n> runs the clock of visits n times faster from the anchor", false},
};

/* Wire bounds of the free text dispatch sends: its result text (one limit with dispatch's SubmitResult). */
static const hl_validate_override field_limits[] = {
	{"hotline.followup.v1.ScheduleReplyRequest.result_text", HL_LIMIT_WIRE_BYTES(HL_LIMIT_RESULT_CHARS)},
};

extern const hl_migration followup_migrations[];
extern const size_t followup_migrations_count;

static struct followup_config config;

static hl_status init(void *cfgp, const hl_common_config *common, void **out, hl_error *err)
{
	struct followup_config *cfg = cfgp;
	if ((cfg->reply_gate || cfg->plan_gate) && !cfg->compliance_addr[0])
		return hl_fail(err, HL_INVALID, "HOTLINE_COMPLIANCE_ADDR: required when a compliance gate is on");
	if (strcmp(cfg->environment, "production") != 0 && strcmp(cfg->environment, "staging") != 0 &&
	    strcmp(cfg->environment, "development") != 0 && strcmp(cfg->environment, "test") != 0)
		return hl_fail(err, HL_INVALID, "HOTLINE_ENVIRONMENT: one of production, staging, development, test");
	if (cfg->test_clock[0] && strcmp(cfg->environment, "test") != 0)
		return hl_fail(err, HL_INVALID, "HOTLINE_FOLLOWUP_TEST_CLOCK: refused unless HOTLINE_ENVIRONMENT=test");
	followup_clock clock;
	if (followup_clock_parse(cfg->test_clock, &clock, err))
		return err->status;
	followup_app *app = calloc(1, sizeof *app);
	if (!app)
		return hl_fail(err, HL_NOMEM, "out of memory");
	hl_calendar *cal;
	hl_status st = hl_calendar_parse(cfg->reply_calendar, &cal, err);
	if (st) {
		free(app);
		return st;
	}
	app->common = common;
	app->clock = clock;
	app->calendar = cal;
	app->reply_within_days = (int)cfg->reply_within_days;
	app->max_attempts = (int)cfg->max_attempts;
	app->recheck_percent = (int)cfg->recheck_percent;
	app->reply_gate = cfg->reply_gate;
	app->plan_gate = cfg->plan_gate;
	if ((cfg->reply_gate || cfg->plan_gate) &&
	    (st = hl_gate_new(cfg->compliance_addr, common->tls_cert, common->tls_key, common->tls_ca,
			      (int)cfg->gate_timeout_ms, &app->gate, err))) {
		hl_calendar_free(cal);
		free(app);
		return st;
	}
	*out = app;
	return HL_OK;
}

static void release(void *p)
{
	followup_app *app = p;
	hl_gate_free(app->gate);
	hl_calendar_free((hl_calendar *)app->calendar);
	free(app);
}

int main(int argc, char **argv)
{
	hl_program program = {
		.name = "followup",
		.summary = "Hotline followup service: replies to the citizen, satisfaction, reopen until satisfied; follow-up visits.",
		.items = items,
		.n_items = sizeof items / sizeof items[0],
		.config = &config,
		.migrations = followup_migrations,
		.n_migrations = followup_migrations_count,
		.services = &followup_service,
		.n_services = 1,
		.audit_missing_sql = store_missing_chain_sql,
		.field_limits = field_limits,
		.n_field_limits = sizeof field_limits / sizeof field_limits[0],
		.init = init,
		.release = release,
		.timer_fire = followup_timer_fire,
	};
	return hl_program_main(&program, argc, argv);
}
