/*
 * destroy.c - `hotline-intake destroy-period TENANT PERIOD`: the operator
 * command that destroys a retention period of a tenant (R28).
 *
 * It runs with the service's own environment (HOTLINE_MASTER_KEY_FILE,
 * HOTLINE_KEY_DIR, HOTLINE_DB_DSN), so only who holds the service's secrets
 * can run it (an operator in a pod, a Kubernetes Job with the service's
 * Secret).  Steps, each idempotent (run it again after a failure):
 *   1. hl_keyring_destroy_period: tombstone, key file shredded.  From then on
 *      every replica sharing the key directory sees the period as destroyed
 *      at its next use of it (the tombstone is checked at every use): no
 *      mask, no phone index, no reveal of that period's tickets;
 *   2. in one transaction of the tenant: clear the phone indexes of that
 *      period made under the former tenant-wide key (before migration 004),
 *      and record the destruction in the audit chain "retention:<period>"
 *      (action retention.destroy).
 * Exit status: 0 done, 1 failed (message on stderr), 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hl/audit.h"
#include "hl/config.h"
#include "hl/pg.h"
#include "intake.h"
#include "store.h"

struct destroy_config {
	char *master_key_file, *key_dir, *db_dsn, *db_schema;
};

#define F(field) offsetof(struct destroy_config, field)
static const hl_config_item items[] = {
	{"HOTLINE_MASTER_KEY_FILE", HL_CFG_PATH, NULL, 0, 0, F(master_key_file), "master key file", false},
	{"HOTLINE_KEY_DIR", HL_CFG_STRING, NULL, 0, 0, F(key_dir), "directory of retention-period keys", false},
	{"HOTLINE_DB_DSN", HL_CFG_STRING, NULL, 0, 0, F(db_dsn), "PostgreSQL DSN of the runtime role", true},
	{"HOTLINE_DB_SCHEMA", HL_CFG_STRING, "intake", 0, 0, F(db_schema), "schema name", false},
};
#undef F
#define N_ITEMS (sizeof items / sizeof items[0])

/* Step 2: forget the period's legacy phone indexes and record the destruction. */
static hl_status record(const struct destroy_config *cfg, const char *tenant, const char *period,
			long long *cleared, hl_error *err)
{
	hl_pg *pg = NULL;
	hl_arena *a = hl_arena_new();
	if (!a)
		return hl_fail(err, HL_NOMEM, "out of memory");
	hl_status st = hl_pg_new(cfg->db_dsn, cfg->db_schema, &pg, err);
	if (st == HL_OK)
		st = hl_pg_begin(pg, tenant, 30000, err);
	if (st == HL_OK)
		st = store_period_destroyed(pg, a, period, cleared, err);
	if (st == HL_OK) {
		const char *details = hl_arena_printf(a, "{\"period\":\"%s\",\"legacy_phone_indexes_cleared\":%lld}",
						      period, *cleared);
		const char *subject = hl_arena_printf(a, "retention:%s", period);
		st = details && subject ? hl_audit_append(pg, a, tenant, "retention", subject, "operator",
							  "retention.destroy", details, false, err)
					: hl_fail(err, HL_NOMEM, "out of memory");
	}
	if (st == HL_OK)
		st = hl_pg_commit(pg, err);
	else if (pg)
		hl_pg_rollback(pg);
	hl_pg_free(pg);
	hl_arena_free(a);
	return st;
}

int intake_destroy_period_main(int argc, char **argv)
{
	struct destroy_config cfg;
	hl_keyring *kr = NULL;
	hl_error err;
	long long cleared = 0;
	memset(&cfg, 0, sizeof cfg);
	hl_error_clear(&err);
	if (argc != 4 || !hl_keyring_tenant_valid(argv[2]) || !hl_keyring_period_valid(argv[3])) {
		fprintf(stderr, "usage: hotline-intake destroy-period TENANT PERIOD\n"
				"  destroys the retention-period key of TENANT (e.g. demo) and PERIOD (e.g. 2035) for good\n");
		return 2;
	}
	const char *tenant = argv[2], *period = argv[3];
	hl_status st = hl_config_load(items, N_ITEMS, &cfg, &err);
	if (st == HL_OK)
		st = hl_keyring_new(cfg.master_key_file, cfg.key_dir, &kr, &err);
	if (st == HL_OK)
		st = hl_keyring_destroy_period(kr, tenant, period, &err);
	if (st == HL_OK)
		st = record(&cfg, tenant, period, &cleared, &err);
	hl_keyring_free(kr);
	hl_config_release(items, N_ITEMS, &cfg);
	if (st) {
		fprintf(stderr, "hotline-intake destroy-period: %s (run it again: every step is idempotent)\n",
			hl_error_text(&err));
		return 1;
	}
	printf("destroyed retention period %s/%s (legacy phone indexes cleared: %lld)\n", tenant, period, cleared);
	return 0;
}
