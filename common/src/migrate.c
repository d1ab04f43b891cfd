/*
 * migrate.c - apply embedded SQL migrations under a polled advisory lock
 * (see migrate.h).
 */
#include "hl/migrate.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hl/arena.h"
#include "hl/buf.h"
#include "hl/crypto.h"
#include "hl/log.h"
#include "hl/pg.h"

static const char SQL_TRY_LOCK[] = "SELECT pg_try_advisory_lock(hashtext('hotline.migrate.' || $1))";
static const char SQL_UNLOCK[] = "SELECT pg_advisory_unlock(hashtext('hotline.migrate.' || $1))";
static const char SQL_APPLIED[] = "SELECT checksum FROM %s.schema_migrations WHERE name = $1";
static const char SQL_RECORD[] = "INSERT INTO %s.schema_migrations (name, checksum) VALUES ($1, $2)";
static const char SQL_TABLE[] = "CREATE TABLE IF NOT EXISTS %s.schema_migrations ("
				"name text PRIMARY KEY, checksum text NOT NULL, "
				"applied_at timestamptz NOT NULL DEFAULT now())";

/*
 * Every tenant_id column of the schema goes without statistics (the schema is a plain identifier,
 * substituted like a migration's @SCHEMA@).  Each statement's plan is made for the tenant of the
 * call that makes it, and a cached plan serves every tenant after it: PostgreSQL estimates
 * tenant_id = current_tenant() with that tenant's value, and a tenant the statistics do not know
 * (a new one; or any one while every tenant is among the most common values) looks like one row.
 * A scan of the tenant's rows through any tenant-first index, with the key as a filter, then costs
 * the same as the probe by key, and the cached plan read every ticket of the tenant for each
 * status update or phone look-up.  Without statistics a tenant is estimated at 1/200 of the table,
 * whichever it is, and the probe by key wins.  Applied after the migrations, to the tables they
 * made, at every start (a no-op once done).
 */
static const char SQL_NO_TENANT_STATISTICS[] =
	"DO $$ DECLARE r record; BEGIN FOR r IN SELECT c.relname FROM pg_attribute a "
	"JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
	"WHERE n.nspname = '@SCHEMA@' AND c.relkind IN ('r', 'p') AND a.attname = 'tenant_id' "
	"AND NOT a.attisdropped AND a.attstattarget <> 0 LOOP "
	"EXECUTE format('ALTER TABLE %I.%I ALTER COLUMN tenant_id SET STATISTICS 0', '@SCHEMA@', r.relname); "
	"END LOOP; END $$";

static bool plain_identifier(const char *s)
{
	if (!s || !*s || strlen(s) > 63)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || *p == '_' || (p != s && *p >= '0' && *p <= '9')))
			return false;
	return true;
}

/* SQL text with @SCHEMA@, @RUNTIME@, @SYSTEM@ replaced. */
static char *substitute(const hl_migrate_config *cfg, const char *sql)
{
	static const char *keys[] = {"@SCHEMA@", "@RUNTIME@", "@SYSTEM@"};
	const char *vals[] = {cfg->schema, cfg->runtime_role, cfg->system_role};
	hl_buf b = HL_BUF_INIT;
	for (const char *p = sql; *p;) {
		bool hit = false;
		for (int k = 0; k < 3 && !hit; k++) {
			size_t kl = strlen(keys[k]);
			if (strncmp(p, keys[k], kl) == 0) {
				hl_buf_puts(&b, vals[k]);
				p += kl;
				hit = true;
			}
		}
		if (!hit)
			hl_buf_putc(&b, *p++);
	}
	if (hl_buf_failed(&b)) {
		hl_buf_release(&b);
		return NULL;
	}
	return b.data;
}

static hl_status checksum(const char *sql, char hex[65], hl_error *err)
{
	uint8_t d[HL_SHA256_LEN];
	hl_status st = hl_sha256(sql, strlen(sql), d, err);
	if (st == HL_OK)
		hl_hex_write(d, sizeof d, hex);
	return st;
}

