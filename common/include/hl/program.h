/*
 * program.h - the common life of a service process, so that each
 * services/<svc>/main.c only declares what is its own:
 *
 *   parse the configuration table (common items + the service's), --help;
 *   refuse to start on bad configuration; apply migrations (owner role);
 *   load the JWT keys; build the service state (init); start the ops port
 *   (/healthz, /readyz with DB, Redis and migration state, /metrics) and the
 *   gRPC server (the service's services + AuditService + health +
 *   reflection); start the outbox relay (system role); wait for
 *   SIGTERM/SIGINT; shut down gracefully.
 */
#ifndef HL_PROGRAM_H
#define HL_PROGRAM_H

#include <stddef.h>

#include "hl/config.h"
#include "hl/migrate.h"
#include "hl/rpc.h"
#include "hl/timers.h"

/* The configuration every service has (HOTLINE_* variables, see program.c). */
typedef struct hl_common_config {
	char *listen, *ops_listen;
	char *tls_cert, *tls_key, *tls_ca;
	char *db_dsn, *db_owner_dsn, *db_system_dsn, *db_schema, *db_runtime_role, *db_system_role;
	char *redis_url;
	char *jwt_secret, *jwt_issuer, *jwt_audience, *jwt_keys_file;
	char *log_level;
	long long workers, cq_threads, queue_max, max_message, grace_ms, migrate_wait_ms;
	long long relay_threads, relay_batch, relay_apply_items, relay_backoff_max_ms, outbox_keep_delivered_ms;
	char *redis_prefix;
	long long timer_threads, timer_lease_ms, timer_reseed_ms;
	/* set once the process runs: the timers, for hl_timers_push after commits (NULL if none) */
	hl_timers *timers;
} hl_common_config;

typedef struct hl_program {
	const char *name;    /* "intake": schema, role and identity names */
	const char *summary; /* one line for --help */
	/* the service's own configuration */
	const hl_config_item *items;
	size_t n_items;
	void *config;
	/* its migrations (after the shared ones) */
	const hl_migration *migrations;
	size_t n_migrations;
	/* its gRPC services; AuditService is added with audit_missing_sql */
	const hl_service *services;
	size_t n_services;
	const char *audit_missing_sql;
	/* wire-check bounds of its request fields longer than 4096 bytes (hl_server_config) */
	const hl_validate_override *field_limits;
	size_t n_field_limits;
	/* build and release the state handed to handlers (hl_call_app) */
	/* common outlives app: the app may keep the pointer (e.g. to read common->timers) */
	hl_status (*init)(void *config, const hl_common_config *common, void **app, hl_error *err);
	void (*release)(void *app);
	/* fires the service's timers (NULL: the service has none) */
	hl_timer_fn timer_fire;
} hl_program;

/* Run the service; returns the process exit code. */
int hl_program_main(const hl_program *p, int argc, char **argv);

#endif
