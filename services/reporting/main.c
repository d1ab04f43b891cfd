/*
 * main.c - the reporting service process: its own configuration (the report
 * signing key, the cut-off sweep) and state; everything else is the common
 * program life (hl/program.h).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "hl/program.h"
#include "reporting.h"
#include "store.h"

struct reporting_config {
	char *signing_key_file;
	long long sweep_ms;
};

#define F(field) offsetof(struct reporting_config, field)
static const hl_config_item items[] = {
	{"HOTLINE_REPORT_SIGNING_KEY_FILE", HL_CFG_STRING, "", 1, 4096, F(signing_key_file),
	 "PEM Ed25519 private key that signs the daily reports (openssl genpkey -algorithm ed25519)", false},
	{"HOTLINE_REPORT_SWEEP_MS", HL_CFG_DURATION_MS, "5m", 0, 86400000, F(sweep_ms),
	 "how often one replica (singleton lock) freezes daily reports a timer missed; 0: never", false},
};

extern const hl_migration reporting_migrations[];
extern const size_t reporting_migrations_count;

static struct reporting_config config;

static hl_status start_sweep(reporting_app *app, const hl_common_config *common, hl_error *err)
{
	if (!app->sweep_interval_ms || !common->db_system_dsn[0] || !common->redis_url[0])
		return HL_OK;
	hl_status st = hl_pg_new(common->db_system_dsn, common->db_schema, &app->sweep_pg, err);
	if (st)
		return st;
	static char holder[96];
	char host[64] = "host";
	gethostname(host, sizeof host - 1);
	snprintf(holder, sizeof holder, "%s:%ld", host, (long)getpid());
	hl_singleton_config sc = {.redis_url = common->redis_url, .prefix = common->redis_prefix,
				  .service = "reporting", .name = "daily-cutoff", .holder = holder,
				  .db_dsn = common->db_system_dsn, .db_schema = common->db_schema,
				  .lease_ms = 60000, .interval_ms = app->sweep_interval_ms, .fn = reporting_sweep,
				  .arg = app};
	return hl_singleton_start(&sc, &app->sweep, err);
}

static void release(void *p)
{
	reporting_app *app = p;
	if (!app)
		return;
	hl_singleton_stop(app->sweep);
	hl_pg_free(app->sweep_pg);
	reporting_signer_free(app->signer);
	free(app);
}

static hl_status init(void *cfgp, const hl_common_config *common, void **out, hl_error *err)
{
	struct reporting_config *cfg = cfgp;
	reporting_app *app = calloc(1, sizeof *app);
	if (!app)
		return hl_fail(err, HL_NOMEM, "out of memory");
	app->common = common;
	app->sweep_interval_ms = (int)cfg->sweep_ms;
	hl_status st = reporting_signer_load(cfg->signing_key_file, &app->signer, err);
	if (!st)
		st = start_sweep(app, common, err);
	if (st) {
		release(app);
		return st;
	}
	*out = app;
	return HL_OK;
}

int main(int argc, char **argv)
{
	hl_program program = {
		.name = "reporting",
		.summary = "Hotline reporting service: event store, ledger and export, daily reports, KPIs, disclosure.",
		.items = items,
		.n_items = sizeof items / sizeof items[0],
		.config = &config,
		.migrations = reporting_migrations,
		.n_migrations = reporting_migrations_count,
		.services = &reporting_service,
		.n_services = 1,
		.audit_missing_sql = store_missing_chain_sql,
		.init = init,
		.release = release,
		.timer_fire = reporting_timer_fire,
	};
	return hl_program_main(&program, argc, argv);
}
