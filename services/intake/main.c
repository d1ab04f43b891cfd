/*
 * main.c - the intake service process: its own configuration and state;
 * everything else is the common program life (hl/program.h).  One operator
 * command besides: `hotline-intake destroy-period TENANT PERIOD` (destroy.c).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "hl/limits.h"
#include "hl/program.h"
#include "intake.h"
#include "store.h"

struct intake_config {
	char *master_key_file, *key_dir, *time_zone;
	long long retention_years, phone_lookups_per_minute;
};

#define F(field) offsetof(struct intake_config, field)
static const hl_config_item items[] = {
	{"HOTLINE_MASTER_KEY_FILE", HL_CFG_PATH, NULL, 0, 0, F(master_key_file),
	 "master key file (v<N>:<base64> lines); the service refuses to start without it", false},
	{"HOTLINE_KEY_DIR", HL_CFG_STRING, NULL, 0, 0, F(key_dir),
	 "directory of retention-period keys, outside the database and its backups", false},
	{"HOTLINE_TIME_ZONE", HL_CFG_STRING, "Asia/Shanghai", 0, 0, F(time_zone), "time zone of ticket-number dates", false},
	{"HOTLINE_RETENTION_YEARS", HL_CFG_INT, "10", 1, 100, F(retention_years),
	 "years a ticket's caller data is kept (selects its retention-period key)", false},
	{"HOTLINE_PHONE_LOOKUPS_PER_MINUTE", HL_CFG_INT, "30", 1, 10000, F(phone_lookups_per_minute),
	 "FindTicketsByPhone calls one user may make per minute in one tenant (counted in Redis)", false},
};

/* Wire bounds of the free-text fields (hl/limits.h, shared with dispatch); the handlers bound
 * them in characters. AmendTicket's new_value is at most the longest amendable field. */
static const hl_validate_override field_limits[] = {
	{"hotline.intake.v1.CreateTicketRequest.topic", HL_LIMIT_WIRE_BYTES(HL_LIMIT_TOPIC_CHARS)},
	{"hotline.intake.v1.CreateTicketRequest.description", HL_LIMIT_WIRE_BYTES(HL_LIMIT_DESCRIPTION_CHARS)},
	{"hotline.intake.v1.CreateTicketRequest.area", HL_LIMIT_WIRE_BYTES(HL_LIMIT_AREA_CHARS)},
	{"hotline.intake.v1.CreateTicketRequest.answer", HL_LIMIT_WIRE_BYTES(HL_LIMIT_ANSWER_CHARS)},
	{"hotline.intake.v1.AmendTicketRequest.new_value", HL_LIMIT_WIRE_BYTES(HL_LIMIT_DESCRIPTION_CHARS)},
};

extern const hl_migration intake_migrations[];
extern const size_t intake_migrations_count;

static struct intake_config config;

static hl_status init(void *cfgp, const hl_common_config *common, void **out, hl_error *err)
{
	struct intake_config *cfg = cfgp;
	intake_app *app = calloc(1, sizeof *app);
	if (!app)
		return hl_fail(err, HL_NOMEM, "out of memory");
	hl_status st = hl_keyring_new(cfg->master_key_file, cfg->key_dir, &app->keys, err);
	if (st) {
		free(app);
		return st;
	}
	if (!(app->registrations = intake_registrations_new())) {
		hl_keyring_free(app->keys);
		free(app);
		return hl_fail(err, HL_NOMEM, "out of memory");
	}
	app->common = common;
	app->retention_years = (int)cfg->retention_years;
	app->phone_lookups_per_minute = (int)cfg->phone_lookups_per_minute;
	app->time_zone = cfg->time_zone;
	*out = app;
	return HL_OK;
}

static void release(void *p)
{
	intake_app *app = p;
	hl_group_free(app->registrations);
	hl_keyring_free(app->keys);
	free(app);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "destroy-period") == 0)
		return intake_destroy_period_main(argc, argv);
	hl_program program = {
		.name = "intake",
		.summary = "Hotline intake service: ticket registration, caller data, public status.",
		.items = items,
		.n_items = sizeof items / sizeof items[0],
		.config = &config,
		.migrations = intake_migrations,
		.n_migrations = intake_migrations_count,
		.services = &intake_service,
		.n_services = 1,
		.audit_missing_sql = store_missing_chain_sql,
		.field_limits = field_limits,
		.n_field_limits = sizeof field_limits / sizeof field_limits[0],
		.init = init,
		.release = release,
	};
	return hl_program_main(&program, argc, argv);
}
