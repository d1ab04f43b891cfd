/*
 * main.c - the dispatch service process: its own configuration and state;
 * everything else is the common program life (hl/program.h).
 */
#include <stddef.h>
#include <stdlib.h>

#include "dispatch.h"
#include "hl/gate.h"
#include "hl/limits.h"
#include "hl/program.h"
#include "store.h"

struct dispatch_config {
	long long lock_lease_ms, gate_timeout_ms;
	bool gates;
	char *compliance_addr;
};

#define F(field) offsetof(struct dispatch_config, field)
static const hl_config_item items[] = {
	{"HOTLINE_EDIT_LOCK_LEASE_MS", HL_CFG_DURATION_MS, "2m", 1000, 3600000, F(lock_lease_ms),
	 "lease of the user-visible case edit lock (renewed by each change made with it)", false},
	{"HOTLINE_DISPATCH_GATES", HL_CFG_BOOL, "false", 0, 0, F(gates),
	 "deadline extensions and result approvals of major complaints need compliance.CheckGate (fails closed)",
	 false},
	{"HOTLINE_COMPLIANCE_ADDR", HL_CFG_STRING, "", 0, 255, F(compliance_addr),
	 "compliance host:port (required when HOTLINE_DISPATCH_GATES is on)", false},
	{"HOTLINE_GATE_TIMEOUT_MS", HL_CFG_DURATION_MS, "3s", 100, 60000, F(gate_timeout_ms),
	 "longest wait for a compliance gate answer", false},
};

/* Wire bounds of the free text intake sends (hl/limits.h: the same definition intake checks). */
static const hl_validate_override field_limits[] = {
	{"hotline.dispatch.v1.SubmitTicketRequest.topic", HL_LIMIT_WIRE_BYTES(HL_LIMIT_TOPIC_CHARS)},
	{"hotline.dispatch.v1.SubmitTicketRequest.description", HL_LIMIT_WIRE_BYTES(HL_LIMIT_DESCRIPTION_CHARS)},
	{"hotline.dispatch.v1.SubmitTicketRequest.area", HL_LIMIT_WIRE_BYTES(HL_LIMIT_AREA_CHARS)},
};

extern const hl_migration dispatch_migrations[];
extern const size_t dispatch_migrations_count;

static struct dispatch_config config;

static hl_status init(void *cfgp, const hl_common_config *common, void **out, hl_error *err)
{
	struct dispatch_config *cfg = cfgp;
	if (cfg->gates && !cfg->compliance_addr[0])
		return hl_fail(err, HL_INVALID, "HOTLINE_COMPLIANCE_ADDR: required when HOTLINE_DISPATCH_GATES is on");
	dispatch_app *app = calloc(1, sizeof *app);
	if (!app)
		return hl_fail(err, HL_NOMEM, "out of memory");
	app->common = common;
	app->lock_lease_ms = (int)cfg->lock_lease_ms;
	hl_status st = cfg->gates ? hl_gate_new(cfg->compliance_addr, common->tls_cert, common->tls_key, common->tls_ca,
						(int)cfg->gate_timeout_ms, &app->gate, err)
				  : HL_OK;
	if (st) {
		free(app);
		return st;
	}
	*out = app;
	return HL_OK;
}

static void release(void *p)
{
	dispatch_app *app = p;
	hl_gate_free(app->gate);
	free(app);
}

int main(int argc, char **argv)
{
	hl_program program = {
		.name = "dispatch",
		.summary = "Hotline dispatch service: routing, handling, working-time deadlines, supervision.",
		.items = items,
		.n_items = sizeof items / sizeof items[0],
		.config = &config,
		.migrations = dispatch_migrations,
		.n_migrations = dispatch_migrations_count,
		.services = &dispatch_service,
		.n_services = 1,
		.audit_missing_sql = store_missing_chain_sql,
		.field_limits = field_limits,
		.n_field_limits = sizeof field_limits / sizeof field_limits[0],
		.init = init,
		.release = release,
		.timer_fire = dispatch_timer_fire,
	};
	return hl_program_main(&program, argc, argv);
}