static hl_status take_lock(hl_pg *pg, hl_arena *a, const hl_migrate_config *cfg, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, cfg->schema);
	int waited = 0, limit = cfg->lock_timeout_ms > 0 ? cfg->lock_timeout_ms : 120000;
	for (;;) {
		PGresult *r;
		hl_status st = hl_pg_exec(pg, a, SQL_TRY_LOCK, &args, &r, err);
		if (st)
			return st;
		if (hl_pg_get_bool(r, 0, 0))
			return HL_OK;
		if (waited >= limit)
			return hl_fail(err, HL_UNAVAILABLE, "migration lock of schema %s held too long by another process",
				       cfg->schema);
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
		waited += 100;
	}
}

static hl_status apply_one(hl_pg *pg, hl_arena *a, const hl_migrate_config *cfg, const hl_migration *m,
			   const char *q_applied, const char *q_record, hl_error *err)
{
	char *sql = substitute(cfg, m->sql);
	if (!sql)
		return hl_fail(err, HL_NOMEM, "out of memory");
	char sum[65];
	hl_status st = checksum(m->sql, sum, err);
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, m->name);
	PGresult *r = NULL;
	if (st == HL_OK)
		st = hl_pg_exec(pg, a, q_applied, &args, &r, err);
	if (st)
		goto out;
	if (PQntuples(r) > 0) {
		if (strcmp(hl_pg_get(r, 0, 0), sum) != 0)
			st = hl_fail(err, HL_PRECONDITION,
				     "migration %s of schema %s was changed after it was applied (checksum mismatch)",
				     m->name, cfg->schema);
		goto out;
	}
	if ((st = hl_pg_begin(pg, NULL, 0, err)))
		goto out;
	hl_pg_arg_text(&args, sum);
	if ((st = hl_pg_script(pg, sql, err)) || (st = hl_pg_exec(pg, a, q_record, &args, NULL, err)) ||
	    (st = hl_pg_commit(pg, err))) {
		hl_pg_rollback(pg);
		hl_fail(err, st, "migration %s of schema %s failed (SQLSTATE %s)", m->name, cfg->schema,
			hl_pg_sqlstate(pg));
		goto out;
	}
	HL_LOG_INFO("migration_applied", "schema=%s name=%s", cfg->schema, m->name);
out:
	free(sql);
	return st;
}

static hl_status no_tenant_statistics(hl_pg *pg, const hl_migrate_config *cfg, hl_error *err)
{
	char *sql = substitute(cfg, SQL_NO_TENANT_STATISTICS);
	if (!sql)
		return hl_fail(err, HL_NOMEM, "out of memory");
	hl_status st = hl_pg_script(pg, sql, err);
	free(sql);
	return st;
}

hl_status hl_migrate(const hl_migrate_config *cfg, const hl_migration *const *lists, const size_t *counts,
		     size_t n_lists, hl_error *err)
{
	if (!plain_identifier(cfg->schema) || !plain_identifier(cfg->runtime_role) ||
	    !plain_identifier(cfg->system_role))
		return hl_fail(err, HL_INVALID, "schema and role names must be plain lowercase identifiers");
	hl_pg *pg = NULL;
	hl_arena *a = hl_arena_new();
	hl_status st = a ? hl_pg_new(cfg->owner_dsn, NULL, &pg, err) : hl_fail(err, HL_NOMEM, "out of memory");
	if (st)
		goto out;
	if ((st = hl_pg_connect(pg, err)) || (st = take_lock(pg, a, cfg, err)))
		goto out;
	char *q_table = hl_arena_printf(a, SQL_TABLE, cfg->schema);
	char *q_applied = hl_arena_printf(a, SQL_APPLIED, cfg->schema);
	char *q_record = hl_arena_printf(a, SQL_RECORD, cfg->schema);
	st = hl_pg_script(pg, q_table, err);
	for (size_t l = 0; l < n_lists && !st; l++)
		for (size_t i = 0; i < counts[l] && !st; i++)
			st = apply_one(pg, a, cfg, &lists[l][i], q_applied, q_record, err);
	if (!st)
		st = no_tenant_statistics(pg, cfg, err);
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, cfg->schema);
	hl_error ignored;
	if (hl_pg_exec(pg, a, SQL_UNLOCK, &args, NULL, &ignored))
		HL_LOG_WARN("migration_unlock_failed", "schema=%s", cfg->schema);
out:
	hl_pg_free(pg); /* closing the session releases the lock in any case */
	hl_arena_free(a);
	return st;
}
