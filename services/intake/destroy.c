/*
 * destroy.c - `hotline-intake destroy-period TENANT PERIOD`: the operator
 * command that destroys a retention period of a tenant (R28).
 *
 * It runs with the service's own environment (HOTLINE_MASTER_KEY_FILE,
 * HOTLINE_KEY_DIR, HOTLINE_DB_DSN), so only who holds the service's secrets
 * can run it (an operator in a pod, a Kubernetes Job with the service's
 * Secret).  Steps, each idempotent (run it again after a failure):
 *   0. the compliance gate (R19, "no implementation without review";
 *      hl/gate.h): compliance.CheckGate must find an approved review of
 *      destroying exactly this tenant's period (action
 *      intake.destroy_period).  The first run requests the review and stops,
 *      naming it; once a reviewer other than the operator approves it, the
 *      next run destroys.  Compliance unreachable: nothing is destroyed
 *      (fail closed).  HOTLINE_DESTROY_GATE=off skips the gate (a
 *      deployment without compliance);
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

#include <grpc/grpc.h>

#include "hl/audit.h"
#include "hl/config.h"
#include "hl/gate.h"
#include "hl/rpc_client.h"
#include "hl/pg.h"
#include "intake.h"
#include "store.h"

struct destroy_config {
	char *master_key_file, *key_dir, *db_dsn, *db_schema;
	char *compliance_addr, *tls_cert, *tls_key, *tls_ca, *actor;
	long long gate_timeout_ms;
	bool gate;
};

#define F(field) offsetof(struct destroy_config, field)
static const hl_config_item items[] = {
	{"HOTLINE_MASTER_KEY_FILE", HL_CFG_PATH, NULL, 0, 0, F(master_key_file), "master key file", false},
	{"HOTLINE_KEY_DIR", HL_CFG_STRING, NULL, 0, 0, F(key_dir), "directory of retention-period keys", false},
	{"HOTLINE_DB_DSN", HL_CFG_STRING, NULL, 0, 0, F(db_dsn), "PostgreSQL DSN of the runtime role", true},
	{"HOTLINE_DB_SCHEMA", HL_CFG_STRING, "intake", 0, 0, F(db_schema), "schema name", false},
	{"HOTLINE_DESTROY_GATE", HL_CFG_BOOL, "true", 0, 0, F(gate),
	 "destruction needs an approved compliance review (compliance.CheckGate, fails closed)", false},
	{"HOTLINE_COMPLIANCE_ADDR", HL_CFG_STRING, "", 0, 255, F(compliance_addr),
	 "compliance host:port (required when HOTLINE_DESTROY_GATE is on)", false},
	{"HOTLINE_TLS_CERT", HL_CFG_STRING, "", 0, 4096, F(tls_cert), "intake's certificate (PEM) for compliance",
	 false},
	{"HOTLINE_TLS_KEY", HL_CFG_STRING, "", 0, 4096, F(tls_key), "its private key (PEM)", false},
	{"HOTLINE_TLS_CA", HL_CFG_STRING, "", 0, 4096, F(tls_ca), "the deployment's CA (PEM)", false},
	{"HOTLINE_GATE_TIMEOUT_MS", HL_CFG_DURATION_MS, "10s", 100, 60000, F(gate_timeout_ms),
	 "longest wait for compliance's answer", false},
	{"HOTLINE_DESTROY_ACTOR", HL_CFG_STRING, "operator", 1, 128, F(actor),
	 "who runs the command (ASCII): the review's requester and the audit entry's actor", false},
};
#undef F
#define N_ITEMS (sizeof items / sizeof items[0])

/* Step 0: an approved review of destroying tenant/period (nothing when the gate is off). */
static hl_status gate(const struct destroy_config *cfg, const char *tenant, const char *period, hl_error *err)
{
	if (!cfg->gate)
		return HL_OK;
	if (!cfg->compliance_addr[0] || !cfg->tls_cert[0] || !cfg->tls_key[0] || !cfg->tls_ca[0])
		return hl_fail(err, HL_INVALID, "HOTLINE_COMPLIANCE_ADDR and HOTLINE_TLS_CERT/KEY/CA: required while "
						"HOTLINE_DESTROY_GATE is on");
	hl_arena *a = hl_arena_new();
	hl_gate *g = NULL;
	if (!a)
		return hl_fail(err, HL_NOMEM, "out of memory");
	const char *content = hl_arena_printf(a, "destroy-period\n%s\n%s", tenant, period);
	const char *summary = hl_arena_printf(a, "销毁留存期 %s 的个人信息密钥", period);
	hl_status st = content && summary ? hl_gate_new(cfg->compliance_addr, cfg->tls_cert, cfg->tls_key, cfg->tls_ca,
							 (int)cfg->gate_timeout_ms, &g, err)
					  : hl_fail(err, HL_NOMEM, "out of memory");
	if (st == HL_OK) {
		hl_gate_query q = {.action = "intake.destroy_period", .subject_type = "retention_period",
				   .subject_id = period, .content = content,
				   .summary = summary};
		st = hl_gate_ask(g, &q, tenant, cfg->actor, 0, a, NULL, err);
	}
	hl_gate_free(g);
	hl_arena_free(a);
	return st;
}

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
		st = details && subject ? hl_audit_append(pg, a, tenant, "retention", subject, cfg->actor,
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
	if (st == HL_OK) {
		grpc_init();
		st = gate(&cfg, tenant, period, &err);
		hl_client_thread_release();
		grpc_shutdown();
	}
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
