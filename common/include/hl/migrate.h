/*
 * migrate.h - schema migrations embedded in each service binary.
 *
 * Each service lists its numbered SQL files (services/<svc>/migrations,
 * compiled in by CMake) after the shared ones (common/migrations).  At start
 * the service connects as its schema's owner role and applies what is
 * missing, one transaction per file, while holding an advisory lock taken by
 * polling pg_try_advisory_lock (a waiter blocked in pg_advisory_lock would
 * deadlock against CREATE INDEX CONCURRENTLY).  Applied files are recorded
 * with a SHA-256 checksum in <schema>.schema_migrations; a file changed after
 * it was applied stops the service with a clear error.  Several replicas
 * starting together are safe: one applies, the others wait and find nothing
 * left to do.
 *
 * In the SQL text @SCHEMA@, @RUNTIME@ and @SYSTEM@ are replaced by the schema
 * and the runtime and system role names (identifiers checked to be plain).
 *
 * Afterwards every tenant_id column of the schema is set to collect no
 * statistics (migrate.c says why: plans cached for one tenant serve all).  A
 * database analyzed before this rule keeps the statistics it has until a
 * superuser deletes them (docs/operations.md).
 */
#ifndef HL_MIGRATE_H
#define HL_MIGRATE_H

#include <stddef.h>

#include "hl/status.h"

typedef struct hl_migration {
	const char *name; /* "001_init" */
	const char *sql;
} hl_migration;

typedef struct hl_migrate_config {
	const char *owner_dsn;
	const char *schema;
	const char *runtime_role;
	const char *system_role;
	int lock_timeout_ms; /* how long to wait for another replica's migration */
} hl_migrate_config;

/* Apply the lists in order (e.g. shared, then the service's own). */
hl_status hl_migrate(const hl_migrate_config *cfg, const hl_migration *const *lists, const size_t *counts,
		     size_t n_lists, hl_error *err) HL_MUST_CHECK;

/* The shared migrations every service applies first (audit tables, helpers). */
extern const hl_migration hl_common_migrations[];
extern const size_t hl_common_migrations_count;

#endif
